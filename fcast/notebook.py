"""The notebook-facing API: a shared Dask client, `load`, and the `.fcast` accessor on xarray Datasets.

In a notebook::

    import fcast
    from fcast.notebook import client, load, sample_data   # registers `.fcast` on xarray Datasets

    client()                                                # a LocalCluster, started once, reused
    paths = sample_data()                                   # the built-in sample, in a temp folder
    cube = load(paths["actuals"], markets=["SE", "NO", "DK"], table=paths["markets"])
    tuning = cube.fcast.tune({"families": {"ets": {"spec": ["ANN", "AAdN"]}}}, horizon=26)
    tuning.fcast.heatmap("SE")                              # error over hp x split
    forecast = cube.fcast.apply(tuning.fcast.select(cube), horizon=52)
    forecast.fcast.plot(actuals=cube)

The accessor is thin: every method calls a stage function (`fcast.core.label.label`,
`fcast.core.tune.tune`, `fcast.core.select.select`, `fcast.core.apply.apply`, `fcast.markets.proxies`,
`fcast.output.publish.compare`) and returns its xarray (or pandas) result. One accessor serves
every fcast object; a method checks that the Dataset holds what it needs: a cube (`y`),
a tuning cube (`error`), a forecast (`yhat`) or launch curves (`curve`). Plots are
hvplot/holoviews objects, imported only when a plot is drawn.

Methods that compute take `client=`: a `distributed.Client`; `None` (the default) for the
client `client()` started, or in-process when none was started; `False` for in-process.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import xarray as xr

from fcast.contract import LEVEL_COLUMN, MARKET_LEVEL, levels_in, quantiles_of
from fcast.core.apply import to_table
from fcast.core.space import load_space, parse_space
from fcast.data import load_actuals, restrict
from fcast.errors import DataError
from fcast.markets.totals import aggregate_key
from fcast.output.offline import inline_bokeh

if TYPE_CHECKING:
    from distributed import Client

    from fcast.infra.store import Store

SAMPLE_ENV = "FCAST_SAMPLE_DIR"
_LOCK = threading.Lock()
_CLIENT: Any = None
_CLUSTER: Any = None
_SAMPLE_DIR: list[str] = []

ACTUAL, FORECAST, BAND = "#222222", "#1f77b4", "#1f77b4"
VINTAGE_COLORS = ("#ff7f0e", "#2ca02c", "#9467bd", "#8c564b")


# --- the shared Dask client -------------------------------------------------------------


def shared_client() -> Client | None:
    """The client `client()` started in this process, or None when there is none (or it was closed)."""
    if _CLIENT is None or _CLIENT.status != "running":
        return None
    return _CLIENT


def client(n_workers: int = 2, threads_per_worker: int = 1, **cluster_kwargs: Any) -> Client:
    """The session's Dask client: a LocalCluster started on the first call (arguments apply then), the same after."""
    global _CLIENT, _CLUSTER
    with _LOCK:
        existing = shared_client()
        if existing is not None:
            return existing
        from distributed import Client

        if _CLUSTER is None or _CLUSTER.status.name != "running":
            from fcast.infra.cluster import local_cluster

            _CLUSTER = local_cluster(n_workers, threads_per_worker, **cluster_kwargs)
        _CLIENT = Client(
            _CLUSTER
        )  # a new client on the running cluster when the old one was closed
    print(describe_client(_CLIENT), file=sys.stdout)
    return _CLIENT


def describe_client(c: Client) -> str:
    """One line: workers, threads, scheduler address and dashboard link."""
    from fcast.infra.cluster import describe

    d = describe(c)
    dash = f", dashboard {d['dashboard']}" if d["dashboard"] else ""
    return f"dask: {d['workers']} workers, {d['threads']} threads at {d['scheduler']}{dash}"


def close_client() -> None:
    """Shut down the shared client and its LocalCluster (the next `client()` starts a new one)."""
    global _CLIENT, _CLUSTER
    with _LOCK:
        if _CLIENT is not None:
            _CLIENT.close()
        if _CLUSTER is not None:
            _CLUSTER.close()
        _CLIENT = _CLUSTER = None


def _client(choice: Any) -> Any:
    """The client a computation uses: the given one, the shared one for None, in-process for False."""
    if choice is False:
        return None
    return shared_client() if choice is None else choice


# --- data --------------------------------------------------------------------------------


def sample_data(folder: str | Path | None = None) -> dict[str, str]:
    """Paths of the sample data files, written once into `folder`, else $FCAST_SAMPLE_DIR, else a temp folder."""
    from fcast.data.sample import write_sample

    root = Path(folder or os.environ.get(SAMPLE_ENV) or _temp_sample_dir())
    names = ("actuals", "markets", "events", "truth")
    paths = {n: str(root / f"{n}.parquet") for n in names}
    if not all(Path(p).exists() for p in paths.values()):
        return write_sample(str(root))
    return paths


