"""The totals step of a job: the hierarchy of the run's markets, aggregate forecasts, reconciliation.

`write_outputs` (fcast/jobs/outputs.py) calls `reconcile_table` on the markets' forecast
before the business adjustments and `with_aggregates` after them; without `hierarchy:` in
the config both hand the table back unchanged.

Tuned aggregates (the default, `hierarchy.family` unset): `aggregate_panel` gives the total's
and groups' summed actuals under the keys `level:name` ("total:TOTAL", "region:Europe");
the tuning job appends them to the markets' cube (`with_panel`), so one tune / select /
apply runs over markets and aggregates and the selections store keeps the aggregates'
selections beside the markets'; the weekly job refits those (`tuned_panel`). `split_panel`
hands the aggregates' base forecasts to `reconcile_table`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from fcast.config import RunConfig
from fcast.contract import LEVEL_COLUMN, MARKET_LEVEL, aggregate_rows, levels_in
from fcast.core.label import label
from fcast.data import season_length
from fcast.errors import DataError
from fcast.jobs.prepare import Prepared
from fcast.markets.hierarchy import TOTAL, TOTAL_LEVEL, Hierarchy, build_hierarchy
from fcast.markets.totals import (
    aggregate_series,
    carry_adjustments,
    choose_method,
    forecast_aggregates,
    history,
    reconciled_rows,
    series_keys,
)
from fcast.output.publish import fmt_count

log = logging.getLogger(__name__)


@dataclass
class Totals:
    """The run's hierarchy, its aggregate rows before business adjustments, and their base forecasts."""

    hierarchy: Hierarchy
    aggregates: pd.DataFrame
    #: the aggregates' own forecasts before reconciliation (market dim: series_keys)
    base: xr.Dataset


def check_hierarchy(cfg: RunConfig, prep: Prepared) -> None:
    """Build the hierarchy of every market of the run once before compute: missing group values fail early."""
    if cfg.hierarchy is not None:
        build_hierarchy(
            prep.markets, cfg.hierarchy.groups, prep.segments["market"].values.astype(str)
        )


#: the bool coord `with_panel` puts on the market dim: True for the aggregate series
AGGREGATE_COORD = "aggregate"


def forecast_markets(prep: Prepared) -> list[str]:
    """The markets the run's forecast table holds: all, but new ones only with a markets table (proxies)."""
    new = set(prep.of("new")) if prep.markets is None else set()
    return [str(mk) for mk in prep.segments["market"].values if str(mk) not in new]


def aggregate_panel(cfg: RunConfig, prep: Prepared) -> xr.DataArray | None:
    """The aggregates' summed actuals to tune like markets; None without `hierarchy:` or with a fixed `family`."""
    h = cfg.hierarchy
    if h is None or h.family is not None:
        return None
    markets = forecast_markets(prep)
    if not markets:
        return None
    hier = build_hierarchy(prep.markets, h.groups, sorted(markets))
    return aggregate_series(hier, prep.cube["y_clean"])


def with_panel(y: xr.DataArray, panel: xr.DataArray | None) -> xr.DataArray:
    """The markets' y followed by the aggregate series (when there are any), one cube to tune or refit."""
    if panel is None:
        return y
    out = xr.concat([y, panel.astype(y.dtype)], dim="market", coords="minimal", join="exact")
    flag = [False] * y.sizes["market"] + [True] * panel.sizes["market"]
    return out.assign_coords({AGGREGATE_COORD: ("market", flag)})


def split_panel(fc: xr.Dataset, panel: xr.DataArray | None) -> tuple[xr.Dataset, xr.Dataset | None]:
    """A forecast of markets and aggregates split into the markets' and the aggregates' (None without)."""
    fc = fc.drop_vars(AGGREGATE_COORD, errors="ignore")
    if panel is None:
        return fc, None
    keys = [str(k) for k in panel["market"].values]
    markets = [mk for mk in fc["market"].values.tolist() if str(mk) not in set(keys)]
    return fc.sel(market=markets), fc.sel(market=keys)


def tuned_panel(
    cfg: RunConfig, prep: Prepared, tuned: pd.DataFrame
) -> tuple[xr.DataArray | None, pd.DataFrame]:
    """Weekly: the aggregate series and their stored selections when every aggregate is tuned, else (None, empty)."""
    panel = aggregate_panel(cfg, prep)
    if panel is None:
        return None, tuned.iloc[0:0]
    keys = [str(k) for k in panel["market"].values]
    rows = tuned[tuned["market"].astype(str).isin(keys)]
    missing = sorted(set(keys) - set(rows["market"].astype(str)))
    if missing:
        log.warning(
            f"no tuned selection for aggregate(s) {missing[:10]}; the total and groups get the fixed "
            f"model {cfg.hierarchy.fixed_family} until the next full `fcast run tuning`"  # type: ignore[union-attr]
        )
        return None, tuned.iloc[0:0]
    return panel, rows


