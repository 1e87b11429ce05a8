"""QC cost at many markets (issue 20): `run_qc` on a fabricated forecast of n markets, no fits.

Workload per size: weekly actuals of 4 years (208 periods, yearly cycle, 5% of the markets
launched 20 weeks before the end and marked segment `new`, 1% ending 2 weeks early), a
52-period forecast with 80 and 95 bounds and an `origin`, a previous official forecast,
supplied totals and the expected markets, so every built-in check runs. Faults are
injected in known markets (NaN, negative, crossed bounds, a level jump, a growth spurt)
so the checks have findings to write. Prints the seconds of `run_qc` per size (best of
`--repeat`); `--findings DIR` writes each size's findings to `DIR/qc-<n>.parquet`, so two
trees' findings can be compared (run once per tree with its PYTHONPATH). `--cases N`
also writes the findings of N small random awkward runs (ragged and gappy actuals, zeros,
short forecasts, NaN/inf/negative values, shuffled rows, any season length) to
`DIR/qc-cases.parquet`, for the same comparison.

    PYTHONPATH=. python benchmarks/qc.py --markets 1000,10000
    PYTHONPATH=/work/main python benchmarks/qc.py --markets 1000 --findings /tmp/qc-main --cases 300
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from fcast.output.qc import run_qc

HISTORY, HORIZON, M = 208, 52, 52
START = pd.Timestamp("2022-01-03")
COLUMNS = ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]


def actuals(n: int, rng: np.random.Generator) -> xr.DataArray:
    """n markets of weekly actuals; every 20th launched late, every 100th ending 2 weeks early."""
    t = np.arange(HISTORY)
    level = rng.uniform(50, 5000, n)[:, None]
    trend = 1 + rng.uniform(-0.05, 0.15, n)[:, None]
    cycle = 1 + 0.2 * np.sin(2 * np.pi * (t[None, :] / M + rng.uniform(0, 1, n)[:, None]))
    y = level * trend ** (t / M) * cycle * rng.normal(1, 0.03, (n, HISTORY))
    y[::20, : HISTORY - 20] = np.nan  # launched 20 weeks before the end
    y[7::100, HISTORY - 2 :] = np.nan  # actuals end 2 weeks early
    markets = [f"m{i:05d}" for i in range(n)]
    times = pd.date_range(START, periods=HISTORY, freq="W-MON")
    return xr.DataArray(y, dims=("market", "time"), coords={"market": markets, "time": times})


def forecast(y: xr.DataArray, rng: np.random.Generator) -> pd.DataFrame:
    """The last season times 1.05 (the last value, for new markets), bounds +-5% and +-10%."""
    v = y.values
    n = v.shape[0]
    last = np.where(np.isfinite(v[:, -1]), v[:, -1], v[:, -3])
    season = np.where(np.isfinite(v[:, -M:]).all(axis=1)[:, None], v[:, -M:], last[:, None])
    yhat = season * 1.05 * rng.normal(1, 0.01, (n, HORIZON))
    dates = pd.date_range(START, periods=HISTORY + HORIZON, freq="W-MON")[HISTORY:]
    flat = yhat.ravel()
    table = pd.DataFrame(
        {
            "market": np.repeat(y["market"].values, HORIZON),
            "date": np.tile(dates, n),
            "yhat": flat,
            "yhat_lo_80": flat * 0.95,
            "yhat_hi_80": flat * 1.05,
            "yhat_lo_95": flat * 0.9,
            "yhat_hi_95": flat * 1.1,
            "family": "ets",
            "segment": np.repeat(np.where(np.arange(n) % 20 == 0, "new", "mature"), HORIZON),
            "origin": y["time"].values[-1],
        }
    )
    return inject(table, n)


def inject(table: pd.DataFrame, n: int) -> pd.DataFrame:
    """Faults in known markets: NaN, negative, crossed bounds, a level jump, a growth spurt."""
    row = np.arange(len(table)) % HORIZON
    idx = np.arange(len(table)) // HORIZON
    table.loc[(idx % 97 == 3) & (row == 5), "yhat_lo_95"] = np.nan
    table.loc[(idx % 89 == 4) & (row < 3), "yhat_lo_95"] = -1.0
    crossed = (idx % 83 == 5) & (row == 10)
    table.loc[crossed, ["yhat_lo_80", "yhat_hi_80"]] = table.loc[
        crossed, ["yhat_hi_80", "yhat_lo_80"]
    ].to_numpy()
    table.loc[idx % 71 == 6, COLUMNS] *= 1.4
    spurt = idx % 67 == 8
    table.loc[spurt, COLUMNS] *= np.linspace(1, 3, HORIZON)[row[spurt], None]
    return table


def inputs(n: int) -> dict:
    """run_qc's arguments for n fabricated markets."""
    rng = np.random.default_rng(n)
    y = actuals(n, rng)
    fc = forecast(y, rng)
    previous = fc[["market", "date", "yhat"]].copy()
    previous["yhat"] *= np.where(np.arange(len(fc)) // HORIZON % 61 == 9, 0.7, 1.0)
    totals = fc.groupby("date")["yhat"].sum().rename("total").reset_index()
    totals.loc[3, "total"] *= 1.05
    return {
        "forecast": fc,
        "y": y,
        "expected_markets": [*y["market"].values.tolist(), "missing"],
        "previous": previous,
        "totals": totals,
        "season_length": M,
    }


def awkward(seed: int) -> dict:
    """run_qc's arguments for a small random run full of edge cases."""
    rng = np.random.default_rng(seed)
    n, t, h = int(rng.integers(5, 60)), int(rng.integers(3, 130)), int(rng.integers(1, 30))
    y = rng.lognormal(3, 1, (n, t)) * rng.choice([1, 0], (n, t), p=[0.95, 0.05])
    y[rng.random((n, t)) < 0.05] = np.nan
    for i, r in enumerate(rng.random(n)):  # late launches, early ends, no actuals at all
        cut = int(rng.integers(0, t))
        if r < 0.15:
            y[i, :cut] = np.nan
        elif r < 0.25:
            y[i, cut:] = np.nan
        elif r < 0.3:
            y[i] = np.nan
    times = pd.date_range("2020-01-06", periods=t, freq="W-MON")
    markets = [f"k{i:02d}" for i in range(n)]
    parts = []
    for mk in [*markets[:-2], "not_in_y"]:
        k = h if rng.random() > 0.1 else int(rng.integers(1, h + 1))
        yhat = rng.lognormal(3, 1, k) * rng.choice([1, 1.5, 0.5], k)
        start = times[-1] + pd.Timedelta(weeks=int(rng.choice([0, 0, 0, 1, -2])))
        vals = yhat[:, None] * np.stack(
            [np.ones(k), rng.uniform(0.8, 1.05, k), np.full(k, 1.1), np.full(k, 0.7)]
            + [rng.uniform(1.0, 1.3, k)],
            axis=1,
        )
        bad = rng.random(vals.shape) < 0.01
        vals[bad] = rng.choice([np.nan, np.inf, -1.0], bad.sum())
        part = pd.DataFrame(vals, columns=COLUMNS)
        part.insert(0, "date", pd.date_range(start, periods=k + 1, freq="W-MON")[1:])
        part.insert(0, "market", mk)
        part["segment"] = rng.choice(["new", "mature"], p=[0.3, 0.7])
        part["origin"] = times[-1] if rng.random() > 0.1 else times[-2]
        parts.append(part)
    fc = pd.concat(parts, ignore_index=True).sample(frac=1.0, random_state=seed)
    previous = fc[["market", "date", "yhat"]].copy()
    previous["yhat"] *= rng.choice([1, 0.7, 1.3, np.nan], len(fc), p=[0.7, 0.1, 0.1, 0.1])
    return {
        "forecast": fc,
        "y": xr.DataArray(y, dims=("market", "time"), coords={"market": markets, "time": times}),
        "expected_markets": [*markets, "extra"],
        "previous": previous,
        "totals": fc.groupby("date")["yhat"].sum().rename("total").reset_index(),
        "season_length": int(rng.choice([1, 4, 12, 52])),
    }


def main() -> None:
    """Time run_qc per size and print the seconds (and optionally write the findings)."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--markets", default="1000,10000", help="comma-separated sizes")
    ap.add_argument("--repeat", type=int, default=1, help="runs per size (best reported)")
    ap.add_argument("--findings", type=Path, help="folder for each size's findings")
    ap.add_argument("--cases", type=int, default=0, help="random awkward runs (with --findings)")
    args = ap.parse_args()
    if args.cases and args.findings:
        cases = [run_qc(**awkward(s)).assign(case=s) for s in range(args.cases)]
        args.findings.mkdir(parents=True, exist_ok=True)
        pd.concat(cases, ignore_index=True).to_parquet(args.findings / "qc-cases.parquet")
    for n in (int(s) for s in args.markets.split(",")):
        kw = inputs(n)
        best, out = np.inf, None
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            out = run_qc(**kw)
            best = min(best, time.perf_counter() - t0)
        counts = out["check"][out["severity"].isin(["error", "warning"])].value_counts()
        print(f"{n:>7} markets: run_qc {best:7.2f} s; findings {dict(sorted(counts.items()))}")
        if args.findings:
            args.findings.mkdir(parents=True, exist_ok=True)
            out.to_parquet(args.findings / f"qc-{n}.parquet")


if __name__ == "__main__":
    main()
