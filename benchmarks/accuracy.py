"""Accuracy benchmark: fcast's default configuration against statsforecast baselines.

The weekly arm `sample-weekly` (benchmarks/weekly.py) scores what `make run` gives on the
built-in sample data against its ground truth, next to Prophet and statsforecast.

For each competition data set (Tourism monthly and quarterly, M1 monthly; M3 only on
request, as an independent check), the training parts go through the whole fcast
pipeline as an actuals table (load + QA, default space for the frequency, CV tuning,
selection, application) on a 2-worker LocalCluster. The test parts, which fcast never
sees, score the forecasts. The baselines run on the same series with statsforecast
(`n_jobs=2`): SeasonalNaive, AutoETS, AutoARIMA, AutoTheta, AutoCES, the mean of the
four automatic models (`ensemble`) and the mean of all five (`ensemble_all`).

Metrics, averaged over series: sMAPE (M-competition definition, 200|y-f|/(|y|+|f|), in %)
and MASE (mean absolute error over the horizon / in-sample MAE of the seasonal naive
forecast). Intervals (`fcast.core.metrics.interval_scores`, utilsforecast definitions):
`coverage_80`/`_95`, the share of all series-periods inside the 80%/95% interval (pooled);
`interval_score_80`/`_95`, the Winkler score averaged per series and then over series; and
`scaled_interval_score_80`/`_95`, each series' Winkler score over its MASE scale (MSIS), so
large series do not dominate.

fcast arms: `fcast` is the default configuration (full pipeline; for monthly and quarterly
data `intervals: scaled`, the models' own bounds narrowed by the combination gain). Its variants reuse that
run's tuning cube (same CV fits) and differ only in the selector or the intervals:
`fcast-own-intervals` (same forecast refitted, the models' own bounds combined like the
forecast, i.e. `intervals: model`), `fcast-conformal` (same forecast, conformal intervals
from the CV residuals),
`fcast-inverse_error`, `fcast-stacked` (learned member weights, `select.weighting`) and
`fcast-weighting-auto` (the weighting chosen among equal, inverse_error and stacked on the
newest CV split); each weighted variant is refitted on all history like the default. Every method's forecasts are clipped at zero, as fcast's applier does (the
data are non-negative). `wall_s` is the wall time of the method on the data set,
excluding cluster start and warm-up (both reported separately for fcast).

    python benchmarks/accuracy.py                         # full run, writes results/accuracy.json
    python benchmarks/accuracy.py --datasets sample-weekly  # the weekly arm alone
    python benchmarks/accuracy.py --quick                 # 60 Tourism quarterly series, no file
    python benchmarks/accuracy.py --datasets m3-monthly   # independent check (not used for tuning)
    python benchmarks/accuracy.py --variants none         # only the default fcast arm
    python benchmarks/accuracy.py --methods fcast --datasets tourism-monthly --out x.json
                                                          # fcast arms only (no statsforecast)
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
import warnings
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402
import weekly as W  # noqa: E402

WEEKLY = "sample-weekly"

#: fcast's default configuration per frequency (besides horizon, which is the data set's)
FCAST: dict[str, dict[str, Any]] = {
    "MS": {
        "space": "monthly.yaml",
        "cv": {"splits": 3, "step": 12, "holdout": 0, "min_train": 12},
        "select": {"top": 24, "combine": "median", "weights": "equal"},
        "intervals": "scaled",
    },
    "QS": {
        "space": "quarterly.yaml",
        "cv": {"splits": 3, "step": 4, "holdout": 0, "min_train": 8},
        "select": {"top": 24, "combine": "median", "weights": "equal"},
        "intervals": "scaled",
    },
}

BASELINES = ["SeasonalNaive", "AutoETS", "AutoARIMA", "AutoTheta", "AutoCES"]
ENSEMBLES = {
    "ensemble": ["AutoETS", "AutoARIMA", "AutoTheta", "AutoCES"],
    "ensemble_all": BASELINES,
}
PUBLISHED = "published_best_2011"
LEVELS = (80, 95)
#: fcast variants on the default run's tuning cube: arm -> (select.weighting, intervals)
VARIANTS: dict[str, tuple[str | list[str], str]] = {
    "fcast-own-intervals": ("equal", "model"),
    "fcast-conformal": ("equal", "conformal"),
    "fcast-inverse_error": ("inverse_error", "model"),
    "fcast-stacked": ("stacked", "model"),
    "fcast-weighting-auto": (["equal", "inverse_error", "stacked"], "model"),
}


def interval_metrics(
    series: list[C.Series], bounds: dict[str, dict[int, tuple[np.ndarray, np.ndarray]]], period: int
) -> dict[str, float]:
    """Coverage, interval score and scaled interval score per level (bounds clipped at zero)."""
    from fcast.core.metrics import interval_scores

    out: dict[str, float] = {}
    y = np.stack([s.test for s in series])
    scale = np.array([C.mase_scale(s.train, period) for s in series])
    for lv in LEVELS:
        lo = np.stack([np.clip(bounds[s.id][lv][0], 0, None) for s in series])
        hi = np.stack([np.clip(bounds[s.id][lv][1], 0, None) for s in series])
        for k, v in interval_scores(y, lo, hi, lv, scale).items():
            out[f"{k}_{lv}"] = round(v, 4)
    return out


TODAY = date.today().isoformat()  # the day the run is measured


def fcast_config(name: str, work: Path) -> Any:
    """The RunConfig of fcast's default configuration for a data set."""
    from fcast.config import parse_config

    spec = C.DATASETS[name]
    settings = FCAST[spec.freq]
    raw = {
        "data": {"actuals": str(work / "actuals.parquet"), "value": "value", "freq": spec.freq},
        "horizon": spec.h,
        "cv": settings["cv"],
        "space": str(C.SPACES / settings["space"]),
        "tune": {"metric": "mase", "block_markets": 8, "block_hps": 16},
        "select": settings["select"],
        "intervals": settings["intervals"],
        "store": str(work / "store"),
        "cluster": {"local": {"workers": 2, "threads": 1}},
    }
    return parse_config(raw, source=f"benchmarks/accuracy.py:{name}")


