"""Totals stage: the reconciliation method chosen on CV cutoffs."""

import numpy as np
import pandas as pd
import pytest

from fcast.markets.hierarchy import METHODS, HierarchyConfig, build_hierarchy
from fcast.markets.totals import choose_method

pytest.importorskip("hierarchicalforecast")

TABLE = pd.DataFrame(
    {"market": list("ABCD"), "region": ["x", "x", "y", "y"], "platform": ["i", "w", "i", "w"]}
)
CFG = HierarchyConfig(family="ets", params={"spec": "AAN"})


def _hist(hier, noise: float) -> np.ndarray:
    """Every series from four linear markets plus noise."""
    t = np.arange(60.0)
    markets = np.vstack([100 + (k + 1) * t for k in range(4)])
    markets += np.random.default_rng(0).normal(0, noise, markets.shape)
    return hier.aggregate(markets)


def test_a_tie_keeps_bottom_up() -> None:
    """Exactly linear markets: every method forecasts the total perfectly; bottom-up is kept."""
    hier = build_hierarchy(TABLE, ["region"], list("ABCD"))
    dates = pd.date_range("2020-01-06", periods=60, freq="W-MON")
    best, scores = choose_method(hier, _hist(hier, 0.0), dates, [40, 48], 8, CFG, "W-MON", 1)
    assert best == "bottom_up" and set(scores) == set(METHODS)
    assert scores["bottom_up"] < 1e-6


def test_a_method_that_cannot_reconcile_is_left_out() -> None:
    """Crossed groups: top-down cannot reconcile them, so it scores inf and is never chosen."""
    hier = build_hierarchy(TABLE, ["region", "platform"], list("ABCD"))
    dates = pd.date_range("2020-01-06", periods=60, freq="W-MON")
    best, scores = choose_method(hier, _hist(hier, 3.0), dates, [44], 8, CFG, "W-MON", 1)
    assert scores["top_down"] == float("inf") and best != "top_down"
    assert best == min(scores, key=scores.get)
