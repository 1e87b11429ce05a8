"""The `fcast` command line: run tuning/weekly jobs, the demo, config validation.

Longer than 500 lines because it is the whole command table in one place (one short function
per command, each a thin call into `fcast.jobs`), which is what `fcast --help` documents.
"""

from __future__ import annotations

import sys
from contextlib import nullcontext
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fcast.errors import FcastError, StoreError

if TYPE_CHECKING:
    from fcast.config import RunConfig

app = typer.Typer(
    add_completion=False, help="fcast: forecasting infrastructure on Dask.", no_args_is_help=True
)
run_app = typer.Typer(
    help="Run a job: tuning (full search) or weekly (reuse the latest tuned selection)."
)
app.add_typer(run_app, name="run")
adjust_app = typer.Typer(
    help="Business input: add, list, remove and preview adjustments; serve the web app."
)
app.add_typer(adjust_app, name="adjust")

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="run config YAML (default: ./fcast.yaml)"),
]
MarketsOpt = Annotated[
    str | None, typer.Option("--markets", help="comma-separated market subset, e.g. SE,NO,DK")
]
AllOpt = Annotated[bool, typer.Option("--all", help="show every row (default: at most 30)")]
DEMO_CONFIG = Path("configs/demo.yaml")


def _version(value: bool) -> None:
    if value:
        from fcast import __version__

        typer.echo(f"fcast {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="print the version and exit"
        ),
    ] = False,
    verbose: Annotated[
        int,
        typer.Option("--verbose", "-v", count=True, help="more output (-vv: debug, Dask included)"),
    ] = 0,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="only errors")] = False,
) -> None:
    """fcast: forecasting infrastructure on Dask."""
    from fcast.logs import configure

    configure(-1 if quiet else verbose)


def find_config(path: Path | None) -> Path:
    """`path`, else `fcast.yaml` in the working folder; never a silent default."""
    if path is not None:
        return path
    here = Path.cwd()
    for name in ("fcast.yaml", "fcast.yml"):
        if (here / name).is_file():
            return here / name
    raise FcastError(
        f"no config given: pass -c CONFIG, or name the run config fcast.yaml in {here} "
        "(`fcast init DATA_FILE` writes a starter one)"
    )


def load_config(path: Path | None) -> RunConfig:
    """The validated run config (imported on use so `fcast --help` stays fast)."""
    from fcast.config import load_config as load

    return load(find_config(path))


def _markets(value: str | None) -> list[str] | None:
    return [m.strip() for m in value.split(",") if m.strip()] if value else None


def _fail(exc: Exception) -> None:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(2)


def _client_for(cfg: RunConfig, estimated_fits: int) -> Any:
    """A cluster context for the run, or in-process when the run is too small to pay for one."""
    if (
        cfg.tune.in_process_below
        and estimated_fits < cfg.tune.in_process_below
        and cfg.cluster.local
    ):
        what = f"{estimated_fits} tuning fits" if estimated_fits else "a refit-only weekly run"
        typer.echo(
            f"running in-process (no Dask cluster) for {what}, below tune.in_process_below "
            f"({cfg.tune.in_process_below}); a cluster would cost more to start than it saves",
            err=True,
        )
        return nullcontext(None)
    from fcast.infra.cluster import connect

    return connect(cfg.cluster)


def _next_step(result: Any, title: str, config: Path | None) -> None:
    """The command a user usually runs after this one."""
    c = f" -c {config}" if config else ""
    if title == "tuning":
        typer.echo(f"\nnext: fcast run weekly{c}   (reuses these selections)")
    else:
        typer.echo(f"\nnext: fcast publish {result.run_id}{c} --official NAME   (QC-gated)")


def _forecast_line(result: Any, title: str, dates: bool = False) -> None:
    """A run's id, folder and forecast size (and date range)."""
    from fcast.output.publish import fmt_int

    fc = result.forecast
    typer.echo(f"\n{title} run {result.run_id}\n  folder: {result.url}")
    span = f", from {fc['date'].min():%Y-%m-%d} to {fc['date'].max():%Y-%m-%d}" if dates else ""
    typer.echo(
        f"  forecast: {fmt_int(len(fc))} rows for {fmt_int(fc['market'].nunique())} markets{span}"
    )


