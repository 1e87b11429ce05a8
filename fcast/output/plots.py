"""Plot helpers (hvplot/holoviews, imported lazily so fcast works without the `viz` extra)."""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from typing import Any

import fsspec
import pandas as pd
import xarray as xr

from fcast.names import safe_name

OBSERVED, CLEANED = "observed (y)", "cleaned (y_clean)"


def _series(cube: xr.Dataset, market: str) -> pd.DataFrame:
    """Observed and cleaned values of one market as a date-indexed frame without leading NaN."""
    df = pd.DataFrame(
        {
            OBSERVED: cube["y"].sel(market=market).values,
            CLEANED: cube["y_clean"].sel(market=market).values,
        },
        index=pd.DatetimeIndex(cube["time"].values, name="date"),
    )
    return df.dropna(how="all")


def _windows(record: pd.DataFrame, market: str) -> pd.DataFrame:
    """The applied windows of one market."""
    if record is None or record.empty:
        return pd.DataFrame(columns=["start", "end", "kind", "source"])
    rows = record[(record["market"] == market) & record["applied"].astype(bool)]
    return rows.sort_values("start")


def cleaning_chart(
    cube: xr.Dataset, record: pd.DataFrame, market: str, width: int = 900, height: int = 320
) -> Any:
    """Before/after line chart of one market with the replaced windows shaded."""
    import holoviews as hv
    import hvplot.pandas  # noqa: F401  (registers .hvplot)

    df = _series(cube, market)
    value = cube["y"].attrs.get("long_name", "y")
    lines = df.hvplot.line(
        y=[OBSERVED, CLEANED],
        xlabel="date",
        ylabel=value,
        legend="top_left",
        color=["#9e9e9e", "#1f77b4"],
        width=width,
        height=height,
    )
    step = pd.Timedelta(df.index[1] - df.index[0]) if len(df) > 1 else pd.Timedelta(days=1)
    spans = [
        hv.VSpan(w.start, pd.Timestamp(w.end) + step).opts(color="#ff7f0e", alpha=0.2)
        for w in _windows(record, market).itertuples(index=False)
    ]
    n = len(spans)
    title = f"{market}: {n} one-time disruption{'s' if n != 1 else ''} removed"
    return hv.Overlay([lines, *spans]).opts(title=title)


def _markets(record: pd.DataFrame) -> list[str]:
    """Markets with at least one applied window."""
    if record is None or record.empty:
        return []
    return sorted(
        record.loc[record["applied"].astype(bool), "market"].astype(str).unique().tolist()
    )


def _png(cube: xr.Dataset, record: pd.DataFrame, market: str, path: str) -> str:
    """The same chart as a static PNG drawn with matplotlib (no browser needed)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    df = _series(cube, market)
    step = df.index[1] - df.index[0] if len(df) > 1 else pd.Timedelta(days=1)
    fig, ax = plt.subplots(figsize=(10, 3.6), dpi=100)
    ax.plot(df.index, df[OBSERVED], color="#9e9e9e", lw=1.2, label=OBSERVED)
    ax.plot(df.index, df[CLEANED], color="#1f77b4", lw=1.2, label=CLEANED)
    windows = _windows(record, market)
    for w in windows.itertuples(index=False):
        ax.axvspan(
            pd.Timestamp(w.start), pd.Timestamp(w.end) + step, color="#ff7f0e", alpha=0.2, lw=0
        )
    ax.set_title(
        f"{market}: {len(windows)} one-time disruption{'s' if len(windows) != 1 else ''} removed"
    )
    ax.set_ylabel(cube["y"].attrs.get("long_name", "y"))
    ax.legend(loc="upper left", frameon=False)
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def chart_name(market: str) -> str:
    """The file name of a market's cleaning chart (collision-free: see fcast.names.safe_name)."""
    return f"cleaning-{safe_name(market)}.html"


#: the folder next to the charts that holds the one copy of the JavaScript they share
STATIC = "static"
#: inline scripts at least this long are libraries (BokehJS, panel, shims), not a chart's own code
_LIBRARY_SIZE = 10_000
_INLINE_SCRIPT = re.compile(r'<script type="text/javascript">(.*?)</script>', re.S)
_LABEL = re.compile(r"/\*\s*BEGIN\s+([\w.-]+?)(?:\.min)?\.js\s*\*/|Original file: /npm/([\w.-]+?)@")
_PANEL_CDN = re.compile(
    r"https://cdn\.holoviz\.org/panel/([\w.]+)/dist/([\w./-]+?\.css)(\?v=[\w.]+)?"
)
_REMOTE_ICON = re.compile(r'<link rel="[^"]*icon"[^>]*href="https?://[^"]*"[^>]*>\s*')


def _library_name(code: str) -> str:
    """static/<library>-<content hash>.js: one file per distinct library script, whatever wrote it."""
    label = _LABEL.search(code[:400])
    stem = next((g for g in label.groups() if g), "lib") if label else "lib"
    return f"{STATIC}/{stem}-{hashlib.sha256(code.encode()).hexdigest()[:12]}.js"


def _write_once(path: str, text: str) -> None:
    """Write `text` to `path` unless it is there (atomic: charts of one run are written in parallel)."""
    if os.path.exists(path):
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".part")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def share_libraries(html: str, folder: str) -> str:
    """The page with its inline library scripts moved to `folder`/static/ (once) and linked by relative URL."""

    def link(m: re.Match[str]) -> str:
        code = m.group(1)
        if len(code) < _LIBRARY_SIZE:
            return m.group(0)
        name = _library_name(code)
        _write_once(os.path.join(folder, name), code)
        return f'<script type="text/javascript" src="{name}"></script>'

    html = _INLINE_SCRIPT.sub(link, html)
    return _REMOTE_ICON.sub("", _local_styles(html, folder))  # the icons need the network


