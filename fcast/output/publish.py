"""Publish: compare a run with the previous official vintages, write insights and the report, send.

`compare` puts the new forecast next to the previous vintages at fixed dates (quarter and
year ends within the horizon) per market and in total; `tracking` scores the previous
vintages against the actuals that arrived since; `insights` turns those numbers into the
text of `insights.md`; `publish_run` does it all: vintage, comparison, insights, report,
channels.
"""

from __future__ import annotations

import math
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from fcast.errors import FcastError
from fcast.infra.store import Store
from fcast.infra.vintage import (
    check_publishable,
    default_author,
    fs_path,
    previous_vintages,
    publish_vintage,
    read_vintage,
    vintage_manifest,
)

TOTAL = "TOTAL"
OPTIONAL_TABLES = ("qc", "qa", "cleaning", "proxies", "adjustments")


@dataclass
class RunArtifacts:
    """What publishing needs from a run: manifest, forecast, actuals and the optional stage tables."""

    run_id: str
    manifest: dict[str, Any]
    forecast: pd.DataFrame
    actuals: pd.DataFrame | None = None  # market, date, y: the history before the forecast
    qc: pd.DataFrame | None = None
    qa: pd.DataFrame | None = None
    cleaning: pd.DataFrame | None = None
    proxies: pd.DataFrame | None = None
    adjustments: pd.DataFrame | None = None

    @property
    def value(self) -> str:
        """Name of the forecast metric (e.g. users)."""
        return str(self.manifest.get("config", {}).get("data", {}).get("value", "users"))

    @property
    def unit(self) -> str:
        """What one period of the forecast is called: week, month, quarter, day or period."""
        return period_name(self.forecast["date"])