def _print_result(result: Any, title: str) -> None:
    from fcast.jobs.pipeline import chosen_table
    from fcast.output.publish import fmt_int

    _forecast_line(result, title)
    qa, cleaning = result.manifest.get("qa"), result.manifest.get("cleaning")
    if qa:
        typer.echo(f"  input QA: {qa['errors']} errors, {qa['warnings']} warnings (qa.parquet)")
    if cleaning:
        typer.echo(
            f"  cleaning: {cleaning['removed']} disruption windows removed, "
            f"{cleaning['proposed_not_removed']} proposed but kept (cleaning.parquet)"
        )
    counts = result.manifest.get("counts")
    if counts:
        share = counts["failed"] / max(counts["fits"], 1)
        typer.echo(
            f"  fits: {fmt_int(counts['fits'])}, failed: {fmt_int(counts['failed'])} "
            f"({share:.1%}; NaN cells, excluded from selection)"
        )
        if counts.get("timed_out"):
            blocks = ", ".join(f"{t['block']} ({t['seconds']:.0f}s)" for t in counts["timed_out"])
            typer.echo(f"  timed out (tune.task_timeout): {blocks}; their cells are marked failed")
    timings = ", ".join(f"{k} {v:.1f}s" for k, v in result.manifest.get("timings", {}).items())
    typer.echo(f"  timings: {timings}")
    table = chosen_table(result.selection)
    if len(table):
        typer.echo("\nchosen model per market:")
        _echo_table(table, False, more="`fcast selections --all` lists every market")
    if result.proxies is not None and len(result.proxies):
        segs = result.manifest.get("segments", {})
        typer.echo(
            f"\nnew markets: {len(segs.get('new', []))} forecast with the proxy model (proxy weights):"
        )
        for market, grp in result.proxies.groupby("market", sort=True):
            top = grp.sort_values("weight", ascending=False).head(3)
            typer.echo(
                f"  {market} <- " + ", ".join(f"{r.proxy} {r.weight:.2f}" for r in top.itertuples())
            )


def _tuning(cfg: RunConfig, markets: list[str] | None, fresh: bool) -> Any:
    from fcast.jobs.pipeline import estimate_fits, run_tuning

    with _client_for(cfg, estimate_fits(cfg, markets)) as client:
        return run_tuning(cfg, markets=markets, client=client, fresh=fresh)


def _weekly(cfg: RunConfig, markets: list[str] | None, as_of: str | None) -> Any:
    from fcast.jobs.pipeline import run_weekly

    with _client_for(cfg, 0) as client:
        return run_weekly(cfg, markets=markets, as_of=as_of, client=client)


@run_app.command("tuning")
def run_tuning_cmd(
    config: ConfigOpt = None,
    markets: MarketsOpt = None,
    fresh: Annotated[
        bool, typer.Option(help="start a new run instead of resuming an interrupted one")
    ] = False,
) -> None:
    """Full search over the space; saves the selection as the latest tuned one."""
    try:
        result = _tuning(load_config(config), _markets(markets), fresh)
    except FcastError as exc:
        _fail(exc)
    _print_result(result, "tuning")
    _next_step(result, "tuning", config)


@run_app.command("weekly")
def run_weekly_cmd(
    config: ConfigOpt = None,
    markets: MarketsOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="use actuals up to this date (YYYY-MM-DD)")
    ] = None,
) -> None:
    """Reuse the latest tuned selection: refit on the newest data and forecast."""
    try:
        result = _weekly(load_config(config), _markets(markets), as_of)
    except FcastError as exc:
        _fail(exc)
    _print_result(result, "weekly")
    _next_step(result, "weekly", config)


