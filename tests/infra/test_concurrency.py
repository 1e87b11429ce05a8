"""Jobs at once on one store, in real processes (issue 17 items 7 and 8, and the store lock).

Races are forced with barriers and events (an injected pause in the commit window), never
with sleeps; the waits have a generous cap only so that a broken test fails instead of hanging.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import socket
from pathlib import Path

import pandas as pd
import pytest

from fcast.errors import StoreError
from fcast.infra import lock as lockmod
from fcast.infra.lock import Holder, store_lock
from fcast.infra.store import CLAIM, Store

CAP = 120.0  #: seconds a wait may take before the test fails instead of hanging
CTX = mp.get_context("spawn")  # no fork of a process that may hold threads (dask, the heartbeat)


def _join(procs: list) -> None:
    for p in procs:
        p.join(CAP)
        assert p.exitcode == 0, f"worker exit code {p.exitcode}"


# --- unique run ids ---------------------------------------------------------------------------


def _make_ids(root: str, barrier, queue, k: int) -> None:
    store = Store(root)
    barrier.wait(CAP)
    queue.put((os.getpid(), [store.new_run_id("tuning", "abcdef123") for _ in range(k)]))


def test_run_ids_created_at_once_by_many_processes_are_distinct(tmp_path):
    n, k = 6, 5
    root = str(tmp_path / "store")
    barrier, queue = CTX.Barrier(n), CTX.Queue()
    procs = [CTX.Process(target=_make_ids, args=(root, barrier, queue, k)) for _ in range(n)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=CAP) for _ in range(n)]
    _join(procs)
    ids = [run_id for _, ids in got for run_id in ids]
    assert len(set(ids)) == n * k, f"duplicate run ids: {sorted(ids)}"
    for pid, run_ids in got:  # each run folder is claimed by the process that got its id
        for run_id in run_ids:
            claim = json.loads((tmp_path / "store" / "runs" / run_id / CLAIM).read_text())
            assert claim["pid"] == pid


# --- two publishes of one vintage name ---------------------------------------------------------


def _make_run(store: Store, run_id: str, level: float) -> pd.DataFrame:
    dates = pd.date_range("2026-11-23", periods=4, freq="W-MON")
    forecast = pd.DataFrame({"market": "SE", "date": dates, "yhat": level, "family": "ets"})
    store.write_parquet(forecast, "runs", run_id, "forecast.parquet")
    store.write_text(f"# insights of {run_id}\n", "runs", run_id, "insights.md")
    store.write_json(
        {"run_id": run_id, "kind": "weekly", "status": "complete", "data_end": "2026-11-16"},
        "runs",
        run_id,
        "manifest.json",
    )
    return forecast


def _publish_pausing_before_the_marker(root: str, in_window, go, queue) -> None:
    """Publish weekly-a as v1, pausing in the commit window (before the marker) until `go`."""
    from fcast.infra import vintage

    mark = vintage._mark

    def paused(store: Store, name: str) -> None:
        in_window.set()
        assert go.wait(CAP)
        mark(store, name)

    vintage._mark = paused
    try:
        vintage.publish_vintage(Store(root), "weekly-a", "v1", author="ana")
        queue.put(("a", "ok"))
    except StoreError as exc:
        queue.put(("a", str(exc)))


def _publish_in_the_window(root: str, in_window, queue) -> None:
    """Publish weekly-b as v1 while the other publish is inside its commit window."""
    from fcast.infra import vintage

    assert in_window.wait(CAP)
    try:
        vintage.publish_vintage(Store(root), "weekly-b", "v1", author="bo")
        queue.put(("b", "ok"))
    except StoreError as exc:
        queue.put(("b", str(exc)))


def test_a_second_publish_of_a_name_in_the_commit_window_fails_and_keeps_the_first(tmp_path):
    from fcast.infra.vintage import read_vintage, verify_vintage, vintage_manifest

    store = Store(str(tmp_path / "store"))
    first = _make_run(store, "weekly-a", 100.0)
    _make_run(store, "weekly-b", 200.0)
    in_window, go, queue = CTX.Event(), CTX.Event(), CTX.Queue()
    a = CTX.Process(
        target=_publish_pausing_before_the_marker, args=(store.url, in_window, go, queue)
    )
    b = CTX.Process(target=_publish_in_the_window, args=(store.url, in_window, queue))
    a.start()
    b.start()
    who, b_result = queue.get(timeout=CAP)  # b finishes while a waits in its window
    go.set()
    a_who, a_result = queue.get(timeout=CAP)
    _join([a, b])
    assert (who, a_who) == ("b", "a")
    assert a_result == "ok"
    assert b_result.startswith("vintage 'v1' is being published by ana from run weekly-a")
    pd.testing.assert_frame_equal(read_vintage(store, "v1"), first)
    assert vintage_manifest(store, "v1")["run_id"] == "weekly-a"
    assert verify_vintage(store, "v1") == []
    assert (tmp_path / "store/official/v1/insights.md").read_text() == "# insights of weekly-a\n"
    with pytest.raises(StoreError, match=r"vintage 'v1' already exists \(published by ana at "):
        from fcast.infra.vintage import publish_vintage

        publish_vintage(store, "weekly-b", "v1")


# --- the store lock -----------------------------------------------------------------------------


def _hold(root: str, name: str, owner: str, barrier, queue, release, hook_barrier=None) -> None:
    """Try to take lock `name`; report; hold it until `release`."""
    if hook_barrier is not None:  # every taker has judged the lock stale before any takes it
        waited = []

        def once() -> None:
            if not waited:
                waited.append(True)
                hook_barrier.wait(CAP)

        lockmod.HOOKS["before_takeover"] = once
    barrier.wait(CAP)
    try:
        with store_lock(root, name, owner=owner, interval=3600):
            queue.put(("got", owner, ""))
            assert release.wait(CAP)
    except StoreError as exc:
        queue.put(("refused", owner, str(exc)))


def _contest(root: str, n: int, hook: bool) -> list[tuple[str, str, str]]:
    """n processes take one lock at once; the holder keeps it until all have tried."""
    barrier, queue, release = CTX.Barrier(n), CTX.Queue(), CTX.Event()
    hook_barrier = CTX.Barrier(n) if hook else None
    procs = [
        CTX.Process(
            target=_hold, args=(root, "publish", f"job{i}", barrier, queue, release, hook_barrier)
        )
        for i in range(n)
    ]
    for p in procs:
        p.start()
    results = [queue.get(timeout=CAP) for _ in range(n)]
    release.set()
    _join(procs)
    return results


def test_one_of_many_processes_gets_the_lock_the_others_a_clear_error(tmp_path):
    root = str(tmp_path / "store")
    results = _contest(root, 5, hook=False)
    got = [owner for kind, owner, _ in results if kind == "got"]
    assert len(got) == 1
    for kind, _, msg in results:
        if kind == "refused":
            assert (
                f"publish in store {root} is locked by {got[0]} on {socket.gethostname()} (pid "
                in msg
            )
            assert " since " in msg and "; it looks alive" in msg
    assert not (tmp_path / "store" / "locks" / "publish.lock").exists()  # released by its owner


def _stale_lock(root: Path, name: str = "publish") -> None:
    """A lock left by a job on another host whose heartbeat stopped long ago."""
    (root / "locks").mkdir(parents=True, exist_ok=True)
    gone = Holder("old job", "elsewhere", 4242, "2020-01-01T00:00:00Z", 0.0, "t" * 32)
    (root / "locks" / f"{name}.lock").write_bytes(gone.to_bytes())


def test_two_takers_of_one_stale_lock_never_both_get_it(tmp_path):
    _stale_lock(tmp_path / "store")
    results = _contest(str(tmp_path / "store"), 4, hook=True)
    got = [owner for kind, owner, _ in results if kind == "got"]
    assert len(got) == 1, results
    assert all("looks alive" in m or "changed hands" in m for k, _, m in results if k == "refused")
    assert list((tmp_path / "store" / "locks").iterdir()) == []  # lock released, markers cleaned


def _die_holding(root: str) -> None:
    lock = lockmod.acquire(Store(root), "publish", owner="crashed job", interval=3600)
    assert lock.holder.pid == os.getpid()
    os._exit(0)  # killed: no release


def test_a_lock_whose_process_died_on_this_host_is_taken_over(tmp_path):
    root = str(tmp_path / "store")
    p = CTX.Process(target=_die_holding, args=(root,))
    p.start()
    _join([p])
    left = json.loads((tmp_path / "store/locks/publish.lock").read_text())
    assert left["owner"] == "crashed job" and left["pid"] == p.pid
    with store_lock(root, "publish", owner="next job") as lock:
        held = json.loads((tmp_path / "store/locks/publish.lock").read_text())
        assert held["owner"] == "next job" and held["token"] == lock.holder.token


def _hold_until_told(root: str, holding, leave, queue) -> None:
    try:
        with store_lock(root, "publish", owner="slow job", interval=3600):
            holding.set()
            assert leave.wait(CAP)
        queue.put("ok")
    except StoreError as exc:
        queue.put(str(exc))


def test_a_process_never_deletes_a_lock_it_no_longer_owns(tmp_path):
    root = str(tmp_path / "store")
    path = tmp_path / "store" / "locks" / "publish.lock"
    holding, leave, queue = CTX.Event(), CTX.Event(), CTX.Queue()
    p = CTX.Process(target=_hold_until_told, args=(root, holding, leave, queue))
    p.start()
    assert holding.wait(CAP)
    frozen = {**json.loads(path.read_text()), "heartbeat": 0.0}  # its heartbeat stopped
    path.write_text(json.dumps(frozen))
    with store_lock(root, "publish", owner="next job", interval=3600) as lock:
        leave.set()  # the slow job now leaves its block and releases
        message = queue.get(timeout=CAP)
        _join([p])
        assert json.loads(path.read_text())["token"] == lock.holder.token  # still ours
    assert "lock 'publish' in store" in message and "was taken over by next job" in message
    assert not path.exists()


def test_the_heartbeat_is_refreshed_while_held(tmp_path):
    path = tmp_path / "store" / "locks" / "tuning.lock"
    with store_lock(str(tmp_path / "store"), "tuning", owner="me", interval=0.01) as lock:
        first = json.loads(path.read_text())["heartbeat"]
        for _ in range(100_000):  # until the heartbeat thread has written once
            if json.loads(path.read_text())["heartbeat"] != first:
                break
            lock._stop.wait(0.01)
        assert json.loads(path.read_text())["heartbeat"] > first
        lock.ensure()
