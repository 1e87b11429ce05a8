"""Automatic detection of one-time disruptions: runs of large robust z-scores that revert, and zero runs.

Against the robust baseline (`fcast.data.baseline`), detection proposes a window for every
run of periods with ``|z| >= point_z`` of one sign (runs one period apart are merged) that

- is at most `max_periods` long (weekly: 8; a longer run is a level change, not a one-time event),
- has observed periods on both sides (it reverts; at the edges of a series a disruption
  cannot be told from a new level yet),
- scores ``|sum z| / sqrt(periods) >= threshold`` (default 7).

Kinds: ``dip`` (down), ``spike`` (up, one or two periods), ``lift`` (up, longer). Markets
with less than `min_history` observed periods (default: one season) are not searched.

Zero runs (a strike, a tracking outage): a run of periods at or below `near_zero` (5%) of
the market's local level (the rolling median over a season) with observed periods on both
sides is one disruption of kind ``zero``, whatever its length; the dipping periods right
next to it (a strike starting mid-week) belong to it. Its periods are left out of the
baseline fit, so they neither bend it nor leave fragments next to them. A zero run longer
than `max_zero_periods` (weekly: 13) is proposed for review only.

Recurring patterns are not one-time: a proposal whose calendar periods (one period either
way) move the same way in another year (``|z| >= point_z`` and at least half the proposal's
mean z; for a zero run: near zero, or below half the baseline) is proposed for review only. Every
proposal has a `review` reason ("" when it may be removed automatically).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import xarray as xr

from fcast.data.baseline import (
    calendar_of,
    default_knot_every,
    default_max_periods,
    fit_baseline,
    observed_span,
    window_mask,
    yearly,
)

PROPOSAL_COLUMNS = ["market", "start", "end", "kind", "periods", "effect_pct", "score", "review"]
NEAR_ZERO = 0.05


def default_max_zero_periods(season_length: int) -> int:
    """Longest zero run removed automatically: a quarter season (weekly data: 13 periods)."""
    return max(season_length // 4, default_max_periods(season_length))


def _runs(z: np.ndarray, point_z: float, bridge: int = 1) -> list[tuple[int, int]]:
    """Index ranges [i, j] of same-sign runs with |z| >= point_z, merging runs up to `bridge` observed periods apart."""
    hit = np.nan_to_num(np.abs(z)) >= point_z
    sign = np.sign(np.nan_to_num(z))
    runs: list[list[int]] = []
    for i in np.flatnonzero(hit):
        prev = runs[-1] if runs else None
        if (
            prev is not None
            and sign[prev[0]] == sign[i]
            and i - prev[1] <= bridge + 1
            and np.isfinite(z[prev[1] : i]).all()
        ):
            prev[1] = int(i)
        else:
            runs.append([int(i), int(i)])
    return [(a, b) for a, b in runs]


def _spans(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges [i, j] of consecutive True values."""
    edges = np.diff(np.r_[0, mask.astype(int), 0])
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1, strict=True))


def near_zero_mask(values: np.ndarray, season_length: int, share: float = NEAR_ZERO) -> np.ndarray:
    """Observed periods at or below `share` of the local level (rolling median of the positive values over a season)."""
    positive = pd.Series(np.where(values > 0, values, np.nan))
    level = positive.rolling(max(season_length, 3), center=True, min_periods=1).median().to_numpy()
    with np.errstate(invalid="ignore"):
        return np.isfinite(values) & ((values <= 0) | (values <= share * level))


def zero_runs(
    values: np.ndarray, season_length: int, share: float = NEAR_ZERO
) -> list[tuple[int, int]]:
    """Runs of zero or near-zero periods with an observed, not near-zero period on both sides."""
    low = near_zero_mask(values, season_length, share)
    normal = np.isfinite(values) & ~low
    return [(int(a), int(b)) for a, b in _spans(low) if normal[:a].any() and normal[b + 1 :].any()]


def _widen(a: int, b: int, n: int, joins: Callable[[int], bool], limit: int) -> tuple[int, int]:
    """A zero run [a, b] of n periods with the periods right next to it that `joins` (at most `limit` a side)."""
    lo, hi = a, b
    while lo > 0 and a - lo < limit and joins(lo - 1):
        lo -= 1
    while hi < n - 1 and hi - b < limit and joins(hi + 1):
        hi += 1
    return lo, hi


