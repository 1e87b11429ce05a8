"""The pipeline: compose the stages into the tuning job and the weekly job.

Each job loads the actuals into the cube, segments the markets, runs the heavy stages on
the Dask client it is given (or in-process when it is given none), and writes the run
folder `<store>/runs/<run_id>/` with its manifest. The stages themselves know nothing of
files or configs.
"""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from fcast import __version__
from fcast.config import RunConfig, load_disruptions, load_event_calendars
from fcast.core.apply import Member, apply, combine_of, members_from_selection, to_table
from fcast.core.label import label, required_history
from fcast.core.models import Model
from fcast.core.select import select
from fcast.core.space import load_space, models_of
from fcast.core.tune import tune
from fcast.data import restrict, season_length
from fcast.data.calendar import future_index, holiday_features
from fcast.data.clean import clean
from fcast.data.qa import QAResult, run_qa
from fcast.data.qa import summary as qa_summary
from fcast.data.segment import read_markets, segment
from fcast.errors import DataError, StoreError
from fcast.infra.lock import store_lock
from fcast.infra.store import Store, utcnow
from fcast.infra.vintage import previous_vintages, read_vintage
from fcast.infra.warehouse import actuals_hash, actuals_label, read_actuals_source
from fcast.jobs import selections
from fcast.jobs.adjust import run_adjustments
from fcast.jobs.inputs import read_totals
from fcast.markets.adjustments import (
    Adjustment,
    adjustments_table,
    apply_adjustments,
    effects,
    horizon_dates,
)
from fcast.markets.custom import custom_members
from fcast.markets.proxies import forecast_new
from fcast.output.plots import save_cleaning_charts
from fcast.output.qc import qc_summary, run_qc
from fcast.redact import redact_tree

log = logging.getLogger(__name__)


@dataclass
class RunResult:
    """What a job produced: where, the selection used and the forecast."""

    run_id: str
    url: str
    selection: pd.DataFrame
    forecast: pd.DataFrame
    manifest: dict[str, Any] = field(default_factory=dict)
    proxies: pd.DataFrame | None = None


class Timer:
    """Wall-clock timings of named stages, for the manifest."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = round(time.perf_counter() - t0, 3)


def code_version() -> str:
    """The package version plus the git commit when running from a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def min_train(cfg: RunConfig) -> int:
    """Shortest training window: configured, or two seasons (at least 8 periods)."""
    return cfg.cv.min_train or max(2 * season_length(cfg.data.freq), 8)


def min_history(cfg: RunConfig) -> int:
    """Periods of history a market needs to be mature: configured, or what the latest CV split needs."""
    return cfg.segments.min_history or required_history(
        1, cfg.cv.step, cfg.cv_horizon, cfg.cv.holdout, min_train(cfg)
    )


@dataclass
class Prepared:
    """The input of a job after QA and cleaning: the cube (y, y_clean) of all markets, segments, records."""

    cube: xr.Dataset
    segments: xr.DataArray
    markets: pd.DataFrame | None
    input_hash: str
    qa: pd.DataFrame
    cleaning: pd.DataFrame

    def of(self, segment_name: str) -> list[str]:
        """Markets of one segment, in cube order."""
        return self.segments["market"].values[self.segments.values == segment_name].tolist()


class QAFailed(DataError):
    """Input QA found errors: the run stops before any compute."""

    def __init__(self, findings: pd.DataFrame, message: str) -> None:
        super().__init__(message)
        self.findings = findings


def run_input_qa(
    cfg: RunConfig,
    markets: list[str] | None = None,
    as_of: str | None = None,
    previous_markets: list[str] | None = None,
    raw: pd.DataFrame | None = None,
) -> QAResult:
    """QA of the raw actuals table (cut at `as_of`); errors in markets outside `markets` do not count."""
    table = read_actuals_source(cfg.data.actuals, cfg.data.value) if raw is None else raw
    if as_of is not None and "date" in table.columns:
        try:
            cut = pd.Timestamp(as_of)
        except ValueError:
            raise DataError(f"--as-of {as_of!r} is not a date (e.g. 2024-01-29)") from None
        dates = pd.to_datetime(table["date"], errors="coerce")
        table = table[dates.isna() | (dates <= cut)]
    result = run_qa(
        table,
        value=cfg.data.value,
        freq=cfg.data.freq,
        source=actuals_label(cfg.data.actuals),
        qa=cfg.qa,
        min_history=min_history(cfg),
        as_of=pd.Timestamp(as_of) if as_of else None,
        previous_markets=previous_markets,
    )
    return result


