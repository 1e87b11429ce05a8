"""What every per-market block works on: where each series starts, and its regressors aligned to it."""

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
