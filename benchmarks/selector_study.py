"""Do member weights learned from the CV errors beat the median of the whole space? (Tourism, M1; never M3.)

Step 1 (`--compute`, slow, cached under benchmarks/work/selector/): every hp of the default
monthly/quarterly space is fitted on every CV window and on the whole training part, with
its mean forecast and 80/95% bounds. Windows (`back` = periods before the end of training at
which a window's test part ends, each `h` long): monthly 24+{36,24,12,0}, quarterly
8+{16,12,8,4,0}. The default CV design (3 splits x step 12 / 4) is the three newest windows.

Step 2 (fast, offline), two scores per candidate weighting:
- `holdout`: weights learned on the windows that end before the newest window starts
  (monthly: back 60 and 48; quarterly: 24, 20, 16), scored on the newest window (back h);
- `test`: weights learned on the default design's three windows, applied to the members'
  test-part forecasts, scored on the competition test part.
Only `holdout` may be used to choose anything; `test` shows whether a holdout gain transfers.
Candidates: equal (median / mean), inverse error (power 1, 2, 4; shrink 0 or 0.5), top-k by
CV, per-market L1 stacking on the simplex (shrink 0, 0.5, 0.8), and global L1 stacking
(one weight vector for all markets; per step third too).

    python benchmarks/selector_study.py --compute --datasets tourism-quarterly [--every 3]
    python benchmarks/selector_study.py --datasets tourism-quarterly [--every 3]
    python benchmarks/selector_study.py --intervals --datasets tourism-monthly --every 3
    python benchmarks/selector_study.py --rules --datasets tourism-monthly --every 3

`--rules`: fixed combination rules (mean, trimmed means, family-balanced medians, pairwise
means) and the median without one family, on the newest CV window and the test part.
`--intervals`: the members' own bounds, conformal bounds and own bounds scaled by the
combination gain (`intervals: scaled`), on the test part.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

OUT = C.WORK / "selector"
DESIGN = {
    "MS": {"splits": 4, "step": 12, "min_train": 12},
    "QS": {"splits": 5, "step": 4, "min_train": 8},
}
SPACE = {"MS": "monthly.yaml", "QS": "quarterly.yaml"}
KEYS = ["mean", "lo-80", "hi-80", "lo-95", "hi-95"]


# --- step 1: cache ---------------------------------------------------------------------------


def _block(ys, backs, models, h, min_train):  # noqa: ANN001, ANN202
    import warnings

    warnings.simplefilter("ignore")
    out = np.full((len(ys), len(backs), len(models), len(KEYS), h), np.nan)
    status = np.full((len(ys), len(backs), len(models)), 2, dtype="int8")
    for mi, y in enumerate(ys):
        for si, back in enumerate(backs):
            train = y[: len(y) - back]
            if len(train) < min_train:
                continue
            for hi, model in enumerate(models):
                try:
                    fc = model.forecast(train, h, level=[80, 95])
                    arr = np.stack([fc[k] for k in KEYS])
                    if not np.all(np.isfinite(arr)):
                        raise ValueError("non-finite forecast")
                except Exception:  # noqa: BLE001 - a failed fit is a NaN cell, as in tuning
                    status[mi, si, hi] = 1
                    continue
                out[mi, si, hi], status[mi, si, hi] = arr, 0
    return out, status


def _cache_path(name: str, every: int) -> Path:
    return OUT / f"{name}{'' if every == 1 else f'-every{every}'}.npz"


def compute(name: str, client, every: int = 1) -> Path:  # noqa: ANN001
    """Fit every hp of the default space on every window; cache mean and bounds."""
    from distributed import as_completed

    from fcast.core.space import load_space, models_of

    spec = C.DATASETS[name]
    if spec.check_only:
        raise SystemExit(f"{name} is kept aside as an independent check; it is never searched")
    d = DESIGN[spec.freq]
    series = C.load_series(name)[::every]
    hp = load_space(C.SPACES / SPACE[spec.freq], spec.freq)
    models = models_of(hp, spec.period)
    h, n_s = spec.h, d["splits"]
    backs = np.array([h + d["step"] * (n_s - 1 - k) for k in range(n_s)])
    futs, slots = [], {}
    for m0 in range(0, len(series), 4):
        chunk = series[m0 : m0 + 4]
        f = client.submit(
            _block, [s.train for s in chunk], backs, models, h, d["min_train"], pure=False
        )
        slots[f.key] = ("cv", m0, len(chunk))
        futs.append(f)
        full = [np.concatenate([s.train, s.test]) for s in chunk]
        f = client.submit(_block, full, np.array([h]), models, h, 1, pure=False)
        slots[f.key] = ("test", m0, len(chunk))
        futs.append(f)
    cv = np.full((len(series), n_s, len(models), len(KEYS), h), np.nan)
    cv_status = np.full((len(series), n_s, len(models)), 2, dtype="int8")
    test = np.full((len(series), len(models), len(KEYS), h), np.nan)
    test_status = np.full((len(series), len(models)), 2, dtype="int8")
    t0 = time.perf_counter()
    for i, fut in enumerate(as_completed(futs), 1):
        kind, m0, n = slots[fut.key]
        arr, st = fut.result()
        if kind == "cv":
            cv[m0 : m0 + n], cv_status[m0 : m0 + n] = arr, st
        else:
            test[m0 : m0 + n], test_status[m0 : m0 + n] = arr[:, 0], st[:, 0]
        if i % 20 == 0:
            print(
                f"{name}: {i}/{len(futs)} blocks, {time.perf_counter() - t0:.0f}s", file=sys.stderr
            )
    y_cv = np.full((len(series), n_s, h), np.nan)
    for mi, s in enumerate(series):
        for si, back in enumerate(backs):
            stop = len(s.train) - back
            if stop > 0:
                y_cv[mi, si] = s.train[stop : stop + h]
    OUT.mkdir(parents=True, exist_ok=True)
    path = _cache_path(name, every)
    np.savez_compressed(
        path,
        markets=np.array([s.id for s in series]),
        cv=cv,
        cv_status=cv_status,
        y_cv=y_cv,
        cv_back=backs,
        test=test,
        test_status=test_status,
        label=hp["label"].values.astype(str),
    )
    return path


# --- step 2: replay ------------------------------------------------------------------------------


class Data:
    """The cached arrays of one data set with scales and actuals."""

    def __init__(self, name: str, every: int = 1) -> None:
        from fcast.core.metrics import mase_scale

        self.spec = C.DATASETS[name]
        self.name, self.every = name, every
        d = dict(np.load(_cache_path(name, every)))
        self.series = C.load_series(name)[::every]
        assert [s.id for s in self.series] == d["markets"].tolist()
        self.__dict__.update(
            {k: d[k] for k in ("cv", "cv_status", "y_cv", "cv_back", "test", "test_status")}
        )
        m = self.spec.period
        self.cv_scale = np.array(
            [
                [
                    mase_scale(s.train[: len(s.train) - b], m) if len(s.train) > b else np.nan
                    for b in self.cv_back
                ]
                for s in self.series
            ]
        )
        self.test_scale = np.array([C.mase_scale(s.train, m) for s in self.series])
        self.y_test = np.stack([s.test for s in self.series])

    def valid(self, splits: list[int]) -> np.ndarray:
        """(market, hp) scored on `splits` as fcast.core.select.score would."""
        st = self.cv_status[:, splits]
        used = st != 2
        failed = ((st == 1) | (used & ~np.isfinite(self.cv[:, splits][:, :, :, 0, 0]))).any(1)
        return ~failed & used.any(1)

    def scores(self, splits: list[int]) -> np.ndarray:
        """Equal-weighted mean over valid splits of each hp's MASE (market, hp); NaN if not valid."""
        y = self.y_cv[:, splits][:, :, None, :]
        f = self.cv[:, splits][:, :, :, 0, :]
        with np.errstate(invalid="ignore", divide="ignore"):
            e = (np.abs(y - f) / self.cv_scale[:, splits][:, :, None, None]).mean(-1)
            e[self.cv_status[:, splits] == 2] = np.nan
            s = np.nanmean(e, axis=1)
        s[~self.valid(splits)] = np.nan
        return s