def _blocking(qa: QAResult, markets: list[str] | None) -> pd.DataFrame:
    """QA errors that stop this run: all of them, or those of the requested markets and global ones."""
    errors = qa.errors
    if markets:
        errors = errors[
            errors["market"].isna() | errors["market"].isin(markets) | (errors["market"] == "*")
        ]
    return errors


def prepare(
    cfg: RunConfig,
    markets: list[str] | None = None,
    as_of: str | None = None,
    previous_markets: list[str] | None = None,
    raw: pd.DataFrame | None = None,
) -> Prepared:
    """QA, cube, cleaning and segments; `markets` restricts the segments, proxies still see every market."""
    raw = read_actuals_source(cfg.data.actuals, cfg.data.value) if raw is None else raw
    qa = run_input_qa(cfg, markets, as_of, previous_markets, raw)
    blocking = _blocking(qa, markets)
    if len(blocking) or qa.cube is None:
        raise QAFailed(
            qa.findings,
            f"input QA failed for {actuals_label(cfg.data.actuals)}:\n{qa_summary(blocking if len(blocking) else qa.findings)}",
        )
    cube = qa.cube
    if markets:
        restrict(cube, markets)  # unknown markets are a clear error
    events = load_disruptions(cfg.clean.events) if cfg.clean.events else None
    cube, record = clean(
        cube,
        events,
        auto=cfg.clean.auto,
        season_length=season_length(cfg.data.freq),
        countries=cfg.holidays.country or None,
    )
    table = read_markets(cfg.data.markets) if cfg.data.markets else None
    segments = segment(
        cube,
        table,
        min_history=min_history(cfg),
        custom=cfg.custom_markets,
        as_of=pd.Timestamp(as_of) if as_of else None,
    )
    if markets:
        segments = segments.sel(market=[m for m in segments["market"].values if m in markets])
    return Prepared(
        cube,
        segments,
        table,
        actuals_hash(cfg.data.actuals, cfg.data.value, raw),
        qa.findings,
        record,
    )


def previous_input_markets(store: Store, kind: str) -> list[str] | None:
    """Markets of the input of the latest complete run of a kind (for the appeared/disappeared checks)."""
    done = [m for m in store.runs(kind) if m.get("status") == "complete" and "input_markets" in m]
    return done[-1]["input_markets"] if done else None


def _write_inputs(store: Store, run_id: str, prep: Prepared) -> None:
    """qa.parquet, cleaning.parquet and before/after charts of the run's cleaned markets."""
    store.write_parquet(prep.qa, "runs", run_id, "qa.parquet")
    store.write_parquet(prep.cleaning, "runs", run_id, "cleaning.parquet")
    # every market is cleaned (proxies use them all) but only the run's markets get charts
    charted = (
        prep.cleaning[prep.cleaning["market"].isin(prep.segments["market"].values)]
        if len(prep.cleaning)
        else prep.cleaning
    )
    if len(charted) and charted["applied"].any():
        try:
            save_cleaning_charts(prep.cube, charted, store.run_url(run_id, "charts"))
        except ImportError:
            log.info("note: install fcast[viz] for before/after cleaning charts")


