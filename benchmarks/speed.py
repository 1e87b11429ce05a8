"""Tuning-speed benchmark: fcast's tuning stage against statsforecast on the same grid-search CV.

Workload: 200 monthly Tourism series (strictly positive, long enough for every window),
rolling-origin cross-validation with 3 windows of 18 steps (step 18), on two grids of
fixed-specification models: 9 ETS specs and 6 fixed-order seasonal ARIMA models.

Arms, same work, same machine, one run:
  (a) fcast        actuals table (Parquet) -> load/QA -> labels -> space -> tune -> error
                   cube (Zarr), on a 2-worker LocalCluster (1 thread each)
  (b) sf           StatsForecast(models=grid, n_jobs=2).cross_validation(...) (multiprocessing)
  (c) sf-dask      the same call on a Dask DataFrame (statsforecast's fugue backend) on the
                   same LocalCluster
  (d) kernel       the summed time of the bare `model.forecast(y, h)` calls in one process,
                   divided by 2 cores: the limit no scheduler can beat
Cluster start and warm-up (one small run of each arm's own call on 4 series: imports, JIT
caches) are excluded from every arm and reported separately. The script asserts that
(a), (b), (c) and (d) produce the same forecasts for every cell (max |diff| <= 1e-6).

Scaling: fcast alone on the ETS grid at 1x, 4x and 16x the series count (copies of the
200 series with new ids, each scaled by a constant): time per fit and peak worker memory.

    python benchmarks/speed.py                 # full run (~20 min), writes results/speed.json
    python benchmarks/speed.py --quick         # 24 series, ETS grid, scaling 1x/2x, no file
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

DATASET = "tourism-monthly"
H, WINDOWS, STEP = 18, 3, 18
MIN_TRAIN = 24  # fcast's default for monthly data; every selected series has more in every window
TOL = 1e-6
TODAY = "2026-11-25"

GRIDS: dict[str, dict[str, Any]] = {
    "ets": {"ets": {"spec": ["ANN", "AAN", "AAdN", "ANA", "AAA", "AAdA", "MNM", "MAM", "MAdM"]}},
    "arima": {"arima": {"p": [0, 1, 2], "d": [1], "q": [0, 1], "P": [0], "D": [1], "Q": [1]}},
}


# --- the workload -------------------------------------------------------------------------------


def workload(n: int, copies: int = 1) -> list[C.Series]:
    """`n` positive monthly Tourism series with enough history for every window, times `copies`."""
    need = MIN_TRAIN + WINDOWS * STEP
    base = C.load_series(DATASET, limit=n, positive=True, min_length=need)
    if len(base) < n:
        raise SystemExit(f"only {len(base)} qualifying series in {DATASET}, asked for {n}")
    out = list(base)
    for k in range(1, copies):
        f = 1.0 + 0.01 * k
        out += [C.Series(f"{s.id}#{k:02d}", s.train * f, s.test * f) for s in base]
    return out


def hp_space(grid: str) -> Any:
    """fcast's hp dimension for a grid."""
    from fcast.core.space import parse_space

    return parse_space({"families": GRIDS[grid]}, "MS", source=f"grid {grid}")


def sf_models(grid: str) -> list[Any]:
    """The statsforecast model objects of a grid, as a user would write them (alias = fcast label)."""
    from statsforecast.models import ARIMA, AutoETS

    hp = hp_space(grid)
    models = []
    for i in range(hp.sizes["hp"]):
        label = str(hp["label"].values[i])
        if grid == "ets":
            spec = str(hp["spec"].values[i])
            damped = "d" in spec
            e, t, s = spec.replace("d", "")
            models.append(
                AutoETS(
                    season_length=12 if s != "N" else 1, model=e + t + s, damped=damped, alias=label
                )
            )
        else:
            order = tuple(int(hp[k].values[i]) for k in ("p", "d", "q"))
            seasonal = tuple(int(hp[k].values[i]) for k in ("P", "D", "Q"))
            models.append(
                ARIMA(
                    order=order,
                    season_length=12 if any(seasonal) else 1,
                    seasonal_order=seasonal,
                    alias=label,
                )
            )
    return models