def _warm_worker(space: str, freq: str, h: int) -> float:
    """Fit every model of the space once on a synthetic series (imports, JIT caches); seconds."""
    from fcast.core.space import load_space, models_of
    from fcast.data import season_length

    t0 = time.perf_counter()
    m = season_length(freq)
    t = np.arange(8 * m)
    y = 100 + t + 10 * np.sin(2 * np.pi * t / m) + np.random.default_rng(0).normal(0, 1, len(t))
    C.fit_each(models_of(load_space(space, freq), m), y, h)
    return time.perf_counter() - t0


def _table_arrays(
    name: str, fc: pd.DataFrame, h: int, freq: str
) -> tuple[dict[str, np.ndarray], dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]]:
    """Forecasts and 80/95% bounds per series from a forecast table (file contract)."""
    expected = set(C.test_dates(h, freq))
    forecasts, bounds = {}, {}
    for market, grp in fc.groupby("market", sort=False):
        grp = grp.sort_values("date")
        if set(grp["date"]) != expected:
            raise AssertionError(f"{name} {market}: forecast dates do not match the test period")
        forecasts[str(market)] = grp["yhat"].to_numpy(dtype="float64")
        bounds[str(market)] = {
            lv: (
                grp[f"yhat_lo_{lv}"].to_numpy(dtype="float64"),
                grp[f"yhat_hi_{lv}"].to_numpy(dtype="float64"),
            )
            for lv in LEVELS
        }
    return forecasts, bounds


