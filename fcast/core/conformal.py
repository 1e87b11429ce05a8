"""Conformal prediction intervals from the CV residuals of the forecast that is published.

`cv_residuals` gives the residuals of the selection's combined forecast on its CV windows;
`conformal_quantiles` turns residuals into scaled half-widths (level, step), which
`calibrate` applies to a forecast (the jobs: `fcast.jobs.intervals`, which also stores and
reuses them); `conformal_bounds` does both on arrays (benchmarks, other segments with their
own backtests).

Split-conformal, pooled across markets per horizon step: each CV residual is scaled by
its window's MASE scale (in-sample mean absolute seasonal difference of that window's
training part), so markets of any size pool; the half-width at step t for level L is the
finite-sample conformal quantile, the ceil((n + 1) L) / n empirical quantile of the n
absolute scaled residuals at step t, times the market's current scale. A step with fewer
than `min_points` residuals uses the pool of all steps. The intervals are symmetric around
the point forecast; callers clip them like the forecast (users are never negative).

`intervals: scaled` keeps the models' own (combined) bounds but narrows them around the
point forecast by the combination gain: `combination_gain` is the mean scaled absolute CV
error of the combined forecast over that of its median member (per market, split and step,
then pooled), and `scale_bounds` multiplies every bound's distance from yhat by it. The
median of the members' bounds is about the interval of a typical member, while the median
forecast errs less than a typical member; on Tourism monthly that made 80% intervals
cover 84% (benchmarks, docs/accuracy.md).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from fcast.core.apply import combine_of, pool
from fcast.core.metrics import mase_scale


def conformal_quantile(values: np.ndarray, level: float) -> float:
    """Finite-sample conformal quantile of the finite `values` at `level` (0..1); NaN when there are none.

    The ceil((n + 1) level)-th smallest value (the largest when that rank exceeds n).
    """
    v = np.sort(np.asarray(values, dtype=float)[np.isfinite(values)])
    n = len(v)
    if n == 0:
        return float("nan")
    rank = int(np.ceil((n + 1) * level))
    return float(v[min(max(rank, 1), n) - 1])


def conformal_quantiles(
    residuals: np.ndarray,
    scale: np.ndarray,
    levels: Sequence[int] = (80, 95),
    steps: int | None = None,
    min_points: int = 20,
) -> np.ndarray:
    """Scaled half-widths (level, step): the conformal quantile of |residual| / scale per step.

    `residuals` (market, split, step): actual minus the CV forecast of the rule, NaN where
    a window has no forecast; `scale` (market, split): the MASE scale of each CV window.
    """
    res = np.asarray(residuals, dtype=float)
    sc = np.asarray(scale, dtype=float)
    if res.ndim != 3 or sc.shape != res.shape[:2]:
        raise ValueError(
            f"residuals must be (market, split, step) and scale (market, split), got {res.shape} and {sc.shape}"
        )
    steps = res.shape[2] if steps is None else steps
    if steps > res.shape[2]:
        raise ValueError(f"residuals cover {res.shape[2]} steps, {steps} asked for")
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.abs(res[:, :, :steps]) / np.where(sc > 0, sc, np.nan)[:, :, None]
    return np.array(
        [
            [
                conformal_quantile(a[:, :, t], lv / 100)
                if np.isfinite(a[:, :, t]).sum() >= min_points
                else conformal_quantile(a, lv / 100)
                for t in range(steps)
            ]
            for lv in levels
        ]
    ).reshape(len(levels), steps)


def bounds_from_quantiles(
    yhat: np.ndarray, quantiles: np.ndarray, levels: Sequence[int], scale_now: np.ndarray
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """(lo, hi) per level: yhat -/+ the scaled half-width (level, step) times each market's scale."""
    yhat = np.asarray(yhat, dtype=float)
    now = np.asarray(scale_now, dtype=float)
    if now.shape != (yhat.shape[0],) or quantiles.shape != (len(levels), yhat.shape[1]):
        raise ValueError(
            f"scale_now must be ({yhat.shape[0]},) and quantiles ({len(levels)}, {yhat.shape[1]})"
        )
    out = {}
    for i, lv in enumerate(levels):
        half = quantiles[i][None, :] * now[:, None]
        out[int(lv)] = (yhat - half, yhat + half)
    return out


