"""Learned member weights (fcast.core.learned): the holdout decides between weightings."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from fcast.core.learned import ensemble_holdout, learn_weights
from fcast.core.select import score, split_weights, top_hps
from fcast.core.weighting import INVERSE_SHRINK
from tests.core.test_select import _weighting_cube


def _learn(actual: float) -> tuple[dict[str, list[float]], str, dict[str, float], tuple]:
    """Weights for the cube's one market, equal vs inverse_error chosen on a holdout at `actual`."""
    tuning = _weighting_cube()  # CV: actuals 10; hp0 forecasts 10, hp1 12, hp2 14
    cv = score(tuning["error"], tuning["status"], split_weights(3, "equal"), "mase").compute()
    best = top_hps(cv, 3)
    # the holdout: the members forecast 10, 12, 14 again, the actual is `actual`; scale 1
    window = (
        [np.array([[10.0, 10.0], [12.0, 12.0], [14.0, 14.0]])],
        np.full((1, 2), actual),
        np.ones(1),
    )
    out = learn_weights(tuning, best, cv, "mase", ["equal", "inverse_error"], "median", window)
    return (*out, window)


def test_the_holdout_keeps_equal_when_the_learned_weights_lose_there():
    # CV favours hp0 (exact), but on the holdout the actual is 14: the equal median (12) is off by
    # 2, the inverse-error weighted median (hp0 weight 2/3: 10) by 4 -> equal is kept
    weights, chosen, scores, window = _learn(14.0)
    assert chosen == "equal"
    assert scores == pytest.approx({"equal": 2.0, "inverse_error": 4.0})
    np.testing.assert_allclose(weights["A"], [1 / 3] * 3)
    fallback = xr.DataArray([np.nan], dims="market", coords={"market": ["A"]})
    assert ensemble_holdout(window, weights, "median", "mase", fallback).item() == 2.0


def test_the_holdout_picks_inverse_error_when_it_wins_there():
    weights, chosen, scores, _ = _learn(10.0)  # the CV pattern holds on the holdout
    assert chosen == "inverse_error"
    assert scores == pytest.approx({"equal": 2.0, "inverse_error": 0.0})
    share = INVERSE_SHRINK / 3
    np.testing.assert_allclose(weights["A"], [1 - INVERSE_SHRINK + share, share, share])
