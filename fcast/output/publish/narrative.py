"""The insights: the text of `insights.md`, written from a run and the comparison with its previous vintages.

`insights` writes, in markdown: the total at the key checkpoint and its change against each
previous vintage, every checkpoint of the total, the markets that moved most, the markets
whose recent actuals ran above or below the last vintage, the outlook of new markets, QC and
the business adjustments in effect. It is a plain function of tables (see `RunArtifacts`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from fcast.contract import ADJUSTED_COLUMNS
from fcast.names import quote_text as q
from fcast.output.publish.artifacts import RunArtifacts
from fcast.output.publish.comparison import (
    TOTAL,
    checkpoints,
    compare,
    headline_checkpoint,
    key_checkpoint,
    movers,
    tracking,
)
from fcast.output.publish.formatting import (
    adjustment_amount,
    change,
    fmt_count,
    fmt_delta,
    fmt_pct,
    vintage_ref,
)
from fcast.output.publish.totals import totals_section


def _headline(
    run: RunArtifacts, comparison: pd.DataFrame, names: list[str], meta: dict[str, dict[str, Any]]
) -> list[str]:
    """Title and the paragraph on the total."""
    total = comparison[comparison["market"] == TOTAL]
    key = headline_checkpoint(comparison, run.forecast["date"], run.headline_periods)
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
                f"{change(row['diff_pct'].iloc[0], row['diff'].iloc[0])} on {vintage_ref(name, meta)}"
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
            f"{q(lead['market'])} ({fmt_pct(lead['diff_pct'])})."
        ]
    lines = [
        f"- **{q(r.market)}** {'raised' if r.diff_pct > 0 else 'lowered'} {abs(r.diff_pct):.1f}% "
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
                f"{q(m)} {fmt_pct(p)}"
                for m, p in zip(rest["market"], rest["diff_pct"], strict=True)
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
    text = f"- **{q(r.market)}** ran {abs(r.diff_pct):.1f}% {side} {names[0]} ({side} in {n_side} of {r.periods} {unit}s"
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
            live = grp[grp["yhat"] > 0]  # before its launch a pre-launch market is forecast at 0
            start = live.iloc[0] if len(live) else grp.iloc[0]
            text = f"- **{q(market)}** (pre-launch): from {fmt_count(start['yhat'])} in the {run.unit} of {start['date']:%Y-%m-%d} (launch) to {fmt_count(end['yhat'])} by {end['date']:%Y-%m-%d}"
        else:
            last = hist.sort_values("date").iloc[-1]
            growth = f" (x{end['yhat'] / last['y']:.1f})" if last["y"] > 0 else ""
            text = (
                f"- **{q(market)}** ({len(hist)} {run.unit}s of history): {fmt_count(last['y'])} now, "
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
        items = [f"{q(r.proxy)} {r.weight:.2f}" for r in mine.head(limit).itertuples(index=False)]
    else:
        items = [q(p) for p in mine["proxy"].astype(str).head(limit)]
    return f"; proxies {', '.join(items)}" if items else ""


def _qc_lines(run: RunArtifacts, override: dict[str, Any] | None) -> list[str]:
    """QC errors overridden, warnings, and input QA findings."""
    lines = []
    if override:
        lines.append(
            f"Published despite {len(override['errors'])} QC error(s), overridden by {q(override['author'])}: "
            f'"{q(override["reason"])}".'
        )
    if run.qc is None:
        lines.append("No QC results for this run.")
    else:
        sev = run.qc["severity"].astype(str).str.lower()
        warns = run.qc[sev == "warning"]
        for r in warns.head(8).to_dict("records"):
            lines.append(
                f"- **{q(r.get('market', '?'))}** {r.get('check', '?')}: {q(r.get('detail', ''))}"
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


def _adjustment_text(adj: dict[str, Any], forecast: pd.DataFrame, unit: str = "week") -> str:
    """One adjustment: market, kind and value, period, who and why, average effect."""
    amount = adjustment_amount(adj.get("kind"), adj.get("value"))
    text = f"- **{q(adj.get('market'))}** {amount} from {pd.Timestamp(adj['start']):%Y-%m-%d} to {pd.Timestamp(adj['end']):%Y-%m-%d}"
    if adj.get("reason"):
        text += f": {q(adj['reason'])}"
    if adj.get("author"):
        text += f" ({q(adj['author'])})"
    if set(ADJUSTED_COLUMNS) <= set(forecast.columns):
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
    names = list(previous)
    out = _title(run, name) + _headline(run, comparison, names, meta or {})
    out += totals_section(run, comparison, previous)
    out += _checkpoint_lines(comparison, names)
    if names:
        out += _change_section(run, previous, comparison, top, min_change)
        out += _tracking_section(run, previous, recent, tracking_threshold)
    new_lines = _new_market_lines(run)
    if new_lines:
        out += ["## New markets", *new_lines]
    out += ["## Quality control", *_qc_lines(run, override)]
    out += ["## Adjustments in effect", *_adjustment_lines(run)]
    return _blocks(out)


def _title(run: RunArtifacts, name: str | None) -> list[str]:
    """The heading and the line on the run: id, end of the actuals, number of markets."""
    data_end = (
        run.manifest.get("data_end") or f"{run.forecast['date'].min():%Y-%m-%d} (forecast start)"
    )
    return [
        f"# Forecast {name or run.run_id}",
        f"Run {run.run_id}, actuals to {data_end}, {run.forecast['market'].nunique()} markets.",
    ]


def _change_section(
    run: RunArtifacts,
    previous: dict[str, pd.DataFrame],
    comparison: pd.DataFrame,
    top: int,
    min_change: float,
) -> list[str]:
    """The markets that changed most against the last vintage, and those added or dropped."""
    last = next(iter(previous))
    key = key_checkpoint(comparison, last)
    label = (
        checkpoints(run.forecast["date"]).set_index("checkpoint").loc[key, "label"]
        if key is not None
        else ""
    )
    return [
        f"## Biggest changes vs {last} ({label})",
        *_mover_lines(comparison, last, top, min_change),
        *_coverage_lines(run.forecast, previous[last], last),
    ]


def _tracking_section(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], recent: int, threshold: float
) -> list[str]:
    """How the actuals of the last `recent` periods compare with the previous vintages."""
    track = tracking(run.actuals, previous, recent)
    last = track[(track["vintage"] == next(iter(previous))) & (track["market"] == TOTAL)]
    periods = int(last["periods"].iloc[0]) if len(last) else recent  # what the text counts
    return [
        f"## Actuals against previous forecasts (last {periods} {run.unit}s)",
        *_tracking_lines(track, list(previous), threshold, run.unit),
    ]


def _blocks(lines: list[str]) -> str:
    """Markdown with a blank line around every paragraph, bullets kept together as one list."""
    out: list[str] = []
    for line in (x for x in lines if x.strip()):
        bullet = line.startswith("- ")
        if out and not (bullet and out[-1].startswith("- ")):
            out.append("")
        out.append(line)
    return "\n".join(out) + "\n"