@app.command("qa")
def qa_cmd(
    config: ConfigOpt = None,
    markets: MarketsOpt = None,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="check the actuals up to this date")
    ] = None,
    all_rows: Annotated[
        bool, typer.Option("--all", help="also list every finding (the summary names a few)")
    ] = False,
) -> None:
    """Input QA alone: writes runs/<id>/qa.parquet and prints a summary; exit 1 on errors."""
    from fcast.data.qa import summary
    from fcast.infra.store import Store, utcnow
    from fcast.jobs.pipeline import blocking_errors, previous_input_markets, run_input_qa
    from fcast.redact import redact_tree

    try:
        cfg = load_config(config)
        store = Store(cfg.store)
        result = run_input_qa(
            cfg, _markets(markets), as_of, previous_input_markets(store, "weekly")
        )
    except FcastError as exc:
        _fail(exc)
    run_id = store.new_run_id("qa", cfg.fingerprint())
    store.write_parquet(result.findings, "runs", run_id, "qa.parquet")
    blocking = blocking_errors(result, _markets(markets))
    store.write_json(
        {
            "run_id": run_id,
            "kind": "qa",
            "status": "complete",
            "started": utcnow(),
            "errors": len(blocking),
            "warnings": len(result.warnings),
            "config": redact_tree(cfg.model_dump(mode="json")),
        },
        "runs",
        run_id,
        "manifest.json",
    )
    typer.echo(summary(result.findings))
    if all_rows and len(result.findings):
        typer.echo("")
        _echo_table(result.findings, True)
    elif " more" in summary(result.findings):
        typer.echo("(every finding: --all)")
    typer.echo(f"\nqa run {run_id}: {store.run_url(run_id, 'qa.parquet')}")
    if len(blocking):
        raise typer.Exit(1)


StoreOpt = Annotated[
    str | None, typer.Option("--store", help="store root URL (default: the config's store)")
]
PublishConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="run config whose store to use (default: found here)"),
]


def resolve_run(st: Any, run_id: str, kind: str) -> str:
    """`run_id`, or for `latest` the newest complete run of `kind` in the store."""
    if run_id != "latest":
        return run_id
    done = [m for m in st.runs(kind) if m.get("status") == "complete"]
    if not done:
        raise FcastError(f"no complete {kind} run in {st.url}: run `fcast run {kind}` first")
    return str(done[-1]["run_id"])


def _store(config: Path | None, store: str | None) -> Any:
    from fcast.infra.store import Store

    return Store(store or load_config(config).store)


def _print_publish(result: Any) -> None:
    previous = ", ".join(result.previous) or "no earlier vintage"
    typer.echo(
        f"\nofficial vintage {result.name} <- run {result.run_id} (compared with {previous})"
    )
    typer.echo(f"  report: {result.report}")
    for name, where in result.sent.items():
        typer.echo(f"  sent via {name}: {where}")
    for name, why in result.failed.items():
        typer.echo(f"  FAILED via {name}: {why}", err=True)


@app.command("publish")
def publish_cmd(
    run_id: Annotated[str, typer.Argument(help="run to publish, or `latest` (newest weekly run)")],
    official: Annotated[
        str | None,
        typer.Option(
            "--official",
            help="vintage name (default: the last period of actuals: 2026-W47, 2026-11, 2026-Q4)",
        ),
    ] = None,
    config: PublishConfigOpt = None,
    store: StoreOpt = None,
    override_reason: Annotated[
        str | None, typer.Option("--override-reason", help="publish despite QC errors; recorded")
    ] = None,
    webhook: Annotated[
        str | None,
        typer.Option("--webhook", envvar="FCAST_WEBHOOK_URL", help="also post the insights here"),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="publish channel, repeatable (default: store)"),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="only write insights and the report to a scratch folder (--out)"
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="scratch folder of --dry-run (default: ./fcast-preview/RUN_ID)"),
    ] = None,
) -> None:
    """Promote a run to an immutable official vintage: comparison, insights.md, report, channels."""
    from fcast.infra.store import Store
    from fcast.infra.vintage import default_name
    from fcast.infra.warehouse import sink_options
    from fcast.jobs.publish import publish_run

    if dry_run:
        _preview(run_id, official, config, store, out)
        return
    try:
        cfg = load_config(config)
        st = Store(store or cfg.store)
        channels = list(channel or (("store", "webhook") if webhook else ("store",)))
        options = {}
        if cfg.publish.sql is not None:  # publish.sql in the config: also append the vintage to SQL
            channels += [] if "sql" in channels else ["sql"]
            options["sql"] = sink_options(cfg.publish.sql)
        run_id = resolve_run(st, run_id, "weekly")
        result = publish_run(
            st,
            run_id,
            official or default_name(st, run_id),
            channels=channels,
            webhook_url=webhook,
            override_reason=override_reason,
            channel_options=options,
        )
    except FcastError as exc:
        _fail(exc)
    _print_publish(result)
    if not result.ok:
        raise typer.Exit(1)


