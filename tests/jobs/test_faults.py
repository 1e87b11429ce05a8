"""Faults on the distributed path: a worker killed, the client killed, a fit that hangs or raises.

(a) SIGKILL one of two worker processes while it runs a block: the job completes on the
    other with the same numbers. (b) SIGKILL the `fcast run tuning` process: the rerun
    resumes, refits only the blocks without a marker and ends with the same numbers. (c) A fit that blocks,
    one that freezes its worker holding the GIL, one that raises: the first two are cut off
    at `task_timeout` and reported, the third is a failed cell, everything else completes.

Nothing here races the clock: a fit that must be slow blocks on a gate (a FIFO that only the
test opens) until the test releases it, so it is running for sure when the test acts, and a
hang lasts until the test ends, whatever `task_timeout` is and however loaded the machine.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed.diagnostics.plugin import WorkerPlugin
from statsforecast.models import SeasonalNaive

from fcast.atomic import is_aside
from fcast.config import load_config
from fcast.contract import FAILED, OK
from fcast.core.label import label
from fcast.core.models import FAMILIES, Family, register
from fcast.core.space import parse_space
from fcast.core.tune import tune
from fcast.data import to_cube
from fcast.infra.cluster import connect
from fcast.jobs.pipeline import run_tuning
from tests.conftest import synthetic_actuals
from tests.infra.test_cluster import (
    free_port,
    process_env,
    start_scheduler,
    start_worker,
    stop,
    wait_for_workers,
    write_project,
)

pytestmark = pytest.mark.timeout(300)

MARKETS = [f"M{i:02d}" for i in range(12)]
SPACE = {
    "preprocess": {"log": [False, True]},
    "families": {
        "ets": {"spec": ["ANN", "AAdN"]},
        "theta": {"variant": ["standard"]},
        "seasonal_naive": {},
    },
}
BLOCKS = {"block_markets": 2, "block_hps": 2}  # 6 x 4 = 24 blocks of 2 markets x 2 hps x 2 splits
N_BLOCKS = 24
TUNING_VARS = ["yhat", "error", "status", "y_test", "scale"]


def block_markers(store: Path) -> list[Path]:
    """The finished block markers of the store's tuning runs, never one still being written aside.

    A live (or killed) job writes each marker aside as `.tmp-<hex>-<block>.json` first; glob
    matches dot files, and reading one mid-write sees an empty file.
    """
    return [p for p in store.glob("runs/*/tuning.zarr/.blocks/*.json") if not is_aside(p.name)]


def blocks_written(store: Path) -> dict[str, dict]:
    """Marker of every block written so far in the store's (single) tuning run."""
    return {p.stem: json.loads(p.read_text()) for p in block_markers(store)}


def assert_same_results(a: Path | str, b: Path | str) -> None:
    """Two run folders hold the same tuning cube, selection and forecast."""
    for name in ("selection.parquet", "forecast.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(f"{a}/{name}"), pd.read_parquet(f"{b}/{name}")
        )
    cube_a = xr.open_zarr(f"{a}/tuning.zarr")[TUNING_VARS].load()
    xr.testing.assert_identical(cube_a, xr.open_zarr(f"{b}/tuning.zarr")[TUNING_VARS].load())


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> str:
    """The uninterrupted run, in-process: the numbers every faulted run must reproduce."""
    config = write_project(tmp_path_factory.mktemp("reference"), MARKETS, "local", SPACE, **BLOCKS)
    result = run_tuning(load_config(config), progress=False)
    assert result.manifest["counts"]["blocks_run"] == N_BLOCKS
    return result.url


# --- (a) a worker dies -------------------------------------------------------------------

# named in reverse, the market with the highest level (the last one made) is M00, the only
# one above 10800; its first fit in the `once` hp claims the gate and blocks there, so that
# block (slow_block) is surely unfinished while the worker that claimed it runs it
MARKETS_A = [f"M{11 - k:02d}" for k in range(12)]
SPACE_A = {"families": {**SPACE["families"], "faulty": {"mode": ["once"], "above": [10800.0]}}}


