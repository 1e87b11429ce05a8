"""Launch curves and their combination: what the proxy model forecasts a new market from.

A launch curve is a market's users per addressable population by periods since its launch
period (`launch_curves`). A new market's per-capita forecast combines the curves of its
proxies (`curve_forecast`): each is extended flat past its last known period, calibrated
to the new market's own history (the level ratio over its last `CALIBRATION` periods,
fading with time constant `DECAY` to n / (n + `SHRINK`) of itself), and the calibrated
curves are combined as a weighted geometric mean with a Student-t interval on their log
spread (at least `MIN_DF` degrees of freedom: calibrated on the sample's new markets). Choosing the proxies and scaling by market size is `fcast.markets.proxies`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xarray as xr
from scipy.stats import t as student_t

from fcast.contract import quantiles_of
from fcast.errors import DataError

MIN_CURVE = 52
CALIBRATION = 8
SHRINK = 4.0
DECAY = 13.0
TAIL = 4
#: fewest degrees of freedom of the interval's Student-t. The effective number of proxies minus
#: one (1-4 with the default 5 proxies, 1 = Cauchy when one proxy dominates) gave 80% intervals
#: covering 92% of the sample's new-market weeks (PK's 95% upper bound 14x its point); with 10
#: they cover 82% (95%: 94%), and 75% of the launched markets' weeks in the leave-one-out backtest
MIN_DF = 10.0


# --- launch curves ----------------------------------------------------------------------


def _fixed_step(offset: pd.DateOffset) -> pd.Timedelta | None:
    """The constant length of a week or tick frequency (None for months, quarters ...)."""
    if isinstance(offset, pd.offsets.Week):
        return pd.Timedelta(weeks=offset.n)
    return pd.Timedelta(offset) if isinstance(offset, pd.offsets.Tick) else None


def periods_since(times: pd.DatetimeIndex, launch: pd.Timestamp, freq: str) -> np.ndarray:
    """Periods from the period holding `launch` to each time (negative before launch)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    anchor = offset.rollback(pd.Timestamp(launch).normalize())
    step = _fixed_step(offset)
    if step is not None:
        return np.asarray((times - anchor) // step, dtype=int)
    grid = pd.date_range(min(anchor, times.min()), max(anchor, times.max()), freq=freq)
    return grid.get_indexer(times) - grid.get_loc(anchor)


def freq_of(y: xr.DataArray, freq: str | None) -> str:
    """The given frequency, else the one inferred from the time axis."""
    found = freq or xr.infer_freq(y["time"])
    if found is None:
        raise DataError("cannot infer the frequency of the time axis; pass freq")
    return found


def launch_curves(
    y: xr.DataArray,
    launch: pd.Series,
    population: pd.Series,
    max_weeks: int,
    freq: str | None = None,
) -> xr.DataArray:
    """Users per capita by periods since launch: curve(market, week), NaN where unknown."""
    freq = freq_of(y, freq)
    times = pd.DatetimeIndex(y["time"].values)
    markets = y["market"].values.astype(str).tolist()
    out = np.full((len(markets), max_weeks), np.nan)
    for i, market in enumerate(markets):
        week = periods_since(times, launch[market], freq)
        keep = (week >= 0) & (week < max_weeks)
        out[i, week[keep]] = y.sel(market=market).values[keep] / float(population[market])
    return xr.DataArray(
        out,
        dims=("market", "week"),
        coords={"market": np.array(markets, dtype=str), "week": np.arange(max_weeks)},
        name="curve",
        attrs={"long_name": "users per addressable population by periods since launch"},
    )


def eligible_candidates(curves: xr.DataArray, min_weeks: int = MIN_CURVE) -> list[str]:
    """Markets whose curve is known from week 0 for at least `min_weeks` periods."""
    known = curves.notnull()
    ok = known.isel(week=0) & (known.sum("week") >= min(min_weeks, curves.sizes["week"]))
    return curves["market"].values[ok.values].astype(str).tolist()


def extend_flat(curves: xr.DataArray, tail: int = TAIL) -> xr.DataArray:
    """Fill each curve after its last known period with the mean of its last `tail` known values."""

    def fill(row: np.ndarray) -> np.ndarray:
        """One curve, extended."""
        known = np.flatnonzero(np.isfinite(row))
        out = row.copy()
        if len(known):
            out[known[-1] + 1 :] = np.mean(row[known[-tail:]])
        return out

    return xr.apply_ufunc(
        fill, curves, input_core_dims=[["week"]], output_core_dims=[["week"]], vectorize=True
    )


# --- combination, calibration, intervals -------------------------------------------------


def calibration(
    proxy_curves: xr.DataArray, own: xr.DataArray, window: int = CALIBRATION
) -> xr.DataArray:
    """Level ratio per proxy: own / proxy summed over the last `window` known weeks (1 without history)."""
    weeks = own["week"].values[np.isfinite(own.values)]
    if len(weeks) == 0:
        return xr.ones_like(proxy_curves.isel(week=0, drop=True))
    last = weeks[-window:]
    return float(own.sel(week=last).sum()) / proxy_curves.sel(week=last).sum("week")


def fade(own: xr.DataArray, shrink: float = SHRINK, decay: float = DECAY) -> xr.DataArray:
    """Share of the log calibration kept per week: 1 up to the last known week, fading to n / (n + shrink)."""
    weeks = own["week"]
    known = own["week"].values[np.isfinite(own.values)]
    if len(known) == 0:
        return xr.ones_like(weeks, dtype=float)
    floor = len(known) / (len(known) + shrink)
    ahead = (weeks - known[-1]).clip(min=0)
    return floor + (1 - floor) * np.exp(-ahead / decay)


def quantiles(levels: Sequence[int]) -> np.ndarray:
    """Sorted interval quantiles of the levels, as the applier has them (0.025, 0.1, 0.9, 0.975)."""
    return np.round(np.sort([q for lv in levels for q in quantiles_of(lv)]), 4)


def combine(
    paths: xr.DataArray, weights: xr.DataArray, levels: Sequence[int]
) -> tuple[xr.DataArray, xr.DataArray]:
    """Weighted geometric mean over `proxy`, and bounds(quantile): a Student-t interval on the log spread.

    The t has the effective number of proxies minus one degrees of freedom, at least `MIN_DF`.
    """
    w = weights / weights.sum()
    logp = np.log(paths.clip(min=1e-12))
    mu = (w * logp).sum("proxy")
    c = float((w**2).sum())  # 1 / effective number of proxies
    var = (w * (logp - mu) ** 2).sum("proxy")
    sd = np.sqrt(var / (1.0 - c) * (1.0 + c)) if c < 1 else xr.zeros_like(mu)
    q = quantiles(levels)
    z = xr.DataArray(
        student_t.ppf(q, max(1.0 / c - 1.0, MIN_DF)), dims="quantile", coords={"quantile": q}
    )
    return np.exp(mu), np.exp(mu + z * sd)


def curve_forecast(
    proxy_curves: xr.DataArray,
    weights: xr.DataArray,
    own: xr.DataArray,
    weeks: np.ndarray,
    levels: Sequence[int],
) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray]:
    """Per-capita forecast(step) at `weeks` since launch (0 before launch), bounds(step, quantile), calibration(proxy)."""
    extended = extend_flat(proxy_curves)
    factor = calibration(extended, own, CALIBRATION)
    at = xr.DataArray(np.clip(weeks, 0, None), dims="step")
    paths = extended * np.exp(np.log(factor) * fade(own, SHRINK, DECAY))
    mid, bounds = combine(paths.isel(week=at), weights, levels)
    live = xr.DataArray(np.asarray(weeks) >= 0, dims="step")
    return mid.where(live, 0.0), bounds.where(live, 0.0).transpose("step", "quantile"), factor