def run_variants(
    name: str, cfg: Any, result: Any, client: Any, variants: list[str]
) -> dict[str, tuple[pd.DataFrame, dict[str, Any]]]:
    """The fcast variants on the default run's tuning cube: re-select, refit (weighted ones), intervals."""
    import xarray as xr

    from fcast.core.apply import to_table
    from fcast.core.select import select
    from fcast.data import to_cube
    from fcast.jobs.pipeline import apply_selection, conformal_intervals, unselected_markets

    spec = C.DATASETS[name]
    tuning = xr.open_zarr(f"{result.url}/tuning.zarr", consolidated=True)
    y = to_cube(pd.read_parquet(cfg.data.actuals), spec.freq, value="value")["y"]
    y = y.sel(market=tuning["market"].values)
    out: dict[str, tuple[pd.DataFrame, dict[str, Any]]] = {}
    for arm in variants:
        weighting, intervals = VARIANTS[arm]
        t0 = time.perf_counter()
        if weighting == "equal" and intervals != "model":
            selection = result.selection.drop(
                columns=[c for c in ("run_id",) if c in result.selection]
            )
            fc = None
        elif weighting == "equal":  # the default forecast with the models' own intervals: refit
            selection = result.selection.drop(
                columns=[c for c in ("run_id",) if c in result.selection]
            )
            fc = apply_selection(
                cfg,
                y,
                selection,
                unselected_markets(selection, y["market"].values.tolist()),
                client,
            )
        else:
            selection = select(
                tuning,
                y,
                top=cfg.select.top,
                combine=cfg.select.combine,
                weights=cfg.select.weights,
                holdout=cfg.cv.holdout,
                client=client,
                weighting=weighting,
            )
            fc = apply_selection(
                cfg,
                y,
                selection,
                unselected_markets(selection, y["market"].values.tolist()),
                client,
            )
        if (
            fc is None
        ):  # same selection as the default run: rebuild its forecast cube from the store
            fc = xr.open_zarr(f"{result.url}/forecast.zarr", consolidated=True).load()
            fc = fc.sel(market=[m for m in fc["market"].values if m in set(y["market"].values)])
        if intervals == "conformal":
            fc, _ = conformal_intervals(cfg, fc, y, tuning, selection)
        chosen = selection.loc[selection["weight"] > 0]
        info = {
            "wall_s": round(time.perf_counter() - t0, 2),
            "weighting": str(chosen["weighting"].iloc[0]) if "weighting" in chosen else "equal",
            "intervals": intervals,
            "mean_max_weight": round(float(chosen.groupby("market")["weight"].max().mean()), 4),
            "reuses": "the fcast arm's tuning cube (same CV fits)",
        }
        out[arm] = (to_table(fc), info)
        print(f"  {arm}: {info}", file=sys.stderr)
    return out


def run_fcast(
    name: str, series: list[C.Series], progress: bool, variants: list[str] | None = None
) -> tuple[dict[str, np.ndarray], dict, dict[str, Any], dict[str, tuple]]:
    """The whole fcast tuning pipeline on the training parts; forecasts, bounds, run facts, variants."""
    from fcast.core.space import load_space
    from fcast.infra.cluster import connect
    from fcast.jobs.pipeline import Timer, run_tuning

    spec = C.DATASETS[name]
    work = C.WORK / "accuracy" / name
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    C.actuals_table(series, spec.freq).to_parquet(work / "actuals.parquet", index=False)
    cfg = fcast_config(name, work)
    sw = Timer()  # named stage timings, as the pipeline's manifest keeps them
    t0 = time.perf_counter()
    with connect(cfg.cluster, quiet=True) as client:
        sw.timings["cluster_start_s"] = time.perf_counter() - t0
        with sw("warmup_s"):
            client.run(_warm_worker, cfg.space, spec.freq, spec.h)
        C.workers_reset_peak(client)
        with sw("wall_s"), C.ForeignCPU() as foreign:
            result = run_tuning(cfg, client=client, fresh=True, progress=progress)
        peak = C.workers_peak_mb(client)
        arms = run_variants(name, cfg, result, client, variants or [])
    forecasts, bounds = _table_arrays(name, result.forecast, spec.h, spec.freq)
    fc = result.forecast
    chosen = result.selection[result.selection["weight"] > 0]
    info = {
        "series": len(series),
        "forecast_series": len(forecasts),
        "hps": int(load_space(cfg.space, spec.freq).sizes["hp"]),
        "fits": result.manifest["counts"]["fits"],
        "failed_fits": result.manifest["counts"]["failed"],
        "stage_s": result.manifest["timings"],
        "cluster_start_s": round(sw.timings["cluster_start_s"], 2),
        "warmup_s": round(sw.timings["warmup_s"], 2),
        "peak_worker_mb": round(peak, 1),
        "foreign_cpu_s": round(foreign.seconds, 1),
        "chosen_families": chosen["family"].value_counts().to_dict(),
        "segments": fc.groupby("segment")["market"].nunique().to_dict() if "segment" in fc else {},
        "config": {
            k: v
            for k, v in cfg.model_dump(mode="json").items()
            if k in ("horizon", "cv", "select", "tune", "intervals")
        }
        | {"space": f"fcast/spaces/{Path(cfg.space).name}"},
        "run_id": result.run_id,
    }
    variant_arrays = {
        arm: (*_table_arrays(name, table, spec.h, spec.freq), vinfo)
        for arm, (table, vinfo) in arms.items()
    }
    return forecasts, bounds, {"wall_s": sw.timings["wall_s"], **info}, variant_arrays


