"""Input QA's client cost at many markets (issue 20): `run_qa` on generated actuals, no cluster.

Workload per size: `fcast.data.sample.make_scaled_sample(n)` written to Parquet and read
back (as a job reads it), then `run_qa` with the scale benchmark's settings. What runs on
the client in a job is timed: the table checks, building the cube and splitting it into
blocks; the blockwise cube checks (stale, jump, short_history, calendar), which a job runs
on the workers, are timed apart (`cube_checks_s`, in this process). Per size: seconds and
ms per market (best of `--repeat`) and the peak of Python memory QA allocates on top of
the table it is given (tracemalloc, one more run), in MB and kB per market.

    PYTHONPATH=. python benchmarks/qa.py --markets 1000,3000
    PYTHONPATH=/work/main python benchmarks/qa.py --markets 1000   # another tree, to compare
"""

from __future__ import annotations

import argparse
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pandas as pd

from fcast.data import read_table
from fcast.data.qa import QAConfig, run_qa
from fcast.data.sample import copy_countries, make_scaled_sample


def no_cube_checks(fn: Any, args: list[tuple], label: str) -> list[list[list[dict]]]:
    """A block map that skips the blockwise cube checks (a job runs them on the workers)."""
    return [[[] for _ in a[0]] for a in args]


def settings(raw: pd.DataFrame) -> dict[str, Any]:
    """run_qa's arguments as the scale benchmark's jobs give them."""
    markets = sorted(raw["market"].unique().tolist())
    return {
        "value": "users",
        "freq": "W-MON",
        "source": "actuals.parquet",
        "qa": QAConfig(),
        "min_history": 65,
        "previous_markets": markets,
        "countries": copy_countries(markets),
    }


def best_of(repeat: int, fn: Any) -> float:
    """The shortest of `repeat` wall times of fn()."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure(n: int, repeat: int, folder: Path) -> dict[str, float]:
    """Client seconds, cube-check seconds and the transient memory of QA at n markets."""
    path = folder / f"actuals-{n}.parquet"
    make_scaled_sample(n).actuals.to_parquet(path, index=False)
    raw = read_table(str(path))
    kw = settings(raw)
    client = best_of(repeat, lambda: run_qa(raw, map_blocks=no_cube_checks, **kw))
    whole = best_of(1, lambda: run_qa(raw, **kw))
    tracemalloc.start()
    start = tracemalloc.get_traced_memory()[0]
    run_qa(raw, map_blocks=no_cube_checks, **kw)
    peak = tracemalloc.get_traced_memory()[1] - start
    tracemalloc.stop()
    return {
        "markets": n,
        "rows": len(raw),
        "client_s": round(client, 3),
        "client_ms_per_market": round(1000 * client / n, 3),
        "cube_checks_s": round(max(whole - client, 0.0), 3),
        "peak_mb": round(peak / 2**20, 1),
        "peak_kb_per_market": round(peak / 2**10 / n, 1),
    }


def main() -> None:
    """Parse the sizes, measure each, print one line per size."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", default="1000,3000", help="comma-separated sizes")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for n in [int(s) for s in args.markets.split(",") if s.strip()]:
            r = measure(n, args.repeat, Path(tmp))
            print(
                f"{r['markets']:>6} markets ({r['rows']} rows): client QA {r['client_s']:.2f} s "
                f"({r['client_ms_per_market']:.2f} ms/market), cube checks {r['cube_checks_s']:.2f} s, "
                f"QA's peak Python memory {r['peak_mb']:.0f} MB ({r['peak_kb_per_market']:.0f} kB/market)",
                flush=True,
            )


if __name__ == "__main__":
    main()