def _temp_sample_dir() -> str:
    """One temporary folder per process for the sample data."""
    if not _SAMPLE_DIR:
        _SAMPLE_DIR.append(tempfile.mkdtemp(prefix="fcast-sample-"))
    return _SAMPLE_DIR[0]


def read_table_of_markets(table: str | Path | pd.DataFrame) -> pd.DataFrame:
    """The validated markets table from a path (CSV or Parquet, any fsspec URL) or a DataFrame."""
    from fcast.data.segment import read_markets, validate_markets

    return read_markets(str(table)) if isinstance(table, str | Path) else validate_markets(table)


def load(
    actuals: str | Path,
    *,
    value: str = "users",
    freq: str = "W-MON",
    markets: Sequence[str] | None = None,
    as_of: str | None = None,
    table: str | Path | pd.DataFrame | None = None,
) -> xr.Dataset:
    """The cube y(market, time) of an actuals file: a market subset, cut at `as_of`, the markets table as coords."""
    cube = load_actuals(str(actuals), value=value, freq=freq)
    if markets or as_of:
        cube = restrict(cube, list(markets) if markets else None, as_of)
    if table is not None:
        cube = with_table(cube, table)
    return cube


def with_table(cube: xr.Dataset, table: str | Path | pd.DataFrame) -> xr.Dataset:
    """The cube with the markets table's columns as coords along `market` (NaN or '' where missing)."""
    df = read_table_of_markets(table).set_index("market").reindex(cube["market"].values.astype(str))
    coords: dict[str, Any] = {}
    for col in df.columns:
        values = df[col]
        if pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values):
            coords[str(col)] = ("market", values.to_numpy())
        else:
            coords[str(col)] = ("market", values.fillna("").astype(str).to_numpy(dtype=str))
    out = cube.assign_coords(coords)
    if isinstance(table, str | Path):
        out.attrs["markets_table"] = str(table)
    return out


def space(spec: Mapping[str, Any] | str | Path | xr.Dataset, freq: str = "W-MON") -> xr.Dataset:
    """The hp dimension of a parameter space: a mapping as in a space file, a YAML path, or an hp Dataset."""
    if isinstance(spec, xr.Dataset):
        return spec
    if isinstance(spec, Mapping):
        return parse_space(dict(spec), freq=freq)
    return load_space(spec, freq=freq)


def _market_keys(table: pd.DataFrame) -> pd.Series:
    """The market dim's labels of a table's rows: the market, or `level:name` for a total or group row."""
    market = table["market"].astype(str)
    if LEVEL_COLUMN not in table.columns:
        return market
    level = table[LEVEL_COLUMN].astype(str)
    keys = [
        mk if lv == MARKET_LEVEL else aggregate_key(lv, mk)
        for lv, mk in zip(level, market, strict=True)
    ]
    return pd.Series(keys, index=table.index)


def forecast_cube(table: pd.DataFrame) -> xr.Dataset:
    """A forecast table (file contract: market, date, yhat, yhat_lo_L, yhat_hi_L, ...) as a forecast Dataset.

    With totals (a `level` column) the total and groups are markets `level:name`
    (`total:TOTAL`, `region:Europe`) and the Dataset has a `level(market)` coord.
    """
    df = table.assign(date=pd.to_datetime(table["date"]), market=_market_keys(table))
    levels = levels_in([str(c) for c in df.columns])
    wide = df.set_index(["market", "date"]).sort_index()
    ds = xr.Dataset({"yhat": wide["yhat"].to_xarray()}).rename(date="time")
    bounds = []
    for lv in levels:
        lo, hi = quantiles_of(lv)
        bounds.append(wide[f"yhat_lo_{lv}"].to_xarray().expand_dims(quantile=[lo]))
        bounds.append(wide[f"yhat_hi_{lv}"].to_xarray().expand_dims(quantile=[hi]))
    if bounds:
        joined = xr.concat(bounds, dim="quantile").rename(date="time").sortby("quantile")
        ds["bounds"] = joined.drop_vars(
            [c for c in joined.coords if c not in joined.dims]
        ).transpose("market", "time", "quantile")
    per_market = df.drop_duplicates("market").set_index("market")
    for col in ("family", "segment"):
        if col in per_market:
            ds[col] = (
                "market",
                per_market[col].reindex(ds["market"].values).fillna("").astype(str).to_numpy(),
            )
    if "origin" in per_market:  # each market's rows are the dates after its own origin
        origin = pd.DatetimeIndex(per_market["origin"].reindex(ds["market"].values))
        ds = ds.assign_coords(origin=("market", origin.to_numpy()))
        ds.attrs["horizon"] = int(df.groupby("market").size().max())
    if LEVEL_COLUMN in per_market:
        ds = ds.assign_coords(
            {LEVEL_COLUMN: ("market", per_market[LEVEL_COLUMN].reindex(ds["market"].values))}
        )
    ds.attrs["levels"] = json.dumps(levels)
    return ds.assign_coords(market=ds["market"].values.astype(str))


