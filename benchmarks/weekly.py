"""The weekly arm of the accuracy benchmark: the built-in sample data against its ground truth.

The sample's mature markets (55 with the default seed), the next 52 weeks scored against
`users_clean` (the undisrupted truth, noise included), every method given the same raw
actuals (`actuals.parquet`):

- `fcast`: what `make run` gives, i.e. `configs/demo.yaml` with the unedited default space
  (`fcast/spaces/weekly.yaml`): QA, cleaning, tuning on a 2-worker LocalCluster,
  selection, refit. Business adjustments are not a forecasting method: the demo's are left
  out, so every market is scored on the models' forecast;
- fcast variants on the same config: `fcast-classic` (the statsforecast-only space that was
  the weekly default before `harmonic`, `fcast/spaces/classic.yaml`) and, when Prophet
  is installed, `fcast-prophet` (the `prophet` family with fcast's holiday features,
  tuned over `changepoint_prior_scale`);
- `Prophet`: what a user would loop over the markets: Prophet with yearly seasonality and
  `add_country_holidays(market)`, one fit per market, no tuning (skipped without prophet);
- statsforecast (`n_jobs=2`): MSTL(52, trend AutoETS ZZN), AutoETS, AutoARIMA, AutoTheta,
  AutoCES and SeasonalNaive, all with season length 52; `ensemble`: the median of
  SeasonalNaive, MSTL and AutoTheta; `ensemble_all`: the mean of MSTL, AutoETS, AutoARIMA,
  AutoTheta and AutoCES (bounds combined the same way).

Per arm: sMAPE (median and mean over markets), MASE (mean), the share of markets where
fcast's sMAPE is lower (`fcast_better_in`), pooled coverage of the 80% and 95% intervals
(the share of all market-weeks inside) and the Winkler interval score (utilsforecast's
definition), per market relative to its mean level (%), averaged over markets.
"""

from __future__ import annotations

import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import _common as C
import numpy as np
import pandas as pd
import yaml

H = 52
LEVELS = (80, 95)
CONFIGS = C.REPO / "configs"
SF_MODELS = ["SeasonalNaive", "MSTL", "AutoETS", "AutoARIMA", "AutoTheta", "AutoCES"]
ENSEMBLES = {
    "ensemble": ("median", ["SeasonalNaive", "MSTL", "AutoTheta"]),
    "ensemble_all": ("mean", ["MSTL", "AutoETS", "AutoARIMA", "AutoTheta", "AutoCES"]),
}
VARIANTS = {"fcast": "weekly.yaml", "fcast-classic": "classic.yaml"}
PROPHET_SPACE = {
    "preprocess": {"log": [True]},
    "families": {
        "prophet": {
            "changepoint_prior_scale": [0.01, 0.05, 0.5],
            "holidays": ["all"],
            "holiday_form": ["both"],
        }
    },
}

Forecast = dict[str, np.ndarray]  # mean, lo-80, hi-80, lo-95, hi-95: (market, step)


# --- data -----------------------------------------------------------------------------


def write_data(work: Path) -> dict[str, str]:
    """The sample data (default seed) under work/sample; name -> path."""
    from fcast.data.sample import write_sample

    return write_sample(str(work / "sample"))


def demo_config(
    work: Path, space: str | Path, name: str, select: dict[str, Any] | None = None
) -> Any:
    """configs/demo.yaml pointed at the benchmark's data and store, without business adjustments
    (and with these `select` settings, if given)."""
    from fcast.config import parse_config

    raw = yaml.safe_load((CONFIGS / "demo.yaml").read_text())
    raw["select"] = {**raw.get("select", {}), **(select or {})}
    raw["data"]["actuals"] = str(work / "sample" / "actuals.parquet")
    raw["data"]["markets"] = str(work / "sample" / "markets.parquet")
    raw["space"] = str(space)
    raw["store"] = str(work / f"store-{name}")
    raw.pop("adjustments", None)
    if isinstance(raw.get("clean"), dict) and raw["clean"].get("events"):
        raw["clean"]["events"] = str(CONFIGS / raw["clean"]["events"])
    return parse_config(raw, source=f"benchmarks/weekly.py:{name}")


def truth_matrix(truth: pd.DataFrame, markets: list[str], dates: pd.DatetimeIndex) -> np.ndarray:
    """users_clean (market, step) over the forecast dates."""
    piv = truth.pivot(index="date", columns="market", values="users_clean")
    return piv.reindex(index=dates, columns=markets).to_numpy(dtype=float).T


