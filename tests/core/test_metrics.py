"""Tests for fcast.core.metrics with hand-computed answers."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from fcast.core.metrics import METRICS, finish, mase_scale, pointwise, score

Y = np.array([1.0, 2.0, 4.0])
YHAT = np.array([2.0, 2.0, 2.0])
# |y - yhat| = [1, 0, 2]


@pytest.mark.parametrize(
    ("metric", "loss"),
    [
        ("mae", [1.0, 0.0, 2.0]),
        ("rmse", [1.0, 0.0, 4.0]),
        ("mape", [100.0, 0.0, 50.0]),
        ("smape", [200.0 / 3.0, 0.0, 200.0 / 3.0]),
        ("mase", [0.5, 0.0, 1.0]),
    ],
)
def test_pointwise_known_answers(metric, loss):
    np.testing.assert_allclose(pointwise(metric, Y, YHAT, scale=2.0), loss, rtol=1e-12)


@pytest.mark.parametrize(
    ("metric", "value"),
    [
        ("mae", 1.0),
        ("rmse", math.sqrt(5.0 / 3.0)),
        ("mape", 50.0),
        ("smape", 400.0 / 9.0),
        ("mase", 0.5),
    ],
)
def test_score_known_answers(metric, value):
    assert score(metric, Y, YHAT, scale=2.0) == pytest.approx(value, rel=1e-12)


def test_metrics_tuple():
    assert METRICS == ("mae", "rmse", "mape", "smape", "mase")


def test_mase_default_scale_equals_mae():
    assert score("mase", Y, YHAT) == score("mae", Y, YHAT)


def test_pointwise_broadcasts_scale_per_series():
    y = np.array([[1.0, 3.0], [10.0, 30.0]])
    yhat = np.array([[2.0, 2.0], [20.0, 20.0]])
    scale = np.array([[1.0], [10.0]])
    np.testing.assert_allclose(pointwise("mase", y, yhat, scale), [[1.0, 1.0], [1.0, 1.0]])


def test_score_ignores_nan_points():
    y = np.array([1.0, np.nan, 4.0])
    assert score("mae", y, YHAT) == pytest.approx(1.5)


def test_mape_zero_actual_is_inf_and_smape_zero_zero_is_nan():
    assert np.isinf(pointwise("mape", np.array([0.0]), np.array([1.0]))[0])
    assert np.isnan(pointwise("smape", np.array([0.0]), np.array([0.0]))[0])
    assert pointwise("smape", np.array([0.0]), np.array([5.0]))[0] == pytest.approx(200.0)


def test_finish():
    assert finish("rmse", 9.0) == 3.0
    for metric in ("mae", "mape", "smape", "mase"):
        assert finish(metric, 9.0) == 9.0


def test_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric 'r2'"):
        pointwise("r2", Y, YHAT)


# --- MASE scale ---------------------------------------------------------------------------


def test_mase_scale_seasonal_lag():
    y = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 8.0, 6.0, 7.0])
    # lag 2: |2-1|, |5-3|, |4-2|, |8-5|, |6-4|, |7-8| = 1, 2, 2, 3, 2, 1 -> 11/6
    assert mase_scale(y, 2) == pytest.approx(11.0 / 6.0)
    # lag 1: 2, 1, 3, 1, 4, 2, 1 -> 14/7
    assert mase_scale(y, 1) == pytest.approx(2.0)


def test_mase_scale_short_series_falls_back_to_lag_1():
    y = np.array([1.0, 3.0, 2.0])
    # season 4 > length: lag 1 -> |3-1|, |2-3| = 2, 1
    assert mase_scale(y, 4) == pytest.approx(1.5)
    assert mase_scale(y, 3) == pytest.approx(1.5)  # exactly one season: still lag 1


def test_mase_scale_ignores_nan():
    y = np.array([np.nan, np.nan, 1.0, 3.0, 2.0])
    assert mase_scale(y, 1) == pytest.approx(1.5)


def test_mase_scale_constant_series_is_nan():
    assert math.isnan(mase_scale(np.full(20, 7.0), 4))
    assert math.isnan(mase_scale(np.full(20, 7.0), 1))


def test_mase_scale_too_short_is_nan():
    assert math.isnan(mase_scale(np.array([5.0]), 1))
    assert math.isnan(mase_scale(np.array([]), 52))
    assert math.isnan(mase_scale(np.array([np.nan, 2.0]), 1))


def test_mase_scale_seasonal_series_known_answer():
    # pure seasonal pattern + linear trend: seasonal differences all equal to season * slope
    m, slope = 4, 0.5
    t = np.arange(20)
    y = np.tile([10.0, 20.0, 15.0, 5.0], 5) + slope * t
    assert mase_scale(y, m) == pytest.approx(m * slope)


def test_mase_scale_lag_1_when_not_longer_than_one_season():
    y = np.array([1.0, 3.0, 2.0, 5.0])  # 4 points, season 4: no seasonal difference exists
    assert mase_scale(y, 4) == pytest.approx((2 + 1 + 3) / 3)
    y6 = np.array([1.0, 3.0, 2.0, 5.0, 4.0, 8.0])  # longer than a season: seasonal lag 4
    assert mase_scale(y6, 4) == pytest.approx((3 + 5) / 2)


def test_mase_scale_exactly_periodic_series_falls_back_to_lag_1():
    # every seasonal difference is 0 (M1's MNB50 starts like this): the lag-1 scale is used
    y = np.array([1.0, 3.0, 2.0, 1.0, 3.0, 2.0, 1.0, 3.0, 2.0])
    assert mase_scale(y, 3) == pytest.approx(11.0 / 8.0)  # |diffs| 2,1,1,2,1,1,2,1


def test_inside_and_winkler_known_answers():
    from fcast.core.metrics import inside, winkler

    y = np.array([5.0, 0.0, 12.0, np.nan])
    lo, hi = np.full(4, 1.0), np.full(4, 10.0)
    np.testing.assert_array_equal(inside(y, lo, hi)[:3], [1.0, 0.0, 0.0])
    assert np.isnan(inside(y, lo, hi)[3])
    assert inside(np.array([1.0, 10.0]), np.array([1.0, 1.0]), np.array([10.0, 10.0])).tolist() == [
        1.0,
        1.0,
    ]
    # alpha = 0.2: width 9, plus 10 x the miss
    np.testing.assert_allclose(winkler(y[:3], lo[:3], hi[:3], 80), [9.0, 9.0 + 10.0, 9.0 + 20.0])
    np.testing.assert_allclose(
        winkler(np.array([0.0]), np.array([1.0]), np.array([3.0]), 95), [2.0 + 40.0]
    )
    with pytest.raises(ValueError, match="between 0 and 100"):
        winkler(y, lo, hi, 100)


def test_interval_scores_pool_coverage_and_average_per_market():
    from fcast.core.metrics import interval_scores

    y = np.array([[5.0, 5.0, 5.0, 20.0], [5.0, np.nan, 5.0, 5.0]])
    lo, hi = np.full((2, 4), 0.0), np.full((2, 4), 10.0)
    out = interval_scores(y, lo, hi, 80, scale=np.array([2.0, 10.0]))
    assert out["coverage"] == pytest.approx(6 / 7)  # pooled over the 7 finite points
    # market 0: (10 + 10 + 10 + 110) / 4 = 35; market 1: 10; mean 22.5; scaled (17.5 + 1) / 2
    assert out["interval_score"] == pytest.approx(22.5)
    assert out["scaled_interval_score"] == pytest.approx(9.25)
    assert "scaled_interval_score" not in interval_scores(y, lo, hi, 80)


def test_interval_scores_edge_cases_known_answers():
    from fcast.core.metrics import interval_scores

    # one market as a 1-d list of ints: 5 inside [0, 10], 20 above it (10 + 2/0.2 * 10 = 110)
    out = interval_scores([5, 20], [0, 0], [10, 10], 80, scale=[4])
    assert out == pytest.approx(
        {"coverage": 0.5, "interval_score": 60.0, "scaled_interval_score": 15.0}
    )
    # a market without finite actuals and one whose scale is 0 drop out of the means
    y = np.array([[np.nan, np.nan], [5.0, 5.0], [5.0, 30.0]])
    lo, hi = np.zeros((3, 2)), np.full((3, 2), 10.0)
    out = interval_scores(y, lo, hi, 80, scale=np.array([1.0, 0.0, 2.0]))
    assert out["coverage"] == 0.75
    assert out["interval_score"] == pytest.approx((10 + (10 + 210) / 2) / 2)
    assert out["scaled_interval_score"] == pytest.approx(110 / 2)
    small = interval_scores([5.0], [0.0], [10.0], 80, scale=[0.5])  # a scale below 1 counts
    assert small["scaled_interval_score"] == 20.0
    nothing = interval_scores(np.full((1, 2), np.nan), lo[:1], hi[:1], 80, scale=np.array([1.0]))
    assert all(np.isnan(v) for v in nothing.values()) and len(nothing) == 3
    empty = interval_scores(np.array([]), np.array([]), np.array([]), 80)
    assert set(empty) == {"coverage", "interval_score"}
    assert np.isnan(empty["coverage"]) and np.isnan(empty["interval_score"])


def test_inside_treats_none_as_missing():
    from fcast.core.metrics import inside

    out = inside([5, None, 20], [0, 0, None], [10, 10, 30])
    assert out[0] == 1.0 and np.isnan(out[1]) and np.isnan(out[2]) and out.dtype == np.float64


def test_winkler_level_bounds_and_missing_values():
    from fcast.core.metrics import winkler

    # level 0.5: alpha 0.995, y 2 above hi 1: 1 + 2 / 0.995 * 1
    assert winkler([2.0], [0.0], [1.0], 0.5)[0] == pytest.approx(1 + 2 / 0.995)
    with pytest.raises(ValueError, match="between 0 and 100, got 0"):
        winkler([1.0], [0.0], [2.0], 0)
    out = winkler([None, 5], [0, 0], [10, 10], 80)
    assert np.isnan(out[0]) and out[1] == 10.0


# --- mutation survivors (docs/testing.md, Mutation testing) --------------------------------


def test_mase_scale_treats_none_as_missing():
    # None (an object column's gap) is NaN: 1, 3, 6 -> |3-1|, |6-3| = 2, 3
    assert mase_scale([1.0, None, 3.0, 6.0], 1) == 2.5


def test_mase_scale_season_2_periodic_falls_back_to_lag_1():
    # lag-2 differences all 0; lag 1: |3-1|, |1-3|, |3-1|, |1-3| = 2 each
    assert mase_scale(np.array([1.0, 3.0, 1.0, 3.0, 1.0]), 2) == 2.0


def test_mase_scale_at_or_below_one_is_a_scale():
    assert mase_scale(np.array([0.0, 0.5, 1.0]), 1) == 0.5  # |0.5-0|, |1-0.5|
    assert mase_scale(np.array([1.0, 2.0, 3.0]), 1) == 1.0


def test_pointwise_mase_default_scale_is_one():
    np.testing.assert_array_equal(pointwise("mase", Y, YHAT), [1.0, 0.0, 2.0])


def test_zero_denominators_and_too_short_series_do_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y, yhat = np.array([0.0, 0.0]), np.array([1.0, 0.0])
        mape = pointwise("mape", y, yhat)  # 100 / 0 and 0 / 0
        assert np.isinf(mape[0]) and np.isnan(mape[1])
        smape = pointwise("smape", y, yhat)  # 200 / 1 and 0 / 0
        assert smape[0] == 200.0 and np.isnan(smape[1])
        mase = pointwise("mase", y, yhat, scale=0.0)
        assert np.isinf(mase[0]) and np.isnan(mase[1])
        assert math.isnan(mase_scale(np.array([5.0]), 1))  # one value: no difference to average


def test_interval_scores_treats_a_none_scale_as_missing():
    from fcast.core.metrics import interval_scores

    # market 0: 10 (inside [0, 10]) / scale 2 = 5; market 1 (Winkler 10) has no scale
    out = interval_scores([[5.0], [5.0]], [[0.0], [0.0]], [[10.0], [10.0]], 80, scale=[2.0, None])
    assert out == {"coverage": 1.0, "interval_score": 10.0, "scaled_interval_score": 5.0}
