"""The weekly job: each market's own latest tuned selection refitted on the newest data."""

import logging
from typing import Any

import pandas as pd

from fcast.config import RunConfig
from fcast.errors import StoreError
from fcast.infra.store import Store
from fcast.jobs import selections
from fcast.jobs.intervals import calibrate_stored
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
    write_outputs,
)
from fcast.jobs.prepare import (
    start_run,
)
from fcast.jobs.totals import split_panel, tuned_panel, with_panel

log = logging.getLogger(__name__)


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
    if not len(tuned_table) and not store.exists("latest", "tuning.json"):
        raise StoreError(
            f"no tuning run in store {store.url}: run `fcast run tuning -c CONFIG` first"
        )
    run_id, prep = start_run(
        store, cfg, "weekly", markets, as_of, client=client, progress=progress, timer=timer
    )
    with timer("load"):
        business = business_input(cfg, prep)
        mature = prep.of("mature")
        selection = selections.of_markets(tuned_table, mature)
        tuned_markets = set(selection["market"].astype(str))
        untuned = [k for k in mature if k not in tuned_markets]
        run_markets = [k for k in mature if k in tuned_markets]
        if not mature and not prep.of("new") and not business.custom:
            raise StoreError(
                f"no market to forecast in {store.url} (no mature, new or custom market)"
            )
        old = selections.stale(selection, cfg.select.max_age_days)
    manifest = new_manifest(
        cfg,
        "weekly",
        run_id,
        prep,
        sorted(markets) if markets else ["*"],
        tuning_run=max(selection["run_id"].astype(str), default=None),  # the newest
        tuning_runs=sorted(set(selection["run_id"].astype(str))),
        as_of=as_of,
        untuned_markets=untuned,
        cluster=cluster_info(client),
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
    panel, agg_selection = tuned_panel(cfg, prep, tuned_table)  # the total and groups' own
    y = with_panel(prep.cube["y_clean"].sel(market=run_markets + untuned), panel)
    refit = pd.concat([selection[selection["market"].isin(run_markets)], agg_selection])
    try:
        with timer("apply"):
            used = refit.drop(columns=selections.PROVENANCE)
            fc = apply_selection(cfg, y, used, untuned, client, countries=prep.countries)
            # the markets' stored calibration: the aggregates keep their models' bounds
            ours = selection[selection["market"].isin(run_markets)]
            fc = calibrate_stored(cfg, store, fc, y, ours)
        fc, aggregates = split_panel(fc, panel)
        table, proxies, qc = write_outputs(
            store, run_id, cfg, prep, fc, business, client, timer, progress, aggregates
        )
        store.write_parquet(refit, "runs", run_id, "selection.parquet")
    except BaseException as exc:
        fail_run(store, manifest, timer, exc)
        raise
    manifest = finish_run(
        store, manifest, timer, qc=qc_counts(qc), adjustments=[a.id for a in business.adjustments]
    )
    return RunResult(run_id, store.run_url(run_id), used, table, manifest, proxies)