def conformal_bounds(
    yhat: np.ndarray,
    residuals: np.ndarray,
    scale: np.ndarray,
    scale_now: np.ndarray,
    levels: Sequence[int] = (80, 95),
    min_points: int = 20,
) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Conformal (lo, hi) per level around `yhat` (market, step): the one calibration entry point.

    `residuals` (market, split, step): actual minus the CV forecast of the same rule, NaN
    where a window has no forecast; `scale` (market, split): the MASE scale of each CV
    window; `scale_now` (market): the scale of the history the forecast is fitted on.
    Markets without a finite `scale_now` get NaN bounds.
    """
    yhat = np.asarray(yhat, dtype=float)
    res = np.asarray(residuals, dtype=float)
    if res.ndim != 3 or res.shape[0] != yhat.shape[0] or res.shape[2] < yhat.shape[1]:
        raise ValueError(
            f"residuals must be (market, split, step) matching yhat {yhat.shape}, got {res.shape}"
        )
    q = conformal_quantiles(res, scale, levels, yhat.shape[1], min_points)
    return bounds_from_quantiles(yhat, q, levels, scale_now)


def quantile_table(quantiles: np.ndarray, levels: Sequence[int]) -> pd.DataFrame:
    """The scaled half-widths as a table (level, step, half_width): what a tuning run stores."""
    return pd.DataFrame(
        [
            {"level": int(lv), "step": t + 1, "half_width": float(quantiles[i, t])}
            for i, lv in enumerate(levels)
            for t in range(quantiles.shape[1])
        ]
    )


def from_table(table: pd.DataFrame, levels: Sequence[int], steps: int) -> np.ndarray | None:
    """Scaled half-widths (level, step) from a stored table; None when it lacks a level or step."""
    out = np.full((len(levels), steps), np.nan)
    for i, lv in enumerate(levels):
        rows = table[table["level"] == int(lv)].set_index("step")["half_width"]
        if not all(t in rows.index for t in range(1, steps + 1)):
            return None
        out[i] = rows.loc[list(range(1, steps + 1))].to_numpy(dtype=float)
    return out


def current_scale(y: xr.DataArray, season_length: int) -> xr.DataArray:
    """Each market's MASE scale over its whole history: the `scale_now` of `calibrate`."""
    values = y.transpose("market", "time").values
    return xr.DataArray(
        [mase_scale(row, season_length) for row in values],
        dims="market",
        coords={"market": y["market"].values},
    )


def calibrate(forecast: xr.Dataset, quantiles: np.ndarray, scale_now: xr.DataArray) -> xr.Dataset:
    """The applier's forecast with conformal bounds: yhat -/+ half-width (level, step) x scale_now.

    `quantiles` (level, step) in the order of the forecast's `levels` attr, from
    `conformal_quantiles`; `scale_now` (market) from `current_scale`. Bounds are clipped at
    zero like the applier's; markets absent from `scale_now` or without a finite scale keep
    their own bounds. The
    forecast's attrs get `intervals: conformal`.
    """
    levels = json.loads(forecast.attrs["levels"])
    markets = forecast["market"].values.tolist()
    out = forecast.copy(deep=True)
    if not markets:
        return out
    yhat = forecast["yhat"].transpose("market", "time").values
    steps = yhat.shape[1]
    bounds = bounds_from_quantiles(
        yhat,
        np.asarray(quantiles, dtype=float)[:, :steps],
        levels,
        scale_now.reindex(market=markets).values,
    )
    b = out["bounds"].transpose("market", "time", "quantile")
    qs = np.round(b["quantile"].values, 4).tolist()
    values = b.values.copy()
    for lv, (lo, hi) in bounds.items():
        for q, v in ((round(0.5 - lv / 200, 4), lo), (round(0.5 + lv / 200, 4), hi)):
            k = qs.index(q)
            values[:, :, k] = np.where(np.isfinite(v), np.clip(v, 0.0, None), values[:, :, k])
    out["bounds"] = b.copy(data=values)
    out.attrs["intervals"] = "conformal"
    return out


