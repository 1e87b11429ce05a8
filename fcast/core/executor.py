"""One executor for every per-market block stage: tuning (grid, halving), holdout scoring, the applier.

A stage hands `run_blocks` a kernel `fn` and its blocks (each a name, the stage's own key and
the kernel's arguments). The blocks run in-process one after another, or as tasks on a
`distributed.Client`; the results come back in block order, and `on_done` hears of each block
as it finishes. A stage that stores its results (tuning's Zarr regions) passes `commit`, which
runs inside the task after the kernel and returns the block's result (its report), and `read`,
which fetches a finished block's result from where `commit` put it.

With a `task_timeout`, the kernel runs in a helper thread the task stops waiting for at the
limit; the block's output is then `timed_out(*args)` (NaN cells, say), committed with
``timed_out=True``. On a cluster the client also watches each block from the moment a worker
starts it (a start event on a topic), so a kernel that freezes its whole worker (holding the
GIL in compiled code) is cancelled too: the client commits the block as timed out and the
worker is restarted by its nanny. Results are then read with `read` when the stage has one,
not gathered: a block that finished on a worker which then froze would otherwise block the
client too.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

#: how often a supervising client looks for finished and overdue blocks
POLL_SECONDS = 0.5

#: commit(key, output, t0, timed_out) -> the block's result; t0 is a perf_counter() of this process
Commit = Callable[[Any, Any, float, bool], Any]


@dataclass(frozen=True)
class Block:
    """One task: its `name` (task keys, messages), the stage's own `key`, and the kernel's `args`."""

    name: str
    key: Any
    args: tuple


@dataclass(frozen=True)
class TimeLimit:
    """How long a kernel may run; `topic` names the start events a supervising client follows."""

    seconds: float
    topic: str | None = None


def _within(seconds: float, fn: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
    """(True, fn(*args)) run in a helper thread, or (False, None) if it still runs after `seconds`."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["out"] = fn(*args)
        except BaseException as exc:  # re-raised in the task thread
            box["exc"] = exc

    thread = threading.Thread(target=target, name="fcast-block", daemon=True)
    thread.start()
    thread.join(seconds)  # a thread still running is abandoned; its output is never used
    if "exc" in box:
        raise box["exc"]
    return ("out" in box), box.get("out")


def _announce_start(topic: str, name: str) -> None:
    """Tell the supervising client which worker starts this block (a synchronous call, so it arrives)."""
    from distributed import get_client, get_worker

    get_client().log_event(topic, {"block": name, "worker": get_worker().address})


def run_task(
    fn: Callable[..., Any],
    block: Block,
    limit: TimeLimit | None,
    timed_out: Callable[..., Any] | None,
    commit: Commit | None,
) -> Any:
    """The task body: the kernel (within the limit, else its timed-out output), then the commit."""
    t0 = time.perf_counter()
    if limit is None:
        out, late = fn(*block.args), False
    else:
        if limit.topic:
            _announce_start(limit.topic, block.name)
        finished, out = _within(limit.seconds, fn, *block.args)
        late = not finished
        if late:
            out = timed_out(*block.args)  # type: ignore[misc] - run_blocks checks it is given
    return commit(block.key, out, t0, late) if commit else out


