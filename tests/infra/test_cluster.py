"""Cluster from configuration: a LocalCluster by default, an existing scheduler by address, or Kubernetes.

Also holds the helpers that start real `dask scheduler` / `dask worker` processes, used by
test_faults.py and test_netns.py too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import dask
import pytest
import yaml

from fcast.config import ClusterConfig, parse_config
from fcast.infra.cluster import ClusterError, connect, describe
from fcast.jobs.pipeline import run_tuning
from tests.conftest import synthetic_actuals

REPO = Path(__file__).resolve().parents[2]
DASK = str(Path(sys.executable).parent / "dask")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def process_env() -> dict[str, str]:
    """Environment of the Dask processes: single-threaded numerics, this checkout importable."""
    return {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "PYTHONWARNINGS": "ignore",
    }


def start_scheduler(host: str, port: int, prefix: Sequence[str] = ()) -> subprocess.Popen:
    """A real `dask scheduler` process (`prefix` e.g. `ip netns exec NS`)."""
    cmd = [*prefix, DASK, "scheduler", "--host", host, "--port", str(port), "--no-dashboard"]
    return subprocess.Popen(
        cmd, env=process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def start_worker(
    address: str, host: str, name: str, prefix: Sequence[str] = (), nanny: bool = True
) -> subprocess.Popen:
    """A real single-threaded `dask worker` process."""
    cmd = [
        *prefix,
        DASK,
        "worker",
        address,
        "--host",
        host,
        "--name",
        name,
        "--nthreads",
        "1",
        "--no-dashboard",
    ]
    cmd += [] if nanny else ["--no-nanny"]
    return subprocess.Popen(
        cmd, env=process_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def wait_for_workers(address: str, n: int, timeout: float = 90) -> None:
    from distributed import Client

    with Client(address, timeout=timeout) as c:
        c.wait_for_workers(n, timeout=timeout)


def stop(procs: Sequence[subprocess.Popen]) -> None:
    """Terminate the processes we started (workers first), killing any that linger."""
    for p in reversed(procs):
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def write_project(
    root: Path, markets: list[str], cluster: object, space: dict | None = None, **tune
) -> Path:
    """Synthetic actuals, a small space and a run config under `root`; returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    synthetic_actuals(markets, periods=170).to_parquet(root / "a.parquet")
    space = space or {"families": {"ets": {"spec": ["ANN", "AAdN"]}, "seasonal_naive": {}}}
    (root / "s.yaml").write_text(yaml.safe_dump(space))
    config = {
        "data": {"actuals": "a.parquet"},
        "horizon": 13,
        "cv": {"splits": 2, "step": 8, "holdout": 8},
        "space": "s.yaml",
        "store": "store",
        "cluster": cluster,
        "tune": {"in_process_below": 0, **tune},
    }
    (root / "run.yaml").write_text(yaml.safe_dump(config))
    return root / "run.yaml"


@pytest.fixture(scope="module")
def scheduler_address():
    """Real `dask scheduler` and two `dask worker` processes on loopback."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [start_scheduler("127.0.0.1", port)]
    procs += [start_worker(address, "127.0.0.1", f"w{i}") for i in range(2)]
    try:
        wait_for_workers(address, 2)
        yield address
    finally:
        stop(procs)


def test_local_cluster_from_config():
    with connect(ClusterConfig(local={"workers": 2, "threads": 1}), quiet=True) as client:
        info = describe(client)
        assert info["workers"] == 2 and info["threads"] == 2
        assert client.submit(sum, [1, 2, 3]).result() == 6


def test_tuning_on_an_existing_scheduler_by_address(scheduler_address, tmp_path):
    synthetic_actuals(["DK", "NO", "SE"], periods=170).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "s.yaml").write_text("families: {ets: {spec: [ANN, AAdN]}, seasonal_naive: {}}\n")
    cfg = parse_config(
        {
            "data": {"actuals": "a.parquet"},
            "horizon": 13,
            "cv": {"splits": 2, "step": 8, "holdout": 8},
            "space": "s.yaml",
            "store": "store",
            "cluster": scheduler_address,
        },
        base=tmp_path,
    )
    assert cfg.cluster.address == scheduler_address
    with connect(cfg.cluster, quiet=True) as client:
        result = run_tuning(cfg, client=client, progress=False)
        assert describe(client)["workers"] == 2
    assert result.manifest["cluster"]["scheduler"] == scheduler_address
    assert set(result.forecast["market"]) == {"DK", "NO", "SE"}
    # the workers used the whole space: one status per (market, split, hp)
    assert result.manifest["counts"]["fits"] == 3 * 2 * 3


def test_an_unreachable_scheduler_is_a_clear_error():
    address = f"tcp://127.0.0.1:{free_port()}"  # nothing listens there
    with (
        dask.config.set({"distributed.comm.timeouts.connect": "1s"}),
        pytest.raises(ClusterError, match=f"cannot reach the Dask scheduler at {address}"),
        connect(ClusterConfig(address=address), quiet=True),
    ):
        pass


def test_kubernetes_without_a_cluster_fails_cleanly_before_tuning(tmp_path):
    """`cluster: kubernetes` builds and validates the spec, then reports the missing API server clearly."""
    spec = REPO / "clusters" / "kubernetes" / "dask-cluster.yaml"
    config = write_project(
        tmp_path, ["DK", "NO"], {"kubernetes": {"spec": str(spec), "minimum": 1, "maximum": 4}}
    )
    env = {
        k: v for k, v in process_env().items() if not k.startswith("KUBERNETES_")
    }  # never an in-cluster account
    env |= {"KUBECONFIG": str(tmp_path / "no-kubeconfig"), "HOME": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "fcast.cli", "run", "tuning", "-c", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )
    assert res.returncode == 2, res.stderr
    assert "error: could not start the Dask cluster fcast-" in res.stderr
    assert "Unable to find valid credentials" in res.stderr and "clusters/README.md" in res.stderr
    assert "Traceback" not in res.stderr and "Exception ignored" not in res.stderr
    assert not (tmp_path / "store" / "runs").exists()  # nothing computed, no run started


SIGTERM_SCRIPT = """
import os, sys, threading
from fcast.infra.cluster import connect
from fcast.config import ClusterConfig
if __name__ == "__main__":
    try:
        with connect(ClusterConfig(local={"workers": 1, "threads": 1}), quiet=True) as client:
            print(*client.run(os.getpid).values(), flush=True)
            threading.Event().wait()  # the job's work: runs until the signal comes
    finally:
        print("cluster closed", flush=True)