def _local_styles(html: str, folder: str) -> str:
    """The page with panel's CDN stylesheets copied from the installed panel to static/panel-<version>/."""
    import panel

    def copy(m: re.Match[str]) -> str:
        source = os.path.join(os.path.dirname(panel.__file__), "dist", *m.group(2).split("/"))
        if m.group(1) != panel.__version__ or not os.path.isfile(source):
            return m.group(0)
        name = f"{STATIC}/panel-{m.group(1)}/{m.group(2)}"
        with open(source, encoding="utf-8") as fh:
            _write_once(os.path.join(folder, name), fh.read())
        return name

    return _PANEL_CDN.sub(copy, html)


def _save_local(
    cube: xr.Dataset, record: pd.DataFrame, market: str, folder: str, png: bool
) -> list[str]:
    """Write one market's chart as offline HTML linking the shared static/ scripts, optionally PNG."""
    import hvplot
    from bokeh.resources import INLINE

    path = os.path.join(folder, chart_name(market))
    hvplot.save(cleaning_chart(cube, record, market), path, resources=INLINE)
    with open(path, encoding="utf-8") as fh:
        html = share_libraries(fh.read(), folder)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(html)
    return [path, _png(cube, record, market, path[: -len(".html")] + ".png")] if png else [path]


def _upload(fs: Any, local: str, base: str) -> None:
    """Copy the shared static/ files of a chart folder to a remote one (skipping those there)."""
    for root, _, files in os.walk(os.path.join(local, STATIC)):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(root, name), local).replace(os.sep, "/")
            remote = f"{base.rstrip('/')}/{rel}"
            if not fs.exists(remote):
                fs.put_file(os.path.join(root, name), remote)


def save_cleaning_charts(
    cube: xr.Dataset, record: pd.DataFrame, folder: str, png: bool = False
) -> list[str]:
    """Write `cleaning-<safe_name(market)>.html` (and .png) under `folder` (any fsspec URL) per market with a removal.

    The pages share one copy of BokehJS and panel's scripts in `folder`/static/, linked by
    relative URL: small files that open offline as long as static/ stays next to them.
    """
    markets = _markets(record)
    if not markets:
        return []
    fs, base = fsspec.core.url_to_fs(folder)
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    local = "file" in protocols
    out: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        target = base if local else tmp
        os.makedirs(target, exist_ok=True)
        for market in markets:
            paths = _save_local(cube, record, market, target, png)
            if not local:
                for p in paths:
                    fs.put_file(p, f"{base.rstrip('/')}/{os.path.basename(p)}")
                paths = [f"{folder.rstrip('/')}/{os.path.basename(p)}" for p in paths]
            out += paths
        if not local:
            _upload(fs, tmp, base)
    return out


__all__ = [
    "STATIC",
    "chart_name",
    "cleaning_chart",
    "save_cleaning_charts",
    "share_libraries",
    "split_errors",
    "tuning_heatmap",
]


def split_errors(tuning: xr.Dataset) -> xr.DataArray:
    """The metric per split of a tuning cube: error(market, split, hp), NaN where a fit failed, was skipped or not run."""
    from fcast.contract import OK
    from fcast.core.metrics import finish

    metric = str(tuning.attrs.get("metric", "mase"))
    per_split = finish(metric, tuning["error"].mean("step"))
    return (
        per_split.where(tuning["status"] == OK)
        .rename("error")
        .compute()
        .assign_attrs(metric=metric)
    )


def tuning_heatmap(
    tuning: xr.Dataset,
    markets: str | list[str] | tuple[str, ...] | None = None,
    by: str = "hp",
    width: int = 520,
    height: int | None = None,
    cmap: str = "viridis_r",
) -> Any:
    """Error per split over hp x split of a tuning cube (`by='family'`: each family's best hp), as an hvplot heat map.

    Cells never evaluated (a successive-halving cube) or failed are gaps. Without `markets`,
    the first four; several markets are laid out in one column.
    """
    import holoviews as hv
    import hvplot.pandas  # noqa: F401

    from fcast.errors import DataError

    if by not in ("hp", "family"):
        raise ValueError(f"by must be 'hp' or 'family', got {by!r}")
    known = tuning["market"].values.astype(str).tolist()
    chosen = (
        known[:4] if markets is None else [markets] if isinstance(markets, str) else list(markets)
    )
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise DataError(f"unknown market(s) {unknown}; this cube has {known[:20]}")
    errors = split_errors(tuning)
    cutoffs = dict(
        zip(
            errors["split"].values,
            [
                f"{s} ({str(c)[:10]})"
                for s, c in zip(errors["split"].values, errors["cutoff"].values, strict=True)
            ],
            strict=True,
        )
    )
    rows = "label" if by == "hp" else "family"
    plots = []
    for m in chosen:
        e = errors.sel(market=m, drop=True)
        if by == "family":
            e = e.groupby("family").min("hp")
        df = e.to_dataframe(name="error").reset_index()
        df["split"] = df["split"].map(cutoffs)
        plots.append(
            df.hvplot.heatmap(
                x="split",
                y=rows,
                C="error",
                cmap=cmap,
                colorbar=True,
                width=width,
                height=height or max(200, 60 + 24 * df[rows].nunique()),
                xlabel="split (cutoff)",
                ylabel=by,
                title=f"{m}: {errors.attrs['metric']} per split",
            ).opts(tools=["hover"])
        )
    if not plots:
        return hv.Overlay()
    return plots[0] if len(plots) == 1 else hv.Layout(plots).cols(1).opts(shared_axes=False)