def _start(
    store: Store,
    cfg: RunConfig,
    kind: str,
    markets: list[str] | None,
    as_of: str | None,
    run_id: str | None = None,
    raw: pd.DataFrame | None = None,
) -> tuple[str, Prepared]:
    """Create the run folder, run QA and cleaning, and write their records; QA errors fail the run here."""
    run_id = run_id or store.new_run_id(kind, cfg.fingerprint())
    try:
        prep = prepare(cfg, markets, as_of, previous_input_markets(store, kind), raw)
    except QAFailed as exc:
        store.write_parquet(exc.findings, "runs", run_id, "qa.parquet")
        store.write_json(
            {
                "run_id": run_id,
                "kind": kind,
                "status": "failed",
                "started": utcnow(),
                "error": "input QA failed",
                "config": redact_tree(cfg.model_dump(mode="json")),
            },
            "runs",
            run_id,
            "manifest.json",
        )
        raise
    _write_inputs(store, run_id, prep)
    return run_id, prep


def _new_markets(prep: Prepared, cfg: RunConfig) -> tuple[xr.Dataset | None, pd.DataFrame | None]:
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


def _manifest(
    cfg: RunConfig, kind: str, run_id: str, prep: Prepared, scope: list[str], **extra: Any
) -> dict[str, Any]:
    applied = prep.cleaning[prep.cleaning["applied"]] if len(prep.cleaning) else prep.cleaning
    return {
        "run_id": run_id,
        "kind": kind,
        "status": "running",
        "started": utcnow(),
        "fingerprint": cfg.fingerprint(),
        "input_hash": prep.input_hash,
        "scope": scope,
        "input_markets": prep.cube["market"].values.tolist(),
        "segments": {name: prep.of(name) for name in ("mature", "new", "custom")},
        "qa": {
            "errors": int((prep.qa["severity"] == "error").sum()),
            "warnings": int((prep.qa["severity"] == "warning").sum()),
        },
        "cleaning": {
            "removed": len(applied),
            "proposed_not_removed": len(prep.cleaning) - len(applied),
        },
        "data_end": str(prep.cube.time.values[-1])[:10],
        "code_version": code_version(),
        "config": redact_tree(cfg.model_dump(mode="json")),
        **extra,
    }


def _cluster_info(client: Any) -> dict[str, Any]:
    if client is None:
        return {"kind": "in-process"}
    from fcast.infra.cluster import describe

    return {"kind": "distributed", **describe(client)}


def known_markets(prep: Prepared) -> list[str]:
    """Markets of the actuals and of the markets table (adjustments may name any of them)."""
    known = prep.cube["market"].values.astype(str).tolist()
    if prep.markets is not None:
        known += prep.markets["market"].astype(str).tolist()
    return sorted(set(known))


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
    return BusinessInput(adjs, custom_members(forced, season_length(cfg.data.freq)))


def _previous_official(store: Store) -> pd.DataFrame | None:
    """The latest official vintage, for the deviation check."""
    names = previous_vintages(store, n=1)
    return read_vintage(store, names[0]) if names else None


def _outputs(
    store: Store,
    run_id: str,
    cfg: RunConfig,
    prep: Prepared,
    mature: xr.Dataset,
    business: BusinessInput,
    client: Any,
    timer: Timer,
    progress: bool,
) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.DataFrame]:
    """New and custom markets, business input and QC; writes forecast, proxies, adjustments and qc files."""
    parts, cubes = [to_table(mature, segment="mature")], [mature]
    with timer("new_markets"):
        new, proxies = _new_markets(prep, cfg)
    if new is not None and new.sizes["market"]:
        parts.append(to_table(new, segment="new"))
        cubes.append(new)
        store.write_parquet(proxies, "runs", run_id, "proxies.parquet")
    if business.custom:
        with timer("custom"):
            y = prep.cube["y_clean"].sel(market=list(business.custom))
            x = holiday_x(cfg, y, _members_models(business.custom))
            custom = apply(y, business.custom, cfg.horizon, cfg.levels, cfg.data.freq, client, x=x)
        parts.append(to_table(custom, segment="custom"))
        cubes.append(custom)
    table = pd.concat(parts, ignore_index=True)
    if business.adjustments:  # yhat_base and adjustment_id exist once business input does
        table = apply_adjustments(table, business.adjustments)
    store.write_parquet(table, "runs", run_id, "forecast.parquet")
    store.write_parquet(
        adjustments_table(business.adjustments, table), "runs", run_id, "adjustments.parquet"
    )
    fc = xr.concat(cubes, dim="market") if len(cubes) > 1 else mature
    fc.to_zarr(store.run_url(run_id, "forecast.zarr"), mode="w", zarr_format=2, consolidated=True)
    with timer("qc"):
        qc = run_qc(
            table,
            y=prep.cube["y_clean"],
            expected_markets=prep.segments["market"].values.astype(str).tolist(),
            previous=_previous_official(store),
            totals=read_totals(cfg.qc.totals) if cfg.qc.totals else None,
            cfg=cfg.qc,
            season_length=season_length(cfg.data.freq),
        )
    store.write_parquet(qc, "runs", run_id, "qc.parquet")
    if progress:
        for line in effects(table, business.adjustments):
            log.info(line)
        log.info(qc_summary(qc))
    return table, proxies, qc


