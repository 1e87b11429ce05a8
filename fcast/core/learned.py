"""Learned member weights for the selector (`select.weighting`): fit, choose, score on the holdout.

`learn_weights` fits each `fcast.core.weighting` strategy per market on the markets' top-X
CV forecasts (`yhat` of the cube, read on the client), keeps the one whose combination
scores best out of sample pooled over markets (the final holdout, or without one the
newest CV split with weights fitted on the older ones), and refits it on all CV splits.
`holdout_window` and `ensemble_holdout` turn the selector's holdout refits into that
window and score each market's combination with its learned weights. The selector
(`fcast.core.select.select`) computes the CV scores these functions are given.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import xarray as xr

from fcast.core.apply import pool
from fcast.core.metrics import mase_scale
from fcast.core.metrics import score as window_score
from fcast.core.series import first_observed
from fcast.core.weighting import WEIGHTINGS

#: per market the members' forecasts (member, step), the actuals (market, step), the scale (market,)
Window = tuple[list[np.ndarray], np.ndarray, np.ndarray]


def _market_arrays(
    tuning: xr.Dataset, markets: Sequence[str], best: xr.DataArray
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, list[list[int]]]:
    """Per market: the top members' CV forecasts (split, member, step), with y_test and scale."""
    sub = tuning[["yhat", "y_test", "scale"]].sel(market=list(markets))
    yhat = sub["yhat"].transpose("market", "split", "hp", "step")
    hp_pos = {int(h): i for i, h in enumerate(tuning["hp"].values)}
    ranks = best.sel(market=list(markets)).values
    members = [[int(h) for h in row if h >= 0] for row in ranks]
    values = yhat.values
    per_market = [values[mi][:, [hp_pos[h] for h in hs], :] for mi, hs in enumerate(members)]
    return (
        per_market,
        sub["y_test"].transpose("market", "split", "step").values,
        sub["scale"].transpose("market", "split").values,
        members,
    )


def _fit_all(
    name: str,
    forecasts: list[np.ndarray],
    y_test: np.ndarray,
    scale: np.ndarray,
    cv_scores: np.ndarray,
    members: list[list[int]],
    splits: np.ndarray,
) -> list[np.ndarray]:
    """One weighting fitted per market on the given split positions."""
    fit = WEIGHTINGS[name].fit
    out = []
    for mi, hs in enumerate(members):
        if not hs:
            out.append(np.zeros(0))
            continue
        out.append(
            fit(
                forecasts[mi][splits],
                y_test[mi, splits],
                scale[mi, splits],
                cv_scores[mi, : len(hs)],
            )
        )
    return out


def _pooled_score(
    metric: str, candidates: dict[str, list[np.ndarray]], window: Window, combine: str
) -> dict[str, float]:
    """Mean over markets of each candidate's combined-forecast score on one window (markets every candidate scores)."""
    forecasts, y, scale = window
    per = {name: np.full(len(forecasts), np.nan) for name in candidates}
    for mi, fc in enumerate(forecasts):
        ok = np.all(np.isfinite(fc), axis=1) if fc.size else np.zeros(0, bool)
        if not ok.any() or not np.all(np.isfinite(y[mi])):
            continue
        for name, ws in candidates.items():
            w = ws[mi][ok]
            if w.sum() <= 0:
                continue
            per[name][mi] = window_score(metric, y[mi], pool(fc[ok], combine, w), scale[mi])
    common = np.logical_and.reduce([np.isfinite(v) for v in per.values()])
    return {
        name: float(v[common].mean()) if common.any() else float("nan") for name, v in per.items()
    }


def _ranked(
    cv: xr.DataArray, markets: list[str], members: list[list[int]], width: int
) -> np.ndarray:
    """CV scores of each market's members in rank order (market, rank); NaN past its members."""
    out = np.full((len(markets), width), np.nan)
    for mi, hs in enumerate(members):
        out[mi, : len(hs)] = cv.sel(market=markets[mi], hp=hs).values
    return out


