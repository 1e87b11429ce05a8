"""Multi-host: a real scheduler and two workers, each in its own network namespace, tuning over TCP.

Three namespaces joined by a bridge stand in for three machines: each has only its own
loopback and one veth address, so the scheduler and workers can reach each other (and the
client in the test's namespace) only over TCP across the bridge. Skipped, with the reason,
where namespaces cannot be made (not root, no iproute2, no CAP_NET_ADMIN).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlparse

import pandas as pd
import pytest
import xarray as xr

from fcast.config import load_config
from fcast.infra.cluster import connect
from fcast.jobs.pipeline import run_tuning
from tests.infra.test_cluster import (
    start_scheduler,
    start_worker,
    stop,
    wait_for_workers,
    write_project,
)

pytestmark = pytest.mark.timeout(300)

MARKETS = ["DK", "FI", "NO", "SE", "IS", "EE"]
TUNING_VARS = ["yhat", "error", "status", "y_test", "scale"]


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def why_no_namespaces() -> str | None:
    """Why network namespaces cannot be made on this machine, or None when they can."""
    if sys.platform != "linux":
        return "network namespaces need Linux"
    if os.geteuid() != 0:
        return "creating network namespaces needs root (CAP_NET_ADMIN)"
    if not shutil.which("ip"):
        return "the ip command (iproute2) is not installed; .ci/run installs it"
    probe = f"fcast-probe-{os.getpid()}"
    res = ip("netns", "add", probe, check=False)
    if res.returncode:
        return f"ip netns add failed: {res.stderr.strip()}"
    ip("netns", "del", probe, check=False)
    return None


def free_subnet() -> str:
    """A 10.x.y.0/24 prefix no interface or route here uses (concurrent runs pick different ones)."""
    used = ip("-4", "-o", "addr").stdout + ip("-4", "route").stdout
    for n in range(os.getpid(), os.getpid() + 5000):
        prefix = f"10.{200 + n % 50}.{(n // 50) % 250}"
        if f"{prefix}." not in used:
            return prefix
    raise RuntimeError("no free 10.x.y.0/24 subnet")


@contextmanager
def virtual_hosts(n: int) -> Iterator[list[tuple[str, str]]]:
    """n network namespaces on one bridge, as (namespace, address); the bridge is the test's own address."""
    tag, prefix = os.getpid() % 100_000, free_subnet()
    bridge, made = f"fcb{tag}", []
    try:
        ip("link", "add", bridge, "type", "bridge")
        ip("addr", "add", f"{prefix}.1/24", "dev", bridge)
        ip("link", "set", bridge, "up")
        for i in range(n):
            ns, veth, address = f"fcast-{tag}-{i}", f"fcv{tag}h{i}", f"{prefix}.{10 + i}"
            ip("netns", "add", ns)
            made.append((ns, address))
            ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("link", "set", veth, "master", bridge, "up")
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")
        yield made
    finally:
        for ns, _ in made:
            ip("netns", "del", ns, check=False)
        ip("link", "del", bridge, check=False)


@pytest.fixture(scope="module")
def hosts():
    """Scheduler on host 0, one worker on each of hosts 1 and 2; yields the address and the processes."""
    reason = why_no_namespaces()
    if reason:
        pytest.skip(f"multi-host test needs network namespaces: {reason}")
    try:
        with virtual_hosts(3) as made:
            (sched_ns, sched_ip), *workers = made
            address = f"tcp://{sched_ip}:8786"
            procs = [start_scheduler(sched_ip, 8786, prefix=["ip", "netns", "exec", sched_ns])]
            for i, (ns, worker_ip) in enumerate(workers, 1):
                procs.append(
                    start_worker(address, worker_ip, f"host{i}", prefix=["ip", "netns", "exec", ns])
                )
            try:
                wait_for_workers(address, 2)
                yield address, made, procs
            finally:
                stop(procs)
    except subprocess.CalledProcessError as exc:  # e.g. no veth or bridge support in this kernel
        pytest.skip(
            f"multi-host test needs network namespaces: {' '.join(exc.cmd)} failed: {exc.stderr.strip()}"
        )


def test_tuning_across_network_namespaces_equals_the_local_cluster(hosts, tmp_path):
    from distributed import get_task_stream

    address, made, procs = hosts
    own = os.readlink("/proc/self/ns/net")
    spaces = {os.readlink(f"/proc/{p.pid}/ns/net") for p in procs}
    assert (
        len(spaces) == 3 and own not in spaces
    )  # three processes, three network stacks, none ours

    blocks = {"block_markets": 2, "block_hps": 1}
    runs = {}
    for name, cluster in [("hosts", address), ("local", {"local": {"workers": 2, "threads": 1}})]:
        cfg = load_config(write_project(tmp_path / name, MARKETS, cluster, **blocks))
        with connect(cfg.cluster, quiet=True) as client, get_task_stream(client) as stream:
            workers = sorted(client.scheduler_info()["workers"])
            runs[name] = run_tuning(cfg, client=client, progress=False)
        ran_blocks = {t["worker"] for t in stream.data if str(t["key"]).startswith("tune-block")}
        if name == "hosts":
            assert sorted(urlparse(w).hostname for w in workers) == sorted(a for _, a in made[1:])
            assert ran_blocks == set(workers)  # both hosts tuned blocks, over TCP

    net, local = runs["hosts"], runs["local"]
    assert (
        net.manifest["cluster"]["scheduler"] == address
        and net.manifest["counts"] == local.manifest["counts"]
    )
    pd.testing.assert_frame_equal(net.selection, local.selection)
    pd.testing.assert_frame_equal(net.forecast, local.forecast)
    a = xr.open_zarr(f"{net.url}/tuning.zarr")[TUNING_VARS].load()
    b = xr.open_zarr(f"{local.url}/tuning.zarr")[TUNING_VARS].load()
    xr.testing.assert_identical(a, b)