def holiday_x(cfg: RunConfig, y: xr.DataArray, models: list[Model]) -> xr.DataArray | None:
    """Holiday features over y's markets, history and horizon, when any model takes regressors."""
    # per model, not per family: an arima with `holidays: none` takes no regressors
    if not any(mod.uses_x for mod in models):
        return None
    h = cfg.holidays
    return holiday_features(
        y["market"].values.tolist(),
        future_index(y["time"].values, cfg.horizon, cfg.data.freq),
        cfg.data.freq,
        lead=h.lead,
        lag=h.lag,
        events=load_event_calendars(h.events) if h.events else None,
        country=h.country,
    )


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
) -> xr.Dataset:
    """Refit the selection on all history and forecast; `fallback` markets get apply's fallback (no members).

    `x`: holiday features already built for these markets (else built here if a member needs them).
    """
    m = season_length(cfg.data.freq)
    members = {**members_from_selection(selection, m), **{mk: [] for mk in fallback}}
    if x is None:
        x = holiday_x(cfg, y, _members_models(members))
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


def _members_models(members: dict[str, list[Member]]) -> list[Model]:
    return [mod for ms in members.values() for mod, _ in ms]


def _qc_counts(qc: pd.DataFrame) -> dict[str, int]:
    return {
        "errors": int((qc["severity"] == "error").sum()),
        "warnings": int((qc["severity"] == "warning").sum()),
    }


def _finish(store: Store, manifest: dict[str, Any], timer: Timer, **extra: Any) -> dict[str, Any]:
    manifest.update(status="complete", finished=utcnow(), timings=timer.timings, **extra)
    store.write_json(manifest, "runs", manifest["run_id"], "manifest.json")
    return manifest


def _fail(store: Store, manifest: dict[str, Any], timer: Timer, exc: BaseException) -> None:
    manifest.update(status="failed", error=f"{type(exc).__name__}: {exc}", timings=timer.timings)
    store.write_json(manifest, "runs", manifest["run_id"], "manifest.json")


