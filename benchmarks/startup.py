"""Startup benchmark: how long `import fcast` and `fcast --help` take (best of N runs).

    python benchmarks/startup.py            # 7 runs each, writes results/startup.json
    python benchmarks/startup.py --runs 3 --out /tmp/startup.json

Each run is a fresh interpreter (`python -X importtime` is not used: it slows the import).
For comparison the same is measured for `import statsforecast` and `import pandas`, which a
user of the alternatives pays too. The goal (issue 19): both fcast numbers under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "startup.json"
ARMS = {
    "import fcast": [sys.executable, "-c", "import fcast"],
    "fcast --help": [sys.executable, "-m", "fcast.cli", "--help"],
    "fcast --version": [sys.executable, "-m", "fcast.cli", "--version"],
    "import pandas": [sys.executable, "-c", "import pandas"],
    "import statsforecast": [sys.executable, "-c", "import statsforecast"],
}


def best_of(cmd: list[str], runs: int) -> float:
    """Fastest wall time of `runs` runs of `cmd`, in seconds."""
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = {name: round(best_of(cmd, args.runs), 3) for name, cmd in ARMS.items()}
    base = results["import statsforecast"]
    print(f"{'arm':<22} {'best s':>7} {'x statsforecast':>16}")
    for name, s in results.items():
        print(f"{name:<22} {s:>7.3f} {s / base:>16.2f}")
    ok = results["import fcast"] < 0.5 and results["fcast --help"] < 0.5
    print(f"\ngoal (< 0.5 s for import fcast and fcast --help): {'met' if ok else 'NOT met'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"date": str(date.today()), "runs": args.runs, "seconds": results}, indent=2)
    )


if __name__ == "__main__":
    main()
