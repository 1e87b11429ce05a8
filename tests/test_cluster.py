"""Cluster from configuration: a LocalCluster by default, or an existing scheduler by address."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fcast.cluster import connect, describe
from fcast.config import ClusterConfig, parse_config
from fcast.errors import ConfigError
from fcast.pipeline import run_tuning
from tests.conftest import synthetic_actuals


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler_address():
    """Real `dask scheduler` and two `dask worker` processes on loopback."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    bindir = Path(sys.executable).parent
    procs = [subprocess.Popen([str(bindir / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    time.sleep(1.0)
    for _ in range(2):
        procs.append(subprocess.Popen([str(bindir / "dask"), "worker", address, "--nthreads", "1", "--no-dashboard"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    with Client(address, timeout=30) as c:
        c.wait_for_workers(2, timeout=60)
    yield address
    for p in procs[::-1]:
        p.terminate()
    for p in procs:
        p.wait(timeout=30)


def test_local_cluster_from_config():
    with connect(ClusterConfig(local={"workers": 2, "threads": 1}), quiet=True) as client:
        info = describe(client)
        assert info["workers"] == 2 and info["threads"] == 2
        assert client.submit(sum, [1, 2, 3]).result() == 6


def test_tuning_on_an_existing_scheduler_by_address(scheduler_address, tmp_path):
    synthetic_actuals(["DK", "NO", "SE"], periods=170).to_parquet(tmp_path / "a.parquet")
    (tmp_path / "s.yaml").write_text("families: {ets: {spec: [ANN, AAdN]}, seasonal_naive: {}}\n")
    cfg = parse_config(
        {"data": {"actuals": "a.parquet"}, "horizon": 13, "cv": {"splits": 2, "step": 8, "holdout": 8},
         "space": "s.yaml", "store": "store", "cluster": scheduler_address},
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


def test_kubernetes_seam_says_what_to_use():
    with pytest.raises(ConfigError, match="cluster: local"), connect(ClusterConfig(kubernetes="spec.yaml")):
        pass
