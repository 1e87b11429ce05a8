"""The tuning job: full search on the mature markets, selection, refit; updates the per-market selections."""

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from fcast.config import RunConfig
from fcast.core.label import label
from fcast.core.select import select
from fcast.core.series import lags
from fcast.core.space import load_space, models_of
from fcast.core.tune import tune
from fcast.data import season_length
from fcast.errors import DataError
from fcast.infra.lock import store_lock
from fcast.infra.store import Store
from fcast.infra.warehouse import actuals_hash, read_actuals_source, sql_source
from fcast.jobs import selections
from fcast.jobs.intervals import calibrate_tuned
from fcast.jobs.manifest import (
    RunResult,
    Timer,
    cluster_info,
    fail_run,
    finish_run,
    new_manifest,
    qc_counts,
)
from fcast.jobs.outputs import (
    apply_selection,
    business_input,
    holiday_x,
    unselected_markets,
    write_outputs,
)
from fcast.jobs.prepare import (
    min_history,
    min_train,
    start_run,
)
from fcast.jobs.totals import aggregate_panel, split_panel, with_panel

log = logging.getLogger(__name__)


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
    # a SQL source has no file to hash: read once, hashed here and checked by `start_run`
    raw = (
        read_actuals_source(cfg.data.actuals, cfg.data.value, cfg.data.column_map)
        if sql_source(cfg.data.actuals)
        else None
    )
    input_hash = actuals_hash(cfg.data.actuals, cfg.data.value, raw)
    run_id = None if fresh else store.resumable("tuning", cfg.fingerprint(), input_hash, scope)
    resumed = run_id is not None
    run_id, prep = start_run(
        store, cfg, "tuning", markets, None, run_id, raw, client, progress, timer
    )
    del raw  # the whole long table: not needed after QA (the cube has the values)
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
    manifest = new_manifest(
        cfg,
        "tuning",
        run_id,
        prep,
        scope,
        cluster=cluster_info(client),
        resumed=resumed,
        cv={
            "cutoffs": [str(c)[:10] for c in labels.cutoff.values],
            "holdout_start": holdout_start,
            "shifted": shifted_markets(prep.cube["y_clean"].sel(market=mature)),
        },
    )
    store.write_json(manifest, "runs", run_id, "manifest.json")
    store.write_text(
        Path(cfg.space).read_text() if "://" not in cfg.space else hp.attrs["space"],
        "runs",
        run_id,
        "space.yaml",
    )
    # the total and groups are extra series of the same tuning (a full run only: docs/totals.md)
    panel = aggregate_panel(cfg, prep) if markets is None else None
    if progress:
        n_series = len(mature) + (0 if panel is None else panel.sizes["market"])
        n_fits = n_series * hp.sizes["hp"] * cfg.cv.splits
        extra = "" if panel is None else f" (+ {panel.sizes['market']} aggregates)"
        log.info(
            f"run {run_id}: tuning {len(mature)} markets{extra} x {hp.sizes['hp']} hps x {cfg.cv.splits} splits (<= {n_fits} fits)"
        )
    y = with_panel(prep.cube["y_clean"].sel(market=mature), panel)
    x = holiday_x(cfg, y, models_of(hp, m), prep.countries)
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
                weighting=cfg.select.weighting,
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
            # calibrated on the markets alone: the aggregates keep their models' bounds
            mk = selection[selection["market"].isin(mature)]
            fc = calibrate_tuned(cfg, store, run_id, fc, y, tuning, mk)
        fc, aggregates = split_panel(fc, panel)
        table, proxies, qc = write_outputs(
            store, run_id, cfg, prep, fc, business, client, timer, progress, aggregates
        )
    except BaseException as exc:
        fail_run(store, manifest, timer, exc)
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
    manifest = finish_run(
        store,
        manifest,
        timer,
        counts=counts,
        unselected=unselected,
        qc=qc_counts(qc),
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


def shifted_markets(y: Any) -> dict[str, int]:
    """Markets that end before the panel and by how many periods (their CV dates are that much earlier)."""
    return {str(mk): int(k) for mk, k in zip(y["market"].values, lags(y), strict=True) if k}


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
