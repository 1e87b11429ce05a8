"""Successive halving vs the full grid on the sample data: fits, wall time, same selection, test accuracy.

Series: `make_sample()` ground-truth `users_clean` history (no disruptions, so no cleaning
stage is needed) of the markets observed over the whole history; test: the 52 weeks after
the sample's end. CV: 4 splits, step 13, horizon 52, holdout 13; space: configs/spaces/default.yaml;
select: top 3, combine best. Both methods refit their selection on all history (`fcast.apply`).

    .venv/bin/python benchmarks/halving.py                     # in-process -> results/halving.json
    .venv/bin/python benchmarks/halving.py --workers 2 --out halving-2workers.json

`wall_s` covers search + select (CV score, top 3, holdout refits); `search_s` the search alone.
The final refit (`apply`) is outside both; it costs the same for both methods.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from fcast.apply import apply, members_from_selection  # noqa: E402
from fcast.data import to_cube  # noqa: E402
from fcast.data.sample import make_sample  # noqa: E402
from fcast.label import label  # noqa: E402
from fcast.metrics import mase_scale  # noqa: E402
from fcast.search import fits, halving  # noqa: E402
from fcast.select import select  # noqa: E402
from fcast.space import load_space  # noqa: E402
from fcast.tune import tune  # noqa: E402

H, M, HORIZON = 52, 52, 52
CV = {"splits": 4, "step": 13, "horizon": 52, "holdout": 13}
MIN_TRAIN = 2 * 52


def accuracy(fc, truth, y) -> tuple[float, float]:  # noqa: ANN001
    """Mean sMAPE (%) and MASE (in-sample seasonal scale) over markets."""
    smape, mase = [], []
    for m in fc["market"].values:
        f = fc["yhat"].sel(market=m).values[:HORIZON]
        t = truth.loc[str(m)].values[:HORIZON]
        hist = y.sel(market=m).values
        hist = hist[np.isfinite(hist)]
        smape.append(float(np.mean(200 * np.abs(t - f) / (np.abs(t) + np.abs(f)))))
        mase.append(float(np.mean(np.abs(t - f)) / mase_scale(hist, M)))
    return float(np.mean(smape)), float(np.mean(mase))


def warm(y: np.ndarray, hp) -> None:  # noqa: ANN001
    """Fit every model once so JIT compilation is not charged to whichever method runs first."""
    import warnings

    from fcast.space import models_of

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for model in models_of(hp, M):
            model.forecast(y, HORIZON)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--markets", type=int, default=12)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", type=float, default=0.33)
    ap.add_argument("--out", default="halving.json", help="file name under benchmarks/results/")
    args = ap.parse_args()
    s = make_sample()
    end = s.actuals["date"].max()
    hist = s.truth[s.truth["date"] <= end].rename(columns={"users_clean": "users"})
    first = hist.groupby("market")["date"].min()
    full = sorted(first[first == first.min()].index)[: args.markets]
    y = to_cube(hist[hist["market"].isin(full)][["market", "date", "users"]], "W-MON")["y"]
    fut = s.truth[(s.truth["date"] > end) & s.truth["market"].isin(full)]
    truth = fut.pivot(index="market", columns="date", values="users_clean")
    labels = label(y.time, CV["splits"], CV["step"], CV["horizon"], CV["holdout"], MIN_TRAIN)
    hp = load_space(ROOT.parent / "configs/spaces/default.yaml", "W-MON")
    client = None
    if args.workers > 1:
        from distributed import Client, LocalCluster

        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, dashboard_address=":0")
        client = Client(cluster)
    series = y.isel(market=0).values
    warm(series[np.isfinite(series)], hp)
    if client is not None:
        client.run(warm, series[np.isfinite(series)], hp)
    work = Path(tempfile.mkdtemp(prefix="fcast-halving-"))
    kw = {
        "horizon": CV["horizon"],
        "metric": "mase",
        "season_length": M,
        "min_train": MIN_TRAIN,
        "client": client,
    }
    out = {
        "dataset": f"sample ({len(full)} mature markets, users_clean, 52-week test)",
        "space_hps": hp.sizes["hp"],
        "cv": CV,
        "workers": args.workers,
        "keep": args.keep,
    }
    selections = {}
    for name in ("grid", "halving"):
        t0 = time.perf_counter()
        if name == "grid":
            cube, _ = tune(
                y,
                labels,
                hp,
                str(work / "grid.zarr"),
                block_markets=4,
                block_hps=26,
                progress=False,
                **kw,
            )
        else:
            cube, _ = halving(
                y,
                labels,
                hp,
                str(work / "halving.zarr"),
                keep=args.keep,
                min_keep=3,
                block_markets=4,
                progress=True,
                **kw,
            )
        search_s = time.perf_counter() - t0
        sel = select(cube, y, top=3, combine="best", holdout=CV["holdout"], client=client)
        wall = time.perf_counter() - t0
        fc = apply(y, members_from_selection(sel, M), HORIZON, client=client)
        smape, mase = accuracy(fc, truth, y)
        out[name] = {
            "fits": fits(cube),
            "wall_s": round(wall, 1),
            "search_s": round(search_s, 1),
            "smape": round(smape, 3),
            "mase": round(mase, 4),
        }
        selections[name] = sel[sel["weight"] > 0].set_index("market")["hp"]
        print(name, out[name], file=sys.stderr)
    same = (selections["grid"] == selections["halving"].reindex(selections["grid"].index)).mean()
    out["same_selection_share"] = round(float(same), 3)
    out["fits_ratio"] = round(out["halving"]["fits"] / out["grid"]["fits"], 3)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    shutil.rmtree(work, ignore_errors=True)
    if client is not None:
        client.close()
        cluster.close()


if __name__ == "__main__":
    main()