"""


def test_sigterm_shuts_the_cluster_down(tmp_path):
    """What Kubernetes sends a job's pod it stops: the run unwinds and the cluster is closed."""
    script = tmp_path / "job.py"
    script.write_text(SIGTERM_SCRIPT)
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, text=True, env=process_env()
    )
    try:
        worker_pid = int(proc.stdout.readline())
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=180)  # bounds a hang; the exit is the state
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 128 + signal.SIGTERM
    assert "cluster closed" in out
    deadline = time.monotonic() + 120  # waits for the state (worker gone); bounds a hang
    while time.monotonic() < deadline and Path(f"/proc/{worker_pid}").exists():
        time.sleep(0.1)
    assert not Path(f"/proc/{worker_pid}").exists()


def start_tracing() -> None:
    """Trace this process's Python and numpy allocations from now on, with a fresh peak."""
    import tracemalloc

    if not tracemalloc.is_tracing():
        tracemalloc.start()
    tracemalloc.reset_peak()


def traced_kb() -> dict[str, int]:
    """The traced memory now and its peak since `start_tracing`, in KiB (allocator-independent)."""
    import tracemalloc

    now, peak = tracemalloc.get_traced_memory()
    return {"now": now // 1024, "peak": peak // 1024}


@pytest.mark.slow  # ~50 s; `make test-all` (keeps make test under 15 minutes)
def test_peak_worker_memory_depends_on_the_chunk_not_on_the_markets(tmp_path):
    """16x the markets in the same chunks: the worker's peak memory stays put; one big chunk raises it.

    Measured with tracemalloc (the bytes Python and numpy allocate), not the resident set: the
    same computation gives the same numbers whatever the allocator keeps or the machine's load.
    """
    from distributed import Client, LocalCluster

    from fcast.core.label import label
    from fcast.core.space import parse_space
    from fcast.core.tune import tune
    from fcast.data import to_cube

    hp = parse_space(
        {
            "preprocess": {"window": [60, 70, 80, 90, 100, 110, 120, 130], "log": [False, True]},
            "families": {"seasonal_naive": {}},
        },
        "W-MON",
    )  # 16 hps

    def measure(client, markets: int, block_markets: int, name: str) -> dict[str, int]:  # noqa: ANN001
        cube = to_cube(
            synthetic_actuals([f"M{i:03d}" for i in range(markets)], periods=200), "W-MON"
        )
        labels = label(cube.time, splits=4, step=8, horizon=52, holdout=8, min_train=60)
        client.run(start_tracing)
        before = next(iter(client.run(traced_kb).values()))
        tune(
            cube["y"],
            labels,
            hp,
            str(tmp_path / name),
            horizon=52,
            season_length=52,
            min_train=60,
            block_markets=block_markets,
            block_hps=16,
            client=client,
            progress=False,
        )
        after = next(iter(client.run(traced_kb).values()))
        return {"peak": after["peak"], "working": after["peak"] - before["now"]}

    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        measure(client, 16, 8, "warm")  # imports and first allocations are not the tuning's
        one = measure(client, 16, 8, "1x")
        many = measure(client, 256, 8, "16x")
        one_chunk = measure(client, 256, 256, "16x-one-chunk")
    print(
        f"worker traced peak MiB: 16 markets {one['peak'] / 1024:.0f}, 256 markets {many['peak'] / 1024:.0f}, "
        f"256 in one chunk {one_chunk['peak'] / 1024:.0f}; working MiB {one['working'] / 1024:.1f}, "
        f"{many['working'] / 1024:.1f}, {one_chunk['working'] / 1024:.1f}"
    )
    # yhat and error of all 256 markets x 16 hps x 4 splits x 52 steps, float64, in KiB: what a
    # worker holds at once when it sees the whole cube (measured: one chunk ~1.5x that, chunks
    # of 8 ~0.3x, growing only with the per-task bookkeeping)
    whole = 2 * 256 * 16 * 4 * 52 * 8 // 1024
    assert one_chunk["working"] > whole  # the measurement does see chunk size ...
    assert many["working"] < 0.5 * whole  # ... and in chunks of 8 the worker never holds it
    assert one["working"] < 0.5 * whole
