"""Blocks of markets: consecutive, covering, sized for the cluster."""

from __future__ import annotations

import xarray as xr

from fcast.data.blockwise import auto_block_markets, block_slices, market_blocks, serial


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
