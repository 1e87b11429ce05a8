"""The report: one self-contained interactive HTML page (bokeh, inline resources) and static PNGs.

`build_report` writes `<out>/index.html` with the insights, an overview of the total and
the biggest changes, a comparison table, then one figure per market: actuals, the new
forecast with 80% and 95% intervals, the previous official forecasts as dashed lines,
adjustment periods and cleaned disruptions as shaded spans, and for new markets the proxies
used. `<out>/png/overview.png` and `<out>/png/<market>.png` are the same figures drawn with
matplotlib for channels that cannot show HTML. The page loads nothing from the network.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from fcast.output.publish import (
    TOTAL,
    RunArtifacts,
    adjustment_amount,
    compare,
    fmt_count,
    fmt_pct,
    key_checkpoint,
    movers,
)

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
            "label": f"{adjustment_amount(r.get('kind'), r.get('value'))}: {r.get('reason', '')} ({r.get('author', '')})",
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
    shown = hist.sort_values("date").tail(history)[["date", "y"]].reset_index(drop=True)
    since = min(pd.concat([shown["date"], fc["date"]]), default=pd.Timestamp.min)
    return MarketView(
        market,
        shown,
        fc,
        {k: v[["date", "yhat"]].reset_index(drop=True) for k, v in prev.items() if len(v)},
        _visible(_adjustment_spans(run.adjustments, market), since),
        _visible(_cleaned_spans(run.cleaning, market), since),
        _proxies(run.proxies, market),
        str(fc["segment"].iloc[0]) if len(fc) else "",
        str(fc["family"].iloc[0]) if len(fc) else "",
    )


def total_view(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], history: int = HISTORY
) -> MarketView:
    """The figure data of the total over the forecast's markets (no intervals: they do not add up)."""
    markets = set(run.forecast["market"])
    fc = run.forecast.groupby("date", as_index=False)["yhat"].sum()
    hist = pd.DataFrame(columns=["date", "y"])
    if run.actuals is not None:
        hist = (
            run.actuals[run.actuals["market"].isin(markets)]
            .groupby("date", as_index=False)["y"]
            .sum()
            .tail(history)
        )
    prev = {
        k: v.assign(date=pd.to_datetime(v["date"])).groupby("date", as_index=False)["yhat"].sum()
        for k, v in previous.items()
    }
    return MarketView(TOTAL, hist.reset_index(drop=True), fc, prev, segment="total")


def _levels(fc: pd.DataFrame) -> list[int]:
    """Interval levels present in a forecast table, widest first."""
    found = {int(m.group(1)) for c in fc.columns if (m := re.fullmatch(r"yhat_lo_(\d+)", c))}
    return sorted(found, reverse=True)


def _extent(view: MarketView) -> tuple[float, float]:
    """Lower and upper edges for shaded spans: a little beyond everything drawn."""
    series = [view.actuals["y"], view.forecast["yhat"]]
    series += [
        view.forecast[f"yhat_{s}_{lv}"] for lv in _levels(view.forecast) for s in ("lo", "hi")
    ]
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


# --- bokeh ----------------------------------------------------------------------------