def _preview(
    run_id: str, official: str | None, config: Path | None, store: str | None, out: Path | None
) -> None:
    """`fcast publish --dry-run`: insights and report in a scratch folder; no vintage, no channel."""
    from fcast.infra.vintage import default_name
    from fcast.jobs.publish import preview_run

    try:
        st = _store(config, store)
        run_id = resolve_run(st, run_id, "weekly")
        name = official or default_name(st, run_id)
        result = preview_run(st, run_id, name, out or Path("fcast-preview") / run_id)
    except FcastError as exc:
        _fail(exc)
    previous = ", ".join(result.previous) or "no earlier vintage"
    typer.echo(
        f"\npreview of vintage {name} <- run {run_id} (compared with {previous}); "
        "nothing published, no vintage made"
    )
    typer.echo(f"  insights: {Path(result.folder) / 'insights.md'}")
    typer.echo(f"  report: {result.report}")
    typer.echo(f"\nnext: fcast publish {run_id} --official {name}   (QC-gated)")


@app.command("vintages")
def vintages_cmd(
    config: PublishConfigOpt = None,
    store: StoreOpt = None,
    clean: Annotated[
        bool, typer.Option("--clean", help="remove interrupted publishes older than an hour")
    ] = False,
    all_rows: AllOpt = False,
) -> None:
    """List the official vintages (oldest first, the newest 30 unless --all) with their dates and run ids."""
    from fcast.infra.vintage import clean_incomplete, incomplete_vintages, list_vintages

    try:
        st = _store(config, store)
    except FcastError as exc:
        _fail(exc)
    listing = list_vintages(st)
    if len(listing):
        _echo_table(listing.assign(published=_when(listing["published"])), all_rows, tail=True)
    else:
        typer.echo(f"no official vintages in {st.url}")
    if clean:
        for name in clean_incomplete(st):
            typer.echo(f"removed interrupted publish {name}", err=True)
    for name in incomplete_vintages(st):
        typer.echo(
            f"warning: official/{name} is an incomplete publish (ignored); `fcast vintages --clean` removes it",
            err=True,
        )


def _adjust_inputs(config: Path) -> tuple[RunConfig, Any]:
    """The config (which must name an adjustments file or folder) and the latest forecast to adjust."""
    from fcast.jobs.adjust import run_inputs

    cfg = load_config(config)
    if not cfg.adjustments:
        raise FcastError(
            f"{config}: set `adjustments:` (a YAML file or a folder, e.g. adjustments/) first"
        )
    return cfg, run_inputs(cfg)


Market = Annotated[str, typer.Option("--market", help="market code")]
From = Annotated[str, typer.Option("--from", help="first forecast period affected (YYYY-MM-DD)")]
To = Annotated[str, typer.Option("--to", help="last forecast period affected, inclusive")]


class AdjustmentKind(StrEnum):
    """How an adjustment's value changes the forecast (docs/business-input.md)."""

    multiplicative = "multiplicative"
    additive = "additive"
    level_shift = "level_shift"
    ramp = "ramp"


class RunKind(StrEnum):
    """Kinds of runs in a store."""

    tuning = "tuning"
    weekly = "weekly"
    qa = "qa"


Kind = Annotated[AdjustmentKind, typer.Option("--kind", help="how the value changes the forecast")]
Value = Annotated[float, typer.Option("--value", help="factor, amount, level or ramp target")]