def cutoff_dates() -> pd.DatetimeIndex:
    """The last training period of each window, oldest first (same for every right-aligned series)."""
    end = C.END["MS"]
    return pd.DatetimeIndex(
        [end - pd.DateOffset(months=H + STEP * (WINDOWS - 1 - k)) for k in range(WINDOWS)]
    )


def to_array(cv: pd.DataFrame, markets: list[str], labels: list[str]) -> np.ndarray:
    """A statsforecast cross-validation frame as an array (market, split, hp, step)."""
    cv = cv.sort_values(["unique_id", "cutoff", "ds"])
    split = {c: k for k, c in enumerate(cutoff_dates())}
    pos = {m: k for k, m in enumerate(markets)}
    out = np.full((len(markets), WINDOWS, len(labels), H), np.nan)
    mi = cv["unique_id"].astype(str).map(pos).to_numpy()
    si = pd.to_datetime(cv["cutoff"]).map(split).to_numpy()
    step = np.tile(np.arange(H), len(cv) // H)
    for hi, lab in enumerate(labels):
        out[mi, si, hi, step] = cv[lab].to_numpy(dtype="float64")
    return out


# --- the arms ---------------------------------------------------------------------------------------


def arm_fcast(
    series: list[C.Series],
    grid: str,
    client: Any,
    tag: str,
    block_markets: int | None,
    block_hps: int,
) -> dict[str, Any]:
    """(a) fcast: actuals table -> QA -> labels -> space -> tune -> error cube; wall time and forecasts."""
    from fcast.core.label import label
    from fcast.core.tune import tune
    from fcast.data import load_actuals

    work = C.WORK / "speed" / tag
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    actuals = work / "actuals.parquet"
    C.actuals_table(series, "MS").to_parquet(actuals, index=False)
    C.workers_reset_peak(client)
    t0 = time.perf_counter()
    cube = load_actuals(str(actuals), value="value", freq="MS")
    labels = label(cube.time, WINDOWS, STEP, H, 0, MIN_TRAIN)
    hp = hp_space(grid)
    tuning, reports = tune(
        cube["y"],
        labels,
        hp,
        str(work / "tuning.zarr"),
        horizon=H,
        metric="mase",
        season_length=12,
        min_train=MIN_TRAIN,
        block_markets=block_markets,
        block_hps=block_hps,
        client=client,
        progress=False,
    )
    wall = time.perf_counter() - t0
    peak = C.workers_peak_mb(client)
    status = tuning["status"].values
    task_s = [r.seconds for r in reports]
    return {
        "wall_s": wall,
        "peak_worker_mb": peak,
        "fits": int((status == 0).sum()),
        "failed": int((status == 1).sum()),
        "blocks": len(reports),
        "block_markets": int(tuning["yhat"].encoding["chunks"][0]),
        "task_s_sum": float(np.sum(task_s)),
        "task_s_max": float(np.max(task_s)),
        "markets": tuning["market"].values.astype(str).tolist(),
        "labels": tuning["label"].values.astype(str).tolist(),
        "yhat": tuning["yhat"].values,
    }


def arm_statsforecast(series: list[C.Series], grid: str) -> dict[str, Any]:
    """(b) StatsForecast(n_jobs=2).cross_validation on a pandas frame (multiprocessing)."""
    from statsforecast import StatsForecast

    df = C.nixtla_frame(series, "MS")
    sampler = ChildMemory()
    with warnings.catch_warnings(), sampler:
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        cv = StatsForecast(models=sf_models(grid), freq="MS", n_jobs=2).cross_validation(
            df=df, h=H, step_size=STEP, n_windows=WINDOWS
        )
        wall = time.perf_counter() - t0
    return {"wall_s": wall, "cv": cv, "peak_worker_mb": sampler.peak_mb}


def arm_statsforecast_dask(series: list[C.Series], grid: str, client: Any) -> dict[str, Any]:
    """(c) the same call on a Dask DataFrame: statsforecast's fugue backend on the LocalCluster."""
    import dask.dataframe as dd
    from statsforecast import StatsForecast

    df = C.nixtla_frame(series, "MS")
    df["unique_id"] = df["unique_id"].astype(str)
    C.workers_reset_peak(client)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        ddf = dd.from_pandas(df, npartitions=2 * len(client.scheduler_info()["workers"]))
        cv = StatsForecast(models=sf_models(grid), freq="MS").cross_validation(
            df=ddf, h=H, step_size=STEP, n_windows=WINDOWS
        )
        cv = cv.compute() if hasattr(cv, "compute") else cv
        wall = time.perf_counter() - t0
    return {"wall_s": wall, "cv": cv, "peak_worker_mb": C.workers_peak_mb(client)}


def arm_kernel(series: list[C.Series], grid: str, cores: int = 2) -> dict[str, Any]:
    """(d) the bare fit+forecast calls in one process, each timed alone; their sum / cores."""
    models = sf_models(grid)
    yhat = np.full((len(series), WINDOWS, len(models), H), np.nan)
    total = 0.0
    n_train = [len(s.train) for s in series]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for mi, s in enumerate(series):
            for si in range(WINDOWS):
                stop = n_train[mi] - H - STEP * (WINDOWS - 1 - si)
                y = s.train[:stop]
                for hi, model in enumerate(models):
                    t0 = time.perf_counter()
                    fc = model.forecast(y=y, h=H)
                    total += time.perf_counter() - t0
                    yhat[mi, si, hi] = fc["mean"]
    return {"sum_s": total, "wall_s": total / cores, "yhat": yhat}


class ChildMemory:
    """Peak resident set of this process's child processes (multiprocessing pool), sampled."""

    def __init__(self, every: float = 0.05) -> None:
        self.every, self.peak_mb, self._stop = every, 0.0, threading.Event()

    def _run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            for child in me.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    self.peak_mb = max(self.peak_mb, child.memory_info().rss / 2**20)
            self._stop.wait(self.every)

    def __enter__(self) -> ChildMemory:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# --- the run ---------------------------------------------------------------------------------------------


def compare(ref: np.ndarray, other: np.ndarray, what: str, float32: bool = False) -> float:
    """Max |difference| over the cells both arms fitted; asserts both fitted the same cells.

    `float32`: the other arm returns float32 (statsforecast's fugue backend casts its
    output), so the reference is rounded to float32 first: identical float64 forecasts
    then compare equal.
    """
    if float32:
        ref = ref.astype("float32").astype("float64")
    a, b = np.isfinite(ref), np.isfinite(other)
    if not np.array_equal(a, b):
        raise AssertionError(
            f"{what}: the arms fitted different cells ({int((a != b).sum())} values differ in presence)"
        )
    diff = float(np.max(np.abs(ref[a] - other[a]))) if a.any() else 0.0
    if diff > TOL:
        raise AssertionError(f"{what}: forecasts differ by up to {diff:.3g} (> {TOL})")
    return diff


def _warm_worker(ys: list[np.ndarray], grid: str) -> None:
    """Fit every model of the grid once in this process, and import what a tuning task writes with."""
    import zarr  # noqa: F401

    import fcast.core.tune  # noqa: F401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in sf_models(grid):
            for y in ys:
                model.forecast(y=y[-(MIN_TRAIN + STEP) :], h=H)


def run_grid(
    series: list[C.Series], grid: str, client: Any, args: argparse.Namespace
) -> dict[str, Any]:
    """The four arms on one grid, with warm-ups, the cross-check and the ratios."""
    warm = series[:4]
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    arm_kernel(warm, grid)
    arm_statsforecast(warm, grid)
    timings["warmup_local_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    # every worker fits every model once (imports, caches): a warm-up task reaches only one worker
    client.run(_warm_worker, [s.train for s in warm], grid)
    arm_fcast(warm, grid, client, f"warm-{grid}", args.block_markets, args.block_hps)
    timings["warmup_fcast_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    arm_statsforecast_dask(warm, grid, client)
    timings["warmup_dask_s"] = time.perf_counter() - t0

    foreign: dict[
        str, float
    ] = {}  # CPU seconds other processes took during each arm (~0 on an idle machine)
    print(f"[{grid}] (d) kernel limit ...", file=sys.stderr)
    with C.ForeignCPU() as f:
        d = arm_kernel(series, grid)
    foreign["kernel"] = f.seconds
    print(f"[{grid}] (b) statsforecast n_jobs=2 ...", file=sys.stderr)
    with C.ForeignCPU() as f:
        b = arm_statsforecast(series, grid)
    foreign["statsforecast"] = f.seconds
    print(f"[{grid}] (a) fcast ...", file=sys.stderr)
    with C.ForeignCPU() as f:
        a = arm_fcast(series, grid, client, grid, args.block_markets, args.block_hps)
    foreign["fcast"] = f.seconds
    print(f"[{grid}] (c) statsforecast dask ...", file=sys.stderr)
    with C.ForeignCPU() as f:
        c = arm_statsforecast_dask(series, grid, client)
    foreign["statsforecast_dask"] = f.seconds

    markets, labels = a["markets"], a["labels"]
    order = [[s.id for s in series].index(m) for m in markets]
    ref = a["yhat"]
    diffs = {
        "fcast_vs_statsforecast": compare(
            ref, to_array(b["cv"], markets, labels), f"{grid}: fcast vs statsforecast"
        ),
        "fcast_vs_statsforecast_dask": compare(
            ref,
            to_array(c["cv"], markets, labels),
            f"{grid}: fcast vs statsforecast dask",
            float32=True,
        ),
        "fcast_vs_kernel": compare(ref, d["yhat"][order], f"{grid}: fcast vs bare calls"),
    }
    fits = len(series) * WINDOWS * len(labels)
    if a["fits"] + a["failed"] != fits:
        raise AssertionError(f"{grid}: fcast ran {a['fits'] + a['failed']} fits, expected {fits}")
    out = {
        "models": labels,
        "series": len(series),
        "fits": fits,
        "fcast_s": a["wall_s"],
        "statsforecast_s": b["wall_s"],
        "statsforecast_dask_s": c["wall_s"],
        "kernel_limit_s": d["wall_s"],
        "kernel_sum_s": d["sum_s"],
        "max_abs_diff": max(diffs.values()),
        "diffs": diffs,
        "peak_worker_mb": a["peak_worker_mb"],
        "peak_worker_mb_statsforecast": b["peak_worker_mb"],
        "peak_worker_mb_statsforecast_dask": c["peak_worker_mb"],
        "fcast_blocks": a["blocks"],
        "fcast_block_markets": a["block_markets"],
        "fcast_task_s_sum": a["task_s_sum"],
        "fcast_task_s_max": a["task_s_max"],
        **{k: v for k, v in timings.items()},
        "foreign_cpu_s": foreign,
    }
    out.update(ratios(out))
    return out


def ratios(r: dict[str, Any]) -> dict[str, float]:
    """Throughput and the goal ratios of one result."""
    return {
        "fits_per_s": {
            "fcast": r["fits"] / r["fcast_s"],
            "statsforecast": r["fits"] / r["statsforecast_s"],
            "statsforecast_dask": r["fits"] / r["statsforecast_dask_s"],
            "kernel_limit": r["fits"] / r["kernel_limit_s"],
        },
        "fcast_over_kernel": r["fcast_s"] / r["kernel_limit_s"],  # goal <= 1.10
        "statsforecast_dask_over_fcast": r["statsforecast_dask_s"] / r["fcast_s"],  # goal >= 1.2
        "statsforecast_over_fcast": r["statsforecast_s"] / r["fcast_s"],  # goal >= 1.0
        "kernel_share_fcast": r["kernel_limit_s"] / r["fcast_s"],
        "kernel_share_statsforecast": r["kernel_limit_s"] / r["statsforecast_s"],
        "kernel_share_statsforecast_dask": r["kernel_limit_s"] / r["statsforecast_dask_s"],
    }


def run_scaling(
    base: int, scales: list[int], client: Any, args: argparse.Namespace
) -> list[dict[str, Any]]:
    """fcast alone on the ETS grid at several multiples of the series count."""
    rows = []
    for k in scales:
        series = workload(base, copies=k)
        print(f"[scaling] {k}x: {len(series)} series ...", file=sys.stderr)
        with C.ForeignCPU() as f:
            a = arm_fcast(series, "ets", client, f"scale-{k}", args.block_markets, args.block_hps)
        fits = a["fits"] + a["failed"]
        rows.append(
            {
                "scale": k,
                "series": len(series),
                "fits": fits,
                "blocks": a["blocks"],
                "wall_s": a["wall_s"],
                "s_per_fit": a["wall_s"] / fits,
                "task_s_per_fit": a["task_s_sum"] / fits,
                "peak_worker_mb": a["peak_worker_mb"],
                "foreign_cpu_s": f.seconds,
            }
        )
        shutil.rmtree(C.WORK / "speed" / f"scale-{k}", ignore_errors=True)
    return rows


def _round(obj: Any) -> Any:
    if isinstance(obj, float):
        return float(f"{obj:.4g}") if abs(obj) < 1 else round(obj, 3)
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_round(v) for v in obj]
    return obj


ARMS = (
    ("(a) fcast", "fcast_s", "peak_worker_mb"),
    ("(b) statsforecast n_jobs=2", "statsforecast_s", "peak_worker_mb_statsforecast"),
    ("(c) statsforecast dask", "statsforecast_dask_s", "peak_worker_mb_statsforecast_dask"),
    ("(d) kernel limit", "kernel_limit_s", None),
)


def report(res: dict[str, Any]) -> str:
    """Readable tables: arms per grid, ratios and goals, scaling."""
    lines = []
    for grid, r in res["grids"].items():
        lines.append(
            f"\n{grid} grid: {r['series']} series x {len(r['models'])} models x {WINDOWS} windows = {r['fits']} fits"
        )
        rows = []
        for arm, key, mem in ARMS:
            rows.append(
                {
                    "arm": arm,
                    "wall_s": r[key],
                    "fits/s": r["fits"] / r[key],
                    "x kernel": r[key] / r["kernel_limit_s"],
                    "kernel share": r["kernel_limit_s"] / r[key],
                    "peak worker MiB": r[mem] if mem else float("nan"),
                }
            )
        lines.append(
            C.table(
                rows,
                ["arm", "wall_s", "fits/s", "x kernel", "kernel share", "peak worker MiB"],
                "{:.2f}",
            )
        )
        lines.append(
            f"goals: fcast/kernel {r['fcast_over_kernel']:.3f} (<= 1.10 {'ok' if r['fcast_over_kernel'] <= 1.10 else 'MISSED'}), "
            f"dask/fcast {r['statsforecast_dask_over_fcast']:.3f} (>= 1.2 {'ok' if r['statsforecast_dask_over_fcast'] >= 1.2 else 'MISSED'}), "
            f"statsforecast/fcast {r['statsforecast_over_fcast']:.3f} (>= 1.0 {'ok' if r['statsforecast_over_fcast'] >= 1.0 else 'MISSED'})"
        )
        lines.append(
            f"max |diff| between arms {r['max_abs_diff']:.2g}; fcast: {r['fcast_blocks']} tasks of {r.get('fcast_block_markets', '?')} markets, summed task time "
            f"{r['fcast_task_s_sum']:.1f}s (kernel sum {r['kernel_sum_s']:.1f}s), longest task {r['fcast_task_s_max']:.2f}s; "
            f"warm-up excluded: fcast {r['warmup_fcast_s']:.1f}s, dask {r['warmup_dask_s']:.1f}s, local {r['warmup_local_s']:.1f}s"
        )
        lines.append(
            "CPU seconds taken by other processes during each arm (0 on an idle machine): "
            + ", ".join(f"{k} {v:.1f}" for k, v in r["foreign_cpu_s"].items())
        )
    if res.get("scaling"):
        lines.append("\nscaling (fcast alone, ETS grid)")
        lines.append(
            C.table(
                res["scaling"],
                [
                    "scale",
                    "series",
                    "fits",
                    "wall_s",
                    "s_per_fit",
                    "task_s_per_fit",
                    "peak_worker_mb",
                    "foreign_cpu_s",
                ],
                "{:.4g}",
            )
        )
    lines.append(
        f"\ncluster start {res['cluster_start_s']:.1f}s (excluded); total benchmark wall time {res['total_s']:.0f}s"
    )
    return "\n".join(lines)


def markdown(res: dict[str, Any]) -> str:
    """The result tables in Markdown, for benchmarks/README.md."""
    out = []
    for grid, r in res["grids"].items():
        out.append(
            f"**{grid} grid** ({r['series']} series x {len(r['models'])} models x {WINDOWS} windows = {r['fits']} fits)\n"
        )
        rows = []
        for arm, key, mem in ARMS:
            rows.append(
                {
                    "arm": arm,
                    "wall s": r[key],
                    "fits/s": r["fits"] / r[key],
                    "x kernel limit": r[key] / r["kernel_limit_s"],
                    "fcast speed-up": r[key] / r["fcast_s"],
                    "peak worker MiB": r[mem] if mem else float("nan"),
                }
            )
        out.append(
            C.markdown_table(
                rows,
                ["arm", "wall s", "fits/s", "x kernel limit", "fcast speed-up", "peak worker MiB"],
                "{:.2f}",
            )
        )
        out.append("")
    if res.get("scaling"):
        out.append("**scaling** (fcast alone, ETS grid)\n")
        rows = [
            {
                "scale": f"{r['scale']}x",
                "series": r["series"],
                "fits": r["fits"],
                "wall s": r["wall_s"],
                "ms per fit (wall)": 1000 * r["wall_s"] / r["fits"],
                "peak worker MiB": r["peak_worker_mb"],
            }
            for r in res["scaling"]
        ]
        out.append(
            C.markdown_table(
                rows,
                ["scale", "series", "fits", "wall s", "ms per fit (wall)", "peak worker MiB"],
                "{:.2f}",
            )
        )
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--series", type=int, default=200)
    ap.add_argument("--grids", default="ets,arima")
    ap.add_argument(
        "--scales", default="1,4,16", help="multiples of --series for the scaling runs; '' to skip"
    )
    ap.add_argument(
        "--block-markets",
        type=int,
        default=None,
        help="fcast tune.block_markets (default: fcast's automatic sizing from fits and threads)",
    )
    ap.add_argument("--block-hps", type=int, default=32, help="fcast tune.block_hps")
    ap.add_argument(
        "--quick", action="store_true", help="24 series, ETS grid, scaling 1x/2x, no result file"
    )
    ap.add_argument(
        "--out", type=Path, help="result file; default results/speed.json for full runs"
    )
    ap.add_argument(
        "--show",
        action="store_true",
        help="print the tables of the result file (Markdown too); run nothing",
    )
    args = ap.parse_args(argv)
    if args.show:
        saved = json.loads((args.out or C.RESULTS / "speed.json").read_text())
        print(report(saved))
        print("\n" + markdown(saved))
        return
    if args.quick:
        args.series, args.grids, args.scales = 24, "ets", "1,2"
    import cloudpickle
    from distributed import Client

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    cloudpickle.register_pickle_by_value(C)
    C.single_thread_env()
    default = not args.quick and args.series == 200 and args.grids == "ets,arima"
    out = args.out or (C.RESULTS / "speed.json" if default else None)
    t_all = time.perf_counter()
    series = workload(args.series)
    t0 = time.perf_counter()
    with C.local_cluster(2) as cluster, Client(cluster) as client:
        cluster_start = time.perf_counter() - t0
        grids = {g: run_grid(series, g, client, args) for g in args.grids.split(",") if g}
        scales = [int(k) for k in args.scales.split(",") if k.strip()]
        scaling = run_scaling(args.series, scales, client, args) if scales else []
    total = {
        k: sum(g[k] for g in grids.values())
        for k in ("fits", "fcast_s", "statsforecast_s", "statsforecast_dask_s", "kernel_limit_s")
    }
    res = {
        **total,
        "max_abs_diff": max(g["max_abs_diff"] for g in grids.values()),
        "peak_worker_mb": max(g["peak_worker_mb"] for g in grids.values()),
        "scaling": scaling,
        **ratios(total),
        "grids": grids,
        "cluster_start_s": cluster_start,
        "workload": {
            "dataset": DATASET,
            "series": args.series,
            "h": H,
            "windows": WINDOWS,
            "step": STEP,
            "block_markets": args.block_markets,
            "block_hps": args.block_hps,
        },
        "measured": TODAY,
        "machine": C.machine(),
        "total_s": time.perf_counter() - t_all,
    }
    res = _round(res)
    print(report(res))
    if out is not None:
        C.write_json(res, out)
        print(f"written to {out}")


if __name__ == "__main__":
    main()
