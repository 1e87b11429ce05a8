"""What each figure of the report shows, as plain tables: one `MarketView` per market and one for the total.

A view holds the actuals shown (the last `HISTORY` periods), the new forecast with its
intervals, the previous official forecasts, the shaded spans (adjustment periods, cleaned
disruptions) and, for new markets, the proxies. The interactive page and the PNGs draw the
same views with the same colours.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from fcast.contract import bound_columns, levels_in
from fcast.names import one_line
from fcast.output.publish import TOTAL, RunArtifacts, adjustment_amount

FORECAST = "#1f77b4"
ACTUAL = "#222222"
BASE = "#8c8c8c"
PREVIOUS = ("#ff7f0e", "#2ca02c")
ADJUSTMENT = "#f2c14e"
CLEANED = "#d62728"
UP, DOWN = "#2ca02c", "#d62728"
HISTORY = 156  # periods of actuals shown before the forecast


@dataclass
class MarketView:
    """Everything one market's figure shows, as plain tables."""

    market: str
    actuals: pd.DataFrame  # date, y
    forecast: pd.DataFrame  # date, yhat, yhat_lo_*, yhat_hi_*, [yhat_base]
    previous: dict[str, pd.DataFrame]  # vintage -> date, yhat
    adjustments: pd.DataFrame = field(default_factory=lambda: _spans([]))  # start, end, label
    cleaned: pd.DataFrame = field(default_factory=lambda: _spans([]))
    proxies: list[tuple[str, float]] = field(default_factory=list)
    segment: str = "mature"
    family: str = ""


def _spans(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """A table of shaded periods: start, end, label."""
    return pd.DataFrame(rows, columns=["start", "end", "label"])


_NO_SPANS = _spans([])


def _mine(table: pd.DataFrame | None, market: str) -> pd.DataFrame:
    """Rows of a stage table for one market (rows for '*' or 'ALL' apply to every market)."""
    if table is None or table.empty or "market" not in table:
        return pd.DataFrame()
    return table[table["market"].astype(str).isin([market, "*", "ALL"]) | table["market"].isna()]


def _adjustment_spans(table: pd.DataFrame | None, market: str) -> pd.DataFrame:
    """Adjustment periods of a market with a readable label."""
    rows = [
        {
            "start": pd.Timestamp(r["start"]),
            "end": pd.Timestamp(r["end"]),
            "label": f"{adjustment_amount(r.get('kind'), r.get('value'))}: {one_line(r.get('reason', ''))} ({one_line(r.get('author', ''))})",
        }
        for r in _mine(table, market).to_dict("records")
    ]
    return _spans(rows)


def _cleaned_spans(table: pd.DataFrame | None, market: str) -> pd.DataFrame:
    """Cleaned (removed) disruptions of a market with a readable label."""
    mine = _mine(table, market)
    if "applied" in mine:
        mine = mine[mine["applied"].fillna(False).astype(bool)]
    rows = []
    for r in mine.to_dict("records"):
        change = f" {r['change_pct']:+.0f}%" if pd.notna(r.get("change_pct")) else ""
        rows.append(
            {
                "start": pd.Timestamp(r["start"]),
                "end": pd.Timestamp(r["end"]),
                "label": f"{r.get('kind', 'disruption')} ({r.get('source', '')}){change}",
            }
        )
    return _spans(rows)


def _visible(spans: pd.DataFrame, since: pd.Timestamp) -> pd.DataFrame:
    """Spans that end within the shown window."""
    return spans[spans["end"] >= since].reset_index(drop=True)


def _proxies(table: pd.DataFrame | None, market: str) -> list[tuple[str, float]]:
    """(proxy, weight) pairs of a new market, heaviest first."""
    if table is None or table.empty or "proxy" not in table:
        return []
    mine = table[table["market"].astype(str) == market]
    weights = (
        mine["weight"] if "weight" in mine else pd.Series(1.0 / max(len(mine), 1), index=mine.index)
    )
    pairs = sorted(
        zip(mine["proxy"].astype(str), weights.astype(float), strict=True), key=lambda p: -p[1]
    )
    return pairs


def _view(
    market: str,
    fc: pd.DataFrame,
    hist: pd.DataFrame,
    prev: dict[str, pd.DataFrame],
    run: RunArtifacts,
    history: int,
    marked: bool = True,
) -> MarketView:
    """A market's view from its own rows (sorted by date; actuals date, y; previous date, yhat); spans and proxies only if `marked`."""
    shown = hist.tail(history).reset_index(drop=True)
    adjustments, cleaned, proxies = _NO_SPANS, _NO_SPANS, []
    if marked:
        since = min(pd.concat([shown["date"], fc["date"]]), default=pd.Timestamp.min)
        adjustments = _visible(_adjustment_spans(run.adjustments, market), since)
        cleaned = _visible(_cleaned_spans(run.cleaning, market), since)
        proxies = _proxies(run.proxies, market)
    return MarketView(
        market,
        shown,
        fc,
        {k: v.reset_index(drop=True) for k, v in prev.items() if len(v)},
        adjustments,
        cleaned,
        proxies,
        str(fc["segment"].iloc[0]) if len(fc) else "",
        str(fc["family"].iloc[0]) if len(fc) else "",
    )


def market_view(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], market: str, history: int = HISTORY
) -> MarketView:
    """The figure data of one market."""
    fc = run.forecast[run.forecast["market"] == market].sort_values("date").reset_index(drop=True)
    hist = (
        run.actuals[run.actuals["market"] == market]
        if run.actuals is not None
        else pd.DataFrame(columns=["date", "y"])
    )
    prev = {
        k: v[v["market"] == market]
        .assign(date=lambda d: pd.to_datetime(d["date"]))
        .sort_values("date")
        for k, v in previous.items()
    }
    prev = {k: v[["date", "yhat"]] for k, v in prev.items()}
    return _view(market, fc, hist.sort_values("date")[["date", "y"]], prev, run, history)


