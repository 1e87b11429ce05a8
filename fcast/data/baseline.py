"""The robust baseline of one market's series, which cleaning and detection compare against.

Every market is decomposed in log space (multiplicative effects become additive) by one
robust, penalized regression::

    log y[t] = trend[t] + season[t] + holidays[t] + r[t]

- trend: cubic B-spline with a knot every `knot_every` periods (weekly data: 16) and a light
  second-difference penalty: flexible enough for launch ramps, too stiff for a short burst;
- season: `harmonics` Fourier pairs of the season phase (the day of the year when the
  season is a year, else the position in the cycle); only with two seasons of data;
- holidays (from the one calendar, `fcast.data.calendar`: when the market code is a country
  the `holidays` package knows, after the fix-ups such as ``UK -> GB``, or `countries` maps
  it to one): holiday names that fall together (Chuseok, its eve, its substitute
  day; Good Friday and Easter Monday) are grouped into festivals; each festival recurring
  at least twice gets one effect, a period holding several festivals takes the effect of
  the strongest one, and two steps (>= 2, >= 3 holiday days in the period) add the extra
  days. Fixed-date and moving holidays (Easter, Eid, Lunar New Year, Diwali ...) so land
  in the baseline, not in the residual.

The fit is iteratively reweighted least squares: Huber weights first (a stable start),
then Tukey bisquare weights, so disrupted periods end with weight zero and do not bend the
baseline. The robust z-score is ``z = r / (1.4826 * MAD(r))``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fcast.data.calendar import country_of, holiday_count, market_holidays, period_bounds

MAD_SCALE = 1.4826
HUBER_K, BISQUARE_C = 1.345, 4.685
STEP_RIDGE = 1.0
MIN_SCALE = 1e-3  # residual scale floor (0.1%): near-exact fits do not turn rounding into outliers


def default_max_periods(season_length: int) -> int:
    """Longest one-time disruption: a sixth of a season (weekly data: 8 periods)."""
    return max(1, season_length // 6)


def default_knot_every(season_length: int) -> int:
    """Trend knot spacing: a quarter season, at least twice the longest disruption."""
    return max(season_length // 4, 2 * default_max_periods(season_length), 4)


def yearly(times: pd.DatetimeIndex, season_length: int) -> bool:
    """Whether `season_length` periods of this time axis make about one year."""
    if len(times) < 2:
        return False
    days = float(np.median(np.diff(times.to_numpy()).astype("timedelta64[D]").astype(float)))
    return abs(days * season_length - 365.25) < 0.1 * 365.25


def _phase(times: pd.DatetimeIndex, season_length: int) -> np.ndarray:
    """Position in the season in [0, 1): day of the year for yearly seasons, else the cycle index."""
    if yearly(times, season_length):
        return ((times.dayofyear.to_numpy() - 1) / 365.25) % 1.0
    return (np.arange(len(times)) % max(season_length, 1)) / max(season_length, 1)


def _fourier(phase: np.ndarray, harmonics: int) -> np.ndarray:
    """Sine and cosine columns of the first `harmonics` frequencies."""
    k = np.arange(1, harmonics + 1)[None, :] * 2 * np.pi * phase[:, None]
    return np.concatenate([np.sin(k), np.cos(k)], axis=1)


def _cardinal_cubic(u: np.ndarray) -> np.ndarray:
    """The cardinal cubic B-spline on [0, 4) (zero elsewhere)."""
    pieces = [
        u**3,
        -3 * u**3 + 12 * u**2 - 12 * u + 4,
        3 * u**3 - 24 * u**2 + 60 * u - 44,
        (4 - u) ** 3,
    ]
    idx = np.floor(u).astype(int)
    out = np.zeros_like(u)
    for k, piece in enumerate(pieces):
        out = np.where(idx == k, piece / 6.0, out)
    return out


def _spline(n: int, every: int) -> tuple[np.ndarray, np.ndarray]:
    """Cubic B-spline basis on 0..n-1 with equally spaced knots, and its 2nd-difference matrix."""
    segments = max(int(np.ceil((n - 1) / every)), 1)
    step = (n - 1.0) / segments if n > 1 else 1.0
    starts = -3 * step + step * np.arange(segments + 3)
    basis = _cardinal_cubic((np.arange(n, dtype=float)[:, None] - starts[None, :]) / step)
    diff2 = np.diff(np.eye(basis.shape[1]), 2, axis=0)
    return basis, diff2


@dataclass(frozen=True)
class Holidays:
    """Holiday regressors of one market: extra holiday days (steps) and which holidays each period holds."""

    steps: np.ndarray  # periods x k: 1 where the period has >= 2, >= 3 holiday days
    present: np.ndarray  # periods x holidays: 1 where the period holds that recurring holiday
    names: list[str]

    @classmethod
    def none(cls, n: int) -> Holidays:
        """No holiday regressors."""
        return cls(np.zeros((n, 0)), np.zeros((n, 0)), [])

    def active(self, effect: np.ndarray | None) -> np.ndarray:
        """One-hot of the strongest holiday of each period (mean of all before effects are known)."""
        if effect is None or not self.names:
            count = self.present.sum(axis=1, keepdims=True)
            return np.divide(self.present, count, out=np.zeros_like(self.present), where=count > 0)
        strength = np.where(self.present > 0, np.abs(effect)[None, :], -1.0)
        onehot = np.zeros_like(self.present)
        rows = np.flatnonzero(self.present.any(axis=1))
        onehot[rows, strength[rows].argmax(axis=1)] = 1.0
        return onehot


def _linked(a: np.ndarray, b: np.ndarray, days: int = 3) -> bool:
    """Whether most days of the rarer holiday lie within `days` of a day of the other."""
    rare, other = (a, b) if len(a) <= len(b) else (b, a)
    pos = (
        np.clip(np.searchsorted(other, rare), 1, len(other) - 1)
        if len(other) > 1
        else np.zeros(len(rare), int)
    )
    gap = np.minimum(np.abs(other[pos] - rare), np.abs(other[np.maximum(pos - 1, 0)] - rare))
    return bool(np.mean(gap.astype("timedelta64[D]").astype(int) <= days) > 0.5)


def festivals(cal: tuple[tuple[np.datetime64, str], ...]) -> dict[str, np.ndarray]:
    """Group holiday names that fall together (Chuseok, its eve, its substitute day ...) into one festival."""
    return dict(
        _festivals(cal)
    )  # markets of one country share a calendar: grouped once per process


@functools.lru_cache(maxsize=1024)
def _festivals(cal: tuple[tuple[np.datetime64, str], ...]) -> dict[str, np.ndarray]:
    """`festivals`, computed once per calendar (its arrays are read-only)."""
    by_name: dict[str, list[np.datetime64]] = {}
    for day, name in cal:
        by_name.setdefault(name, []).append(day)
    names = sorted(by_name, key=lambda nm: (-len(by_name[nm]), len(nm), nm))
    days = {nm: np.unique(np.array(by_name[nm])) for nm in names}
    parent = {nm: nm for nm in names}

    def root(nm: str) -> str:
        """Union-find root."""
        while parent[nm] != nm:
            nm = parent[nm]
        return nm

    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            if root(a) != root(b) and _linked(days[a], days[b]):
                parent[root(b)] = root(a)
    groups: dict[str, list[np.ndarray]] = {}
    for nm in names:  # most frequent (then shortest) name first: it names the festival
        groups.setdefault(root(nm), []).append(days[nm])
    out = {nm: np.unique(np.concatenate(parts)) for nm, parts in groups.items()}
    for arr in out.values():
        arr.setflags(write=False)
    return out


def holidays_of(country: str | None, times: pd.DatetimeIndex, min_count: int = 2) -> Holidays:
    """Holiday regressors from a country's calendar (`fcast.data.calendar`); none when unknown."""
    cal = market_holidays(country, times) if country else ()
    if not cal:
        return Holidays.none(len(times))
    lo, hi = period_bounds(times)
    count = holiday_count(country, times)
    steps = np.column_stack([(count >= k).astype(float) for k in (2, 3)])
    cols, names = [], []
    for name, arr in festivals(cal).items():
        hit = (np.searchsorted(arr, hi) - np.searchsorted(arr, lo)) > 0
        if hit.sum() >= min_count:
            cols.append(hit.astype(float))
            names.append(name)
    present = np.column_stack(cols) if cols else np.zeros((len(times), 0))
    return Holidays(steps[:, steps.any(axis=0)], present, names)


