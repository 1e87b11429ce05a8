"""Totals and groups of a forecast table: aggregate forecasts, reconciliation, adjustments carried up.

The flow (`fcast.jobs.totals` runs it inside every job, docs/totals.md):

1. `history`: every series' actuals, the markets' summed by S (`Hierarchy.aggregate`).
2. The total and groups get their own forecast: by default the jobs tune them like markets
   (`aggregate_series` are extra series of the tuning cube, `fcast.jobs.totals`);
   `forecast_aggregates` forecasts them with a fixed model (`hierarchy.family` / `params`)
   by `fcast.core.apply.apply`.
3. `reconciled_rows`: base forecasts of every series -> `fcast.markets.reconcile.reconcile`;
   the market rows get the reconciled means (their bounds move with them) and the aggregate
   rows the reconciled means and coherent intervals, with a `level` column.
4. `carry_adjustments`: after the business adjustments changed market rows, each aggregate
   moves by the sum of its markets' changes, so it stays coherent; its ``<col>_base`` keeps
   the value before adjustments, and ``yhat - yhat_base`` of the total is the part of the
   total that comes from adjustments.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from fcast.contract import LEVEL_COLUMN, MARKET_LEVEL, bound_columns, levels_in, quantiles_of
from fcast.core.apply import apply
from fcast.core.metrics import mase_scale
from fcast.core.models import Model
from fcast.errors import ConfigError
from fcast.markets.hierarchy import METHODS, Hierarchy, HierarchyConfig
from fcast.markets.reconcile import reconcile

#: how much lower (relative) a method's CV loss must be than bottom-up's for `auto` to pick it
MARGIN = 0.01
#: the segment of the aggregate rows
AGGREGATE_SEGMENT = "aggregate"


def aggregate_key(level: str, name: str) -> str:
    """An aggregate's label on a cube's market dimension: `level:name` (total:TOTAL, region:Europe)."""
    return f"{level}:{name}"


def series_keys(hier: Hierarchy) -> list[str]:
    """Unique labels of the aggregate series (`level:name`) for a cube's market dimension."""
    pairs = zip(hier.levels[: hier.n_aggregates], hier.names[: hier.n_aggregates], strict=True)
    return [aggregate_key(lv, nm) for lv, nm in pairs]


def history(hier: Hierarchy, y: xr.DataArray) -> np.ndarray:
    """Every series' actuals (series x time) from the markets' y(market, time); a market without actuals is 0."""
    markets = y.reindex(market=list(hier.markets))
    return hier.aggregate(markets.transpose("market", "time").values)


def aggregate_series(hier: Hierarchy, y: xr.DataArray) -> xr.DataArray:
    """The total's and groups' summed actuals as y(market, time), the market dim holding `series_keys`."""
    return xr.DataArray(
        history(hier, y)[: hier.n_aggregates],
        dims=("market", "time"),
        coords={"market": series_keys(hier), "time": y["time"].values},
        name=y.name,
        attrs=y.attrs,
    )


def forecast_aggregates(
    hier: Hierarchy,
    y: xr.DataArray,
    cfg: HierarchyConfig,
    horizon: int,
    levels: Sequence[int],
    freq: str,
    season_length: int,
    client: Any = None,
) -> xr.Dataset:
    """The aggregate series' own forecasts (market dim = `series_keys`) with the fixed model (`fixed_family`)."""
    keys = series_keys(hier)
    agg = aggregate_series(hier, y)
    model = Model.create(cfg.fixed_family, cfg.params, season_length)
    members = {k: [(model, 1.0)] for k in keys}
    return apply(agg, members, horizon, levels, freq, client, season_length=season_length)


def _matrix(
    table: pd.DataFrame, names: Sequence[str], dates: pd.DatetimeIndex, col: str
) -> np.ndarray:
    """One column of a long table as names x dates (missing cells 0)."""
    wide = table.pivot_table(index="market", columns="date", values=col, aggfunc="first")
    return wide.reindex(index=list(names), columns=dates).fillna(0.0).to_numpy(dtype="float64")


def _base(
    hier: Hierarchy, markets: pd.DataFrame, agg: xr.Dataset, levels: Sequence[int]
) -> tuple[pd.DatetimeIndex, np.ndarray, dict[str, np.ndarray]]:
    """Dates, base means and base bounds (lo-L / hi-L) of every series, in `hier` order."""
    dates = pd.DatetimeIndex(pd.to_datetime(agg["time"].values))
    yhat = np.vstack([agg["yhat"].values, _matrix(markets, hier.markets, dates, "yhat")])
    bounds = {}
    for lv in levels:
        for side, q, col in zip(("lo", "hi"), quantiles_of(lv), bound_columns([lv]), strict=True):
            top = agg["bounds"].sel(quantile=q).values
            bounds[f"{side}-{lv}"] = np.vstack([top, _matrix(markets, hier.markets, dates, col)])
    return dates, yhat, bounds


