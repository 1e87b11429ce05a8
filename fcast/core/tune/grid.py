"""Tuning: the error cube error(market, split, hp, step) computed as one Dask graph of blocks.

A block is a set of markets x a set of hps, with every split of those markets inside the
same task, so the graph grows with blocks, not with fits. Each task fits its models,
writes its region of `tuning.zarr` and then a small marker file; a rerun skips blocks
whose marker exists, so an interrupted tuning resumes instead of starting over.

Cell status: 0 = fitted, 1 = fit failed (NaN forecast, counted), 2 = skipped because the
market's training window in that split is shorter than `min_train`.

With a `task_timeout`, a block whose fits run longer is cut off: its cells end as failed and
the report says which block and how long it ran. The fits run in a helper thread the task
stops waiting for; on a cluster the client also watches each block from the moment a worker
starts it, so a fit that freezes its whole worker (holding the GIL in compiled code) is
cancelled too and that worker is restarted by its nanny.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import dask.array as da
import fsspec
import numpy as np
import pandas as pd
import xarray as xr

from fcast.core.metrics import mase_scale, pointwise
from fcast.core.models import Model
from fcast.core.space import models_of

OK, FAILED, SKIPPED = 0, 1, 2
ZARR_FORMAT = 2  # v2 keeps string coords (market codes) and consolidated metadata in-spec

#: automatic block sizing (`block_markets=None`): blocks per worker thread to aim for, so the
#: last blocks leave little idle time (measured: 25 blocks/thread put 200 series at 1.08x (ETS)
#: and 1.03x (ARIMA) of the kernel limit); fits a block holds at least, so its fixed cost (task, region write, marker,
#: ~20 ms) stays ~1% of it; and the most markets a block holds.
BLOCKS_PER_THREAD = 24
MIN_BLOCK_FITS = 50
MAX_BLOCK_MARKETS = 8


@dataclass(frozen=True)
class BlockKey:
    """An explicit chunk key: block (i, j) covers markets [m0, m1) and hps [h0, h1)."""

    i: int
    j: int
    m0: int
    m1: int
    h0: int
    h1: int

    @property
    def name(self) -> str:
        return f"{self.i}-{self.j}"


@dataclass(frozen=True)
class BlockReport:
    """What one block task did."""

    block: str
    fits: int
    failed: int
    skipped: int
    seconds: float
    timed_out: bool = False


@dataclass(frozen=True)
class TimeLimit:
    """How long a block's fits may run; `topic` names the start events a supervising client follows."""

    seconds: float
    topic: str | None = None


def plan_blocks(n_markets: int, n_hps: int, block_markets: int, block_hps: int) -> list[BlockKey]:
    """Tile the market x hp plane into blocks (all splits and steps stay inside a block)."""
    keys = []
    for i, m0 in enumerate(range(0, n_markets, block_markets)):
        for j, h0 in enumerate(range(0, n_hps, block_hps)):
            keys.append(
                BlockKey(
                    i, j, m0, min(m0 + block_markets, n_markets), h0, min(h0 + block_hps, n_hps)
                )
            )
    return keys