@dataclass
class PublishResult:
    """What a publish produced and where it went."""

    name: str
    run_id: str
    vintage: dict[str, Any]
    insights: str
    comparison: pd.DataFrame
    report: str | None
    previous: list[str]
    sent: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every channel delivered."""
        return not self.failed


# --- inputs ---------------------------------------------------------------------------


def actuals_frame(actuals: pd.DataFrame | xr.Dataset | xr.DataArray) -> pd.DataFrame:
    """Actuals as a long table market, date, y (from a cube or a table with a value column)."""
    if isinstance(actuals, xr.Dataset):
        actuals = actuals["y"]
    if isinstance(actuals, xr.DataArray):
        df = actuals.to_dataframe(name="y").reset_index().rename(columns={"time": "date"})
    else:
        value = (
            "y"
            if "y" in actuals
            else next(c for c in actuals.columns if c not in ("market", "date"))
        )
        df = actuals.rename(columns={value: "y"})
    df = df.dropna(subset=["y"])[["market", "date", "y"]].copy()
    df["date"] = pd.to_datetime(df["date"])
    return df.reset_index(drop=True)


def read_run_actuals(manifest: dict[str, Any]) -> pd.DataFrame | None:
    """The actuals a run used, read from its config (None when they cannot be read)."""
    from fcast.infra.warehouse import load_actuals_source

    data = manifest.get("config", {}).get("data", {})
    if not data.get("actuals"):
        return None
    try:
        cube = load_actuals_source(
            data["actuals"], value=data.get("value", "users"), freq=data.get("freq", "W-MON")
        )
    except (FcastError, OSError, ValueError) as exc:
        warnings.warn(
            f"actuals {data['actuals']} could not be read ({exc}); publishing without them",
            stacklevel=2,
        )
        return None
    return actuals_frame(cube)


def load_run(
    store: Store, run_id: str, actuals: pd.DataFrame | xr.Dataset | None = None
) -> RunArtifacts:
    """Read a run folder: manifest, forecast, actuals before the forecast, optional stage tables."""
    manifest = store.read_json("runs", run_id, "manifest.json")
    forecast = store.read_parquet("runs", run_id, "forecast.parquet")
    forecast["date"] = pd.to_datetime(forecast["date"])
    hist = actuals_frame(actuals) if actuals is not None else read_run_actuals(manifest)
    if hist is not None:
        keep = hist["market"].isin(set(forecast["market"])) & (
            hist["date"] < forecast["date"].min()
        )
        hist = hist[keep].reset_index(drop=True)
    tables = {
        name: store.read_parquet("runs", run_id, f"{name}.parquet")
        for name in OPTIONAL_TABLES
        if store.exists("runs", run_id, f"{name}.parquet")
    }
    return RunArtifacts(run_id, manifest, forecast, hist, **tables)


# --- comparison -----------------------------------------------------------------------


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
    rows = []
    for cp in checkpoints(new["date"]).itertuples(index=False):
        for market in [*markets, TOTAL]:
            base = {
                "market": market,
                "checkpoint": cp.checkpoint,
                "label": cp.label,
                "year_end": cp.year_end,
                "date": cp.date,
                "yhat": _at(fc, market, cp.checkpoint),
                "yoy_pct": _yoy(hist, fc, market, cp.checkpoint),
            }
            for name, prev in prevs.items():
                level = _at(prev, market, cp.checkpoint) if prev is not None else math.nan
                growth = _yoy(hist, prev, market, cp.checkpoint) if prev is not None else math.nan
                rows.append(
                    {
                        **base,
                        "vintage": name,
                        "prev_yhat": level,
                        "prev_yoy_pct": growth,
                        "diff": base["yhat"] - level,
                        "diff_pct": _pct(base["yhat"], level),
                    }
                )
    return pd.DataFrame(rows, columns=COMPARE_COLUMNS)


def key_checkpoint(comparison: pd.DataFrame, vintage: str | None = None) -> pd.Timestamp | None:
    """The latest checkpoint at which the TOTAL can be compared with `vintage` (or the latest one)."""
    rows = comparison[comparison["market"] == TOTAL]
    if vintage is not None:
        rows = rows[(rows["vintage"] == vintage) & rows["prev_yhat"].notna()]
    return None if rows.empty else pd.Timestamp(rows["checkpoint"].max())


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
    if {"yhat_lo_80", "yhat_hi_80"} <= set(grp.columns) and market != TOTAL:
        outside = int(((grp["y"] < grp["yhat_lo_80"]) | (grp["y"] > grp["yhat_hi_80"])).sum())
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


# --- text -----------------------------------------------------------------------------


def fmt_count(x: float) -> str:
    """A count in short form: 1.23B, 12.3M, 845k, 950."""
    if x is None or math.isnan(x):
        return "n/a"
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.0f}"


def fmt_delta(x: float) -> str:
    """A signed count in short form: +1.2M, -45.3k."""
    return ("+" if x >= 0 else "-") + fmt_count(abs(x))


def fmt_pct(x: float) -> str:
    """A signed percentage with one decimal: +2.4%."""
    return "n/a" if x is None or math.isnan(x) else f"{x:+.1f}%"


def _change(pct: float, delta: float, rounding: float = 0.05) -> str:
    """'up 2.4% (+1.2M)', 'down ...' or 'unchanged' (within rounding)."""
    if math.isnan(pct):
        return "not comparable"
    if abs(pct) < rounding:
        return "unchanged"
    return f"{'up' if pct > 0 else 'down'} {abs(pct):.1f}% ({fmt_delta(delta)})"


def _vintage_ref(name: str, meta: dict[str, dict[str, Any]]) -> str:
    """'demo-1 (data to 2026-09-21)' with what is known about a vintage."""
    data_end = meta.get(name, {}).get("data_end")
    return f"{name} (data to {data_end})" if data_end else name


def _headline(
    run: RunArtifacts, comparison: pd.DataFrame, names: list[str], meta: dict[str, dict[str, Any]]
) -> list[str]:
    """Title and the paragraph on the total."""
    total = comparison[comparison["market"] == TOTAL]
    key = key_checkpoint(comparison, names[0] if names else None) or key_checkpoint(comparison)
    if key is None:
        return [f"No quarter end falls within the forecast horizon of run {run.run_id}."]
    first = total[total["checkpoint"] == key].iloc[0]
    lines = [
        f"Total {run.value} at {first['label']} ({run.unit} of {first['date']:%Y-%m-%d}): **{fmt_count(first['yhat'])}**"
        + (
            f", {fmt_pct(first['yoy_pct'])} on a year earlier."
            if not math.isnan(first["yoy_pct"])
            else "."
        )
    ]
    if not names:
        lines.append(
            "This is the first official forecast, so there is no earlier one to compare it with."
        )
        return lines
    parts = []
    for name in names:
        row = total[(total["checkpoint"] == key) & (total["vintage"] == name)]
        if not row.empty and not math.isnan(row["diff_pct"].iloc[0]):
            parts.append(
                f"{_change(row['diff_pct'].iloc[0], row['diff'].iloc[0])} on {_vintage_ref(name, meta)}"
            )
    lines.append(
        ("Compared with the previous official forecasts: " + "; ".join(parts) + ".")
        if parts
        else f"The previous official forecasts do not reach {first['label']}."
    )
    return lines


def _checkpoint_lines(comparison: pd.DataFrame, names: list[str]) -> list[str]:
    """One bullet per checkpoint of the total: level, growth, change against the last vintage."""
    total = comparison[comparison["market"] == TOTAL]
    if names:
        total = total[total["vintage"] == names[0]]
    out = []
    for row in total.drop_duplicates("checkpoint").itertuples(index=False):
        text = f"- {row.label}: {fmt_count(row.yhat)}"
        if not math.isnan(row.yoy_pct):
            text += f", {fmt_pct(row.yoy_pct)} year on year"
            if names and not math.isnan(row.prev_yoy_pct):
                text += f" (was {fmt_pct(row.prev_yoy_pct)})"
        if names and not math.isnan(row.diff_pct):
            text += f"; {fmt_pct(row.diff_pct)} vs {names[0]}"
        out.append(text)
    return out


def _mover_lines(comparison: pd.DataFrame, name: str, top: int, min_change: float) -> list[str]:
    """Bullets on the markets that changed most against vintage `name`, and what the others did."""
    key = key_checkpoint(comparison, name)
    ranked = movers(comparison, name, key)
    if ranked.empty:
        return [f"No market can be compared with {name}."]
    big = ranked[ranked["diff_pct"].abs() >= min_change].head(top)
    if big.empty:
        lead = ranked.iloc[0]
        return [
            f"No market moved by {min_change:g}% or more at {lead['label']}; the largest change is "
            f"{lead['market']} ({fmt_pct(lead['diff_pct'])})."
        ]
    lines = [
        f"- **{r.market}** {'raised' if r.diff_pct > 0 else 'lowered'} {abs(r.diff_pct):.1f}% "
        f"({fmt_delta(r.diff)}, to {fmt_count(r.yhat)})"
        for r in big.itertuples(index=False)
    ]
    total = comparison[
        (comparison["market"] == TOTAL)
        & (comparison["vintage"] == name)
        & (comparison["checkpoint"] == key)
    ]
    total_diff = float(total["diff"].iloc[0]) if not total.empty else math.nan
    if not math.isnan(total_diff) and abs(total_diff) > 0:
        lines.append(
            f"Together they account for {fmt_delta(big['diff'].sum())} of the {fmt_delta(total_diff)} change in the total."
        )
    rest = ranked.iloc[len(big) :]
    if not rest.empty:
        others = "The other market" if len(rest) == 1 else f"The other {len(rest)} markets"
        largest = abs(rest["diff_pct"].iloc[0])
        verb = (
            ("is" if len(rest) == 1 else "are") + " unchanged"
            if largest < 0.05
            else f"moved by {largest:.1f}% or less"
        )
        lines.append(f"{others} {verb}.")
    return lines


def _coverage_lines(new: pd.DataFrame, previous: pd.DataFrame, name: str) -> list[str]:
    """Markets added to or dropped from the forecast since vintage `name`."""
    now, before = set(new["market"].astype(str)), set(previous["market"].astype(str))
    lines = []
    if now - before:
        lines.append(f"New in this forecast (not in {name}): {', '.join(sorted(now - before))}.")
    if before - now:
        lines.append(
            f"No longer in the forecast (were in {name}): {', '.join(sorted(before - now))}."
        )
    return lines


def _tracking_lines(
    track: pd.DataFrame,
    names: list[str],
    threshold: float,
    unit: str = "week",
    limit: int = 6,
    consistency: float = 0.75,
) -> list[str]:
    """Bullets on markets whose recent actuals ran above or below the previous forecasts (largest first)."""
    if track.empty or not names or track[track["vintage"] == names[0]].empty:
        return ["No actuals have arrived yet within the horizon of the previous official forecast."]
    mine = track[track["vintage"] == names[0]]
    total = mine[mine["market"] == TOTAL].iloc[0]
    lines = [
        f"Over the last {int(total['periods'])} {unit}s ({total['first']:%Y-%m-%d} to {total['last']:%Y-%m-%d}) "
        f"the total ran {abs(total['diff_pct']):.1f}% {'above' if total['diff_pct'] >= 0 else 'below'} "
        f"{names[0]}'s forecast."
    ]
    flagged = mine[(mine["market"] != TOTAL) & (mine["diff_pct"].abs() >= threshold)]
    flagged = flagged[
        np.maximum(flagged["above"], flagged["periods"] - flagged["above"])
        >= consistency * flagged["periods"]
    ]
    flagged = flagged.reindex(flagged["diff_pct"].abs().sort_values(ascending=False).index)
    lines += [
        _tracking_text(r, track, names, unit) for r in flagged.head(limit).itertuples(index=False)
    ]
    if len(flagged) > limit:
        rest = flagged.iloc[limit:]
        lines.append(
            f"- and {len(rest)} more beyond {threshold:g}%: "
            + ", ".join(
                f"{m} {fmt_pct(p)}" for m, p in zip(rest["market"], rest["diff_pct"], strict=True)
            )
        )
    if flagged.empty:
        lines.append(
            f"Every market stayed within {threshold:g}% of {names[0]}, or crossed it in both directions."
        )
    return lines


def _tracking_text(r: Any, track: pd.DataFrame, names: list[str], unit: str = "week") -> str:
    """One market running above or below the last vintage: by how much, how often, against its interval."""
    side = "above" if r.diff_pct > 0 else "below"
    n_side = r.above if r.diff_pct > 0 else r.periods - r.above
    text = f"- **{r.market}** ran {abs(r.diff_pct):.1f}% {side} {names[0]} ({side} in {n_side} of {r.periods} {unit}s"
    return (
        text
        + _interval_text(r.outside_80)
        + ")"
        + _second_opinion(track, names, r.market, r.diff_pct)
    )


def _interval_text(outside: float) -> str:
    """'; outside its 80% interval in 3' or '; within its 80% interval throughout'."""
    if pd.isna(outside):
        return ""
    return (
        f"; outside its 80% interval in {int(outside)}"
        if outside
        else "; within its 80% interval throughout"
    )


def _second_opinion(track: pd.DataFrame, names: list[str], market: str, pct: float) -> str:
    """'; also above demo-0 (+4.1%)' when the older vintage errs the same way."""
    if len(names) < 2:
        return ""
    row = track[(track["vintage"] == names[1]) & (track["market"] == market)]
    if row.empty or np.sign(row["diff_pct"].iloc[0]) != np.sign(pct):
        return ""
    return (
        f"; also {'above' if pct > 0 else 'below'} {names[1]} ({fmt_pct(row['diff_pct'].iloc[0])})"
    )


def _new_market_lines(run: RunArtifacts, limit: int = 10) -> list[str]:
    """Bullets on the outlook of new markets, with the proxies they are based on."""
    new = run.forecast[run.forecast["segment"] == "new"]
    lines = []
    for market, grp in new.groupby("market", sort=True):
        if len(lines) == limit:
            lines.append(f"- and {new['market'].nunique() - limit} more (see the report).")
            break
        grp = grp.sort_values("date")
        end = grp.iloc[-1]
        hist = (
            run.actuals[run.actuals["market"] == market]
            if run.actuals is not None
            else pd.DataFrame()
        )
        if hist.empty:
            text = f"- **{market}** (pre-launch): from {fmt_count(grp['yhat'].iloc[0])} in the {run.unit} of {grp['date'].iloc[0]:%Y-%m-%d} to {fmt_count(end['yhat'])} by {end['date']:%Y-%m-%d}"
        else:
            last = hist.sort_values("date").iloc[-1]
            growth = f" (x{end['yhat'] / last['y']:.1f})" if last["y"] > 0 else ""
            text = (
                f"- **{market}** ({len(hist)} {run.unit}s of history): {fmt_count(last['y'])} now, "
                f"{fmt_count(end['yhat'])} by {end['date']:%Y-%m-%d}{growth}"
            )
        lines.append(text + _proxy_text(run.proxies, str(market)) + ".")
    return lines


def _proxy_text(proxies: pd.DataFrame | None, market: str, limit: int = 5) -> str:
    """'; proxies SE 0.42, NO 0.31' for a new market, or nothing."""
    if proxies is None or proxies.empty or "proxy" not in proxies:
        return ""
    mine = proxies[proxies["market"] == market]
    if "weight" in mine:
        mine = mine.sort_values("weight", ascending=False)
        items = [f"{r.proxy} {r.weight:.2f}" for r in mine.head(limit).itertuples(index=False)]
    else:
        items = mine["proxy"].astype(str).head(limit).tolist()
    return f"; proxies {', '.join(items)}" if items else ""


def _qc_lines(run: RunArtifacts, override: dict[str, Any] | None) -> list[str]:
    """QC errors overridden, warnings, and input QA findings."""
    lines = []
    if override:
        lines.append(
            f"Published despite {len(override['errors'])} QC error(s), overridden by {override['author']}: "
            f'"{override["reason"]}".'
        )
    if run.qc is None:
        lines.append("No QC results for this run.")
    else:
        sev = run.qc["severity"].astype(str).str.lower()
        warns = run.qc[sev.isin(["warning", "warn"])]
        for r in warns.head(8).to_dict("records"):
            lines.append(
                f"- **{r.get('market', '?')}** {r.get('check', '?')}: {r.get('detail', '')}"
            )
        if len(warns) > 8:
            lines.append(f"- and {len(warns) - 8} more warnings (see qc.parquet).")
        if warns.empty and not override:
            lines.append(f"QC passed: {len(run.qc)} check result(s), no warnings or errors.")
    if run.qa is not None and len(run.qa):
        markets = run.qa["market"].astype(str).nunique() if "market" in run.qa else 0
        lines.append(
            f"Input QA flagged {len(run.qa)} finding(s) in {markets} market(s) (see qa.parquet)."
        )
    return lines


def _adjustment_lines(run: RunArtifacts) -> list[str]:
    """Business adjustments whose period overlaps the forecast, with their effect when known."""
    adj = run.adjustments
    if adj is None or adj.empty:
        return ["No business adjustments in effect."]
    lo, hi = run.forecast["date"].min(), run.forecast["date"].max()
    active = adj[(pd.to_datetime(adj["end"]) >= lo) & (pd.to_datetime(adj["start"]) <= hi)]
    if active.empty:
        return ["No business adjustments in effect within the horizon."]
    return [_adjustment_text(r, run.forecast, run.unit) for r in active.to_dict("records")]


def adjustment_amount(kind: Any, value: Any) -> str:
    """'+10%' for a percentage adjustment, else 'kind value' (e.g. 'level 5000')."""
    if str(kind) in ("pct", "percent", "multiply_pct") and isinstance(value, int | float):
        return f"{value:+g}%"
    return f"{kind} {value}"


def _adjustment_text(adj: dict[str, Any], forecast: pd.DataFrame, unit: str = "week") -> str:
    """One adjustment: market, kind and value, period, who and why, average effect."""
    amount = adjustment_amount(adj.get("kind"), adj.get("value"))
    text = f"- **{adj.get('market')}** {amount} from {pd.Timestamp(adj['start']):%Y-%m-%d} to {pd.Timestamp(adj['end']):%Y-%m-%d}"
    if adj.get("reason"):
        text += f": {adj['reason']}"
    if adj.get("author"):
        text += f" ({adj['author']})"
    if {"yhat_base", "adjustment_id"} <= set(forecast.columns):
        hit = forecast[forecast["adjustment_id"].astype(str) == str(adj.get("adjustment_id"))]
        if len(hit):
            text += f"; {fmt_delta(float((hit['yhat'] - hit['yhat_base']).mean()))} per {unit} on average over {len(hit)} {unit}s"
    return text + "."


def insights(
    run: RunArtifacts,
    previous: dict[str, pd.DataFrame],
    comparison: pd.DataFrame | None = None,
    *,
    name: str | None = None,
    meta: dict[str, dict[str, Any]] | None = None,
    override: dict[str, Any] | None = None,
    top: int = 3,
    recent: int = 8,
    min_change: float = 1.0,
    tracking_threshold: float = 3.0,
) -> str:
    """The written insights (markdown) of a run against its previous official vintages (newest first)."""
    comparison = (
        comparison if comparison is not None else compare(run.forecast, previous, run.actuals)
    )
    names, meta = list(previous), meta or {}
    data_end = (
        run.manifest.get("data_end") or f"{run.forecast['date'].min():%Y-%m-%d} (forecast start)"
    )
    out = [
        f"# Forecast {name or run.run_id}",
        "",
        f"Run {run.run_id}, actuals to {data_end}, {run.forecast['market'].nunique()} markets.",
        "",
    ]
    out += _headline(run, comparison, names, meta) + [""] + _checkpoint_lines(comparison, names)
    if names:
        key = key_checkpoint(comparison, names[0])
        label = (
            checkpoints(run.forecast["date"]).set_index("checkpoint").loc[key, "label"]
            if key is not None
            else ""
        )
        out += ["", f"## Biggest changes vs {names[0]} ({label})", ""]
        out += _mover_lines(comparison, names[0], top, min_change) + _coverage_lines(
            run.forecast, previous[names[0]], names[0]
        )
        out += ["", f"## Actuals against previous forecasts (last {recent} {run.unit}s)", ""]
        track = tracking(run.actuals, previous, recent)
        out += _tracking_lines(track, names, tracking_threshold, run.unit)
    new_lines = _new_market_lines(run)
    if new_lines:
        out += ["", "## New markets", ""] + new_lines
    out += ["", "## Quality control", ""] + _qc_lines(run, override)
    out += ["", "## Adjustments in effect", ""] + _adjustment_lines(run)
    return _blocks(out)


def _blocks(lines: list[str]) -> str:
    """Markdown with a blank line around every paragraph, bullets kept together as one list."""
    out: list[str] = []
    for line in (x for x in lines if x.strip()):
        bullet = line.startswith("- ")
        if out and not (bullet and out[-1].startswith("- ")):
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"


# --- the whole publish ----------------------------------------------------------------


def _write_report(
    store: Store, run: RunArtifacts, previous: dict[str, pd.DataFrame], **kwargs: Any
) -> str:
    """Build the report locally and copy it into the run folder; the URL of index.html."""
    from fcast.output.report import build_report

    if store.exists("runs", run.run_id, "report"):
        store.fs.rm(fs_path(store, "runs", run.run_id, "report"), recursive=True)
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(build_report(run, previous, tmp, **kwargs))
        for path in sorted(p for p in index.parent.rglob("*") if p.is_file()):
            store.write_bytes(
                path.read_bytes(),
                "runs",
                run.run_id,
                "report",
                *path.relative_to(index.parent).parts,
            )
    return store.run_url(run.run_id, "report", "index.html")


def publish_run(
    store: Store | str,
    run_id: str,
    name: str,
    *,
    channels: tuple[str, ...] | list[str] = ("store",),
    webhook_url: str | None = None,
    override_reason: str | None = None,
    author: str | None = None,
    actuals: pd.DataFrame | xr.Dataset | None = None,
    channel_options: dict[str, dict[str, Any]] | None = None,
    report: bool = True,
    pngs: bool = True,
) -> PublishResult:
    """Publish a run as official vintage `name`: comparison, insights.md, report/, vintage, channels."""
    from fcast.output.channels import Message, resolve, send

    store = store if isinstance(store, Store) else Store(store)
    author = author or default_author()
    override = check_publishable(store, run_id, name, override_reason, author)
    names, options = resolve(
        channels, webhook_url, channel_options, default_dest=store.path("published")
    )
    run = load_run(store, run_id, actuals)
    prev_names = previous_vintages(store, 2)
    previous = {n: read_vintage(store, n) for n in prev_names}
    meta = {n: vintage_manifest(store, n) for n in prev_names}
    comparison = compare(run.forecast, previous, run.actuals)
    text = insights(run, previous, comparison, name=name, meta=meta, override=override)
    store.write_parquet(comparison, "runs", run_id, "comparison.parquet")
    store.write_text(text, "runs", run_id, "insights.md")
    url = (
        _write_report(
            store,
            run,
            previous,
            comparison=comparison,
            insights_text=text,
            name=name,
            meta=meta,
            pngs=pngs,
        )
        if report
        else None
    )
    vintage = publish_vintage(
        store,
        run_id,
        name,
        override_reason=override_reason,
        author=author,
        extra={"compared_with": prev_names},
    )
    files = {
        rel: store.path("official", name, *rel.split("/"))
        for rel in vintage["files"]
        if rel == "insights.md" or rel.startswith("report/")
    }
    message = Message(text=text, run_id=run_id, vintage=name, files=files)
    sent, failed = send(names, message, options)
    return PublishResult(
        name,
        run_id,
        vintage,
        text,
        comparison,
        url and store.path("official", name, "report", "index.html"),
        prev_names,
        sent,
        failed,
    )