def slow_block(tuning_url: str) -> str:
    """The name of the block holding M00 x the `once` hp, from a run's tuning cube (block_hps=1)."""
    cube = xr.open_zarr(f"{tuning_url}/tuning.zarr")
    market = cube.indexes["market"].get_loc("M00")
    (hp,) = np.flatnonzero(cube["family"].values == "faulty")
    return f"{market // 2}-{hp}"


@pytest.fixture(scope="module")
def reference_a(tmp_path_factory, faulty_family) -> str:
    """The uninterrupted run of the worker test's space, in-process (no gate: nothing blocks)."""
    config = write_project(
        tmp_path_factory.mktemp("reference-a"),
        MARKETS_A,
        "local",
        SPACE_A,
        block_markets=2,
        block_hps=1,
    )
    return run_tuning(load_config(config), progress=False).url


class WorkerKiller(threading.Thread):
    """SIGKILL the worker (one we started) whose fit claimed the gate, while that fit blocks."""

    def __init__(self, client, store: Path, pids: set[int], gate: Path) -> None:  # noqa: ANN001
        super().__init__(daemon=True)
        self.client, self.store, self.pids, self.gate = client, store, pids, gate
        self.killed: int | None = None
        self.in_flight: set[str] = set()
        self.written: set[str] = set()
        self.errors: list[str] = []

    def run(self) -> None:
        try:
            pid = int(wait_for_file(self.gate / CLAIM).read_text())
            self._kill(pid)
        except Exception as exc:  # reported by the test, not lost in this thread
            self.errors.append(repr(exc))

    def _kill(self, pid: int) -> None:
        if pid not in self.pids:
            self.errors.append(f"the blocked fit runs in pid {pid}, not one of ours {self.pids}")
            return
        pids = self.client.run(os.getpid)
        (worker,) = [w for w, p in pids.items() if p == pid]
        names = {"-".join(str(k).split("-")[2:4]) for k in self.client.processing()[worker]}
        self.in_flight, self.written = names, set(blocks_written(self.store))
        os.kill(pid, signal.SIGKILL)
        self.killed = pid


def test_a_worker_killed_mid_tuning_changes_nothing(tmp_path, reference_a):
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [start_scheduler("127.0.0.1", port)]
    procs += [
        start_worker(address, "127.0.0.1", f"w{i}", nanny=False) for i in range(2)
    ]  # no nanny: gone for good
    try:
        wait_for_workers(address, 2)
        cfg = load_config(
            write_project(tmp_path, MARKETS_A, address, SPACE_A, block_markets=2, block_hps=1)
        )
        gate = make_gate(tmp_path / "gate")
        with connect(cfg.cluster, quiet=True) as client, released(gate):
            client.register_plugin(RegisterFaulty(str(gate)))
            killer = WorkerKiller(client, tmp_path / "store", {p.pid for p in procs[1:]}, gate)
            killer.start()
            result = run_tuning(cfg, client=client, progress=False)
            killer.join(timeout=10)
            workers_left = len(client.scheduler_info()["workers"])
    finally:
        stop(procs)
    assert killer.killed is not None and not killer.errors, killer.errors
    assert workers_left == 1
    lost = killer.in_flight - killer.written
    # the worker died holding the blocked block, unfinished ...
    assert slow_block(reference_a) in lost, (killer.in_flight, killer.written)
    assert set(blocks_written(tmp_path / "store")) >= lost  # ... which the other worker redid
    n_blocks = 6 * 5
    assert (
        result.manifest["status"] == "complete"
        and result.manifest["counts"]["blocks_run"] == n_blocks
    )
    assert_same_results(result.url, reference_a)
    print(
        f"worker killed after {len(killer.written)}/{n_blocks} blocks, holding {sorted(lost)}; finished on 1 worker"
    )


# --- (b) the client dies ------------------------------------------------------------------


