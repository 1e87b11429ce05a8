"""Per-market data stages in blocks of markets: the blocks, and how a stage has them run.

A data stage whose work is per market (the cube checks of QA, cleaning) splits the cube
into blocks of consecutive markets and hands a `BlockMap` its kernel and the blocks'
arguments; the map returns the kernel's results in block order. `serial` runs them one
after another in this process. The jobs pass a map that runs them as tasks on the
cluster through the one block executor (`fcast.jobs.prepare.cluster_map`, which uses
`fcast.core.executor.run_blocks`): the data layer does not import the executor.

Results never depend on the block size: a kernel sees whole markets only, and whatever
needs every market (the newest period of the cube, say) is decided by the caller first.

Long tables on disk in blocks of markets: `market_row_groups` writes a table as one Parquet
file with one row group per block of consecutive markets (the file reads the same with
`pandas.read_parquet`; only its row groups differ), and `read_market_blocks` reads a
Parquet file or dataset folder back one block of markets at a time (pyarrow dataset
filters, so row groups of other markets are skipped by their statistics).
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
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


def run_starts(keys: np.ndarray) -> np.ndarray:
    """Row where each run of equal consecutive keys begins (empty for no rows)."""
    if not len(keys):
        return np.zeros(0, dtype=int)
    return np.append(0, np.flatnonzero(keys[1:] != keys[:-1]) + 1).astype(int)


def market_runs(markets: pd.Series, block_markets: int | None) -> list[slice]:
    """Row slices of a table holding at most `block_markets` consecutive runs of markets each (row order kept)."""
    keys = markets.astype(str).to_numpy()
    starts = run_starts(keys).tolist()
    ends = [*starts[1:], len(keys)]
    return [
        slice(starts[b.start], ends[b.stop - 1]) for b in block_slices(len(starts), block_markets)
    ]


def market_row_groups(df: pd.DataFrame, block_markets: int | None) -> bytes:
    """`df` as Parquet bytes with one row group per block of consecutive markets (rows in their order)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    buf = io.BytesIO()
    with pq.ParquetWriter(buf, table.schema) as writer:
        for rows in market_runs(df["market"], block_markets) or [slice(0, 0)]:
            writer.write_table(table.slice(rows.start, rows.stop - rows.start))
    return buf.getvalue()


def read_market_blocks(
    url: str, block_markets: int | None, columns: Sequence[str] | None = None
) -> Iterator[pd.DataFrame]:
    """A Parquet file or dataset folder (any fsspec URL) in blocks of at most `block_markets` markets (sorted by name).

    Only the market column is read whole (to plan the blocks); each block reads its own
    markets' rows (by market name, each market's rows in file order; `columns` must
    include market). Concatenated, the blocks hold every row once.
    """
    import fsspec
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    fs, path = fsspec.core.url_to_fs(url)
    data = pads.dataset(path, filesystem=fs, format="parquet")
    names = data.to_table(columns=["market"]).column("market")
    markets = sorted(pc.unique(names).to_pylist(), key=str)
    for s in block_slices(len(markets), block_markets):
        wanted = pads.field("market").isin(markets[s])
        block = data.to_table(columns=list(columns) if columns else None, filter=wanted)
        yield block.to_pandas().sort_values("market", kind="stable").reset_index(drop=True)


__all__ = [
    "DEFAULT_BLOCK_MARKETS",
    "BlockMap",
    "auto_block_markets",
    "run_starts",
    "block_slices",
    "market_blocks",
    "market_row_groups",
    "market_runs",
    "read_market_blocks",
    "serial",
]
