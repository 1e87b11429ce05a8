"""Faults on the distributed path: a worker killed, the client killed, a fit that hangs or raises.

(a) SIGKILL one of two worker processes while it runs a block: the job completes on the
    other with the same numbers. (b) SIGKILL the `fcast run tuning` process: the rerun
    resumes, refits only the blocks without a marker and ends with the same numbers. (c) A fit that sleeps,
    one that freezes its worker holding the GIL, one that raises: the first two are cut off
    at `task_timeout` and reported, the third is a failed cell, everything else completes.
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
from contextlib import suppress
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from distributed.diagnostics.plugin import WorkerPlugin
from statsforecast.models import SeasonalNaive

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


def blocks_written(store: Path) -> dict[str, dict]:
    """Marker of every block written so far in the store's (single) tuning run."""
    return {
        p.stem: json.loads(p.read_text()) for p in store.glob("runs/*/tuning.zarr/.blocks/*.json")
    }


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

# named in reverse, the market with the highest level (the last one made) is M00 and sorts
# first; its fits in the `slow` hp take a second each, so block 0-4 (M00, M01 x slow) is
# surely unfinished while a worker runs it
MARKETS_A = [f"M{11 - k:02d}" for k in range(12)]
SPACE_A = {"families": {**SPACE["families"], "faulty": {"mode": ["slow"], "above": [10800.0]}}}
SLOW_BLOCK = "0-4"


@pytest.fixture(scope="module")
def reference_a(tmp_path_factory, faulty_family) -> str:
    """The uninterrupted run of the worker test's space, in-process."""
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
    """SIGKILL the worker (one we started) that runs `block`, soon after it is handed the block."""

    def __init__(self, client, store: Path, pids: set[int], block: str) -> None:  # noqa: ANN001
        super().__init__(daemon=True)
        self.client, self.store, self.pids, self.block = client, store, pids, block
        self.killed: int | None = None
        self.in_flight: set[str] = set()
        self.written: set[str] = set()
        self.errors: list[str] = []

    def run(self) -> None:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and self.killed is None:
            try:
                self._kill_the_worker_running_the_block()
            except Exception as exc:  # reported by the test, not lost in this thread
                self.errors.append(repr(exc))
            time.sleep(0.05)

    def _kill_the_worker_running_the_block(self) -> None:
        for worker, keys in self.client.processing().items():
            names = {"-".join(str(k).split("-")[2:4]) for k in keys}
            if self.block in names:
                pid = self.client.run(os.getpid, workers=[worker])[worker]
                if pid in self.pids:
                    os.kill(pid, signal.SIGKILL)
                    self.killed, self.in_flight, self.written = (
                        pid,
                        names,
                        set(blocks_written(self.store)),
                    )
                else:
                    self.errors.append(
                        f"worker {worker} has pid {pid}, not one of ours {self.pids}"
                    )


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
        with connect(cfg.cluster, quiet=True) as client:
            client.register_plugin(RegisterFaulty())
            killer = WorkerKiller(
                client, tmp_path / "store", {p.pid for p in procs[1:]}, SLOW_BLOCK
            )
            killer.start()
            result = run_tuning(cfg, client=client, progress=False)
            killer.join(timeout=10)
            workers_left = len(client.scheduler_info()["workers"])
    finally:
        stop(procs)
    assert killer.killed is not None, (
        f"the run finished before a worker could be killed: {killer.errors}"
    )
    assert workers_left == 1
    lost = killer.in_flight - killer.written
    # the worker died holding unfinished blocks (usually the slow one; under heavy load the
    # scheduler may have moved it, so any unfinished block counts) ...
    assert lost, (killer.in_flight, killer.written)
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
    before = {
        p: (p.stat().st_mtime_ns, p.read_text())
        for p in (tmp_path / "store").glob("runs/*/tuning.zarr/.blocks/*.json")
    }
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

HANG_SECONDS = 600


