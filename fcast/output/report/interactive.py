"""The report's interactive figures (bokeh): one per market and the total, and the movers bar chart."""

from __future__ import annotations

from typing import Any

import pandas as pd

from fcast.contract import bound_columns
from fcast.output.publish import movers
from fcast.output.report.views import (
    ACTUAL,
    ADJUSTMENT,
    BASE,
    CLEANED,
    DOWN,
    FORECAST,
    PREVIOUS,
    UP,
    MarketView,
    extent,
    interval_alpha,
    levels_widest_first,
)

#: label, table of date and value, colour, dash, width
Line = tuple[str, pd.DataFrame, str, str, int]


def _as_line(table: pd.DataFrame, column: str) -> pd.DataFrame:
    """date and `column` renamed to value."""
    return table[["date", column]].rename(columns={column: "value"})


def _adjusted(fc: pd.DataFrame) -> bool:
    """Whether business adjustments moved any period of the forecast."""
    return "yhat_base" in fc and (fc["yhat_base"] - fc["yhat"]).abs().max() > 0


def _lines(view: MarketView) -> list[Line]:
    """The lines of a figure, bottom to top: actuals, before adjustments, previous vintages, new."""
    lines = [("actuals", _as_line(view.actuals, "y"), ACTUAL, "solid", 2)]
    if _adjusted(view.forecast):
        lines.append(
            ("before adjustments", _as_line(view.forecast, "yhat_base"), BASE, "dotted", 2)
        )
    for (vintage, prev), color in zip(view.previous.items(), PREVIOUS, strict=False):
        lines.append((f"official {vintage}", _as_line(prev, "yhat"), color, "dashed", 2))
    lines.append(("new forecast", _as_line(view.forecast, "yhat"), FORECAST, "solid", 3))
    return lines


def _shade(fig: Any, view: MarketView) -> None:
    """Adjustment periods and cleaned disruptions as shaded spans with a hover label."""
    from bokeh.models import ColumnDataSource

    bottom, top = extent(view)
    for spans, color, label in (
        (view.adjustments, ADJUSTMENT, "adjustment"),
        (view.cleaned, CLEANED, "cleaned disruption"),
    ):
        if len(spans):
            _span_quads(fig, ColumnDataSource(spans.assign(bottom=bottom, top=top)), color, label)


def _intervals(fig: Any, fc: pd.DataFrame) -> None:
    """One band per interval level, widest first."""
    for lv in levels_widest_first(fc):
        lo, hi = bound_columns([lv])
        fig.varea(
            x=fc["date"],
            y1=fc[lo],
            y2=fc[hi],
            color=FORECAST,
            alpha=interval_alpha(lv),
            legend_label=f"{lv}% interval",
        )


def _draw_lines(fig: Any, view: MarketView) -> None:
    """The lines with one hover tool over all of them."""
    from bokeh.models import ColumnDataSource, HoverTool

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
        for label, df, color, dash, width in _lines(view)
        if len(df)
    ]
    fig.add_tools(
        HoverTool(
            renderers=renderers,
            tooltips=[("", "$name"), ("week", "@date{%F}"), ("value", "@value{0,0}")],
            formatters={"@date": "datetime"},
        )
    )


def bokeh_figure(view: MarketView, title: str | None, name: str, height: int = 320) -> Any:
    """An interactive figure of one market (or the total); no title when the page heads it."""
    from bokeh.models import NumeralTickFormatter
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
    _shade(fig, view)
    _intervals(fig, view.forecast)
    _draw_lines(fig, view)
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


#: prefix of the names of the on-demand market figure's renderers (unique in the document)
TEMPLATE = "market:"


def _template_line(fig: Any, label: str, color: str, dash: str, width: int) -> Any:
    """An empty named line of the on-demand figure."""
    from bokeh.models import ColumnDataSource

    src = ColumnDataSource({"date": [], "value": []})
    return fig.line(
        "date",
        "value",
        source=src,
        color=color,
        line_dash=dash,
        line_width=width,
        legend_label=label,
        name=TEMPLATE + label,
    )


def _template_spans(fig: Any) -> None:
    """Empty named adjustment and cleaned spans with a hover label."""
    from bokeh.models import ColumnDataSource

    for color, label in ((ADJUSTMENT, "adjustment"), (CLEANED, "cleaned disruption")):
        src = ColumnDataSource({"start": [], "end": [], "bottom": [], "top": [], "label": []})
        _span_quads(fig, src, color, label, name=TEMPLATE + label)


def _span_quads(fig: Any, src: Any, color: str, label: str, **kwargs: Any) -> None:
    """Shaded start-to-end spans from `src` with a hover showing each one's label."""
    from bokeh.models import HoverTool

    r = fig.quad(
        left="start",
        right="end",
        bottom="bottom",
        top="top",
        source=src,
        color=color,
        alpha=0.25,
        legend_label=label,
        **kwargs,
    )
    fig.add_tools(HoverTool(renderers=[r], tooltips=[(label, "@label")]))


def market_template(levels: list[int], vintages: list[str]) -> Any:
    """One market figure with empty named sources: the paged report fills it with the market clicked.

    The renderers are those of `bokeh_figure` (spans, one band per interval level, actuals,
    before adjustments, the previous vintages, the new forecast), each named
    `TEMPLATE + legend label` so the page finds it; a renderer without data is hidden.
    """
    from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
    from bokeh.plotting import figure

    fig = figure(
        name="market",
        x_axis_type="datetime",
        height=320,
        sizing_mode="stretch_width",
        tools="pan,xwheel_zoom,box_zoom,reset,save",
        active_scroll=None,
    )
    _template_spans(fig)
    for lv in sorted(levels, reverse=True):
        label = f"{lv}% interval"
        fig.varea(
            x="date",
            y1="lo",
            y2="hi",
            source=ColumnDataSource({"date": [], "lo": [], "hi": []}),
            color=FORECAST,
            alpha=interval_alpha(lv),
            legend_label=label,
            name=TEMPLATE + label,
        )
    styles = [("actuals", ACTUAL, "solid", 2), ("before adjustments", BASE, "dotted", 2)]
    styles += [(f"official {v}", c, "dashed", 2) for v, c in zip(vintages, PREVIOUS, strict=False)]
    lines = [
        _template_line(fig, *style) for style in [*styles, ("new forecast", FORECAST, "solid", 3)]
    ]
    fig.add_tools(
        HoverTool(
            renderers=lines,
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
