"""Reconciliation through hierarchicalforecast: coherence, known answers, intervals from the correlation."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from fcast.errors import ConfigError
from fcast.markets.hierarchy import METHODS, build_hierarchy
from fcast.markets.reconcile import proxy_residuals, reconcile, sigma_from_bounds

pytest.importorskip("hierarchicalforecast")

TABLE = pd.DataFrame({"market": list("ABCDE"), "region": ["x", "x", "y", "y", "y"]})
HIER = build_hierarchy(TABLE, ["region"], list("ABCDE"))
Z = {lv: norm.ppf(0.5 + lv / 200) for lv in (80, 95)}


def _bounds(yhat: np.ndarray, sigma: np.ndarray) -> dict[str, np.ndarray]:
    """Normal bounds of width `sigma` around yhat."""
    out = {}
    for lv, z in Z.items():
        out[f"lo-{lv}"], out[f"hi-{lv}"] = yhat - z * sigma, yhat + z * sigma
    return out


def _history(common: float) -> np.ndarray:
    """Every series' actuals: markets with a shared and an own random walk step."""
    rng = np.random.default_rng(1)
    shared = rng.normal(0, 1, 120)
    steps = common * shared + (1 - common) * rng.normal(0, 1, (5, 120))
    return HIER.aggregate(100 + np.cumsum(steps, axis=1))


@pytest.mark.parametrize("method", METHODS)
def test_every_method_is_coherent(method: str) -> None:
    """Markets sum to regions and regions to the total at every step, bounds ordered."""
    hist = _history(0.3)
    rng = np.random.default_rng(2)
    yhat = hist[:, -1:] + rng.normal(0, 3, (len(HIER.names), 6))
    rec = reconcile(HIER, yhat, _bounds(yhat, np.full_like(yhat, 2.0)), hist, method, (80, 95), 4)
    k = HIER.n_aggregates
    np.testing.assert_allclose(HIER.S @ rec.mean[k:], rec.mean, atol=1e-6)
    assert np.all(rec.bounds["lo-95"] <= rec.bounds["lo-80"])
    assert np.all(rec.bounds["lo-80"] <= rec.mean) and np.all(rec.mean <= rec.bounds["hi-80"])
    assert np.all(rec.bounds["hi-80"] <= rec.bounds["hi-95"])


def test_bottom_up_known_answer() -> None:
    """Bottom-up keeps the market forecasts and sums them, whatever the aggregates' own forecast."""
    hist = _history(0.0)
    yhat = np.zeros((len(HIER.names), 3))
    yhat[HIER.n_aggregates :] = np.arange(1.0, 6.0)[:, None]
    yhat[: HIER.n_aggregates] = 999.0
    rec = reconcile(HIER, yhat, _bounds(yhat, np.ones_like(yhat)), hist, "bottom_up")
    np.testing.assert_allclose(rec.mean[:, 0], [15.0, 3.0, 12.0, 1, 2, 3, 4, 5])


def test_total_band_follows_the_correlation() -> None:
    """Markets that move together give the total a wider band than independent ones."""
    yhat = np.full((len(HIER.names), 2), 100.0)
    sigma = np.ones_like(yhat)

    def total_sigma(common: float) -> float:
        rec = reconcile(HIER, yhat, _bounds(yhat, sigma), _history(common), "bottom_up")
        return float((rec.bounds["hi-95"][0, 0] - rec.bounds["lo-95"][0, 0]) / (2 * Z[95]))

    independent, together = total_sigma(0.0), total_sigma(0.95)
    assert np.sqrt(5) * 0.9 < independent < np.sqrt(5) * 1.3
    assert together > 4.0 and together <= 5.0 + 1e-6


def test_helpers_known_answers() -> None:
    """sigma from a normal band is its sigma; proxy residuals are the last changes, gaps 0."""
    y = np.array([[10.0, 20.0]])
    np.testing.assert_allclose(
        sigma_from_bounds(y, _bounds(y, np.array([[2.0, 3.0]])), (80, 95)), [[2.0, 3.0]]
    )
    skewed = {"lo-95": y - 1.96, "hi-95": y + 1000.0}  # a log-scale tail: the near side counts
    np.testing.assert_allclose(sigma_from_bounds(y, skewed, (95,)), [[1.0, 1.0]], rtol=1e-3)
    hist = np.array([[np.nan] * 5 + [1.0, 2.0, 4.0, 7.0, 11.0]])
    res = proxy_residuals(hist, season_length=1)
    assert res.shape == (1, 8)
    np.testing.assert_allclose(res[0, -4:], [1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(res[0, :4], 0.0)


def test_method_errors_are_config_errors() -> None:
    """An unknown method and top-down on crossed groups are user errors."""
    yhat = np.ones((len(HIER.names), 2))
    with pytest.raises(ConfigError, match="one of"):
        reconcile(HIER, yhat, _bounds(yhat, yhat), _history(0.0), "middle_out")
    crossed = build_hierarchy(
        TABLE.assign(p=["i", "w", "i", "w", "i"]), ["region", "p"], list("ABCDE")
    )
    y2 = np.ones((len(crossed.names), 2))
    hist = crossed.aggregate(100 + np.cumsum(np.random.default_rng(0).normal(size=(5, 30)), axis=1))
    with pytest.raises(ConfigError, match="top_down"):
        reconcile(crossed, y2, _bounds(y2, y2), hist, "top_down")