def weights_of(D: Data, splits: list[int], kind: str, **kw) -> np.ndarray:  # noqa: ANN003
    """Weights (market, hp) of a candidate, learned on `splits`."""
    from fcast.core.weighting import l1_simplex

    valid = D.valid(splits)
    if kind == "equal":
        return valid.astype(float)
    s = D.scores(splits)
    u = valid / np.maximum(valid.sum(1, keepdims=True), 1)
    if kind == "inverse":
        w = np.where(valid, np.power(np.maximum(np.nan_to_num(s, nan=1.0), 1e-6), -kw["p"]), 0.0)
        w = w / np.maximum(w.sum(1, keepdims=True), 1e-300)
        return (1 - kw["shrink"]) * w + kw["shrink"] * u
    if kind == "top":
        r = np.argsort(np.argsort(np.where(valid, s, np.inf), axis=1), axis=1)
        return (valid & (r < kw["k"])).astype(float)
    if kind == "stack":
        out = np.zeros(valid.shape)
        for mi in range(valid.shape[0]):
            ks = np.flatnonzero(valid[mi])
            rows, ys = [], []
            for si in splits:
                sc = D.cv_scale[mi, si]
                F = D.cv[mi, si, ks, 0].T
                if (
                    D.cv_status[mi, si].min() == 2
                    or not np.isfinite(sc)
                    or not np.all(np.isfinite(F))
                ):
                    continue
                rows.append(F / sc)
                ys.append(D.y_cv[mi, si] / sc)
            w = (
                l1_simplex(np.concatenate(rows), np.concatenate(ys))
                if rows and len(ks) > 1
                else None
            )
            w = np.full(len(ks), 1 / max(len(ks), 1)) if w is None else w
            out[mi, ks] = (1 - kw["shrink"]) * w + kw["shrink"] / max(len(ks), 1)
        return out
    if (
        kind == "global"
    ):  # one weight vector for all markets; invalid members replaced by the median
        rows, ys = [], []
        for mi in range(valid.shape[0]):
            ks = valid[mi]
            for si in splits:
                sc = D.cv_scale[mi, si]
                F = D.cv[mi, si, :, 0].T / sc if np.isfinite(sc) else None
                if (
                    F is None
                    or D.cv_status[mi, si].min() == 2
                    or not ks.any()
                    or not np.all(np.isfinite(F[:, ks]))
                ):
                    continue
                rows.append(np.where(ks[None], F, np.median(F[:, ks], axis=1, keepdims=True)))
                ys.append(D.y_cv[mi, si] / sc)
        w = l1_simplex(np.concatenate(rows), np.concatenate(ys))
        return valid * ((1 - kw["shrink"]) * w + kw["shrink"] / valid.shape[1])[None]
    raise ValueError(kind)


