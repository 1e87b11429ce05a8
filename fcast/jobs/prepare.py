"""A job's input: QA of the raw actuals, the cube, cleaning and segments, the run folder."""

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xarray as xr

from fcast.config import RunConfig, load_disruptions
from fcast.core.executor import Block, Progress, run_blocks
from fcast.core.label import required_history
from fcast.core.series import lags, origins
from fcast.core.space import load_space
from fcast.core.tune.plan import client_threads
from fcast.data import check_known, restrict, season_length
from fcast.data.blockwise import BlockMap, auto_block_markets
from fcast.data.clean import clean, most_changed
from fcast.data.ingest import codes_of
from fcast.data.qa import QAResult, run_qa
from fcast.data.qa import summary as qa_summary
from fcast.data.segment import countries_of, read_markets, segment
from fcast.errors import DataError
from fcast.infra.store import Store, utcnow
from fcast.infra.warehouse import actuals_hash, actuals_label, read_actuals_source
from fcast.jobs.manifest import Timer
from fcast.output.plots import save_cleaning_charts
from fcast.redact import redact_tree

log = logging.getLogger(__name__)


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
    #: market -> holiday country (`run_countries`), read once for QA, cleaning and the models
    countries: dict[str, str] = field(default_factory=dict)

    def of(self, segment_name: str) -> list[str]:
        """Markets of one segment, in cube order."""
        return self.segments["market"].values[self.segments.values == segment_name].tolist()


class QAFailed(DataError):
    """Input QA found errors: the run stops before any compute."""

    def __init__(self, findings: pd.DataFrame, message: str) -> None:
        super().__init__(message)
        self.findings = findings


@dataclass(frozen=True)
class Blocks:
    """How the per-market stages of `prepare` run: `map_blocks` (None: in this process) and the block size."""

    map_blocks: BlockMap | None = None
    markets: int | None = None


def cluster_map(client: Any, progress: bool = True) -> BlockMap:
    """A `BlockMap` that runs a data stage's blocks as tasks on `client` (`run_blocks`), with progress lines."""

    def run(fn: Callable[..., Any], args: Sequence[tuple], label: str) -> list[Any]:
        """Every block of the stage `label` as one task; the results in block order."""
        blocks = [Block(str(i), i, a) for i, a in enumerate(args)]
        shown = Progress(label, len(blocks)) if progress and blocks else None
        return run_blocks(fn, blocks, client=client, progress=shown, prefix=label)

    return run


def blocks_for(
    client: Any, n_markets: int, block_markets: int | None = None, progress: bool = True
) -> Blocks:
    """In this process without a client; else blocks on it, sized for its threads unless `block_markets` says."""
    if client is None:
        return Blocks(None, block_markets)
    size = block_markets or auto_block_markets(n_markets, client_threads(client) or 1)
    return Blocks(cluster_map(client, progress), size)


def run_countries(cfg: RunConfig, table: pd.DataFrame | None = None) -> dict[str, str]:
    """market -> holidays country: the markets table's `country` column, then `holidays.country` (which wins)."""
    if table is None and cfg.data.markets:
        table = read_markets(cfg.data.markets)
    return {**countries_of(table), **cfg.holidays.country}


def run_input_qa(
    cfg: RunConfig,
    markets: list[str] | None = None,
    as_of: str | None = None,
    previous_markets: list[str] | None = None,
    raw: pd.DataFrame | None = None,
    blocks: Blocks | None = None,
    countries: dict[str, str] | None = None,
) -> QAResult:
    """QA of the raw actuals table (cut at `as_of`); errors in markets outside `markets` do not count.

    `countries`: the run's market -> country mapping (default `run_countries`).
    """
    table = (
        read_actuals_source(cfg.data.actuals, cfg.data.value, cfg.data.column_map)
        if raw is None
        else raw
    )
    if as_of is not None and "date" in table.columns:
        try:
            cut = pd.Timestamp(as_of)
        except ValueError:
            raise DataError(f"--as-of {as_of!r} is not a date (e.g. 2024-01-29)") from None
        dates = pd.to_datetime(table["date"], errors="coerce", utc=False)
        if isinstance(dates.dtype, pd.DatetimeTZDtype):  # QA reports timezone-aware dates itself
            dates = dates.dt.tz_localize(None)
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
        map_blocks=(blocks or Blocks()).map_blocks,
        block_markets=(blocks or Blocks()).markets,
        countries=run_countries(cfg) if countries is None else countries,
    )
    return result


