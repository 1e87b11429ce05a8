"""The report for many markets: an overview page with a paged, searchable market index and per-market charts loaded on demand.

Above `EMBED_LIMIT` markets `build_report` writes this layout instead of one figure per
market (docs/scaling.md, docs/publish.md):

- `index.html`: the overview (the total, the groups of the hierarchy up to `GROUP_LIMIT`,
  the movers, the insights with their QC findings, a QC summary), then the market index:
  one row per market (level and growth at the headline checkpoint, change against each
  previous vintage, QC findings), held as JSON in the page and drawn `PAGE_SIZE` rows at a
  time, with a search box, a segment filter and a "with QC findings" filter; and one
  on-demand market figure (`interactive.market_template`);
- `charts/<safe_name(market)>.js`: one small script per market, `fcastChart({...})`, with
  that market's figure data; clicking a market (or opening `index.html#m-<market>`) loads
  it with a script tag, which works from a file as well as from a server, offline.

The page's size grows by one index row per market (about 65 bytes), not by a figure.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcast.contract import bound_columns
from fcast.names import safe_name
from fcast.output.publish import TOTAL, RunArtifacts, headline_checkpoint
from fcast.output.report.interactive import _adjusted, market_template
from fcast.output.report.views import (
    MarketView,
    caption,
    extent,
    levels_widest_first,
    market_views,
)

#: reports with more markets than this get the paged layout
EMBED_LIMIT = 100
#: rows of the market index drawn at once
PAGE_SIZE = 50
#: group figures embedded on the overview (the largest first per level)
GROUP_LIMIT = 24
#: previous vintages drawn in a market figure (as in `bokeh_figure`)
VINTAGES_DRAWN = 2


def _ms(dates: pd.Series) -> list[int]:
    """Dates as epoch milliseconds, as bokeh holds datetimes."""
    return np.asarray(dates, dtype="datetime64[ms]").astype("int64").tolist()


def _nums(values: Iterable[float]) -> list[float | None]:
    """Numbers to 6 significant digits of the series' largest one, NaN as null (JSON has no NaN)."""
    a = np.asarray(values, dtype=float)
    big = np.nanmax(np.abs(a)) if len(a) and not np.isnan(a).all() else 0.0
    digits = max(0, 5 - int(np.floor(np.log10(big)))) if big > 0 else 0
    out = np.round(a, digits).tolist()
    return [None if x != x else x for x in out] if np.isnan(a).any() else out


def _line(table: pd.DataFrame, column: str) -> dict[str, list[Any]]:
    """A line's source: date and value."""
    return {"date": _ms(table["date"]), "value": _nums(table[column])}


def _spans(spans: pd.DataFrame, bottom: float, top: float) -> dict[str, list[Any]]:
    """A span source: start, end, bottom, top and the hover label."""
    n = len(spans)
    return {
        "start": _ms(spans["start"]),
        "end": _ms(spans["end"]),
        "bottom": [bottom] * n,
        "top": [top] * n,
        "label": spans["label"].astype(str).tolist(),
    }


def chart_payload(view: MarketView, vintages: list[str], levels: list[int]) -> dict[str, Any]:
    """What `fcastChart` needs to draw one market: title, caption and a source per named renderer."""
    fc, empty = view.forecast, {"date": [], "value": []}
    sources: dict[str, Any] = {"actuals": _line(view.actuals, "y")}
    sources["before adjustments"] = _line(fc, "yhat_base") if _adjusted(fc) else empty
    for v in vintages:
        sources[f"official {v}"] = _line(view.previous[v], "yhat") if v in view.previous else empty
    sources["new forecast"] = _line(fc, "yhat")
    for lv in levels:
        lo, hi = bound_columns([lv])
        has = {lo, hi} <= set(fc.columns)
        sources[f"{lv}% interval"] = {
            "date": _ms(fc["date"]) if has else [],
            "lo": _nums(fc[lo]) if has else [],
            "hi": _nums(fc[hi]) if has else [],
        }
    bottom, top = extent(view) if len(view.adjustments) + len(view.cleaned) else (0.0, 1.0)
    sources["adjustment"] = _spans(view.adjustments, bottom, top)
    sources["cleaned disruption"] = _spans(view.cleaned, bottom, top)
    title = view.market + (" (new market)" if view.segment == "new" else "")
    return {"market": view.market, "title": title, "caption": caption(view), "sources": sources}


def write_charts(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], out: Path, levels: list[int]
) -> int:
    """Write `charts/<safe_name(market)>.js` for every market; how many."""
    folder = out / "charts"
    folder.mkdir(parents=True, exist_ok=True)
    vintages, n = list(previous)[:VINTAGES_DRAWN], 0
    for view in market_views(run, previous):
        payload = json.dumps(chart_payload(view, vintages, levels), separators=(",", ":"))
        (folder / f"{safe_name(view.market)}.js").write_text(
            f"fcastChart({payload});\n", encoding="utf-8"
        )
        n += 1
    return n