def _kind(mean_z: float, periods: int) -> str:
    """dip (down), spike (up, 1-2 periods) or lift (up, longer)."""
    if mean_z < 0:
        return "dip"
    return "spike" if periods <= 2 else "lift"


def recurring_years(
    a: int, b: int, times: pd.DatetimeIndex, hits: np.ndarray, season_length: int
) -> list[int]:
    """Other years in which most of the same calendar periods (one period either way) are hits too."""
    if not yearly(times, season_length):
        return []
    step = (times[-1] - times[0]) / max(len(times) - 1, 1)
    years = []
    for k in range(times[0].year - times[a].year - 1, times[-1].year - times[a].year + 2):
        target = times[a : b + 1] + pd.DateOffset(years=k)
        if k == 0 or target[0] < times[0] - step or target[-1] > times[-1] + step:
            continue
        near = times.get_indexer(target, method="nearest")
        for shift in (0, -1, 1):
            idx = near + shift
            idx = idx[(idx >= 0) & (idx < len(times))]
            if idx.size and hits[idx].mean() >= 0.5:
                years.append(int(times[idx[0]].year))
                break
    return sorted(set(years))


def like(z: np.ndarray, mean_z: float, point_z: float) -> np.ndarray:
    """Periods moving the same way as a proposal of mean z-score `mean_z`, by at least half as much (and point_z)."""
    return np.sign(mean_z) * np.nan_to_num(z) >= max(point_z, 0.5 * abs(mean_z))


def _review(a: int, b: int, times: pd.DatetimeIndex, hits: np.ndarray, season_length: int) -> str:
    """Why a proposal is not removed automatically: it recurs in other years ("" when one-time).

    `hits`: the periods that move like the proposal.
    """
    years = recurring_years(a, b, times, hits, season_length)
    if not years:
        return ""
    listed = ", ".join(str(y) for y in years)
    return f"recurs in the same calendar periods in {listed}: a seasonal pattern, not one-time"


def _proposal(
    market: str, times: pd.DatetimeIndex, a: int, b: int, kind: str, effect: float, score: float
) -> dict:
    """One proposed window."""
    return {
        "market": market,
        "start": times[a],
        "end": times[b],
        "kind": kind,
        "periods": int(b - a + 1),
        "effect_pct": round(100 * effect, 2),
        "score": round(score, 2),
        "review": "",
    }


def _zero_proposals(
    market: str,
    times: pd.DatetimeIndex,
    values: np.ndarray,
    fit: np.ndarray,
    z: np.ndarray,
    runs: list[tuple[int, int]],
    opts: dict,
) -> list[dict]:
    """Proposed windows of one market's zero runs, widened by their dipping neighbours."""
    low = near_zero_mask(values, opts["season_length"], opts["near_zero"])
    with np.errstate(invalid="ignore", divide="ignore"):
        halved = np.nan_to_num(np.log(values) - fit, nan=np.inf) <= np.log(0.5)
    hits = low | (halved & (np.nan_to_num(z) <= -opts["point_z"]))  # near zero, or below half

    def joins(i: int) -> bool:
        """A one-time dip: part of the zero run next to it (a recurring dip is not)."""
        dip = np.nan_to_num(z[i]) <= -opts["point_z"]
        same = like(z, float(z[i]), opts["point_z"]) if dip else hits
        return bool(dip) and not recurring_years(i, i, times, same, opts["season_length"])

    out = []
    for a0, b0 in runs:
        a, b = _widen(a0, b0, len(values), joins, opts["max_periods"])
        with np.errstate(invalid="ignore", divide="ignore"):
            effect = np.nanmean(values[a : b + 1]) / np.nanmean(np.exp(fit[a : b + 1])) - 1
        row = _proposal(market, times, a, b, "zero", float(effect), float("nan"))
        row["review"] = _review(a0, b0, times, hits, opts["season_length"])
        if not row["review"] and b - a + 1 > opts["max_zero_periods"]:
            row["review"] = (
                f"a run of {b - a + 1} zero or near-zero periods, longer than "
                f"{opts['max_zero_periods']} (clean.max_zero_periods): list it in clean.events to remove it"
            )
        out.append(row)
    return out