def learn_weights(
    tuning: xr.Dataset,
    best: xr.DataArray,
    cv: xr.DataArray,
    metric: str,
    weighting: Sequence[str],
    combine: str,
    holdout: Window | None = None,
    cv_older: xr.DataArray | None = None,
) -> tuple[dict[str, list[float]], str, dict[str, float]]:
    """Member weights per market for the top X, with the weighting chosen among `weighting`.

    `cv`: the CV score (market, hp) over all splits; `cv_older`: over all but the newest.
    With several candidates, each is fitted on the CV splits and scored on `holdout`; without
    one (and given `cv_older`), fitted on the older splits and scored on the newest. The lowest
    score pooled over markets wins (ties: the first listed); the winner is then fitted on all
    CV splits. Returns {market: weights in rank order}, the name, the candidates' scores.
    """
    names = list(weighting)
    markets = [str(m) for m in best["market"].values]
    forecasts, y_test, scale, members = _market_arrays(tuning, markets, best)
    n_split = y_test.shape[1]
    cv_ranked = _ranked(cv, markets, members, best.sizes["rank"])
    scores: dict[str, float] = {}
    if len(names) > 1 and holdout is not None:
        every = np.arange(n_split)
        cands = {n: _fit_all(n, forecasts, y_test, scale, cv_ranked, members, every) for n in names}
        scores = _pooled_score(metric, cands, holdout, combine)
    elif len(names) > 1 and cv_older is not None and n_split > 1:
        old = np.nan_to_num(_ranked(cv_older, markets, members, best.sizes["rank"]), nan=np.inf)
        older = np.arange(n_split - 1)
        cands = {n: _fit_all(n, forecasts, y_test, scale, old, members, older) for n in names}
        newest = ([fc[-1] for fc in forecasts], y_test[:, -1], scale[:, -1])
        scores = _pooled_score(metric, cands, newest, combine)
    finite = {n: s for n, s in scores.items() if np.isfinite(s)}
    chosen = min(names, key=lambda n: (finite.get(n, np.inf), names.index(n)))
    final = _fit_all(chosen, forecasts, y_test, scale, cv_ranked, members, np.arange(n_split))
    return {m: [float(v) for v in w] for m, w in zip(markets, final, strict=True)}, chosen, scores


def holdout_window(
    y: xr.DataArray, forecasts: xr.DataArray, holdout: int, season_length: int
) -> Window:
    """The holdout as one window: per market the members' forecasts (member, step), actuals, scale."""
    values = y.transpose("market", "time").values
    first = first_observed(values)
    fc = forecasts.sel(market=y["market"]).values
    per, y_ho, scale = [], np.full((len(values), holdout), np.nan), np.full(len(values), np.nan)
    for mi in range(len(values)):
        train = values[mi, first[mi] : values.shape[1] - holdout]
        y_ho[mi] = values[mi, values.shape[1] - holdout :]
        scale[mi] = mase_scale(train, season_length) if len(train) else np.nan
        per.append(fc[mi])
    return per, y_ho, scale


def ensemble_holdout(
    window: Window,
    member_weights: dict[str, list[float]],
    combine: str,
    metric: str,
    fallback: xr.DataArray,
) -> xr.DataArray:
    """Holdout score of each market's combination with its learned weights (fallback where none)."""
    out = fallback.copy()
    forecasts, y_ho, scale = window
    for mi, market in enumerate(out["market"].values):
        w = np.asarray(member_weights.get(str(market), []))
        fc = forecasts[mi][: len(w)]
        ok = np.all(np.isfinite(fc), axis=1) & (w > 0) if len(w) else np.zeros(0, bool)
        if ok.any():
            out[mi] = window_score(metric, y_ho[mi], pool(fc[ok], combine, w[ok]), scale[mi])
    return out
