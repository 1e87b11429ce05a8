"""The hierarchy of a run: the total, the groups of the markets table, the markets; the summing matrix S.

`hierarchy.groups` names columns of the markets table (`region`, `platform`, ...): each
column is one level whose nodes are its distinct values, so columns may nest (region >
country) or cross (region and platform). The total is always the first level. Rows of
`S` are the series in the order total, each group column's values (sorted), the markets;
its columns are the markets, and ``S @ markets`` gives every series.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from fcast.contract import MARKET_LEVEL
from fcast.errors import ConfigError, DataError
from fcast.options import Options

#: the name and the level of the one series over all markets
TOTAL = "TOTAL"
TOTAL_LEVEL = "total"
#: the reconciliation methods (fcast.markets.reconcile), bottom-up first (the default);
#: `auto` picks one by a backtest on the CV splits (fcast.markets.totals.choose_method)
Method = Literal["bottom_up", "top_down", "ols", "wls_struct", "mint_shrink", "auto"]
METHODS: tuple[str, ...] = ("bottom_up", "top_down", "ols", "wls_struct", "mint_shrink")
#: the aggregates' model when they are not tuned (a run without tuned aggregates, `auto`'s CV fits)
FIXED_FAMILY = "mstl"


class HierarchyConfig(Options):
    """Totals and groups: which markets-table columns group the markets, how levels are reconciled."""

    groups: list[str] = Field(
        default_factory=list, description="markets-table columns that group markets (e.g. region)"
    )
    method: Method = Field(
        "bottom_up",
        description="reconciliation: bottom_up, top_down, ols, wls_struct, mint_shrink, or auto (CV)",
    )
    family: str | None = Field(
        None,
        description="a fixed model family for the aggregates (default: none, they are tuned like markets)",
    )
    params: dict = Field(
        default_factory=lambda: {"trend": "ets", "log": True},
        description="parameters of the fixed family (and of auto's CV model)",
    )

    @property
    def fixed_family(self) -> str:
        """The family of the fixed-model path and of `auto`'s CV fits: `family`, else mstl."""
        return self.family or FIXED_FAMILY

    @field_validator("groups")
    @classmethod
    def _distinct(cls, v: list[str]) -> list[str]:
        reserved = {TOTAL_LEVEL, MARKET_LEVEL}
        if len(set(v)) != len(v) or reserved & set(v):
            raise ValueError(f"groups must be distinct columns other than {sorted(reserved)}: {v}")
        return v


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """Every series of the hierarchy: its level and name per row of S (series x markets)."""

    levels: tuple[str, ...]
    names: tuple[str, ...]
    markets: tuple[str, ...]
    S: np.ndarray

    @property
    def n_aggregates(self) -> int:
        """Rows of S above the markets."""
        return len(self.names) - len(self.markets)

    def tags(self) -> dict[str, np.ndarray]:
        """Level -> row indices into S, in the order of the levels (total first, markets last)."""
        out: dict[str, list[int]] = {}
        for i, lv in enumerate(self.levels):
            out.setdefault(lv, []).append(i)
        return {lv: np.asarray(ix) for lv, ix in out.items()}

    def aggregate(self, values: np.ndarray) -> np.ndarray:
        """Every series from the markets' values (markets x ...), a missing market value counting as 0."""
        v = np.nan_to_num(np.asarray(values, dtype="float64"), nan=0.0)
        return np.tensordot(self.S, v, axes=1)

    def aggregates(self) -> pd.DataFrame:
        """The series above the markets: level, name, and the markets each one sums."""
        rows = []
        for i in range(self.n_aggregates):
            members = [m for m, on in zip(self.markets, self.S[i], strict=True) if on]
            rows.append({"level": self.levels[i], "name": self.names[i], "markets": members})
        return pd.DataFrame(rows, columns=["level", "name", "markets"])


def _group_values(
    table: pd.DataFrame | None, groups: Sequence[str], markets: Sequence[str]
) -> pd.DataFrame:
    """The group columns of the markets table for these markets, checked: every market has a value."""
    if not groups:
        return pd.DataFrame(index=pd.Index(list(markets), name="market"))
    if table is None:
        raise ConfigError(f"hierarchy.groups {list(groups)} needs a markets table (data.markets)")
    missing_cols = [g for g in groups if g not in table.columns]
    if missing_cols:
        raise ConfigError(
            f"hierarchy.groups: column(s) {missing_cols} not in the markets table; "
            f"it has {[str(c) for c in table.columns]}"
        )
    sub = table.assign(market=table["market"].astype(str)).set_index("market")[list(groups)]
    sub = sub.reindex(list(markets))
    unknown = sub.index[sub.isna().any(axis=1)].tolist()
    if unknown:
        raise DataError(
            f"hierarchy: market(s) {unknown[:10]} have no value for {list(groups)} in the markets table"
        )
    return sub.astype(str)


def build_hierarchy(
    table: pd.DataFrame | None, groups: Sequence[str], markets: Sequence[str]
) -> Hierarchy:
    """The hierarchy of `markets` grouped by the `groups` columns of the markets table, total first."""
    markets = [str(m) for m in markets]
    if len(set(markets)) != len(markets) or not markets:
        raise DataError("hierarchy: the markets must be distinct and at least one")
    values = _group_values(table, groups, markets)
    levels, names, rows = [TOTAL_LEVEL], [TOTAL], [np.ones(len(markets))]
    for g in groups:
        col = values[g].to_numpy()
        for v in sorted(set(col)):
            levels.append(g)
            names.append(v)
            rows.append((col == v).astype("float64"))
    levels += [MARKET_LEVEL] * len(markets)
    names += markets
    S = np.vstack([np.vstack(rows), np.eye(len(markets))])
    return Hierarchy(tuple(levels), tuple(names), tuple(markets), S)