def reconcile_table(
    cfg: RunConfig,
    prep: Prepared,
    table: pd.DataFrame,
    client: Any = None,
    aggregates: xr.Dataset | None = None,
) -> tuple[pd.DataFrame, Totals | None]:
    """The market rows reconciled with the total and groups (`hierarchy:`), and those aggregate rows.

    `aggregates`: the aggregates' tuned base forecasts (market dim `series_keys`); without
    them, or when they are not this table's aggregates, the fixed model forecasts them.
    """
    h = cfg.hierarchy
    if h is None or table.empty:
        return table, None
    markets = sorted(table["market"].astype(str).unique())
    hier = build_hierarchy(prep.markets, h.groups, markets)
    m = season_length(cfg.data.freq)
    y = prep.cube["y_clean"]
    if aggregates is not None and [str(k) for k in aggregates["market"].values] == series_keys(
        hier
    ):
        agg = aggregates
    else:
        agg = forecast_aggregates(hier, y, h, cfg.horizon, cfg.levels, cfg.data.freq, m, client)
    hist = history(hier, y)
    method = h.method if h.method != "auto" else auto_method(cfg, hier, hist, y, client)
    rows, aggregates = reconciled_rows(hier, table, agg, hist, method, cfg.levels, m)
    return rows, Totals(hier, aggregates, agg)


def auto_method(
    cfg: RunConfig, hier: Hierarchy, hist: np.ndarray, y: xr.DataArray, client: Any = None
) -> str:
    """`hierarchy.method: auto`: the method that forecast the total and groups best on the models' CV splits."""
    h = cfg.hierarchy
    assert h is not None
    try:
        splits = label(y["time"], cfg.cv.splits, cfg.cv.step, cfg.cv_horizon, cfg.cv.holdout)
    except DataError as exc:
        log.warning(f"hierarchy.method auto: {exc}; using bottom_up")
        return "bottom_up"
    cutoffs = [int(c) for c in splits["train_stop"].values]
    dates = pd.DatetimeIndex(y["time"].values)
    m = season_length(cfg.data.freq)
    best, scores = choose_method(
        hier, hist, dates, cutoffs, cfg.cv_horizon, h, cfg.data.freq, m, client
    )
    ranked = ", ".join(f"{k} {v:.3f}" for k, v in sorted(scores.items(), key=lambda kv: kv[1]))
    log.info(
        f"hierarchy.method auto: {best} (mean MASE of total and groups on the CV splits: {ranked})"
    )
    return best


def with_aggregates(table: pd.DataFrame, totals: Totals | None) -> pd.DataFrame:
    """The (adjusted) market rows followed by the aggregate rows carried along with the adjustments."""
    if totals is None:
        return table
    agg = carry_adjustments(table, totals.aggregates, totals.hierarchy)
    out = pd.concat([table, agg[[c for c in table.columns if c in agg]]], ignore_index=True)
    return out[[c for c in out.columns if c != LEVEL_COLUMN] + [LEVEL_COLUMN]]


def base_cube(cubes: list[xr.Dataset], totals: Totals | None) -> xr.Dataset:
    """forecast.zarr: the base forecasts (before reconciliation and adjustments) of the markets and, with a hierarchy, the aggregates, with `level(market)`."""
    if totals is None:
        return xr.concat(cubes, dim="market", join="outer") if len(cubes) > 1 else cubes[0]
    hier = totals.hierarchy
    parts = [
        c.assign_coords({LEVEL_COLUMN: ("market", [MARKET_LEVEL] * c.sizes["market"])})
        for c in cubes
    ]
    agg = totals.base.assign_coords(
        {LEVEL_COLUMN: ("market", list(hier.levels[: hier.n_aggregates]))}
    )
    keep = [v for v in parts[0].data_vars if v in agg]
    out = xr.concat([*parts, agg[keep]], dim="market", join="outer")  # ragged: dates differ
    out.attrs["content"] = BASE_CONTENT
    return out


#: forecast.zarr's `content` attribute with a hierarchy: what it holds and what it does not
BASE_CONTENT = (
    "base forecasts: each series' own model forecast before reconciliation and business "
    "adjustments; forecast.parquet holds the reconciled, adjusted values"
)


def membership(totals: Totals) -> pd.DataFrame:
    """hierarchy.parquet: level, name, market, one row per market of each aggregate."""
    agg = totals.hierarchy.aggregates().explode("markets").rename(columns={"markets": "market"})
    return agg.reset_index(drop=True)


def totals_lines(table: pd.DataFrame) -> list[str]:
    """One console line per aggregate at the last forecast date: value and its widest interval."""
    agg = aggregate_rows(table)
    if agg.empty:
        return []
    last = agg[agg["date"] == agg["date"].max()]
    lv = max(levels_in(list(agg.columns)), default=None)
    out = []
    for r in last.to_dict("records"):
        band = f" ({lv}%: {_n(r[f'yhat_lo_{lv}'])} to {_n(r[f'yhat_hi_{lv}'])})" if lv else ""
        out.append(f"{_aggregate_name(r)} at {r['date']:%Y-%m-%d}: {_n(r['yhat'])}{band}")
    return out


def _n(x: float) -> str:
    """A console count: 240.4M, 12.35k, 950 (four significant digits)."""
    return fmt_count(float(x), digits=4)


def _aggregate_name(row: dict[str, Any]) -> str:
    """'total' for the grand total, else 'level name' (e.g. 'region EU')."""
    level, name = str(row[LEVEL_COLUMN]), str(row["market"])
    return level if level == TOTAL_LEVEL and name == TOTAL else f"{level} {name}"
