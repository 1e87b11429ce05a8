"""Grid search: every (market, split, hp) cell of the error cube, as blocks of markets x hps.

Each block is one task (`fcast.core.executor.run_blocks`): it fits its models
(`kernel.evaluate_block`), writes its region of the cube and then its marker
(`regions.write_block`); a rerun skips the blocks already marked. With a `task_timeout`, a
block whose fits run longer is cut off: its cells end as failed and a line says which block
and how long it ran. Call it through `fcast.core.tune.tune(..., strategy="grid")`.
"""

from __future__ import annotations

import sys
from functools import partial
from typing import Any

import xarray as xr

from fcast.core.executor import Block, Progress, run_blocks, say_timed_out
from fcast.core.space import models_of
from fcast.core.tune.kernel import evaluate_block, timed_out_block
from fcast.core.tune.plan import (
    BlockKey,
    auto_block_markets,
    client_threads,
    plan_blocks,
    regressors,
)
from fcast.core.tune.regions import (
    BlockReport,
    create_cube,
    done_blocks,
    read_report,
    template,
    write_block,
)


def _describe(key: BlockKey, y: xr.DataArray, hp: xr.Dataset) -> str:
    """The markets and hps of a block, for a message."""
    markets = ",".join(map(str, y["market"].values[key.m0 : key.m1][:5]))
    hps = (
        ",".join(map(str, hp["label"].values[key.h0 : key.h1][:5]))
        if "label" in hp.coords
        else f"{key.h0}..{key.h1 - 1}"
    )
    return f"markets {markets}; hps {hps}"


def grid(
    y: xr.DataArray,
    labels: xr.Dataset,
    hp: xr.Dataset,
    path: str,
    *,
    horizon: int,
    metric: str = "mase",
    season_length: int = 1,
    min_train: int = 2,
    block_markets: int | None = None,
    block_hps: int = 32,
    client: Any = None,
    progress: bool = True,
    task_timeout: float | None = None,
    x: xr.DataArray | None = None,
) -> tuple[xr.Dataset, list[BlockReport]]:
    """Compute the error cube into `path` (Zarr), resuming done blocks; return it lazily and the reports.

    `x` (market, time, feature): holiday features for the models that take regressors; it must
    cover y's markets and times (extra markets or later times are ignored). `block_markets=None`
    sizes blocks from the fit count and the cluster's threads (`plan.auto_block_markets`); a
    resumed cube keeps the block sizes it was started with.
    """
    y_tune = y.isel(time=slice(0, int(labels.attrs["holdout_start"])))
    n_m, n_h = y_tune.sizes["market"], hp.sizes["hp"]
    models = models_of(hp, season_length)
    x_values, features = regressors(x, y_tune, models)
    if block_markets is None:
        threads = client_threads(client)
        block_markets = auto_block_markets(n_m, labels.sizes["split"], n_h, block_hps, threads)
    existing = create_cube(
        path,
        ".blocks",
        lambda: template(
            y_tune, labels, hp, horizon, metric, season_length, min_train, block_markets, block_hps
        ),
    )
    block_markets, block_hps = (existing["yhat"].encoding["chunks"][k] for k in (0, 2))
    keys = plan_blocks(n_m, n_h, block_markets, block_hps)
    done = done_blocks(f"{path}/.blocks")
    todo = [k for k in keys if k.name not in done]
    train_stop = labels["train_stop"].values
    values = y_tune.values
    blocks = [
        Block(
            k.name,
            k,
            (
                values[k.m0 : k.m1],
                train_stop,
                models[k.h0 : k.h1],
                horizon,
                metric,
                min_train,
                None if x_values is None else x_values[k.m0 : k.m1],
                features,
            ),
        )
        for k in todo
    ]
    if progress and done:
        print(f"tuning: resuming, {len(done)}/{len(keys)} blocks already done", file=sys.stderr)
    counts = {"fits": 0, "failed": 0}

    def on_done(block: Block, rep: BlockReport) -> str:
        if rep.timed_out and progress:
            what = _describe(block.key, y_tune, hp)
            say_timed_out("tuning", rep.block, what, task_timeout or 0, rep.seconds, rep.fits)
        counts["fits"] += rep.fits
        counts["failed"] += rep.failed
        return f", {counts['fits']} fits, {counts['failed']} failed"

    reports = run_blocks(
        evaluate_block,
        blocks,
        client=client,
        task_timeout=task_timeout,
        timed_out=timed_out_block,
        commit=partial(write_block, path),
        read=partial(read_report, path),
        on_done=on_done,
        progress=Progress("tuning", len(keys), len(done)) if progress else None,
        prefix="tune-block",
    )
    return xr.open_zarr(path, consolidated=True), reports
