"""Selector: reduce the error cube to one model (or a mean of the top-X) per market.

1. `score`: per split, the metric over the test window (mean over `step`, then the
   metric's finish, e.g. sqrt for rmse); then a weighted mean over the splits where the
   market has enough history. A hp that failed on any such split gets no score.
2. `top_hps`: rank hps per market by score (ties: lower hp index first), keep the top X.
3. `holdout_scores`: refit each of the top X on everything before the final holdout and
   score it on the holdout; the combination of the X (mean, or median) is scored too.
4. `choose`: `best` keeps the member with the lowest holdout score (the CV best when
   there is no holdout); `mean` keeps all X and the applier takes their weighted mean;
   `median` keeps all X and the applier takes their pointwise (weighted) median (the
   table's `combine` column says which).
5. `fcast.core.learned.learn_weights` (with `mean` or `median`): the members' weights, equal or learned from
   the market's CV forecasts by a `weighting` strategy (`fcast.core.weighting`); given
   several strategies, the one whose combination scores best on the final holdout (or the
   newest CV split), pooled over markets, is kept (the table's `weighting` column).
   Unlike the score, a learned weighting reads the CV forecasts (`yhat`) of the markets'
   top X on the client; `equal` (the default) never does.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr

from fcast.contract import FAILED, SKIPPED
from fcast.core.apply import COMBINES, pool
from fcast.core.executor import Block, run_blocks
from fcast.core.learned import ensemble_holdout, holdout_window, learn_weights
from fcast.core.metrics import finish, mase_scale
from fcast.core.metrics import score as window_score
from fcast.core.models import Model
from fcast.core.series import align_x, first_observed, right_align
from fcast.core.space import models_of
from fcast.core.weighting import WEIGHTINGS


def split_weights(
    splits: int | Sequence[int], scheme: str | Sequence[float] = "linear"
) -> xr.DataArray:
    """Weights over `split` summing to 1; 'linear' and 'exponential' favour recent splits."""
    index = np.arange(splits) if isinstance(splits, int) else np.asarray(splits)
    n = len(index)
    if isinstance(scheme, str):
        raw = {
            "equal": np.ones(n),
            "linear": np.arange(1, n + 1, dtype=float),
            "exponential": 2.0 ** np.arange(n),
        }[scheme]
    else:
        raw = np.asarray(scheme, dtype=float)
        if raw.shape != (n,) or np.any(raw < 0) or raw.sum() <= 0:
            raise ValueError(
                f"split weights must be {n} non-negative numbers with a positive sum, got {list(scheme)}"
            )
    return xr.DataArray(raw / raw.sum(), dims="split", coords={"split": index}, name="weight")


def score(
    error: xr.DataArray, status: xr.DataArray, weights: xr.DataArray, metric: str
) -> xr.DataArray:
    """Weighted CV score(market, hp): mean over step, metric finish, weighted over valid splits."""
    per_split = finish(metric, error.mean("step"))
    valid = status != SKIPPED
    w = weights * valid
    num = (per_split.fillna(0.0) * w).sum("split")
    den = w.sum("split")
    failed = ((status == FAILED) | (valid & per_split.isnull())).any("split")
    return (num / den).where(~failed & (den > 0)).rename("score")


def top_hps(score: xr.DataArray, top: int) -> xr.DataArray:
    """The `top` best hp indices per market, dims (market, rank); -1 where fewer are scored."""
    values = np.asarray(score.transpose("market", "hp").values)
    order = np.argsort(np.where(np.isnan(values), np.inf, values), axis=1, kind="stable")[:, :top]
    ranked = np.take_along_axis(values, order, axis=1)
    hp_index = score["hp"].values[order]
    hp_index = np.where(np.isnan(ranked), -1, hp_index)
    return xr.DataArray(
        hp_index,
        dims=("market", "rank"),
        coords={"market": score["market"].values, "rank": np.arange(1, order.shape[1] + 1)},
    )


def holdout_block(
    y: np.ndarray,
    members: list[list[Model]],
    holdout: int,
    metric: str,
    x: np.ndarray | None = None,
    features: list[str] | None = None,
    combine: str = "mean",
    keep_forecasts: bool = False,
) -> tuple[np.ndarray, ...]:
    """Per market: each member's holdout score and the score of the members' combined forecast.

    `keep_forecasts`: also return the members' holdout forecasts (market, member, step).
    """
    n_m = y.shape[0]
    width = max((len(m) for m in members), default=0)
    scores = np.full((n_m, width), np.nan)
    mean_scores = np.full(n_m, np.nan)
    kept = np.full((n_m, width, holdout), np.nan)
    first = first_observed(y)
    for mi in range(n_m):
        train, test = y[mi, first[mi] : y.shape[1] - holdout], y[mi, y.shape[1] - holdout :]
        if not members[mi]:
            continue
        scale = mase_scale(train, members[mi][0].season_length)
        forecasts = []
        for k, model in enumerate(members[mi]):
            try:
                if model.uses_x:
                    cut = y.shape[1] - holdout
                    fc = model.forecast(
                        train,
                        holdout,
                        X=None if x is None else x[mi, first[mi] : cut],
                        X_future=None if x is None else x[mi, cut:],
                        features=features,
                    )["mean"]
                else:
                    fc = model.forecast(train, holdout)["mean"]
            except Exception:  # a member that cannot refit is out of the running, not a crash
                continue
            scores[mi, k] = window_score(metric, test, fc, scale)
            kept[mi, k] = fc
            forecasts.append(fc)
        if forecasts:
            mean_scores[mi] = window_score(metric, test, pool(forecasts, combine), scale)
    if keep_forecasts:
        return scores, mean_scores, kept
    return scores, mean_scores


def holdout_scores(
    y: xr.DataArray,
    top: xr.DataArray,
    hp: xr.Dataset,
    holdout: int,
    metric: str,
    season_length: int,
    client=None,  # noqa: ANN001
    block_markets: int = 8,
    x: xr.DataArray | None = None,
    combine: str = "mean",
    forecasts: bool = False,
) -> tuple[xr.DataArray, ...]:
    """Holdout score of each top-X member (market, rank) and of their mean or median (market).

    `forecasts`: also return the members' holdout forecasts (market, rank, step).

    `x` (market, time, feature): holiday features on y's time axis, for members with regressors.
    """
    models = models_of(hp, season_length)
    top_values = top.sel(market=y["market"]).values
    members = [[models[int(h)] for h in row if h >= 0] for row in top_values]
    values = y.values
    needs_x = any(m.uses_x for row in members for m in row)
    if needs_x and x is None:
        raise ValueError(
            "the top hps have models with holiday regressors; pass the holiday features as x"
        )
    x_values, features = align_x(x, y) if needs_x else (None, None)
    slices = [
        slice(i, min(i + block_markets, len(members)))
        for i in range(0, len(members), block_markets)
    ]
    blocks = [
        Block(
            str(b.start),
            b,
            (values[b], members[b], holdout, metric)
            + ((None, None) if x_values is None else (x_values[b], features))
            + (combine, forecasts),
        )
        for b in slices
    ]
    results = run_blocks(holdout_block, blocks, client=client, prefix="holdout")
    width = top.sizes["rank"]
    member = np.full((len(members), width), np.nan)
    mean = np.full(len(members), np.nan)
    kept = np.full((len(members), width, holdout), np.nan)
    for b, res in zip(slices, results, strict=True):
        member[b, : res[0].shape[1]] = res[0]
        mean[b] = res[1]
        if forecasts:
            kept[b, : res[2].shape[1]] = res[2]
    coords = {"market": y["market"].values}
    if forecasts:
        return (
            xr.DataArray(
                member, dims=("market", "rank"), coords={**coords, "rank": top["rank"].values}
            ),
            xr.DataArray(mean, dims="market", coords=coords),
            xr.DataArray(
                kept,
                dims=("market", "rank", "step"),
                coords={**coords, "rank": top["rank"].values, "step": np.arange(1, holdout + 1)},
            ),
        )
    return (
        xr.DataArray(
            member, dims=("market", "rank"), coords={**coords, "rank": top["rank"].values}
        ),
        xr.DataArray(mean, dims="market", coords=coords),
    )


#: the selection table's columns (kept when it is empty, e.g. every market constant)
SELECTION_COLUMNS = [
    "market", "rank", "hp", "family", "label", "params", "cv_score", "holdout_score",
    "weight", "ensemble_holdout_score", "combine", "weighting",
]  # fmt: skip


def choose(
    top: xr.DataArray,
    cv_score: xr.DataArray,
    holdout: xr.DataArray | None,
    holdout_mean: xr.DataArray | None,
    hp: xr.Dataset,
    combine: str = "best",
    member_weights: dict[str, list[float]] | None = None,
    weighting: str = "equal",
) -> pd.DataFrame:
    """The selection table: one row per market and top-X member, with the chosen weight.

    `member_weights` (market -> weights in rank order): learned weights for `mean`/`median`.
    """
    rows = []
    names = [
        c for c in hp.coords if c not in ("hp", "family", "label") and hp.coords[c].dims == ("hp",)
    ]
    for market in top["market"].values:
        ranks = [
            (int(r), int(h))
            for r, h in zip(top["rank"].values, top.sel(market=market).values, strict=True)
            if h >= 0
        ]
        if not ranks:
            continue
        ho = (
            [float(holdout.sel(market=market, rank=r)) for r, _ in ranks]
            if holdout is not None
            else [float("nan")] * len(ranks)
        )
        if combine in COMBINES and member_weights is not None and str(market) in member_weights:
            weights = [float(w) for w in member_weights[str(market)]]
        elif combine in COMBINES:
            weights = [1.0 / len(ranks)] * len(ranks)
        else:
            # lowest holdout score wins; NaN holdout (no holdout or refit failed) falls back on CV rank
            key = [(np.isnan(s), s if not np.isnan(s) else 0.0, k) for k, s in enumerate(ho)]
            best = min(key)[2]
            weights = [1.0 if k == best else 0.0 for k in range(len(ranks))]
        for (r, h), ho_s, w in zip(ranks, ho, weights, strict=True):
            params = {n: hp[n].values[h].item() for n in names}
            params = {
                k: v
                for k, v in params.items()
                if not (v == "" or (isinstance(v, float) and np.isnan(v)))
            }
            rows.append(
                {
                    "market": str(market),
                    "rank": r,
                    "hp": h,
                    "family": str(hp["family"].values[h]),
                    "label": str(hp["label"].values[h]),
                    "params": json.dumps(params, sort_keys=True),
                    "cv_score": float(cv_score.sel(market=market, hp=h)),
                    "holdout_score": ho_s,
                    "weight": w,
                    "ensemble_holdout_score": float(holdout_mean.sel(market=market))
                    if holdout_mean is not None and combine in COMBINES
                    else float("nan"),
                    "combine": combine,
                    "weighting": weighting if combine in COMBINES else "equal",
                }
            )
    return pd.DataFrame(
        rows, columns=SELECTION_COLUMNS
    )  # the columns even when no market has a member


def hp_coords(cube: xr.Dataset) -> xr.Dataset:
    """The hp dimension and its coords (family, label, parameters) of a cube, loaded."""
    return xr.Dataset(
        coords={c: cube.coords[c] for c in cube.coords if cube.coords[c].dims == ("hp",)}
    ).compute()


def select(
    tuning: xr.Dataset,
    y: xr.DataArray,
    *,
    top: int = 3,
    combine: str = "best",
    weights: str | Sequence[float] = "linear",
    holdout: int = 0,
    client=None,  # noqa: ANN001
    x: xr.DataArray | None = None,
    weighting: str | Sequence[str] = "equal",
) -> pd.DataFrame:
    """The whole selector: CV score, top-X, holdout refits, choice; returns the selection table.

    `x`: holiday features (market, time, feature) covering y, for members with regressors.
    `combine`: `best` (one member), `mean` or `median` (all top X, combined by the applier).
    `weighting`: how the top X are weighted for `mean`/`median`, a name in
    `fcast.core.weighting.WEIGHTINGS` or a list of them (the holdout, or without one the
    newest CV split, picks one for all markets).
    """
    if combine not in ("best", *COMBINES):
        raise ValueError(f"combine must be best, mean or median, got {combine!r}")
    names = [weighting] if isinstance(weighting, str) else list(weighting)
    unknown = [n for n in names if n not in WEIGHTINGS]
    if unknown or not names:
        raise ValueError(f"weighting must be among {sorted(WEIGHTINGS)}, got {names}")
    if combine == "best" and names != ["equal"]:
        raise ValueError("a weighting other than equal needs combine: mean or median")
    metric = tuning.attrs["metric"]
    w = split_weights(tuning["split"].values, weights)
    cv = score(tuning["error"], tuning["status"], w, metric).compute()
    best = top_hps(cv, top)
    hp = hp_coords(tuning)
    ho = ho_mean = None
    learned = names != ["equal"]
    ho_window = None
    if holdout > 0:  # the holdout is each market's own last `holdout` periods
        y, x = right_align(y.sel(market=best["market"]), x)
        out = holdout_scores(
            y,
            best,
            hp,
            holdout,
            metric,
            int(tuning.attrs["season_length"]),
            client,
            x=x,
            combine=combine if combine in COMBINES else "mean",
            forecasts=learned,
        )
        ho, ho_mean = out[0], out[1]
        if learned:
            ho_window = holdout_window(y, out[2], holdout, int(tuning.attrs["season_length"]))
    if not learned:
        return choose(best, cv, ho, ho_mean, hp, combine)
    older = None  # without a holdout, candidates are scored on the newest CV split
    if len(names) > 1 and ho_window is None and tuning.sizes["split"] > 1:
        sub = tuning.isel(split=slice(0, -1))
        w_old = split_weights(sub["split"].values, [float(v) for v in w[:-1].values])
        older = score(sub["error"], sub["status"], w_old, metric).compute()
    member_weights, chosen, _ = learn_weights(
        tuning, best, cv, metric, names, combine, ho_window, older
    )
    if ho_window is not None:  # the ensemble's holdout score with the learned weights
        ho_mean = ensemble_holdout(ho_window, member_weights, combine, metric, ho_mean)
    return choose(best, cv, ho, ho_mean, hp, combine, member_weights, chosen)
