"""Removal of one-time disruptions: known events, automatic detection, counterfactual replacement.

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

Detection proposes a window for every run of periods with ``|z| >= point_z`` of one sign
(runs one period apart are merged) that

- is at most `max_periods` long (weekly: 8; a longer run is a level change, not a one-time event),
- has observed periods on both sides (it reverts; at the edges of a series a disruption
  cannot be told from a new level yet),
- scores ``|sum z| / sqrt(periods) >= threshold`` (default 7).

Kinds: ``dip`` (down), ``spike`` (up, one or two periods), ``lift`` (up, longer). Markets
with less than `min_history` observed periods (default: one season) are not searched.

Removal refits the baseline with every window of the market given weight zero and replaces
each window by the counterfactual ``exp(trend + season + holidays)`` of that fit: the
surrounding series decides the level, the seasonal shape and the holiday effect.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
import xarray as xr
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from fcast.data.calendar import country_of, holiday_count, market_holidays, period_bounds
from fcast.errors import ConfigError
from fcast.yamlio import format_errors

EVENT_COLUMNS = ["market", "start", "end", "kind", "note"]
PROPOSAL_COLUMNS = ["market", "start", "end", "kind", "periods", "effect_pct", "score"]
RECORD_COLUMNS = [
    "market",
    "start",
    "end",
    "kind",
    "source",
    "periods",
    "mean_before",
    "mean_after",
    "change_pct",
    "effect_pct",
    "score",
    "note",
    "applied",
]
MAD_SCALE = 1.4826
HUBER_K, BISQUARE_C = 1.345, 4.685
STEP_RIDGE = 1.0
MIN_SCALE = 1e-3  # residual scale floor (0.1%): near-exact fits do not turn rounding into outliers


# --- known events --------------------------------------------------------------------


class Event(BaseModel):
    """One known disruption: a market (or `*` for all), an inclusive date range, a kind."""

    model_config = ConfigDict(extra="forbid")

    market: str = Field(min_length=1)
    start: date
    end: date
    kind: str = Field("disruption", pattern=r"^[A-Za-z][A-Za-z0-9_-]*$")
    note: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Event:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self


class EventsFile(BaseModel):
    """The disruptions YAML (`clean.events`): a top-level `events` list."""

    model_config = ConfigDict(extra="forbid")

    events: list[Event] = Field(default_factory=list)


def parse_disruptions(raw: object, source: str = "<events>") -> pd.DataFrame:
    """Validate a known-disruptions mapping (already read from YAML); return market, start, end, kind, note.

    The schema is ``events: [{market, start, end, kind, note}, ...]``; the custom event
    calendars of holiday features (``events: {name: [dates]}``) are a different file, see
    `fcast.data.calendar.parse_event_calendars`. Reading the file is `fcast.config.load_disruptions`.
    """
    if raw is None:
        raw = {"events": []}
    if not isinstance(raw, dict):
        raise ConfigError(
            f"invalid events {source}: expected a mapping with an 'events' list at the top level"
        )
    if isinstance(raw.get("events"), dict):
        raise ConfigError(
            f"invalid events {source}: events: expected a list of disruptions "
            "(market, start, end, kind, note); a mapping of names to dates is a holiday event "
            "calendar, which belongs under holidays.events"
        )
    try:
        parsed = EventsFile.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(format_errors(exc, f"invalid events {source}:")) from None
    rows = [ev.model_dump() for ev in parsed.events]
    df = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    df["market"] = df["market"].astype(str).str.strip()
    for col in ("start", "end"):
        df[col] = pd.to_datetime(df[col])
    return df


#: the former name of `parse_disruptions`
parse_events = parse_disruptions


def expand_events(events: pd.DataFrame | None, markets: list[str]) -> pd.DataFrame:
    """Events with `*` repeated for every market, restricted to `markets`."""
    if events is None or events.empty:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    star = events[events["market"] == "*"]
    own = events[events["market"].isin(markets)]
    spread = [star.assign(market=m) for m in markets]
    return pd.concat([own, *spread], ignore_index=True)[EVENT_COLUMNS].sort_values(
        ["market", "start"], ignore_index=True
    )


# --- the baseline: design matrix and robust fit -----------------------------------


def default_max_periods(season_length: int) -> int:
    """Longest one-time disruption: a sixth of a season (weekly data: 8 periods)."""
    return max(1, season_length // 6)


def default_knot_every(season_length: int) -> int:
    """Trend knot spacing: a quarter season, at least twice the longest disruption."""
    return max(season_length // 4, 2 * default_max_periods(season_length), 4)


def _yearly(times: pd.DatetimeIndex, season_length: int) -> bool:
    """Whether `season_length` periods of this time axis make about one year."""
    if len(times) < 2:
        return False
    days = float(np.median(np.diff(times.to_numpy()).astype("timedelta64[D]").astype(float)))
    return abs(days * season_length - 365.25) < 0.1 * 365.25


def _phase(times: pd.DatetimeIndex, season_length: int) -> np.ndarray:
    """Position in the season in [0, 1): day of the year for yearly seasons, else the cycle index."""
    if _yearly(times, season_length):
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
    return {nm: np.unique(np.concatenate(parts)) for nm, parts in groups.items()}


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


def _baseline(
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


def _span(values: np.ndarray) -> slice:
    """From a market's first to its last observation."""
    obs = np.flatnonzero(np.isfinite(values))
    return slice(int(obs[0]), int(obs[-1]) + 1) if obs.size else slice(0, 0)