def _split(table: pd.DataFrame, columns: list[str]) -> dict[str, pd.DataFrame]:
    """`columns` of a long table per market (by its text), sorted by date: one sort, then slices."""
    keys = table["market"].astype(str).to_numpy()
    order = np.lexsort((pd.to_datetime(table["date"]).to_numpy(), keys))
    keys = keys[order]
    kept = table.iloc[order][columns].assign(date=lambda d: pd.to_datetime(d["date"]))
    kept = kept.reset_index(drop=True)
    cuts = [0, *(np.flatnonzero(keys[1:] != keys[:-1]) + 1), len(keys)]
    return {keys[a]: kept.iloc[a:b] for a, b in zip(cuts[:-1], cuts[1:], strict=True) if b > a}


def _marked(run: RunArtifacts) -> set[str] | None:
    """Markets named by the adjustment, cleaning or proxy tables; None when a row applies to every market."""
    names: set[str] = set()
    for table in (run.adjustments, run.cleaning, run.proxies):
        if table is None or table.empty or "market" not in table:
            continue
        markets = table["market"]
        if markets.isna().any() or markets.astype(str).isin(["*", "ALL"]).any():
            return None
        names |= set(markets.astype(str))
    return names


def market_views(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], history: int = HISTORY
) -> Iterator[MarketView]:
    """`market_view` of every market in `market_order`, splitting each long table once (flat cost per market)."""
    forecast = _split(run.forecast, list(run.forecast.columns))
    actuals = _split(run.actuals, ["date", "y"]) if run.actuals is not None else {}
    no_actuals = pd.DataFrame({"date": pd.to_datetime([]), "y": []})
    prev = {k: _split(v, ["date", "yhat"]) for k, v in previous.items()}
    marked = _marked(run)
    for market in market_order(run):
        theirs = {k: p[market] for k, p in prev.items() if market in p}
        yield _view(
            market,
            forecast[market].reset_index(drop=True),  # a slice: its own index from 0
            actuals.get(market, no_actuals),
            theirs,
            run,
            history,
            marked is None or market in marked,
        )


def _aggregate_forecast(run: RunArtifacts, level: str, name: str) -> pd.DataFrame | None:
    """The reconciled rows of one aggregate (with its intervals), if the run has them."""
    if run.totals is None or run.totals.empty:
        return None
    rows = run.totals[(run.totals["level"] == level) & (run.totals["market"] == name)]
    return rows.assign(date=pd.to_datetime(rows["date"])).sort_values("date").reset_index(drop=True)


