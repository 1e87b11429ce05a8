"""Totals benchmark: accuracy and interval coverage of the total and groups, reconciled vs bottom-up vs direct.

Two data sets:

- **sample**: the built-in sample (seed 7), its mature markets grouped by `region` (continent);
  two origins, 52 and 26 weeks before the end of the actuals, each forecasting 26 weeks
  (the actuals after the origin are the test part).
- **tourism-quarterly**: the 427 Tourism quarterly series and their total (the competition
  test part, 8 quarters); each series' last `min length` quarters so the total sums them all.

Every series (markets and aggregates) gets the same model, the hierarchy default
(`mstl` with an ETS trend on logs, `fcast.markets.hierarchy.HierarchyConfig`), fitted by
`fcast.core.apply.apply`; `direct` is the aggregates' own forecast, the other arms are
`fcast.markets.reconcile.reconcile` with each method. Scores: MASE and sMAPE of the total
and of each group level, MASE of the markets, and the share of test points inside the
80% / 95% intervals (the markets' own bands moved with their reconciled means, as in the jobs).
`auto` is `hierarchy.method: auto`: the method chosen on 3 rolling splits before the origin
(step h/2, horizon h), scored at the origin. Writes benchmarks/results/totals.json.

    nice -n 10 python benchmarks/totals.py [--datasets sample tourism-quarterly]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

LEVELS = (80, 95)
ARMS = ("direct", "bottom_up", "top_down", "ols", "wls_struct", "mint_shrink", "auto")


def base_forecasts(
    hist: np.ndarray, dates: pd.DatetimeIndex, h: int, freq: str, m: int
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Every series' own forecast with the hierarchy's default model: yhat and lo-L / hi-L (series x step)."""
    from fcast.contract import quantiles_of
    from fcast.core.apply import apply
    from fcast.core.models import Model
    from fcast.markets.hierarchy import HierarchyConfig

    cfg = HierarchyConfig()
    keys = [f"s{i}" for i in range(hist.shape[0])]
    y = xr.DataArray(hist, dims=("market", "time"), coords={"market": keys, "time": dates})
    model = Model.create(cfg.fixed_family, cfg.params, m)
    fc = apply(y, {k: [(model, 1.0)] for k in keys}, h, LEVELS, freq, season_length=m)
    bounds = {}
    for lv in LEVELS:
        lo, hi = quantiles_of(lv)
        bounds[f"lo-{lv}"] = fc["bounds"].sel(quantile=lo).values
        bounds[f"hi-{lv}"] = fc["bounds"].sel(quantile=hi).values
    return fc["yhat"].values, bounds


def score_arm(
    hier: Any, hist: np.ndarray, test: np.ndarray, mean: np.ndarray, bounds: dict, m: int
) -> dict[str, Any]:
    """MASE / sMAPE per level and interval coverage of one arm's forecasts of every series."""
    out: dict[str, Any] = {}
    for level, idx in hier.tags().items():
        mases = [C.mase(test[i], mean[i], hist[i], m) for i in idx]
        out[level] = {
            "mase": float(np.nanmean(mases)),
            "smape": float(np.mean([C.smape(test[i], mean[i]) for i in idx])),
            **{
                f"cover_{lv}": float(
                    np.mean(
                        (test[idx] >= bounds[f"lo-{lv}"][idx])
                        & (test[idx] <= bounds[f"hi-{lv}"][idx])
                    )
                )
                for lv in LEVELS
            },
        }
    return out


def cv_cutoffs(n: int, splits: int, step: int, h: int) -> list[int]:
    """Training lengths of rolling-origin splits ending at the origin (as fcast.core.label, no holdout)."""
    return [n - h - step * (splits - 1 - k) for k in range(splits)]


