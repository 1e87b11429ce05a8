"""One lock for the store: `<root>/locks/<name>.lock`, created exclusively, with a heartbeat.

The lock file holds owner, host, pid, started, heartbeat and a random token. While held, a
background thread refreshes the heartbeat. A lock is stale when its heartbeat is older than
the timeout, or its pid is dead on this host; a stale lock is taken over, never deleted.

Every write to an existing lock file, by a taker (takeover), by its owner (heartbeat) or its
release, first creates the marker `<name>.lock.takeover-<token>-<k>` exclusively for the
token it finds in the lock, then re-reads the lock and writes only if the token is still
there. So of two takers of one stale lock exactly one wins, and a process never deletes or
overwrites a lock it does not own. A marker left by a crashed process is itself stale, and
the next one uses generation k + 1. Works on a local folder and through fsspec (object stores
with exclusive creation: gcsfs, s3fs with conditional writes; `memory://` in one process).
"""

from __future__ import annotations

import getpass
import json
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fcast.atomic import create_in, write_in
from fcast.errors import StoreError
from fcast.names import check_name
from fcast.redact import redact

if TYPE_CHECKING:
    import fsspec

    from fcast.infra.store import Store

LOCKS = "locks"
TIMEOUT = 600.0  #: seconds without a heartbeat after which a lock is stale
HOOKS: dict[str, Callable[[], None]] = {}  #: test hooks: "before_takeover"


@dataclass(frozen=True)
class Holder:
    """Who holds a lock (or a takeover marker)."""

    owner: str
    host: str
    pid: int
    started: str
    heartbeat: float
    token: str

    def to_bytes(self) -> bytes:
        """The JSON content of a lock file."""
        return json.dumps({**asdict(self), "heartbeat_at": _iso(self.heartbeat)}).encode()

    def describe(self) -> str:
        """'OWNER on HOST (pid N) since STARTED'."""
        return f"{self.owner} on {self.host} (pid {self.pid}) since {self.started}"


def _iso(epoch: float) -> str:
    """Epoch seconds as ISO UTC text."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def default_owner() -> str:
    """'user: command line' of this process (redacted, short)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    command = " ".join([os.path.basename(sys.argv[0]), *sys.argv[1:]]) if sys.argv else "python"
    return f"{user}: {redact(command)[:120]}"


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0
    return True


def is_stale(holder: Holder, timeout: float) -> bool:
    """Whether a holder's heartbeat is older than `timeout` or its pid is dead on this host."""
    if holder.host == socket.gethostname() and not pid_alive(holder.pid):
        return True
    return time.time() - holder.heartbeat > timeout


def read_holder(fs: fsspec.AbstractFileSystem, path: str) -> Holder | None:
    """The holder recorded in a lock or marker file; None when the file is gone."""
    try:
        raw = fs.cat_file(path)
    except FileNotFoundError:
        return None
    try:
        data = json.loads(raw)
        return Holder(**{k: data[k] for k in Holder.__dataclass_fields__})
    except (ValueError, KeyError, TypeError):
        raise StoreError(
            f"lock file {path} is unreadable; remove it by hand if no fcast job is running"
        ) from None


def _marker(
    fs: fsspec.AbstractFileSystem, path: str, token: str, me: Holder, timeout: float
) -> str | None:
    """Create the next free takeover marker for `token`; None when a live process holds one."""
    k = 1
    while True:
        marker = f"{path}.takeover-{token}-{k}"
        if create_in(fs, marker, me.to_bytes()):
            return marker
        other = read_holder(fs, marker)
        if other is not None and not is_stale(other, timeout):
            return None
        k += 1


def _remove(fs: fsspec.AbstractFileSystem, path: str) -> None:
    """Remove a file if it is there."""
    with suppress(FileNotFoundError):
        fs.rm_file(path)


def _markers_of(fs: fsspec.AbstractFileSystem, path: str, token: str) -> list[str]:
    """Takeover markers left for a token (by crashed takers)."""
    return sorted(fs.glob(f"{path}.takeover-{token}-*"))


def _swap(
    fs: fsspec.AbstractFileSystem,
    path: str,
    token: str,
    me: Holder,
    timeout: float,
    new: bytes | None,
) -> bool:
    """Under a takeover marker for `token`: if the lock still holds `token`, write `new` (None: delete)."""
    marker = _marker(fs, path, token, me, timeout)
    if marker is None:
        return False
    try:
        current = read_holder(fs, path)
        if current is None or current.token != token:
            return False
        if new is None:
            _remove(fs, path)
        else:
            write_in(fs, path, new)
        return True
    finally:
        _remove(fs, marker)