def run_baselines(
    name: str, series: list[C.Series]
) -> tuple[dict[str, dict[str, np.ndarray]], dict, dict[str, float], dict[str, float]]:
    """statsforecast baselines with n_jobs=2: forecasts and 80/95% bounds per model and series, wall time per model."""
    from statsforecast import StatsForecast
    from statsforecast.models import AutoARIMA, AutoCES, AutoETS, AutoTheta, SeasonalNaive

    spec = C.DATASETS[name]
    m = spec.period
    build = {
        "SeasonalNaive": lambda: SeasonalNaive(season_length=m, alias="SeasonalNaive"),
        "AutoETS": lambda: AutoETS(season_length=m, alias="AutoETS"),
        "AutoARIMA": lambda: AutoARIMA(season_length=m, alias="AutoARIMA"),
        "AutoTheta": lambda: AutoTheta(season_length=m, alias="AutoTheta"),
        "AutoCES": lambda: AutoCES(season_length=m, alias="AutoCES"),
    }
    df = C.nixtla_frame(series, spec.freq)
    warm = C.nixtla_frame(series[:2], spec.freq)
    out: dict[str, dict[str, np.ndarray]] = {}
    bounds: dict[str, dict[str, dict[int, tuple[np.ndarray, np.ndarray]]]] = {}
    wall: dict[str, float] = {}
    other: dict[str, float] = {}
    for model in BASELINES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            StatsForecast(models=[build[model]()], freq=spec.freq, n_jobs=1).forecast(
                df=warm, h=spec.h
            )
            sf = StatsForecast(
                models=[build[model]()],
                freq=spec.freq,
                n_jobs=2,
                fallback_model=SeasonalNaive(season_length=m),
            )
            t0 = time.perf_counter()
            with C.ForeignCPU() as foreign:
                res = sf.forecast(df=df, h=spec.h, level=list(LEVELS))
            wall[model] = time.perf_counter() - t0
            other[model] = foreign.seconds
        res = res.sort_values(["unique_id", "ds"])
        out[model] = {
            str(k): g[model].to_numpy(dtype="float64")
            for k, g in res.groupby("unique_id", sort=False)
        }
        bounds[model] = {
            str(k): {
                lv: (
                    g[f"{model}-lo-{lv}"].to_numpy(dtype="float64"),
                    g[f"{model}-hi-{lv}"].to_numpy(dtype="float64"),
                )
                for lv in LEVELS
            }
            for k, g in res.groupby("unique_id", sort=False)
        }
        print(
            f"  {model}: {wall[model]:.1f}s (other processes: {other[model]:.1f} CPU s)",
            file=sys.stderr,
        )
    return out, bounds, wall, other