def _country(market: str, use_holidays: bool, countries: dict[str, str] | None) -> str | None:
    """The holiday calendar of a market (`calendar.country_of`: the mapping, the fix-ups, the code)."""
    return country_of(market, countries) if use_holidays else None


def _window_mask(times: pd.DatetimeIndex, windows: pd.DataFrame, market: str) -> np.ndarray:
    """Periods of a market covered by any of its windows (inclusive dates)."""
    mask = np.zeros(len(times), dtype=bool)
    if windows is None or windows.empty:
        return mask
    for w in windows[windows["market"] == market].itertuples(index=False):
        mask |= (times >= pd.Timestamp(w.start)) & (times <= pd.Timestamp(w.end))
    return mask


# --- detection ---------------------------------------------------------------------


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
        span = _span(values)
        vals, times = values[span], times_all[span]
        if np.isfinite(vals).sum() < max(min_history, 4):
            continue
        excluded = _window_mask(times, exclude, market)
        fit, z = _baseline(
            vals,
            times,
            season_length,
            _country(market, use_holidays, countries),
            excluded,
            knot_every,
            harmonics,
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            logy = np.log(vals)
        rows += _market_proposals(market, times, logy, fit, z, point_z, threshold, max_periods)
    out = pd.DataFrame(rows, columns=PROPOSAL_COLUMNS)
    return out.sort_values(["market", "start"], ignore_index=True) if len(out) else out


# --- removal -----------------------------------------------------------------------


def _replace_market(
    values: np.ndarray,
    times: pd.DatetimeIndex,
    windows: pd.DataFrame,
    season_length: int,
    country: str | None,
    knot_every: int,
    harmonics: int,
) -> tuple[np.ndarray, np.ndarray]:
    """One market's series with its windows replaced by the baseline fitted without them, and what changed."""
    excluded = _window_mask(times, windows, windows["market"].iloc[0])
    fit, _ = _baseline(values, times, season_length, country, excluded, knot_every, harmonics)
    replaced = excluded & np.isfinite(values) & np.isfinite(fit)
    out = values.copy()
    out[replaced] = np.exp(fit[replaced])
    return out, replaced


def _text(value: object, default: str = "") -> str:
    """A string cell, with NaN/None as the default."""
    return value if isinstance(value, str) else default


def _record_row(
    w: object, times: pd.DatetimeIndex, before: np.ndarray, after: np.ndarray, replaced: np.ndarray
) -> dict:
    """What one window replaced: periods, means before and after, change in percent."""
    inside = (times >= pd.Timestamp(w.start)) & (times <= pd.Timestamp(w.end))
    mask = inside & replaced
    periods = int(mask.sum())
    why = (
        "too little data to fit a baseline"
        if np.isfinite(before[inside]).any()
        else "no observed period in the window"
    )
    mb = float(np.mean(before[mask])) if periods else float("nan")
    ma = float(np.mean(after[mask])) if periods else float("nan")
    note = _text(getattr(w, "note", ""))
    return {
        "market": w.market,
        "start": pd.Timestamp(w.start),
        "end": pd.Timestamp(w.end),
        "kind": _text(getattr(w, "kind", None), "disruption"),
        "source": _text(getattr(w, "source", None), "known"),
        "periods": periods,
        "mean_before": mb,
        "mean_after": ma,
        "change_pct": round(100 * (ma / mb - 1), 2) if periods and mb else float("nan"),
        "effect_pct": float(getattr(w, "effect_pct", float("nan"))),
        "score": float(getattr(w, "score", float("nan"))),
        "note": note if periods else (note + "; " if note else "") + f"not applied: {why}",
        "applied": periods > 0,
    }


def remove(
    y: xr.DataArray,
    windows: pd.DataFrame,
    season_length: int,
    *,
    use_holidays: bool = True,
    countries: dict[str, str] | None = None,
    knot_every: int | None = None,
    harmonics: int = 6,
) -> tuple[xr.DataArray, pd.DataFrame]:
    """Replace each window (market, start, end, ...) by a counterfactual; return y_clean and the record."""
    knot_every = knot_every or default_knot_every(season_length)
    times_all = pd.DatetimeIndex(y["time"].values)
    out = y.copy(data=y.values.astype("float64").copy()).rename("y_clean")
    rows: list[dict] = []
    markets = set(y["market"].values.tolist())
    for market, group in windows.groupby("market", sort=True) if len(windows) else []:
        if market not in markets:
            continue
        values = y.sel(market=market).values.astype("float64")
        span = _span(values)
        vals, times = values[span], times_all[span]
        new, replaced = _replace_market(
            vals,
            times,
            group,
            season_length,
            _country(market, use_holidays, countries),
            knot_every,
            harmonics,
        )
        full = values.copy()
        full[span] = new
        out.loc[{"market": market}] = full
        rows += [_record_row(w, times, vals, new, replaced) for w in group.itertuples(index=False)]
    record = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    out.attrs = {
        **y.attrs,
        "long_name": f"{y.attrs.get('long_name', 'y')} without one-time disruptions",
    }
    return out, record


def clean(
    cube: xr.Dataset,
    events: pd.DataFrame | None,
    *,
    auto: bool,
    season_length: int,
    **detect_kwargs: object,
) -> tuple[xr.Dataset, pd.DataFrame]:
    """Cube with `y` and `y_clean` side by side, and the record of every window (flag `applied`)."""
    y = cube["y"]
    markets = y["market"].values.tolist()
    known = expand_events(events, markets).assign(source="known")
    proposals = detect(y, season_length, exclude=known, **detect_kwargs).assign(source="auto")
    proposals["note"] = "detected automatically" + (
        "" if auto else " (not removed: clean.auto is false)"
    )
    applied = (
        pd.concat([f for f in (known, proposals) if len(f)], ignore_index=True)
        if auto and len(proposals)
        else known
    )
    y_clean, record = remove(y, applied, season_length, **_removal_kwargs(detect_kwargs))
    if not auto and len(proposals):
        skipped = proposals.assign(
            applied=False, mean_before=np.nan, mean_after=np.nan, change_pct=np.nan
        )
        record = pd.concat(
            [f for f in (record, skipped[RECORD_COLUMNS]) if len(f)], ignore_index=True
        )
    return cube.assign(y_clean=y_clean), record.sort_values(["market", "start"], ignore_index=True)


def _removal_kwargs(kwargs: dict[str, object]) -> dict[str, object]:
    """The detection settings that removal shares (holidays, knots, harmonics)."""
    return {
        k: v
        for k, v in kwargs.items()
        if k in ("use_holidays", "countries", "knot_every", "harmonics")
    }


__all__ = [
    "EVENT_COLUMNS",
    "RECORD_COLUMNS",
    "clean",
    "detect",
    "expand_events",
    "design",
    "holidays_of",
    "parse_disruptions",
    "parse_events",
    "remove",
]
