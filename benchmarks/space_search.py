"""How the default spaces and select settings were chosen (Tourism and M1 only, never M3).

Step 1 (`--compute`, slow, cached under benchmarks/work/search/): for each data set, fcast's
own tuning stage computes the CV error cube of a wide *superset* space, and every hp of
that space is also fitted once on the whole training part and forecast over the test
part. Step 2 (fast, offline): a candidate configuration (a subset of the superset, which
splits, split weights, metric, top-X, min_train) is replayed on the cached arrays the way
fcast's selector and applier would run it: weighted CV score per hp, top X, mean (or best)
of their test-period forecasts, clipped at zero. This ranks many candidates for the cost
of one tuning run per data set.

The replay uses test data to rank candidate configurations: it is a search over a handful
of settings on Tourism and M1. M3 is kept out of it and serves as the independent check
(`accuracy.py --datasets m3-monthly,m3-quarterly`).

    python benchmarks/space_search.py --compute              # once, ~40 min on 2 cores
    python benchmarks/space_search.py                        # rank the candidates
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SEARCH = C.WORK / "search"

ETS_ALL = [
    "ANN",
    "AAN",
    "AAdN",
    "ANA",
    "AAA",
    "AAdA",
    "MNN",
    "MAN",
    "MAdN",
    "MNA",
    "MAA",
    "MAdA",
    "MNM",
    "MAM",
    "MAdM",
]


def superset(freq: str) -> dict:
    """The wide space searched for a frequency (each family crossed with log on/off)."""
    return {
        "preprocess": {"log": [False, True]},
        "families": {
            "ets": {"spec": ETS_ALL},
            "theta": {"variant": ["standard", "optimized", "dynamic", "dynamic_optimized"]},
            "arima": {"p": [0, 1], "d": [1], "q": [0, 1], "P": [0], "D": [1], "Q": [1]},
            "holt_winters": {"error_type": ["A", "M"]},
            "mstl": {"trend": ["ets", "arima"]},
            "seasonal_naive": {},
        },
    }


#: CV design of the cached cube: many splits with a small step; candidates use subsets
DESIGN = {
    "MS": {"splits": 5, "step": 6, "min_train": 12},
    "QS": {"splits": 6, "step": 2, "min_train": 8},
}


def compute(
    name: str, client, block_markets: int = 8, block_hps: int = 16, limit: int | None = None
) -> Path:  # noqa: ANN001
    """Tune the superset on a data set's training parts and forecast the test part with every hp."""
    from fcast.core.label import label
    from fcast.core.space import models_of, parse_space
    from fcast.core.tune import tune
    from fcast.core.tune.kernel import evaluate_block
    from fcast.data import to_cube

    spec = C.DATASETS[name]
    if spec.check_only:
        raise SystemExit(f"{name} is kept aside as an independent check; it is never searched")
    design = DESIGN[spec.freq]
    series = C.load_series(name, limit=limit)
    cube = to_cube(C.actuals_table(series, spec.freq), spec.freq, value="value")
    y = cube["y"]
    markets = y["market"].values.tolist()
    by_id = {s.id: s for s in series}
    labels = label(cube.time, design["splits"], design["step"], spec.h, 0, design["min_train"])
    hp = parse_space(superset(spec.freq), spec.freq)
    out = SEARCH / name
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    tuning, _ = tune(
        y,
        labels,
        hp,
        str(out / "tuning.zarr"),
        horizon=spec.h,
        metric="mase",
        season_length=spec.period,
        min_train=design["min_train"],
        block_markets=block_markets,
        block_hps=block_hps,
        client=client,
    )
    print(f"{name}: CV cube in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    # every hp fitted on the whole training part, forecasting the test part
    full = np.concatenate([y.values, np.stack([by_id[m].test for m in markets])], axis=1)
    stop = np.array([y.sizes["time"]])
    models = models_of(hp, spec.period)
    futures, slots = [], []
    for m0 in range(0, len(markets), block_markets):
        for h0 in range(0, len(models), block_hps):
            m1, h1 = min(m0 + block_markets, len(markets)), min(h0 + block_hps, len(models))
            futures.append(
                client.submit(
                    evaluate_block, full[m0:m1], stop, models[h0:h1], spec.h, "mase", 1, pure=False
                )
            )
            slots.append((m0, m1, h0, h1))
    test = np.full((len(markets), len(models), spec.h), np.nan)
    for (m0, m1, h0, h1), res in zip(slots, client.gather(futures), strict=True):
        test[m0:m1, h0:h1] = res["yhat"][:, 0]
    tuning = tuning.load()
    first = np.argmax(np.isfinite(y.values), axis=1)
    np.savez_compressed(
        out / "cache.npz",
        markets=np.array(markets),
        yhat_cv=tuning["yhat"].values,
        y_test_cv=tuning["y_test"].values,
        scale_cv=tuning["scale"].values,
        status_cv=tuning["status"].values,
        train_len=labels["train_stop"].values[None, :] - first[:, None],
        yhat_test=test,
        label=hp["label"].values,
        family=hp["family"].values,
    )
    print(f"{name}: done in {time.perf_counter() - t0:.0f}s", file=sys.stderr)
    return out / "cache.npz"


# --- offline replay ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """One configuration to replay."""

    space: str  # name of a subset of the superset (see SUBSETS)
    splits: tuple[int, ...]  # indices into the cached splits (oldest = 0)
    weights: str = "linear"
    metric: str = "mase"
    top: int = 3
    combine: str = "mean"
    min_train: int = 0  # 0: the cached design's

    def __str__(self) -> str:
        splits = ",".join(map(str, self.splits))
        extra = f" min_train={self.min_train}" if self.min_train else ""
        return f"{self.space:<22} splits={splits:<11} w={self.weights:<6} {self.metric} top={self.top:<2} {self.combine}{extra}"


ALL = "*"
_SEASONAL_ETS = ["ANA", "AAA", "AAdA", "MNA", "MAA", "MAdA", "MNM", "MAM", "MAdM"]
_CORE = {
    "ets": ["ANA", "AAA", "AAdA", "MAM", "MAdM"],
    "holt_winters": ["holt_winters"],
    "arima": ALL,
    "theta": ["theta(optimized)", "theta(dynamic_optimized)"],
    "mstl": ALL,
    "seasonal_naive": ALL,
}
#: candidate spaces as subsets of the superset: family -> allowed specs/labels, "log" -> families also with log
SUBSETS: dict[str, dict] = {
    "all": {"families": ALL, "log": ALL},
    "nolog": {"families": ALL, "log": []},
    "seasonal": {
        "families": {
            "ets": _SEASONAL_ETS,
            "holt_winters": ALL,
            "arima": ALL,
            "theta": ALL,
            "mstl": ALL,
            "seasonal_naive": ALL,
        },
        "log": [],
    },
    "seasonal-additive": {
        "families": {
            "ets": ["ANA", "AAA", "AAdA"],
            "holt_winters": ["holt_winters"],
            "arima": ALL,
            "theta": ALL,
            "mstl": ALL,
            "seasonal_naive": ALL,
        },
        "log": [],
    },
    "core": {"families": _CORE, "log": []},
    "core+log": {"families": _CORE, "log": ["ets", "arima"]},
    "core+nonseasonal": {
        "families": {**_CORE, "ets": _CORE["ets"] + ["ANN", "AAN", "AAdN"]},
        "log": [],
    },
    "core+log+nonseasonal": {
        "families": {**_CORE, "ets": _CORE["ets"] + ["ANN", "AAN", "AAdN"]},
        "log": ["ets", "arima"],
    },
    # the chosen defaults: fcast/spaces/monthly.yaml and quarterly.yaml (24 hps)
    "default": {
        "families": {
            "ets": ["ANA", "AAA", "AAdA"],
            "holt_winters": ["holt_winters"],
            "arima": ALL,
            "theta": ALL,
            "mstl": ALL,
            "seasonal_naive": ALL,
        },
        "log": ["ets", "arima", "mstl"],
    },
}


def _keep(label: str, family: str, subset: str) -> bool:
    """Whether an hp of the superset (by its label) belongs to a candidate space."""
    rule = SUBSETS[subset]
    log = label.endswith(" log")
    core = label.removesuffix(" log")
    if log and rule["log"] != ALL and family not in rule["log"]:
        return False
    fams = rule["families"]
    if fams == ALL:
        return True
    if family not in fams:
        return False
    allowed = fams[family]
    if allowed == ALL:
        return True
    name = core[4:-1] if family == "ets" else core
    return name in allowed


def _weights(n: int, scheme: str) -> np.ndarray:
    raw = {
        "equal": np.ones(n),
        "linear": np.arange(1, n + 1.0),
        "exponential": 2.0 ** np.arange(n),
    }[scheme]
    return raw / raw.sum()


def replay(
    cache: dict, spec: C.DatasetSpec, series: dict[str, C.Series], cand: Candidate
) -> dict[str, float]:
    """sMAPE and MASE of a candidate configuration, as fcast would select and apply it."""
    keep = np.array(
        [
            _keep(str(lab), str(fam), cand.space)
            for lab, fam in zip(cache["label"], cache["family"], strict=True)
        ]
    )
    hps = np.flatnonzero(keep)
    splits = list(cand.splits)
    yhat = cache["yhat_cv"][:, splits][:, :, hps]
    y_test = cache["y_test_cv"][:, splits]
    status = cache["status_cv"][:, splits][:, :, hps].copy()
    if cand.min_train:
        short = cache["train_len"][:, splits] < cand.min_train
        status[short] = 2
    with np.errstate(divide="ignore", invalid="ignore"):
        if cand.metric == "mase":
            err = np.abs(y_test[:, :, None] - yhat) / cache["scale_cv"][:, splits][:, :, None, None]
        else:
            err = (
                200
                * np.abs(y_test[:, :, None] - yhat)
                / (np.abs(y_test[:, :, None]) + np.abs(yhat))
            )
    per_split = err.mean(axis=-1)  # market, split, hp
    valid = status != 2
    w = _weights(len(splits), cand.weights)[None, :, None] * valid
    num = np.nansum(np.where(valid, per_split, 0.0) * w, axis=1)
    den = w.sum(axis=1)
    failed = ((status == 1) | (valid & np.isnan(per_split))).any(axis=1)
    score = np.where(~failed & (den > 0), num / np.where(den > 0, den, 1), np.nan)
    order = np.argsort(np.where(np.isnan(score), np.inf, score), axis=1, kind="stable")[
        :, : cand.top
    ]
    test = cache["yhat_test"][:, hps]
    forecasts = {}
    for mi, market in enumerate(cache["markets"]):
        chosen = [k for k in order[mi] if np.isfinite(score[mi, k])]
        if cand.combine == "best":
            chosen = chosen[:1]
        fcs = [test[mi, k] for k in chosen if np.all(np.isfinite(test[mi, k]))]
        s = series[str(market)]
        if not fcs:  # fcast's applier falls back on the seasonal naive forecast
            fcs = [np.resize(s.train[-spec.period :], spec.h)]
        pool = np.median if cand.combine == "median" else np.mean
        forecasts[str(market)] = np.clip(pool(fcs, axis=0), 0, None)
    return C.scores(list(series.values()), forecasts, spec.period)


#: the configuration accuracy.py runs (cv splits 3 x step 12 months / 4 quarters, top = all 24)
CHOSEN = {
    "MS": Candidate("default", (0, 2, 4), "equal", "mase", 99, "median"),
    "QS": Candidate("default", (1, 3, 5), "equal", "mase", 99, "median"),
}


def candidates(freq: str) -> list[Candidate]:
    """The candidates ranked for a frequency."""
    n = DESIGN[freq]["splits"]
    split_sets = {
        "MS": [(4,), (2, 4), (0, 2, 4), (1, 2, 3, 4), (0, 1, 2, 3, 4)],
        "QS": [(5,), (3, 5), (1, 3, 5), (2, 3, 4, 5), tuple(range(n))],
    }[freq]
    out = []
    for space, splits, weights, top, combine in itertools.product(
        SUBSETS, split_sets, ["equal", "linear"], [1, 3, 5, 8, 12, 20, 99], ["mean", "median"]
    ):
        out.append(Candidate(space, splits, weights, "mase", top, combine))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", default=",".join(C.DEFAULT_DATASETS))
    ap.add_argument("--compute", action="store_true", help="(re)compute the cached cubes first")
    ap.add_argument("--limit", type=int, default=None, help="first N series only (smoke test)")
    ap.add_argument(
        "--top", type=int, default=25, help="show this many best candidates per data set"
    )
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if any(C.DATASETS[n].check_only for n in names):
        raise SystemExit("M3 is kept aside as an independent check; it is never searched")
    if args.compute:
        from distributed import Client

        with C.local_cluster() as cluster, Client(cluster) as client:
            for name in names:
                compute(name, client, limit=args.limit)
    for name in names:
        spec = C.DATASETS[name]
        cache = dict(np.load(SEARCH / name / "cache.npz", allow_pickle=False))
        series = {s.id: s for s in C.load_series(name, limit=args.limit)}
        rows = []
        for cand in candidates(spec.freq):
            rows.append({"candidate": str(cand), **replay(cache, spec, series, cand)})
        rows.sort(key=lambda r: r["mase"])
        chosen = str(CHOSEN[spec.freq])
        rank = next(i for i, r in enumerate(rows, 1) if r["candidate"] == chosen)
        print(f"\n{name}: the chosen configuration ranks {rank}/{len(rows)}: {rows[rank - 1]}")
        print(f"\n{name}: {len(rows)} candidates, best {args.top} by MASE")
        print(C.table(rows[: args.top], ["candidate", "mase", "smape"]))


if __name__ == "__main__":
    main()
