"""Forecast error metrics as pointwise losses plus a reduction over `step`.

The tuning cube stores the pointwise loss per step, so the selector can weight steps and
splits before reducing. A metric's value over a window is `finish(mean(loss))`:

| metric | pointwise loss | finish |
| --- | --- | --- |
| mae | abs(y - yhat) | identity |
| rmse | (y - yhat) ** 2 | sqrt |
| mape | 100 * abs(y - yhat) / abs(y) | identity |
| smape | 200 * abs(y - yhat) / (abs(y) + abs(yhat)) | identity |
| mase | abs(y - yhat) / scale | identity |

`scale` for MASE is the in-sample mean absolute seasonal difference of the training
series (lag = season length, or 1 when the series is not longer than one season). When
the seasonal differences are all zero (a series that repeats itself exactly every season,
as interpolated yearly data do) the lag-1 scale is used instead; only a constant series
has no scale (NaN).
"""

from __future__ import annotations

import numpy as np

METRICS = ("mae", "rmse", "mape", "smape", "mase")


def mase_scale(y_train: np.ndarray, season_length: int) -> float:
    """Mean absolute seasonal difference of a training series (NaN-aware)."""
    y = np.asarray(y_train, dtype="float64")
    y = y[np.isfinite(y)]
    lag = season_length if len(y) > season_length else 1
    if len(y) <= lag:
        return float("nan")
    scale = float(np.mean(np.abs(y[lag:] - y[:-lag])))
    if scale == 0 and lag > 1:  # exactly periodic: the seasonal naive is perfect in-sample
        scale = float(np.mean(np.abs(np.diff(y))))
    return scale if scale > 0 else float("nan")


def pointwise(
    metric: str, y: np.ndarray, yhat: np.ndarray, scale: float | np.ndarray = 1.0
) -> np.ndarray:
    """The pointwise loss of `metric` (broadcasting y, yhat and scale)."""
    diff = np.abs(np.asarray(y) - np.asarray(yhat))
    with np.errstate(divide="ignore", invalid="ignore"):
        if metric == "mae":
            return diff
        if metric == "rmse":
            return diff**2
        if metric == "mape":
            return 100.0 * diff / np.abs(y)
        if metric == "smape":
            return 200.0 * diff / (np.abs(y) + np.abs(yhat))
        if metric == "mase":
            return diff / scale
    raise ValueError(f"unknown metric {metric!r}; choose from {METRICS}")


def finish(metric: str, mean_loss: np.ndarray | float) -> np.ndarray | float:
    """Turn a mean pointwise loss into the metric's value (sqrt for rmse)."""
    return np.sqrt(mean_loss) if metric == "rmse" else mean_loss


def score(metric: str, y: np.ndarray, yhat: np.ndarray, scale: float = 1.0) -> float:
    """The metric over one window."""
    return float(finish(metric, np.nanmean(pointwise(metric, y, yhat, scale))))


# --- interval metrics (utilsforecast definitions: losses.coverage, losses.winkler_score) ---------


def inside(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Pointwise: 1.0 where lo <= y <= hi (bounds included), 0.0 outside, NaN where any is missing."""
    y, lo, hi = (np.asarray(a, dtype="float64") for a in (y, lo, hi))
    out = ((y >= lo) & (y <= hi)).astype("float64")
    return np.where(np.isfinite(y) & np.isfinite(lo) & np.isfinite(hi), out, np.nan)


def winkler(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: float) -> np.ndarray:
    """Pointwise interval (Winkler) score of a central `level`% interval, alpha = 1 - level/100.

    (hi - lo) + 2/alpha (lo - y) when y < lo, + 2/alpha (y - hi) when y > hi; lower is better.
    """
    if not 0 < level < 100:
        raise ValueError(f"level must be between 0 and 100, got {level}")
    alpha = 1 - level / 100
    y, lo, hi = (np.asarray(a, dtype="float64") for a in (y, lo, hi))
    return (
        (hi - lo)
        + (2 / alpha) * np.clip(lo - y, 0.0, None)
        + (2 / alpha) * np.clip(y - hi, 0.0, None)
    )


def interval_scores(
    y: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
    level: float,
    scale: np.ndarray | None = None,
) -> dict[str, float]:
    """Interval metrics of (market, step) arrays: pooled coverage, interval score, scaled interval score.

    `coverage`: share of all finite market-periods inside the interval (pooled, not a mean
    of per-market shares). `interval_score`: the Winkler score averaged per market, then
    over markets (utilsforecast's per-id mean, then the mean of ids). `scaled_interval_score`
    (with `scale`, market): each market's mean Winkler score divided by its MASE scale, then
    averaged (the M4 competition's MSIS), so markets of any size weigh the same.
    """
    y, lo, hi = (np.atleast_2d(np.asarray(a, dtype="float64")) for a in (y, lo, hi))
    cover = inside(y, lo, hi)
    ws = winkler(y, lo, hi, level)
    ws = np.where(np.isfinite(cover), ws, np.nan)
    with np.errstate(invalid="ignore"):
        per_market = np.nanmean(ws, axis=1) if ws.size else np.array([])
    out = {
        "coverage": float(np.nanmean(cover)) if np.isfinite(cover).any() else float("nan"),
        "interval_score": float(np.nanmean(per_market))
        if np.isfinite(per_market).any()
        else float("nan"),
    }
    if scale is not None:
        s = np.asarray(scale, dtype="float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            scaled = per_market / np.where(s > 0, s, np.nan)
        out["scaled_interval_score"] = (
            float(np.nanmean(scaled)) if np.isfinite(scaled).any() else float("nan")
        )
    return out