def _qc_counts(run: RunArtifacts) -> pd.Series:
    """Warnings and errors of QC per market (0 for markets without)."""
    if run.qc is None or run.qc.empty or "severity" not in run.qc:
        return pd.Series(dtype=int)
    bad = run.qc[run.qc["severity"].astype(str).str.lower().isin(["warning", "error"])]
    return bad["market"].astype(str).value_counts()


def index_rows(
    run: RunArtifacts, comparison: pd.DataFrame, names: list[str]
) -> tuple[list[str], list[list[Any]]]:
    """The market index: column names and one row per market, largest level first."""
    fc = run.forecast.assign(market=run.forecast["market"].astype(str))
    info = fc.drop_duplicates("market").set_index("market")
    key = headline_checkpoint(comparison, fc["date"], run.headline_periods)
    at = comparison[(comparison["checkpoint"] == key) & (comparison["market"] != TOTAL)]
    at = at.assign(market=at["market"].astype(str))
    first = at.drop_duplicates("market").set_index("market").reindex(info.index)
    table = pd.DataFrame(
        {
            "market": info.index,
            "file": [safe_name(m) for m in info.index],
            "segment": info["segment"].astype(str).to_numpy(),
            "family": info["family"].astype(str).to_numpy() if "family" in info else "",
            "level": first["yhat"].to_numpy(dtype=float),
            "yoy": first["yoy_pct"].to_numpy(dtype=float),
            "qc": _qc_counts(run).reindex(info.index).fillna(0).astype(int).to_numpy(),
        }
    )
    for v in names:
        diff = at[at["vintage"] == v].drop_duplicates("market").set_index("market")["diff_pct"]
        table[f"change {v}"] = diff.reindex(info.index).to_numpy(dtype=float)
    table = table.sort_values(["level", "market"], ascending=[False, True], na_position="last")
    rows = [
        [None if isinstance(x, float) and math.isnan(x) else _plain(x) for x in r]
        for r in table.itertuples(index=False)
    ]
    return list(table.columns), rows


def _plain(x: Any) -> Any:
    """A JSON-ready scalar: numpy numbers as Python ones, floats to 4 significant digits."""
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, float | np.floating):
        return float(f"{float(x):.4g}")
    return x


def qc_summary(run: RunArtifacts) -> str:
    """An HTML table of QC findings by check and severity (warnings and errors), or ''."""
    if run.qc is None or run.qc.empty or not {"check", "severity"} <= set(run.qc.columns):
        return ""
    sev = run.qc["severity"].astype(str).str.lower()
    bad = run.qc[sev.isin(["warning", "error"])]
    if bad.empty:
        return f"<p>QC passed: {len(run.qc)} check result(s), no warnings or errors.</p>"
    counts = bad.groupby(["check", "severity"]).agg(markets=("market", "nunique")).reset_index()
    rows = "".join(
        f"<tr><td>{html.escape(str(r.check))}</td><td>{html.escape(str(r.severity))}</td>"
        f"<td>{r.markets}</td></tr>"
        for r in counts.itertuples(index=False)
    )
    return (
        "<table id='qc-summary'><caption>QC findings</caption><thead><tr><th>check</th>"
        f"<th>severity</th><th>markets</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def add_overview(
    doc: Any, run: RunArtifacts, previous: dict[str, pd.DataFrame], comparison: pd.DataFrame
) -> tuple[list[dict[str, str]], int]:
    """Add the total, the movers, up to GROUP_LIMIT groups and the market template; the group sections and groups left out."""
    from fcast.output.report.page import add_overview as add_total_and_groups

    sections, left = add_total_and_groups(doc, run, previous, comparison, GROUP_LIMIT)
    levels = levels_widest_first(run.forecast)
    doc.add_root(market_template(levels, list(previous)[:VINTAGES_DRAWN]))
    return sections, left


def market_data(run: RunArtifacts, comparison: pd.DataFrame, names: list[str]) -> str:
    """The market index as JSON for a <script type="application/json"> (no '</' inside)."""
    columns, rows = index_rows(run, comparison, names)
    text = json.dumps({"columns": columns, "rows": rows, "page_size": PAGE_SIZE}, ensure_ascii=True)
    return text.replace("</", "<\\/")


def segments(run: RunArtifacts) -> list[str]:
    """The segments of the run's markets, for the index's filter."""
    return sorted(run.forecast["segment"].astype(str).unique())