def evaluate(
    name: str,
    limit: int | None,
    methods: list[str],
    progress: bool,
    variants: list[str] | None = None,
) -> dict[str, Any]:
    """All methods on one data set: {method: {smape, mase, wall_s, ...}}."""
    spec = C.DATASETS[name]
    series = C.load_series(name, limit=limit)
    print(f"\n== {name}: {len(series)} series, h={spec.h}, freq {spec.freq}", file=sys.stderr)
    res: dict[str, Any] = {}
    clip = {}
    if "baselines" in methods:
        fcs, bnds, wall, other = run_baselines(name, series)
        for model in BASELINES:
            clip[model] = {k: np.clip(v, 0, None) for k, v in fcs[model].items()}
            res[model] = {
                **C.scores(series, clip[model], spec.period),
                **interval_metrics(series, bnds[model], spec.period),
                "wall_s": round(wall[model], 2),
                "foreign_cpu_s": round(other[model], 1),
            }
        for ens, members in ENSEMBLES.items():
            mean = {s.id: np.mean([clip[mm][s.id] for mm in members], axis=0) for s in series}
            ens_bounds = {
                s.id: {
                    lv: tuple(
                        np.mean([np.clip(bnds[mm][s.id][lv][j], 0, None) for mm in members], axis=0)
                        for j in (0, 1)
                    )
                    for lv in LEVELS
                }
                for s in series
            }
            res[ens] = {
                **C.scores(series, mean, spec.period),
                **interval_metrics(series, ens_bounds, spec.period),
                "wall_s": round(sum(wall[mm] for mm in members), 2),
            }
    if "fcast" in methods:
        forecasts, bounds, info, arms = run_fcast(name, series, progress, variants)
        missing = [s.id for s in series if s.id not in forecasts]
        for sid in missing:  # counted and reported: fcast gave no forecast for these series
            s = next(x for x in series if x.id == sid)
            forecasts[sid] = np.resize(s.train[-spec.period :], spec.h)
            bounds[sid] = {lv: (forecasts[sid], forecasts[sid]) for lv in LEVELS}
        info["fallback_series"] = len(missing)
        info["measured"] = TODAY if limit is None else f"{TODAY} (subset)"
        info["wall_s"] = round(info["wall_s"], 2)
        res["fcast"] = {
            **C.scores(series, forecasts, spec.period),
            **interval_metrics(series, bounds, spec.period),
            **info,
        }
        for arm, (fcs, bds, vinfo) in arms.items():
            res[arm] = {
                **C.scores(series, fcs, spec.period),
                **interval_metrics(series, bds, spec.period),
                **vinfo,
            }
        res = {"fcast": res.pop("fcast"), **{a: res.pop(a) for a in arms}, **res}
    if spec.published_best_mase is not None and limit is None:
        res[PUBLISHED] = {
            "smape": None,
            "mase": spec.published_best_mase,
            "wall_s": None,
            "source": "Athanasopoulos, Hyndman, Song & Wu (2011), The tourism forecasting competition, IJF 27(3)",
        }
    for r in res.values():
        for k in ("smape", "mase"):
            if isinstance(r.get(k), float):
                r[k] = round(r[k], 4)
    return res


def _num(v: Any) -> float:
    return float(v) if isinstance(v, (int, float)) else float("nan")


