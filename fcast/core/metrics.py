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
