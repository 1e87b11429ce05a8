"""The per-market views QC checks read, built once per run (issue 20: QC cost flat per market).

`ForecastRows` is the forecast sorted by market and date and split once into row spans
(market i owns rows ``starts[i]:stops[i]``), with the numeric columns as one float array
per set of columns, so a row-wise check computes its mask on the whole table and builds
messages only for the markets with findings. `Actuals` holds the actuals as one
``(market, time)`` float array with a market -> row index and each row's first and last
observation, so a market's series is a slice, not an xarray selection.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cached_property

import numpy as np
import pandas as pd
import xarray as xr

from fcast.core.series import first_observed, last_observed
from fcast.data.blockwise import run_starts


class ForecastRows:
    """The forecast sorted by market and date, with each market's row span."""

    def __init__(self, forecast: pd.DataFrame, by: Sequence[str] = ("market", "date")) -> None:
        """Sort once by `by` (stable; market first) and find where each market's rows begin and end."""
        self.table = forecast.sort_values(list(by), kind="stable")
        keys = self.table["market"].to_numpy()
        self.starts = run_starts(keys)
        self.stops = np.append(self.starts[1:], len(keys)).astype(int)[: len(self.starts)]
        self.markets = [str(m) for m in keys[self.starts]]
        self._arrays: dict[tuple[str, ...], np.ndarray] = {}

    def __len__(self) -> int:
        """The number of markets."""
        return len(self.markets)

    def array(self, columns: Sequence[str]) -> np.ndarray:
        """The sorted table's `columns` as one float64 array (rows x columns), computed once."""
        key = tuple(columns)
        if key not in self._arrays:
            values = np.array(self.table[list(key)].to_numpy(dtype="float64"))
            values.setflags(write=False)  # shared by every check
            self._arrays[key] = values
        return self._arrays[key]

    @cached_property
    def dates(self) -> np.ndarray:
        """The sorted table's dates (datetime64)."""
        return self.table["date"].to_numpy()

    @cached_property
    def frames(self) -> list[tuple[str, pd.DataFrame]]:
        """Each market's rows as a frame, in market order (shared by every check: copy before changing one)."""
        return [
            (m, self.table.iloc[a:b])
            for m, a, b in zip(self.markets, self.starts, self.stops, strict=True)
        ]

    def each(self, values: np.ndarray) -> Iterator[tuple[int, str, np.ndarray]]:
        """(position, market, its rows of `values`) for every market, in order."""
        for i, market in enumerate(self.markets):
            yield i, market, values[self.starts[i] : self.stops[i]]

    def flagged(self, rows: np.ndarray) -> Iterator[tuple[str, slice]]:
        """(market, row span) of the markets where the boolean row mask is set, in order."""
        hit = np.logical_or.reduceat(rows, self.starts) if len(self) else np.array([], bool)
        for i in np.flatnonzero(hit):
            yield self.markets[i], slice(self.starts[i], self.stops[i])

    def all_equal(self, column: str, value: object) -> np.ndarray:
        """Per market: whether `column` is `value` on all its rows (all False without the column)."""
        if column not in self.table or not len(self):
            return np.zeros(len(self), dtype=bool)
        return np.logical_and.reduceat((self.table[column] == value).to_numpy(), self.starts)

    def column_at_starts(self, column: str) -> pd.Series:
        """A column's value in each market's first (earliest) row."""
        return self.table[column].iloc[self.starts]


class Actuals:
    """The actuals as one (market, time) float array with a market -> row index."""

    def __init__(self, y: xr.DataArray) -> None:
        """Read the values once; find each market's first and last observation."""
        self.values = np.array(y.transpose("market", "time").values, dtype="float64")
        self.values.setflags(write=False)
        self.row = {m: i for i, m in enumerate(y["market"].values.tolist())}
        self.last = last_observed(self.values)
        self.seen = self.last >= 0
        self.first = np.where(self.seen, first_observed(self.values), 0)

    def series(self, market: object) -> np.ndarray:
        """A market's actuals from its first to its last observation (empty when it has none)."""
        i = self.row.get(market)
        if i is None or not self.seen[i]:
            return np.array([])
        return self.values[i, self.first[i] : self.last[i] + 1].copy()