def bokeh_figure(view: MarketView, title: str | None, name: str, height: int = 320) -> Any:
    """An interactive figure of one market (or the total); no title when the page heads it."""
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure

    fig = figure(
        name=name,
        title=title,
        x_axis_type="datetime",
        height=height,
        sizing_mode="stretch_width",
        tools="pan,xwheel_zoom,box_zoom,reset,save",
        active_scroll=None,
    )
    bottom, top = _extent(view)
    for spans, color, label in (
        (view.adjustments, ADJUSTMENT, "adjustment"),
        (view.cleaned, CLEANED, "cleaned disruption"),
    ):
        if len(spans):
            src = ColumnDataSource(spans.assign(bottom=bottom, top=top))
            r = fig.quad(
                left="start",
                right="end",
                bottom="bottom",
                top="top",
                source=src,
                color=color,
                alpha=0.25,
                legend_label=label,
            )
            fig.add_tools(HoverTool(renderers=[r], tooltips=[(label, "@label")]))
    for lv in _levels(view.forecast):
        fig.varea(
            x=view.forecast["date"],
            y1=view.forecast[f"yhat_lo_{lv}"],
            y2=view.forecast[f"yhat_hi_{lv}"],
            color=FORECAST,
            alpha=0.12 if lv >= 90 else 0.22,
            legend_label=f"{lv}% interval",
        )
    lines = [("actuals", view.actuals.rename(columns={"y": "value"}), ACTUAL, "solid", 2)]
    if (
        "yhat_base" in view.forecast
        and (view.forecast["yhat_base"] - view.forecast["yhat"]).abs().max() > 0
    ):
        lines.append(
            (
                "before adjustments",
                view.forecast[["date", "yhat_base"]].rename(columns={"yhat_base": "value"}),
                BASE,
                "dotted",
                2,
            )
        )
    for (vintage, prev), color in zip(view.previous.items(), PREVIOUS, strict=False):
        lines.append(
            (f"official {vintage}", prev.rename(columns={"yhat": "value"}), color, "dashed", 2)
        )
    lines.append(
        (
            "new forecast",
            view.forecast[["date", "yhat"]].rename(columns={"yhat": "value"}),
            FORECAST,
            "solid",
            3,
        )
    )
    renderers = [
        fig.line(
            "date",
            "value",
            source=ColumnDataSource(df[["date", "value"]]),
            color=color,
            line_dash=dash,
            line_width=width,
            legend_label=label,
            name=label,
        )
        for label, df, color, dash, width in lines
        if len(df)
    ]
    fig.add_tools(
        HoverTool(
            renderers=renderers,
            tooltips=[("", "$name"), ("week", "@date{%F}"), ("value", "@value{0,0}")],
            formatters={"@date": "datetime"},
        )
    )
    fig.yaxis.formatter = NumeralTickFormatter(format="0.[00]a")
    fig.legend.location, fig.legend.click_policy, fig.legend.label_text_font_size = (
        "top_left",
        "hide",
        "9pt",
    )
    return fig


def movers_figure(comparison: pd.DataFrame, vintage: str, top: int = 20) -> Any:
    """Horizontal bars: the markets that moved most against `vintage` (percent)."""
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    ranked = movers(comparison, vintage).head(top).iloc[::-1]
    src = ColumnDataSource(
        {
            "market": ranked["market"].tolist(),
            "pct": ranked["diff_pct"].tolist(),
            "diff": ranked["diff"].tolist(),
            "color": [UP if v > 0 else DOWN for v in ranked["diff_pct"]],
        }
    )
    label = ranked["label"].iloc[0] if len(ranked) else ""
    fig = figure(
        name="movers",
        y_range=ranked["market"].tolist(),
        height=120 + 18 * len(ranked),
        sizing_mode="stretch_width",
        title=f"Change against {vintage} at {label} (%)",
        tools="save",
        toolbar_location=None,
    )
    fig.hbar(y="market", right="pct", height=0.7, color="color", source=src)
    fig.add_tools(
        HoverTool(
            tooltips=[("market", "@market"), ("change", "@pct{+0.0}%"), ("users", "@diff{+0,0}")]
        )
    )
    return fig


# --- html -----------------------------------------------------------------------------


def markdown_html(text: str) -> str:
    """The small markdown subset insights use (headings, bullets, bold, paragraphs) as HTML."""
    out, in_list = [], False
    for raw in text.splitlines():
        line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(raw))
        if in_list and not line.startswith("- "):
            out.append("</ul>")
            in_list = False
        if heading := re.match(r"^(#{1,3}) (.*)$", line):
            level = len(heading.group(1)) + 1
            out.append(f"<h{level}>{heading.group(2)}</h{level}>")
        elif line.startswith("- "):
            out.append(("" if in_list else "<ul>") + f"<li>{line[2:]}</li>")
            in_list = True
        elif line.strip():
            out.append(f"<p>{line}</p>")
    return "\n".join(out + (["</ul>"] if in_list else []))


def _body(text: str) -> str:
    """Insights without their top-level title (the page has its own)."""
    lines = text.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)


def anchor(market: str) -> str:
    """An HTML id (and file name) for a market."""
    return "m-" + re.sub(r"[^A-Za-z0-9_.-]", "_", market)


