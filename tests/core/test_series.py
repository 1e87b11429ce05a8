"""Where each series starts and ends, and the right-aligned panel CV works on."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from fcast.core.series import first_observed, lags, last_observed, origins, right_align

TIME = pd.date_range("2024-01-01", periods=6, freq="W-MON")


def panel() -> xr.DataArray:
    """A ends 2 weeks early, B is complete, C starts late and ends 1 week early, D has nothing."""
    nan = np.nan
    return xr.DataArray(
        [
            [1.0, 2, 3, 4, nan, nan],
            [1.0, 2, 3, 4, 5, 6],
            [nan, nan, 7, 8, 9, nan],
            [nan] * 6,
        ],
        dims=("market", "time"),
        coords={"market": ["A", "B", "C", "D"], "time": TIME},
    )


def test_first_last_lags_and_origins_known_answer():
    y = panel()
    assert first_observed(y.values).tolist() == [0, 0, 2, 6]
    assert last_observed(y.values).tolist() == [3, 5, 4, -1]
    assert lags(y).tolist() == [2, 0, 1, 0]
    assert pd.DatetimeIndex(origins(y)).tolist() == [TIME[3], TIME[5], TIME[4], TIME[5]]


def test_right_align_puts_every_last_actual_on_the_panel_end_and_moves_x_alike():
    y = panel()
    future = pd.date_range(TIME[0], periods=8, freq="W-MON")  # 2 periods past the panel
    x = xr.DataArray(
        np.arange(4 * 8, dtype=float).reshape(4, 8, 1),
        dims=("market", "time", "feature"),
        coords={"market": y["market"].values, "time": future, "feature": ["h"]},
    )
    aligned, xs = right_align(y, x)
    np.testing.assert_array_equal(aligned.sel(market="A").values, [np.nan, np.nan, 1, 2, 3, 4])
    np.testing.assert_array_equal(aligned.sel(market="B").values, [1, 2, 3, 4, 5, 6])
    np.testing.assert_array_equal(aligned.sel(market="C").values, [np.nan] * 3 + [7, 8, 9])
    assert pd.DatetimeIndex(aligned["origin"].values).tolist() == list(origins(y))
    assert (aligned["time"].values == TIME.to_numpy()).all()
    # A's feature at its own last actual (TIME[3], x = 3) now sits at the panel end (position 5)
    # and its first future period (TIME[4], x = 4) right after it, as its y moved
    assert xs.sel(market="A").values[5:7, 0].tolist() == [3.0, 4.0]
    assert xs.sel(market="B").values[:, 0].tolist() == x.sel(market="B").values[:, 0].tolist()
    assert right_align(y)[1] is None
