"""A small web app for business users to adjust a market's forecast (Panel, served on localhost).

A person picks a market, sees its actuals and the current forecast, enters an adjustment
(kind, period, value, reason, author), sees the adjusted forecast at once, and saves it:
saving validates the adjustment against the markets, the horizon and the saved ones and
writes the same YAML as `fcast adjust add` (author and UTC time recorded). Start it with
`fcast adjust serve -c CONFIG` or `fcast.app.serve(...)`.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import holoviews as hv
import hvplot.pandas  # noqa: F401  (registers the .hvplot accessor)
import pandas as pd
import panel as pn
import xarray as xr
from bokeh.models import NumeralTickFormatter

from fcast.config import RunConfig, load_config
from fcast.contract import bound_columns, levels_in
from fcast.errors import ConfigError, FcastError
from fcast.jobs.adjust import (
    actuals_table,
    add_adjustment,
    default_author,
    load_adjustments,
    run_inputs,
)
from fcast.markets.adjustments import (
    KIND_HELP,
    KINDS,
    Adjustment,
    apply_adjustments,
    base_of,
    make_adjustment,
    preview,
)

ACTUAL, FORECAST, PREVIEW, MODEL = "#222222", "#1f77b4", "#e8590c", "#8c8c8c"
HISTORY = 104  # periods of actuals shown before the forecast
DEFAULT_VALUE = {"multiplicative": 1.1, "additive": 1000.0}  # suggested when the kind is chosen
NEUTRAL = {
    "multiplicative": 1.0,
    "additive": 0.0,
}  # set after a save, so the preview does not double it
SAVE_LOCK = threading.Lock()  # sessions share the process: one save (check, then write) at a time


class AdjustApp:
    """State and widgets of one browser session."""

    def __init__(
        self,
        forecast: pd.DataFrame,
        actuals: pd.DataFrame | xr.Dataset | xr.DataArray,
        adjustments: str | Path,
        markets: Sequence[str] | None = None,
        author: str | None = None,
        history: int = HISTORY,
    ) -> None:
        self.base = base_of(forecast.assign(date=pd.to_datetime(forecast["date"])))
        self.actuals = actuals_table(actuals)
        self.path = Path(adjustments)
        self.dates = pd.DatetimeIndex(sorted(self.base["date"].unique()))
        self.markets = sorted(set(markets or []) | set(self.base["market"].astype(str)))
        self.history = history
        self.saved = self._load()
        self._widgets(author)

    def _load(self) -> list[Adjustment]:
        return load_adjustments(self.path) if self.path.exists() else []

    def _widgets(self, author: str | None) -> None:
        shown = sorted(self.base["market"].astype(str).unique())
        lo, hi = self.dates[0].date(), self.dates[-1].date()
        first, last = (
            self.dates[min(3, len(self.dates) - 1)].date(),
            self.dates[min(8, len(self.dates) - 1)].date(),
        )
        w = pn.widgets
        self.market = w.Select(
            label="Market", options=shown, value=shown[0], css_classes=["fc-market"]
        )
        self.kind = w.Select(
            label="Kind", options=list(KINDS), value="multiplicative", css_classes=["fc-kind"]
        )
        self.start = w.DatePicker(
            label="From (period start)", value=first, start=lo, end=hi, css_classes=["fc-start"]
        )
        self.end = w.DatePicker(
            label="To (last period, inclusive)",
            value=last,
            start=lo,
            end=hi,
            css_classes=["fc-end"],
        )
        self.value = w.FloatInput(label="Value", value=1.1, step=0.01, css_classes=["fc-value"])
        self.reason = w.TextInput(
            label="Reason", placeholder="why, e.g. winter campaign", css_classes=["fc-reason"]
        )
        self.author = w.TextInput(
            label="Author", value=author or default_author(), css_classes=["fc-author"]
        )
        self.save = w.Button(label="Save adjustment", color="primary", css_classes=["fc-save"])
        self.tick = w.IntInput(value=0, visible=False)  # bumped after a save to redraw
        self.help = pn.pane.Markdown(help_text("multiplicative"), css_classes=["fc-help"])
        self.note = pn.pane.Markdown("", css_classes=["fc-note"])
        self.status = pn.pane.Markdown("", css_classes=["fc-status"])
        self.kind.param.watch(self._on_kind, "value")
        self.save.on_click(self._on_save)

    def _on_kind(self, event: Any) -> None:
        """A sensible default value for the new kind: a factor, zero, or the current mean level."""
        self.help.object = help_text(event.new)
        if event.new in DEFAULT_VALUE:
            self.value.value = DEFAULT_VALUE[event.new]
            return
        rows = self.current(self.market.value)
        inside = (rows["date"] >= pd.Timestamp(self.start.value)) & (
            rows["date"] <= pd.Timestamp(self.end.value)
        )
        self.value.value = round(
            float(rows.loc[inside, "yhat"].mean() if inside.any() else rows["yhat"].mean())
        )

    # --- data ------------------------------------------------------------------------

    def current(self, market: str) -> pd.DataFrame:
        """The market's forecast with the saved adjustments."""
        rows = self.base[self.base["market"].astype(str) == market]
        return apply_adjustments(rows, [a for a in self.saved if a.market == market])

    def _text(self, widget: Any) -> str:
        return str(widget.value_input or widget.value or "").strip()

    def draft(self, reason: str = "(draft)", author: str = "(draft)") -> Adjustment:
        """The adjustment the form describes (not saved); ConfigError when it is invalid."""
        if self.start.value is None or self.end.value is None or self.value.value is None:
            raise ConfigError("choose a period and a value")
        return make_adjustment(
            self.market.value,
            self.start.value,
            self.end.value,
            self.kind.value,
            float(self.value.value),
            reason,
            author,
            taken=[a.id for a in self.saved],
        )

    def previewed(self) -> tuple[pd.DataFrame | None, str]:
        """The market's forecast with the draft applied and a one-line note (the problem when invalid)."""
        try:
            adj = self.draft()
            rows = preview(self.base, adj, self.saved)
        except FcastError as exc:
            return None, f"preview not possible: {exc}"
        cur = self.current(adj.market)["yhat"].to_numpy()
        inside = adj.covers(rows["date"])
        change = float((rows["yhat"].to_numpy() - cur)[inside].sum())
        return rows, (
            f"preview: {int(inside.sum())} period(s) changed, {change:+,.0f} in total "
            f"vs the current forecast"
        )

    # --- view ------------------------------------------------------------------------

    def figure(self, *_: Any) -> hv.Overlay:
        """Actuals, the current forecast with its narrowest band, and the preview."""
        market = self.market.value
        hist = self.actuals[self.actuals["market"] == market].tail(self.history)
        cur = self.current(market)
        plot = hist.hvplot.line(x="date", y="y", color=ACTUAL, label="actuals")
        lo, hi = band(cur)
        if lo:
            plot = plot * cur.hvplot.area(
                x="date", y=lo, y2=hi, color=FORECAST, alpha=0.15, label=lo[-2:] + "% interval"
            )
        if cur["adjustment_id"].notna().any():
            plot = plot * cur.hvplot.line(
                x="date",
                y="yhat_base",
                color=MODEL,
                line_dash="dotted",
                label="model (no adjustments)",
            )
        plot = plot * cur.hvplot.line(x="date", y="yhat", color=FORECAST, label="current forecast")
        rows, self.note.object = self.previewed()
        if rows is not None:
            span = hv.VSpan(pd.Timestamp(self.start.value), pd.Timestamp(self.end.value))
            plot = (
                plot
                * span.opts(color=PREVIEW, alpha=0.08)
                * rows.hvplot.line(
                    x="date",
                    y="yhat",
                    color=PREVIEW,
                    line_dash="dashed",
                    line_width=2,
                    label="preview",
                )
            )
        return plot.opts(
            height=380,
            width=900,
            yformatter=NumeralTickFormatter(format="0,0"),
            legend_position="top_left",
            xlabel="",
            ylabel="",
            title=f"{market}: actuals and forecast",
        )

    def saved_table(self, *_: Any) -> pd.DataFrame:
        """The saved adjustments of the market."""
        cols = ["id", "kind", "value", "start", "end", "reason", "author", "created"]
        mine = [
            a.model_dump(include=set(cols)) for a in self.saved if a.market == self.market.value
        ]
        return pd.DataFrame(mine, columns=cols)

    def _on_save(self, _: Any = None) -> None:
        """Validate and write the adjustment; show the file or the problem."""
        reason, author = self._text(self.reason), self._text(self.author)
        try:
            if not reason or not author:
                raise ConfigError("a reason and an author are required")
            with SAVE_LOCK:
                self.saved = self._load()
                adj = self.draft(reason, author)
                target = add_adjustment(self.path, adj, self.markets, self.dates)
        except FcastError as exc:
            self.status.object = f"**not saved**: {exc}"
            return
        self.saved = self._load()
        self.status.object = f"**saved** {adj.id} to {target}"
        self.reason.value = ""
        if adj.kind in NEUTRAL:
            self.value.value = NEUTRAL[adj.kind]
        self.tick.value += 1

    def layout(self) -> pn.viewable.Viewable:
        """The page: the form on the left, the plot and the saved adjustments on the right."""
        deps = [self.market, self.kind, self.start, self.end, self.value, self.tick]
        plot = pn.pane.HoloViews(pn.bind(self.figure, *deps), css_classes=["fc-plot"])
        table = pn.pane.DataFrame(
            pn.bind(self.saved_table, self.market, self.tick), index=False, css_classes=["fc-saved"]
        )
        form = pn.Column(
            self.market,
            self.kind,
            self.help,
            self.start,
            self.end,
            self.value,
            self.reason,
            self.author,
            self.save,
            self.status,
            self.tick,
            width=340,
        )
        right = pn.Column(
            plot,
            self.note,
            "### Saved adjustments of this market",
            table,
            sizing_mode="stretch_width",
        )
        return pn.Column(
            "## fcast: adjust a forecast",
            f"Saved adjustments go to `{self.path}` and apply from the next run.",
            pn.Row(form, right, sizing_mode="stretch_width"),
            sizing_mode="stretch_width",
        )