def run_origin(
    hier: Any, hist: np.ndarray, test: np.ndarray, dates: pd.DatetimeIndex, freq: str, m: int
) -> dict:
    """Every arm at one origin: base forecasts once, then each reconciliation."""
    from fcast.markets.reconcile import reconcile

    h = test.shape[1]
    yhat, bounds = base_forecasts(hist, dates, h, freq, m)
    arms = {"direct": score_arm(hier, hist, test, yhat, bounds, m)}
    seconds = {}
    for method in ARMS[1:-1]:
        t0 = time.perf_counter()
        rec = reconcile(hier, yhat, bounds, hist, method, LEVELS, m)
        seconds[method] = round(time.perf_counter() - t0, 3)
        k = hier.n_aggregates
        gap = float(np.abs(hier.S @ rec.mean[k:] - rec.mean).max())
        assert gap < 1e-6 * max(1.0, float(np.abs(rec.mean).max())), (method, gap)
        bounds_out = {}  # as the jobs do: markets keep their own bands, moved with their means
        for key, b in rec.bounds.items():
            bounds_out[key] = np.vstack([b[:k], bounds[key][k:] + rec.mean[k:] - yhat[k:]])
        arms[method] = score_arm(hier, hist, test, rec.mean, bounds_out, m)
    from fcast.markets.hierarchy import HierarchyConfig
    from fcast.markets.totals import choose_method

    t0 = time.perf_counter()
    cuts = cv_cutoffs(hist.shape[1], 3, max(h // 2, 1), h)
    chosen, cv = choose_method(hier, hist, dates, cuts, h, HierarchyConfig(), freq, m)
    arms["auto"] = arms[chosen]
    seconds["auto"] = round(time.perf_counter() - t0, 3)
    return {"arms": arms, "auto": {"chosen": chosen, "cv_mase": cv}, "reconcile_seconds": seconds}


def sample_origins() -> list[dict]:
    """The sample by region at two origins (52 and 26 weeks before the end), 26-week horizon."""
    from fcast.data.ingest import to_cube
    from fcast.data.sample import make_sample
    from fcast.markets.hierarchy import build_hierarchy

    data = make_sample()
    cube = to_cube(data.actuals, value="users", freq="W-MON")["y"]
    cube = cube.dropna("market", how="any")  # the markets with the whole history (mature)
    markets = [str(x) for x in cube["market"].values]
    hier = build_hierarchy(data.markets, ["region"], markets)
    every = hier.aggregate(cube.transpose("market", "time").values)
    dates = pd.DatetimeIndex(cube["time"].values)
    out = []
    for back in (52, 26):
        cut = len(dates) - back
        res = run_origin(hier, every[:, :cut], every[:, cut : cut + 26], dates[:cut], "W-MON", 52)
        out.append({"origin": str(dates[cut - 1].date()), **res})
    return out


def tourism_origins() -> list[dict]:
    """Tourism quarterly: 427 series and their total, the competition's test part."""
    from fcast.markets.hierarchy import build_hierarchy

    series = C.load_series("tourism-quarterly")
    n = min(len(s.train) for s in series)
    train = np.vstack([s.train[-n:] for s in series])
    test = np.vstack([s.test for s in series])
    hier = build_hierarchy(None, [], [s.id for s in series])
    dates = C.train_dates(n, "QS")
    res = run_origin(hier, hier.aggregate(train), hier.aggregate(test), dates, "QS", 4)
    return [{"origin": str(dates[-1].date()), "train_quarters": n, **res}]


def summary(origins: list[dict]) -> dict[str, dict[str, dict[str, float]]]:
    """Arm -> level -> metric, averaged over the origins."""
    arms: dict[str, dict[str, dict[str, float]]] = {}
    for arm in ARMS:
        levels = origins[0]["arms"][arm]
        arms[arm] = {
            lv: {k: float(np.mean([o["arms"][arm][lv][k] for o in origins])) for k in levels[lv]}
            for lv in levels
        }
    return arms


def main() -> None:
    """Run the benchmark, write results/totals.json and print the README table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=["sample", "tourism-quarterly"])
    args = ap.parse_args()
    C.single_thread_env()
    runs = {"sample": sample_origins, "tourism-quarterly": tourism_origins}
    result: dict[str, Any] = {"date": str(date.today()), "machine": C.machine(), "datasets": {}}
    for name in args.datasets:
        t0 = time.perf_counter()
        origins = runs[name]()
        result["datasets"][name] = {
            "origins": origins,
            "summary": summary(origins),
            "seconds": round(time.perf_counter() - t0, 1),
        }
        print(f"{name}: {result['datasets'][name]['seconds']} s", flush=True)
    C.write_json(result, C.RESULTS / "totals.json")
    rows = []
    for name, d in result["datasets"].items():
        for arm, levels in d["summary"].items():
            for lv, s in levels.items():
                rows.append({"data": name, "arm": arm, "level": lv, **s})
    print(C.markdown_table(rows, ["data", "arm", "level", "mase", "smape", "cover_80", "cover_95"]))


if __name__ == "__main__":
    main()
