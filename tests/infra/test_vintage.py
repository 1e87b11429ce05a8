"""Official vintages: immutable, atomic (write aside, commit a marker), listed in publish order."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fcast.errors import StoreError
from fcast.infra.store import Store
from fcast.infra.vintage import (
    MARKER,
    claim_vintage,
    clean_incomplete,
    default_name,
    incomplete_vintages,
    list_vintages,
    period_name,
    previous_vintages,
    publish_vintage,
    read_vintage,
    verify_vintage,
    vintage_manifest,
)

ROOT = Path(__file__).resolve().parents[2]


def make_run(
    store: Store,
    run_id: str,
    level: float = 100.0,
    markets: tuple[str, ...] = ("DK", "SE"),
    status: str = "complete",
    qc: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """A hand-made complete run folder: manifest and an 8-week forecast at a constant level per market."""
    dates = pd.date_range("2026-11-23", periods=8, freq="W-MON")
    rows = [
        {
            "market": m,
            "date": d,
            "yhat": level * (k + 1),
            "yhat_lo_80": level * (k + 1) * 0.9,
            "yhat_hi_80": level * (k + 1) * 1.1,
            "yhat_lo_95": level * (k + 1) * 0.8,
            "yhat_hi_95": level * (k + 1) * 1.2,
            "family": "ets",
            "segment": "mature",
        }
        for k, m in enumerate(markets)
        for d in dates
    ]
    forecast = pd.DataFrame(rows)
    store.write_parquet(forecast, "runs", run_id, "forecast.parquet")
    store.write_json(
        {
            "run_id": run_id,
            "kind": "weekly",
            "status": status,
            "data_end": "2026-11-16",
            "markets": list(markets),
        },
        "runs",
        run_id,
        "manifest.json",
    )
    if qc is not None:
        store.write_parquet(qc, "runs", run_id, "qc.parquet")
    return forecast


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "store"))


def test_publish_copies_the_forecast_and_lists_it(store):
    forecast = make_run(store, "weekly-a")
    store.write_text("# hi\n", "runs", "weekly-a", "insights.md")
    store.write_text("<html></html>", "runs", "weekly-a", "report", "index.html")
    manifest = publish_vintage(store, "weekly-a", "2026-W47", author="ana")
    assert (
        manifest["run_id"] == "weekly-a"
        and manifest["markets"] == ["DK", "SE"]
        and manifest["rows"] == 16
    )
    assert (
        manifest["data_end"] == "2026-11-16"
        and manifest["author"] == "ana"
        and manifest["override"] is None
    )
    assert set(manifest["files"]) == {
        "forecast.parquet",
        "insights.md",
        "report/index.html",
        "run.json",
    }
    pd.testing.assert_frame_equal(read_vintage(store, "2026-W47"), forecast)
    assert verify_vintage(store, "2026-W47") == []
    listing = list_vintages(store)
    assert listing[
        ["name", "run_id", "markets", "data_end", "override", "author"]
    ].values.tolist() == [["2026-W47", "weekly-a", 2, "2026-11-16", None, "ana"]]


def test_publishing_twice_with_the_same_name_fails_and_keeps_the_first(store):
    first = make_run(store, "weekly-a", level=100.0)
    make_run(store, "weekly-b", level=200.0)
    publish_vintage(store, "weekly-a", "v1")
    with pytest.raises(
        StoreError,
        match=r"vintage 'v1' already exists \(published by .* at .* from run weekly-a\).*never overwritten",
    ):
        publish_vintage(store, "weekly-b", "v1")
    pd.testing.assert_frame_equal(read_vintage(store, "v1"), first)
    assert verify_vintage(store, "v1") == [] and list_vintages(store)["name"].tolist() == ["v1"]
    assert vintage_manifest(store, "v1")["run_id"] == "weekly-a"


def _interrupted_publish(store: Store, run_id: str, name: str, stage: bool) -> None:
    """A publish in another process that claims `name` (and stages its files), then exits unmarked."""
    script = (
        "from fcast.infra.store import Store\n"
        "from fcast.infra.vintage import _stage, claim_vintage\n"
        f"store = Store({store.url!r})\n"
        f"claim_vintage(store, {name!r}, {run_id!r}, 'ana')\n"
        + (f"_stage(store, {run_id!r}, {name!r}, {{'name': {name!r}}})\n" if stage else "")
    )
    subprocess.run([sys.executable, "-c", script], cwd=ROOT, check=True)


def test_a_publish_interrupted_at_any_step_leaves_no_vintage_that_looks_complete(store):
    make_run(store, "weekly-a")
    make_run(store, "weekly-b")
    claim_vintage(store, "v0", "weekly-a")  # claimed by this (live) process, nothing staged yet
    _interrupted_publish(store, "weekly-a", "v1", stage=False)  # killed right after the claim
    _interrupted_publish(store, "weekly-b", "v2", stage=True)  # killed before the marker
    assert list_vintages(store).empty and previous_vintages(store) == []
    assert incomplete_vintages(store) == ["v0", "v1", "v2"]
    with pytest.raises(StoreError, match="'v2' is incomplete"):
        read_vintage(store, "v2")
    with pytest.raises(StoreError, match=r"no official vintage 'v9' .*available: none"):
        read_vintage(store, "v9")
    # a live publish's name is refused; an interrupted one is never replaced behind the operator's back
    with pytest.raises(StoreError, match=r"'v0' is being published by .* from run weekly-a"):
        publish_vintage(store, "weekly-b", "v0")
    with pytest.raises(
        StoreError, match=r"'v2' is held by an interrupted publish .*vintages --clean"
    ):
        publish_vintage(store, "weekly-b", "v2")
    # cleaning removes the folders of publishers that are gone (dead pid on this host), not live ones
    assert clean_incomplete(store, older_than=3600) == ["v1", "v2"]
    assert incomplete_vintages(store) == ["v0"]
    publish_vintage(store, "weekly-b", "v2")
    assert list_vintages(store)["name"].tolist() == ["v2"] and verify_vintage(store, "v2") == []


def test_a_publish_killed_midway_leaves_complete_vintages_intact_and_no_half_vintage(store):
    make_run(store, "weekly-a")
    rng = np.random.default_rng(0)
    for k in range(150):  # a report heavy enough that a publish takes a while
        store.write_bytes(rng.bytes(40_000), "runs", "weekly-a", "report", "png", f"m{k:03d}.png")
    script = (
        f"from fcast.infra.store import Store\nfrom fcast.infra.vintage import publish_vintage\nstore = Store({store.url!r})\n"
        f"for i in range(1000):\n    publish_vintage(store, 'weekly-a', f'v{{i:03d}}')\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    official = Path(store.root) / "official"
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            entries = os.listdir(official) if official.exists() else []
            complete = [e for e in entries if (official / e / MARKER).exists()]
            if len(complete) >= 2 and len(complete) < len(entries):
                break
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert incomplete_vintages(store), "the publish was not caught midway"
    listing = list_vintages(store)
    assert len(listing) >= 2 and all(verify_vintage(store, n) == [] for n in listing["name"])
    for entry in incomplete_vintages(store):
        assert entry not in set(listing["name"]) and entry not in previous_vintages(store, n=100)
    clean_incomplete(store, older_than=0)
    assert incomplete_vintages(store) == []
    nxt = f"v{len(listing):03d}"
    publish_vintage(store, "weekly-a", nxt)
    assert verify_vintage(store, nxt) == []


def test_qc_errors_refuse_the_publish_unless_overridden_with_a_reason(store):
    qc = pd.DataFrame(
        {
            "market": ["SE", "DK"],
            "check": ["negative", "jump"],
            "severity": ["error", "warning"],
            "detail": ["3 negative values", "jump of 40%"],
        }
    )
    make_run(store, "weekly-a", qc=qc)
    with pytest.raises(
        StoreError,
        match=r"QC found 1 error\(s\): SE negative: 3 negative values; .*override reason",
    ):
        publish_vintage(store, "weekly-a", "v1")
    with pytest.raises(StoreError, match="QC found 1 error"):
        publish_vintage(store, "weekly-a", "v1", override_reason="  ")
    assert list_vintages(store).empty and incomplete_vintages(store) == []
    manifest = publish_vintage(
        store, "weekly-a", "v1", override_reason="known data fix pending", author="ana"
    )
    assert manifest["override"] == {
        "reason": "known data fix pending",
        "author": "ana",
        "errors": [{"market": "SE", "check": "negative", "detail": "3 negative values"}],
    }
    assert set(manifest["files"]) >= {"qc.parquet", "forecast.parquet"}
    assert list_vintages(store)["override"].tolist() == ["known data fix pending"]


def test_previous_vintages_are_newest_first_and_can_stop_before_a_name(store):
    make_run(store, "weekly-a")
    for name in ("v1", "v2", "v3"):
        publish_vintage(store, "weekly-a", name)
    assert previous_vintages(store) == ["v3", "v2"]
    assert previous_vintages(store, n=5, before="v3") == ["v2", "v1"]
    assert previous_vintages(store, before="v1") == []
    with pytest.raises(StoreError, match="no official vintage 'v9'"):
        previous_vintages(store, before="v9")
    assert list_vintages(store)["published"].is_monotonic_increasing


def test_bad_names_and_runs_are_clear_errors(store):
    make_run(store, "weekly-a")
    make_run(store, "weekly-f", status="failed")
    for bad in ("", "a/b", "../x", "v1.tmp-1234", "-x", "V2\n", "v\x00", "..", "a\\b"):
        with pytest.raises(StoreError, match="invalid vintage name"):
            publish_vintage(store, "weekly-a", bad)
    for bad in ("../../other/runs/weekly-a", "weekly-a\n", "/abs"):
        with pytest.raises(StoreError, match="invalid run id"):
            publish_vintage(store, bad, "v1")
    with pytest.raises(StoreError, match=r"no run 'weekly-zz' in store .*latest runs: weekly-a"):
        publish_vintage(store, "weekly-zz", "v1")
    with pytest.raises(StoreError, match="run weekly-f is not complete \\(status 'failed'\\)"):
        publish_vintage(store, "weekly-f", "v1")
    assert not (Path(store.root) / "official").exists() or list_vintages(store).empty


@pytest.mark.parametrize(
    ("freq", "name"),
    [
        ("W-MON", "2026-W48"),
        ("MS", "2026-11"),
        ("QS", "2026-Q4"),
        ("D", "2026-11-23"),
        ("QE", "2026-Q4"),
    ],
)
def test_period_names_follow_the_datas_frequency(freq, name):
    assert period_name(pd.Timestamp("2026-11-23"), freq) == name


def test_default_names_follow_the_last_week_of_actuals_and_never_collide(store):
    make_run(store, "weekly-a")  # data_end 2026-11-16: ISO week 47
    assert default_name(store, "weekly-a") == "2026-W47"
    publish_vintage(store, "weekly-a", default_name(store, "weekly-a"))
    assert default_name(store, "weekly-a") == "2026-W47-2"
    publish_vintage(store, "weekly-a", "2026-W47-2")
    assert default_name(store, "weekly-a") == "2026-W47-3"