def _market_proposals(
    market: str,
    times: pd.DatetimeIndex,
    logy: np.ndarray,
    fit: np.ndarray,
    z: np.ndarray,
    opts: dict,
) -> list[dict]:
    """Proposed windows of one market from its z-scores (zero runs already masked out of z)."""
    observed = np.flatnonzero(np.isfinite(logy))
    if observed.size == 0:
        return []
    first, last = observed[0], observed[-1]
    out = []
    for a, b in _runs(z, opts["point_z"]):
        periods = b - a + 1
        if periods > opts["max_periods"] or a <= first or b >= last:
            continue
        zs = z[a : b + 1]
        score = abs(float(np.nansum(zs))) / np.sqrt(periods)
        if score < opts["threshold"]:
            continue
        resid = logy[a : b + 1] - fit[a : b + 1]
        mean_z = float(np.nanmean(zs))
        row = _proposal(
            market,
            times,
            a,
            b,
            _kind(mean_z, periods),
            float(np.expm1(np.nanmean(resid))),
            score,
        )
        hits = like(z, mean_z, opts["point_z"])
        row["review"] = _review(a, b, times, hits, opts["season_length"])
        out.append(row)
    return out


def _detect_market(
    market: str,
    values: np.ndarray,
    times: pd.DatetimeIndex,
    exclude: pd.DataFrame | None,
    opts: dict,
) -> list[dict]:
    """Proposals of one market's observed span: zero runs first, then the z-score runs around them."""
    known = window_mask(times, exclude, market)
    runs = zero_runs(values, opts["season_length"], opts["near_zero"])
    zeros = np.zeros(len(values), dtype=bool)
    for a, b in runs:
        zeros[a : b + 1] = True
    fit, z = fit_baseline(
        values,
        times,
        opts["season_length"],
        calendar_of(market, opts["use_holidays"], opts["countries"]),
        known | zeros,
        opts["knot_every"],
        opts["harmonics"],
    )
    fresh = [(a, b) for a, b in runs if not known[a : b + 1].any()]  # known events are not proposed
    found = _zero_proposals(market, times, values, fit, z, fresh, opts)
    for row in found:  # the zero runs and their neighbours are taken
        z = np.where((times >= row["start"]) & (times <= row["end"]), np.nan, z)
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.log(np.where(zeros, np.nan, values))
    return found + _market_proposals(market, times, logy, fit, z, opts)


def detect(
    y: xr.DataArray,
    season_length: int,
    *,
    exclude: pd.DataFrame | None = None,
    threshold: float = 7.0,
    point_z: float = 3.5,
    max_periods: int | None = None,
    min_history: int | None = None,
    use_holidays: bool = True,
    countries: dict[str, str] | None = None,
    knot_every: int | None = None,
    harmonics: int = 6,
    near_zero: float = NEAR_ZERO,
    max_zero_periods: int | None = None,
) -> pd.DataFrame:
    """Propose disruptions: market, start, end, kind, periods, effect_pct, score, review ("" = one-time)."""
    opts = {
        "season_length": season_length,
        "threshold": threshold,
        "point_z": point_z,
        "max_periods": max_periods or default_max_periods(season_length),
        "max_zero_periods": max_zero_periods or default_max_zero_periods(season_length),
        "knot_every": knot_every or default_knot_every(season_length),
        "use_holidays": use_holidays,
        "countries": countries,
        "harmonics": harmonics,
        "near_zero": near_zero,
    }
    min_history = season_length if min_history is None else min_history
    times_all = pd.DatetimeIndex(y["time"].values)
    rows: list[dict] = []
    for market in y["market"].values.tolist():
        values = y.sel(market=market).values.astype("float64")
        span = observed_span(values)
        vals, times = values[span], times_all[span]
        if np.isfinite(vals).sum() < max(min_history, 4):
            continue
        rows += _detect_market(market, vals, times, exclude, opts)
    out = pd.DataFrame(rows, columns=PROPOSAL_COLUMNS)
    return out.sort_values(["market", "start"], ignore_index=True) if len(out) else out


__all__ = [
    "NEAR_ZERO",
    "PROPOSAL_COLUMNS",
    "default_max_zero_periods",
    "detect",
    "near_zero_mask",
    "zero_runs",
]
