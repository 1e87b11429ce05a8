"""What every job does after its mature-market forecast: new and custom markets, business input, QC, files."""

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import xarray as xr

from fcast.config import RunConfig, load_event_calendars
from fcast.contract import market_rows
from fcast.core.apply import Member, apply, combine_of, members_from_selection, to_table
from fcast.core.models import Model
from fcast.data import season_length
from fcast.data.calendar import future_index, holiday_features
from fcast.infra.store import Store
from fcast.infra.vintage import previous_vintages, read_vintage
from fcast.jobs.adjust import run_adjustments
from fcast.jobs.inputs import read_totals
from fcast.jobs.manifest import (
    Timer,
)
from fcast.jobs.prepare import (
    Prepared,
    known_markets,
    run_countries,
)
from fcast.jobs.totals import (
    AGGREGATE_COORD,
    base_cube,
    check_hierarchy,
    membership,
    reconcile_table,
    totals_lines,
    with_aggregates,
)
from fcast.markets.adjustments import (
    Adjustment,
    adjustments_table,
    apply_adjustments,
    effects,
    horizon_dates,
)
from fcast.markets.custom import custom_members
from fcast.markets.proxies import forecast_new
from fcast.output.qc import qc_summary, run_qc

log = logging.getLogger(__name__)

#: markets per row group of forecast.parquet (fcast.data.blockwise.market_row_groups)
FORECAST_BLOCK = 250


def new_markets(prep: Prepared, cfg: RunConfig) -> tuple[xr.Dataset | None, pd.DataFrame | None]:
    """Proxy forecasts for the new markets, when there are any and a markets table to find proxies."""
    if not prep.of("new"):
        return None, None
    if prep.markets is None:
        log.warning(
            f"new markets {prep.of('new')} skipped: no markets table (data.markets) to find proxies"
        )
        return None, None
    return forecast_new(
        prep.cube["y"],
        prep.markets,
        prep.segments,
        horizon=cfg.horizon,
        levels=cfg.levels,
        freq=cfg.data.freq,
        cfg=cfg.new_markets,
    )


@dataclass
class BusinessInput:
    """Adjustments in effect and the forced models of custom markets, validated before compute."""

    adjustments: list[Adjustment]
    custom: dict[str, list[Member]]


def business_input(cfg: RunConfig, prep: Prepared) -> BusinessInput:
    """Load and validate adjustments against the forecast dates, and build the custom markets' models."""
    dates = horizon_dates(prep.cube.time.values[-1], cfg.horizon, cfg.data.freq)
    adjs = run_adjustments(cfg.adjustments, known_markets(prep), dates)
    forced = {m: cfg.custom[m] for m in prep.of("custom")}
    check_hierarchy(cfg, prep)  # a market without a group value fails here, before compute
    return BusinessInput(adjs, custom_members(forced, season_length(cfg.data.freq)))


def previous_official(store: Store) -> pd.DataFrame | None:
    """The latest official vintage, for the deviation check."""
    names = previous_vintages(store, n=1)
    return read_vintage(store, names[0]) if names else None


