"""Known answers of the tuning kernels, run in process on tiny arrays (fast: `make mutate` selects it)."""

from __future__ import annotations

import numpy as np
from statsforecast.models import SeasonalNaive

from fcast.contract import FAILED, NOT_RUN, OK, SKIPPED
from fcast.core.models import Model
from fcast.core.tune.kernel import (
    evaluate_block,
    evaluate_lists,
    timed_out_block,
    timed_out_lists,
)

T, H, MIN_TRAIN = 20, 3, 10
STOPS = np.array([10, 14])


def series() -> np.ndarray:
    """Market 0: t**2 from t=0 (its first value 0 refuses a log); market 1: 100 + t + 3*(t odd) from t=4."""
    t = np.arange(T, dtype="float64")
    y1 = 100 + t + 3 * (t % 2)
    y1[:4] = np.nan
    return np.stack([t**2, y1])


def holiday_x() -> np.ndarray:
    """(market, time, feature): one event column, t in market 0 and t + 100 in market 1."""
    t = np.arange(T, dtype="float64")
    return np.stack([t, t + 100])[:, :, None]


def models(echo: Model) -> list[Model]:
    """Seasonal naive of season 2 (sets the MASE lag), naive on logs, the echo model."""
    return [
        Model.create("seasonal_naive", {}, 2),
        Model.create("seasonal_naive", {"log": True}, 1),
        echo,
    ]


def test_evaluate_block_known_answers(echo):
    y = series()
    out = evaluate_block(y, STOPS, models(echo), H, "mase", MIN_TRAIN, holiday_x(), ["evt"])
    assert out["yhat"].shape == out["error"].shape == (2, 2, 3, H)
    # market 1 has 6 < 10 training values at stop 10: skipped; market 0 has exactly 10: fitted
    np.testing.assert_array_equal(
        out["status"],
        [[[OK, FAILED, OK], [OK, FAILED, OK]], [[SKIPPED] * 3, [OK, OK, OK]]],
    )
    assert out["status"].dtype == np.int8
    yhat = out["yhat"]
    # seasonal naive (m=2) at stop 10 of t**2: the last two values 64, 81 repeated
    np.testing.assert_array_equal(yhat[0, 0, 0], [64, 81, 64])
    np.testing.assert_array_equal(yhat[0, 1, 0], [144, 169, 144])
    plain = SeasonalNaive(season_length=2).forecast(y=y[0, :14], h=H)["mean"]
    np.testing.assert_array_equal(yhat[0, 1, 0], plain)
    # the log fit fails on market 0's 0: NaN forecast and error
    assert np.isnan(yhat[0, :, 1]).all() and np.isnan(out["error"][0, :, 1]).all()
    assert np.isnan(yhat[1, 0]).all() and np.isnan(out["error"][1, 0]).all()
    # market 1 at stop 14: y[13] = 116, y[12] = 112; naive of logs = 116
    np.testing.assert_array_equal(yhat[1, 1, 0], [112, 116, 112])
    np.testing.assert_allclose(yhat[1, 1, 1], [116, 116, 116], atol=1e-9)
    # echo: x after the cutoff, x from the first observation to the cutoff, training length
    np.testing.assert_array_equal(yhat[0, 0, 2], np.array([10, 11, 12]) + 45 + 10)
    np.testing.assert_array_equal(yhat[0, 1, 2], np.array([14, 15, 16]) + 91 + 14)
    np.testing.assert_array_equal(yhat[1, 1, 2], np.array([114, 115, 116]) + 1085 + 10)


def test_evaluate_block_mase_uses_the_first_models_season_and_the_split_window(echo):
    y = series()
    out = evaluate_block(y, STOPS, models(echo), H, "mase", MIN_TRAIN, holiday_x(), ["evt"])
    # market 0, stop 10: test 100, 121, 144; |t**2 - (t-2)**2| = 4t - 4 for t = 2..9, mean 18
    np.testing.assert_allclose(out["error"][0, 0, 0], np.array([36, 40, 80]) / 18)
    # stop 14: test 196, 225, 256 against 144, 169, 144; lag-2 scale over t = 2..13: mean 26
    np.testing.assert_allclose(out["error"][0, 1, 0], np.array([52, 56, 112]) / 26)
    # market 1, stop 14 (from t = 4): lag-2 differences are all 2; test 114, 118, 116 vs 116
    np.testing.assert_allclose(out["error"][1, 1, 1], np.array([2, 2, 0]) / 2, atol=1e-9)


def test_evaluate_block_other_metric_and_no_models():
    y = series()
    naive = [Model.create("seasonal_naive", {}, 1)]
    out = evaluate_block(y[:1], STOPS[:1], naive, H, "mae", MIN_TRAIN)
    np.testing.assert_array_equal(out["error"][0, 0, 0], [19, 40, 63])
    empty = evaluate_block(y, STOPS, [], H, "mae", MIN_TRAIN)
    assert empty["yhat"].shape == (2, 2, 0, H) and empty["status"].shape == (2, 2, 0)