def combined(
    F: np.ndarray, ok: np.ndarray, w: np.ndarray, how: str, fallback: np.ndarray
) -> np.ndarray:
    """Combine members F (market, hp, step) with weights over ok members as the applier would."""
    from fcast.core.apply import pool

    out = np.empty(F.shape[::2])
    for mi in range(F.shape[0]):
        wm = np.where(ok[mi], w[mi], 0.0)
        if wm.sum() <= 0:
            wm = ok[mi].astype(float)
        ks = np.flatnonzero(wm > 0)
        out[mi] = pool(F[mi, ks], how, wm[ks]) if len(ks) else fallback[mi]
    return np.clip(out, 0, None)


def _mase(y: np.ndarray, f: np.ndarray, scale: np.ndarray) -> tuple[float, float]:
    ok = np.isfinite(scale) & np.all(np.isfinite(f), 1) & np.all(np.isfinite(y), 1)
    den = np.abs(y[ok]) + np.abs(f[ok])
    sm = np.where(den > 0, 200 * np.abs(y[ok] - f[ok]) / np.where(den > 0, den, 1), 0).mean(1)
    return float((np.abs(y[ok] - f[ok]).mean(1) / scale[ok]).mean()), float(sm.mean())


def designs(D: Data) -> tuple[list[int], list[int], int]:
    """(default CV windows, older windows for the holdout check, the newest window)."""
    n = D.cv.shape[1]
    return (list(range(n - 3, n)), [1, 0] if D.spec.freq == "MS" else [0, 1, 2], n - 1)


CANDIDATES = (
    [("equal", {})]
    + [("inverse", {"p": p, "shrink": s}) for p in (1, 2, 4) for s in (0.0, 0.5)]
    + [("top", {"k": k}) for k in (8, 12, 16, 20)]
    + [("stack", {"shrink": s}) for s in (0.0, 0.5, 0.8)]
    + [("global", {"shrink": s}) for s in (0.0, 0.5)]
)