def write_outputs(
    store: Store,
    run_id: str,
    cfg: RunConfig,
    prep: Prepared,
    mature: xr.Dataset,
    business: BusinessInput,
    client: Any,
    timer: Timer,
    progress: bool,
    aggregates: xr.Dataset | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """New and custom markets, business input and QC; writes forecast, proxies, adjustments and qc files.

    `aggregates`: the total's and groups' tuned base forecasts (`fcast.jobs.totals.split_panel`).
    """
    parts, cubes = [to_table(mature, segment="mature")], [mature]
    with timer("new_markets"):
        new, proxies = new_markets(prep, cfg)
    if new is not None and new.sizes["market"]:
        parts.append(to_table(new, segment="new"))
        cubes.append(new)
        store.write_parquet(proxies, "runs", run_id, "proxies.parquet")
    if business.custom:
        with timer("custom"):
            y = prep.cube["y_clean"].sel(market=list(business.custom))
            x = holiday_x(cfg, y, members_models(business.custom), prep.countries)
            custom = apply(y, business.custom, cfg.horizon, cfg.levels, cfg.data.freq, client, x=x)
        parts.append(to_table(custom, segment="custom"))
        cubes.append(custom)
    table = pd.concat(parts, ignore_index=True)
    with timer("totals"):  # the total and groups (hierarchy:), reconciled with the markets
        table, totals = reconcile_table(cfg, prep, table, client, aggregates)
    if business.adjustments:  # yhat_base and adjustment_id exist once business input does
        table = apply_adjustments(table, business.adjustments)
    full = with_aggregates(table, totals)  # aggregates follow their markets' adjustments
    table = market_rows(table)
    # row groups of FORECAST_BLOCK markets: readers can take it a block at a time (read_market_blocks)
    store.write_parquet(full, "runs", run_id, "forecast.parquet", block_markets=FORECAST_BLOCK)
    if totals is not None:
        store.write_parquet(membership(totals), "runs", run_id, "hierarchy.parquet")
    store.write_parquet(
        adjustments_table(business.adjustments, table), "runs", run_id, "adjustments.parquet"
    )
    fc = base_cube(cubes, totals)  # the base forecasts, before reconciliation and adjustments
    fc.to_zarr(store.run_url(run_id, "forecast.zarr"), mode="w", zarr_format=2, consolidated=True)
    with timer("qc"):
        qc = run_qc(
            table,
            y=prep.cube["y_clean"],
            expected_markets=prep.segments["market"].values.astype(str).tolist(),
            previous=previous_official(store),
            totals=read_totals(cfg.qc.totals) if cfg.qc.totals else None,
            cfg=cfg.qc,
            season_length=season_length(cfg.data.freq),
        )
    store.write_parquet(qc, "runs", run_id, "qc.parquet")
    if progress:
        for line in totals_lines(full):
            log.info(line)
        for line in effects(table, business.adjustments):
            log.info(line)
        log.info(qc_summary(qc))
    return table, proxies, qc


def holiday_x(
    cfg: RunConfig,
    y: xr.DataArray,
    models: list[Model],
    countries: Mapping[str, str] | None = None,
) -> xr.DataArray | None:
    """Holiday features over y's markets, history and horizon, when any model takes regressors.

    `countries`: the run's market -> country mapping (`Prepared.countries`; else read here).
    """
    # per model, not per family: an arima with `holidays: none` takes no regressors
    if not any(mod.uses_x for mod in models):
        return None
    h = cfg.holidays
    markets = y["market"].values.tolist()
    if AGGREGATE_COORD in y.coords:  # the total and groups have no country: features 0
        markets = [
            mk for mk, agg in zip(markets, y[AGGREGATE_COORD].values, strict=True) if not agg
        ]
    x = holiday_features(
        markets,
        future_index(y["time"].values, cfg.horizon, cfg.data.freq),
        cfg.data.freq,
        lead=h.lead,
        lag=h.lag,
        events=load_event_calendars(h.events) if h.events else None,
        country=run_countries(cfg) if countries is None else countries,
    )
    return x.reindex(market=y["market"].values.astype(str), fill_value=0.0)


def unselected_markets(selection: pd.DataFrame, markets: list[str]) -> list[str]:
    """Tuned markets the selector could not choose for (no hp with a CV score)."""
    chosen = set(selection.loc[selection["weight"] > 0, "market"].astype(str))
    return sorted(str(mk) for mk in markets if str(mk) not in chosen)


def apply_selection(
    cfg: RunConfig,
    y: xr.DataArray,
    selection: pd.DataFrame,
    fallback: list[str],
    client: Any,
    x: xr.DataArray | None = None,
    countries: Mapping[str, str] | None = None,
) -> xr.Dataset:
    """Refit the selection on all history and forecast; `fallback` markets get apply's fallback (no members).

    `x`: holiday features already built for these markets (else built here if a member needs them).
    """
    m = season_length(cfg.data.freq)
    members = {**members_from_selection(selection, m), **{mk: [] for mk in fallback}}
    if x is None:
        x = holiday_x(cfg, y, members_models(members), countries)
    return apply(
        y,
        members,
        cfg.horizon,
        cfg.levels,
        cfg.data.freq,
        client,
        x=x,
        combine=combine_of(selection),
        season_length=m,
    )


def members_models(members: dict[str, list[Member]]) -> list[Model]:
    return [mod for ms in members.values() for mod, _ in ms]
