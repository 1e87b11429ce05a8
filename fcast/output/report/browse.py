"""The paged report's HTML page and its JavaScript: the overview, the market index (search, filters, pages) and the on-demand market figure.

`build_paged` writes `index.html` and `charts/*.js` (`fcast.output.report.paged`). The
page marks itself ready as the embedded report does (`page.READY_JS`) and exposes, for
people and for headless tests, `window.fcastFilter(text, segment, withQc)` (the number of
markets that match), `window.fcastPage(n)` (the rows drawn) and `window.fcastShow(market)` (a promise resolved
once the page is ready and the market's chart data is in the figure).
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pandas as pd

from fcast.output.publish import RunArtifacts
from fcast.output.report.page import PAGE, render_page
from fcast.output.report.paged import (
    PAGE_SIZE,
    add_overview,
    market_data,
    qc_summary,
    segments,
    write_charts,
)
from fcast.output.report.views import levels_widest_first

_STYLE_END = "</style>{% endblock %}"
EXTRA_STYLE = """#market-index tbody tr:hover { background: #f4f8fc; } .pager button { margin: 0 4px; }
.controls { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; margin: 8px 0; }
#chart { border-top: 1px solid #ddd; margin-top: 16px; }
"""

BODY = """{% block contents %}<main>
<header><h1>{{ heading }}</h1><p class="meta">{{ meta }}</p></header>
<section id="overview"><div class="plot" id="plot-overview">{{ embed(roots.overview) }}</div></section>
<section id="insights">{{ insights_html }}</section>
<section id="qc">{{ qc_html }}</section>
{% if has_movers %}<section id="movers"><div class="plot" id="plot-movers">{{ embed(roots.movers) }}</div></section>{% endif %}
{% for m in groups %}<section class="market group" id="{{ m.anchor }}"><h3>{{ m.title }}</h3>
<div class="plot" id="plot-{{ m.anchor }}">{{ embed(roots[m.root]) }}</div><p class="caption">{{ m.caption }}</p></section>
{% endfor %}{% if groups_left %}<p class="meta">{{ groups_left }} smaller group(s) not drawn.</p>{% endif %}
<section id="markets"><h2>Markets ({{ n_markets }})</h2>
<div class="controls"><input id="market-search" type="search" placeholder="search markets" aria-label="search markets">
<select id="segment-filter" aria-label="segment"><option value="">all segments</option>
{% for s in segments %}<option value="{{ s }}">{{ s }}</option>{% endfor %}</select>
<label><input id="qc-filter" type="checkbox"> with QC findings</label>
<span class="pager"><button id="page-prev" type="button">previous</button><span id="index-count"></span>
<button id="page-next" type="button">next</button></span></div>
<table id="market-index"><caption>{{ index_caption }}</caption><thead><tr><th>market</th><th>segment</th><th>model</th>
<th>level</th><th>year on year</th><th>QC findings</th>{% for v in vintages %}<th>change against {{ v }}</th>{% endfor %}</tr></thead>
<tbody></tbody></table></section>
<section id="chart"><h3 id="chart-title">Click a market to draw it</h3>
<div class="plot" id="plot-market">{{ embed(roots.market) }}</div><p class="caption" id="chart-caption"></p></section>
</main>
<script type="application/json" id="market-data">{{ market_json }}</script>
<script>{{ index_js }}</script>
<script>{{ ready_js }}</script>{% endblock %}
"""

#: the market index (filter, pages) and the on-demand figure; rows are arrays in `columns` order
INDEX_JS = """(function () {
  const data = JSON.parse(document.getElementById("market-data").textContent);
  const col = Object.fromEntries(data.columns.map(function (c, i) { return [c, i]; }));
  const changes = data.columns.filter(function (c) { return c.startsWith("change "); });
  const rows = data.rows, size = data.page_size;
  const byName = new Map(rows.map(function (r) { return [r[col.market], r]; }));
  const byFile = new Map(rows.map(function (r) { return ["m-" + r[col.file], r]; }));
  const body = document.querySelector("#market-index tbody");
  const search = document.getElementById("market-search");
  const segment = document.getElementById("segment-filter");
  const qc = document.getElementById("qc-filter");
  let shown = rows, page = 0;
  function count(x) {
    if (x === null) { return "n/a"; }
    for (const [s, u] of [[1e9, "B"], [1e6, "M"], [1e3, "k"]]) {
      if (Math.abs(x) >= s) { return (x / s).toPrecision(3).replace(/\\.?0+$/, "") + u; }
    }
    return x.toFixed(0);
  }
  function pct(x) { return x === null ? "n/a" : (x > 0 ? "+" : "") + x.toFixed(1) + "%"; }
  function cell(text, cls) {
    const td = document.createElement("td");
    td.textContent = text;
    if (cls) { td.className = cls; }
    return td;
  }
  function line(r) {
    const tr = document.createElement("tr"), td = document.createElement("td"), a = document.createElement("a");
    a.href = "#m-" + r[col.file];
    a.textContent = r[col.market];
    a.addEventListener("click", function (e) { e.preventDefault(); window.fcastShow(r[col.market]); });
    td.appendChild(a);
    tr.append(td, cell(r[col.segment]), cell(r[col.family]), cell(count(r[col.level])),
      cell(pct(r[col.yoy])), cell(String(r[col.qc])));
    for (const c of changes) {
      const v = r[col[c]];
      tr.appendChild(cell(pct(v), v === null ? "" : v > 0.05 ? "up" : v < -0.05 ? "down" : ""));
    }
    return tr;
  }
  function render() {
    const pages = Math.max(1, Math.ceil(shown.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    body.replaceChildren.apply(body, shown.slice(page * size, (page + 1) * size).map(line));
    const first = shown.length ? page * size + 1 : 0;
    document.getElementById("index-count").textContent =
      " " + first + "-" + Math.min((page + 1) * size, shown.length) + " of " + shown.length + " ";
    document.getElementById("page-prev").disabled = page === 0;
    document.getElementById("page-next").disabled = page >= pages - 1;
  }
  function filter() {
    const text = search.value.trim().toLowerCase(), seg = segment.value, flagged = qc.checked;
    shown = rows.filter(function (r) {
      return (!text || r[col.market].toLowerCase().includes(text)) &&
        (!seg || r[col.segment] === seg) && (!flagged || r[col.qc] > 0);
    });
    page = 0;
    render();
    return shown.length;
  }
  search.addEventListener("input", filter);
  segment.addEventListener("change", filter);
  qc.addEventListener("change", filter);
  document.getElementById("page-prev").addEventListener("click", function () { page -= 1; render(); });
  document.getElementById("page-next").addEventListener("click", function () { page += 1; render(); });
  window.fcastFilter = function (text, seg, flagged) {
    search.value = text || ""; segment.value = seg || ""; qc.checked = !!flagged;
    return filter();
  };
  window.fcastPage = function (n) { page = n; render(); return body.children.length; };
  const waiting = new Map();
  window.fcastChart = function (p) {
    const doc = Bokeh.documents[0];
    for (const [name, source] of Object.entries(p.sources)) {
      const r = doc.get_model_by_name("market:" + name);
      if (r === null) { continue; }
      r.data_source.data = source;
      r.visible = Object.values(source)[0].length > 0;
    }
    document.getElementById("chart-title").textContent = p.title;
    document.getElementById("chart-caption").textContent = p.caption;
    document.body.dataset.chart = p.market;
    (waiting.get(p.market) || []).forEach(function (done) { done(p.market); });
    waiting.delete(p.market);
  };
  window.fcastShow = function (market) {
    const r = byName.get(market);
    if (r === undefined) { return Promise.reject(new Error("no market " + market)); }
    return window.fcastReady.then(function () { return new Promise(function (resolve, reject) {
      waiting.set(market, (waiting.get(market) || []).concat([resolve]));
      const s = document.createElement("script");
      s.src = "charts/" + encodeURIComponent(r[col.file]) + ".js";
      s.onload = function () { s.remove(); };
      s.onerror = function () { s.remove(); reject(new Error("no chart for " + market)); };
      document.head.appendChild(s);
      history.replaceState(null, "", "#m-" + r[col.file]);
    }); });
  };
  render();
  const start = byFile.get(decodeURIComponent(location.hash.slice(1)));
  if (start !== undefined) {  // index.html#m-<market>: draw it once the page is ready
    window.addEventListener("load", function () { window.fcastShow(start[col.market]); });
  }
})();"""

#: the embedded report's page with the extra styles and the paged body
PAGED = PAGE.split(_STYLE_END)[0] + EXTRA_STYLE + _STYLE_END + "\n" + BODY


def build_paged(
    run: RunArtifacts,
    previous: dict[str, pd.DataFrame],
    comparison: pd.DataFrame,
    out: Path,
    insights_text: str = "",
    name: str | None = None,
    meta: dict[str, dict[str, Any]] | None = None,
) -> Path:
    """Write the paged report (`index.html` and `charts/*.js`) under `out`; the page's path."""
    from bokeh.document import Document

    names, doc = list(previous), Document()
    with doc.models.freeze():
        groups, groups_left = add_overview(doc, run, previous, comparison)
    n = write_charts(run, previous, out, levels_widest_first(run.forecast))
    page = render_page(
        doc,
        PAGED,
        run,
        names,
        insights_text,
        name,
        meta,
        qc_html=qc_summary(run),
        groups=groups,
        groups_left=groups_left,
        n_markets=f"{n:,}",
        segments=[html.escape(s) for s in segments(run)],
        vintages=[html.escape(v) for v in names],
        index_caption=f"Level at the headline checkpoint; {PAGE_SIZE} markets a page",
        market_json=market_data(run, comparison, names),
        index_js=INDEX_JS,
    )
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path