def replay(D: Data) -> list[dict]:
    outer, inner, ho = designs(D)

    def snaive(back: np.ndarray) -> np.ndarray:
        m, h = D.spec.period, D.spec.h
        return np.stack(
            [
                np.resize(s.train[: len(s.train) - b][-m:], h)
                for s, b in zip(D.series, back, strict=True)
            ]
        )

    Fh, Ft = D.cv[:, ho, :, 0], D.test[:, :, 0]
    okh = (D.cv_status[:, ho] == 0) & np.all(np.isfinite(Fh), -1)
    okt = (D.test_status == 0) & np.all(np.isfinite(Ft), -1)
    fb_h = snaive(np.full(len(D.series), D.cv_back[ho]))
    fb_t = snaive(np.zeros(len(D.series), int))
    rows = []
    for kind, kw in CANDIDATES:
        wi, wo = weights_of(D, inner, kind, **kw), weights_of(D, outer, kind, **kw)
        for how in ("median", "mean"):
            hm, hs = _mase(D.y_cv[:, ho], combined(Fh, okh, wi, how, fb_h), D.cv_scale[:, ho])
            tm, ts = _mase(D.y_test, combined(Ft, okt, wo, how, fb_t), D.test_scale)
            label = kind + "".join(f" {k}={v}" for k, v in kw.items())
            rows.append(
                {
                    "candidate": f"{label} {how}",
                    "holdout_mase": hm,
                    "holdout_smape": hs,
                    "test_mase": tm,
                    "test_smape": ts,
                }
            )
    base = next(r for r in rows if r["candidate"] == "equal median")
    for r in rows:
        r["holdout_vs_median"] = r["holdout_mase"] / base["holdout_mase"] - 1
        r["test_vs_median"] = r["test_mase"] / base["test_mase"] - 1
    return sorted(rows, key=lambda r: r["holdout_mase"])


def _rule(X: np.ndarray, rule: str, family: np.ndarray) -> np.ndarray:
    """Members X (hp, step) pooled by a fixed rule: median, mean, trimNN (trimmed mean), family medians."""
    from scipy import stats

    from fcast.core.weighting import weighted_median

    if rule == "median":
        return np.median(X, 0)
    if rule == "mean":
        return X.mean(0)
    if rule.startswith("trim"):
        return stats.trim_mean(X, int(rule[4:]) / 100, axis=0)
    if rule == "family-weighted median":
        return weighted_median(X, np.array([1.0 / (family == f).sum() for f in family]))
    if rule == "median of family medians":
        return np.median([np.median(X[family == f], 0) for f in np.unique(family)], 0)
    if rule == "median of pairwise means":
        i, j = np.triu_indices(len(X))
        return np.median((X[i] + X[j]) / 2, 0)
    raise ValueError(rule)


RULES = ["median", "mean", "trim10", "trim20", "trim30", "trim40", "family-weighted median"]
RULES += ["median of family medians", "median of pairwise means"]


def rules(D: Data) -> list[dict]:
    """Fixed combination rules and the median without one family (or the log members), vs the median."""
    _, _, ho = designs(D)
    d = np.load(_cache_path(D.name, D.every))
    label = d["label"].astype(str)
    family = np.array([lab.split("(")[0].split(" ")[0] for lab in label])
    drop = {"log members": np.array([" log" in lab for lab in label])}
    drop["ARIMA(0,1,0) members"] = np.array(["arima(0,1,0" in lab for lab in label])
    drop |= {f: family == f for f in np.unique(family)}
    arms = [(r, r, np.ones(len(label), bool)) for r in RULES]
    arms += [(f"median without {k}", "median", ~v) for k, v in drop.items()]
    parts = {
        "holdout": (D.cv[:, ho, :, 0], D.cv_status[:, ho], D.y_cv[:, ho], D.cv_scale[:, ho]),
        "test": (D.test[:, :, 0], D.test_status, D.y_test, D.test_scale),
    }
    rows = []
    for name, rule, keep in arms:
        row: dict = {"arm": name}
        for part, (F, st, y, scale) in parts.items():
            ok = (st == 0) & np.all(np.isfinite(F), -1)
            out = np.full(y.shape, np.nan)
            for mi in range(F.shape[0]):
                k = ok[mi] & keep if (ok[mi] & keep).any() else ok[mi]
                if k.any():
                    out[mi] = _rule(F[mi, k], rule, family[k])
            row[f"{part}_mase"], row[f"{part}_smape"] = _mase(y, np.clip(out, 0, None), scale)
        rows.append(row)
    for r in rows:
        for part in parts:
            r[f"{part}_vs_median"] = r[f"{part}_mase"] / rows[0][f"{part}_mase"] - 1
    return rows


def _gain(D: Data, splits: list[int], w: np.ndarray, res: np.ndarray) -> float:
    """Mean scaled |CV error| of the median forecast over its median member's (core.conformal.combination_gain)."""
    combo, member = [], []
    for j, si in enumerate(splits):
        ok = (D.cv_status[:, si] == 0) & np.all(np.isfinite(D.cv[:, si, :, 0]), -1) & (w > 0)
        sc = D.cv_scale[:, si, None]
        e = np.abs(D.y_cv[:, si, None] - D.cv[:, si, :, 0]) / sc[:, :, None]
        has = ok.any(1) & np.isfinite(res[:, j]).all(1) & np.isfinite(sc[:, 0])
        combo.append((np.abs(res[has, j]) / sc[has]).ravel())
        member.append(np.stack([np.median(e[m, ok[m]], 0) for m in np.flatnonzero(has)]).ravel())
    return float(np.mean(np.concatenate(combo)) / np.mean(np.concatenate(member)))


