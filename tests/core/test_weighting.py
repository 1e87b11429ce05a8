"""Learned member weights (fcast.core.weighting): known answers."""

import numpy as np
import pytest

from fcast.core.weighting import (
    INVERSE_SHRINK,
    STACK_SHRINK,
    WEIGHTINGS,
    fit_equal,
    fit_inverse_error,
    fit_stacked,
    l1_simplex,
    weighted_median,
)


def test_registry_has_one_record_per_strategy():
    assert list(WEIGHTINGS) == ["equal", "inverse_error", "stacked"]
    assert all(w.name == k and w.doc for k, w in WEIGHTINGS.items())
    assert WEIGHTINGS["stacked"].needs_forecasts and not WEIGHTINGS["inverse_error"].needs_forecasts


def test_weighted_median_equal_weights_is_np_median():
    rng = np.random.default_rng(0)
    for n in (1, 2, 5, 24):
        v = rng.normal(size=(n, 7))
        np.testing.assert_array_equal(weighted_median(v, np.ones(n)), np.median(v, axis=0))


def test_weighted_median_known_answers():
    v = np.array([[1.0], [2.0], [3.0], [10.0]])
    # cumulative weights of the sorted values 0.1, 0.2, 0.6, 1.0: 3 is the first to reach 1/2
    assert weighted_median(v, np.array([0.1, 0.1, 0.4, 0.4]))[0] == 3.0
    # exactly one half at 2: mean of 2 and the next value, 3
    assert weighted_median(v, np.array([0.25, 0.25, 0.25, 0.25]))[0] == 2.5
    assert weighted_median(v, np.array([0.3, 0.2, 0.1, 0.4]))[0] == 2.5
    # a dominant member is the median; a zero weight member is ignored
    assert weighted_median(v, np.array([0.0, 0.0, 0.0, 1.0]))[0] == 10.0
    assert weighted_median(v, np.array([0.6, 0.0, 0.0, 0.4]))[0] == 1.0


def test_weighted_median_is_pointwise():
    v = np.array([[1.0, 30.0], [2.0, 20.0], [3.0, 10.0]])
    np.testing.assert_array_equal(weighted_median(v, np.array([0.6, 0.2, 0.2])), [1.0, 30.0])


def test_weighted_median_rejects_bad_weights():
    with pytest.raises(ValueError, match="one value per member"):
        weighted_median(np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match="non-negative"):
        weighted_median(np.ones((2, 2)), np.array([1.0, -1.0]))


def test_equal_and_inverse_error_known_answers():
    s = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(fit_equal(None, None, None, s), [1 / 3] * 3)
    inv = np.array([1.0, 0.5, 0.25]) / 1.75
    expected = (1 - INVERSE_SHRINK) * inv + INVERSE_SHRINK / 3
    np.testing.assert_allclose(fit_inverse_error(None, None, None, s), expected)
    assert fit_inverse_error(None, None, None, s).sum() == pytest.approx(1.0)
    # a NaN score gives equal weights; a perfect member takes the whole inverse-error share
    np.testing.assert_allclose(
        fit_inverse_error(None, None, None, np.array([1.0, np.nan])), [0.5, 0.5]
    )
    np.testing.assert_allclose(
        fit_inverse_error(None, None, None, np.array([0.0, 1.0])),
        [(1 - INVERSE_SHRINK) + INVERSE_SHRINK / 2, INVERSE_SHRINK / 2],
    )


def test_l1_simplex_recovers_an_exact_combination():
    rng = np.random.default_rng(1)
    F = rng.normal(size=(40, 3))
    w = np.array([0.7, 0.0, 0.3])
    np.testing.assert_allclose(l1_simplex(F, F @ w), w, atol=1e-7)


def test_stacked_shrinks_the_l1_solution_towards_equal():
    # member 0 is exact on both splits, member 1 is off by 1: stacking puts all weight on member 0
    y = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]])
    yhat = np.stack([np.stack([y[s], y[s] + 1.0]) for s in range(2)])  # split, member, step
    w = fit_stacked(yhat, y, np.array([1.0, 2.0]), np.array([0.0, 1.0]))
    np.testing.assert_allclose(w, [(1 - STACK_SHRINK) + STACK_SHRINK / 2, STACK_SHRINK / 2])
    # a split without a usable scale is skipped; no usable split -> equal weights
    np.testing.assert_allclose(
        fit_stacked(yhat, y, np.array([np.nan, 0.0]), np.zeros(2)), [0.5, 0.5]
    )
    np.testing.assert_allclose(fit_stacked(yhat[:, :1], y, np.ones(2), np.zeros(1)), [1.0])
