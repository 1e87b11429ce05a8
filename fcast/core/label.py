"""Labeler: rolling-origin cross-validation splits and the final holdout, as split x time roles.

With N periods, the last `holdout` periods are the final holdout and never reach tuning.
Split k (k = 0 is the oldest) tests on `horizon` periods that end `(splits - 1 - k) * step`
periods before the holdout starts; it trains on everything before its test window. Its
`cutoff` coord is the last training period.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from fcast.errors import DataError

ROLES = ("train", "test", "unused", "holdout")


def label(
    time: pd.DatetimeIndex | xr.DataArray,
    splits: int,
    step: int,
    horizon: int,
    holdout: int = 0,
    min_train: int = 1,
) -> xr.Dataset:
    """Split x time roles for rolling-origin CV; raises DataError when the history is too short."""
    index = pd.DatetimeIndex(time.values if isinstance(time, xr.DataArray) else time)
    n = len(index)
    tune_stop = n - holdout
    test_stop = tune_stop - step * (splits - 1 - np.arange(splits))
    test_start = test_stop - horizon
    if test_start[0] < min_train:
        needed = min_train + horizon + step * (splits - 1) + holdout
        raise DataError(
            f"history too short for the CV design: {n} periods, need at least {needed} "
            f"(min_train {min_train} + horizon {horizon} + {splits - 1} x step {step} + holdout {holdout})"
        )
    pos = np.arange(n)[None, :]
    role = np.full((splits, n), "unused", dtype="<U7")
    role[pos < test_start[:, None]] = "train"
    role[(pos >= test_start[:, None]) & (pos < test_stop[:, None])] = "test"
    role[:, tune_stop:] = "holdout"
    return xr.Dataset(
        {"role": (("split", "time"), role)},
        coords={
            "split": np.arange(splits),
            "time": index,
            "cutoff": ("split", index[test_start - 1]),
            "train_stop": ("split", test_start),
            "test_stop": ("split", test_stop),
        },
        attrs={"horizon": horizon, "step": step, "holdout": holdout, "holdout_start": tune_stop},
    )


def required_history(splits: int, step: int, horizon: int, holdout: int, min_train: int) -> int:
    """Periods of history a market needs to be tuned with this CV design."""
    return min_train + horizon + step * (splits - 1) + holdout


def valid_splits(labels: xr.Dataset, first: xr.DataArray, min_train: int) -> xr.DataArray:
    """Whether each (market, split) has at least `min_train` observed training periods."""
    return (labels["train_stop"] - first) >= min_train
