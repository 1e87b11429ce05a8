"""What publishing compares: the new forecast against previous vintages, and actuals against them.

`compare` puts the new forecast next to the previous vintages at fixed dates (quarter and
year ends within the horizon) per market and in total; `movers` ranks the markets by their
change; `tracking` scores the previous vintages against the actuals that arrived since. All
are plain functions over tables.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fcast.contract import bound_columns

TOTAL = "TOTAL"
#: the interval whose misses tracking counts
TRACKED_LEVEL = 80


def period_step(dates: pd.DatetimeIndex) -> pd.DateOffset | pd.Timedelta:
    """The length of one period of a regular date index."""
    freq = pd.infer_freq(dates) if len(dates) >= 3 else None
    if freq:
        return pd.tseries.frequencies.to_offset(freq)
    return (
        pd.Timedelta(np.median(np.diff(dates.values))) if len(dates) > 1 else pd.Timedelta(days=7)
    )


def period_name(dates: pd.Series | pd.DatetimeIndex) -> str:
    """'week', 'month', 'quarter' or 'day' for a regular date index, else 'period'."""
    index = pd.DatetimeIndex(sorted(pd.to_datetime(pd.Series(dates)).unique()))
    days = (
        float(np.median(np.diff(index.values)) / np.timedelta64(1, "D")) if len(index) > 1 else 0.0
    )
    for name, lo, hi in (("day", 1, 1), ("week", 7, 7), ("month", 28, 31), ("quarter", 89, 92)):
        if lo <= days <= hi:
            return name
    return "period"


def checkpoint_label(when: pd.Timestamp) -> str:
    """'end of 2026' for a year end, 'end of Q1 2027' for another quarter end."""
    return f"end of {when.year}" if when.month == 12 else f"end of Q{when.quarter} {when.year}"


def checkpoints(dates: pd.Series | pd.DatetimeIndex) -> pd.DataFrame:
    """Quarter ends covered by a forecast's periods, with the period holding each: checkpoint, label, year_end, date."""
    index = pd.DatetimeIndex(sorted(pd.to_datetime(pd.Series(dates)).unique()))
    if index.empty:
        return pd.DataFrame(columns=["checkpoint", "label", "year_end", "date"])
    last_day = index[-1] + period_step(index) - pd.Timedelta(days=1)
    ends = pd.date_range(index[0].normalize(), last_day, freq="QE")
    rows = [
        {
            "checkpoint": cp,
            "label": checkpoint_label(cp),
            "year_end": cp.month == 12,
            "date": index[index <= cp][-1],
        }
        for cp in ends
    ]
    return pd.DataFrame(rows, columns=["checkpoint", "label", "year_end", "date"])


def _wide(table: pd.DataFrame, value: str, markets: list[str] | None = None) -> pd.DataFrame:
    """date x market values plus a TOTAL column (summed over `markets`, default all)."""
    if table is None or table.empty:
        return pd.DataFrame(index=pd.DatetimeIndex([], name="date"))
    wide = table.pivot(index="date", columns="market", values=value)
    wide.index = pd.DatetimeIndex(wide.index)
    cols = [m for m in (markets or wide.columns) if m in wide.columns]
    wide[TOTAL] = wide[cols].sum(axis=1, min_count=1)
    return wide.sort_index()


def _at(wide: pd.DataFrame, column: str, when: pd.Timestamp) -> float:
    """The value of the period that holds `when` (NaN when not covered)."""
    if column not in wide or wide.empty:
        return math.nan
    idx = wide.index
    i = idx.searchsorted(when, side="right") - 1
    if i < 0 or when >= idx[i] + period_step(idx):
        return math.nan
    return float(wide[column].iloc[i])


def _yoy(history: pd.DataFrame, fc: pd.DataFrame, column: str, when: pd.Timestamp) -> float:
    """Growth in percent from a year before `when` (actuals first, else the forecast) to `when`."""
    now = _at(fc, column, when)
    then = when - pd.DateOffset(years=1)
    base = _at(history, column, then)
    base = base if not math.isnan(base) else _at(fc, column, then)
    return 100.0 * (now / base - 1.0) if base and not math.isnan(base) else math.nan


def _pct(a: float, b: float) -> float:
    """100 * (a / b - 1), NaN when undefined."""
    return 100.0 * (a / b - 1.0) if b and not (math.isnan(a) or math.isnan(b)) else math.nan


COMPARE_COLUMNS = [
    "market",
    "checkpoint",
    "label",
    "year_end",
    "date",
    "yhat",
    "yoy_pct",
    "vintage",
    "prev_yhat",
    "prev_yoy_pct",
    "diff",
    "diff_pct",
]