def history(actuals: pd.DataFrame, markets: list[str]) -> dict[str, np.ndarray]:
    """Each market's raw history (the MASE scale's training part)."""
    return {
        m: g.sort_values("date")["users"].to_numpy(dtype=float)
        for m, g in actuals[actuals["market"].isin(markets)].groupby("market")
    }


# --- fcast -------------------------------------------------------------------------------


def _table_forecast(table: pd.DataFrame, markets: list[str], dates: pd.DatetimeIndex) -> Forecast:
    """The forecast table's model forecast and bounds as (market, step) arrays."""
    point = "yhat_base" if "yhat_base" in table.columns else "yhat"
    cols = {"mean": point}
    for lv in LEVELS:
        cols[f"lo-{lv}"], cols[f"hi-{lv}"] = f"yhat_lo_{lv}", f"yhat_hi_{lv}"
    out = {}
    for key, col in cols.items():
        piv = table.pivot(index="market", columns="date", values=col)
        out[key] = piv.reindex(index=markets, columns=dates).to_numpy(dtype=float)
    return out


def run_fcast_variant(
    work: Path,
    name: str,
    space: str | Path | dict,
    progress: bool,
    select: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """A tuning run of the demo config with this space on a 2-worker LocalCluster: forecast table, facts."""
    from fcast.core.space import load_space
    from fcast.infra.cluster import connect
    from fcast.jobs.pipeline import Timer, run_tuning

    if isinstance(space, dict):
        path = work / f"space-{name}.yaml"
        path.write_text(yaml.safe_dump(space))
        space = path
    shutil.rmtree(work / f"store-{name}", ignore_errors=True)
    cfg = demo_config(work, space, name, select)
    sw = Timer()
    t0 = time.perf_counter()
    with connect(cfg.cluster, quiet=True) as client:
        sw.timings["cluster_start_s"] = time.perf_counter() - t0
        C.workers_reset_peak(client)
        with sw("wall_s"), C.ForeignCPU() as foreign:
            result = run_tuning(cfg, client=client, fresh=True, progress=progress)
        peak = C.workers_peak_mb(client)
    table = result.forecast
    mature = table[table["segment"] == "mature"]
    chosen = result.selection[result.selection["weight"] > 0]
    info = {
        "series": int(mature["market"].nunique()),
        "forecast_series": int(mature["market"].nunique()),
        "hps": int(load_space(cfg.space, cfg.data.freq).sizes["hp"]),
        "fits": result.manifest["counts"]["fits"],
        "failed_fits": result.manifest["counts"]["failed"],
        "stage_s": result.manifest["timings"],
        "wall_s": round(sw.timings["wall_s"], 2),
        "cluster_start_s": round(sw.timings["cluster_start_s"], 2),
        "warmup_s": 0.0,
        "peak_worker_mb": round(peak, 1),
        "foreign_cpu_s": round(foreign.seconds, 1),
        "chosen_families": chosen["family"].value_counts().to_dict(),
        "config": {
            k: v
            for k, v in cfg.model_dump(mode="json").items()
            if k in ("horizon", "cv", "select", "tune")
        }
        | {"space": f"fcast/spaces/{Path(cfg.space).name}" if name in VARIANTS else str(space)},
        "run_id": result.run_id,
    }
    return mature, info


# --- baselines ---------------------------------------------------------------------------------


def run_statsforecast(
    actuals: pd.DataFrame, markets: list[str], dates: pd.DatetimeIndex, models: list[str]
) -> tuple[dict[str, Forecast], dict[str, float]]:
    """statsforecast models with n_jobs=2 on the raw actuals: forecasts and wall seconds per model."""
    from statsforecast import StatsForecast
    from statsforecast.models import (
        MSTL,
        AutoARIMA,
        AutoCES,
        AutoETS,
        AutoTheta,
        SeasonalNaive,
    )

    build = {
        "SeasonalNaive": lambda: SeasonalNaive(season_length=52, alias="SeasonalNaive"),
        "MSTL": lambda: MSTL(season_length=52, trend_forecaster=AutoETS(model="ZZN"), alias="MSTL"),
        "AutoETS": lambda: AutoETS(season_length=52, alias="AutoETS"),
        "AutoARIMA": lambda: AutoARIMA(season_length=52, alias="AutoARIMA"),
        "AutoTheta": lambda: AutoTheta(season_length=52, alias="AutoTheta"),
        "AutoCES": lambda: AutoCES(season_length=52, alias="AutoCES"),
    }
    df = actuals[actuals["market"].isin(markets)].rename(
        columns={"market": "unique_id", "date": "ds", "users": "y"}
    )
    out: dict[str, Forecast] = {}
    wall: dict[str, float] = {}
    for name in models:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sf = StatsForecast(
                models=[build[name]()],
                freq="W-MON",
                n_jobs=2,
                fallback_model=SeasonalNaive(season_length=52),
            )
            t0 = time.perf_counter()
            res = sf.forecast(df=df, h=H, level=list(LEVELS))
            wall[name] = time.perf_counter() - t0
        fc = {}
        for key in ("mean", *(f"{s}-{lv}" for lv in LEVELS for s in ("lo", "hi"))):
            col = name if key == "mean" else f"{name}-{key}"
            piv = res.pivot(index="unique_id", columns="ds", values=col)
            fc[key] = np.clip(
                piv.reindex(index=markets, columns=dates).to_numpy(dtype=float), 0, None
            )
        out[name] = fc
        print(f"  {name}: {wall[name]:.1f}s", file=sys.stderr, flush=True)
    return out, wall


def run_prophet_loop(
    actuals: pd.DataFrame, markets: list[str], dates: pd.DatetimeIndex
) -> tuple[Forecast, float]:
    """Prophet per market: yearly seasonality and the country's holidays, intervals at both levels."""
    from prophet import Prophet

    from fcast.core.estimators import quiet_stan_logs

    quiet_stan_logs()
    out: dict[str, list[np.ndarray]] = {k: [] for k in ("mean", "lo-80", "hi-80", "lo-95", "hi-95")}
    t0 = time.perf_counter()
    state = np.random.get_state()
    np.random.seed(0)  # Prophet's intervals are simulated with the global generator
    try:
        for market in markets:
            hist = actuals[actuals["market"] == market][["date", "users"]]
            hist = hist.rename(columns={"date": "ds", "users": "y"})
            model = Prophet(
                yearly_seasonality=True, weekly_seasonality=False, daily_seasonality=False
            )
            try:
                model.add_country_holidays(country_name=market)
            except Exception:  # noqa: BLE001 - a country Prophet does not know: no holidays
                print(f"  Prophet: no holidays for {market}", file=sys.stderr)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(hist)
                fut = pd.DataFrame({"ds": dates})
                draws = model.predictive_samples(fut)["yhat"]
                mean = model.predict(fut)["yhat"].to_numpy(dtype=float)
            out["mean"].append(mean)
            for lv in LEVELS:
                out[f"lo-{lv}"].append(np.percentile(draws, 50 - lv / 2, axis=1))
                out[f"hi-{lv}"].append(np.percentile(draws, 50 + lv / 2, axis=1))
    finally:
        np.random.set_state(state)
    wall = time.perf_counter() - t0
    print(f"  Prophet: {wall:.1f}s", file=sys.stderr, flush=True)
    return {k: np.clip(np.array(v), 0, None) for k, v in out.items()}, wall


def combine(forecasts: list[Forecast], how: str) -> Forecast:
    """Pointwise median or mean of several arms, bounds included."""
    pool = np.median if how == "median" else np.mean
    return {k: pool([f[k] for f in forecasts], axis=0) for k in forecasts[0]}


# --- scores --------------------------------------------------------------------------------------


def winkler(y: np.ndarray, lo: np.ndarray, hi: np.ndarray, level: int) -> np.ndarray:
    """The Winkler score per point (utilsforecast.losses.winkler_score before averaging)."""
    alpha = 1 - level / 100
    return (
        (hi - lo) + (2 / alpha) * np.clip(lo - y, 0, None) + (2 / alpha) * np.clip(y - hi, 0, None)
    )


def score_arm(
    fc: Forecast, truth: np.ndarray, train: list[np.ndarray], reference: np.ndarray | None
) -> dict[str, Any]:
    """sMAPE median/mean, MASE, share of markets fcast beats, pooled coverage and Winkler per level."""
    y, f = truth, fc["mean"]
    smape = np.mean(200 * np.abs(f - y) / (np.abs(f) + np.abs(y)), axis=1)
    mase = np.array([C.mase(y[i], f[i], train[i], 52) for i in range(len(y))])
    out: dict[str, Any] = {
        "smape": round(float(np.median(smape)), 4),
        "smape_mean": round(float(np.mean(smape)), 4),
        "mase": round(float(np.mean(mase)), 4),
    }
    if reference is not None:
        out["fcast_better_in"] = round(float(np.mean(reference < smape)), 4)
    for lv in LEVELS:
        lo, hi = fc[f"lo-{lv}"], fc[f"hi-{lv}"]
        out[f"coverage_{lv}"] = round(float(np.mean((y >= lo) & (y <= hi))), 4)
        rel = np.mean(winkler(y, lo, hi, lv), axis=1) / np.mean(y, axis=1) * 100
        out[f"winkler_{lv}"] = round(float(np.mean(rel)), 3)
    out["_smape_by_market"] = smape
    return out


# --- the arm ---------------------------------------------------------------------------------------


#: the arms `benchmarks/weekly.py` runs by default (a few minutes on 2 cores)
DEFAULT_ARMS = ("fcast", "Prophet", "MSTL", "SeasonalNaive")
#: every arm (what `benchmarks/accuracy.py` runs)
ALL_ARMS = (*VARIANTS, "fcast-prophet", "Prophet", *SF_MODELS, *ENSEMBLES)


def evaluate(
    work: Path,
    methods: list[str],
    progress: bool,
    quick: bool = False,
    arms: tuple[str, ...] = (),
    extra: dict[str, tuple[Path, dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """The chosen arms (default: all; `quick`: the fcast default and three baselines), and
    `extra` fcast arms (name -> space file, select settings), on the sample's mature markets:
    {method: scores and facts}."""
    if not arms:
        arms = ("fcast", "SeasonalNaive", "MSTL", "AutoTheta", "ensemble") if quick else ALL_ARMS
    if "baselines" not in methods:
        arms = tuple(a for a in arms if a.startswith("fcast"))
    work.mkdir(parents=True, exist_ok=True)
    write_data(work)
    actuals = pd.read_parquet(work / "sample" / "actuals.parquet")
    truth = pd.read_parquet(work / "sample" / "truth.parquet")
    print("\n== sample-weekly: the sample's mature markets, h=52, W-MON", file=sys.stderr)
    forecasts: dict[str, Forecast] = {}
    facts: dict[str, dict[str, Any]] = {}
    prophet = _prophet_installed()
    spaces: dict[str, Path | dict] = {k: C.SPACES / v for k, v in VARIANTS.items()}
    if prophet:
        spaces["fcast-prophet"] = PROPHET_SPACE
    selects: dict[str, dict[str, Any]] = {}
    for name, (path, select) in (extra or {}).items():
        spaces[name], selects[name] = path, select
    runs = [a for a in arms if a in spaces and a != "fcast"] + list(extra or {})
    for name in ("fcast", *runs):
        table, info = run_fcast_variant(work, name, spaces[name], progress, selects.get(name))
        if name == "fcast":
            markets = sorted(table["market"].unique().tolist())
            dates = pd.DatetimeIndex(sorted(table["date"].unique()))
        forecasts[name] = _table_forecast(table, markets, dates)
        facts[name] = info
        print(f"  {name}: {info['wall_s']:.1f}s, {info['fits']} CV fits", file=sys.stderr)
    if "Prophet" in arms:
        if prophet:
            forecasts["Prophet"], wall = run_prophet_loop(actuals, markets, dates)
            facts["Prophet"] = {"wall_s": round(wall, 2)}
        else:
            print(
                "  Prophet: not installed (pip install 'fcast[prophet]'), skipped", file=sys.stderr
            )
    members = {m for a in arms if a in ENSEMBLES for m in ENSEMBLES[a][1]}
    models = [m for m in SF_MODELS if m in arms or m in members]
    if models:
        sf, wall = run_statsforecast(actuals, markets, dates, models)
        for name in models:
            if name in arms:
                forecasts[name] = sf[name]
                facts[name] = {"wall_s": round(wall[name], 2)}
        for name, (how, group) in ENSEMBLES.items():
            if name in arms:
                forecasts[name] = combine([sf[m] for m in group], how)
                facts[name] = {"wall_s": round(sum(wall[m] for m in group), 2), "combine": how}
    y = truth_matrix(truth, markets, dates)
    hist = history(actuals, markets)
    train = [hist[m] for m in markets]
    ref = score_arm(forecasts["fcast"], y, train, None)["_smape_by_market"]
    res: dict[str, Any] = {}
    for name, fc in forecasts.items():
        scores = score_arm(fc, y, train, None if name == "fcast" else ref)
        by_market = scores.pop("_smape_by_market")
        res[name] = {**scores, **facts.get(name, {})}
        res[name]["smape_by_market"] = {
            m: round(float(v), 3) for m, v in zip(markets, by_market, strict=True)
        }
    res["fcast"]["markets"] = markets
    if "Prophet" in res:
        for name in res:
            res[name]["smape_vs_prophet"] = round(res[name]["smape"] / res["Prophet"]["smape"], 4)
    res["oracle"] = {
        **{
            k: v
            for k, v in score_arm(_oracle(truth, markets, dates), y, train, ref).items()
            if k in ("smape", "smape_mean", "mase")
        },
        "wall_s": None,
        "note": "the generator's noise-free signal: the floor no method can beat",
    }
    return res


def _oracle(truth: pd.DataFrame, markets: list[str], dates: pd.DatetimeIndex) -> Forecast:
    """The sample's noise-free signal as a 'forecast' (its intervals are the point)."""
    sig = truth.pivot(index="date", columns="market", values="users_signal")
    mean = sig.reindex(index=dates, columns=markets).to_numpy(dtype=float).T
    return {"mean": mean, **{f"{s}-{lv}": mean for lv in LEVELS for s in ("lo", "hi")}}


def _prophet_installed() -> bool:
    try:
        import prophet  # noqa: F401
    except ImportError:
        return False
    return True


def report(res: dict[str, Any]) -> str:
    """A plain-text table of the weekly arm, fcast first, then by median sMAPE."""
    rows = []
    order = sorted(res, key=lambda k: (k != "fcast", not k.startswith("fcast"), res[k]["smape"]))
    for name in order:
        r = res[name]
        rows.append(
            {
                "method": name,
                "sMAPE med": r["smape"],
                "mean": r["smape_mean"],
                "fcast better in": r.get("fcast_better_in", float("nan")),
                "cov 80": r.get("coverage_80", float("nan")),
                "cov 95": r.get("coverage_95", float("nan")),
                "Winkler 80 %": r.get("winkler_80", float("nan")),
                "Winkler 95 %": r.get("winkler_95", float("nan")),
                "wall s": r["wall_s"] if r.get("wall_s") is not None else float("nan"),
            }
        )
    cols = list(rows[0])
    return C.table(rows, cols), C.markdown_table(rows, cols)


def _extra_arm(text: str) -> tuple[str, tuple[Path, dict[str, Any]]]:
    """'name=path[:top=3,combine=median]' -> (name, (path, select settings))."""
    name, _, rest = text.partition("=")
    path, _, opts = rest.partition(":")
    select: dict[str, Any] = {}
    for item in filter(None, opts.split(",")):
        key, _, value = item.partition("=")
        select[key] = int(value) if value.isdigit() else value
    return name, (Path(path).resolve(), select)


def main(argv: list[str] | None = None) -> None:
    """Run the weekly comparison, print it with ratios to Prophet, write results/weekly.json."""
    import argparse
    from datetime import date

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--arms",
        default=",".join(DEFAULT_ARMS),
        help=f"comma-separated from {list(ALL_ARMS)} (fcast always runs); default {','.join(DEFAULT_ARMS)}",
    )
    ap.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="NAME=PATH[:top=N,combine=X]",
        help="an extra fcast arm: the demo config with this space (and select settings); repeatable",
    )
    ap.add_argument("--out", type=Path, default=C.RESULTS / "weekly.json")
    ap.add_argument("--quiet", action="store_true", help="no progress bars")
    ap.add_argument("--markdown", action="store_true", help="also print the table in Markdown")
    args = ap.parse_args(argv)
    arms = tuple(a.strip() for a in args.arms.split(","))
    unknown = [a for a in arms if a not in ALL_ARMS]
    if unknown:
        ap.error(f"unknown arm(s) {unknown}; choose from {list(ALL_ARMS)}")
    extra = dict(_extra_arm(text) for text in args.space)
    C.single_thread_env()
    t0 = time.perf_counter()
    res = evaluate(
        C.WORK / "weekly", ["baselines"], progress=not args.quiet, arms=arms, extra=extra
    )
    res["fcast"]["measured"] = date.today().isoformat()
    res["_run"] = {"wall_s": round(time.perf_counter() - t0, 1), "machine": C.machine()}
    C.write_json(res, args.out)
    text, markdown = report({k: v for k, v in res.items() if not k.startswith("_")})
    print(text + (f"\n\n{markdown}" if args.markdown else ""))
    if "Prophet" in res:
        print("\nmedian sMAPE relative to Prophet (same run):")
        for name, r in res.items():
            if "smape_vs_prophet" in r:
                print(f"  {name:<14} {r['smape_vs_prophet']:.3f}")
    print(f"\nwritten to {args.out}")


if __name__ == "__main__":
    main()