def blocking_errors(qa: QAResult, markets: list[str] | None) -> pd.DataFrame:
    """QA errors that stop this run: all of them, or those of the requested markets and global ones."""
    errors = qa.errors
    if markets:
        errors = errors[
            errors["market"].isna() | errors["market"].isin(markets) | (errors["market"] == "*")
        ]
    return errors


LISTED = 10


def ragged_policy(cube: xr.Dataset, policy: str, markets: list[str] | None = None) -> xr.Dataset:
    """`data.ragged` on markets (of `markets`, default all) that end before the panel.

    per_market keeps them (each is forecast and cross-validated from its own last actual),
    align cuts every market at the earliest end, error refuses the panel naming them.
    """
    y = cube["y"].sel(market=markets) if markets else cube["y"]
    early = lags(y)
    if policy == "per_market" or not early.any():
        return cube
    end = pd.Timestamp(cube["time"].values[-1])
    last = pd.Series(origins(y), index=y["market"].values.astype(str))[early > 0]
    listing = ", ".join(f"{m} ({str(d)[:10]})" for m, d in last.sort_values().head(LISTED).items())
    more = f" and {len(last) - LISTED} more" if len(last) > LISTED else ""
    if policy == "error":
        raise DataError(
            f"{len(last)} market(s) end before the panel's last date {str(end)[:10]}: {listing}{more} "
            "(data.ragged: error; per_market forecasts each market from its own last actual, "
            "align cuts every market at the earliest end)"
        )
    common = last.min()
    log.warning(
        f"data.ragged: align: every market cut at {str(common)[:10]}, the earliest end "
        f"({listing}{more}); the other markets' later actuals are not used"
    )
    return cube.sel(time=slice(None, common))


def prepare(
    cfg: RunConfig,
    markets: list[str] | None = None,
    as_of: str | None = None,
    previous_markets: list[str] | None = None,
    raw: pd.DataFrame | None = None,
    client: Any = None,
    block_markets: int | None = None,
    progress: bool = True,
    timer: Timer | None = None,
) -> Prepared:
    """QA, cube, cleaning and segments; `markets` restricts the segments, proxies still see every market.

    With a `client`, QA's per-market checks and the cleaning run as blocks of markets on
    the cluster (`block_markets` each, or sized for its threads); segmenting is vectorised.
    The result is the same whatever the blocks and the workers. Every block gets the run's
    countries (`run_countries`) and cleaning options. `timer` gets the stages `qa` and
    `clean` (the cleaning's baseline fits and detection).
    """
    timer = timer or Timer()
    raw = (
        read_actuals_source(cfg.data.actuals, cfg.data.value, cfg.data.column_map)
        if raw is None
        else raw
    )
    names = codes_of(raw["market"])[1] if "market" in raw.columns else []
    n = len(names)
    if markets and n:  # before QA and cleaning, so a typo costs nothing
        check_known(markets, names)
    input_hash = actuals_hash(cfg.data.actuals, cfg.data.value, raw)
    blocks = blocks_for(client, n, block_markets, progress)
    table = read_markets(cfg.data.markets) if cfg.data.markets else None
    countries = run_countries(cfg, table)
    with timer("qa"):
        qa = run_input_qa(cfg, markets, as_of, previous_markets, raw, blocks, countries)
    del raw  # the long table: QA's cube has what the job needs
    blocking = blocking_errors(qa, markets)
    if len(blocking) or qa.cube is None:
        raise QAFailed(
            qa.findings,
            f"input QA failed for {actuals_label(cfg.data.actuals)}:\n{qa_summary(blocking if len(blocking) else qa.findings)}",
        )
    cube = qa.cube
    if markets:
        restrict(cube, markets)  # unknown markets are a clear error
    try:
        cube = ragged_policy(cube, cfg.data.ragged, markets)
    except DataError as exc:  # recorded like a QA failure: qa.parquet and a failed manifest
        raise QAFailed(qa.findings, str(exc)) from None
    events = load_disruptions(cfg.clean.events) if cfg.clean.events else None
    with timer("clean"):
        cube, record = clean(
            cube,
            events,
            auto=cfg.clean.auto,
            season_length=season_length(cfg.data.freq),
            countries=countries or None,
            near_zero=cfg.clean.near_zero,
            max_zero_periods=cfg.clean.max_zero_periods,
            map_blocks=blocks.map_blocks,
            block_markets=blocks.markets,
        )
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
        input_hash,
        qa.findings,
        record,
        countries,
    )


