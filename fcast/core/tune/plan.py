"""The block plan of a tuning cube: tiles of markets x hps, how large a tile should be, what a task gets.

A block is a set of markets x a set of hps, with every split of those markets inside the
same task, so the graph grows with blocks, not with fits. `regressors` gives the holiday
features the tasks carry (none unless a model takes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr

from fcast.core.models import Model
from fcast.core.series import align_x

#: automatic block sizing (`block_markets=None`): blocks per worker thread to aim for, so the
#: last blocks leave little idle time (measured: 25 blocks/thread put 200 series at 1.08x (ETS)
#: and 1.03x (ARIMA) of the kernel limit); fits a block holds at least, so its fixed cost (task,
#: region write, marker, ~20 ms) stays ~1% of it; and the most markets a block holds.
BLOCKS_PER_THREAD = 24
MIN_BLOCK_FITS = 50
MAX_BLOCK_MARKETS = 8


@dataclass(frozen=True)
class BlockKey:
    """An explicit chunk key: block (i, j) covers markets [m0, m1) and hps [h0, h1)."""

    i: int
    j: int
    m0: int
    m1: int
    h0: int
    h1: int

    @property
    def name(self) -> str:
        """The block's name in markers, task keys and messages: 'i-j'."""
        return f"{self.i}-{self.j}"


def plan_blocks(n_markets: int, n_hps: int, block_markets: int, block_hps: int) -> list[BlockKey]:
    """Tile the market x hp plane into blocks (all splits and steps stay inside a block)."""
    keys = []
    for i, m0 in enumerate(range(0, n_markets, block_markets)):
        for j, h0 in enumerate(range(0, n_hps, block_hps)):
            keys.append(
                BlockKey(
                    i, j, m0, min(m0 + block_markets, n_markets), h0, min(h0 + block_hps, n_hps)
                )
            )
    return keys


def auto_block_markets(
    n_markets: int, n_splits: int, n_hps: int, block_hps: int, threads: int | None
) -> int:
    """Markets per block: enough blocks to keep every thread busy to the end, enough fits to amortise each.

    `threads` is the cluster's worker-thread count, or None in-process (where blocks only
    cost overhead, so they are as large as allowed).
    """
    hp_blocks = -(-n_hps // block_hps)
    per_market = max(1, n_splits * min(n_hps, block_hps))
    floor = -(-MIN_BLOCK_FITS // per_market)
    if threads is None:
        balance = MAX_BLOCK_MARKETS
    else:
        balance = min(
            MAX_BLOCK_MARKETS, (n_markets * hp_blocks) // (BLOCKS_PER_THREAD * max(1, threads))
        )
    return max(1, min(n_markets, max(floor, balance)))


def client_threads(client: Any) -> int | None:
    """Worker threads of a cluster (at least 1), or None without a client."""
    if client is None:
        return None
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def regressors(
    x: xr.DataArray | None, y_tune: xr.DataArray, models: list[Model]
) -> tuple[np.ndarray | None, list[str] | None]:
    """The holiday features the tasks get: None unless some model takes regressors (then x is required)."""
    x_values, features = align_x(x, y_tune)
    uses_x = any(mod.uses_x for mod in models)
    if x_values is None and uses_x:
        raise ValueError(
            "the space has models with holiday regressors; pass the holiday features as x"
        )
    return (x_values, features) if uses_x else (None, None)