def vintages(
    store: str | Store, names: Sequence[str] | None = None, n: int = 2, aggregates: bool = True
) -> xr.Dataset:
    """Official forecasts yhat(vintage, market, time): `names`, else the `n` latest (newest first).

    With totals, the total and groups come too (`aggregates`), as `forecast_cube` names
    them, with a `level(market)` coord.
    """
    from fcast.infra.store import Store
    from fcast.infra.vintage import previous_vintages, read_vintage, vintage_manifest

    store = store if isinstance(store, Store) else Store(str(store))
    names = list(names) if names is not None else previous_vintages(store, n)
    if not names:
        return xr.Dataset(coords={"vintage": np.array([], dtype=str)})
    parts = [forecast_cube(read_vintage(store, name, aggregates))["yhat"] for name in names]
    level = {}
    for part in parts:
        if LEVEL_COLUMN in part.coords:
            level.update(
                zip(part["market"].values.tolist(), part[LEVEL_COLUMN].values.tolist(), strict=True)
            )
    parts = [p.drop_vars(LEVEL_COLUMN, errors="ignore") for p in parts]
    yhat = xr.concat(parts, dim="vintage", join="outer").assign_coords(
        vintage=np.array(names, dtype=str)
    )
    if level:  # markets of vintages before totals are markets
        yhat = yhat.assign_coords(
            {LEVEL_COLUMN: ("market", [level.get(m, MARKET_LEVEL) for m in yhat["market"].values])}
        )
    data_end = [str(vintage_manifest(store, name).get("data_end", "")) for name in names]
    return yhat.to_dataset(name="yhat").assign_coords(data_end=("vintage", data_end))


def _forecast_frame(fc: xr.Dataset) -> pd.DataFrame:
    """A forecast Dataset as the long table `fcast.output.publish.compare` reads (market, date, yhat)."""
    if "bounds" in fc and "levels" in fc.attrs:
        return to_table(fc)
    return (
        fc["yhat"]
        .to_dataframe()
        .reset_index()
        .rename(columns={"time": "date"})[["market", "date", "yhat"]]
    )


def _vintage_frames(previous: xr.Dataset) -> dict[str, pd.DataFrame]:
    """Vintage name -> its forecast table (the market rows), from a `vintages()` Dataset."""
    if LEVEL_COLUMN in previous.coords:  # the comparison is of markets
        previous = previous.sel(market=previous[LEVEL_COLUMN].values == MARKET_LEVEL)
    out = {}
    for name in previous["vintage"].values.tolist():
        df = previous["yhat"].sel(vintage=name, drop=True).to_dataframe().reset_index()
        out[str(name)] = df.rename(columns={"time": "date"}).dropna(subset=["yhat"])[
            ["market", "date", "yhat"]
        ]
    return out


# --- plots ----------------------------------------------------------------------------------


def _hv() -> Any:
    """holoviews with hvplot's pandas and xarray plotting registered."""
    import holoviews as hv

    inline_bokeh()
    import hvplot.pandas  # noqa: F401
    import hvplot.xarray  # noqa: F401

    return hv


def _layout(plots: list[Any], cols: int = 2) -> Any:
    """One plot as it is, several as a layout in `cols` columns."""
    hv = _hv()
    if len(plots) == 1:
        return plots[0]
    return hv.Layout(plots).cols(cols).opts(shared_axes=False)


def _counts() -> Any:
    """A bokeh tick formatter for counts: 950, 12k, 1.2m."""
    from bokeh.models import NumeralTickFormatter

    return NumeralTickFormatter(format="0.[0]a")


def _pick(
    ds: xr.Dataset, markets: str | Sequence[str] | None, limit: int | None = None
) -> list[str]:
    """The markets to show: the given ones (unknown ones are an error), else the first `limit`."""
    known = ds["market"].values.astype(str).tolist()
    if markets is None:
        return known[:limit] if limit else known
    chosen = [markets] if isinstance(markets, str) else list(markets)
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise DataError(
            f"unknown market(s) {unknown}; this object has {known[:20]}{' ...' if len(known) > 20 else ''}"
        )
    return chosen


