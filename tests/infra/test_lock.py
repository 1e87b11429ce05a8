"""The store lock on a local folder and through fsspec (`memory://`, in one process)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from fcast.errors import StoreError
from fcast.infra.lock import Holder, acquire, lock_holder, lock_path, store_lock
from fcast.infra.store import Store


@pytest.fixture(params=["local", "memory"])
def store(request, tmp_path) -> Store:
    if request.param == "local":
        return Store(str(tmp_path / "store"))
    return Store(f"memory://fcast-test-{uuid.uuid4().hex}")


def _write(store: Store, path: str, holder: Holder) -> None:
    store.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
    store.fs.pipe_file(path, holder.to_bytes())


def _read(store: Store, name: str = "publish") -> dict:
    return json.loads(store.fs.cat_file(lock_path(store, name)))


GONE = Holder("old job", "elsewhere", 4242, "2020-01-01T00:00:00Z", 0.0, "t" * 32)


def _dead_here() -> Holder:
    """A fresh-looking holder on this host whose process has exited."""
    pid = subprocess.Popen([sys.executable, "-c", "pass"])
    pid.wait()
    return Holder("crashed taker", socket.gethostname(), pid.pid, "now", time.time(), "d" * 32)


def test_held_lock_is_refused_then_free_after_release(store):
    with store_lock(store, "publish", owner="first", interval=3600) as lock:
        held = _read(store)
        assert {k: held[k] for k in ("owner", "host", "pid", "token")} == {
            "owner": "first",
            "host": socket.gethostname(),
            "pid": lock.holder.pid,
            "token": lock.holder.token,
        }
        assert held["started"] and held["heartbeat"] and held["heartbeat_at"]
        with pytest.raises(
            StoreError,
            match=r"publish in store .* is locked by first on .* since .*; it looks alive",
        ):
            acquire(store, "publish", owner="second")
        assert lock_holder(store, "publish").owner == "first"
    assert (
        not store.fs.exists(lock_path(store, "publish")) and lock_holder(store, "publish") is None
    )
    with store_lock(store, "publish", owner="second", interval=3600):
        assert _read(store)["owner"] == "second"


def test_a_stale_lock_is_taken_over(store):
    _write(store, lock_path(store, "publish"), GONE)
    assert lock_holder(store, "publish") is None  # stale counts as free
    with store_lock(store, "publish", owner="new", interval=3600) as lock:
        assert _read(store)["token"] == lock.holder.token


def test_a_marker_left_by_a_crashed_taker_does_not_block_the_next(store):
    path = lock_path(store, "publish")
    _write(store, path, GONE)
    _write(store, f"{path}.takeover-{GONE.token}-1", _dead_here())  # its pid is dead on this host
    with store_lock(store, "publish", owner="new", interval=3600):
        assert _read(store)["owner"] == "new"
        assert store.fs.glob(f"{path}.takeover-*") == []


def test_a_live_takeover_in_progress_is_respected(store):
    path = lock_path(store, "publish")
    _write(store, path, GONE)
    me = Holder("taker", socket.gethostname(), os.getpid(), "now", time.time(), "m" * 32)
    _write(store, f"{path}.takeover-{GONE.token}-1", me)  # a live process is taking it over
    with pytest.raises(StoreError, match="changed hands"):
        acquire(store, "publish", owner="late")
    assert _read(store)["token"] == GONE.token


def test_a_lock_taken_over_while_held_is_not_deleted_and_is_reported(store):
    lock = acquire(store, "publish", owner="slow", interval=3600)
    frozen = Holder(**{**lock.holder.__dict__, "heartbeat": 0.0})
    store.fs.pipe_file(lock_path(store, "publish"), frozen.to_bytes())  # its heartbeat stopped
    with store_lock(store, "publish", owner="next", interval=3600) as nxt:
        lock.refresh()
        with pytest.raises(
            StoreError, match=r"lock 'publish' in store .* was taken over by next on"
        ):
            lock.ensure()
        lock.release()
        assert _read(store)["token"] == nxt.holder.token


def test_a_block_whose_lock_was_taken_over_ends_in_an_error(store):
    with (
        pytest.raises(StoreError, match="was taken over"),
        store_lock(store, "publish", owner="slow", interval=3600) as lock,
    ):
        stale = Holder(**{**lock.holder.__dict__, "heartbeat": 0.0})
        store.fs.pipe_file(lock_path(store, "publish"), stale.to_bytes())
        acquire(store, "publish", owner="next", interval=3600).release()
        store.fs.pipe_file(lock_path(store, "publish"), GONE.to_bytes())
    assert _read(store)["token"] == GONE.token  # not ours: left alone


def test_an_unreadable_lock_file_is_a_clear_error(store):
    store.fs.makedirs(f"{store.root}/locks", exist_ok=True)
    store.fs.pipe_file(lock_path(store, "publish"), b"{not json")
    with pytest.raises(
        StoreError, match=r"lock file .*publish.lock is unreadable; remove it by hand"
    ):
        acquire(store, "publish")


@pytest.mark.parametrize("name", ["../x", "a/b", "x\n", ""])
def test_lock_names_follow_the_name_rule(store, name):
    with pytest.raises(StoreError, match="invalid lock name"):
        acquire(store, name)
