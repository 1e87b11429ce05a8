"""The publish job: read a run from the store, compare, write insights and the report, commit the vintage, send.

`publish_run` is what `fcast publish RUN_ID --official NAME` does: it checks that the run
may be published (name free, run complete, QC errors overridden), reads the run and the two
previous official vintages, writes `comparison.parquet`, `insights.md` and `report/` into
the run folder, commits the run as an immutable vintage and sends it through the channels.
The comparison, the insights and the report are the pure stages of `fcast.output`.
"""

from __future__ import annotations

import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import xarray as xr

from fcast.contract import aggregate_rows, market_rows
from fcast.errors import FcastError
from fcast.infra.lock import store_lock
from fcast.infra.store import Store
from fcast.infra.vintage import (
    check_publishable,
    claim_vintage,
    default_author,
    fs_path,
    previous_vintages,
    publish_vintage,
    read_vintage,
    release_claim,
    vintage_manifest,
)
from fcast.output.channels import CHANNELS, Message, resolve, send
from fcast.output.publish import (
    OPTIONAL_TABLES,
    RunArtifacts,
    actuals_frame,
    compare,
    insights,
)
from fcast.output.publish.artifacts import history_before
from fcast.output.report import build_report

#: how many previous official vintages a publish compares with
COMPARED = 2


