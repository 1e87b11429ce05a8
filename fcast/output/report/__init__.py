"""The report: one self-contained interactive HTML page (bokeh, inline resources) and static PNGs.

`build_report` writes `<out>/index.html` with the insights, an overview of the total (with
its intervals when the run has a hierarchy, docs/totals.md) and the biggest changes, a
comparison table, then one figure per group of the hierarchy and one per market: actuals, the new
forecast with 80% and 95% intervals, the previous official forecasts as dashed lines,
adjustment periods and cleaned disruptions as shaded spans, and for new markets the proxies
used. `<out>/png/overview.png` and `<out>/png/<safe_name(market)>.png` are the same figures
drawn with matplotlib for channels that cannot show HTML. The page loads nothing from the
network.

Above `EMBED_LIMIT` markets the page embeds no figure per market: it shows the overview,
a paged, searchable market index (`PAGE_SIZE` rows drawn at a time) and one market figure
filled on demand from `<out>/charts/<safe_name(market)>.js`; the PNGs are then the overview
and the groups only (docs/scaling.md).

- `views`: what each figure shows, as plain tables (`MarketView`), and the colours;
- `interactive`: the bokeh figures;
- `page`: the HTML page around them;
- `static`: the PNGs;
- `paged`, `browse`: the layout for many markets (index data and chart files; its page).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fcast.output.publish import RunArtifacts, compare
from fcast.output.report.browse import build_paged
from fcast.output.report.interactive import bokeh_figure, movers_figure
from fcast.output.report.page import anchor, build_html, comparison_table, markdown_html
from fcast.output.report.paged import EMBED_LIMIT, PAGE_SIZE
from fcast.output.report.static import build_pngs, png_figure, png_name
from fcast.output.report.views import (
    ADJUSTMENT,
    CLEANED,
    FORECAST,
    MarketView,
    caption,
    market_view,
    total_view,
)


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
    embed = run.forecast["market"].nunique() <= EMBED_LIMIT
    page = out / "index.html"
    if embed:
        page.write_text(
            build_html(run, previous, comparison, insights_text, name, meta), encoding="utf-8"
        )
    else:
        build_paged(run, previous, comparison, out, insights_text, name, meta)
    if pngs:
        build_pngs(run, previous, out / "png", markets=embed)
    return str(page)


__all__ = [
    "ADJUSTMENT",
    "EMBED_LIMIT",
    "PAGE_SIZE",
    "CLEANED",
    "FORECAST",
    "MarketView",
    "anchor",
    "bokeh_figure",
    "build_html",
    "build_paged",
    "build_pngs",
    "build_report",
    "caption",
    "comparison_table",
    "market_view",
    "markdown_html",
    "movers_figure",
    "png_figure",
    "png_name",
    "total_view",
]