def auto_block_markets(
    n_markets: int, n_splits: int, n_hps: int, block_hps: int, threads: int | None
) -> int:
    """Markets per block: enough blocks to keep every thread busy to the end, enough fits to amortise each.

    `threads` is the cluster's worker-thread count, or None in-process (where blocks only
    cost overhead, so they are as large as allowed).
    """
    hp_blocks = -(-n_hps // block_hps)
    per_market = max(1, n_splits * min(n_hps, block_hps))
    floor = -(-MIN_BLOCK_FITS // per_market)
    if threads is None:
        balance = MAX_BLOCK_MARKETS
    else:
        balance = min(
            MAX_BLOCK_MARKETS, (n_markets * hp_blocks) // (BLOCKS_PER_THREAD * max(1, threads))
        )
    return max(1, min(n_markets, max(floor, balance)))


def client_threads(client: Any) -> int | None:
    """Worker threads of a cluster (at least 1), or None without a client."""
    if client is None:
        return None
    workers = client.scheduler_info().get("workers", {})
    return max(1, sum(int(w.get("nthreads", 1)) for w in workers.values()))


def first_observed(y: np.ndarray) -> np.ndarray:
    """Index of each row's first finite value (len of row when none)."""
    finite = np.isfinite(y)
    return np.where(finite.any(axis=1), finite.argmax(axis=1), y.shape[1])


def evaluate_block(
    y: np.ndarray,
    train_stop: np.ndarray,
    models: Sequence[Model],
    horizon: int,
    metric: str,
    min_train: int,
    x: np.ndarray | None = None,
    features: Sequence[str] | None = None,
) -> dict[str, np.ndarray]:
    """Fit every (market, split, model) of a block: yhat, error and status, dims (market, split, hp, step).

    `x` (market, time, feature) holds the holiday features on the same time axis as `y`; a
    split's models with regressors see x[:, first:stop] for training and x[:, stop:stop+horizon]
    as the future values, exactly like y, so nothing after the cutoff leaks into the fit.
    """
    n_m, n_s, n_h = y.shape[0], len(train_stop), len(models)
    yhat = np.full((n_m, n_s, n_h, horizon), np.nan)
    error = np.full_like(yhat, np.nan)
    status = np.full((n_m, n_s, n_h), SKIPPED, dtype="int8")
    first = first_observed(y)
    for mi in range(n_m):
        for si, stop in enumerate(train_stop):
            train = y[mi, first[mi] : stop]
            if len(train) < min_train:
                continue
            test = y[mi, stop : stop + horizon]
            scale = mase_scale(train, models[0].season_length) if models else np.nan
            for hi, model in enumerate(models):
                try:
                    if model.uses_x:
                        fc = model.forecast(
                            train,
                            horizon,
                            X=None if x is None else x[mi, first[mi] : stop],
                            X_future=None if x is None else x[mi, stop : stop + horizon],
                            features=features,
                        )["mean"]
                    else:
                        fc = model.forecast(train, horizon)["mean"]
                except Exception:  # a failed fit is a NaN cell, counted, never a crashed run
                    status[mi, si, hi] = FAILED
                    continue
                yhat[mi, si, hi] = fc
                error[mi, si, hi] = pointwise(metric, test, fc, scale)
                status[mi, si, hi] = OK
    return {"yhat": yhat, "error": error, "status": status}


def _marker(path: str, key: BlockKey) -> str:
    return f"{path}/.blocks/{key.name}.json"


def timed_out_block(
    y: np.ndarray, train_stop: np.ndarray, n_hps: int, horizon: int, min_train: int
) -> dict[str, np.ndarray]:
    """The arrays of a block that ran out of time: NaN, FAILED where a fit was due, else SKIPPED."""
    n_m, n_s = y.shape[0], len(train_stop)
    first = first_observed(y)
    due = (train_stop[None, :] - first[:, None]) >= min_train
    status = np.where(due[:, :, None], FAILED, SKIPPED).astype("int8").repeat(n_hps, axis=2)
    yhat = np.full((n_m, n_s, n_hps, horizon), np.nan)
    return {"yhat": yhat, "error": yhat.copy(), "status": status}


def write_block(
    path: str, key: BlockKey, out: dict[str, np.ndarray], t0: float, timed_out: bool = False
) -> BlockReport:
    """Write a block's region of the Zarr store, then its marker; return its report."""
    dims4, dims3 = ("market", "split", "hp", "step"), ("market", "split", "hp")
    block = xr.Dataset(
        {
            "yhat": (dims4, out["yhat"]),
            "error": (dims4, out["error"]),
            "status": (dims3, out["status"]),
        }
    )
    block.to_zarr(
        path,
        region={"market": slice(key.m0, key.m1), "hp": slice(key.h0, key.h1)},
        zarr_format=ZARR_FORMAT,
    )
    st = out["status"]
    report = BlockReport(
        key.name,
        fits=int(st.size - (st == SKIPPED).sum()),
        failed=int((st == FAILED).sum()),
        skipped=int((st == SKIPPED).sum()),
        seconds=round(time.perf_counter() - t0, 4),
        timed_out=timed_out,
    )
    marker = _marker(path, key)
    fs, target = fsspec.core.url_to_fs(marker)
    aside = f"{target}.{uuid.uuid4().hex[:8]}.tmp"  # written aside, then moved: a marker is whole or absent
    fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    fs.pipe_file(aside, json.dumps(asdict(report)).encode())
    fs.mv(aside, target)
    return report


def _within(seconds: float, fn: Callable[..., Any], *args: Any) -> Any:
    """fn(*args) in a helper thread; None if it still runs after `seconds` (the thread is abandoned)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["out"] = fn(*args)
        except BaseException as exc:  # re-raised in the task thread
            box["exc"] = exc

    thread = threading.Thread(target=target, name="fcast-block", daemon=True)
    thread.start()
    thread.join(seconds)
    if "exc" in box:
        raise box["exc"]
    return box.get("out")


def _announce_start(topic: str, key: BlockKey) -> None:
    """Tell the supervising client which worker starts this block (a synchronous call, so it arrives)."""
    from distributed import get_client, get_worker

    get_client().log_event(topic, {"block": key.name, "worker": get_worker().address})


def run_block(
    path: str,
    key: BlockKey,
    y: np.ndarray,
    train_stop: np.ndarray,
    models: Sequence[Model],
    horizon: int,
    metric: str,
    min_train: int,
    limit: TimeLimit | None = None,
    x: np.ndarray | None = None,
    features: Sequence[str] | None = None,
) -> BlockReport:
    """The task: evaluate one block, write its region of the Zarr store, then its marker."""
    t0 = time.perf_counter()
    if limit is None:
        return write_block(
            path,
            key,
            evaluate_block(y, train_stop, models, horizon, metric, min_train, x, features),
            t0,
        )
    if limit.topic:
        _announce_start(limit.topic, key)
    out = _within(
        limit.seconds,
        evaluate_block,
        y,
        train_stop,
        models,
        horizon,
        metric,
        min_train,
        x,
        features,
    )
    if out is None:
        return write_block(
            path, key, timed_out_block(y, train_stop, len(models), horizon, min_train), t0, True
        )
    return write_block(path, key, out, t0)


def template(
    y_tune: xr.DataArray,
    labels: xr.Dataset,
    hp: xr.Dataset,
    horizon: int,
    metric: str,
    season_length: int,
    min_train: int,
    block_markets: int,
    block_hps: int,
) -> xr.Dataset:
    """The full tuning cube with lazy, block-chunked placeholders and eager y_test and scale."""
    train_stop = labels["train_stop"].values
    y = y_tune.values
    first = first_observed(y)
    n_m, n_s, n_h = y.shape[0], len(train_stop), hp.sizes["hp"]
    y_test = np.full((n_m, n_s, horizon), np.nan)
    scale = np.full((n_m, n_s), np.nan)
    for mi in range(n_m):
        for si, stop in enumerate(train_stop):
            if stop - first[mi] >= min_train:
                y_test[mi, si] = y[mi, stop : stop + horizon]
                scale[mi, si] = mase_scale(y[mi, first[mi] : stop], season_length)
    chunks4 = (block_markets, n_s, block_hps, horizon)
    ds = xr.Dataset(
        {
            "yhat": (
                ("market", "split", "hp", "step"),
                da.full((n_m, n_s, n_h, horizon), np.nan, chunks=chunks4),
            ),
            "error": (
                ("market", "split", "hp", "step"),
                da.full((n_m, n_s, n_h, horizon), np.nan, chunks=chunks4),
            ),
            "status": (
                ("market", "split", "hp"),
                da.full((n_m, n_s, n_h), -1, dtype="int8", chunks=chunks4[:3]),
            ),
            "y_test": (("market", "split", "step"), y_test),
            "scale": (("market", "split"), scale),
        },
        coords={
            "market": y_tune["market"].values,
            "split": labels["split"].values,
            "step": np.arange(1, horizon + 1),
            "cutoff": ("split", labels["cutoff"].values),
            "train_stop": ("split", train_stop),
        },
        attrs={
            "metric": metric,
            "season_length": season_length,
            "horizon": horizon,
            "min_train": min_train,
        },
    )
    return ds.assign_coords(hp.coords)


def done_blocks(path: str) -> set[str]:
    """Names of blocks whose results are already in the store."""
    fs, root = fsspec.core.url_to_fs(f"{path}/.blocks")
    if not fs.exists(root):
        return set()
    names = (p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))
    return {n.removesuffix(".json") for n in names if n.endswith(".json")}


def _progress(done: int, total: int, fits: int, failed: int, t0: float) -> None:
    """One progress line: blocks, fits, failures, elapsed and remaining time."""
    elapsed = time.perf_counter() - t0
    eta = elapsed / done * (total - done) if done else float("nan")
    line = f"tuning: {done}/{total} blocks, {fits} fits, {failed} failed, {elapsed:.0f}s elapsed, ~{eta:.0f}s left"
    end = "\r" if sys.stderr.isatty() and done < total else "\n"
    if end == "\n" and done < total and done % max(1, total // 10):
        return  # in logs, print about every 10%
    print(line, end=end, file=sys.stderr, flush=True)


def _iter_reports(futures: dict) -> Iterator[BlockReport]:
    """Reports as blocks finish; each future is dropped once read, so its result leaves the worker."""
    from distributed import as_completed

    for fut in as_completed(list(futures)):
        futures.pop(fut)
        yield fut.result()


POLL_SECONDS = 0.5


def _grace(seconds: float) -> float:
    """Extra time before the client steps in: a block whose worker still runs Python times itself out first."""
    return max(2.0, 0.1 * seconds)


def _ready(pending: dict, timeout: float) -> list:
    """Futures among `pending` that finished within `timeout` seconds."""
    from distributed import wait

    try:
        done, _ = wait(list(pending), timeout=timeout, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return []
    return list(done)


def _overdue(client, pending: dict, starts: dict, seconds: float) -> list[tuple[Any, str, float]]:  # noqa: ANN001
    """(future, worker, elapsed) of blocks still running on the worker that started them, past the limit."""
    now, limit = time.monotonic(), seconds + _grace(seconds)
    late = [
        (f, *starts[k.name])
        for f, k in pending.items()
        if k.name in starts and now - starts[k.name][1] > limit
    ]
    if not late:
        return []
    running = client.processing()
    out = []
    for fut, worker, t0 in late:
        if fut.key in running.get(worker, ()):
            out.append((fut, worker, now - t0))
        else:  # its worker left and the task waits elsewhere; a new start event will come
            starts.pop(pending[fut].name, None)
    return out


def _supervised(
    client,
    pending: dict,
    limit: TimeLimit,
    path: str,
    fail: Callable[[BlockKey, float], BlockReport],  # noqa: ANN001
) -> Iterator[BlockReport]:
    """Reports as blocks finish; a block stuck past the limit is cancelled, failed, and its worker restarted.

    Reports are read from the blocks' markers, never gathered from workers: a block that
    finished on a worker which then froze would otherwise block the client too.
    """
    starts: dict[str, tuple[str, float]] = {}

    def on_start(event: tuple[float, dict]) -> None:
        starts[event[1]["block"]] = (event[1]["worker"], time.monotonic())

    client.subscribe_topic(limit.topic, on_start)
    try:
        while pending:
            yield from _take_ready(pending, POLL_SECONDS, path)
            yield from _cut_off(client, pending, starts, limit.seconds, fail)
    finally:
        client.unsubscribe_topic(limit.topic)


def _take_ready(pending: dict, timeout: float, path: str) -> Iterator[BlockReport]:
    """Reports of the blocks that finish within `timeout`, from their markers; their futures are dropped."""
    for fut in _ready(pending, timeout):
        key = pending.pop(fut)
        if fut.status != "finished":
            fut.result()  # raises the task's error, which the scheduler holds
        yield read_report(path, key)


def read_report(path: str, key: BlockKey) -> BlockReport:
    """The report a block wrote into its marker."""
    with fsspec.open(_marker(path, key), "r") as fh:
        return BlockReport(**json.load(fh))


def _cut_off(
    client,
    pending: dict,
    starts: dict,
    seconds: float,
    fail: Callable[[BlockKey, float], BlockReport],  # noqa: ANN001
) -> Iterator[BlockReport]:
    """Cancel and fail the blocks stuck past the limit on a frozen worker, and restart that worker."""
    for fut, worker, elapsed in _overdue(client, pending, starts, seconds):
        key = pending.pop(fut)
        client.cancel(fut)
        report = fail(key, elapsed)
        _restart(client, worker)
        yield report


def _restart(client, worker: str) -> None:  # noqa: ANN001
    """Restart a worker through its nanny, which kills even a frozen process."""
    try:
        client.restart_workers([worker], raise_for_error=False)
    except ValueError as exc:  # no nanny: the scheduler drops the frozen worker after distributed.scheduler.worker-ttl
        print(f"tuning: cannot restart worker {worker}: {exc}", file=sys.stderr, flush=True)


def _say_timed_out(
    rep: BlockReport, key: BlockKey, y: xr.DataArray, hp: xr.Dataset, limit: float
) -> None:
    """One line naming the block that ran out of time, its markets and hps, and how long it ran."""
    markets = ",".join(map(str, y["market"].values[key.m0 : key.m1][:5]))
    hps = (
        ",".join(map(str, hp["label"].values[key.h0 : key.h1][:5]))
        if "label" in hp.coords
        else f"{key.h0}..{key.h1 - 1}"
    )
    print(
        f"tuning: block {rep.block} (markets {markets}; hps {hps}) exceeded task_timeout={limit:g}s "
        f"after {rep.seconds:.1f}s; its {rep.fits} fits are marked failed",
        file=sys.stderr,
        flush=True,
    )


def tune(
    y: xr.DataArray,
    labels: xr.Dataset,
    hp: xr.Dataset,
    path: str,
    *,
    horizon: int,
    metric: str = "mase",
    season_length: int = 1,
    min_train: int = 2,
    block_markets: int | None = None,
    block_hps: int = 32,
    client=None,  # noqa: ANN001 - a distributed.Client or None for in-process
    progress: bool = True,
    task_timeout: float | None = None,
    x: xr.DataArray | None = None,
) -> tuple[xr.Dataset, list[BlockReport]]:
    """Compute the error cube into `path` (Zarr), resuming done blocks; return it lazily and the reports.

    `x` (market, time, feature): holiday features for the models that take regressors; it must
    cover y's markets and times (extra markets or later times are ignored). `block_markets=None`
    sizes blocks from the fit count and the cluster's threads (`auto_block_markets`); a resumed
    cube keeps the block sizes it was started with.
    """
    y_tune = y.isel(time=slice(0, int(labels.attrs["holdout_start"])))
    x_values, features = align_x(x, y_tune)
    fs, root = fsspec.core.url_to_fs(path)
    if not fs.exists(
        f"{root}/.blocks/_template"
    ):  # written last, so a half-written template is redone
        if block_markets is None:
            block_markets = auto_block_markets(
                y_tune.sizes["market"],
                labels.sizes["split"],
                hp.sizes["hp"],
                block_hps,
                client_threads(client),
            )
        tmpl = template(
            y_tune, labels, hp, horizon, metric, season_length, min_train, block_markets, block_hps
        )
        tmpl.to_zarr(path, mode="w", compute=False, zarr_format=ZARR_FORMAT, consolidated=True)
        with fsspec.open(f"{path}/.blocks/_template", "w", auto_mkdir=True) as fh:
            fh.write("ok")
    existing = xr.open_zarr(path, consolidated=True)
    block_markets = existing["yhat"].encoding["chunks"][0]
    block_hps = existing["yhat"].encoding["chunks"][2]
    keys = plan_blocks(y_tune.sizes["market"], hp.sizes["hp"], block_markets, block_hps)
    done = done_blocks(path)
    todo = [k for k in keys if k.name not in done]
    train_stop = labels["train_stop"].values
    models = models_of(hp, season_length)
    values = y_tune.values
    limit = None
    if task_timeout:
        limit = TimeLimit(
            task_timeout, f"fcast-tune-{uuid.uuid4().hex[:8]}" if client is not None else None
        )
    if x_values is None and any(mod.uses_x for mod in models):
        raise ValueError(
            "the space has models with holiday regressors; pass the holiday features as x"
        )
    if x_values is None or not any(mod.uses_x for mod in models):
        x_values = features = None  # tasks stay exactly as before when no model takes regressors
    args = [
        (
            path,
            k,
            values[k.m0 : k.m1],
            train_stop,
            models[k.h0 : k.h1],
            horizon,
            metric,
            min_train,
            limit,
            None if x_values is None else x_values[k.m0 : k.m1],
            features,
        )
        for k in todo
    ]
    if progress and done:
        print(f"tuning: resuming, {len(done)}/{len(keys)} blocks already done", file=sys.stderr)
    reports: list[BlockReport] = []
    t0 = time.perf_counter()
    if client is None:
        stream: Iterator[BlockReport] = (run_block(*a) for a in args)
    else:
        futures = {
            client.submit(run_block, *a, key=f"tune-block-{a[1].name}-{id(path)}", pure=False): a[1]
            for a in args
        }
        if limit is None:
            stream = _iter_reports(futures)
        else:
            stream = _supervised(
                client, futures, limit, path, _failer(path, values, train_stop, horizon, min_train)
            )
    by_name = {k.name: k for k in todo}
    fits = failed = 0
    for n, rep in enumerate(stream, 1):
        reports.append(rep)
        if rep.timed_out and progress:
            _say_timed_out(rep, by_name[rep.block], y_tune, hp, task_timeout or 0)
        fits, failed = fits + rep.fits, failed + rep.failed
        if progress:
            _progress(len(done) + n, len(keys), fits, failed, t0)
    return xr.open_zarr(path, consolidated=True), reports


def align_x(
    x: xr.DataArray | None, y: xr.DataArray, time: pd.DatetimeIndex | None = None
) -> tuple[np.ndarray | None, list[str] | None]:
    """x's values for y's markets on y's time axis (or `time`), dims (market, time, feature), and the feature names."""
    if x is None:
        return None, None
    index = y["time"].values if time is None else np.asarray(time)
    try:
        sub = x.sel(market=y["market"].values, time=index)
    except KeyError as exc:
        raise ValueError(
            f"holiday features x do not cover the markets and times needed: {exc}"
        ) from None
    sub = sub.transpose("market", "time", "feature")
    return np.asarray(sub.values, dtype="float64"), [str(f) for f in sub["feature"].values]


def _failer(
    path: str, values: np.ndarray, train_stop: np.ndarray, horizon: int, min_train: int
) -> Callable[[BlockKey, float], BlockReport]:
    """Client side: write a block the client cut off as timed out."""

    def fail(key: BlockKey, elapsed: float) -> BlockReport:
        out = timed_out_block(
            values[key.m0 : key.m1], train_stop, key.h1 - key.h0, horizon, min_train
        )
        return write_block(path, key, out, time.perf_counter() - elapsed, timed_out=True)

    return fail


def errors(tuning: xr.Dataset, metric: str) -> xr.DataArray:
    """Pointwise loss of any metric from the stored forecasts (the cube stores one metric)."""
    scale = tuning["scale"] if metric == "mase" else 1.0
    return (
        xr.apply_ufunc(pointwise, metric, tuning["y_test"], tuning["yhat"], scale, dask="allowed")
        .transpose(*tuning["yhat"].dims)
        .rename("error")
    )
