"""Tests for fcast.infra.store.Store on a local folder."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from fcast.errors import StoreError
from fcast.infra.store import CLAIM, Store, utcnow


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "store"))


def all_files(root) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def manifest(
    run_id: str,
    status: str = "running",
    fingerprint: str = "fp1",
    input_hash: str = "h1",
    scope: list[str] | None = None,
    **extra,
) -> dict:
    kind = run_id.split("-", 1)[0]
    return {
        "run_id": run_id,
        "kind": kind,
        "status": status,
        "fingerprint": fingerprint,
        "input_hash": input_hash,
        "scope": scope if scope is not None else ["NO", "SE"],
        **extra,
    }


def add_run(store: Store, run_id: str, **kwargs) -> dict:
    m = manifest(run_id, **kwargs)
    store.write_json(m, "runs", run_id, "manifest.json")
    return m


# --- files --------------------------------------------------------------------------------


def test_json_round_trip(store, tmp_path):
    obj = {"a": 1, "b": [1.5, "x", None], "nested": {"ok": True}, "when": datetime(2024, 1, 1)}
    url = store.write_json(obj, "runs", "r1", "thing.json")
    assert url == f"{tmp_path}/store/runs/r1/thing.json"
    back = store.read_json("runs", "r1", "thing.json")
    assert back == {
        "a": 1,
        "b": [1.5, "x", None],
        "nested": {"ok": True},
        "when": "2024-01-01 00:00:00",
    }
    assert json.loads((tmp_path / "store" / "runs" / "r1" / "thing.json").read_text()) == back


def test_parquet_round_trip(store):
    df = pd.DataFrame(
        {
            "market": ["SE", "NO"],
            "date": pd.to_datetime(["2024-01-01", "2024-01-08"]),
            "yhat": [1.5, np.nan],
            "n": [1, 2],
        }
    )
    url = store.write_parquet(df, "runs", "r1", "forecast.parquet")
    pd.testing.assert_frame_equal(store.read_parquet("runs", "r1", "forecast.parquet"), df)
    # the returned URL is readable by pandas directly
    pd.testing.assert_frame_equal(pd.read_parquet(url), df)


def test_write_text_and_exists(store):
    assert not store.exists("runs", "r1", "insights.md")
    store.write_text("# hello\n", "runs", "r1", "insights.md")
    assert store.exists("runs", "r1", "insights.md")
    assert store.exists("runs", "r1")
    with open(store.path("runs", "r1", "insights.md")) as fh:
        assert fh.read() == "# hello\n"


def test_atomic_write_leaves_no_temp_files(store, tmp_path):
    store.write_json({"v": 1}, "latest", "tuning.json")
    store.write_json({"v": 2}, "latest", "tuning.json")  # overwrite
    store.write_parquet(pd.DataFrame({"x": [1]}), "runs", "r", "t.parquet")
    store.write_text("x", "runs", "r", "t.md")
    store.write_bytes(b"\x00\x01", "runs", "r", "b.bin")
    files = all_files(tmp_path / "store")
    assert files == ["latest/tuning.json", "runs/r/b.bin", "runs/r/t.md", "runs/r/t.parquet"]
    assert not any(".tmp-" in f for f in files)
    assert store.read_json("latest", "tuning.json") == {"v": 2}
    assert (tmp_path / "store" / "runs" / "r" / "b.bin").read_bytes() == b"\x00\x01"


def test_root_trailing_slash_and_file_url(tmp_path):
    a = Store(str(tmp_path / "s") + "/")
    assert a.path("runs", "x") == f"{tmp_path}/s/runs/x"
    b = Store((tmp_path / "s").as_uri())
    b.write_json({"ok": 1}, "latest", "tuning.json")
    assert b.path("latest", "tuning.json").startswith("file://")
    assert a.read_json("latest", "tuning.json") == {"ok": 1}
    assert b.run_url("r1", "manifest.json").endswith("/s/runs/r1/manifest.json")


# --- run ids ----------------------------------------------------------------------------------


def test_new_run_id_format(store):
    run_id = store.new_run_id("tuning", "abcdef123456")
    kind, stamp, fp, suffix = run_id.split("-")
    assert kind == "tuning"
    assert fp == "abcdef"
    assert len(suffix) == 7 and suffix[:3].isdigit() and int(suffix[3:], 16) >= 0
    parsed = datetime.strptime(stamp, "%Y%m%dT%H%M%S").replace(tzinfo=UTC)
    assert abs(datetime.now(UTC) - parsed) < timedelta(seconds=5)
    claim = store.read_json("runs", run_id, CLAIM)
    assert claim["pid"] == os.getpid() and claim["host"]


def test_new_run_id_unique_and_sortable_to_the_millisecond(store, monkeypatch):
    ids = []
    for _ in range(3):
        run_id = store.new_run_id("tuning", "abcdef123456")
        assert run_id not in ids
        add_run(store, run_id)
        ids.append(run_id)
    assert sorted(m["run_id"] for m in store.runs("tuning")) == sorted(ids)
    times = iter([datetime(2026, 1, 1, 0, 0, 0, ms * 1000, UTC) for ms in (5, 40, 999)])
    monkeypatch.setattr("fcast.infra.store._clock", lambda: next(times))
    later = [store.new_run_id("tuning", "abcdef") for _ in range(3)]
    assert sorted(later) == later


def test_new_run_id_retries_when_its_random_suffix_is_taken(store, monkeypatch):
    suffixes = iter(["aaaa", "aaaa", "aaaa", "bbbb"])
    monkeypatch.setattr("fcast.infra.store._suffix", lambda: next(suffixes))
    monkeypatch.setattr(
        "fcast.infra.store._clock", lambda: datetime(2026, 1, 1, 0, 0, 0, 7000, UTC)
    )
    assert store.new_run_id("tuning", "abcdef") == "tuning-20260101T000000-abcdef-007aaaa"
    assert store.new_run_id("tuning", "abcdef") == "tuning-20260101T000000-abcdef-007bbbb"


# --- runs and latest ---------------------------------------------------------------------------


def test_runs_empty_store(store):
    assert store.runs() == []
    assert store.runs("tuning") == []


def test_runs_lists_manifests_by_kind(store):
    t1 = add_run(store, "tuning-20240101T000000-aaaaaa", status="complete")
    w1 = add_run(store, "weekly-20240102T000000-aaaaaa", status="complete")
    t2 = add_run(store, "tuning-20240103T000000-aaaaaa")
    # a run folder without a manifest is not listed
    store.write_text("partial", "runs", "tuning-20240104T000000-aaaaaa", "tuning.zarr")
    assert store.runs("tuning") == [t1, t2]
    assert store.runs("weekly") == [w1]
    assert store.runs("publish") == []
    assert {m["run_id"] for m in store.runs()} == {t1["run_id"], w1["run_id"], t2["run_id"]}


def test_runs_all_kinds_oldest_first(store):
    add_run(store, "weekly-20240101T000000-aaaaaa", started="2024-01-01T00:00:00Z")
    add_run(store, "tuning-20240301T000000-aaaaaa", started="2024-03-01T00:00:00Z")
    assert [m["kind"] for m in store.runs()] == ["weekly", "tuning"]


def test_latest_without_tuning_raises_helpful_error(store):
    with pytest.raises(StoreError) as info:
        store.latest("tuning")
    msg = str(info.value)
    assert "no tuning run" in msg
    assert store.url in msg
    assert "fcast run tuning -c CONFIG" in msg


def test_set_latest_round_trip(store):
    store.set_latest("tuning", "tuning-20240101T000000-aaaaaa")
    assert store.latest("tuning") == "tuning-20240101T000000-aaaaaa"
    store.set_latest("tuning", "tuning-20240108T000000-bbbbbb")
    assert store.latest("tuning") == "tuning-20240108T000000-bbbbbb"
    pointer = store.read_json("latest", "tuning.json")
    assert set(pointer) == {"run_id", "updated"}
    with pytest.raises(StoreError):
        store.latest("weekly")


def test_utcnow_format():
    parsed = datetime.strptime(utcnow(), "%Y-%m-%dT%H:%M:%SZ")
    assert abs(datetime.now(UTC).replace(tzinfo=None) - parsed) < timedelta(seconds=5)


# --- resumable ------------------------------------------------------------------------------------


def test_resumable_finds_newest_unfinished_matching_run(store):
    add_run(store, "tuning-20240101T000000-aaaaaa", status="failed")
    add_run(store, "tuning-20240102T000000-aaaaaa", status="running")
    add_run(store, "tuning-20240103T000000-aaaaaa", status="complete")
    assert store.resumable("tuning", "fp1", "h1", ["NO", "SE"]) == "tuning-20240102T000000-aaaaaa"


def test_resumable_ignores_complete_runs(store):
    add_run(store, "tuning-20240101T000000-aaaaaa", status="complete")
    assert store.resumable("tuning", "fp1", "h1", ["NO", "SE"]) is None


@pytest.mark.parametrize(
    "change",
    [
        {"fingerprint": "fp2"},
        {"input_hash": "h2"},
        {"scope": ["SE"]},
        {"scope": ["DK", "NO", "SE"]},
    ],
    ids=["fingerprint", "input_hash", "fewer_markets", "more_markets"],
)
def test_resumable_needs_same_fingerprint_input_and_markets(store, change):
    add_run(store, "tuning-20240101T000000-aaaaaa", status="running", **change)
    assert store.resumable("tuning", "fp1", "h1", ["NO", "SE"]) is None
    add_run(store, "tuning-20240102T000000-aaaaaa", status="running")
    assert store.resumable("tuning", "fp1", "h1", ["NO", "SE"]) == "tuning-20240102T000000-aaaaaa"


def test_resumable_only_looks_at_its_kind(store):
    add_run(store, "weekly-20240101T000000-aaaaaa", status="running")
    assert store.resumable("tuning", "fp1", "h1", ["NO", "SE"]) is None
    assert store.resumable("weekly", "fp1", "h1", ["NO", "SE"]) == "weekly-20240101T000000-aaaaaa"


def test_resumable_empty_store(store):
    assert store.resumable("tuning", "fp1", "h1", ["SE"]) is None
