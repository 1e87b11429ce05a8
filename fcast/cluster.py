"""The Dask cluster a run uses, built from the `cluster:` section of the config."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.util import find_spec
from typing import Any

from fcast.config import ClusterConfig
from fcast.errors import ConfigError

# numerical libraries must not start one thread per core inside every single-threaded worker
_SINGLE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def describe(client: Any) -> dict[str, Any]:
    """What the run used: scheduler address, workers, threads, dashboard link."""
    info = client.scheduler_info()
    workers = info.get("workers", {})
    return {
        "scheduler": client.scheduler.address,
        "workers": len(workers),
        "threads": sum(w.get("nthreads", 0) for w in workers.values()),
        "dashboard": client.dashboard_link if find_spec("bokeh") else None,
    }


@contextmanager
def connect(cfg: ClusterConfig, quiet: bool = False) -> Iterator[Any]:
    """Yield a distributed.Client for the configured cluster; shut down what we started."""
    from distributed import Client, LocalCluster

    if cfg.address:
        with Client(cfg.address) as client:
            _announce(client, quiet)
            yield client
        return
    if cfg.kubernetes:
        raise ConfigError(
            "cluster.kubernetes is not available in this version yet; use cluster: local or "
            "cluster: {address: tcp://scheduler:8786}"
        )
    local = cfg.local
    assert local is not None  # the validator fills in the default
    for key, value in _SINGLE_THREAD_ENV.items():
        os.environ.setdefault(key, value)
    with (
        LocalCluster(
            n_workers=local.workers,
            threads_per_worker=local.threads,
            processes=True,
            memory_limit=local.memory_limit,
            dashboard_address=":0" if find_spec("bokeh") else None,
            silence_logs=40,
        ) as cluster,
        Client(cluster) as client,
    ):
        _announce(client, quiet)
        yield client


def _announce(client: Any, quiet: bool) -> None:
    """Print the cluster in one line, with the dashboard link when there is one."""
    if quiet:
        return
    d = describe(client)
    dash = f", dashboard {d['dashboard']}" if d["dashboard"] else ""
    print(f"cluster: {d['workers']} workers, {d['threads']} threads at {d['scheduler']}{dash}", file=sys.stderr)