def run_tuning(
    cfg: RunConfig,
    markets: list[str] | None = None,
    client: Any = None,
    fresh: bool = False,
    progress: bool = True,
) -> RunResult:
    """Full search on the mature markets: tune, select, apply; saves the selection as the latest tuned one."""
    timer = Timer()
    store = Store(cfg.store)
    scope = sorted(markets) if markets else ["*"]
    raw = read_actuals_source(
        cfg.data.actuals, cfg.data.value
    )  # read once: a SQL source has no file to hash
    input_hash = actuals_hash(cfg.data.actuals, cfg.data.value, raw)
    run_id = None if fresh else store.resumable("tuning", cfg.fingerprint(), input_hash, scope)
    resumed = run_id is not None
    with timer("qa_clean"):
        run_id, prep = _start(store, cfg, "tuning", markets, None, run_id, raw)
    with timer("load"):
        business = business_input(cfg, prep)
        mature = prep.of("mature")
        if not mature:
            raise DataError(
                f"no market has enough history to tune (need {min_history(cfg)} periods); "
                f"markets: {prep.segments.market.values.tolist()}"
            )
        hp = load_space(cfg.space, cfg.data.freq)
        m = season_length(cfg.data.freq)
        labels = label(
            prep.cube.time,
            cfg.cv.splits,
            cfg.cv.step,
            cfg.cv_horizon,
            cfg.cv.holdout,
            min_train(cfg),
        )
    holdout_start = (
        str(prep.cube.time.values[labels.attrs["holdout_start"]])[:10] if cfg.cv.holdout else None
    )
    manifest = _manifest(
        cfg,
        "tuning",
        run_id,
        prep,
        scope,
        cluster=_cluster_info(client),
        resumed=resumed,
        cv={"cutoffs": [str(c)[:10] for c in labels.cutoff.values], "holdout_start": holdout_start},
    )
    store.write_json(manifest, "runs", run_id, "manifest.json")
    store.write_text(
        Path(cfg.space).read_text() if "://" not in cfg.space else hp.attrs["space"],
        "runs",
        run_id,
        "space.yaml",
    )
    if progress:
        n_fits = len(mature) * hp.sizes["hp"] * cfg.cv.splits
        log.info(
            f"run {run_id}: tuning {len(mature)} markets x {hp.sizes['hp']} hps x {cfg.cv.splits} splits (<= {n_fits} fits)"
        )
    y = prep.cube["y_clean"].sel(market=mature)
    x = holiday_x(cfg, y, models_of(hp, m))
    try:
        with timer("tune"):
            tuning, reports = tune(
                y,
                labels,
                hp,
                store.run_url(run_id, "tuning.zarr"),
                strategy=cfg.search.strategy,
                horizon=cfg.cv_horizon,
                metric=cfg.tune.metric,
                season_length=m,
                min_train=min_train(cfg),
                block_markets=cfg.tune.block_markets,
                client=client,
                progress=progress,
                task_timeout=cfg.tune.task_timeout,
                x=x,
                **(
                    {
                        "keep": cfg.search.keep,
                        "min_keep": cfg.select.top,
                        "weights": cfg.select.weights,
                    }
                    if cfg.search.strategy == "halving"
                    else {"block_hps": cfg.tune.block_hps}
                ),
            )
        with timer("select"):
            selection = select(
                tuning,
                y,
                top=cfg.select.top,
                combine=cfg.select.combine,
                weights=cfg.select.weights,
                holdout=cfg.cv.holdout,
                client=client,
                x=x,
            )
            store.write_parquet(selection, "runs", run_id, "selection.parquet")
        unselected = unselected_markets(selection, y["market"].values.tolist())
        if unselected:
            log.warning(
                f"no hp has a CV score for {len(unselected)} market(s) {unselected[:10]} "
                "(every hp failed or scored NaN on some split); they get the seasonal naive "
                "forecast (manifest: unselected)"
            )
        with timer("apply"):
            fc = apply_selection(cfg, y, selection, unselected, client, x)
        table, proxies, qc = _outputs(
            store, run_id, cfg, prep, fc, business, client, timer, progress
        )
    except BaseException as exc:
        _fail(store, manifest, timer, exc)
        raise
    status = tuning["status"]
    counts = {
        "fits": int(((status == 0) | (status == 1)).sum()),
        "failed": int((status == 1).sum()),
        "blocks_run": len(reports),
        "timed_out": [
            {"block": r.block, "seconds": r.seconds}
            for r in reports
            if getattr(r, "timed_out", False)
        ],
    }
    manifest = _finish(
        store,
        manifest,
        timer,
        counts=counts,
        unselected=unselected,
        qc=_qc_counts(qc),
        adjustments=[a.id for a in business.adjustments],
    )
    with store_lock(store, "selections", owner=f"tuning {run_id}"):
        selections.update(
            store,
            selections.with_provenance(
                selection, run_id, manifest["finished"], manifest["fingerprint"]
            ),
            y["market"].values.astype(str).tolist(),
        )
        store.set_latest("tuning", run_id)
    return RunResult(run_id, store.run_url(run_id), selection, table, manifest, proxies)