@adjust_app.command("add")
def adjust_add(
    config: ConfigOpt,
    market: Market,
    start: From,
    end: To,
    kind: Kind,
    value: Value,
    reason: Annotated[str, typer.Option("--reason", help="why (shown in insights and the report)")],
    author: Annotated[
        str | None, typer.Option("--author", help="who (default: your login)")
    ] = None,
    adj_id: Annotated[
        str | None, typer.Option("--id", help="adjustment id (default: generated)")
    ] = None,
) -> None:
    """Validate and save an adjustment to the config's adjustments file or folder."""
    from fcast.jobs.adjust import add_adjustment, default_author, load_adjustments
    from fcast.markets.adjustments import make_adjustment

    try:
        cfg, inputs = _adjust_inputs(config)
        taken = (
            [a.id for a in load_adjustments(cfg.adjustments)]
            if Path(cfg.adjustments).exists()
            else []
        )
        adj = make_adjustment(
            market,
            start,
            end,
            kind.value,
            value,
            reason,
            author or default_author(),
            taken=taken,
            id=adj_id,
        )
        path = add_adjustment(cfg.adjustments, adj, inputs.markets, inputs.dates)
    except FcastError as exc:
        _fail(exc)
    typer.echo(f"saved adjustment {adj.id} to {path}")


@adjust_app.command("list")
def adjust_list(
    config: ConfigOpt,
    market: Annotated[str | None, typer.Option("--market")] = None,
    all_rows: AllOpt = False,
) -> None:
    """List the adjustments in effect with their periods, values, reasons and authors."""
    from fcast.jobs.adjust import load_adjustments
    from fcast.markets.adjustments import adjustments_table

    try:
        cfg, inputs = _adjust_inputs(config)
        adjs = [
            a for a in load_adjustments(cfg.adjustments) if market is None or a.market == market
        ]
    except FcastError as exc:
        _fail(exc)
    table = adjustments_table(adjs, inputs.forecast)
    if len(table):
        _echo_table(table.assign(created=_when(table["created"])), all_rows)
    else:
        typer.echo("no adjustments")


@adjust_app.command("remove")
def adjust_remove(
    config: ConfigOpt, adj_id: Annotated[str, typer.Argument(help="adjustment id")]
) -> None:
    """Remove an adjustment by id."""
    from fcast.jobs.adjust import remove_adjustment

    try:
        removed = remove_adjustment(load_config(config).adjustments, adj_id)
    except FcastError as exc:
        _fail(exc)
    typer.echo(f"removed {removed.id} ({removed.market} {removed.kind} {removed.value})")


@adjust_app.command("preview")
def adjust_preview(
    config: ConfigOpt,
    market: Market,
    start: From,
    end: To,
    kind: Kind,
    value: Value,
    all_rows: AllOpt = False,
) -> None:
    """Show how an adjustment would change the latest forecast, without saving it."""
    from fcast.jobs.adjust import load_adjustments
    from fcast.markets.adjustments import (
        changes,
        make_adjustment,
        preview,
        validate_adjustments,
    )

    try:
        cfg, inputs = _adjust_inputs(config)
        saved = load_adjustments(cfg.adjustments) if Path(cfg.adjustments).exists() else []
        adj = make_adjustment(
            market, start, end, kind.value, value, "preview", "preview", taken=[a.id for a in saved]
        )
        validate_adjustments([adj], inputs.markets, inputs.dates)
        rows = changes(preview(inputs.forecast, adj, saved))
    except FcastError as exc:
        _fail(exc)
    _echo_table(rows, all_rows)  # 1.43M, not 1.433076e+06


@adjust_app.command("serve")
def adjust_serve(
    config: ConfigOpt,
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5006,
    show: Annotated[bool, typer.Option(help="open a browser")] = False,
) -> None:
    """Start the adjustment web app on http://127.0.0.1:PORT/adjust."""
    from fcast.app import serve

    try:
        cfg = load_config(config)
    except FcastError as exc:
        _fail(exc)
    typer.echo(f"fcast adjust: http://127.0.0.1:{port}/adjust (Ctrl+C stops)")
    serve(cfg, port=port, show=show)


