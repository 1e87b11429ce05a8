"""Conformal intervals from CV residuals (fcast.core.conformal): known answers."""

import numpy as np
import pytest

from fcast.core.conformal import conformal_bounds, conformal_quantile


def test_conformal_quantile_is_the_finite_sample_rank():
    v = np.arange(1.0, 11.0)  # 1..10
    assert conformal_quantile(v, 0.8) == 9.0  # ceil(11 * 0.8) = 9th smallest
    assert conformal_quantile(v, 0.5) == 6.0  # ceil(5.5) = 6
    assert conformal_quantile(v, 0.95) == 10.0  # rank 11 > n: the largest
    assert conformal_quantile(np.array([np.nan, 2.0, 1.0]), 0.5) == 2.0  # NaN ignored
    assert np.isnan(conformal_quantile(np.array([np.nan]), 0.5))


def test_bounds_pool_scaled_residuals_per_step():
    # 2 markets x 5 splits x 2 steps; scales 1 and 10, so both pool the same scaled residuals 1..5 / 2..10
    r1 = np.array([[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0], [5.0, 10.0]])
    res = np.stack([r1, -10 * r1])
    scale = np.array([[1.0] * 5, [10.0] * 5])
    yhat = np.array([[100.0, 100.0], [50.0, 50.0]])
    out = conformal_bounds(yhat, res, scale, np.array([2.0, 1.0]), levels=(80,), min_points=1)
    lo, hi = out[80]
    # step 0: |scaled| = 1,1,2,2,...,5,5 (n=10), rank ceil(11*0.8)=9 -> 5; step 1: 10
    np.testing.assert_allclose(hi - yhat, [[10.0, 20.0], [5.0, 10.0]])
    np.testing.assert_allclose(yhat - lo, hi - yhat)


def test_sparse_steps_fall_back_on_all_steps():
    res = np.array([[[1.0, np.nan], [2.0, np.nan], [3.0, 30.0]]])  # step 1 has one residual
    out = conformal_bounds(
        np.zeros((1, 2)), res, np.ones((1, 3)), np.ones(1), levels=(50,), min_points=2
    )
    lo, hi = out[50]
    # step 0 alone: 1,2,3 -> rank ceil(4*0.5)=2 -> 2; step 1 pools 1,2,3,30 -> rank ceil(2.5)=3 -> 3
    np.testing.assert_allclose(hi, [[2.0, 3.0]])


def test_shapes_are_checked_and_missing_scale_gives_nan():
    with pytest.raises(ValueError, match="market, split, step"):
        conformal_bounds(np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 1)), np.ones(2))
    out = conformal_bounds(
        np.zeros((1, 1)), np.ones((1, 2, 1)), np.ones((1, 2)), np.array([np.nan]), (80,), 1
    )
    assert np.isnan(out[80][0]).all()


def test_calibrate_replaces_bounds_of_the_given_markets_only():
    import json

    import xarray as xr

    from fcast.core.conformal import (
        calibrate,
        conformal_quantiles,
        current_scale,
        from_table,
        quantile_table,
    )

    fc = xr.Dataset(
        {
            "yhat": (("market", "time"), np.array([[10.0, 10.0], [5.0, 5.0]])),
            "bounds": (("market", "time", "quantile"), np.zeros((2, 2, 2))),
        },
        coords={"market": ["A", "B"], "time": [0, 1], "quantile": [0.1, 0.9]},
        attrs={"levels": json.dumps([80])},
    )
    q = conformal_quantiles(np.full((1, 10, 2), 2.0), np.ones((1, 10)), (80,))
    np.testing.assert_allclose(q, [[2.0, 2.0]])
    y = xr.DataArray([[1.0, 2.0, 3.0, 4.0]], dims=("market", "time"), coords={"market": ["A"]})
    scale_now = current_scale(y, 1)  # mean |diff| = 1
    out = calibrate(fc, q, scale_now)
    np.testing.assert_allclose(out["bounds"].sel(market="A").values, [[8.0, 12.0], [8.0, 12.0]])
    np.testing.assert_allclose(out["bounds"].sel(market="B").values, 0.0)  # not calibrated
    assert out.attrs["intervals"] == "conformal"
    table = quantile_table(q, (80,))
    np.testing.assert_allclose(from_table(table, (80,), 2), q)
    assert from_table(table, (95,), 2) is None and from_table(table, (80,), 3) is None
    # a lower bound below zero is clipped like the applier's
    low = calibrate(fc, np.array([[20.0, 20.0]]), scale_now)
    assert float(low["bounds"].sel(market="A", quantile=0.1).min()) == 0.0


def _tuning(yhat_members):
    """A tuning cube of one market, 2 splits, members (hp) with constant forecasts, y_test 0, scale 2."""
    import xarray as xr

    n_hp = len(yhat_members)
    yhat = np.broadcast_to(np.array(yhat_members, float)[None, None, :, None], (1, 2, n_hp, 3))
    return xr.Dataset(
        {
            "yhat": (("market", "split", "hp", "step"), yhat.copy()),
            "y_test": (("market", "split", "step"), np.zeros((1, 2, 3))),
            "scale": (("market", "split"), np.full((1, 2), 2.0)),
        },
        coords={"market": ["A"], "split": [0, 1], "hp": list(range(n_hp)), "step": [1, 2, 3]},
    )


def _selection(n_hp, combine):
    import pandas as pd

    return pd.DataFrame(
        {"market": "A", "hp": range(n_hp), "weight": 1.0 / n_hp, "combine": combine}
    )


def test_combination_gain_is_combined_error_over_median_member_error():
    from fcast.core.conformal import combination_gain

    tuning = _tuning([1.0, -2.0, 3.0])  # member |errors| 1, 2, 3: median 2
    # median forecast 1 -> |error| 1; mean 2/3 -> |error| 2/3
    assert combination_gain(tuning, _selection(3, "median")) == pytest.approx(0.5)
    assert combination_gain(tuning, _selection(3, "mean")) == pytest.approx(1 / 3)
    one = _selection(3, "median").assign(weight=[1.0, 0.0, 0.0])  # combine: best
    assert combination_gain(tuning, one) == pytest.approx(1.0)
    missing = tuning.copy(deep=True)
    missing["yhat"][:] = np.nan  # no member has a CV forecast: unknown, so no change
    assert combination_gain(missing, _selection(3, "median")) == 1.0


def test_scale_bounds_moves_bounds_towards_yhat_for_the_given_markets():
    import json

    import xarray as xr

    from fcast.core.conformal import scale_bounds

    bounds = np.array([[[6.0, 14.0]], [[1.0, 9.0]]])  # A: yhat 10, B: yhat 5
    fc = xr.Dataset(
        {
            "yhat": (("market", "time"), np.array([[10.0], [5.0]])),
            "bounds": (("market", "time", "quantile"), bounds),
        },
        coords={"market": ["A", "B"], "time": [0], "quantile": [0.1, 0.9]},
        attrs={"levels": json.dumps([80])},
    )
    out = scale_bounds(fc, 0.5, ["A"])
    np.testing.assert_allclose(out["bounds"].sel(market="A").values, [[8.0, 12.0]])
    np.testing.assert_allclose(out["bounds"].sel(market="B").values, [[1.0, 9.0]])
    assert out.attrs["intervals"] == "scaled"
    wide = scale_bounds(fc, 3.0, ["A", "B"])  # a lower bound below zero is clipped
    np.testing.assert_allclose(wide["bounds"].sel(market="B").values, [[0.0, 17.0]])
