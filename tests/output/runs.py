"""Real runs for the publish and report tests, built once per session and copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from fcast.infra.store import Store

MARKETS = ["DE", "DK", "NO", "SE"]
_SAMPLE: dict[str, Any] = {}


def sample_runs(factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real runs, built once per session: sample data, a small tuning run, weekly runs 8 weeks apart."""
    if not _SAMPLE:
        from fcast.config import parse_config
        from fcast.data.sample import write_sample
        from fcast.jobs.pipeline import run_tuning, run_weekly

        root = factory.mktemp("sample-runs")
        write_sample(str(root / "sample"))
        (root / "space.yaml").write_text("families:\n  ets: {spec: [ANN]}\n  seasonal_naive: {}\n")
        raw = {
            "data": {"actuals": "sample/actuals.parquet"},
            "horizon": 52,
            "cv": {"splits": 1, "step": 13, "holdout": 0},
            "space": "space.yaml",
            "store": "store",
        }
        cfg = parse_config(raw, source="test", base=root)
        run_tuning(cfg, markets=MARKETS, progress=False)
        first = run_weekly(cfg, markets=MARKETS, as_of="2026-09-21", progress=False)
        second = run_weekly(cfg, markets=MARKETS, progress=False)
        _SAMPLE.update(root=root, store=cfg.store, first=first.run_id, second=second.run_id)
    return _SAMPLE


def fresh_store(sample: dict[str, Any], path: Path) -> Store:
    """A new store holding copies of the sample runs (publishing writes into it)."""
    shutil.copytree(Path(sample["store"]) / "runs", path / "store" / "runs")
    return Store(str(path / "store"))
