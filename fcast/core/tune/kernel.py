"""The kernels that evaluate a block of the tuning cube, and what a block that ran out of time holds.

`evaluate_block` fits every (market, split, model) of a grid block; `evaluate_lists` one split
of a block of markets that each have their own hp list (a successive-halving round). Cell
status (`fcast.contract`): OK fitted, FAILED fit failed (NaN forecast, counted), SKIPPED the
market's training window in that split is shorter than `min_train`, NOT_RUN not evaluated.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fcast.contract import FAILED, NOT_RUN, OK, SKIPPED
from fcast.core.metrics import mase_scale, pointwise
from fcast.core.models import Model
from fcast.core.series import first_observed

Arrays = dict[str, np.ndarray]


def evaluate_block(
    y: np.ndarray,
    train_stop: np.ndarray,
    models: Sequence[Model],
    horizon: int,
    metric: str,
    min_train: int,
    x: np.ndarray | None = None,
    features: Sequence[str] | None = None,
) -> Arrays:
    """Fit every (market, split, model) of a block: yhat, error and status, dims (market, split, hp, step).

    `x` (market, time, feature) holds the holiday features on the same time axis as `y`; a
    split's models with regressors see x[:, first:stop] for training and x[:, stop:stop+horizon]
    as the future values, exactly like y, so nothing after the cutoff leaks into the fit.
    """
    n_m, n_s, n_h = y.shape[0], len(train_stop), len(models)
    yhat = np.full((n_m, n_s, n_h, horizon), np.nan)
    error = np.full_like(yhat, np.nan)
    status = np.full((n_m, n_s, n_h), SKIPPED, dtype="int8")
    first = first_observed(y)
    for mi in range(n_m):
        for si, stop in enumerate(train_stop):
            train = y[mi, first[mi] : stop]
            if len(train) < min_train:
                continue
            test = y[mi, stop : stop + horizon]
            scale = mase_scale(train, models[0].season_length) if models else np.nan
            for hi, model in enumerate(models):
                try:
                    if model.uses_x:
                        fc = model.forecast(
                            train,
                            horizon,
                            X=None if x is None else x[mi, first[mi] : stop],
                            X_future=None if x is None else x[mi, stop : stop + horizon],
                            features=features,
                        )["mean"]
                    else:
                        fc = model.forecast(train, horizon)["mean"]
                except Exception:  # a failed fit is a NaN cell, counted, never a crashed run
                    status[mi, si, hi] = FAILED
                    continue
                yhat[mi, si, hi] = fc
                error[mi, si, hi] = pointwise(metric, test, fc, scale)
                status[mi, si, hi] = OK
    return {"yhat": yhat, "error": error, "status": status}


def _due(y: np.ndarray, train_stop: np.ndarray, min_train: int) -> np.ndarray:
    """(market, split): whether the market has a training window long enough to fit in that split."""
    return (np.asarray(train_stop)[None, :] - first_observed(y)[:, None]) >= min_train


def timed_out_block(
    y: np.ndarray,
    train_stop: np.ndarray,
    models: Sequence[Model],
    horizon: int,
    metric: str,
    min_train: int,
    x: np.ndarray | None = None,
    features: Sequence[str] | None = None,
) -> Arrays:
    """What `evaluate_block` gives for a block that ran out of time: NaN, FAILED where a fit was due, else SKIPPED."""
    n_m, n_s, n_h = y.shape[0], len(train_stop), len(models)
    due = _due(y, train_stop, min_train)
    status = np.where(due[:, :, None], FAILED, SKIPPED).astype("int8").repeat(n_h, axis=2)
    yhat = np.full((n_m, n_s, n_h, horizon), np.nan)
    return {"yhat": yhat, "error": yhat.copy(), "status": status}


def evaluate_lists(
    y: np.ndarray,
    stop: int,
    models: Sequence[Model],
    hps: list[list[int]],
    n_hps: int,
    horizon: int,
    metric: str,
    min_train: int,
    x: np.ndarray | None = None,
    features: Sequence[str] | None = None,
) -> Arrays:
    """One split of a block of markets, each with its own hp list: arrays (market, 1, hp, step)."""
    n_m = y.shape[0]
    yhat = np.full((n_m, 1, n_hps, horizon), np.nan)
    error = yhat.copy()
    status = np.full((n_m, 1, n_hps), NOT_RUN, dtype="int8")
    for mi in range(n_m):
        if not hps[mi]:
            continue
        out = evaluate_block(
            y[mi : mi + 1],
            np.array([stop]),
            [models[h] for h in hps[mi]],
            horizon,
            metric,
            min_train,
            None if x is None else x[mi : mi + 1],
            features,
        )
        yhat[mi, 0, hps[mi]] = out["yhat"][0, 0]
        error[mi, 0, hps[mi]] = out["error"][0, 0]
        status[mi, 0, hps[mi]] = out["status"][0, 0]
    return {"yhat": yhat, "error": error, "status": status}


def timed_out_lists(
    y: np.ndarray,
    stop: int,
    models: Sequence[Model],
    hps: list[list[int]],
    n_hps: int,
    horizon: int,
    metric: str,
    min_train: int,
    x: np.ndarray | None = None,
    features: Sequence[str] | None = None,
) -> Arrays:
    """What `evaluate_lists` gives for a block that ran out of time: each market's hps FAILED where due, else SKIPPED."""
    n_m = y.shape[0]
    yhat = np.full((n_m, 1, n_hps, horizon), np.nan)
    status = np.full((n_m, 1, n_hps), NOT_RUN, dtype="int8")
    due = _due(y, np.array([stop]), min_train)[:, 0]
    for mi in range(n_m):
        status[mi, 0, hps[mi]] = FAILED if due[mi] else SKIPPED
    return {"yhat": yhat, "error": yhat.copy(), "status": status}