@app.command("space-report")
def space_report_cmd(
    run_id: Annotated[str, typer.Argument(help="tuning run to report on, or `latest`")],
    config: PublishConfigOpt = None,
    store: StoreOpt = None,
    all_rows: AllOpt = False,
) -> None:
    """Which hyperparameters matter: space-report.parquet and a narrowed space-narrowed.yaml in the run folder."""
    from fcast.data.ingest import season_length
    from fcast.infra.store import Store
    from fcast.jobs.space_report import write_space_report

    try:
        cfg = load_config(config)
        st = Store(store or cfg.store)
        run_id = resolve_run(st, run_id, "tuning")
        run_url = st.run_url(run_id)
        if not (
            st.exists("runs", run_id, "tuning.zarr")
            and st.exists("runs", run_id, "selection.parquet")
        ):
            raise StoreError(
                f"run {run_id} in {st.url} has no tuning.zarr and selection.parquet: "
                "space-report needs a tuning run (`fcast run tuning`), not a weekly run"
            )
        out = write_space_report(run_url, season_length(cfg.data.freq))
    except FcastError as exc:
        _fail(exc)
    rep = out["report"]
    params = rep.drop_duplicates(["family", "param"])[["family", "param", "n_values", "spread"]]
    _echo_table(params, all_rows)
    never = rep[rep["selected"] == 0]
    typer.echo(
        f"\nnever selected: {len(never)} family/param values; narrowed space "
        f"({out['hps_before']} -> {out['hps_after']} hps): {out['yaml']}"
    )


@app.command("selections")
def selections_cmd(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    all_rows: AllOpt = False,
) -> None:
    """Which tuning run chose each market's model, and how long ago."""
    from fcast.jobs import selections

    try:
        cfg = load_config(config)
        st = _store(config, store)
        listed = selections.listing(selections.current(st))
    except FcastError as exc:
        _fail(exc)
    if not len(listed):
        typer.echo(f"no tuned selection in {st.url}; run `fcast run tuning -c {config}`")
        return
    _echo_table(listed, all_rows)
    old = listed[listed["age_days"] > (cfg.select.max_age_days or 10**9)]
    if len(old):
        typer.echo(
            f"warning: {len(old)} market(s) tuned more than {cfg.select.max_age_days} days ago: "
            f"{', '.join(old['market'].astype(str)[:10])}; `fcast run tuning -c {config} --markets ...`",
            err=True,
        )


@app.command("runs")
def runs_cmd(
    config: ConfigOpt = None,
    store: StoreOpt = None,
    kind: Annotated[
        RunKind | None,
        typer.Option("--kind", help="only runs of this kind"),
    ] = None,
    all_rows: AllOpt = False,
) -> None:
    """The runs in the store, newest last: id, kind, status, markets, when."""
    import pandas as pd

    try:
        st = _store(config, store)
        manifests = st.runs(kind.value if kind else None)
    except FcastError as exc:
        _fail(exc)
    if not manifests:
        typer.echo(f"no runs in {st.url}")
        return
    rows = [
        {
            "run_id": m.get("run_id"),
            "kind": m.get("kind"),
            "status": m.get("status"),
            "markets": len(m.get("input_markets") or []) or None,
            "scope": ",".join(m.get("scope") or [])[:30],
            "started": m.get("started"),
            "data_end": m.get("data_end", ""),
        }
        for m in manifests
    ]
    table = pd.DataFrame(rows)
    _echo_table(table.assign(started=_when(table["started"])), all_rows, tail=True)


def _when(values: Any) -> Any:
    """Timestamps (ISO text from manifests, or datetimes) as UTC datetimes; unreadable ones blank."""
    import pandas as pd

    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed")


def _echo_table(
    table: Any,
    all_rows: bool,
    limit: int = 30,
    tail: bool = False,
    more: str = "--all shows them",
) -> None:
    """Print a table in human numbers (`human_table`), at most `limit` rows unless --all (the newest when `tail`)."""
    from fcast.output.publish import human_table

    shown = (
        table
        if all_rows or len(table) <= limit
        else (table.tail(limit) if tail else table.head(limit))
    )
    typer.echo(human_table(shown).to_string(index=False))
    if len(shown) < len(table):
        typer.echo(f"... {len(table) - len(shown)} more rows ({more})")


@app.command("validate")
def validate_cmd(
    path: Annotated[Path | None, typer.Argument(help="run config YAML", show_default=False)] = None,
    config: ConfigOpt = None,
) -> None:
    """Check a config (and the space it names) without computing anything."""
    config = config or path
    try:
        config = find_config(config)
        cfg = load_config(config)
    except FcastError as exc:
        _fail(exc)
    from fcast.core.space import load_space

    hp = load_space(cfg.space, cfg.data.freq)
    try:
        from fcast.data import season_length
        from fcast.jobs.adjust import load_adjustments
        from fcast.jobs.inputs import check_actuals_header
        from fcast.markets.custom import custom_members

        custom_members(cfg.custom, season_length(cfg.data.freq))
        load_adjustments(cfg.adjustments)
        unchecked = check_actuals_header(cfg)
    except FcastError as exc:
        _fail(exc)
    if unchecked:
        typer.echo(f"note: data header not checked: {unchecked}", err=True)
    families = sorted(set(hp["family"].values.tolist()))
    typer.echo(
        f"{config}: ok ({hp.sizes['hp']} hps in {len(families)} families: {', '.join(families)}; "
        f"space {Path(cfg.space).name})"
    )


