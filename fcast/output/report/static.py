"""The report's static PNGs (matplotlib, no display): `overview.png` and `<safe_name(market)>.png`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from fcast.contract import bound_columns
from fcast.names import safe_name
from fcast.output.publish import RunArtifacts, fmt_count
from fcast.output.report.views import (
    ACTUAL,
    ADJUSTMENT,
    CLEANED,
    FORECAST,
    PREVIOUS,
    MarketView,
    caption,
    group_views,
    interval_alpha,
    levels_widest_first,
    market_views,
    total_view,
)


def _shade(ax: Any, view: MarketView) -> None:
    """Adjustment periods and cleaned disruptions as shaded spans, one legend entry each."""
    for spans, color, label in (
        (view.adjustments, ADJUSTMENT, "adjustment"),
        (view.cleaned, CLEANED, "cleaned disruption"),
    ):
        for i, r in enumerate(spans.itertuples(index=False)):
            ax.axvspan(r.start, r.end, color=color, alpha=0.25, label=label if i == 0 else None)


def _intervals(ax: Any, fc: pd.DataFrame) -> None:
    """One band per interval level, widest first."""
    for lv in levels_widest_first(fc):
        lo, hi = bound_columns([lv])
        ax.fill_between(
            fc["date"],
            fc[lo],
            fc[hi],
            color=FORECAST,
            alpha=interval_alpha(lv),
            linewidth=0,
            label=f"{lv}% interval",
        )


def _lines(ax: Any, view: MarketView) -> None:
    """Actuals, the previous official forecasts (dashed) and the new forecast."""
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


def png_figure(view: MarketView, title: str, path: str | Path) -> Path:
    """A static PNG of one market (or the total), drawn with matplotlib without a display."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    fig = Figure(figsize=(10, 4), dpi=100)
    fig.subplots_adjust(left=0.07, right=0.99, top=0.92, bottom=0.09)
    ax = fig.add_subplot()
    _shade(ax, view)
    _intervals(ax, view.forecast)
    _lines(ax, view)
    ax.set_title(title, loc="left")
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt_count(v)))
    locator = AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
    ax.grid(alpha=0.3)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    fig.savefig(path)
    return Path(path)


def png_name(market: str) -> str:
    """The file name of a market's PNG (collision-free: see fcast.names.safe_name)."""
    return f"{safe_name(market)}.png"


def build_pngs(
    run: RunArtifacts, previous: dict[str, pd.DataFrame], out: Path, markets: bool = True
) -> list[Path]:
    """overview.png, one PNG per group (`<level>-<name>.png`) and (if `markets`) one per market under `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = [png_figure(total_view(run, previous), f"Total {run.value}", out / "overview.png")]
    for level, view in group_views(run, previous):
        title = f"{view.market} ({level})  ({caption(view)})"
        paths.append(png_figure(view, title, out / f"{level}-{png_name(view.market)}"))
    for view in market_views(run, previous) if markets else []:
        title = f"{view.market}  ({caption(view)})"
        paths.append(png_figure(view, title, out / png_name(view.market)))
    return paths
