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

from fcast.contract import OK, levels_in, quantiles_of
from fcast.core.apply import apply as _apply
from fcast.core.apply import combine_of, members_from_selection, to_table
from fcast.core.label import label as _label
from fcast.core.label import required_history
from fcast.core.metrics import finish
from fcast.core.select import score as _score
from fcast.core.select import select as _select
from fcast.core.select import split_weights
from fcast.core.space import load_space, parse_space
from fcast.core.tune import tune as _tune
from fcast.data import load_actuals, restrict, season_length
from fcast.errors import DataError
from fcast.markets.proxies import NewMarketsConfig

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


def forecast_cube(table: pd.DataFrame) -> xr.Dataset:
    """A forecast table (file contract: market, date, yhat, yhat_lo_L, yhat_hi_L, ...) as a forecast Dataset."""
    df = table.assign(date=pd.to_datetime(table["date"]), market=table["market"].astype(str))
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
    ds.attrs["levels"] = json.dumps(levels)
    return ds.assign_coords(market=ds["market"].values.astype(str))


def vintages(store: str | Store, names: Sequence[str] | None = None, n: int = 2) -> xr.Dataset:
    """Official forecasts yhat(vintage, market, time): `names`, else the `n` latest (newest first)."""
    from fcast.infra.store import Store
    from fcast.infra.vintage import previous_vintages, read_vintage, vintage_manifest

    store = store if isinstance(store, Store) else Store(str(store))
    names = list(names) if names is not None else previous_vintages(store, n)
    if not names:
        return xr.Dataset(coords={"vintage": np.array([], dtype=str)})
    parts = [forecast_cube(read_vintage(store, name))["yhat"] for name in names]
    yhat = xr.concat(parts, dim="vintage", join="outer").assign_coords(
        vintage=np.array(names, dtype=str)
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
    """Vintage name -> its forecast table, from a `vintages()` Dataset."""
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


# --- the accessor ------------------------------------------------------------------------------


@xr.register_dataset_accessor("fcast")
class FcastAccessor:
    """`ds.fcast`: the fcast stages and plots on a cube, a tuning cube, a forecast or launch curves."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds

    # --- what the Dataset is

    def _need(self, variable: str, what: str) -> None:
        """A clear error when the Dataset lacks the variable this method works on."""
        if variable not in self._ds:
            raise TypeError(
                f"this method needs {what} (a Dataset with {variable!r}); "
                f"this one has {sorted(map(str, self._ds.data_vars))}"
            )

    @property
    def kind(self) -> str:
        """'tuning', 'forecast', 'curves', 'cube' or 'other', from the variables the Dataset holds."""
        for var, name in (
            ("error", "tuning"),
            ("yhat", "forecast"),
            ("curve", "curves"),
            ("y", "cube"),
        ):
            if var in self._ds:
                return name
        return "other"

    @property
    def freq(self) -> str:
        """The time frequency: attrs['freq'], else inferred from the time axis."""
        freq = self._ds.attrs.get("freq") or (
            xr.infer_freq(self._ds["time"]) if "time" in self._ds.dims else None
        )
        if not freq:
            raise DataError(
                "cannot tell the frequency of this Dataset: set attrs['freq'] (e.g. W-MON)"
            )
        return str(freq)

    @property
    def season_length(self) -> int:
        """Season length of the frequency (52 for weekly data)."""
        return int(self._ds.attrs.get("season_length") or season_length(self.freq))

    @property
    def target(self) -> xr.DataArray:
        """The series models train on: `y_clean` when the cube has it, else `y`."""
        self._need("y", "a cube")
        return self._ds["y_clean"] if "y_clean" in self._ds else self._ds["y"]

    def _table(self, table: str | Path | pd.DataFrame | None) -> pd.DataFrame:
        """The markets table: given, else the one `load(table=...)` recorded."""
        source = table if table is not None else self._ds.attrs.get("markets_table")
        if source is None:
            raise DataError(
                "no markets table: pass table=... or load the cube with load(..., table=...)"
            )
        return read_table_of_markets(source)

    # --- cube -> stages

    def clean(
        self, events: pd.DataFrame | str | Path | None = None, auto: bool = True
    ) -> tuple[xr.Dataset, pd.DataFrame]:
        """Remove one-time disruptions: the cube with `y_clean` added, and the record of removed windows."""
        from fcast.config import load_disruptions
        from fcast.data.clean import clean

        self._need("y", "a cube")
        if isinstance(events, str | Path):
            events = load_disruptions(events)
        cleaned, record = clean(
            self._ds[["y"]], events, auto=auto, season_length=self.season_length
        )
        return self._ds.assign(y_clean=cleaned["y_clean"]), record

    def label(
        self,
        splits: int = 4,
        step: int = 13,
        horizon: int = 52,
        holdout: int = 13,
        min_train: int | None = None,
    ) -> xr.Dataset:
        """Split x time roles of rolling-origin CV on this cube's time axis (`fcast.core.label`)."""
        return _label(self._ds["time"], splits, step, horizon, holdout, self._min_train(min_train))

    def _min_train(self, min_train: int | None) -> int:
        """The configured shortest training window, else two seasons (at least 8 periods)."""
        return min_train or max(2 * self.season_length, 8)

    def space(self, spec: Mapping[str, Any] | str | Path | xr.Dataset) -> xr.Dataset:
        """The hp dimension of a parameter space at this cube's frequency."""
        return space(spec, self.freq)

    def tune(
        self,
        spec: Mapping[str, Any] | str | Path | xr.Dataset,
        path: str | Path | None = None,
        *,
        splits: int = 4,
        step: int = 13,
        horizon: int = 52,
        holdout: int = 13,
        min_train: int | None = None,
        metric: str = "mase",
        markets: Sequence[str] | None = None,
        client: Any = None,
        block_markets: int | None = None,
        block_hps: int = 32,
        progress: bool = False,
    ) -> xr.Dataset:
        """Grid search market x split x hp (`fcast.core.tune`): the error cube as Zarr at `path` (else a temp folder)."""
        # the CV design stays in the attrs (holdout, freq) so `tuning.fcast.select(cube)` needs nothing else
        y = self.target if markets is None else self.target.sel(market=list(markets))
        labels = self.label(splits, step, horizon, holdout, min_train)
        hp = self.space(spec)
        where = (
            str(path)
            if path is not None
            else str(Path(tempfile.mkdtemp(prefix="fcast-tuning-")) / "tuning.zarr")
        )
        tuning, _ = _tune(
            y,
            labels,
            hp,
            where,
            horizon=horizon,
            metric=metric,
            season_length=self.season_length,
            min_train=self._min_train(min_train),
            block_markets=block_markets,
            block_hps=block_hps,
            client=_client(client),
            progress=progress,
        )
        tuning.attrs.update(holdout=holdout, freq=self.freq, path=where, step=step)
        return tuning

    def apply(
        self,
        selection: pd.DataFrame,
        horizon: int = 52,
        levels: Sequence[int] = (80, 95),
        client: Any = None,
    ) -> xr.Dataset:
        """Refit the selected model(s) per market on all history and forecast (`fcast.core.apply`)."""
        members = members_from_selection(selection, self.season_length)
        fc = _apply(
            self.target,
            members,
            horizon,
            list(levels),
            self.freq,
            _client(client),
            combine=combine_of(selection),
        )
        fc.attrs.update(freq=self.freq, value=str(self._ds.attrs.get("value", "y")))
        return fc

    def segments(
        self,
        table: str | Path | pd.DataFrame | None = None,
        min_history: int | None = None,
        custom: Sequence[str] = (),
    ) -> xr.DataArray:
        """Segment per market (mature, new, custom) incl. the table's pre-launch markets; default CV design's history."""
        # min_history by default: 1 split, 52-period test window, 13-period holdout, two seasons of training
        from fcast.data.segment import segment

        need = min_history or required_history(1, 13, 52, 13, self._min_train(None))
        return segment(self._ds, self._table(table), min_history=need, custom=custom)

    def launch_curves(
        self,
        table: str | Path | pd.DataFrame | None = None,
        markets: Sequence[str] | None = None,
        weeks: int | None = None,
    ) -> xr.Dataset:
        """Users per capita by periods since launch: `curve(market, week)` of the markets with a table row."""
        from fcast.data.segment import launch_dates
        from fcast.markets.proxies import launch_curves, market_size, usable

        tbl = self._table(table)
        rows = (
            list(markets) if markets is not None else self._ds["market"].values.astype(str).tolist()
        )
        rows = [m for m in usable(tbl, None, rows) if m in self._ds["market"].values]
        curves = launch_curves(
            self._ds["y"].sel(market=rows),
            launch_dates(self._ds, tbl),
            market_size(tbl, rows),
            weeks or self._ds.sizes["time"],
            self.freq,
        )
        return curves.to_dataset().assign_attrs(freq=self.freq)

    def new_markets(
        self,
        table: str | Path | pd.DataFrame | None = None,
        *,
        horizon: int = 52,
        levels: Sequence[int] = (80, 95),
        proxies: int = 5,
        method: str = "kmeans_knn",
        clusters: int | None = None,
        pca: int | None = None,
        features: Sequence[str] | None = None,
        min_history: int | None = None,
    ) -> tuple[xr.Dataset, pd.DataFrame]:
        """Proxy forecasts of the new and pre-launch markets (`fcast.markets.proxies`), and their proxies and weights."""
        from fcast.markets.proxies import forecast_new

        tbl = self._table(table)
        cfg = NewMarketsConfig(
            features=list(features) if features else None,
            proxies=proxies,
            method=method,
            clusters=clusters,
            pca=pca,
        )
        seg = self.segments(tbl, min_history)
        fc, chosen = forecast_new(
            self._ds["y"], tbl, seg, horizon=horizon, levels=list(levels), freq=self.freq, cfg=cfg
        )
        fc.attrs.update(freq=self.freq, value=str(self._ds.attrs.get("value", "y")))
        return fc, chosen

    # --- tuning cube -> selection, scores, heat map

    def _metric(self) -> str:
        """The metric the tuning cube stores."""
        self._need("error", "a tuning cube")
        return str(self._ds.attrs.get("metric", "mase"))

    def split_errors(self) -> xr.DataArray:
        """The metric per split: error(market, split, hp), NaN where a fit failed or was skipped."""
        metric = self._metric()
        per_split = finish(metric, self._ds["error"].mean("step"))
        return (
            per_split.where(self._ds["status"] == OK)
            .rename("error")
            .compute()
            .assign_attrs(metric=metric)
        )

    def scores(self, weights: str | Sequence[float] = "linear") -> xr.DataArray:
        """Weighted CV score(market, hp) as the selector ranks it (NaN: failed on a split)."""
        metric = self._metric()
        w = split_weights(self._ds["split"].values, weights)
        return (
            _score(self._ds["error"], self._ds["status"], w, metric)
            .compute()
            .assign_attrs(metric=metric)
        )

    def family_scores(self, weights: str | Sequence[float] = "linear") -> xr.DataArray:
        """The best score of each family per market: score(market, family)."""
        return self.scores(weights).groupby("family").min("hp").rename("score")

    def select(
        self,
        cube: xr.Dataset | xr.DataArray,
        *,
        top: int = 3,
        combine: str = "best",
        weights: str | Sequence[float] = "linear",
        holdout: int | None = None,
        client: Any = None,
    ) -> pd.DataFrame:
        """The selection table (`fcast.core.select`): top-X per market by CV score, chosen on the final holdout."""
        self._metric()
        y = cube.fcast.target if isinstance(cube, xr.Dataset) else cube
        ho = int(self._ds.attrs.get("holdout", 0) if holdout is None else holdout)
        return _select(
            self._ds,
            y,
            top=top,
            combine=combine,
            weights=weights,
            holdout=ho,
            client=_client(client),
        )

    def heatmap(
        self,
        market: str | Sequence[str] | None = None,
        by: str = "hp",
        width: int = 520,
        height: int | None = None,
        cmap: str = "viridis_r",
    ) -> Any:
        """Error per split over hp x split (`by='family'`: each family's best hp) as an hvplot heat map."""
        from fcast.output.plots import tuning_heatmap

        self._metric()
        return tuning_heatmap(self._ds, market, by, width, height, cmap)

    # --- forecast -> table, comparison

    def table(self, segment: str = "mature") -> pd.DataFrame:
        """The forecast as the file-contract table (`fcast.to_table`)."""
        self._need("yhat", "a forecast")
        return to_table(self._ds, segment=segment)

    def compare(
        self,
        previous: xr.Dataset | str | Store,
        actuals: xr.Dataset | pd.DataFrame | None = None,
        n: int = 2,
    ) -> pd.DataFrame:
        """This forecast against a `vintages()` Dataset, or a store's `n` latest vintages (`fcast.output.publish.compare`)."""
        from fcast.output.publish import actuals_frame, compare

        self._need("yhat", "a forecast")
        prev = previous if isinstance(previous, xr.Dataset) else vintages(previous, n=n)
        hist = actuals_frame(actuals) if actuals is not None else None
        return compare(_forecast_frame(self._ds), _vintage_frames(prev), hist)

    # --- plots

    def plot(self, markets: str | Sequence[str] | None = None, **kwargs: Any) -> Any:
        """An inline hvplot figure of whatever this is: actuals, a forecast, launch curves or a tuning heat map."""
        kind = self.kind
        if kind == "forecast":
            return plot_forecast(self._ds, markets=markets, **kwargs)
        if kind == "curves":
            return plot_curves(self._ds, markets, **kwargs)
        if kind == "tuning":
            return self.heatmap(markets, **kwargs)
        if kind == "cube":
            return plot_cube(self._ds, markets, **kwargs)
        raise TypeError(
            f"nothing to plot: expected y, yhat, curve or error; got {sorted(map(str, self._ds.data_vars))}"
        )


__all__ = [
    "FcastAccessor",
    "client",
    "close_client",
    "forecast_cube",
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
