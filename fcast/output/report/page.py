"""The report page: one self-contained HTML file (bokeh, inline resources) that loads nothing from the network.

`build_html` lays out the insights, the overview of the total, the movers, the comparison
table and one figure per market. Each market's section has the id `anchor(market)`, built
from `fcast.names.safe_name`, so no two markets share an id whatever their names.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pandas as pd

from fcast.names import safe_name
from fcast.output.publish import TOTAL, RunArtifacts, fmt_count, fmt_pct, headline_checkpoint
from fcast.output.publish.formatting import vintage_ref
from fcast.output.report.interactive import bokeh_figure, movers_figure
from fcast.output.report.views import caption, group_views, market_order, market_view, total_view

#: a backslash-escaped ASCII punctuation character (CommonMark), as `fcast.names.quote_text` writes
_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_HELD = re.compile("\ue000(\\d+)\ue001")


def markdown_html(text: str) -> str:
    """The small markdown subset insights use (headings, bullets, bold, paragraphs, backslash escapes) as HTML."""
    held: list[str] = []

    def hold(match: re.Match[str]) -> str:
        held.append(match.group(1))
        return f"\ue000{len(held) - 1}\ue001"

    out, in_list = [], False
    for raw in text.replace("\ue000", "").replace("\ue001", "").splitlines():
        line = re.sub(r"\*\*(.+?)\*\*", r"<b>\1</b>", html.escape(_ESCAPED.sub(hold, raw)))
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
    body = "\n".join(out + (["</ul>"] if in_list else []))
    return _HELD.sub(lambda m: html.escape(held[int(m.group(1))]), body)


def _body(text: str) -> str:
    """Insights without their top-level title (the page has its own)."""
    lines = text.splitlines()
    return "\n".join(lines[1:] if lines and lines[0].startswith("# ") else lines)


def anchor(market: str) -> str:
    """The HTML id of a market's section (collision-free: see fcast.names.safe_name)."""
    return "m-" + safe_name(market)


def _table_row(
    market: str, first: pd.DataFrame, at: pd.DataFrame, names: list[str], segment: str
) -> str:
    """One market's row: level and growth, then each previous vintage's level and the change."""
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
    link = market if market == TOTAL else f"<a href='#{anchor(market)}'>{html.escape(market)}</a>"
    return f"<tr><td>{link}</td><td>{html.escape(segment)}</td>{''.join(cells)}</tr>"


def comparison_table(
    comparison: pd.DataFrame, forecast: pd.DataFrame, names: list[str], periods: int | None = None
) -> str:
    """An HTML table: per market the level at the headline checkpoint, against each previous vintage, and growth."""
    key = headline_checkpoint(comparison, forecast["date"], periods)
    if key is None:
        return ""
    at = comparison[comparison["checkpoint"] == key]
    head = "".join(f"<th>{html.escape(n)}</th><th>change</th>" for n in names)
    first = at.drop_duplicates("market").set_index("market")
    order = [TOTAL] + first.drop(index=TOTAL)["yhat"].sort_values(ascending=False).index.tolist()
    segments = forecast.drop_duplicates("market").set_index("market")["segment"].astype(str)
    rows = [_table_row(m, first, at, names, segments.get(m, "")) for m in order]
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
{% endfor %}</main>
<script>{{ ready_js }}</script>{% endblock %}
"""

#: Marks the page ready once bokeh has rendered every root of its document: sets
#: `data-ready="true"` on <body> and resolves `window.fcastReady` (with the number of roots).
#: Headless tests wait for that state instead of sleeping.
READY_JS = """(function () {
  let done;
  window.fcastReady = new Promise(function (resolve) { done = resolve; });
  function rendered() {
    const docs = window.Bokeh === undefined ? [] : Bokeh.documents;
    return docs.length > 0 && docs.every(function (d) { return d.roots().length > 0 && d.is_idle; });
  }
  function check() {
    if (!rendered()) { window.setTimeout(check, 50); return; }
    const roots = Bokeh.documents.reduce(function (n, d) { return n + d.roots().length; }, 0);
    document.body.setAttribute("data-ready", "true");
    done(roots);
  }
  check();
})();"""


def add_overview(
    doc: Any,
    run: RunArtifacts,
    previous: dict[str, pd.DataFrame],
    comparison: pd.DataFrame,
    limit: int | None = None,
) -> tuple[list[dict[str, str]], int]:
    """Add the total, the movers and one figure per group (the first `limit`); their sections and the groups left out."""
    doc.add_root(
        bokeh_figure(total_view(run, previous), f"Total {run.value}", "overview", height=380)
    )
    if previous:
        doc.add_root(movers_figure(comparison, next(iter(previous))))
    groups = group_views(run, previous)  # the groups of the hierarchy come first
    shown = groups if limit is None else groups[:limit]
    sections = []
    for level, view in shown:
        key = anchor(f"{level}:{view.market}")
        doc.add_root(bokeh_figure(view, None, key))
        sections.append(
            {
                "anchor": key,
                "root": key,
                "title": html.escape(f"{view.market} ({level})"),
                "caption": html.escape(caption(view)),
            }
        )
    return sections, len(groups) - len(shown)


def _add_figures(
    doc: Any, run: RunArtifacts, previous: dict[str, pd.DataFrame], comparison: pd.DataFrame
) -> list[dict[str, str]]:
    """Add the overview, the movers, one figure per group and per market to `doc`; their sections."""
    sections, _ = add_overview(doc, run, previous, comparison)
    for market in market_order(run):
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
    return sections


def _meta_line(run: RunArtifacts, names: list[str], meta: dict[str, dict[str, Any]]) -> str:
    """The line under the heading: run, end of the actuals, the vintages compared with."""
    refs = ", ".join(vintage_ref(n, meta) for n in names) or "no earlier official forecast"
    return f"run {run.run_id} · actuals to {run.manifest.get('data_end', 'n/a')} · compared with {refs}"


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

    names, doc = list(previous), Document()
    with doc.models.freeze():
        sections = _add_figures(doc, run, previous, comparison)
    return render_page(
        doc,
        PAGE,
        run,
        names,
        insights_text,
        name,
        meta,
        table_html=comparison_table(comparison, run.forecast, names, run.headline_periods),
        nav_html=" ".join(f"<a href='#{s['anchor']}'>{s['title']}</a>" for s in sections),
        markets=sections,
    )


def render_page(
    doc: Any,
    template: str,
    run: RunArtifacts,
    names: list[str],
    insights_text: str,
    name: str | None,
    meta: dict[str, dict[str, Any]] | None,
    **variables: Any,
) -> str:
    """`doc` in a report page template with BokehJS inline: heading, meta line, insights, readiness, plus `variables`."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE
    from jinja2 import Template

    page = file_html(
        doc,
        INLINE,
        f"fcast report {name or run.run_id}",
        template=Template(template),
        template_variables={
            "heading": html.escape(f"Forecast {name or run.run_id}"),
            "meta": html.escape(_meta_line(run, names, meta or {})),
            "insights_html": markdown_html(_body(insights_text)),
            "has_movers": bool(names),
            "ready_js": READY_JS,
            **variables,
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
