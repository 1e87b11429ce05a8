"""Per-market data stages in blocks of markets: the blocks, and how a stage has them run.

A data stage whose work is per market (the cube checks of QA, cleaning) splits the cube
into blocks of consecutive markets and hands a `BlockMap` its kernel and the blocks'
arguments; the map returns the kernel's results in block order. `serial` runs them one
after another in this process. The jobs pass a map that runs them as tasks on the
cluster through the one block executor (`fcast.jobs.prepare.cluster_map`, which uses
`fcast.core.executor.run_blocks`): the data layer does not import the executor.

Results never depend on the block size: a kernel sees whole markets only, and whatever
needs every market (the newest period of the cube, say) is decided by the caller first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import xarray as xr

#: map(kernel, [args of each block], label) -> [kernel(*args) of each block], in block order
BlockMap = Callable[[Callable[..., Any], Sequence[tuple], str], list[Any]]

#: markets per block when the caller does not say (big enough that a task's overhead is small)
DEFAULT_BLOCK_MARKETS = 100


def serial(fn: Callable[..., Any], args: Sequence[tuple], label: str = "") -> list[Any]:
    """Run the kernel on every block in this process, in order."""
    return [fn(*a) for a in args]


def block_slices(n: int, block_markets: int | None) -> list[slice]:
    """Consecutive slices of at most `block_markets` of `n` markets (one block when None)."""
    size = max(1, int(block_markets or n or 1))
    return [slice(i, min(i + size, n)) for i in range(0, n, size)]


def auto_block_markets(n: int, threads: int, per_thread: int = 4, cap: int = 250) -> int:
    """Markets per block: about `per_thread` blocks per worker thread, at most `cap` markets each."""
    if n <= 0:
        return 1
    return max(1, min(cap, math.ceil(n / max(1, threads * per_thread))))


def market_blocks(ds: xr.Dataset, block_markets: int | None) -> list[xr.Dataset]:
    """The cube split into blocks of consecutive markets (views; pickling one ships its markets only)."""
    return [ds.isel(market=s) for s in block_slices(ds.sizes["market"], block_markets)]


__all__ = [
    "DEFAULT_BLOCK_MARKETS",
    "BlockMap",
    "auto_block_markets",
    "block_slices",
    "market_blocks",
    "serial",
]
