"""Tuning: the error cube error(market, split, hp, step), by one entry point with named strategies.

``tune(y, labels, hp, path, horizon=..., strategy="grid" | "halving", **options)`` computes the
cube into `path` (Zarr) and returns it lazily with the per-block reports. Both strategies run
their blocks through the one executor (`fcast.core.executor`), write the same cube layout
(`regions`), resume from the blocks already marked, and honour `task_timeout`. The modules
behind it: `plan` (blocks and their sizes), `kernel` (the fits of one block), `regions` (the Zarr
cube, region writes, markers, resume), `grid` and `halving` (the strategies), `report` (which
hyperparameters matter).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import xarray as xr

from fcast.contract import FAILED, OK
from fcast.core.metrics import pointwise
from fcast.core.series import right_align
from fcast.core.tune import grid, halving  # the modules: no package name shadows a module

#: strategy name -> the function that runs it, and the options only it takes
STRATEGIES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "grid": (grid.grid, ("block_hps",)),
    "halving": (halving.halving, ("keep", "min_keep", "weights")),
}


def tune(
    y: xr.DataArray,
    labels: xr.Dataset,
    hp: xr.Dataset,
    path: str,
    *,
    horizon: int,
    strategy: str = "grid",
    metric: str = "mase",
    season_length: int = 1,
    min_train: int = 2,
    block_markets: int | None = None,
    client: Any = None,
    progress: bool = True,
    task_timeout: float | None = None,
    x: xr.DataArray | None = None,
    **options: Any,
) -> tuple[xr.Dataset, Sequence[Any]]:
    """Compute the error cube into `path` by `strategy`; return it lazily and the block reports.

    Options every strategy takes are named here; the others belong to one strategy: grid
    ``block_hps`` (hps per block, default 32); halving ``keep`` (share of hps kept after each
    split, default 0.33), ``min_keep`` (at least this many, default 1) and ``weights`` (split
    weights of the ranking, default "linear"). `x` (market, time, feature): holiday features
    for the models that take regressors. `client`: a `distributed.Client`, or None in-process.
    A market that ends before the panel is right-aligned (`fcast.core.series.right_align`):
    its splits and holdout lie on its own latest data, and the cube's `origin` coord gives
    its last actual (its cutoffs are `origin` minus as many periods as the panel's).
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")
    run, own = STRATEGIES[strategy]
    unknown = sorted(set(options) - set(own))
    if unknown:
        raise TypeError(
            f"tune(strategy={strategy!r}) takes no option {', '.join(unknown)}; "
            f"its own options: {', '.join(own)}"
        )
    y, x = right_align(y, x)  # CV windows count back from each market's own last actual
    return run(
        y,
        labels,
        hp,
        path,
        horizon=horizon,
        metric=metric,
        season_length=season_length,
        min_train=min_train,
        block_markets=block_markets,
        client=client,
        progress=progress,
        task_timeout=task_timeout,
        x=x,
        **options,
    )


def errors(tuning: xr.Dataset, metric: str) -> xr.DataArray:
    """Pointwise loss of any metric from the stored forecasts (the cube stores one metric)."""
    scale = tuning["scale"] if metric == "mase" else 1.0
    return (
        xr.apply_ufunc(pointwise, metric, tuning["y_test"], tuning["yhat"], scale, dask="allowed")
        .transpose(*tuning["yhat"].dims)
        .rename("error")
    )


def fits(tuning: xr.Dataset) -> int:
    """Fits a cube cost: cells evaluated (fitted or failed)."""
    st = tuning["status"]
    return int(((st == OK) | (st == FAILED)).sum())


__all__ = ["STRATEGIES", "errors", "fits", "tune"]
