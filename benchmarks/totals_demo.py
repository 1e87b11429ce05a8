"""Totals in the demo: the total's and regions' bands against the sample generator's truth.

Runs the demo config (`configs/demo.yaml`: the sample's markets, tuned, with proxies, a
custom market and the SE adjustment) into a temporary store: the tuning job, then the
weekly job once per reconciliation method asked for. Each aggregate (the total, the 5
regions) is scored over the 52 forecast weeks against the sum of its markets'
undisrupted truth (`users_clean`, as `fcast demo` scores the markets): sMAPE, bias, the
80% band's half-width, 80% / 95% coverage; `direct` is the aggregates' own tuned forecast (forecast.zarr's base
forecasts). Diagnostics of the band: how the markets'
own forecast errors add up in the aggregate (`error_ratio`: |sum of the markets' errors|
over the root of their summed squares, 1 for independent errors, sqrt(markets) for
errors that all point the same way), the markets' pooled 80% coverage, and the coverage
the 80% band would have if it were the sum of the markets' bounds (errors fully
correlated). Writes benchmarks/results/totals_demo.json.

    nice -n 10 python benchmarks/totals_demo.py [--methods bottom_up mint_shrink auto]
        [--space classic --out results/totals_demo_classic.json]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def demo_config(folder: Path) -> Any:
    """The demo config with its sample data and store under `folder`."""
    from fcast.config import load_config
    from fcast.data.sample import write_sample

    cfg = load_config(C.REPO / "configs" / "demo.yaml")
    paths = write_sample(str(folder / "sample"))
    cfg.data.actuals = paths["actuals"]
    cfg.data.markets = paths["markets"]
    cfg.store = str(folder / "store")
    return cfg


def _pooled(frame: pd.DataFrame, lo: str, hi: str, col: str = "truth") -> float:
    """Share of the rows whose `col` is inside [lo, hi]."""
    return float(((frame[col] >= frame[lo]) & (frame[col] <= frame[hi])).mean())


def score_aggregate(rows: pd.DataFrame, markets: pd.DataFrame) -> dict[str, float]:
    """One aggregate's rows (date, yhat, bounds, truth) and its markets' rows: accuracy, band and diagnostics."""
    err = markets.assign(e=markets["yhat"] - markets["truth"])
    by_date = err.groupby("date")
    ratio = (by_date["e"].sum().abs() / np.sqrt(by_date["e"].apply(lambda e: (e**2).sum()))).mean()
    summed = markets.groupby("date")[["yhat_lo_80", "yhat_hi_80"]].sum()
    joined = rows.set_index("date").join(summed, rsuffix="_sum")
    ape = 200 * (rows["yhat"] - rows["truth"]).abs() / (rows["yhat"].abs() + rows["truth"])
    return {
        "smape": float(ape.mean()),
        "bias_pct": float(100 * (rows["yhat"] - rows["truth"]).mean() / rows["truth"].mean()),
        "half_width_80_pct": float(
            100 * ((rows["yhat_hi_80"] - rows["yhat_lo_80"]) / 2 / rows["yhat"]).mean()
        ),
        "cover_80": _pooled(rows, "yhat_lo_80", "yhat_hi_80"),
        "cover_95": _pooled(rows, "yhat_lo_95", "yhat_hi_95"),
        "markets": int(markets["market"].nunique()),
        "error_ratio": float(ratio),
        "markets_cover_80": _pooled(markets, "yhat_lo_80", "yhat_hi_80"),
        "sum_of_bounds_cover_80": _pooled(joined, "yhat_lo_80_sum", "yhat_hi_80_sum"),
    }


def score_run(store: Any, run_id: str, truth: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Every aggregate of a weekly run against the summed truth of its markets."""
    from fcast.contract import aggregate_rows, market_rows

    table = store.read_parquet("runs", run_id, "forecast.parquet")
    members = store.read_parquet("runs", run_id, "hierarchy.parquet")
    truth = truth[["market", "date", "users_clean"]].rename(columns={"users_clean": "truth"})
    mk = market_rows(table).merge(truth, on=["market", "date"], how="inner")
    agg = aggregate_rows(table)
    out = {}
    for (level, name), grp in members.groupby(["level", "name"], sort=False):
        own = mk[mk["market"].isin(grp["market"])]
        summed = own.groupby("date", as_index=False)["truth"].sum()
        rows = agg[(agg["level"] == level) & (agg["market"] == name)].merge(summed, on="date")
        out[f"{level} {name}"] = score_aggregate(rows, own)
    return out


