"""Automatic detection of one-time disruptions: runs of large robust z-scores that revert.

Against the robust baseline (`fcast.data.baseline`), detection proposes a window for every
run of periods with ``|z| >= point_z`` of one sign (runs one period apart are merged) that

- is at most `max_periods` long (weekly: 8; a longer run is a level change, not a one-time event),
- has observed periods on both sides (it reverts; at the edges of a series a disruption
  cannot be told from a new level yet),
- scores ``|sum z| / sqrt(periods) >= threshold`` (default 7).

Kinds: ``dip`` (down), ``spike`` (up, one or two periods), ``lift`` (up, longer). Markets
with less than `min_history` observed periods (default: one season) are not searched.
"""

from __future__ import annotations

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
)

PROPOSAL_COLUMNS = ["market", "start", "end", "kind", "periods", "effect_pct", "score"]


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


def _kind(mean_z: float, periods: int) -> str:
    """dip (down), spike (up, 1-2 periods) or lift (up, longer)."""
    if mean_z < 0:
        return "dip"
    return "spike" if periods <= 2 else "lift"


def _market_proposals(
    market: str,
    times: pd.DatetimeIndex,
    logy: np.ndarray,
    fit: np.ndarray,
    z: np.ndarray,
    point_z: float,
    threshold: float,
    max_periods: int,
) -> list[dict]:
    """Proposed windows of one market from its z-scores."""
    observed = np.flatnonzero(np.isfinite(logy))
    if observed.size == 0:
        return []
    first, last = observed[0], observed[-1]
    out = []
    for a, b in _runs(z, point_z):
        periods = b - a + 1
        if periods > max_periods or a <= first or b >= last:
            continue
        zs = z[a : b + 1]
        score = abs(float(np.nansum(zs))) / np.sqrt(periods)
        if score < threshold:
            continue
        resid = logy[a : b + 1] - fit[a : b + 1]
        out.append(
            {
                "market": market,
                "start": times[a],
                "end": times[b],
                "kind": _kind(float(np.nanmean(zs)), periods),
                "periods": int(periods),
                "effect_pct": round(100 * float(np.expm1(np.nanmean(resid))), 2),
                "score": round(score, 2),
            }
        )
    return out


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
) -> pd.DataFrame:
    """Propose one-time disruptions: market, start, end, kind, periods, effect_pct, score."""
    max_periods = max_periods or default_max_periods(season_length)
    knot_every = knot_every or default_knot_every(season_length)
    min_history = season_length if min_history is None else min_history
    times_all = pd.DatetimeIndex(y["time"].values)
    rows: list[dict] = []
    for market in y["market"].values.tolist():
        values = y.sel(market=market).values.astype("float64")
        span = observed_span(values)
        vals, times = values[span], times_all[span]
        if np.isfinite(vals).sum() < max(min_history, 4):
            continue
        excluded = window_mask(times, exclude, market)
        fit, z = fit_baseline(
            vals,
            times,
            season_length,
            calendar_of(market, use_holidays, countries),
            excluded,
            knot_every,
            harmonics,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            logy = np.log(vals)
        rows += _market_proposals(market, times, logy, fit, z, point_z, threshold, max_periods)
    out = pd.DataFrame(rows, columns=PROPOSAL_COLUMNS)
    return out.sort_values(["market", "start"], ignore_index=True) if len(out) else out


__all__ = ["PROPOSAL_COLUMNS", "detect"]