class FaultyModel:
    """A seasonal naive forecast; for series that start above `above` it hangs (sleeping or holding the
    GIL), raises, or takes a second."""

    def __init__(self, mode: str, above: float, season_length: int) -> None:
        self.mode, self.above, self.season_length = mode, above, season_length

    def forecast(
        self, y: np.ndarray, h: int, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        if y[0] > self.above:
            if self.mode == "raise":
                raise RuntimeError("injected fault")
            if self.mode == "sleep":
                time.sleep(HANG_SECONDS)
            if self.mode == "gil":  # a C call that keeps the GIL, like stuck compiled model code
                ctypes.PyDLL(None).sleep(HANG_SECONDS)
            if self.mode == "slow":
                time.sleep(1.0)
        return SeasonalNaive(season_length=self.season_length).forecast(y=y, h=h, level=level)


FAULTY = Family(
    "faulty", {"mode": str, "above": float}, lambda p, m: FaultyModel(p["mode"], p["above"], m)
)


def warm_up() -> None:
    """Load the model code in a worker before timing anything."""
    SeasonalNaive(season_length=4).forecast(y=np.arange(20.0), h=2)


class RegisterFaulty(WorkerPlugin):
    """Register the faulty family in every worker process, including restarted ones."""

    def setup(self, worker) -> None:  # noqa: ANN001
        register(FAULTY)


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
                "faulty": {"mode": ["gil", "raise", "sleep"], "above": [3500.0]},
            }
        },
        "W-MON",
    )
    assert hp["mode"].values.tolist() == ["", "gil", "raise", "sleep"]
    return cube, labels, hp


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


def test_hanging_and_raising_fits_are_bounded_reported_and_the_rest_completes(
    faulty, tmp_path, capfd
):
    from distributed import Client, LocalCluster

    limit = 4.0
    reference = naive_reference(faulty, tmp_path / "ref.zarr")
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        client.register_plugin(RegisterFaulty())
        client.run(warm_up)  # imports are not part of any block's time
        t0 = time.monotonic()
        tuning, reports = run_faulty(faulty, tmp_path / "t.zarr", client, [0, 1, 2, 3], limit)
        elapsed = time.monotonic() - t0
        client.wait_for_workers(2, timeout=60)  # the frozen worker was restarted, not lost
    err = capfd.readouterr().err
    timed_out = {r.block: r.seconds for r in reports if r.timed_out}
    assert set(timed_out) == {
        "3-1",
        "3-3",
    }  # SE x gil, SE x sleep; SE x raise is a plain failed fit
    # no wall-clock window: a loaded machine only makes these longer. The laws: never cut off
    # before the limit (the frozen worker only after the client's grace period), and always cut
    # off rather than waited out (a hang lasts HANG_SECONDS)
    assert limit <= timed_out["3-3"] < HANG_SECONDS  # the sleeping fit: cut off by its task
    assert limit + 2 <= timed_out["3-1"] < HANG_SECONDS  # the frozen worker: by the client
    assert elapsed < HANG_SECONDS  # the run did not wait for any hang to end
    for block in ("3-1", "3-3"):
        assert (
            f"block {block} (markets SE; hps faulty(" in err
            and f"exceeded task_timeout={limit:g}s after" in err
        )
    assert (
        "3-2" not in timed_out and sum(r.failed for r in reports) == 3 * 2
    )  # three SE cells x two splits
    check_cells(tuning, reference, failed_hps=[1, 2, 3])
    print(f"timed out: {timed_out}; tuning took {elapsed:.1f}s with a {limit:g}s limit")


def test_in_process_a_hanging_fit_is_cut_off_at_the_limit(faulty, tmp_path, capfd):
    reference = naive_reference(faulty, tmp_path / "ref.zarr")
    tuning, reports = run_faulty(
        faulty, tmp_path / "t.zarr", None, [0, 3], 2.0
    )  # seasonal naive, sleep
    assert [(r.block, r.timed_out) for r in reports if r.timed_out] == [("3-1", True)]
    assert "block 3-1 (markets SE; hps faulty(" in capfd.readouterr().err
    check_cells(tuning, reference, failed_hps=[1])
