"""Reconcile base forecasts of every series of a hierarchy with Nixtla's hierarchicalforecast.

The library does the work (it is the `totals` extra): `BottomUp`, `TopDown`
(``proportion_averages`` over the last season of actuals) and `MinTrace` (``ols``,
``wls_struct``, ``mint_shrink``) give the projection P, so the reconciled means are
``S @ P @ yhat``; its `Normality` sampler gives the intervals of every series from the base
forecasts' standard deviations and a shrunk correlation of the errors.

The errors' correlation (and MinTrace's ``mint_shrink`` covariance) come from
**proxy residuals**: the period-on-period changes of each series over the last two seasons
of actuals (the covariance estimators centre them). fcast's models do not keep in-sample fits, and those changes
are what the models fail to foresee one step ahead, shared across markets where the markets
move together. The base standard deviation of a series at each step is read from its own
interval bounds (the half-width on the side nearer the forecast over z, averaged over the
levels), so one exploding upper tail does not swamp the total's band.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

from fcast.errors import ConfigError
from fcast.markets.hierarchy import METHODS, Hierarchy


@dataclass(frozen=True, eq=False)
class Reconciled:
    """Coherent forecasts of every series: mean (series x step) and bounds ``lo-L``/``hi-L``."""

    mean: np.ndarray
    bounds: dict[str, np.ndarray]


def sigma_from_bounds(
    yhat: np.ndarray, bounds: dict[str, np.ndarray], levels: Sequence[int]
) -> np.ndarray:
    """The standard deviation of a normal band, from each level's half-width on the side nearer yhat, averaged.

    The nearer side: a log-scale model's or a new market's proxy band can have an upper tail
    thousands of times the forecast, which would otherwise swamp the band of its group and total.
    """
    halves = [
        np.minimum(yhat - bounds[f"lo-{lv}"], bounds[f"hi-{lv}"] - yhat) / norm.ppf(0.5 + lv / 200)
        for lv in levels
    ]
    return np.maximum(np.mean(halves, axis=0), 0.0)


def proxy_residuals(history: np.ndarray, season_length: int) -> np.ndarray:
    """Period-on-period changes over the last two seasons (at least 8 periods); gaps are 0."""
    window = max(2 * season_length, 8)
    recent = np.asarray(history, dtype="float64")[:, -(window + 1) :]
    return np.nan_to_num(np.diff(recent, axis=1), nan=0.0)


def _reconciler(method: str) -> Any:
    """The library's reconciler for one of fcast's method names."""
    if method not in METHODS:
        raise ConfigError(f"hierarchy.method must be one of {', '.join(METHODS)}, got {method!r}")
    try:
        from hierarchicalforecast.methods import BottomUp, MinTrace, TopDown
    except ImportError as exc:
        raise ConfigError(
            "totals and groups need hierarchicalforecast: pip install 'fcast[totals]'"
        ) from exc
    if method == "bottom_up":
        return BottomUp()
    if method == "top_down":
        return TopDown(method="proportion_averages")
    return MinTrace(method=method)


def projection(
    hier: Hierarchy, method: str, yhat: np.ndarray, history: np.ndarray, season_length: int
) -> np.ndarray:
    """The library's P (markets x series) for `method`; the fitted residuals are the proxy residuals."""
    rec = _reconciler(method)
    recent = np.nan_to_num(np.asarray(history, dtype="float64")[:, -max(season_length, 1) :])
    res = proxy_residuals(history, season_length)
    tags = hier.tags()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if method == "top_down":
                rec.fit(S=hier.S, y_hat=yhat, y_insample=recent, tags=tags)
            else:
                rec.fit(S=hier.S, y_hat=yhat, y_insample=res, y_hat_insample=np.zeros_like(res))
    except Exception as exc:  # the library raises plain Exception when MinTrace is ill-conditioned
        raise ConfigError(
            f"hierarchy.method {method} cannot reconcile this hierarchy ({exc}); "
            "choose another method (bottom_up always works)"
        ) from exc
    return np.asarray(rec.P, dtype="float64")


def coherent_intervals(
    hier: Hierarchy,
    P: np.ndarray,
    yhat: np.ndarray,
    sigmah: np.ndarray,
    residuals: np.ndarray,
    levels: Sequence[int],
) -> dict[str, np.ndarray]:
    """lo-L / hi-L of every series from the library's Normality with a shrunk error correlation."""
    from hierarchicalforecast.probabilistic_methods import Normality

    res = residuals.copy()
    flat = (
        res.std(axis=1) == 0
    )  # a series without changes: tiny noise keeps the correlation defined
    res[flat] = np.random.default_rng(0).normal(0.0, 1e-9, size=(int(flat.sum()), res.shape[1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sampler = Normality(
            S=hier.S,
            P=P,
            y_hat=yhat,
            sigmah=np.maximum(sigmah, 1e-12),
            covariance_type="shrink",
            residuals=res,
        )
        out = sampler.get_prediction_levels({"mean": hier.S @ (P @ yhat)}, list(levels))
    return {
        f"{side}-{lv}": np.asarray(out[f"{side}-{lv}"]) for lv in levels for side in ("lo", "hi")
    }


def reconcile(
    hier: Hierarchy,
    yhat: np.ndarray,
    bounds: dict[str, np.ndarray],
    history: np.ndarray,
    method: str = "bottom_up",
    levels: Sequence[int] = (80, 95),
    season_length: int = 1,
) -> Reconciled:
    """Coherent means and intervals of every series from its base forecast (rows in `hier` order).

    yhat, bounds[lo-L|hi-L]: series x step; history: series x period (the summed actuals).
    """
    yhat = np.asarray(yhat, dtype="float64")
    if yhat.shape[0] != len(hier.names) or np.asarray(history).shape[0] != len(hier.names):
        raise ValueError(f"expected {len(hier.names)} series, got {yhat.shape[0]}")
    P = projection(hier, method, yhat, history, season_length)
    mean = hier.S @ (P @ yhat)
    sigmah = sigma_from_bounds(yhat, bounds, levels)
    residuals = proxy_residuals(history, season_length)
    return Reconciled(mean, coherent_intervals(hier, P, yhat, sigmah, residuals, levels))