def reconciled_rows(
    hier: Hierarchy,
    markets: pd.DataFrame,
    agg: xr.Dataset,
    hist: np.ndarray,
    method: str,
    levels: Sequence[int],
    season_length: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The market rows with reconciled means, and the aggregate rows (with `level`), coherent at every date."""
    dates, yhat, bounds = _base(hier, markets, agg, levels)
    rec = reconcile(hier, yhat, bounds, hist, method, levels, season_length)
    k = hier.n_aggregates
    out = markets.copy()
    out["date"] = pd.to_datetime(out["date"])
    if method != "bottom_up":  # bottom-up keeps the market forecasts as they are
        shift = pd.DataFrame(rec.mean[k:] - yhat[k:], index=list(hier.markets), columns=dates)
        delta = shift.stack().rename("delta")
        delta.index.names = ["market", "date"]
        d = out.join(delta, on=["market", "date"])["delta"].fillna(0.0).to_numpy()
        for col in ["yhat", *bound_columns(levels)]:
            out[col] = np.maximum(out[col].to_numpy() + d, 0.0)
    family = dict(zip(series_keys(hier), agg["family"].values.tolist(), strict=True))
    rows = []
    for i, key in enumerate(series_keys(hier)):
        row = pd.DataFrame({"market": hier.names[i], "date": dates, "yhat": rec.mean[i]})
        for lv in levels:
            row[f"yhat_lo_{lv}"] = np.minimum(rec.bounds[f"lo-{lv}"][i], rec.mean[i])
            row[f"yhat_hi_{lv}"] = np.maximum(rec.bounds[f"hi-{lv}"][i], rec.mean[i])
        row["family"] = f"{method}({family[key]})"
        row["segment"] = AGGREGATE_SEGMENT
        row[LEVEL_COLUMN] = hier.levels[i]
        rows.append(row)
    return out.assign(**{LEVEL_COLUMN: MARKET_LEVEL}), pd.concat(rows, ignore_index=True)


def carry_adjustments(
    markets: pd.DataFrame, aggregates: pd.DataFrame, hier: Hierarchy
) -> pd.DataFrame:
    """The aggregate rows moved by their markets' adjustments (``<col> - <col>_base``), with `<col>_base`."""
    out = aggregates.copy()
    if "yhat_base" not in markets:
        return out
    dates = pd.DatetimeIndex(sorted(out["date"].unique()))
    k = hier.n_aggregates
    cols = [
        c for c in ["yhat", *bound_columns(levels_in(list(out.columns)))] if f"{c}_base" in markets
    ]
    names = list(hier.names[:k])
    levels_of = list(hier.levels[:k])
    for col in cols:
        moved = markets.assign(d=markets[col] - markets[f"{col}_base"])
        delta = hier.S[:k] @ _matrix(moved, hier.markets, dates, "d")
        shift = pd.DataFrame(
            delta, index=pd.MultiIndex.from_arrays([levels_of, names]), columns=dates
        )
        long = shift.stack().rename("d")
        long.index.names = [LEVEL_COLUMN, "market", "date"]
        d = out.join(long, on=[LEVEL_COLUMN, "market", "date"])["d"].fillna(0.0).to_numpy()
        out[f"{col}_base"] = out[col]
        out[col] = np.maximum(out[col].to_numpy() + d, 0.0)
    out["adjustment_id"] = pd.Series([None] * len(out), index=out.index, dtype=object)
    return out


def choose_method(
    hier: Hierarchy,
    hist: np.ndarray,
    dates: pd.DatetimeIndex,
    cutoffs: Sequence[int],
    horizon: int,
    cfg: HierarchyConfig,
    freq: str,
    season_length: int,
    client: Any = None,
) -> tuple[str, dict[str, float]]:
    """The method with the lowest mean MASE of the total and groups over the CV cutoffs, if it beats bottom-up by MARGIN.

    At each cutoff (periods of training) every series, markets too, is forecast `horizon`
    periods with the aggregates' model, then reconciled with each method; a method that
    cannot reconcile this hierarchy (top-down on crossed groups) is left out.
    """
    keys = [f"s{i}" for i in range(hist.shape[0])]
    model = Model.create(cfg.fixed_family, cfg.params, season_length)
    k = hier.n_aggregates
    losses: dict[str, list[float]] = {m: [] for m in METHODS}
    for c in cutoffs:
        train, test = hist[:, :c], hist[:, c : c + horizon]
        y = xr.DataArray(train, dims=("market", "time"), coords={"market": keys, "time": dates[:c]})
        fc = apply(
            y,
            {key: [(model, 1.0)] for key in keys},
            test.shape[1],
            (80,),
            freq,
            client,
            season_length=season_length,
        )
        base = fc["yhat"].values
        bounds = {
            f"{s}-80": fc["bounds"].sel(quantile=q).values
            for s, q in zip(("lo", "hi"), quantiles_of(80), strict=True)
        }
        scale = np.array([mase_scale(train[i], season_length) for i in range(k)])
        for method in METHODS:
            try:
                mean = reconcile(hier, base, bounds, train, method, (80,), season_length).mean
            except ConfigError:
                losses[method].append(float("inf"))
                continue
            losses[method].append(
                float(np.nanmean(np.mean(np.abs(mean[:k] - test[:k]), axis=1) / scale))
            )
    score = {m: float(np.mean(v)) for m, v in losses.items()}
    best = min(METHODS, key=lambda m: score[m])
    keep = score[best] >= (1 - MARGIN) * score["bottom_up"] - 1e-12  # noise is no reason to change
    return ("bottom_up" if keep else best), score