@app.command("init")
def init_cmd(
    data: Annotated[str, typer.Argument(help="the actuals file (CSV or Parquet, any fsspec URL)")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="config to write (never overwritten)")
    ] = Path("fcast.yaml"),
    freq: Annotated[
        str | None, typer.Option("--freq", help="pandas frequency (default: detected)")
    ] = None,
    space: Annotated[
        str | None,
        typer.Option("--space", help="built-in space name or YAML path (default: per frequency)"),
    ] = None,
) -> None:
    """Write a starter run config for a data file: detects its columns and frequency."""
    from fcast.jobs.starter import write_starter

    try:
        found = write_starter(data, output, freq=freq, space=space)
    except FcastError as exc:
        _fail(exc)
    typer.echo(
        f"wrote {output}: {found.markets} markets, {found.periods} {found.kind} periods "
        f"(freq {found.freq}); columns market={found.market}, date={found.date}, "
        f"value={found.value}; space {space or found.kind}"
    )
    c = "" if output == Path("fcast.yaml") else f" -c {output}"
    typer.echo(f"\nnext: fcast validate{c}   then: fcast run tuning{c}")


@app.command("demo")
def demo_cmd(
    config: Annotated[Path, typer.Option("--config", "-c", help="demo config")] = DEMO_CONFIG,
) -> None:
    """Write the sample data, run tuning then the weekly job on a local Dask cluster."""
    import pandas as pd

    from fcast.data.sample import write_sample

    try:
        cfg = load_config(config)
        data_dir = str(Path(cfg.data.actuals).parent)
        paths = write_sample(data_dir)
        typer.echo(
            f"sample data written to {data_dir} ({', '.join(Path(p).name for p in paths.values())})",
            err=True,
        )
        from fcast.infra.cluster import connect
        from fcast.jobs.pipeline import run_tuning, run_weekly

        with connect(cfg.cluster) as client:
            tuned = run_tuning(cfg, client=client)
            _print_result(tuned, "tuning")
            # last week's run (data 8 weeks shorter), then this week's: two official vintages to compare
            end = pd.Timestamp(tuned.manifest["data_end"])
            earlier = run_weekly(
                cfg, as_of=str((end - pd.Timedelta(weeks=8)).date()), client=client, progress=False
            )
            weekly = run_weekly(cfg, client=client)
        _forecast_line(weekly, "weekly", dates=True)
        _print_truth_score(weekly.forecast, paths["truth"])
        from fcast.infra.store import Store
        from fcast.infra.vintage import default_name
        from fcast.jobs.publish import publish_run

        store = Store(cfg.store)
        for run in (earlier, weekly):  # older data first: vintages are ordered by publish time
            _print_publish(publish_run(store, run.run_id, default_name(store, run.run_id)))
    except FcastError as exc:
        _fail(exc)
    insights = Path(weekly.url) / "insights.md"
    if insights.exists():
        typer.echo("\n" + insights.read_text().split("\n## ")[0].strip())


def _print_truth_score(forecast: Any, truth_path: str) -> None:
    """Sample data only: how the weekly forecast compares with what the generator says happened next."""
    import pandas as pd

    from fcast.data.sample import score_against_truth, truth_summary

    summary = truth_summary(score_against_truth(forecast, pd.read_parquet(truth_path)))
    typer.echo(
        "\nagainst the sample's ground truth for the next 52 weeks (sMAPE: median and mean over "
        "markets; coverage: share of all market-weeks inside the interval):"
    )
    typer.echo(summary.round(3).to_string())


def main() -> None:
    """Entry point that turns unexpected input errors into a clean message."""
    try:
        app()
    except FcastError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