def intervals(D: Data) -> list[dict]:
    """Own bounds (median of the members') vs conformal from the CV residuals, on the test part."""
    from fcast.core.conformal import conformal_bounds
    from fcast.core.metrics import interval_scores

    outer, _, _ = designs(D)
    w = weights_of(D, outer, "equal")
    ok = (D.test_status == 0) & np.all(np.isfinite(D.test[:, :, 0]), -1)
    fb = np.full(D.y_test.shape, np.nan)
    T = np.stack([combined(D.test[:, :, k], ok, w, "median", fb) for k in range(5)], 1)
    res = np.full((len(D.series), 3, D.spec.h), np.nan)
    own_cv = {80: [], 95: []}
    for j, si in enumerate(outer):
        oks = (D.cv_status[:, si] == 0) & np.all(np.isfinite(D.cv[:, si, :, 0]), -1)
        c = np.stack([combined(D.cv[:, si, :, k], oks, w, "median", fb) for k in range(5)], 1)
        res[:, j] = D.y_cv[:, si] - c[:, 0]
        for lv, (a, b) in ((80, (1, 2)), (95, (3, 4))):
            fin = np.isfinite(D.y_cv[:, si]) & np.isfinite(c[:, a])
            own_cv[lv].append(((D.y_cv[:, si] >= c[:, a]) & (D.y_cv[:, si] <= c[:, b]))[fin].mean())
    conf = conformal_bounds(T[:, 0], res, D.cv_scale[:, outer], D.test_scale, (80, 95))
    g = _gain(D, outer, w, res)
    scaled = {
        lv: (T[:, 0] - g * (T[:, 0] - T[:, a]), T[:, 0] + g * (T[:, b] - T[:, 0]))
        for lv, a, b in ((80, 1, 2), (95, 3, 4))
    }
    rows = []
    for label, b in (
        ("own (median of the members' bounds)", {80: (T[:, 1], T[:, 2]), 95: (T[:, 3], T[:, 4])}),
        ("conformal from CV residuals", conf),
        (f"own x combination gain {g:.3f} (intervals: scaled)", scaled),
    ):
        r = {"method": label}
        for lv in (80, 95):
            for k, v in interval_scores(
                D.y_test, np.clip(b[lv][0], 0, None), np.clip(b[lv][1], 0, None), lv, D.test_scale
            ).items():
                r[f"{k}_{lv}"] = v
        rows.append(r)
    rows.append(
        {
            "method": "own, on the CV windows",
            "coverage_80": float(np.mean(own_cv[80])),
            "coverage_95": float(np.mean(own_cv[95])),
        }
    )
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--datasets", default=",".join(C.DEFAULT_DATASETS))
    ap.add_argument(
        "--every", type=int, default=1, help="every k-th series only (a deterministic subset)"
    )
    ap.add_argument("--compute", action="store_true", help="(re)compute the cache first")
    ap.add_argument(
        "--intervals", action="store_true", help="interval study instead of the weights"
    )
    ap.add_argument(
        "--rules", action="store_true", help="fixed combination rules and member subsets instead"
    )
    args = ap.parse_args(argv)
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    if any(C.DATASETS[n].check_only for n in names):
        raise SystemExit("M3 is kept aside as an independent check; it is never searched")
    if args.compute:
        from distributed import Client

        with C.local_cluster() as cluster, Client(cluster) as client:
            for name in names:
                compute(name, client, args.every)
    for name in names:
        D = Data(name, args.every)
        print(f"\n{name}: {len(D.series)} series")
        if args.rules:
            rows = rules(D)
            cols = ["arm", "holdout_mase", "holdout_vs_median", "test_mase", "test_smape"]
            cols += ["test_vs_median"]
        elif args.intervals:
            rows = intervals(D)
            cols = [
                "method",
                "coverage_80",
                "interval_score_80",
                "scaled_interval_score_80",
                "coverage_95",
                "scaled_interval_score_95",
            ]
        else:
            rows = replay(D)
            cols = [
                "candidate",
                "holdout_mase",
                "holdout_vs_median",
                "test_mase",
                "test_smape",
                "test_vs_median",
            ]
        print(C.table(rows, cols, floats="{:.4f}"))


if __name__ == "__main__":
    main()