def plot_cube(
    ds: xr.Dataset,
    markets: str | Sequence[str] | None = None,
    variable: str | None = None,
    width: int = 800,
    height: int = 320,
) -> Any:
    """Actuals over time, one line per market (`y_clean` when the cube has it)."""
    _hv()
    var = variable or ("y_clean" if "y_clean" in ds else "y")
    y = ds[var].sel(market=_pick(ds, markets))
    y = y.drop_vars([c for c in y.coords if c not in y.dims])
    df = y.to_dataframe(name=var).reset_index().dropna(subset=[var])
    label = ds["y"].attrs.get("long_name", var) if "y" in ds else var
    return df.hvplot.line(
        x="time",
        y=var,
        by="market",
        width=width,
        height=height,
        ylabel=label,
        xlabel="",
        title=f"{var} by market",
        legend="right",
        yformatter=_counts(),
    )


def plot_forecast(
    fc: xr.Dataset,
    actuals: xr.Dataset | xr.DataArray | None = None,
    markets: str | Sequence[str] | None = None,
    level: int = 80,
    history: int = 104,
    previous: xr.Dataset | None = None,
    width: int = 420,
    height: int = 260,
) -> Any:
    """Per market (the first 8 unless `markets` says): actuals, forecast, `level`% interval, previous vintages."""
    hv = _hv()
    y = actuals["y"] if isinstance(actuals, xr.Dataset) else actuals
    plots = []
    for m in _pick(fc, markets, limit=8):
        layers = []
        frame = pd.DataFrame(
            {"time": pd.DatetimeIndex(fc["time"].values), "yhat": fc["yhat"].sel(market=m).values}
        )
        if "bounds" in fc:
            lo, hi = quantiles_of(level)
            frame["lo"] = fc["bounds"].sel(market=m).sel(quantile=lo, method="nearest").values
            frame["hi"] = fc["bounds"].sel(market=m).sel(quantile=hi, method="nearest").values
            layers.append(
                frame.hvplot.area(
                    x="time", y="lo", y2="hi", alpha=0.25, color=BAND, label=f"{level}% interval"
                )
            )
        if y is not None and m in y["market"].values:
            hist = (
                y.sel(market=m).to_series().dropna().iloc[-history:].rename("actuals").reset_index()
            )
            layers.append(hist.hvplot.line(x="time", y="actuals", color=ACTUAL, label="actuals"))
        if previous is not None and m in previous["market"].values:
            for k, name in enumerate(previous["vintage"].values.tolist()):
                prev = (
                    previous["yhat"]
                    .sel(vintage=name, market=m)
                    .to_series()
                    .dropna()
                    .rename(str(name))
                    .reset_index()
                )
                layers.append(
                    prev.hvplot.line(
                        x="time",
                        y=str(name),
                        color=VINTAGE_COLORS[k % len(VINTAGE_COLORS)],
                        line_dash="dashed",
                        label=f"vintage {name}",
                    )
                )
        layers.append(frame.hvplot.line(x="time", y="yhat", color=FORECAST, label="forecast"))
        family = str(fc["family"].sel(market=m).values) if "family" in fc else ""
        title = f"{m}: {family}" if family else m
        ylabel = str(y.attrs.get("long_name", "yhat")) if y is not None else "yhat"
        plots.append(
            hv.Overlay(layers).opts(
                title=title,
                width=width,
                height=height,
                xlabel="",
                ylabel=ylabel,
                yformatter=_counts(),
                show_legend=not plots,
                legend_position="top_left",
                legend_opts={"background_fill_alpha": 0.6},
            )
        )
    return _layout(plots)


def plot_curves(
    ds: xr.Dataset,
    markets: str | Sequence[str] | None = None,
    highlight: Sequence[str] = (),
    width: int = 800,
    height: int = 320,
) -> Any:
    """Launch curves (users per capita by periods since launch), one line per market; `highlight` drawn thick."""
    hv = _hv()
    chosen = _pick(ds, markets)
    curve = ds["curve"].sel(market=chosen)
    curve = curve.drop_vars([c for c in curve.coords if c not in curve.dims])
    df = curve.to_dataframe(name="curve").reset_index().dropna(subset=["curve"])
    lines = [
        df[df["market"] == m].hvplot.line(
            x="week", y="curve", label=m, line_width=3 if m in highlight else 1.2
        )
        for m in chosen
        if (df["market"] == m).any()
    ]
    return hv.Overlay(lines).opts(
        width=width,
        height=height,
        title="launch curves",
        xlabel="periods since launch",
        ylabel="users per capita",
        legend_position="right",
    )


__all__ = [
    "client",
    "close_client",
    "forecast_cube",
    "inline_bokeh",
    "load",
    "plot_cube",
    "plot_curves",
    "plot_forecast",
    "sample_data",
    "shared_client",
    "space",
    "vintages",
    "with_table",
]


from fcast import accessor as _accessor  # noqa: E402, F401  (registers `.fcast` on xarray Datasets)

FcastAccessor = _accessor.FcastAccessor