class StoreLock:
    """A held lock; a daemon thread refreshes its heartbeat until `release`."""

    def __init__(
        self, store: Store, name: str, holder: Holder, timeout: float, interval: float
    ) -> None:
        self.store, self.name, self.holder = store, name, holder
        self.path = lock_path(store, name)
        self.timeout, self.interval = timeout, interval
        self.lost: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"fcast-lock-{name}", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        """Refresh the heartbeat every `interval` seconds until stopped or lost."""
        while not self._stop.wait(self.interval) and self.lost is None:
            try:
                self.refresh()
            except (OSError, StoreError):
                continue  # a transient store error: the next beat tries again

    def refresh(self) -> None:
        """Write a fresh heartbeat into the lock, if it is still ours."""
        beat = replace(self.holder, heartbeat=time.time())
        if _swap(self.store.fs, self.path, self.holder.token, beat, self.timeout, beat.to_bytes()):
            self.holder = beat
        else:
            self.lost = _taken_message(self.store, self.name, self.path)

    def ensure(self) -> None:
        """Raise StoreError when the lock was taken over while held (call before committing work)."""
        if self.lost:
            raise StoreError(self.lost)

    def release(self) -> None:
        """Stop the heartbeat and delete the lock if it is still ours (never another's)."""
        self._stop.set()
        self._thread.join()
        fs, token = self.store.fs, self.holder.token
        if self.lost is None and not _swap(fs, self.path, token, self.holder, self.timeout, None):
            self.lost = _taken_message(self.store, self.name, self.path)
        for marker in _markers_of(fs, self.path, token):
            _remove(fs, marker)


def _taken_message(store: Store, name: str, path: str) -> str:
    """The error when a held lock was taken over by another process."""
    try:
        now = read_holder(store.fs, path)
    except StoreError:
        now = None
    by = f" by {now.describe()}" if now else ""
    return (
        f"lock {name!r} in store {store.label} was taken over{by} while this process held it "
        f"(its heartbeat looked stale); work done under it may overlap another job's"
    )


def lock_path(store: Store, name: str) -> str:
    """The filesystem path of a lock file."""
    return f"{store.root}/{LOCKS}/{check_name('lock name', name)}.lock"


def lock_holder(store: Store, name: str, timeout: float = TIMEOUT) -> Holder | None:
    """The live holder of a lock, or None when it is free or stale."""
    holder = read_holder(store.fs, lock_path(store, name))
    return None if holder is None or is_stale(holder, timeout) else holder


def _held_message(store: Store, name: str, holder: Holder, timeout: float) -> str:
    """The error when a lock is held by a live process."""
    age = max(0.0, time.time() - holder.heartbeat)
    return (
        f"{name} in store {store.label} is locked by {holder.describe()}; it looks alive "
        f"(last heartbeat {age:.0f}s ago, stale after {timeout:.0f}s): wait for it to finish, "
        f"or stop it and rerun"
    )


def _try_acquire(store: Store, name: str, me: Holder, timeout: float) -> bool:
    """One attempt: create the lock, or take over a stale one; StoreError when a live process holds it."""
    path = lock_path(store, name)
    if create_in(store.fs, path, me.to_bytes()):
        return True
    held = read_holder(store.fs, path)
    if held is None:
        return False  # released in between: try creating again
    if not is_stale(held, timeout):
        raise StoreError(_held_message(store, name, held, timeout))
    HOOKS.get("before_takeover", lambda: None)()
    if not _swap(store.fs, path, held.token, me, timeout, me.to_bytes()):
        return False
    for marker in _markers_of(store.fs, path, held.token):
        _remove(store.fs, marker)
    return True


def acquire(
    store: Store,
    name: str,
    owner: str | None = None,
    *,
    timeout: float = TIMEOUT,
    interval: float | None = None,
    attempts: int = 5,
) -> StoreLock:
    """Take lock `name` (creating it, or taking over a stale one); StoreError when a live process holds it."""
    now = time.time()
    me = Holder(
        owner or default_owner(),
        socket.gethostname(),
        os.getpid(),
        _iso(now),
        now,
        uuid.uuid4().hex,
    )
    for _ in range(attempts):
        if _try_acquire(store, name, me, timeout):
            return StoreLock(store, name, me, timeout, interval or timeout / 10)
    held = read_holder(store.fs, lock_path(store, name))
    who = f" (now {held.describe()})" if held else ""
    raise StoreError(
        f"{name} in store {store.label}: could not take the lock, it changed hands {attempts} times{who}; retry"
    )


@contextmanager
def store_lock(
    store: Store | str,
    name: str,
    owner: str | None = None,
    *,
    timeout: float = TIMEOUT,
    interval: float | None = None,
) -> Iterator[StoreLock]:
    """Hold lock `name` of a store for the block; StoreError if it is held, or was taken over meanwhile."""
    if isinstance(store, str):
        from fcast.infra.store import Store

        store = Store(store)
    lock = acquire(store, name, owner, timeout=timeout, interval=interval)
    try:
        yield lock
    except BaseException:
        lock.release()
        raise
    lock.release()
    lock.ensure()


def run_lock_name(run_id: str) -> str:
    """The lock a job holds on its run folder while it runs (resume skips live-locked runs)."""
    return f"run-{check_name('run id', run_id)}"
