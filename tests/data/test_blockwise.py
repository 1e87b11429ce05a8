"""Blocks of markets: consecutive, covering, sized for the cluster."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import xarray as xr

from fcast.data.blockwise import (
    auto_block_markets,
    block_slices,
    market_blocks,
    market_row_groups,
    market_runs,
    read_market_blocks,
    serial,
)
from fcast.infra.store import Store


def test_block_slices_cover_every_market_once() -> None:
    """Consecutive slices of at most the block size; None is one block."""
    assert block_slices(7, 3) == [slice(0, 3), slice(3, 6), slice(6, 7)]
    assert block_slices(7, None) == [slice(0, 7)]
    assert block_slices(0, 3) == []


def test_auto_block_markets_aims_at_four_blocks_per_thread_within_the_cap() -> None:
    """About 4 blocks per thread, at least 1 market, at most 250."""
    assert auto_block_markets(1000, 2) == 125
    assert auto_block_markets(3, 8) == 1
    assert auto_block_markets(10**6, 4) == 250


def test_market_blocks_and_serial_keep_the_order(small_cube: xr.Dataset) -> None:
    """The blocks joined again are the cube; serial returns results in block order."""
    blocks = market_blocks(small_cube, 3)
    xr.testing.assert_identical(xr.concat(blocks, dim="market"), small_cube)
    sizes = serial(lambda b: b.sizes["market"], [(b,) for b in blocks])
    assert sizes == [3, 1]


def long_table(markets: list[str], periods: int = 5) -> pd.DataFrame:
    """A forecast-shaped long table: market, date, yhat, segment (markets in the given order)."""
    dates = pd.date_range("2026-01-05", periods=periods, freq="W-MON")
    n = len(markets)
    return pd.DataFrame(
        {
            "market": np.repeat(markets, periods),
            "date": np.tile(dates, n),
            "yhat": np.arange(n * periods, dtype=float) * 1.5,
            "segment": pd.Categorical(np.repeat(["mature", "new"] * n, periods)[: n * periods]),
        }
    )


MARKETS = ["SE", "DK", "NO", "FI", "DE", "US-CA", "TOTAL"]  # not sorted: the row order is kept


def test_market_runs_hold_whole_consecutive_markets() -> None:
    """Each slice holds at most the block size of whole markets, in row order."""
    df = long_table(MARKETS, periods=3)
    runs = market_runs(df["market"], 3)
    assert runs == [slice(0, 9), slice(9, 18), slice(18, 21)]
    assert market_runs(df["market"], None) == [slice(0, 21)]
    assert market_runs(df["market"].iloc[:0], 3) == []


@pytest.mark.parametrize("block", [1, 2, 3, 7, None])
def test_row_groups_read_back_identical_whatever_the_block_size(block: int | None) -> None:
    """One row group per block of markets; pandas reads the same table as from a plain Parquet file."""
    df = long_table(MARKETS)
    raw = market_row_groups(df, block)
    groups = pq.ParquetFile(io.BytesIO(raw)).num_row_groups
    assert groups == len(block_slices(len(MARKETS), block))
    plain = io.BytesIO()
    df.to_parquet(plain, index=False)
    pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(raw)), pd.read_parquet(plain))


def test_store_writes_row_groups_atomically(tmp_path: Path) -> None:
    """`Store.write_parquet(..., block_markets=)`: the same table, its row groups, no file left aside."""
    store = Store(str(tmp_path / "store"))
    df = long_table(MARKETS)
    store.write_parquet(df, "runs", "r1", "forecast.parquet", block_markets=2)
    pd.testing.assert_frame_equal(store.read_parquet("runs", "r1", "forecast.parquet"), df)
    path = tmp_path / "store" / "runs" / "r1" / "forecast.parquet"
    assert pq.ParquetFile(path).num_row_groups == 4
    assert sorted(p.name for p in path.parent.iterdir()) == ["forecast.parquet"]


@pytest.mark.parametrize("block", [1, 3, 100])
def test_read_market_blocks_covers_every_row_once(tmp_path: Path, block: int) -> None:
    """Blocks of at most `block` markets (sorted), joined: every row of the file, whatever the layout."""
    df = long_table(MARKETS)
    (tmp_path / "one.parquet").write_bytes(market_row_groups(df, 2))
    folder = tmp_path / "parts.parquet"  # a dataset folder written in two parts
    folder.mkdir()
    df.iloc[:15].to_parquet(folder / "part-0.parquet", index=False)
    df.iloc[15:].to_parquet(folder / "part-1.parquet", index=False)
    expected = df.sort_values("market", kind="stable").reset_index(drop=True)
    for url in (str(tmp_path / "one.parquet"), str(folder)):
        blocks = list(read_market_blocks(url, block, columns=["market", "date", "yhat"]))
        assert all(b["market"].nunique() <= block for b in blocks)
        assert [m for b in blocks for m in b["market"].unique()] == sorted(MARKETS)
        joined = pd.concat(blocks, ignore_index=True)
        pd.testing.assert_frame_equal(
            joined, expected[["market", "date", "yhat"]], check_dtype=False
        )
