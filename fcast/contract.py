"""The forecast contract every part shares: columns, levels <-> quantiles, cell statuses, formats.

`forecast.parquet` (docs: README "CLI and file contract") has one row per market and date:
``market, date, yhat, yhat_lo_<L>, yhat_hi_<L> (per level L), family, segment, origin`` and,
once business input exists, ``yhat_base, adjustment_id``. `origin` is the market's last actual
date, the period its forecast starts after (markets of one panel may end on different
dates). A run with a hierarchy (docs/totals.md) adds a ``level`` column (``market``, a group
column such as ``region``, or ``total``) and the aggregate rows: ``market`` then holds the
group's value (``Europe``) or ``TOTAL``; the markets sum to their groups and the groups to the
total at every date. An interval level L (80, 95) is the pair of quantiles ``0.5 - L/200`` and
``0.5 + L/200``. Build and parse it only through the functions here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

#: interval levels a forecast carries unless asked otherwise
LEVELS: tuple[int, ...] = (80, 95)
#: the Zarr format of every cube fcast writes (v2 keeps string coords such as market codes in spec)
ZARR_FORMAT = 2
#: status of one (market, split, hp) cell of the error cube
OK, FAILED, SKIPPED = 0, 1, 2
#: a cell that successive halving did not evaluate (dropped in an earlier round)
NOT_RUN = -1
#: the family label of a market whose selected models all failed, or that had none to refit
FALLBACK = "fallback:seasonal_naive"
#: the one severity vocabulary of QA findings and QC findings
Severity = Literal["error", "warning", "info"]
SEVERITIES: tuple[str, ...] = ("error", "warning", "info")
#: segments a market belongs to
SEGMENTS: tuple[str, ...] = ("mature", "new", "custom")
#: the columns of forecast.parquet besides the interval bounds
KEY_COLUMNS = ("market", "date", "yhat")
TAIL_COLUMNS = ("family", "segment", "origin")
ADJUSTED_COLUMNS = ("yhat_base", "adjustment_id")
#: the column of a forecast with aggregate rows, and its value on the market rows
LEVEL_COLUMN = "level"
MARKET_LEVEL = "market"


def quantiles_of(level: int | float) -> tuple[float, float]:
    """Lower and upper quantile of a central interval level (80 -> 0.1, 0.9)."""
    return round(0.5 - level / 200, 4), round(0.5 + level / 200, 4)


def bound_columns(levels: Iterable[int]) -> list[str]:
    """yhat_lo_L, yhat_hi_L for each level, in the contract's order."""
    return [f"yhat_{side}_{lv}" for lv in levels for side in ("lo", "hi")]


def forecast_columns(
    levels: Iterable[int] = LEVELS, adjusted: bool = False, hierarchy: bool = False
) -> list[str]:
    """The forecast table's columns in order."""
    cols = [*KEY_COLUMNS, *bound_columns(levels), *TAIL_COLUMNS]
    cols += list(ADJUSTED_COLUMNS) if adjusted else []
    return cols + [LEVEL_COLUMN] if hierarchy else cols


def market_rows(table: Any) -> Any:
    """The market rows of a forecast table, without the level column (the table itself if it has none)."""
    if LEVEL_COLUMN not in table.columns:
        return table
    keep = table[LEVEL_COLUMN] == MARKET_LEVEL
    return table[keep].drop(columns=LEVEL_COLUMN).reset_index(drop=True)


def aggregate_rows(table: Any) -> Any:
    """The total and group rows of a forecast table (none when it has no level column)."""
    if LEVEL_COLUMN not in table.columns:
        return table.iloc[0:0].assign(**{LEVEL_COLUMN: []})
    return table[table[LEVEL_COLUMN] != MARKET_LEVEL].reset_index(drop=True)


def levels_in(columns: Sequence[str]) -> list[int]:
    """The interval levels a forecast table carries, from its yhat_lo_L columns, ascending."""
    found = set()
    for c in columns:
        if c.startswith("yhat_lo_") and c[len("yhat_lo_") :].isdigit():
            lv = int(c[len("yhat_lo_") :])
            if f"yhat_hi_{lv}" in columns:
                found.add(lv)
    return sorted(found)


def value_columns(columns: Sequence[str]) -> list[str]:
    """The numeric forecast columns (yhat and every bound) present in `columns`."""
    return ["yhat", *bound_columns(levels_in(columns))]


def check_severity(severity: str) -> str:
    """`severity` if it is one of SEVERITIES, else a ValueError that lists them."""
    if severity not in SEVERITIES:
        raise ValueError(f"severity must be one of {', '.join(SEVERITIES)}, got {severity!r}")
    return severity