def report(results: dict[str, Any]) -> str:
    """Readable tables: per data set, each method with ratios of fcast to it."""
    lines = []
    for name, res in results.items():
        if name == WEEKLY:
            n = len(res.get("fcast", {}).get("markets", []))
            lines.append(
                f"\n{name} ({n} mature markets, next 52 weeks against the truth); sMAPE median and "
                "mean over markets, share of markets where fcast is better, pooled coverage, "
                "Winkler score relative to the level (%)"
            )
            lines.append(W.report(res)[0])
            continue
        f = res.get("fcast")
        rows = []
        for method, r in sorted(res.items(), key=lambda kv: (kv[0] != "fcast", kv[1]["mase"])):
            row = {
                "method": method,
                "MASE": r["mase"],
                "sMAPE": r["smape"] if r["smape"] is not None else float("nan"),
                "cov80": _num(r.get("coverage_80")),
                "IS80": _num(r.get("interval_score_80")),
                "MSIS80": _num(r.get("scaled_interval_score_80")),
                "cov95": _num(r.get("coverage_95")),
                "MSIS95": _num(r.get("scaled_interval_score_95")),
                "wall_s": r["wall_s"] if r.get("wall_s") is not None else float("nan"),
            }
            if f is not None and method != "fcast":
                row["fcast/MASE"] = f["mase"] / r["mase"]
                row["fcast/sMAPE"] = f["smape"] / r["smape"] if r["smape"] else float("nan")
            rows.append(row)
        n = f["series"] if f else ""
        lines.append(f"\n{name} ({n} series); ratios < 1: fcast is more accurate")
        lines.append(
            C.table(
                rows,
                ["method", "MASE", "sMAPE", "cov80", "IS80", "MSIS80", "cov95", "MSIS95", "wall_s"]
                + ["fcast/MASE", "fcast/sMAPE"],
            )
        )
        if f is not None:
            beaten = [m for m, r in res.items() if m != "fcast" and f["mase"] < r["mase"]]
            lost = [m for m, r in res.items() if m != "fcast" and f["mase"] >= r["mase"]]
            lines.append(
                f"fcast beats on MASE: {', '.join(beaten) or '-'}; does not beat: {', '.join(lost) or '-'}"
            )
            lines.append(
                f"fcast: {f['forecast_series']}/{f['series']} series forecast, {f['fits']} CV fits, "
                f"{f['failed_fits']} failed; stages {f['stage_s']}; cluster start {f['cluster_start_s']}s, "
                f"warm-up {f['warmup_s']}s (both excluded); peak worker {f['peak_worker_mb']:.0f} MiB; "
                f"CPU seconds taken by other processes during the fcast run: {f.get('foreign_cpu_s', '-')}"
            )
    return "\n".join(lines)


def markdown(results: dict[str, Any]) -> str:
    """The result tables in Markdown, for benchmarks/README.md."""
    out = []
    for name, res in results.items():
        if name == WEEKLY:
            n = len(res.get("fcast", {}).get("markets", []))
            out.append(f"**{name}** ({n} mature markets, next 52 weeks)\n")
            out.append(W.report(res)[1])
            out.append("")
            continue
        f = res.get("fcast")
        rows = []
        for method, r in sorted(res.items(), key=lambda kv: (kv[0] != "fcast", kv[1]["mase"])):
            rows.append(
                {
                    "method": method,
                    "MASE": r["mase"],
                    "sMAPE": r["smape"] if r["smape"] is not None else float("nan"),
                    "80% coverage": _num(r.get("coverage_80")),
                    "80% MSIS": _num(r.get("scaled_interval_score_80")),
                    "95% coverage": _num(r.get("coverage_95")),
                    "95% MSIS": _num(r.get("scaled_interval_score_95")),
                    "wall s": r["wall_s"] if r.get("wall_s") is not None else float("nan"),
                    "fcast / method (MASE)": f["mase"] / r["mase"]
                    if f and method != "fcast"
                    else float("nan"),
                }
            )
        n = f["series"] if f else "?"
        out.append(f"**{name}** ({n} series)\n")
        out.append(
            C.markdown_table(
                rows,
                ["method", "MASE", "sMAPE", "80% coverage", "80% MSIS", "95% coverage", "95% MSIS"]
                + ["wall s", "fcast / method (MASE)"],
            )
        )
        out.append("")
    return "\n".join(out)


#: the rows of the README's summary table, in this order (arms a run lacks are left out)
SUMMARY_ROWS = [
    "fcast",
    "fcast-inverse_error",
    "fcast-stacked",
    "fcast-weighting-auto",
    "ensemble_all",
    "ensemble",
    "AutoETS",
    "AutoARIMA",
    "AutoTheta",
    "AutoCES",
    "SeasonalNaive",
    "published_best_2011",
]


def _cell(r: dict[str, Any] | None) -> str:
    """'MASE / sMAPE / 80% coverage / 80% MSIS' of one arm on one data set ('' when absent)."""
    if not r:
        return ""
    parts = [f"{r['mase']:.3f}", "–" if r.get("smape") is None else f"{r['smape']:.2f}"]
    if r.get("coverage_80") is not None:
        parts += [f"{100 * r['coverage_80']:.1f}%", f"{r['scaled_interval_score_80']:.2f}"]
    return " / ".join(parts)


