"""Successive halving over splits: evaluate every hp on the latest split, keep the best, go on.

Round r = 0..S-1 evaluates, per market, the surviving hps on split S-1-r only (the most recent
split first). After each round the survivors are ranked by the weighted CV score over the
splits evaluated so far (`fcast.core.select.score`) and the best ceil(keep x n) (at least
`min_keep`) go on. Each round runs its blocks of markets (each block carries its markets'
survivor lists) through the one executor, writing its split's slice of the same Zarr cube the
grid writes; cells never evaluated keep status NOT_RUN and NaN error, and `rounds(market, hp)`
says on how many splits each hp was evaluated. `fcast.core.select.score` gives no score to an
hp with a NaN error on a valid split, so `select` on the final cube chooses among fully
evaluated hps only. A rerun skips the blocks (and rounds) whose markers exist; a block past
`task_timeout` is cut off like a grid block. Call it through
`fcast.core.tune.tune(..., strategy="halving")`.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import xarray as xr

from fcast.contract import NOT_RUN, SKIPPED, ZARR_FORMAT
from fcast.core.executor import Block, run_blocks, say_timed_out
from fcast.core.select import score, split_weights
from fcast.core.space import models_of
from fcast.core.tune.kernel import evaluate_lists, timed_out_lists
from fcast.core.tune.plan import auto_block_markets, client_threads, regressors
from fcast.core.tune.regions import (
    RoundKey,
    RoundReport,
    create_cube,
    done_blocks,
    read_round,
    round_markers,
    template,
    write_round,
)


def survivors(
    tuning: xr.Dataset,
    evaluated: Sequence[int],
    keep: float,
    min_keep: int,
    weights: str | Sequence[float] = "linear",
) -> dict[int, list[int]]:
    """Per market index: the hps kept after the splits in `evaluated` (best weighted score first)."""
    sub = tuning.isel(split=list(evaluated))
    w = split_weights(sub["split"].values, _subweights(weights, tuning, evaluated))
    sc = (
        score(sub["error"], sub["status"], w, tuning.attrs["metric"])
        .transpose("market", "hp")
        .values
    )
    st = sub["status"].values  # market, split, hp
    alive = (st != NOT_RUN).all(axis=1)  # evaluated on every split so far
    out: dict[int, list[int]] = {}
    for mi in range(sc.shape[0]):
        cand = np.flatnonzero(alive[mi])
        if (st[mi][:, cand] == SKIPPED).all():  # no data yet for this market: keep everyone
            out[mi] = cand.tolist()
            continue
        scored = [h for h in cand if np.isfinite(sc[mi, h])]
        n = max(min_keep, math.ceil(keep * len(cand)))
        order = sorted(scored, key=lambda h: (sc[mi, h], h))
        out[mi] = sorted(order[:n])
    return out


def _subweights(
    weights: str | Sequence[float], tuning: xr.Dataset, evaluated: Sequence[int]
) -> list[float]:
    """The full design's split weights restricted to the evaluated splits (renormalised by split_weights)."""
    full = split_weights(tuning["split"].values, weights).values
    return [float(full[i]) for i in evaluated]


def halving(
    y: xr.DataArray,
    labels: xr.Dataset,
    hp: xr.Dataset,
    path: str,
    *,
    keep: float = 0.33,
    min_keep: int = 1,
    horizon: int,
    metric: str = "mase",
    season_length: int = 1,
    min_train: int = 2,
    weights: str | Sequence[float] = "linear",
    client: Any = None,
    block_markets: int | None = None,
    progress: bool = True,
    task_timeout: float | None = None,
    x: xr.DataArray | None = None,
) -> tuple[xr.Dataset, list[RoundReport]]:
    """Successive halving over splits into `path` (Zarr, the grid's layout plus `rounds`); resumes done blocks.

    `x` (market, time, feature): holiday features for models with regressors, as in the grid.
    """
    if not 0 < keep <= 1:
        raise ValueError(f"search.keep must be in (0, 1], got {keep}")
    y_tune = y.isel(time=slice(0, int(labels.attrs["holdout_start"])))
    n_m, n_h, n_s = y_tune.sizes["market"], hp.sizes["hp"], labels.sizes["split"]
    if block_markets is None:  # sized for the first round, which evaluates every hp on one split
        block_markets = auto_block_markets(n_m, 1, n_h, n_h, client_threads(client))

    def build() -> xr.Dataset:
        tmpl = template(
            y_tune, labels, hp, horizon, metric, season_length, min_train, block_markets, n_h
        )
        tmpl.attrs["search"] = json.dumps(
            {"strategy": "halving", "keep": keep, "min_keep": min_keep}
        )
        return tmpl

    block_markets = create_cube(path, ".halving", build)["yhat"].encoding["chunks"][0]
    models = models_of(hp, season_length)
    x_values, features = regressors(x, y_tune, models)
    values = y_tune.values
    train_stop = labels["train_stop"].values
    reports: list[RoundReport] = []
    t0 = time.perf_counter()

    def on_done(block: Block, rep: RoundReport) -> None:
        if rep.timed_out and progress:
            markets = ",".join(map(str, y_tune["market"].values[block.key.m0 : block.key.m1][:5]))
            what = f"markets {markets}; round {rep.round}, split {rep.split}"
            say_timed_out("halving", block.name, what, task_timeout or 0, rep.seconds, rep.fits)

    alive: dict[int, list[int]] = {mi: list(range(n_h)) for mi in range(n_m)}
    for r in range(n_s):
        s = n_s - 1 - r
        if r > 0:
            cube = xr.open_zarr(path, consolidated=False)[["error", "status"]].load()
            cube.attrs["metric"] = metric
            alive = survivors(cube, list(range(s + 1, n_s)), keep, min_keep, weights)
        done = done_blocks(round_markers(path, r))
        keys = [
            RoundKey(r, s, m0, min(m0 + block_markets, n_m)) for m0 in range(0, n_m, block_markets)
        ]
        blocks = [
            Block(
                f"{r}-{k.name}",
                k,
                (
                    values[k.m0 : k.m1],
                    int(train_stop[s]),
                    models,
                    [alive[mi] for mi in range(k.m0, k.m1)],
                    n_h,
                    horizon,
                    metric,
                    min_train,
                    None if x_values is None else x_values[k.m0 : k.m1],
                    features,
                ),
            )
            for k in keys
            if k.name not in done
        ]

        reports.extend(
            run_blocks(
                evaluate_lists,
                blocks,
                client=client,
                task_timeout=task_timeout,
                timed_out=timed_out_lists,
                commit=partial(write_round, path, n_h),
                read=partial(read_round, path),
                on_done=on_done,
                prefix="halving",
            )
        )
        if progress:
            fits = sum(rep.fits for rep in reports)
            print(
                f"halving: round {r + 1}/{n_s} (split {s}), {sum(map(len, alive.values()))} market-hps, "
                f"{len(blocks)} blocks run, {fits} fits, {time.perf_counter() - t0:.0f}s",
                file=sys.stderr,
            )
    status = xr.open_zarr(path, consolidated=False)["status"]
    rounds = (status != NOT_RUN).sum("split").astype("int16").rename("rounds").load()
    attrs = xr.open_zarr(
        path, consolidated=True
    ).attrs  # appending a variable rewrites the root attrs
    xr.Dataset({"rounds": rounds.drop_vars(list(rounds.coords))}, attrs=attrs).to_zarr(
        path, mode="a", zarr_format=ZARR_FORMAT, consolidated=True
    )
    return xr.open_zarr(path, consolidated=True), reports