def run_weekly(
    cfg: RunConfig,
    markets: list[str] | None = None,
    as_of: str | None = None,
    client: Any = None,
    progress: bool = True,
) -> RunResult:
    """Reuse the latest tuned selection: refit on the newest data and forecast; new markets by proxies."""
    timer = Timer()
    store = Store(cfg.store)
    tuned_table = selections.current(store)
    if not len(tuned_table):
        raise StoreError(
            f"no tuning run in store {store.url}: run `fcast run tuning -c CONFIG` first"
        )
    with timer("qa_clean"):
        run_id, prep = _start(store, cfg, "weekly", markets, as_of)
    with timer("load"):
        business = business_input(cfg, prep)
        mature = prep.of("mature")
        selection = selections.of_markets(tuned_table, mature)
        tuned_markets = set(selection["market"].astype(str))
        untuned = [k for k in mature if k not in tuned_markets]
        run_markets = [k for k in mature if k in tuned_markets]
        if not run_markets and not prep.of("new") and not business.custom:
            raise StoreError(
                f"none of the markets {mature} has a tuned selection in store {store.url}; "
                f"run `fcast run tuning -c CONFIG --markets {','.join(mature)}`"
            )
        old = selections.stale(selection, cfg.select.max_age_days)
    manifest = _manifest(
        cfg,
        "weekly",
        run_id,
        prep,
        sorted(markets) if markets else ["*"],
        tuning_run=max(selection["run_id"].astype(str), default=None),  # the newest
        tuning_runs=sorted(set(selection["run_id"].astype(str))),
        as_of=as_of,
        untuned_markets=untuned,
        cluster=_cluster_info(client),
    )
    store.write_json(manifest, "runs", run_id, "manifest.json")
    if untuned and progress:
        log.warning(
            f"no tuned selection for {untuned}; they get the seasonal naive forecast "
            f"until `fcast run tuning --markets {','.join(untuned)}` (other markets keep theirs)"
        )
    if old and progress:
        log.warning(
            f"the tuned selection of {len(old)} market(s) {old[:10]} is older than "
            f"{cfg.select.max_age_days} days (select.max_age_days); `fcast selections` lists them"
        )
    y = prep.cube["y_clean"].sel(market=run_markets + untuned)
    try:
        with timer("apply"):
            used = selection[selection["market"].isin(run_markets)].drop(
                columns=selections.PROVENANCE
            )
            fc = apply_selection(cfg, y, used, untuned, client)
        table, proxies, qc = _outputs(
            store, run_id, cfg, prep, fc, business, client, timer, progress
        )
        store.write_parquet(
            selection[selection["market"].isin(run_markets)], "runs", run_id, "selection.parquet"
        )
    except BaseException as exc:
        _fail(store, manifest, timer, exc)
        raise
    manifest = _finish(
        store, manifest, timer, qc=_qc_counts(qc), adjustments=[a.id for a in business.adjustments]
    )
    return RunResult(run_id, store.run_url(run_id), used, table, manifest, proxies)


def chosen_table(selection: pd.DataFrame) -> pd.DataFrame:
    """One line per market: the chosen model(s), CV and holdout scores."""
    chosen = selection[selection["weight"] > 0]
    rows = []
    for market, grp in chosen.groupby("market", sort=True):
        ho = grp["ensemble_holdout_score"].iloc[0] if len(grp) > 1 else grp["holdout_score"].iloc[0]
        rows.append(
            {
                "market": market,
                "model": " + ".join(grp["label"]),
                "cv_score": round(float(np.average(grp["cv_score"], weights=grp["weight"])), 4),
                "holdout_score": round(float(ho), 4),
            }
        )
    return pd.DataFrame(rows)


def estimate_fits(cfg: RunConfig, markets: list[str] | None = None) -> int:
    """Upper bound on the CV fits a tuning run would do (to decide whether a cluster pays)."""
    n_mature = len(
        prepare(cfg, markets).of("mature")
    )  # QA and cleaning are fast (< 1 s on 60 markets)
    return n_mature * load_space(cfg.space, cfg.data.freq).sizes["hp"] * cfg.cv.splits