def summary_markdown(results: dict[str, Any]) -> str:
    """The README's table: every arm on every competition data set in one row (MASE / sMAPE / 80% cover / MSIS)."""
    names = [n for n in results if n != WEEKLY]
    head = "| method | " + " | ".join(names) + " |"
    lines = [head, "|:---|" + "---:|" * len(names)]
    for arm in SUMMARY_ROWS:
        cells = [_cell(results[n].get(arm)) for n in names]
        if any(cells):
            label = f"**{arm}**" if arm == "fcast" else arm
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    measured = sorted(
        {results[n]["fcast"].get("measured", "?") for n in names if "fcast" in results[n]}
    )
    lines.append("")
    lines.append(
        f"(cells: MASE / sMAPE / 80% coverage pooled / 80% MSIS; fcast measured {', '.join(measured)})"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--datasets",
        help=f"comma-separated, from {sorted(C.DATASETS) + [WEEKLY]}; default {C.DEFAULT_DATASETS + [WEEKLY]}",
    )
    ap.add_argument("--limit", type=int, help="first N series of each data set")
    ap.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 60 series of tourism-quarterly, no result file",
    )
    ap.add_argument("--methods", default="fcast,baselines", help="fcast, baselines or both")
    ap.add_argument(
        "--variants",
        default=",".join(VARIANTS),
        help=f"fcast variants on the default run's tuning cube, from {list(VARIANTS)}; 'none' for none",
    )
    ap.add_argument(
        "--out", type=Path, help="result file; default results/accuracy.json for full runs"
    )
    ap.add_argument("--quiet", action="store_true", help="no fcast progress lines")
    ap.add_argument(
        "--show",
        action="store_true",
        help="print the tables of the result file (Markdown too); run nothing",
    )
    args = ap.parse_args(argv)
    if args.show:
        path = args.out or C.RESULTS / "accuracy.json"
        saved = json.loads(path.read_text())
        print(report(saved))
        print("\n" + markdown(saved))
        print("\nREADME summary table:\n\n" + summary_markdown(saved))
        return
    import cloudpickle

    cloudpickle.register_pickle_by_value(C)
    C.single_thread_env()
    names = (
        args.datasets.split(",")
        if args.datasets
        else (["tourism-quarterly"] if args.quick else C.DEFAULT_DATASETS + [WEEKLY])
    )
    unknown = [n for n in names if n not in C.DATASETS and n != WEEKLY]
    if unknown:
        ap.error(f"unknown data set(s) {unknown}; choose from {sorted(C.DATASETS) + [WEEKLY]}")
    limit = args.limit or (60 if args.quick else None)
    methods = [m.strip() for m in args.methods.split(",")]
    variants = [v.strip() for v in args.variants.split(",") if v.strip() and v.strip() != "none"]
    bad = [v for v in variants if v not in VARIANTS]
    if bad:
        ap.error(f"unknown variant(s) {bad}; choose from {list(VARIANTS)}")
    out = args.out or (C.RESULTS / "accuracy.json" if limit is None else None)
    t0 = time.perf_counter()
    results = {}
    for name in names:
        if name == WEEKLY:
            results[name] = W.evaluate(
                C.WORK / "accuracy" / WEEKLY, methods, progress=not args.quiet, quick=args.quick
            )
            results[name]["fcast"]["measured"] = date.today().isoformat()
        else:
            results[name] = evaluate(
                name, limit, methods, progress=not args.quiet, variants=variants
            )
        if out is not None:  # merge per data set, so partial runs keep the other data sets
            old = json.loads(out.read_text()) if out.exists() else {}
            old[name] = {**old.get(name, {}), **results[name]}
            C.write_json(old, out)
    print(report(results))
    print(
        f"\ntotal wall time {time.perf_counter() - t0:.0f}s on {C.machine()['cores']} cores"
        f" ({date.today().isoformat()}); published best MASE: Tourism monthly 1.38, quarterly 1.43"
        + (f"; written to {out}" if out else "")
    )


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