def score_direct(store: Any, run_id: str, truth: pd.DataFrame) -> dict[str, dict[str, float]]:
    """The aggregates' own (tuned) base forecasts from forecast.zarr, scored like the reconciled rows."""
    import xarray as xr

    from fcast.core.apply import to_table
    from fcast.markets.totals import aggregate_key

    cube = xr.open_zarr(store.run_url(run_id, "forecast.zarr"), consolidated=True).load()
    own = to_table(cube.sel(market=cube["level"].values != "market").drop_vars("level"))
    table = store.read_parquet("runs", run_id, "forecast.parquet")
    members = store.read_parquet("runs", run_id, "hierarchy.parquet")
    truth = truth[["market", "date", "users_clean"]].rename(columns={"users_clean": "truth"})
    mk = market_rows_of(table).merge(truth, on=["market", "date"], how="inner")
    out = {}
    for (level, name), grp in members.groupby(["level", "name"], sort=False):
        markets = mk[mk["market"].isin(grp["market"])]
        summed = markets.groupby("date", as_index=False)["truth"].sum()
        rows = own[own["market"] == aggregate_key(level, name)].merge(summed, on="date")
        out[f"{level} {name}"] = score_aggregate(rows, markets)
    return out


def market_rows_of(table: pd.DataFrame) -> pd.DataFrame:
    """The market rows of a forecast table."""
    from fcast.contract import market_rows

    return market_rows(table)


def main() -> None:
    """Tune the demo once, run the weekly job per method, score the aggregates, write results."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--methods", nargs="+", default=["bottom_up"])
    ap.add_argument("--space", help="a built-in space name or path instead of the demo's default")
    ap.add_argument("--out", default=str(C.RESULTS / "totals_demo.json"))
    args = ap.parse_args()
    C.single_thread_env()
    from fcast.infra.cluster import connect
    from fcast.infra.store import Store
    from fcast.jobs.pipeline import run_tuning, run_weekly

    result: dict[str, Any] = {"date": str(date.today()), "machine": C.machine(), "methods": {}}
    with tempfile.TemporaryDirectory() as tmp:
        cfg = demo_config(Path(tmp))
        if args.space:  # a built-in name (fcast/spaces/<name>.yaml) or a path
            named = C.SPACES / f"{args.space}.yaml"
            cfg.space = str(named if named.exists() else Path(args.space).resolve())
        result["space"] = cfg.space
        truth = pd.read_parquet(Path(tmp) / "sample" / "truth.parquet")
        with connect(cfg.cluster) as client:
            t0 = time.perf_counter()
            run_tuning(cfg, client=client, progress=False)
            result["tuning_seconds"] = round(time.perf_counter() - t0, 1)
            for method in args.methods:
                run_cfg = cfg.model_copy(deep=True)
                run_cfg.hierarchy.method = method
                t0 = time.perf_counter()
                weekly = run_weekly(run_cfg, client=client, progress=False)
                if not result["methods"]:  # the aggregates' own forecasts, once
                    result["methods"]["direct"] = score_direct(
                        Store(cfg.store), weekly.run_id, truth
                    )
                scores = score_run(Store(cfg.store), weekly.run_id, truth)
                scores["seconds"] = round(time.perf_counter() - t0, 1)  # type: ignore[assignment]
                result["methods"][method] = scores
                print(method, flush=True)
                print(pd.DataFrame({k: v for k, v in scores.items() if k != "seconds"}).T.round(3))
    C.write_json(result, Path(args.out))


if __name__ == "__main__":
    main()