@dataclass
class PublishResult:
    """What a publish produced and where it went."""

    name: str
    run_id: str
    vintage: dict[str, Any]
    insights: str
    comparison: pd.DataFrame
    report: str | None
    previous: list[str]
    sent: dict[str, str] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Whether every channel delivered."""
        return not self.failed


@dataclass
class Previous:
    """The previous official vintages a publish compares with, newest first."""

    names: list[str]
    forecasts: dict[str, pd.DataFrame]
    meta: dict[str, dict[str, Any]]


def read_run_actuals(manifest: dict[str, Any]) -> pd.DataFrame | None:
    """The actuals a run used, read from its config (None when they cannot be read)."""
    from fcast.infra.warehouse import load_actuals_source

    data = manifest.get("config", {}).get("data", {})
    if not data.get("actuals"):
        return None
    try:
        cube = load_actuals_source(
            data["actuals"],
            value=data.get("value", "users"),
            freq=data.get("freq", "W-MON"),
            columns=data.get("columns"),
        )
    except (FcastError, OSError, ValueError) as exc:
        warnings.warn(
            f"actuals {data['actuals']} could not be read ({exc}); publishing without them",
            stacklevel=2,
        )
        return None
    return actuals_frame(cube)


def load_run(
    store: Store, run_id: str, actuals: pd.DataFrame | xr.Dataset | None = None
) -> RunArtifacts:
    """Read a run folder: manifest, forecast, actuals before the forecast, optional stage tables."""
    manifest = store.read_json("runs", run_id, "manifest.json")
    full = store.read_parquet("runs", run_id, "forecast.parquet")
    full["date"] = pd.to_datetime(full["date"])
    forecast = market_rows(full)  # the total and group rows go to RunArtifacts.totals
    hist = actuals_frame(actuals) if actuals is not None else read_run_actuals(manifest)
    tables = {
        name: store.read_parquet("runs", run_id, f"{name}.parquet")
        for name in OPTIONAL_TABLES
        if store.exists("runs", run_id, f"{name}.parquet")
    }
    hist = history_before(hist, forecast) if hist is not None else None
    return RunArtifacts(run_id, manifest, forecast, hist, totals=aggregate_rows(full), **tables)


def read_previous(store: Store, n: int = COMPARED) -> Previous:
    """The `n` latest official vintages: names, forecasts and manifests."""
    names = previous_vintages(store, n)
    return Previous(
        names,
        {v: read_vintage(store, v) for v in names},
        {v: vintage_manifest(store, v) for v in names},
    )


def write_report(
    store: Store, run: RunArtifacts, previous: dict[str, pd.DataFrame], **kwargs: Any
) -> str:
    """Build the report locally and copy it into the run folder; the URL of index.html."""
    if store.exists("runs", run.run_id, "report"):
        store.fs.rm(fs_path(store, "runs", run.run_id, "report"), recursive=True)
    with tempfile.TemporaryDirectory() as tmp:
        index = Path(build_report(run, previous, tmp, **kwargs))
        for path in sorted(p for p in index.parent.rglob("*") if p.is_file()):
            parts = path.relative_to(index.parent).parts
            store.write_bytes(path.read_bytes(), "runs", run.run_id, "report", *parts)
    return store.run_url(run.run_id, "report", "index.html")


def ensure_channels() -> None:
    """Make the built-in `sql` channel known even when the installed metadata predates its entry point.

    pyproject.toml declares it (`fcast.channels`: ``sql = fcast.infra.warehouse:sql_channel``);
    an environment installed before that declaration has no such entry point, so the job
    registers the same function itself. `fcast.output` never imports `fcast.infra`.
    """
    if "sql" not in CHANNELS.names():
        from fcast.infra.warehouse import sql_channel

        CHANNELS.register("sql", sql_channel)


def _vintage_files(store: Store, name: str, vintage: dict[str, Any]) -> dict[str, str]:
    """The files a channel delivers: insights.md and the report, by relative name -> URL."""
    return {
        rel: store.path("official", name, *rel.split("/"))
        for rel in vintage["files"]
        if rel == "insights.md" or rel.startswith("report/")
    }


def write_outputs(
    store: Store,
    run: RunArtifacts,
    prev: Previous,
    name: str,
    override: dict[str, Any] | None,
    *,
    report: bool = True,
    pngs: bool = True,
) -> tuple[pd.DataFrame, str]:
    """Write comparison.parquet, insights.md and (unless report=False) report/ into the run folder."""
    comparison = compare(run.forecast, prev.forecasts, run.actuals)
    text = insights(run, prev.forecasts, comparison, name=name, meta=prev.meta, override=override)
    store.write_parquet(comparison, "runs", run.run_id, "comparison.parquet")
    store.write_text(text, "runs", run.run_id, "insights.md")
    if report:
        write_report(
            store,
            run,
            prev.forecasts,
            comparison=comparison,
            insights_text=text,
            name=name,
            meta=prev.meta,
            pngs=pngs,
        )
    return comparison, text


@dataclass
class PreviewResult:
    """What `fcast publish --dry-run` wrote: no vintage, nothing sent."""

    name: str
    run_id: str
    folder: str
    insights: str
    report: str | None
    previous: list[str]


def preview_run(
    store: Store | str,
    run_id: str,
    name: str,
    out_dir: str | Path,
    *,
    actuals: pd.DataFrame | xr.Dataset | None = None,
    report: bool = True,
    pngs: bool = True,
) -> PreviewResult:
    """Insights and report of publishing `run_id` as `name`, written to `out_dir` only.

    Nothing in the store changes (no vintage, no claim, no file in the run folder) and no
    channel is used, so a preview never counts among "the previous two" vintages.
    """
    store = store if isinstance(store, Store) else Store(store)
    run, prev = load_run(store, run_id, actuals), read_previous(store)
    comparison = compare(run.forecast, prev.forecasts, run.actuals)
    text = insights(run, prev.forecasts, comparison, name=name, meta=prev.meta, override=None)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "insights.md").write_text(text, encoding="utf-8")
    comparison.to_parquet(out / "comparison.parquet")
    page = None
    if report:
        page = build_report(
            run,
            prev.forecasts,
            out / "report",
            comparison=comparison,
            insights_text=text,
            name=name,
            meta=prev.meta,
            pngs=pngs,
        )
    return PreviewResult(name, run_id, str(out), text, page, prev.names)


def publish_run(
    store: Store | str,
    run_id: str,
    name: str,
    *,
    channels: tuple[str, ...] | list[str] = ("store",),
    webhook_url: str | None = None,
    override_reason: str | None = None,
    author: str | None = None,
    actuals: pd.DataFrame | xr.Dataset | None = None,
    channel_options: dict[str, dict[str, Any]] | None = None,
    report: bool = True,
    pngs: bool = True,
) -> PublishResult:
    """Publish a run as official vintage `name`: comparison, insights.md, report/, vintage, channels."""
    store = store if isinstance(store, Store) else Store(store)
    author = author or default_author()
    ensure_channels()
    names, options = resolve(
        channels, webhook_url, channel_options, default_dest=store.path("published")
    )
    # one publish at a time compares with "the previous two"; the name is claimed before any
    # work, so a second publish of the same name fails here and never sends anything
    with store_lock(store, "publish", owner=f"publish {name} <- {run_id}"):
        override = check_publishable(store, run_id, name, override_reason, author)
        claim = claim_vintage(store, name, run_id, author)
        try:
            run, prev = load_run(store, run_id, actuals), read_previous(store)
            comparison, text = write_outputs(
                store, run, prev, name, override, report=report, pngs=pngs
            )
        except BaseException:
            release_claim(store, claim)
            raise
        vintage = publish_vintage(
            store,
            run_id,
            name,
            override_reason=override_reason,
            author=author,
            extra={"compared_with": prev.names},
            claim=claim,
        )
    message = Message(
        text=text, run_id=run_id, vintage=name, files=_vintage_files(store, name, vintage)
    )
    sent, failed = send(names, message, options)
    page = store.path("official", name, "report", "index.html") if report else None
    return PublishResult(name, run_id, vintage, text, comparison, page, prev.names, sent, failed)
