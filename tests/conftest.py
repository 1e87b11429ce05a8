"""Shared fixtures: small real cubes and real distributed clusters.

In CI (`CI=true`, set by .ci/run) or with `FCAST_STRICT_SKIPS=1`, a skipped test fails:
CI installs every system part the suite needs (Chromium, PostgreSQL, iproute2), so a skip
there means a part went missing, not that the test does not apply.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.data import to_cube

STRICT_SKIPS = os.environ.get("FCAST_STRICT_SKIPS") == "1" or os.environ.get("CI", "").lower() in (
    "1",
    "true",
    "yes",
)


CLUSTER_FIXTURES = frozenset({"client1", "client2"})


def pytest_addoption(parser: pytest.Parser) -> None:
    """`--no-cluster`: leave out the tests that start a LocalCluster (`make mutate`)."""
    parser.addoption(
        "--no-cluster",
        action="store_true",
        help="deselect the tests that use a LocalCluster fixture (client1, client2)",
    )


# The test files that take longest (measured with --durations=0), longest first. They run
# first, so that `make test`'s xdist processes (-n 2 --dist loadfile --no-loadscope-reorder)
# do not end with one process alone on a long file while the other is idle.
LONGEST_FIRST = (
    "tests/test_cli.py",
    "tests/jobs/test_faults.py",
    "tests/test_notebooks.py",
    "tests/infra/test_cluster.py",
    "tests/jobs/test_pipeline.py",
    "tests/output/test_qc.py",
    "tests/test_docs.py",
    "tests/infra/test_warehouse.py",
    "tests/output/test_report.py",
    "tests/test_ci.py",
    "tests/infra/test_netns.py",
    "tests/core/tune/test_halving.py",
    "tests/test_own_data.py",
    "tests/jobs/test_totals.py",
    "tests/data/test_clean.py",
    "tests/jobs/test_prepare.py",
)


def longest_first(items: list[pytest.Item]) -> list[pytest.Item]:
    """The items of the LONGEST_FIRST files first (in that order), then the rest; a file's tests keep their order."""
    rank = {path: k for k, path in enumerate(LONGEST_FIRST)}
    return sorted(items, key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first; with `--no-cluster`, deselect every test that needs a LocalCluster fixture."""
    items[:] = longest_first(items)
    if not config.getoption("--no-cluster"):
        return
    keep = [i for i in items if not CLUSTER_FIXTURES & set(getattr(i, "fixturenames", ()))]
    gone = [i for i in items if i not in keep]
    if gone:
        config.hook.pytest_deselected(items=gone)
        items[:] = keep


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> object:
    """In strict mode a skip is a failure that names the missing part."""
    outcome = yield
    report = outcome.get_result()
    if STRICT_SKIPS and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in strict mode (CI): {reason}"


def synthetic_actuals(
    markets: list[str], periods: int = 160, start: str = "2021-01-04", seed: int = 0
) -> pd.DataFrame:
    """Weekly series with trend, yearly seasonality and noise: market, date, users."""
    rng = np.random.default_rng(seed)
    dates = pd.date_range(start, periods=periods, freq="W-MON")
    t = np.arange(periods)
    frames = []
    for k, market in enumerate(markets):
        level = 1000.0 * (k + 1)
        y = (
            level
            + (2 + k) * t
            + 0.08 * level * np.sin(2 * np.pi * t / 52.18 + k)
            + rng.normal(0, 0.01 * level, periods)
        )
        frames.append(pd.DataFrame({"market": market, "date": dates, "users": y}))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def small_cube() -> xr.Dataset:
    """Four markets, 160 weeks; the last market starts 40 weeks late."""
    df = synthetic_actuals(["DK", "FI", "NO", "SE"])
    df = df[~((df["market"] == "SE") & (df["date"] < df["date"].min() + pd.Timedelta(weeks=40)))]
    return to_cube(df, "W-MON")


def _local_client(workers: int):
    """A real LocalCluster of `workers` single-threaded processes and a client on it."""
    from distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="session")
def client2():
    """A real 2-worker LocalCluster (processes) shared by the session."""
    yield from _local_client(2)


@pytest.fixture(scope="session")
def client1():
    """A real 1-worker LocalCluster (one process)."""
    yield from _local_client(1)


@pytest.fixture(scope="module")
def sample():
    """The built-in sample data (seed 7) with its ground truth, one per test module."""
    from fcast.data.sample import make_sample

    return make_sample()


TINY_SPACE = "families:\n  ets: {spec: [ANN, AAdN]}\n  seasonal_naive: {}\n"


def tiny_project(
    folder, markets: tuple[str, ...] = ("DK", "FI", "NO", "SE"), periods: int = 180, **overrides
):
    """A run config over synthetic weekly actuals and a 3-hp space, in-process sized."""
    from fcast.config import parse_config

    df = synthetic_actuals(list(markets), periods=periods)
    df.to_csv(folder / "actuals.csv", index=False)
    (folder / "space.yaml").write_text(TINY_SPACE)
    raw = {
        "data": {"actuals": "actuals.csv", "freq": "W-MON"},
        "horizon": 13,
        "cv": {"splits": 2, "step": 8, "holdout": 8},
        "space": "space.yaml",
        "tune": {"block_markets": 2, "block_hps": 2},
        "store": "store",
        **overrides,
    }
    return parse_config(raw, source=str(folder / "run.yaml"), base=folder)