def test_a_killed_tuning_job_resumes_refitting_only_the_rest(tmp_path, reference):
    config = write_project(
        tmp_path, MARKETS, {"local": {"workers": 2, "threads": 1}}, SPACE, **BLOCKS
    )
    cmd = [sys.executable, "-m", "fcast.cli", "run", "tuning", "-c", str(config)]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(
            cmd, cwd=tmp_path, env=process_env(), stdout=log, stderr=log, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 240
            while (
                len(blocks_written(tmp_path / "store")) < 4
                and first.poll() is None
                and time.monotonic() < deadline
            ):
                time.sleep(0.02)
        finally:
            with suppress(ProcessLookupError):
                os.killpg(
                    first.pid, signal.SIGKILL
                )  # the job's whole process group, as when a pod is killed
            first.wait(timeout=30)
    before = {p: (p.stat().st_mtime_ns, p.read_text()) for p in block_markers(tmp_path / "store")}
    assert 0 < len(before) < N_BLOCKS, (tmp_path / "first.log").read_text()

    second = subprocess.run(
        cmd, cwd=tmp_path, env=process_env(), capture_output=True, text=True, timeout=300
    )
    assert second.returncode == 0, second.stderr
    assert f"resuming, {len(before)}/{N_BLOCKS} blocks already done" in second.stderr
    (run,) = (tmp_path / "store" / "runs").iterdir()  # the same run, finished
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["resumed"] is True
    assert manifest["counts"]["blocks_run"] == N_BLOCKS - len(before)  # refits only the rest
    assert all(
        (p.stat().st_mtime_ns, p.read_text()) == seen for p, seen in before.items()
    )  # done blocks untouched
    markers = blocks_written(tmp_path / "store")
    refits = sum(m["fits"] for name, m in markers.items() if name not in {p.stem for p in before})
    assert refits == manifest["counts"]["fits"] - sum(
        json.loads(text)["fits"] for _, text in before.values()
    )
    assert_same_results(run, reference)
    print(
        f"client killed after {len(before)}/{N_BLOCKS} blocks; the rerun ran {manifest['counts']['blocks_run']} "
        f"blocks ({refits} of {manifest['counts']['fits']} fits)"
    )


# --- (c) a fit hangs or raises --------------------------------------------------------------

#: the gate's FIFO every blocking fit opens for reading (blocks until the test opens it too)
FIFO = "release"
#: the file a fit in `once` mode creates (O_EXCL) with its pid before it blocks
CLAIM = "claimed"
#: the file that tells a fit arriving after the release not to block
RELEASED = "released"
#: the directory of the gate, in this process (tests) or a worker (set by RegisterFaulty)
GATE: dict[str, Path] = {}


def make_gate(folder: Path) -> Path:
    """A fresh gate: a folder with the FIFO the blocking fits wait on."""
    folder.mkdir(parents=True)
    os.mkfifo(folder / FIFO)
    return folder


@contextmanager
def released(gate: Path) -> Iterator[None]:
    """Release the gate on leaving: every fit blocked on it (or arriving later) goes on."""
    try:
        yield
    finally:
        (gate / RELEASED).touch()
        # a writer wakes every reader blocked in open(), even after it closes again
        os.close(os.open(gate / FIFO, os.O_RDWR | os.O_NONBLOCK))


def wait_for_state(check, what: str, limit: float = 240.0):  # noqa: ANN001, ANN201
    """Poll `check()` until truthy; `limit` only bounds a hang (nothing waits for a time)."""
    deadline = time.monotonic() + limit
    while not (value := check()):
        assert time.monotonic() < deadline, f"never saw {what}"
        time.sleep(0.05)
    return value


def wait_for_file(path: Path) -> Path:
    """`path` once it exists and is not empty (written whole by the one who creates it)."""
    wait_for_state(lambda: path.exists() and path.stat().st_size > 0, str(path))
    return path


def hold(hold_gil: bool) -> None:
    """Block until the test releases the gate: in Python (GIL released) or in C holding the GIL."""
    gate = GATE.get("path")
    if gate is None:
        raise RuntimeError("a blocking faulty fit needs a gate (make_gate, RegisterFaulty)")
    if (gate / RELEASED).exists():
        return
    fifo = os.fsencode(gate / FIFO)
    # with the GIL: a C call that keeps it, like stuck compiled model code
    opener = ctypes.PyDLL(None).open if hold_gil else os.open
    os.close(opener(fifo, os.O_RDONLY))


def claim() -> bool:
    """Whether this fit is the first to reach the gate (it then writes its pid into the claim)."""
    gate = GATE.get("path")
    if gate is None:
        return False
    try:
        fd = os.open(gate / CLAIM, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


class FaultyModel:
    """A seasonal naive forecast; for series that start above `above` it blocks until released
    (`block`: GIL released, `gil`: holding it), raises, or (`once`) blocks in the first fit only."""

    def __init__(self, mode: str, above: float, season_length: int) -> None:
        self.mode, self.above, self.season_length = mode, above, season_length

    def forecast(
        self, y: np.ndarray, h: int, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        if y[0] > self.above:
            if self.mode == "raise":
                raise RuntimeError("injected fault")
            if self.mode in ("block", "gil"):
                hold(hold_gil=self.mode == "gil")
            if self.mode == "once" and claim():
                hold(hold_gil=False)
        return SeasonalNaive(season_length=self.season_length).forecast(y=y, h=h, level=level)


FAULTY = Family(
    "faulty", {"mode": str, "above": float}, lambda p, m: FaultyModel(p["mode"], p["above"], m)
)


def warm_up() -> None:
    """Load and compile the model code in a worker before it runs any block."""
    SeasonalNaive(season_length=4).forecast(y=np.arange(20.0), h=2)


class RegisterFaulty(WorkerPlugin):
    """Register the faulty family and the gate in every worker process, including restarted ones."""

    def __init__(self, gate: str | None = None) -> None:
        self.gate = gate

    def setup(self, worker) -> None:  # noqa: ANN001
        register(FAULTY)
        if self.gate:
            GATE["path"] = Path(self.gate)
        warm_up()


@pytest.fixture(scope="module")
def faulty_family():
    """The faulty family in this process's registry while the module runs."""
    register(FAULTY)
    yield FAULTY
    FAMILIES.unregister(FAULTY.name)


@pytest.fixture()
def faulty(faulty_family):
    """Four markets (only SE starts above 3500), a seasonal naive and the three faulty models."""
    cube = to_cube(synthetic_actuals(["DK", "FI", "NO", "SE"], periods=120), "W-MON")
    labels = label(cube.time, splits=2, step=8, horizon=13, holdout=8, min_train=60)
    hp = parse_space(
        {
            "families": {
                "seasonal_naive": {},
                "faulty": {"mode": ["block", "gil", "raise"], "above": [3500.0]},
            }
        },
        "W-MON",
    )
    assert hp["mode"].values.tolist() == ["", "block", "gil", "raise"]
    return cube, labels, hp


@pytest.fixture()
def gate(tmp_path) -> Iterator[Path]:
    """A gate for this test, known in this process too; released (and forgotten) at the end."""
    path = make_gate(tmp_path / "gate")
    GATE["path"] = path
    with released(path):
        yield path
    GATE.pop("path", None)


def run_faulty(faulty, path: Path, client, hps: list[int], timeout: float):  # noqa: ANN001
    cube, labels, hp = faulty
    return tune(
        cube["y"],
        labels,
        hp.isel(hp=hps),
        str(path),
        horizon=13,
        season_length=52,
        min_train=60,
        block_markets=1,
        block_hps=1,
        client=client,
        progress=True,
        task_timeout=timeout,
    )


def check_cells(tuning: xr.Dataset, reference: xr.Dataset, failed_hps: list[int]) -> None:
    """SE's cells in the faulty hps failed (NaN); every other cell is fitted and equals the reference."""
    status = tuning["status"].load()
    for h in range(tuning.sizes["hp"]):
        se = status.sel(market="SE").isel(hp=h)
        assert bool((se == (FAILED if h in failed_hps else OK)).all()), h
    assert np.isnan(tuning["yhat"].sel(market="SE").isel(hp=failed_hps).values).all()
    others = tuning.drop_sel(market="SE")
    assert bool((others["status"] == OK).all())
    for h in range(
        tuning.sizes["hp"]
    ):  # the naive forecast: every model here equals the reference's
        xr.testing.assert_identical(
            others["yhat"].isel(hp=h).drop_vars(list(hp_coords(others))).load(), reference
        )


def hp_coords(ds: xr.Dataset) -> set[str]:
    return {c for c in ds.coords if ds.coords[c].dims == ("hp",)} | {"hp"}


def naive_reference(faulty, path: Path) -> xr.DataArray:  # noqa: ANN001
    """The seasonal naive forecasts of DK, FI and NO, tuned without any time limit."""
    cube, labels, hp = faulty
    tuning, _ = tune(
        cube["y"].sel(market=["DK", "FI", "NO"]),
        labels,
        hp.isel(hp=[0]),
        str(path),
        horizon=13,
        season_length=52,
        min_train=60,
        progress=False,
    )
    return tuning["yhat"].isel(hp=0).drop_vars(list(hp_coords(tuning))).load()


#: the time limit of the hang tests: far above what a normal block needs on a loaded machine
#: (milliseconds), and any value works for the blocked ones: they block until the test ends
LIMIT = 12.0  # far above a normal block (< 1 s); the blocked ones wait until released


def test_hanging_and_raising_fits_are_bounded_reported_and_the_rest_completes(
    faulty, gate, tmp_path, capfd
):
    from distributed import Client, LocalCluster

    reference = naive_reference(faulty, tmp_path / "ref.zarr")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(
            RegisterFaulty(str(gate))
        )  # also warms up: imports are no block's time
        tuning, reports = run_faulty(faulty, tmp_path / "t.zarr", client, [0, 1, 2, 3], LIMIT)
        client.wait_for_workers(2, timeout=120)  # the frozen worker was restarted, not lost
        assert not (gate / RELEASED).exists()  # nothing was let go: the run ended on its own
    err = capfd.readouterr().err
    timed_out = {r.block: r.seconds for r in reports if r.timed_out}
    # SE x block, SE x gil; SE x raise is a plain failed fit
    assert set(timed_out) == {"3-1", "3-2"}
    # never cut off before the limit; the frozen worker only by the client, after its grace
    assert timed_out["3-1"] >= LIMIT  # the blocked fit: cut off by its own task
    assert timed_out["3-2"] >= LIMIT + 2  # the frozen worker: by the client
    for block in ("3-1", "3-2"):
        assert (
            f"block {block} (markets SE; hps faulty(" in err
            and f"exceeded task_timeout={LIMIT:g}s after" in err
        )
    assert (
        "3-3" not in timed_out and sum(r.failed for r in reports) == 3 * 2
    )  # three SE cells x two splits
    check_cells(tuning, reference, failed_hps=[1, 2, 3])
    print(f"timed out: {timed_out} with a {LIMIT:g}s limit")


def test_in_process_a_hanging_fit_is_cut_off_at_the_limit(faulty, gate, tmp_path, capfd):
    reference = naive_reference(faulty, tmp_path / "ref.zarr")
    tuning, reports = run_faulty(
        faulty, tmp_path / "t.zarr", None, [0, 1], LIMIT
    )  # seasonal naive, block
    assert not (gate / RELEASED).exists()
    late = [r for r in reports if r.timed_out]
    assert [(r.block, r.timed_out) for r in late] == [("3-1", True)]
    assert late[0].seconds >= LIMIT  # never cut off before the limit (a lower bound: load-safe)
    assert "block 3-1 (markets SE; hps faulty(" in capfd.readouterr().err
    check_cells(tuning, reference, failed_hps=[1])