def previous_input_markets(store: Store, kind: str) -> list[str] | None:
    """Markets of the input of the latest complete run of a kind (for the appeared/disappeared checks)."""
    done = [m for m in store.runs(kind) if m.get("status") == "complete" and "input_markets" in m]
    return done[-1]["input_markets"] if done else None


#: cleaned markets whose before/after charts one task draws
CHART_BLOCK = 4


def chart_block(cube: xr.Dataset, record: pd.DataFrame, folder: str) -> int:
    """The kernel of one block of cleaned markets: their charts written under `folder`; how many files."""
    return len(save_cleaning_charts(cube, record, folder))


def _save_charts(
    cube: xr.Dataset, charted: pd.DataFrame, folder: str, client: Any, progress: bool
) -> None:
    """Before/after charts of the cleaned markets: in this process, or as blocks on the cluster."""
    if client is None:
        save_cleaning_charts(cube, charted, folder)
        return
    shown = sorted(charted.loc[charted["applied"].astype(bool), "market"].astype(str).unique())
    groups = [shown[i : i + CHART_BLOCK] for i in range(0, len(shown), CHART_BLOCK)]
    args = [
        (cube.sel(market=g), charted[charted["market"].isin(g)], folder) for g in groups
    ]  # each task gets its markets only
    cluster_map(client, progress)(chart_block, args, "charts")


def write_inputs(
    store: Store,
    run_id: str,
    prep: Prepared,
    client: Any = None,
    progress: bool = True,
    limit: int | None = None,
) -> None:
    """qa.parquet, cleaning.parquet and before/after charts of the run's cleaned markets (drawn on `client` when given).

    Charts: at most `limit` markets, the largest changes first (`clean.charts`; None: all).
    """
    store.write_parquet(prep.qa, "runs", run_id, "qa.parquet")
    store.write_parquet(prep.cleaning, "runs", run_id, "cleaning.parquet")
    # every market is cleaned (proxies use them all) but only the run's markets get charts
    ours = (
        prep.cleaning[prep.cleaning["market"].isin(prep.segments["market"].values)]
        if len(prep.cleaning)
        else prep.cleaning
    )
    cleaned = most_changed(ours, None)
    shown = cleaned if limit is None else cleaned[:limit]
    if len(shown) < len(cleaned) and progress:
        log.info(
            f"cleaning charts for {len(shown)} of {len(cleaned)} cleaned markets, the largest "
            "changes (clean.charts); cleaning.parquet and the report have every market's removals"
        )
    if shown:
        charted = ours[ours["market"].astype(str).isin(shown)]
        try:
            _save_charts(prep.cube, charted, store.run_url(run_id, "charts"), client, progress)
        except ImportError:
            log.info("note: install fcast[viz] for before/after cleaning charts")


def start_run(
    store: Store,
    cfg: RunConfig,
    kind: str,
    markets: list[str] | None,
    as_of: str | None,
    run_id: str | None = None,
    raw: pd.DataFrame | None = None,
    client: Any = None,
    progress: bool = True,
    timer: Timer | None = None,
) -> tuple[str, Prepared]:
    """Create the run folder, run QA and cleaning (on `client` when given), and write their records; QA errors fail the run here.

    `timer` gets the stages `qa`, `clean` and `inputs` (the records and the cleaning charts).
    """
    timer = timer or Timer()
    run_id = run_id or store.new_run_id(kind, cfg.fingerprint())
    try:
        prep = prepare(
            cfg,
            markets,
            as_of,
            previous_input_markets(store, kind),
            raw,
            client=client,
            progress=progress,
            timer=timer,
        )
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
    with timer("inputs"):
        write_inputs(store, run_id, prep, client, progress, cfg.clean.charts)
    return run_id, prep


def known_markets(prep: Prepared) -> list[str]:
    """Markets of the actuals and of the markets table (adjustments may name any of them)."""
    known = prep.cube["market"].values.astype(str).tolist()
    if prep.markets is not None:
        known += prep.markets["market"].astype(str).tolist()
    return sorted(set(known))


def estimate_fits(cfg: RunConfig, markets: list[str] | None = None) -> int:
    """Upper bound on the CV fits a tuning run would do (to decide whether a cluster pays)."""
    n_mature = len(
        prepare(cfg, markets).of("mature")
    )  # QA and cleaning are fast (< 1 s on 60 markets)
    return n_mature * load_space(cfg.space, cfg.data.freq).sizes["hp"] * cfg.cv.splits
