"""What every per-market block works on: where each series starts and ends, its regressors aligned to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr


def first_observed(y: np.ndarray) -> np.ndarray:
    """Index of each row's first finite value (len of row when none)."""
    finite = np.isfinite(y)
    return np.where(finite.any(axis=1), finite.argmax(axis=1), y.shape[1])


def align_x(
    x: xr.DataArray | None, y: xr.DataArray, time: pd.DatetimeIndex | None = None
) -> tuple[np.ndarray | None, list[str] | None]:
    """x's values for y's markets on y's time axis (or `time`), dims (market, time, feature), and the feature names."""
    if x is None:
        return None, None
    index = y["time"].values if time is None else np.asarray(time)
    try:
        sub = x.sel(market=y["market"].values, time=index)
    except KeyError as exc:
        raise ValueError(
            f"holiday features x do not cover the markets and times needed: {exc}"
        ) from None
    sub = sub.transpose("market", "time", "feature")
    return np.asarray(sub.values, dtype="float64"), [str(f) for f in sub["feature"].values]


def last_observed(y: np.ndarray) -> np.ndarray:
    """Index of each row's last finite value (-1 when none)."""
    finite = np.isfinite(y)
    last = y.shape[1] - 1 - finite[:, ::-1].argmax(axis=1)
    return np.where(finite.any(axis=1), last, -1)


def lags(y: xr.DataArray) -> np.ndarray:
    """Periods each market's last observation lies before the panel's last period (0 when none)."""
    last = last_observed(np.asarray(y.transpose("market", "time").values, dtype="float64"))
    return np.where(last >= 0, y.sizes["time"] - 1 - last, 0)


def origins(y: xr.DataArray) -> np.ndarray:
    """Each market's last observed date (the panel's last date for a market without any)."""
    time = pd.DatetimeIndex(y["time"].values)
    return time[y.sizes["time"] - 1 - lags(y)].to_numpy()


def _shift(values: np.ndarray, by: np.ndarray, fill: float) -> np.ndarray:
    """Row i of values (market, time, ...) moved `by[i]` periods later along axis 1, `fill` in front."""
    out = np.full_like(values, fill)
    n = values.shape[1]
    for i, k in enumerate(by):
        out[i, k:] = values[i, : n - k]
    return out


def right_align(
    y: xr.DataArray, x: xr.DataArray | None = None
) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Each market moved later so its last observation sits on the panel's last period.

    Positions on the panel's time axis then count back from each market's own end, so CV
    splits and holdouts (positions) fall on every market's own latest data. The `origin`
    coord keeps each market's real last date (aligning again changes nothing). `x` (market, time, feature, over y's times and
    any later ones) moves by the same periods, so features follow each market's own dates.
    """
    y = y.transpose("market", "time")
    by = lags(y)
    aligned = y.copy(data=_shift(np.asarray(y.values, dtype="float64"), by, np.nan))
    own = y["origin"].values if "origin" in y.coords else origins(y)  # aligned twice: kept
    aligned = aligned.assign_coords(origin=("market", own))
    if x is None or not by.any():
        return aligned, x
    xs = x.sel(market=y["market"].values).transpose("market", "time", "feature")
    return aligned, xs.copy(data=_shift(np.asarray(xs.values, dtype="float64"), by, 0.0))