def comparison_table(comparison: pd.DataFrame, forecast: pd.DataFrame, names: list[str]) -> str:
    """An HTML table: per market the level at the key checkpoint, against each previous vintage, and growth."""
    key = key_checkpoint(comparison, names[0] if names else None) or key_checkpoint(comparison)
    if key is None:
        return ""
    at = comparison[comparison["checkpoint"] == key]
    head = "".join(f"<th>{html.escape(n)}</th><th>change</th>" for n in names)
    rows = []
    first = at.drop_duplicates("market").set_index("market")
    order = [TOTAL] + first.drop(index=TOTAL)["yhat"].sort_values(ascending=False).index.tolist()
    segments = forecast.drop_duplicates("market").set_index("market")["segment"].astype(str)
    for market in order:
        cells = [
            f"<td>{fmt_count(first.loc[market, 'yhat'])}</td><td>{fmt_pct(first.loc[market, 'yoy_pct'])}</td>"
        ]
        for n in names:
            r = at[(at["market"] == market) & (at["vintage"] == n)]
            prev, pct = (
                (r["prev_yhat"].iloc[0], r["diff_pct"].iloc[0])
                if len(r)
                else (float("nan"), float("nan"))
            )
            cls = "up" if pct > 0.05 else "down" if pct < -0.05 else ""
            cells.append(f"<td>{fmt_count(prev)}</td><td class='{cls}'>{fmt_pct(pct)}</td>")
        link = (
            market if market == TOTAL else f"<a href='#{anchor(market)}'>{html.escape(market)}</a>"
        )
        rows.append(
            f"<tr><td>{link}</td><td>{html.escape(segments.get(market, ''))}</td>{''.join(cells)}</tr>"
        )
    label = html.escape(at["label"].iloc[0])
    return (
        f"<table><caption>Level at {label} ({key:%Y-%m-%d})</caption><thead><tr><th>market</th><th>segment</th>"
        f"<th>new</th><th>year on year</th>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


PAGE = """{% extends base %}
{% block preamble %}<link rel="icon" href="data:,"><style>
body { font-family: system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif; color: #222; }
main { max-width: 1150px; margin: 0 auto; padding: 0 16px 48px; }
header { border-bottom: 2px solid #1f77b4; margin-bottom: 12px; }
h1 { font-size: 1.5em; margin-bottom: 4px; } h2 { font-size: 1.25em; margin-top: 1.4em; } h3 { font-size: 1.1em; margin-bottom: 4px; }
.meta, .caption { color: #666; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.85em; margin: 8px 0; } caption { text-align: left; color: #666; }
td, th { padding: 3px 8px; border-bottom: 1px solid #eee; text-align: right; } td:first-child, th:first-child { text-align: left; }
td.up { color: #2ca02c; } td.down { color: #d62728; }
nav a { margin-right: 6px; } section.market { margin-top: 24px; } .plot { min-height: 100px; }
</style>{% endblock %}
{% block contents %}<main>
<header><h1>{{ heading }}</h1><p class="meta">{{ meta }}</p></header>
<section id="overview"><div class="plot" id="plot-overview">{{ embed(roots.overview) }}</div></section>
<section id="insights">{{ insights_html }}</section>
{% if has_movers %}<section id="movers"><div class="plot" id="plot-movers">{{ embed(roots.movers) }}</div></section>{% endif %}
<section id="comparison"><h2>Markets</h2>{{ table_html }}</section>
<nav><h2>Per market</h2>{{ nav_html }}</nav>
{% for m in markets %}<section class="market" id="{{ m.anchor }}"><h3>{{ m.title }}</h3>
<div class="plot" id="plot-{{ m.anchor }}">{{ embed(roots[m.root]) }}</div><p class="caption">{{ m.caption }}</p></section>
{% endfor %}</main>{% endblock %}
"""


def _market_order(run: RunArtifacts) -> list[str]:
    """Markets in the order the page shows them (alphabetical)."""
    return sorted(run.forecast["market"].astype(str).unique())


def build_html(
    run: RunArtifacts,
    previous: dict[str, pd.DataFrame],
    comparison: pd.DataFrame,
    insights_text: str = "",
    name: str | None = None,
    meta: dict[str, dict[str, Any]] | None = None,
) -> str:
    """The report page as one self-contained HTML string (bokeh resources inline)."""
    from bokeh.document import Document
    from bokeh.embed import file_html
    from bokeh.resources import INLINE
    from jinja2 import Template

    names = list(previous)
    doc, sections = Document(), []
    with doc.models.freeze():
        doc.add_root(
            bokeh_figure(total_view(run, previous), f"Total {run.value}", "overview", height=380)
        )
        if names:
            doc.add_root(movers_figure(comparison, names[0]))
        for market in _market_order(run):
            view = market_view(run, previous, market)
            title = f"{market}" + (" (new market)" if view.segment == "new" else "")
            doc.add_root(bokeh_figure(view, None, anchor(market)))
            sections.append(
                {
                    "anchor": anchor(market),
                    "root": anchor(market),
                    "title": html.escape(title),
                    "caption": html.escape(caption(view)),
                }
            )
    known = meta or {}
    refs = [
        f"{n} (data to {known[n]['data_end']})" if known.get(n, {}).get("data_end") else n
        for n in names
    ]
    line = f"run {run.run_id} · actuals to {run.manifest.get('data_end', 'n/a')} · compared with {', '.join(refs) or 'no earlier official forecast'}"
    page = file_html(
        doc,
        INLINE,
        f"fcast report {name or run.run_id}",
        template=Template(PAGE),
        template_variables={
            "heading": html.escape(f"Forecast {name or run.run_id}"),
            "meta": html.escape(line),
            "insights_html": markdown_html(_body(insights_text)),
            "has_movers": bool(names),
            "table_html": comparison_table(comparison, run.forecast, names),
            "nav_html": " ".join(f"<a href='#{s['anchor']}'>{s['title']}</a>" for s in sections),
            "markets": sections,
        },
    )
    return _without_server_scripts(page)


_SERVER_SCRIPT = re.compile(r'<script[^>]*\bsrc="/?static/[^"]*"[^>]*>\s*</script>\s*')


def _without_server_scripts(page: str) -> str:
    """Drop script tags that load from a server's static/ path: a standalone file can never reach them.

    Bokeh bundles the JavaScript of every registered extension model; once Panel's ESM models
    are imported in the process (e.g. by the adjustment app), that adds a Panel-server URL the
    report does not use.
    """
    return _SERVER_SCRIPT.sub("", page)


# --- matplotlib -----------------------------------------------------------------------


def png_figure(view: MarketView, title: str, path: str | Path) -> Path:
    """A static PNG of one market (or the total), drawn with matplotlib without a display."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(10, 4), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.99, top=0.92, bottom=0.09)
    ax = fig.add_subplot()
    for spans, color, label in (
        (view.adjustments, ADJUSTMENT, "adjustment"),
        (view.cleaned, CLEANED, "cleaned disruption"),
    ):
        for i, r in enumerate(spans.itertuples(index=False)):
            ax.axvspan(r.start, r.end, color=color, alpha=0.25, label=label if i == 0 else None)
    for lv in _levels(view.forecast):
        ax.fill_between(
            view.forecast["date"],
            view.forecast[f"yhat_lo_{lv}"],
            view.forecast[f"yhat_hi_{lv}"],
            color=FORECAST,
            alpha=0.12 if lv >= 90 else 0.22,
            linewidth=0,
            label=f"{lv}% interval",
        )
    if len(view.actuals):
        ax.plot(
            view.actuals["date"], view.actuals["y"], color=ACTUAL, linewidth=1.5, label="actuals"
        )
    for (vintage, prev), color in zip(view.previous.items(), PREVIOUS, strict=False):
        ax.plot(
            prev["date"],
            prev["yhat"],
            color=color,
            linestyle="--",
            linewidth=1.5,
            label=f"official {vintage}",
        )
    ax.plot(
        view.forecast["date"],
        view.forecast["yhat"],
        color=FORECAST,
        linewidth=2,
        label="new forecast",
    )
    ax.set_title(title, loc="left")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v)))
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.savefig(path)
    return Path(path)


def build_pngs(run: RunArtifacts, previous: dict[str, pd.DataFrame], out: Path) -> list[Path]:
    """overview.png and one PNG per market under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [png_figure(total_view(run, previous), f"Total {run.value}", out / "overview.png")]
    for market in _market_order(run):
        view = market_view(run, previous, market)
        paths.append(
            png_figure(view, f"{market}  ({caption(view)})", out / f"{anchor(market)[2:]}.png")
        )
    return paths


def build_report(
    run: RunArtifacts,
    previous: dict[str, pd.DataFrame],
    out_dir: str | Path,
    *,
    comparison: pd.DataFrame | None = None,
    insights_text: str = "",
    name: str | None = None,
    meta: dict[str, dict[str, Any]] | None = None,
    pngs: bool = True,
) -> str:
    """Write `<out_dir>/index.html` (and `png/` unless pngs=False); return the page's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    comparison = (
        comparison if comparison is not None else compare(run.forecast, previous, run.actuals)
    )
    page = out / "index.html"
    page.write_text(
        build_html(run, previous, comparison, insights_text, name, meta), encoding="utf-8"
    )
    if pngs:
        build_pngs(run, previous, out / "png")
    return str(page)


__all__ = [
    "MarketView",
    "bokeh_figure",
    "build_html",
    "build_pngs",
    "build_report",
    "market_view",
    "markdown_html",
    "movers_figure",
    "png_figure",
    "total_view",
]