def compare(
    new: pd.DataFrame, previous: dict[str, pd.DataFrame], actuals: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The new forecast against previous vintages per market and TOTAL at quarter and year ends.

    One row per market (plus TOTAL), checkpoint and previous vintage (vintage None when there
    is none): level `yhat`, growth on a year earlier `yoy_pct` (actuals where known), the
    vintage's level and growth, and the difference `diff` (new - previous) and `diff_pct`.
    """
    markets = sorted(new["market"].astype(str).unique())
    fc = _wide(new.assign(date=pd.to_datetime(new["date"])), "yhat")
    hist = _wide(actuals, "y", markets) if actuals is not None else _wide(None, "y")
    prevs = {
        k: _wide(v.assign(date=pd.to_datetime(v["date"])), "yhat") for k, v in previous.items()
    } or {None: None}
    rows = [
        {**_level_row(cp, market, fc, hist), **_against(cp, market, fc, hist, name, prev)}
        for cp in checkpoints(new["date"]).itertuples(index=False)
        for market in [*markets, TOTAL]
        for name, prev in prevs.items()
    ]
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def _level_row(cp: Any, market: str, fc: pd.DataFrame, hist: pd.DataFrame) -> dict[str, Any]:
    """The new forecast of one market at one checkpoint: level and growth on a year earlier."""
    return {
        "market": market,
        "checkpoint": cp.checkpoint,
        "label": cp.label,
        "year_end": cp.year_end,
        "date": cp.date,
        "yhat": _at(fc, market, cp.checkpoint),
        "yoy_pct": _yoy(hist, fc, market, cp.checkpoint),
    }


def _against(
    cp: Any,
    market: str,
    fc: pd.DataFrame,
    hist: pd.DataFrame,
    name: str | None,
    prev: pd.DataFrame | None,
) -> dict[str, Any]:
    """One previous vintage at a checkpoint: its level and growth, and the new forecast's change."""
    now = _at(fc, market, cp.checkpoint)
    level = _at(prev, market, cp.checkpoint) if prev is not None else math.nan
    growth = _yoy(hist, prev, market, cp.checkpoint) if prev is not None else math.nan
    return {
        "vintage": name,
        "prev_yhat": level,
        "prev_yoy_pct": growth,
        "diff": now - level,
        "diff_pct": _pct(now, level),
    }


def key_checkpoint(comparison: pd.DataFrame, vintage: str | None = None) -> pd.Timestamp | None:
    """The latest checkpoint at which the TOTAL can be compared with `vintage` (or the latest one)."""
    rows = comparison[comparison["market"] == TOTAL]
    if vintage is not None:
        rows = rows[(rows["vintage"] == vintage) & rows["prev_yhat"].notna()]
    return None if rows.empty else pd.Timestamp(rows["checkpoint"].max())


def headline_checkpoint(
    comparison: pd.DataFrame, dates: pd.Series, periods: int | None = None
) -> pd.Timestamp | None:
    """The headline's checkpoint: the last quarter end within the first `periods` forecast periods.

    Fixed by the run (config `publish.headline`, default the whole horizon), never by how far
    a previous vintage reached, so republishing the same data gives the same headline.
    """
    ahead = pd.DatetimeIndex(sorted(pd.to_datetime(pd.Series(dates)).unique()))[:periods]
    covered = set(comparison.loc[comparison["market"] == TOTAL, "checkpoint"])
    ends = [cp for cp in checkpoints(ahead)["checkpoint"] if cp in covered]
    return pd.Timestamp(max(ends)) if ends else None


def movers(
    comparison: pd.DataFrame, vintage: str, checkpoint: pd.Timestamp | None = None
) -> pd.DataFrame:
    """Markets ranked by the size of their change (|diff_pct|) against `vintage` at a checkpoint."""
    checkpoint = checkpoint if checkpoint is not None else key_checkpoint(comparison, vintage)
    rows = comparison[
        (comparison["vintage"] == vintage)
        & (comparison["checkpoint"] == checkpoint)
        & (comparison["market"] != TOTAL)
    ].dropna(subset=["diff_pct"])
    order = rows["diff_pct"].abs().sort_values(ascending=False, kind="stable").index
    return rows.loc[order].reset_index(drop=True)


TRACKING_COLUMNS = [
    "vintage",
    "market",
    "periods",
    "first",
    "last",
    "actual",
    "forecast",
    "diff_pct",
    "above",
    "outside_80",
]


def tracking(
    actuals: pd.DataFrame | None, vintages: dict[str, pd.DataFrame], periods: int = 8
) -> pd.DataFrame:
    """How the actuals of the last `periods` compare with each vintage's forecast, per market and TOTAL."""
    if actuals is None or actuals.empty:
        return pd.DataFrame(columns=TRACKING_COLUMNS)
    rows = []
    for name, fc in vintages.items():
        both = actuals.merge(fc.assign(date=pd.to_datetime(fc["date"])), on=["market", "date"])
        if both.empty:
            continue
        recent = both[both["date"].isin(sorted(both["date"].unique())[-periods:])]
        total = recent.groupby("date", as_index=False)[["y", "yhat"]].sum().assign(market=TOTAL)
        for market, grp in pd.concat([recent, total], ignore_index=True).groupby(
            "market", sort=True
        ):
            rows.append(_tracking_row(name, str(market), grp))
    return pd.DataFrame(rows, columns=TRACKING_COLUMNS)


def _tracking_row(vintage: str, market: str, grp: pd.DataFrame) -> dict[str, Any]:
    """One tracking record: sums of actuals and forecast over the window, periods above and outside 80%."""
    outside = np.nan
    lo, hi = bound_columns([TRACKED_LEVEL])
    if {lo, hi} <= set(grp.columns) and market != TOTAL:
        outside = int(((grp["y"] < grp[lo]) | (grp["y"] > grp[hi])).sum())
    actual, forecast = float(grp["y"].sum()), float(grp["yhat"].sum())
    return {
        "vintage": vintage,
        "market": market,
        "periods": len(grp),
        "first": grp["date"].min(),
        "last": grp["date"].max(),
        "actual": actual,
        "forecast": forecast,
        "diff_pct": _pct(actual, forecast),
        "above": int((grp["y"] > grp["yhat"]).sum()),
        "outside_80": outside,
    }