@dataclass
class Progress:
    """Progress lines on stderr: blocks done of all, elapsed and remaining time (about every 10% in logs)."""

    label: str
    total: int
    done: int = 0
    t0: float = field(default_factory=time.perf_counter)
    ran: int = 0

    def step(self, detail: str | None = None) -> None:
        """One more block done: print its line."""
        self.done, self.ran = self.done + 1, self.ran + 1
        elapsed = time.perf_counter() - self.t0
        eta = elapsed / self.ran * (self.total - self.done)
        line = (
            f"{self.label}: {self.done}/{self.total} blocks{detail or ''}, "
            f"{elapsed:.0f}s elapsed, ~{eta:.0f}s left"
        )
        end = "\r" if sys.stderr.isatty() and self.done < self.total else "\n"
        if end == "\n" and self.done < self.total and self.done % max(1, self.total // 10):
            return  # in logs, print about every 10%
        print(line, end=end, file=sys.stderr, flush=True)


def run_blocks(
    fn: Callable[..., Any],
    blocks: Sequence[Block],
    *,
    client: Any = None,
    task_timeout: float | None = None,
    timed_out: Callable[..., Any] | None = None,
    commit: Commit | None = None,
    read: Callable[[Any], Any] | None = None,
    on_done: Callable[[Block, Any], str | None] | None = None,
    progress: Progress | None = None,
    prefix: str = "block",
) -> list[Any]:
    """Run `fn(*block.args)` for every block, in-process or on `client`; the results in block order.

    `on_done(block, result)` is called as each block finishes; what it returns is added to
    that block's `progress` line. Task keys are ``<prefix>-<block name>-<random>``.
    """
    if task_timeout and timed_out is None:
        raise ValueError("a task_timeout needs `timed_out`, the output of a block cut off")
    limit = None
    if task_timeout:
        topic = f"fcast-{prefix}-{uuid.uuid4().hex[:8]}" if client is not None else None
        limit = TimeLimit(float(task_timeout), topic)
    if client is None:
        stream: Iterator[tuple[int, Any]] = (
            (i, run_task(fn, b, limit, timed_out, commit)) for i, b in enumerate(blocks)
        )
    else:
        futures = {
            client.submit(
                run_task,
                fn,
                b,
                limit,
                timed_out,
                commit,
                key=f"{prefix}-{b.name}-{uuid.uuid4().hex[:8]}",
                pure=False,
            ): i
            for i, b in enumerate(blocks)
        }
        if limit is None:
            stream = _completed(futures)
        else:
            stream = _supervised(client, futures, blocks, limit, timed_out, commit, read)  # type: ignore[arg-type]
    results: list[Any] = [None] * len(blocks)
    for i, result in stream:
        results[i] = result
        detail = on_done(blocks[i], result) if on_done else None
        if progress is not None:
            progress.step(detail)
    return results


def _completed(futures: dict) -> Iterator[tuple[int, Any]]:
    """(index, result) as blocks finish; each future is dropped once read, so its result leaves the worker."""
    from distributed import as_completed

    for fut in as_completed(list(futures)):
        yield futures.pop(fut), fut.result()


def _supervised(
    client: Any,
    futures: dict,
    blocks: Sequence[Block],
    limit: TimeLimit,
    timed_out: Callable[..., Any],
    commit: Commit | None,
    read: Callable[[Any], Any] | None,
) -> Iterator[tuple[int, Any]]:
    """(index, result) as blocks finish; a block stuck past the limit is cancelled, committed as timed out, and its worker restarted."""
    starts: dict[str, tuple[str, float]] = {}

    def on_start(event: tuple[float, dict]) -> None:
        starts[event[1]["block"]] = (event[1]["worker"], time.monotonic())

    client.subscribe_topic(limit.topic, on_start)
    try:
        while futures:
            yield from _take_ready(futures, blocks, read)
            yield from _cut_off(client, futures, blocks, starts, limit.seconds, timed_out, commit)
    finally:
        client.unsubscribe_topic(limit.topic)


def _ready(pending: dict, timeout: float) -> list:
    """Futures among `pending` that finished within `timeout` seconds."""
    from distributed import wait

    try:
        done, _ = wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return []
    return list(done)


def _take_ready(
    futures: dict, blocks: Sequence[Block], read: Callable[[Any], Any] | None
) -> Iterator[tuple[int, Any]]:
    """(index, result) of the blocks that finish within a poll, read with `read` if given; their futures are dropped."""
    for fut in _ready(futures, POLL_SECONDS):
        i = futures.pop(fut)
        if fut.status != "finished":
            fut.result()  # raises the task's error, which the scheduler holds
        yield i, (read(blocks[i].key) if read else fut.result())


def _grace(seconds: float) -> float:
    """Extra time before the client steps in: a block whose worker still runs Python times itself out first."""
    return max(2.0, 0.1 * seconds)


def _overdue(
    client: Any, futures: dict, blocks: Sequence[Block], starts: dict, seconds: float
) -> list[tuple[Any, str, float]]:
    """(future, worker, elapsed) of blocks still running on the worker that started them, past the limit."""
    now, limit = time.monotonic(), seconds + _grace(seconds)
    late = []
    for fut, i in futures.items():
        name = blocks[i].name
        if name in starts and now - starts[name][1] > limit:
            late.append((fut, *starts[name]))
    if not late:
        return []
    running = client.processing()
    out = []
    for fut, worker, t0 in late:
        if fut.key in running.get(worker, ()):
            out.append((fut, worker, now - t0))
        else:  # its worker left and the task waits elsewhere; a new start event will come
            starts.pop(blocks[futures[fut]].name, None)
    return out


def _cut_off(
    client: Any,
    futures: dict,
    blocks: Sequence[Block],
    starts: dict,
    seconds: float,
    timed_out: Callable[..., Any],
    commit: Commit | None,
) -> Iterator[tuple[int, Any]]:
    """Cancel the blocks stuck past the limit on a frozen worker, commit them as timed out, restart that worker."""
    for fut, worker, elapsed in _overdue(client, futures, blocks, starts, seconds):
        i = futures.pop(fut)
        client.cancel(fut)
        block = blocks[i]
        out = timed_out(*block.args)
        result = commit(block.key, out, time.perf_counter() - elapsed, True) if commit else out
        _restart(client, worker)
        yield i, result


def _restart(client: Any, worker: str) -> None:
    """Restart a worker through its nanny, which kills even a frozen process."""
    try:
        client.restart_workers([worker], raise_for_error=False)
    except ValueError as exc:  # no nanny: the scheduler drops the frozen worker after distributed.scheduler.worker-ttl
        print(f"fcast: cannot restart worker {worker}: {exc}", file=sys.stderr, flush=True)


def say_timed_out(
    label: str, block: str, what: str, limit: float, seconds: float, fits: int
) -> None:
    """One line naming a block that ran out of time, what it held, and how long it ran."""
    print(
        f"{label}: block {block} ({what}) exceeded task_timeout={limit:g}s "
        f"after {seconds:.1f}s; its {fits} fits are marked failed",
        file=sys.stderr,
        flush=True,
    )