def test_a_model_with_regressors_but_no_x_fails_its_cells(echo):
    out = evaluate_block(series(), STOPS, [echo], H, "mae", MIN_TRAIN)
    np.testing.assert_array_equal(out["status"][:, :, 0], [[FAILED, FAILED], [SKIPPED, FAILED]])
    no_names = evaluate_block(series(), STOPS, [echo], H, "mae", MIN_TRAIN, holiday_x())
    np.testing.assert_array_equal(no_names["status"], out["status"])


def test_timed_out_block_is_failed_where_due_and_skipped_elsewhere(echo):
    out = timed_out_block(series(), STOPS, models(echo), H, "mase", MIN_TRAIN)
    np.testing.assert_array_equal(
        out["status"], [[[FAILED] * 3, [FAILED] * 3], [[SKIPPED] * 3, [FAILED] * 3]]
    )
    assert out["status"].dtype == np.int8
    assert out["yhat"].shape == out["error"].shape == (2, 2, 3, H)
    assert np.isnan(out["yhat"]).all() and np.isnan(out["error"]).all()
    assert out["error"] is not out["yhat"]


def test_evaluate_lists_fills_each_markets_own_hps(echo):
    y = np.concatenate([series(), series()[:1]])
    x = np.concatenate([holiday_x(), holiday_x()[:1]])
    hps = [[0, 2], [1], []]
    out = evaluate_lists(y, 14, models(echo), hps, 3, H, "mase", MIN_TRAIN, x, ["evt"])
    assert out["yhat"].shape == out["error"].shape == (3, 1, 3, H)
    assert out["status"].shape == (3, 1, 3)
    np.testing.assert_array_equal(
        out["status"][:, 0], [[OK, NOT_RUN, OK], [NOT_RUN, OK, NOT_RUN], [NOT_RUN] * 3]
    )
    assert out["status"].dtype == np.int8
    np.testing.assert_array_equal(out["yhat"][0, 0, 0], [144, 169, 144])
    np.testing.assert_array_equal(out["yhat"][0, 0, 2], np.array([14, 15, 16]) + 91 + 14)
    np.testing.assert_allclose(out["yhat"][1, 0, 1], [116, 116, 116])
    # the MASE lag is the season of each market's own first model: 1 for market 1 (naive);
    # lag-1 differences of t = 4..13 are 4 (odd t) or 2 (even t): 28 / 9
    np.testing.assert_allclose(out["error"][1, 0, 1], np.array([2, 2, 0]) / (28 / 9), atol=1e-9)
    assert np.isnan(out["yhat"][0, 0, 1]).all() and np.isnan(out["error"][2]).all()
    np.testing.assert_allclose(out["error"][0, 0, 0], np.array([52, 56, 112]) / 26)


def test_evaluate_lists_skips_a_market_too_short_and_fails_a_bad_fit(echo):
    out = evaluate_lists(series(), 10, models(echo), [[0, 1], [0]], 3, H, "mae", MIN_TRAIN)
    np.testing.assert_array_equal(
        out["status"][:, 0], [[OK, FAILED, NOT_RUN], [SKIPPED, NOT_RUN, NOT_RUN]]
    )
    np.testing.assert_array_equal(out["error"][0, 0, 0], [36, 40, 80])


def test_timed_out_lists_marks_each_markets_hps(echo):
    y = series()
    out = timed_out_lists(y, 10, models(echo), [[0, 2], [1]], 4, H, "mae", MIN_TRAIN)
    np.testing.assert_array_equal(
        out["status"][:, 0],
        [[FAILED, NOT_RUN, FAILED, NOT_RUN], [NOT_RUN, SKIPPED, NOT_RUN, NOT_RUN]],
    )
    assert out["status"].dtype == np.int8
    assert out["yhat"].shape == out["error"].shape == (2, 1, 4, H)
    assert out["status"].shape == (2, 1, 4)
    assert np.isnan(out["yhat"]).all() and np.isnan(out["error"]).all()
    assert out["error"] is not out["yhat"]
    later = timed_out_lists(y, 14, models(echo), [[0], [0, 1]], 2, H, "mae", MIN_TRAIN)
    np.testing.assert_array_equal(later["status"][:, 0], [[FAILED, NOT_RUN], [FAILED, FAILED]])


def test_evaluate_lists_goes_on_after_a_market_without_hps(echo):
    y = series()[[0, 0, 1]]
    x = holiday_x()[[0, 0, 1]]
    out = evaluate_lists(y, 14, models(echo), [[0], [], [2]], 3, H, "mae", MIN_TRAIN, x, ["evt"])
    np.testing.assert_array_equal(
        out["status"][:, 0], [[OK, NOT_RUN, NOT_RUN], [NOT_RUN] * 3, [NOT_RUN, NOT_RUN, OK]]
    )
    # the third market's echo sees its own x (t + 100) from its first observation, t = 4
    np.testing.assert_array_equal(out["yhat"][2, 0, 2], np.array([114, 115, 116]) + 1085 + 10)
