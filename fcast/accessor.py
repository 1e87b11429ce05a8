"""The `.fcast` xarray accessor: the stages and plots on a cube, a tuning cube, a forecast or curves.

Registered when `fcast.notebook` is imported (also by `fcast.load` and `fcast.client`). Its methods
call the stage functions with the Dataset's own coordinates and attributes; the notebook facade
(`fcast.notebook`) holds the shared client, data loading and plot helpers it uses.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import xarray as xr

from fcast.contract import OK
from fcast.core.apply import apply as _apply
from fcast.core.apply import combine_of, members_from_selection, to_table
from fcast.core.label import label as _label
from fcast.core.label import required_history
from fcast.core.metrics import finish
from fcast.core.select import score as _score
from fcast.core.select import select as _select
from fcast.core.select import split_weights
from fcast.core.tune import tune as _tune
from fcast.data import season_length
from fcast.errors import DataError
from fcast.markets.proxy_options import NewMarketsConfig

if TYPE_CHECKING:
    from fcast.infra.store import Store


from fcast.notebook import (
    _client,
    _forecast_frame,
    _vintage_frames,
    plot_cube,
    plot_curves,
    plot_forecast,
    read_table_of_markets,
    space,
    vintages,
)


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
        from fcast.notebook import inline_bokeh
        from fcast.output.plots import tuning_heatmap

        self._metric()
        inline_bokeh()
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
