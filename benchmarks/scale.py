"""Scale benchmark: the tuning and the weekly job at 100, 1,000, 10,000 generated markets.

Workload per size: `fcast.data.sample.make_scaled_sample(n)` (weekly, 4 years, the sample's
disruptions), a space of 5 hps (3 ETS, theta, seasonal naive), 2 CV splits, automatic
cleaning with each copy's holiday calendar, on a LocalCluster of single-threaded workers
(2 by default), warmed up first by both jobs on 12 markets (reported as `warmup_s`). Each size runs in its own process (so its peak memory is its own): the
tuning job, then the weekly job on the same store. The data are generated in a child
process of their own, so the client's peak RSS is the jobs' (generated in the client
process, 3,000 markets left it 57 MB more resident than 1,000 before any job ran).

Per job and size: each stage's wall time (the manifest's timings), the fits and fits per
second of the fitting stages (tune: markets x hps x splits; select: holdout refits, one
per top-X member; apply: one per member with weight), the share of the job's wall time
outside those stages (and outside them and `clean`, the cleaning's baseline fits), the client's and the largest worker's peak RSS, and the wall time
per market. Results go to `results/scale.json`, one entry per size (a later run of other
sizes keeps the entries it does not repeat).

    python benchmarks/scale.py                          # 100 and 1,000 markets
    python benchmarks/scale.py --markets 100,1000,10000 # what `make bench-scale` runs
    python benchmarks/scale.py --markets 50 --no-write  # a quick look, no file
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

RESULT = C.RESULTS / "scale.json"
SPACE = (
    "families:\n  ets: {spec: [ANN, AAN, AAdN]}\n  theta: {variant: [standard]}\n"
    "  seasonal_naive: {}\n"
)
HPS, SPLITS = 5, 2
#: markets of the warm-up run on each fresh cluster (imports, JIT caches; not measured)
WARMUP = 12
#: stages whose time is the forecasting models' fits (everything else is the job's overhead)
FIT_STAGES = ("tune", "select", "apply")
#: and with the cleaning's robust baseline fits (one IRLS regression per market) counted too
MODEL_FIT_STAGES = (*FIT_STAGES, "clean")


def write_project(folder: Path, markets: int) -> None:
    """Generated actuals for `markets` markets and the raw run config over them (run.json), under `folder`."""
    from fcast.data.sample import copy_countries, make_scaled_sample

    folder.mkdir(parents=True, exist_ok=True)
    data = make_scaled_sample(markets)
    data.actuals.to_parquet(folder / "actuals.parquet", index=False)
    (folder / "space.yaml").write_text(SPACE)
    raw = {
        "data": {"actuals": "actuals.parquet", "freq": "W-MON", "value": "users"},
        "horizon": 13,
        "cv": {"splits": SPLITS, "step": 13, "holdout": 13},
        "space": "space.yaml",
        "clean": {"auto": True},
        "holidays": {"country": copy_countries(data.markets["market"].tolist())},
        "store": "store",
    }
    (folder / "run.json").write_text(json.dumps(raw))


def project(folder: Path, markets: int, apart: bool = False) -> Any:
    """The run config over `markets` generated markets under `folder`.

    `apart`: generate them in a child process, so the generator's memory is not counted
    in this process's (the client's) peak.
    """
    from fcast.config import parse_config

    if apart:
        cmd = [sys.executable, __file__, "--generate", str(markets), "--folder", str(folder)]
        subprocess.run(cmd, check=True)
    else:
        write_project(folder, markets)
    raw = json.loads((folder / "run.json").read_text())
    return parse_config(raw, source=str(folder / "run.yaml"), base=folder)


def fits(job: str, timings: dict[str, float], result: Any, mature: int) -> dict[str, int]:
    """Model fits of each fitting stage of a finished job."""
    sel = result.selection
    applied = int((sel["weight"] > 0).sum()) if len(sel) else 0
    out = {"apply": applied}
    if job == "tuning":
        out["tune"] = mature * HPS * SPLITS
        out["select"] = len(sel)
    return {k: v for k, v in out.items() if k in timings}


def measure(job: str, run: Any, client: Any, markets: int) -> dict[str, Any]:
    """Run one job; its stage times, fits, share outside fits and peak memory."""
    C.reset_peak_rss()
    C.workers_reset_peak(client)
    t0 = time.perf_counter()
    result = run()
    wall = time.perf_counter() - t0
    timings = dict(result.manifest.get("timings", {}))
    mature = int(result.selection["market"].nunique()) if len(result.selection) else 0
    n_fits = fits(job, timings, result, mature)
    in_fits = sum(timings.get(s, 0.0) for s in FIT_STAGES)
    in_model_fits = sum(timings.get(s, 0.0) for s in MODEL_FIT_STAGES)
    return {
        "wall_s": round(wall, 2),
        "per_market_ms": round(1000 * wall / markets, 2),
        "stages_s": timings,
        "fits": n_fits,
        "fits_per_s": {k: round(v / timings[k], 1) for k, v in n_fits.items() if timings[k] > 0},
        "outside_fits_share": round(1 - in_fits / wall, 3) if wall > 0 else None,
        "outside_fits_and_cleaning_share": round(1 - in_model_fits / wall, 3) if wall > 0 else None,
        "client_peak_rss_mb": round(C.peak_rss() / 2**20, 1),
        "worker_peak_rss_mb": round(C.workers_peak_mb(client), 1),
        "mature_markets": mature,
    }


def one(markets: int, workers: int) -> dict[str, Any]:
    """Both jobs at one size, in this process, on a fresh cluster."""
    from distributed import Client

    from fcast.jobs.pipeline import run_tuning, run_weekly

    folder = C.WORK / f"scale-{markets}"
    shutil.rmtree(folder, ignore_errors=True)
    t0 = time.perf_counter()
    cfg = project(folder, markets, apart=True)
    generate = time.perf_counter() - t0
    with C.local_cluster(workers) as cluster, Client(cluster) as client:
        t0 = time.perf_counter()
        warm = project(C.WORK / "scale-warmup", WARMUP)
        run_tuning(warm, client=client, progress=False)  # imports and caches on every worker
        run_weekly(warm, client=client, progress=False)
        warmup = time.perf_counter() - t0
        shutil.rmtree(C.WORK / "scale-warmup", ignore_errors=True)
        tuning = measure("tuning", lambda: run_tuning(cfg, client=client), client, markets)
        weekly = measure("weekly", lambda: run_weekly(cfg, client=client), client, markets)
    shutil.rmtree(folder, ignore_errors=True)
    return {
        "markets": markets,
        "workers": workers,
        "generate_s": round(generate, 2),
        "warmup_s": round(warmup, 2),
        "tuning": tuning,
        "weekly": weekly,
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import fcast

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem, 1),
        "python": platform.python_version(),
        "fcast": fcast.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def in_child(markets: int, workers: int) -> dict[str, Any]:
    """`one` in a fresh Python process (its own peak memory); its result."""
    out = C.WORK / f"scale-{markets}.json"
    cmd = [sys.executable, __file__, "--one", str(markets), "--workers", str(workers)]
    subprocess.run(cmd, check=True, env={**os.environ, "FCAST_SCALE_OUT": str(out)})
    return json.loads(out.read_text())


def merged(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The result file with these sizes replaced and the other sizes kept."""
    old = json.loads(RESULT.read_text()).get("runs", []) if RESULT.exists() else []
    sizes = {e["markets"] for e in entries}
    runs = sorted(
        [r for r in old if r["markets"] not in sizes] + entries, key=lambda r: r["markets"]
    )
    return {
        "benchmark": "scale",
        "space_hps": HPS,
        "cv_splits": SPLITS,
        "machine": machine(),
        "runs": runs,
    }