def help_text(kind: str) -> str:
    """What the value means for a kind."""
    return f"**{kind}**: value is the {KIND_HELP[kind]}"


def band(rows: pd.DataFrame) -> tuple[str | None, str | None]:
    """The columns of the narrowest interval, or Nones."""
    levels = levels_in(list(rows.columns))
    if not levels:
        return None, None
    lo, hi = bound_columns(levels[:1])
    return lo, hi


def make_app(
    config: str | Path | RunConfig | None = None,
    forecast: pd.DataFrame | None = None,
    actuals: pd.DataFrame | xr.Dataset | xr.DataArray | None = None,
    *,
    adjustments: str | Path | None = None,
    markets: Sequence[str] | None = None,
    author: str | None = None,
) -> pn.viewable.Viewable:
    """The app for a run config (its latest forecast, actuals and adjustments folder) or explicit inputs."""
    cfg = load_config(config) if isinstance(config, (str, Path)) else config
    if forecast is None or actuals is None:
        if cfg is None:
            raise ConfigError("the adjust app needs a run config, or a forecast and actuals")
        inputs = run_inputs(cfg)
        fc, act, known = inputs.forecast, inputs.actuals, inputs.markets
        forecast, actuals = (
            (fc if forecast is None else forecast),
            (act if actuals is None else actuals),
        )
        markets = markets or known
    adjustments = adjustments or (cfg.adjustments if cfg else None)
    if adjustments is None:
        raise ConfigError(
            "no adjustments location: set `adjustments: adjustments/` in the run config"
        )
    return AdjustApp(forecast, actuals, adjustments, markets, author).layout()


def serve(
    config: str | Path | RunConfig | None = None,
    port: int = 5006,
    show: bool = False,
    address: str = "127.0.0.1",
    threaded: bool = False,
    **kwargs: Any,
) -> Any:
    """Serve the app on address:port, a fresh form per browser session; `threaded` returns the server thread."""
    cfg = load_config(config) if isinstance(config, (str, Path)) else config
    if cfg is not None and ("forecast" not in kwargs or "actuals" not in kwargs):
        inputs = run_inputs(cfg)
        kwargs = {
            "forecast": inputs.forecast,
            "actuals": inputs.actuals,
            "markets": inputs.markets,
            **kwargs,
        }
    make_app(cfg, **kwargs)  # fail here, before serving, on a bad config or missing inputs

    def session() -> pn.viewable.Viewable:
        return make_app(cfg, **kwargs)

    origins = [f"{address}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"]
    return pn.serve(
        {"adjust": session},
        port=port,
        address=address,
        show=show,
        threaded=threaded,
        start=True,
        websocket_origin=origins,
        title="fcast adjust",
        verbose=False,
    )