def cv_residuals(tuning: xr.Dataset, selection: pd.DataFrame) -> xr.DataArray:
    """Actual minus the selection's combined forecast on every CV split: (market, split, step).

    The same rule the applier uses (weighted mean, or weighted median, of the members that
    have a forecast in the split); NaN where no member has one. Input for
    `conformal_quantiles`.
    """
    how = combine_of(selection)
    chosen = selection[selection["weight"] > 0]
    markets = [
        m
        for m in chosen["market"].astype(str).unique()
        if m in set(tuning["market"].values.tolist())
    ]
    out = np.full((len(markets), tuning.sizes["split"], tuning.sizes["step"]), np.nan)
    for mi, market in enumerate(markets):
        rows = chosen[chosen["market"].astype(str) == market]
        hs = rows["hp"].astype(int).tolist()
        w = rows["weight"].to_numpy(dtype=float)
        fc = tuning["yhat"].sel(market=market, hp=hs).transpose("split", "hp", "step").values
        y_test = tuning["y_test"].sel(market=market).transpose("split", "step").values
        for si in range(fc.shape[0]):
            ok = np.all(np.isfinite(fc[si]), axis=1)
            if ok.any():
                out[mi, si] = y_test[si] - pool(fc[si][ok], how, w[ok])
    return xr.DataArray(
        out,
        dims=("market", "split", "step"),
        coords={"market": markets, "split": tuning["split"].values, "step": tuning["step"].values},
        name="residual",
    )


def combination_gain(tuning: xr.Dataset, selection: pd.DataFrame) -> float:
    """Mean scaled |CV error| of the combined forecast over that of its median member; 1.0 if unknown.

    Pooled over the selection's markets, the CV splits and the steps where the combined
    forecast and at least one member have a forecast (errors divided by each window's MASE
    scale, so markets of any size pool). One member (`combine: best`) gives 1.0.
    """
    res = cv_residuals(tuning, selection)
    chosen = selection[selection["weight"] > 0]
    combo, member = [], []
    for market, r_market in zip(res["market"].values.tolist(), res.values, strict=True):
        hs = chosen.loc[chosen["market"].astype(str) == market, "hp"].astype(int).tolist()
        fc = tuning["yhat"].sel(market=market, hp=hs).transpose("split", "hp", "step").values
        y_test = tuning["y_test"].sel(market=market).transpose("split", "step").values
        scale = tuning["scale"].sel(market=market).values
        err = np.abs(y_test[:, None, :] - fc) / np.where(scale > 0, scale, np.nan)[:, None, None]
        ok = np.isfinite(err).all(axis=2)  # members with a forecast in each split
        for si in range(err.shape[0]):
            r = r_market[si] / scale[si] if scale[si] > 0 else None
            if r is None or not ok[si].any() or not np.isfinite(r).all():
                continue
            combo.append(np.abs(r))
            member.append(np.median(err[si][ok[si]], axis=0))
    if not combo:
        return 1.0
    den = float(np.mean(member))
    gain = float(np.mean(combo)) / den if den > 0 else float("nan")
    return gain if np.isfinite(gain) and gain > 0 else 1.0


def scale_bounds(forecast: xr.Dataset, factor: float, markets: Sequence[str]) -> xr.Dataset:
    """The forecast with each bound of `markets` moved to yhat + factor x (bound - yhat), clipped at 0.

    Other markets keep their bounds; the forecast's attrs get `intervals: scaled`.
    """
    out = forecast.copy(deep=True)
    b = out["bounds"].transpose("market", "time", "quantile")
    yhat = out["yhat"].transpose("market", "time").values[:, :, None]
    pick = np.isin(b["market"].values.astype(str), [str(m) for m in markets])[:, None, None]
    scaled = np.clip(yhat + factor * (b.values - yhat), 0.0, None)
    out["bounds"] = b.copy(data=np.where(pick & np.isfinite(scaled), scaled, b.values))
    out.attrs["intervals"] = "scaled"
    return out