def summary(entry: dict[str, Any]) -> str:
    """One line per job of a size."""
    lines = []
    for job in ("tuning", "weekly"):
        r = entry[job]
        lines.append(
            f"{entry['markets']:>6} markets {job:<7} wall {r['wall_s']:>8.1f}s "
            f"({r['per_market_ms']:.1f} ms/market), outside fits {100 * r['outside_fits_share']:.0f}% "
            f"({100 * r['outside_fits_and_cleaning_share']:.0f}% with cleaning as fits), "
            f"client {r['client_peak_rss_mb']:.0f} MB, worker {r['worker_peak_rss_mb']:.0f} MB, "
            f"stages {r['stages_s']}"
        )
    return "\n".join(lines)


def main() -> None:
    """Parse the sizes, run each in its own process, write the results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", default="100,1000", help="comma-separated sizes")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--one", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--folder", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        write_project(Path(args.folder), args.generate)
        return
    C.single_thread_env()
    if args.one:
        C.write_json(one(args.one, args.workers), Path(os.environ["FCAST_SCALE_OUT"]))
        return
    entries = []
    for n in [int(s) for s in args.markets.split(",") if s.strip()]:
        entries.append(in_child(n, args.workers))
        print(summary(entries[-1]), flush=True)
        if not args.no_write:  # after every size, so a long run keeps what it measured
            C.write_json(merged(entries), RESULT)


if __name__ == "__main__":
    main()
