"""The run record and manifest of a job: timings, code version, cluster, status."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from fcast import __version__
from fcast.config import RunConfig
from fcast.infra.store import Store, utcnow
from fcast.redact import redact_tree

if TYPE_CHECKING:  # prepare times its stages with this module's Timer
    from fcast.jobs.prepare import Prepared

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


def new_manifest(
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


def cluster_info(client: Any) -> dict[str, Any]:
    if client is None:
        return {"kind": "in-process"}
    from fcast.infra.cluster import describe

    return {"kind": "distributed", **describe(client)}


def qc_counts(qc: pd.DataFrame) -> dict[str, int]:
    return {
        "errors": int((qc["severity"] == "error").sum()),
        "warnings": int((qc["severity"] == "warning").sum()),
    }


def finish_run(
    store: Store, manifest: dict[str, Any], timer: Timer, **extra: Any
) -> dict[str, Any]:
    manifest.update(status="complete", finished=utcnow(), timings=timer.timings, **extra)
    store.write_json(manifest, "runs", manifest["run_id"], "manifest.json")
    return manifest


def fail_run(store: Store, manifest: dict[str, Any], timer: Timer, exc: BaseException) -> None:
    manifest.update(status="failed", error=f"{type(exc).__name__}: {exc}", timings=timer.timings)
    store.write_json(manifest, "runs", manifest["run_id"], "manifest.json")