@dataclass(frozen=True)
class Design:
    """The fixed part of the design [trend | season | extra holiday days], holidays, penalties."""

    fixed: np.ndarray
    penalty: np.ndarray
    holidays: Holidays
    ridge: float = 0.05

    def matrix(self, effect: np.ndarray | None) -> np.ndarray:
        """The full design matrix for the current holiday effects."""
        return np.concatenate([self.fixed, self.holidays.active(effect)], axis=1)

    def full_penalty(self) -> np.ndarray:
        """Penalty of the fixed part plus a light ridge on the holiday effects."""
        k = len(self.holidays.names)
        out = np.zeros((self.fixed.shape[1] + k,) * 2)
        out[: self.fixed.shape[1], : self.fixed.shape[1]] = self.penalty
        out[self.fixed.shape[1] :, self.fixed.shape[1] :] = self.ridge * np.eye(k)
        return out


def design(
    times: pd.DatetimeIndex,
    season_length: int,
    country: str | None,
    knot_every: int,
    harmonics: int,
) -> Design:
    """Trend spline, Fourier season (with two seasons of data) and holiday regressors of one market."""
    n = len(times)
    basis, diff2 = _spline(n, knot_every)
    use_season = season_length >= 2 and n >= 2 * season_length
    k = min(harmonics, season_length // 2) if use_season else 0
    season = _fourier(_phase(times, season_length), k) if k else np.zeros((n, 0))
    hol = holidays_of(country, times)
    fixed = np.concatenate([basis, season, hol.steps], axis=1)
    penalty = 1e-6 * np.eye(fixed.shape[1])
    penalty[: basis.shape[1], : basis.shape[1]] += 1e-3 * diff2.T @ diff2
    steps = np.arange(fixed.shape[1] - hol.steps.shape[1], fixed.shape[1])
    penalty[steps, steps] = STEP_RIDGE
    return Design(fixed, penalty, hol)


def _mad(r: np.ndarray) -> float:
    """Robust scale of residuals (1.4826 x median absolute deviation from the median)."""
    s = MAD_SCALE * float(np.median(np.abs(r - np.median(r)))) if r.size else float("nan")
    return s if s > 1e-12 else float(np.std(r)) if r.size > 1 else float("nan")


def _weights(r: np.ndarray, scale: float, usable: np.ndarray, huber: bool) -> np.ndarray:
    """Huber or Tukey bisquare weights of scaled residuals (zero where unusable)."""
    u = np.abs(r) / scale
    w = (
        np.minimum(1.0, HUBER_K / np.maximum(u, 1e-12))
        if huber
        else np.clip(1 - (u / BISQUARE_C) ** 2, 0, None) ** 2
    )
    return np.where(usable, w, 0.0)


def _irls(
    logy: np.ndarray, d: Design, usable: np.ndarray, iterations: tuple[int, int] = (4, 6)
) -> tuple[np.ndarray, float]:
    """Penalized IRLS (Huber, then bisquare); the fitted values and the residual scale."""
    y = np.where(usable, logy, 0.0)
    w = usable.astype(float)
    penalty, nf = d.full_penalty(), d.fixed.shape[1]
    effect, fit, scale = None, np.zeros_like(y), float("nan")
    for it in range(sum(iterations)):
        x = d.matrix(effect)
        xtw = x.T * w
        beta = np.linalg.solve(xtw @ x + penalty, xtw @ y)
        fit, effect = x @ beta, beta[nf:]
        r = y - fit
        scale = _mad(r[usable])
        if not np.isfinite(scale) or scale <= 0:
            break
        w = _weights(r, scale, usable, huber=it < iterations[0])
    return fit, scale


def fit_baseline(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    season_length: int,
    country: str | None,
    excluded: np.ndarray,
    knot_every: int,
    harmonics: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Log baseline and robust z-scores of one market's observed span (NaN where unusable)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.log(values)
    usable = np.isfinite(logy) & ~excluded
    if usable.sum() < 4:
        return np.full(len(values), np.nan), np.full(len(values), np.nan)
    fit, scale = _irls(logy, design(times, season_length, country, knot_every, harmonics), usable)
    z = np.where(usable, (logy - fit) / max(scale, MIN_SCALE), np.nan)
    return fit, z


def observed_span(values: np.ndarray) -> slice:
    """From a market's first to its last observation."""
    obs = np.flatnonzero(np.isfinite(values))
    return slice(int(obs[0]), int(obs[-1]) + 1) if obs.size else slice(0, 0)


def calendar_of(market: str, use_holidays: bool, countries: dict[str, str] | None) -> str | None:
    """The holiday calendar of a market (`calendar.country_of`: the mapping, the fix-ups, the code)."""
    return country_of(market, countries) if use_holidays else None


def window_mask(times: pd.DatetimeIndex, windows: pd.DataFrame, market: str) -> np.ndarray:
    """Periods of a market covered by any of its windows (inclusive dates)."""
    mask = np.zeros(len(times), dtype=bool)
    if windows is None or windows.empty:
        return mask
    for w in windows[windows["market"] == market].itertuples(index=False):
        mask |= (times >= pd.Timestamp(w.start)) & (times <= pd.Timestamp(w.end))
    return mask