def total_view(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], history: int = HISTORY
) -> MarketView:
    """The figure data of the total: the reconciled total with its intervals, else the markets' sum (no intervals)."""
    return _sum_view(run, previous, TOTAL, set(run.forecast["market"]), "total", history)


def group_views(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], history: int = HISTORY
) -> list[tuple[str, MarketView]]:
    """(level, view) of every group of the run's hierarchy (docs/totals.md), largest first per level."""
    if run.totals is None or run.totals.empty or run.hierarchy is None:
        return []
    groups = run.totals[run.totals["level"] != "total"]
    last = groups[groups["date"] == groups["date"].max()].sort_values(
        ["level", "yhat"], ascending=[True, False]
    )
    out = []
    for level, name in zip(last["level"], last["market"], strict=True):
        h = run.hierarchy
        members = set(h.loc[(h["level"] == level) & (h["name"] == name), "market"].astype(str))
        out.append((str(level), _sum_view(run, previous, str(name), members, str(level), history)))
    return out


def _sum_view(
    run: RunArtifacts,
    previous: dict[str, pd.DataFrame],
    name: str,
    markets: set[str],
    level: str,
    history: int,
) -> MarketView:
    """An aggregate's figure: its reconciled forecast (or the sum of its markets) over their summed actuals."""
    own = _aggregate_forecast(run, level, name)
    mine = run.forecast[run.forecast["market"].isin(markets)]
    fc = own if own is not None and len(own) else mine.groupby("date", as_index=False)["yhat"].sum()
    hist = pd.DataFrame(columns=["date", "y"])
    if run.actuals is not None:
        hist = (
            run.actuals[run.actuals["market"].isin(markets)]
            .groupby("date", as_index=False)["y"]
            .sum()
            .tail(history)
        )
    prev = {
        k: (v if name == TOTAL else v[v["market"].isin(markets)])  # the total: all its markets
        .assign(date=lambda d: pd.to_datetime(d["date"]))
        .groupby("date", as_index=False)["yhat"]
        .sum()
        for k, v in previous.items()
    }
    family = str(fc["family"].iloc[0]) if "family" in fc and len(fc) else ""
    return MarketView(name, hist.reset_index(drop=True), fc, prev, segment=level, family=family)


def levels_widest_first(fc: pd.DataFrame) -> list[int]:
    """Interval levels present in a forecast table, widest first (drawn in that order)."""
    return sorted(levels_in(list(fc.columns)), reverse=True)


def interval_alpha(level: int) -> float:
    """Opacity of an interval band: the wide ones lighter."""
    return 0.12 if level >= 90 else 0.22


def extent(view: MarketView) -> tuple[float, float]:
    """Lower and upper edges for shaded spans: a little beyond everything drawn."""
    series = [view.actuals["y"], view.forecast["yhat"]]
    series += [view.forecast[c] for c in bound_columns(levels_widest_first(view.forecast))]
    series += [p["yhat"] for p in view.previous.values()]
    values = pd.concat([x for x in series if len(x)] or [pd.Series([0.0, 1.0])]).dropna()
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    pad = 0.05 * (hi - lo) or 1.0
    return max(lo - pad, 0.0) if lo >= 0 else lo - pad, hi + pad


def caption(view: MarketView) -> str:
    """One line under a market's figure: model, segment, proxies, spans shown."""
    parts = [
        f"model: {view.family}" if view.family else "",
        f"segment: {view.segment}" if view.segment else "",
    ]
    if view.proxies:
        parts.append("proxies: " + ", ".join(f"{p} ({w:.2f})" for p, w in view.proxies))
    if len(view.adjustments):
        parts.append(f"{len(view.adjustments)} adjustment period(s) shaded yellow")
    if len(view.cleaned):
        parts.append(f"{len(view.cleaned)} cleaned disruption(s) shaded red")
    return "; ".join(p for p in parts if p)


def market_order(run: RunArtifacts) -> list[str]:
    """Markets in the order the report shows them (alphabetical)."""
    return sorted(run.forecast["market"].astype(str).unique())
