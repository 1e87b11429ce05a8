"""Deterministic generator of the built-in sample data (weekly users per market).

Every series is built from known components so tests can score cleaning and
new-market models against ground truth:

    trend    = ceiling * gompertz(weeks since launch) * exp(piecewise-linear log growth)
    signal   = trend * seasonal * holiday_effect
    clean    = signal * exp(AR(1) noise)
    observed = clean * event factor (one-time disruptions, history only)

Weeks are labelled by their Monday (W-MON period start) and cover Monday..Sunday.
Holiday effects come from the real calendars of the ``holidays`` package: the weekly
holiday load is ``min(1, holiday days in the week / 3)``, and the log effect is
``beta * load`` (beta in -0.15..+0.10 per market) plus, for a few markets, a strong
``gamma`` (-0.5..-0.3 dip or +0.25..+0.4 lift, same sign as beta) in every week holding a
moving holiday (Easter, Eid, Lunar New Year, Diwali ... matched by name in that country's
calendar; see ``STRONG_HOLIDAY_MARKETS``).
Per-market parameters come from per-market random streams, so a market's series does
not change when the number of markets requested changes.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import fsspec
import numpy as np
import pandas as pd

from fcast.contract import bound_columns, levels_in
from fcast.data.calendar import calendar
from fcast.data.sample_markets import EMERGING_POOL, MATURE_POOL, REGIONS

# mature markets with a strong effect of moving holidays (only those selected are used)
STRONG_HOLIDAY_MARKETS: tuple[str, ...] = ("DE", "BR", "ID", "SA", "TR", "KR", "VN", "IN")

_MOVING_HOLIDAY = re.compile(
    r"\b(easter|good friday|holy saturday|ascension|pentecost|carnival|eid|ramadan|"
    r"arafah|lunar new year|chinese new year|korean new year|chuseok|diwali|deepavali)\b",
    re.IGNORECASE,
)

_EVENT_SPECS: dict[str, tuple[tuple[int, int], tuple[float, float], str]] = {
    "outage": ((1, 2), (0.4, 0.7), "app/CDN outage: users drop"),
    "pipeline_spike": ((1, 1), (1.5, 2.5), "data pipeline double-counted events"),
    "campaign": ((3, 6), (1.2, 1.5), "one-off marketing campaign"),
}

_TRUTH_COLUMNS = ["users_clean", "users_signal", "holiday_effect", "trend", "seasonal"]
_WEEK = pd.Timedelta(weeks=1)


@dataclass(frozen=True, eq=False)
class SampleData:
    """Observed sample data plus the ground truth used to generate it.

    actuals: market, date (Monday), users -- observed history up to ``end``.
    markets: one row per market with launch_date, segment_hint, region (continent) and external features.
    events: ground-truth one-time disruptions (market, start, end, kind, effect, note).
    truth: market, date, users_clean, users_signal, holiday_effect, trend, seasonal
        for the history and ``future_weeks`` weeks after ``end``.
    """

    actuals: pd.DataFrame
    markets: pd.DataFrame
    events: pd.DataFrame
    truth: pd.DataFrame


def _sigmoid(x: float | np.ndarray) -> float | np.ndarray:
    """Logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _market_rng(seed: int, code: str, stream: int) -> np.random.Generator:
    """Independent random stream per (seed, market, purpose)."""
    return np.random.default_rng([seed, zlib.crc32(code.encode()), stream])


def _features(seed: int, row: tuple[str, str, float, float, float, float]) -> dict:
    """External features of one market: table values plus seeded plausible derivations."""
    code, name, pop_m, gdp_k, age, urban = row
    rng = _market_rng(seed, code, 0)
    lg = np.log(gdp_k)
    internet = np.clip(
        0.25 + 0.73 * _sigmoid(1.5 * (lg - np.log(6.0))) + rng.normal(0, 0.03), 0.2, 0.99
    )
    smartphone = np.clip(internet * rng.uniform(0.82, 0.98), 0.15, 0.97)
    streaming = np.clip(
        0.05 + 0.6 * _sigmoid(1.2 * (lg - np.log(15.0))) + rng.normal(0, 0.03), 0.04, 0.75
    )
    return {
        "market": code,
        "name": name,
        "region": REGIONS[code.split("-")[0]],  # a copy (US-0070): its original's
        "population": int(round(pop_m * 1e6)),
        "gdp_per_capita": float(gdp_k * 1000.0),
        "internet_penetration": round(float(internet), 4),
        "smartphone_penetration": round(float(smartphone), 4),
        "music_streaming_adoption": round(float(streaming), 4),
        "urban_share": float(urban),
        "median_age": float(age),
    }


def _curve_params(seed: int, feat: dict) -> dict[str, float]:
    """Launch-curve parameters as a smooth function of the external features plus noise."""
    rng = _market_rng(seed, feat["market"], 1)
    z_gdp = (np.log(feat["gdp_per_capita"] / 1000.0) - np.log(20.0)) / 1.2
    z_net = (feat["internet_penetration"] - 0.8) / 0.15
    z_phone = (feat["smartphone_penetration"] - 0.7) / 0.15
    z_urban = (feat["urban_share"] - 0.7) / 0.17
    z_age = (feat["median_age"] - 37.0) / 7.5
    share = 0.06 + 0.18 * _sigmoid(0.6 * z_gdp + 0.5 * z_phone - 0.3 * z_age + rng.normal(0, 0.35))
    speed = 0.015 + 0.085 * _sigmoid(
        0.6 * z_net + 0.5 * z_urban - 0.4 * z_age + rng.normal(0, 0.35)
    )
    ceiling = feat["population"] * feat["music_streaming_adoption"] * share
    return {
        "ceiling": float(ceiling),
        "speed": float(speed),
        "b": float(3.0 * np.exp(rng.normal(0, 0.1))),
    }


def _gompertz(weeks: np.ndarray, speed: float, b: float) -> np.ndarray:
    """Saturating launch curve in (0, 1] as a function of weeks since launch."""
    return np.exp(-b * np.exp(-speed * np.maximum(weeks, 0.0)))


def _log_trend(rng: np.random.Generator, t_years: np.ndarray, hist_years: float) -> np.ndarray:
    """Piecewise-linear log growth from 0 at t=0 with 1-3 changepoints inside the history."""
    slopes = [float(np.clip(rng.normal(0.06, 0.06), -0.10, 0.30))]
    n_cp = int(rng.integers(1, 4)) if hist_years > 1.5 else 0
    cps = np.sort(rng.uniform(0.1 * hist_years, hist_years - 0.5, n_cp)) if n_cp else np.array([])
    for _ in cps:
        slopes.append(float(np.clip(slopes[-1] + rng.normal(0, 0.06), -0.12, 0.35)))
    out = slopes[0] * t_years
    for cp, (s_prev, s_new) in zip(cps, zip(slopes[:-1], slopes[1:], strict=True), strict=True):
        out = out + (s_new - s_prev) * np.maximum(t_years - cp, 0.0)
    return out


def _seasonal(rng: np.random.Generator, dates: pd.DatetimeIndex) -> np.ndarray:
    """Smooth yearly Fourier seasonality (multiplicative), amplitude 3-15%."""
    coef = rng.normal(0, 1, (3, 2)) / np.arange(1, 4)[:, None]
    amp = rng.uniform(0.03, 0.15)

    def wave(frac: np.ndarray) -> np.ndarray:
        """Raw Fourier sum at year fractions."""
        k = np.arange(1, 4)[:, None] * 2 * np.pi * frac[None, :]
        return coef[:, 0] @ np.sin(k) + coef[:, 1] @ np.cos(k)

    grid = wave(np.arange(365) / 365.0)
    scale = amp / ((grid.max() - grid.min()) / 2)
    mid = dates + pd.Timedelta(days=3)
    frac = ((mid.dayofyear.to_numpy() - 1) / 365.25) % 1.0
    return np.exp(scale * (wave(frac) - grid.mean()))


def _holiday_days(code: str, dates: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Count holiday days and moving-holiday days in each Monday..Sunday week (a copy ``US-0070``: US's)."""
    cal = calendar(code.split("-")[0], range(dates[0].year, dates[-1].year + 1))
    days = np.array(sorted(cal.keys()), dtype="datetime64[D]")
    moving = np.array(
        [d for d in days if _MOVING_HOLIDAY.search(cal.get(d.item()))], dtype="datetime64[D]"
    )
    lo = dates.to_numpy().astype("datetime64[D]")

    def count(arr: np.ndarray) -> np.ndarray:
        """Holidays of arr in [Monday, Monday + 7)."""
        return np.searchsorted(arr, lo + 7) - np.searchsorted(arr, lo)

    return count(days).astype(float), count(moving).astype(float)


def _holiday_coefs(rng: np.random.Generator, strong: bool) -> tuple[float, float]:
    """Log effects of holiday load (beta) and of moving holidays (gamma, same sign, strong only)."""
    dip = rng.uniform() < (0.75 if strong else 0.6)
    beta = -rng.uniform(0.02, 0.15) if dip else rng.uniform(0.02, 0.10)
    if not strong:
        return float(beta), 0.0
    return float(beta), float(-rng.uniform(0.30, 0.50) if dip else rng.uniform(0.25, 0.40))


def _holiday_effect(
    rng: np.random.Generator, code: str, dates: pd.DatetimeIndex, strong: bool
) -> np.ndarray:
    """Multiplicative weekly holiday factor from the country's real calendar."""
    beta, gamma = _holiday_coefs(rng, strong)
    n_all, n_moving = _holiday_days(code, dates)
    return np.exp(beta * np.minimum(n_all / 3.0, 1.0) + gamma * np.minimum(n_moving, 1.0))


def _ar_noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """Mildly autocorrelated multiplicative noise, sd 1-4%."""
    sd, phi = rng.uniform(0.01, 0.04), rng.uniform(0.0, 0.5)
    eps = rng.normal(0, sd * np.sqrt(1 - phi**2), n)
    out = np.empty(n)
    prev = rng.normal(0, sd)
    for i in range(n):
        prev = phi * prev + eps[i]
        out[i] = prev
    return np.exp(out)


def _market_truth(
    seed: int,
    feat: dict,
    launch: pd.Timestamp,
    start: pd.Timestamp,
    end: pd.Timestamp,
    last: pd.Timestamp,
    strong: bool,
) -> pd.DataFrame:
    """Ground-truth components of one market from max(start, launch) to last."""
    params = _curve_params(seed, feat)
    rng = _market_rng(seed, feat["market"], 2)
    first = max(start, launch)
    dates = pd.date_range(first, last, freq="7D")
    t_years = (dates - first).days.to_numpy() / 365.25
    curve = _gompertz((dates - launch).days.to_numpy() / 7.0, params["speed"], params["b"])
    trend = (
        params["ceiling"] * curve * np.exp(_log_trend(rng, t_years, (end - first).days / 365.25))
    )
    seasonal = _seasonal(rng, dates)
    hol = _holiday_effect(rng, feat["market"], dates, strong)
    signal = trend * seasonal * hol
    return pd.DataFrame(
        {
            "market": feat["market"],
            "date": dates,
            "users_clean": signal * _ar_noise(rng, len(dates)),
            "users_signal": signal,
            "holiday_effect": hol,
            "trend": trend,
            "seasonal": seasonal,
        }
    )


def _monday(value: str | pd.Timestamp) -> pd.Timestamp:
    """Parse a date and require it to be a Monday."""
    ts = pd.Timestamp(value).normalize()
    if ts.dayofweek != 0:
        raise ValueError(f"end must be a Monday, got {ts.date()} ({ts.day_name()})")
    return ts


def _launch_dates(
    rng: np.random.Generator,
    mature: list[str],
    new: list[str],
    pre: list[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> dict[str, pd.Timestamp]:
    """Launch Mondays: mature mostly before history, ~1/4 inside it; new in last year; prelaunch ahead."""
    hist_weeks = (end - start).days // 7
    span = hist_weeks - 4 - 104
    pool = [c for c in mature if c not in STRONG_HOLIDAY_MARKETS]  # keep full holiday history
    n_in = min(len(pool), round(len(mature) / 4)) if span > 0 else 0
    inside = set(rng.choice(pool, n_in, replace=False).tolist()) if n_in else set()
    out = {}
    for code in mature:
        w = int(rng.integers(4, 4 + span + 1)) if code in inside else -int(rng.integers(8, 521))
        out[code] = start + w * _WEEK
    for code in new:
        out[code] = end - int(rng.integers(8, 51)) * _WEEK
    for code in pre:
        out[code] = end + int(rng.integers(4, 21)) * _WEEK
    return out


def _draw_events(
    rng: np.random.Generator,
    mature: list[str],
    launch: dict[str, pd.Timestamp],
    start: pd.Timestamp,
    end: pd.Timestamp,
) -> pd.DataFrame:
    """6-10 non-overlapping one-time disruptions in distinct mature markets, not in the last 8 weeks."""
    n = int(rng.integers(6, 11))
    kinds = list(_EVENT_SPECS) * 2 + rng.choice(list(_EVENT_SPECS), max(n - 6, 0)).tolist()
    markets = rng.choice(mature, min(n, len(mature)), replace=False).tolist()
    taken: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    rows = []
    for kind, code in zip(kinds, markets, strict=False):
        (dmin, dmax), (emin, emax), note = _EVENT_SPECS[kind]
        dur = int(rng.integers(dmin, dmax + 1))
        lo, hi = max(start, launch[code]) + 8 * _WEEK, end - (7 + dur) * _WEEK
        for _ in range(200):
            s = lo + int(rng.integers(0, max((hi - lo).days // 7, 0) + 1)) * _WEEK
            e = s + (dur - 1) * _WEEK
            if s <= hi and all(e + _WEEK < a or s > b + _WEEK for a, b in taken):
                taken.append((s, e))
                rows.append((code, s, e, kind, round(float(rng.uniform(emin, emax)), 2), note))
                break
    cols = ["market", "start", "end", "kind", "effect", "note"]
    return pd.DataFrame(rows, columns=cols).sort_values("start", ignore_index=True)


def _apply_events(truth: pd.DataFrame, events: pd.DataFrame, end: pd.Timestamp) -> pd.DataFrame:
    """Observed actuals = clean history times the event factor inside event windows."""
    hist = truth.loc[truth["date"] <= end, ["market", "date", "users_clean"]]
    factor = np.ones(len(hist))
    for ev in events.itertuples(index=False):
        mask = (hist["market"] == ev.market) & hist["date"].between(ev.start, ev.end)
        factor[mask.to_numpy()] *= ev.effect
    out = hist.rename(columns={"users_clean": "users"}).reset_index(drop=True)
    out["users"] = out["users"].to_numpy() * factor
    return out


def scaled_pool(n: int) -> tuple[tuple[str, str, float, float, float, float], ...]:
    """`n` mature market rows: `MATURE_POOL`, then copies of it coded ``US-0070``, ``GB-0071`` ..."""
    size = len(MATURE_POOL)
    copies = [
        (f"{row[0]}-{k:04d}", f"{row[1]} {k}", *row[2:])
        for k in range(size, n)
        for row in (MATURE_POOL[k % size],)
    ]
    return MATURE_POOL[:n] + tuple(copies)


def _select(n: int, pool: tuple, what: str) -> list[tuple]:
    """First n rows of a pool, with a clear error when asking for too many."""
    if not 0 <= n <= len(pool):
        raise ValueError(f"{what} must be in 0..{len(pool)}, got {n}")
    return list(pool[:n])


def _build_truth(
    seed: int,
    feats: list[dict],
    launch: dict[str, pd.Timestamp],
    mature: set[str],
    span: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp],
) -> pd.DataFrame:
    """Ground truth of all markets launched by the end of the future horizon."""
    start, end, last = span
    parts = [
        _market_truth(
            seed,
            f,
            launch[f["market"]],
            start,
            end,
            last,
            f["market"] in STRONG_HOLIDAY_MARKETS and f["market"] in mature,
        )
        for f in feats
        if launch[f["market"]] <= last
    ]
    return pd.concat(parts, ignore_index=True).sort_values(["market", "date"], ignore_index=True)


def make_sample(
    seed: int = 7,
    end: str = "2026-11-16",
    years: float = 6.0,
    n_mature: int = 60,
    n_new: int = 6,
    n_prelaunch: int = 2,
    future_weeks: int = 104,
    pool: tuple[tuple[str, str, float, float, float, float], ...] = MATURE_POOL,
) -> SampleData:
    """Generate the deterministic sample data set with its ground truth (`pool`: the mature markets drawn from)."""
    end_ts = _monday(end)
    start = end_ts - int(round(years * 365.25 / 7)) * _WEEK
    last = end_ts + future_weeks * _WEEK
    mature_rows = _select(n_mature, pool, "n_mature")
    emerging = _select(n_new + n_prelaunch, EMERGING_POOL, "n_new + n_prelaunch")
    mature = [r[0] for r in mature_rows]
    new, pre = [r[0] for r in emerging[:n_new]], [r[0] for r in emerging[n_new:]]
    rng = np.random.default_rng(seed)
    launch = _launch_dates(rng, mature, new, pre, start, end_ts)
    events = _draw_events(rng, mature, launch, start, end_ts)
    feats = [_features(seed, row) for row in mature_rows + emerging]
    truth = _build_truth(seed, feats, launch, set(mature), (start, end_ts, last))
    segment = {
        **dict.fromkeys(mature, "mature"),
        **dict.fromkeys(new, "new"),
        **dict.fromkeys(pre, "prelaunch"),
    }
    markets = _markets_frame(feats, launch, segment)
    return SampleData(_apply_events(truth, events, end_ts), markets, events, truth)


def make_scaled_sample(
    markets: int, seed: int = 7, years: float = 4.0, future_weeks: int = 0
) -> SampleData:
    """A sample of any size: `markets` mature markets (`scaled_pool`), no new or pre-launch ones.

    Copies of a pool market have their own random streams (their codes differ), so every
    series is different; their holiday effects follow the original's country (`copy_countries`
    maps the copies to it for ``holidays.country``).
    """
    return make_sample(
        seed=seed,
        years=years,
        n_mature=markets,
        n_new=0,
        n_prelaunch=0,
        future_weeks=future_weeks,
        pool=scaled_pool(markets),
    )


def copy_countries(markets: list[str]) -> dict[str, str]:
    """Holiday country of each copied market (``US-0070`` -> ``US``), for ``holidays.country``."""
    return {m: m.split("-")[0] for m in markets if "-" in m}


def _markets_frame(
    feats: list[dict], launch: dict[str, pd.Timestamp], segment: dict[str, str]
) -> pd.DataFrame:
    """Assemble the one-row-per-market table of launch dates, segments and features."""
    df = pd.DataFrame(feats)
    df.insert(2, "launch_date", pd.to_datetime([launch[c] for c in df["market"]]))
    df.insert(3, "segment_hint", [segment[c] for c in df["market"]])
    return df.sort_values("market", ignore_index=True)


def write_sample(root: str, data: SampleData | None = None) -> dict[str, str]:
    """Write actuals.parquet, markets.parquet, events.parquet, truth.parquet under `root` (any fsspec URL; create folder) and return name -> path."""
    data = data if data is not None else make_sample()
    fs, base = fsspec.core.url_to_fs(root)
    fs.makedirs(base, exist_ok=True)
    out = {}
    for name in ("actuals", "markets", "events", "truth"):
        path = f"{root.rstrip('/')}/{name}.parquet"
        with fs.open(f"{base.rstrip('/')}/{name}.parquet", "wb") as fh:
            getattr(data, name).to_parquet(fh, index=False)
        out[name] = path
    return out


def score_against_truth(forecast: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per market: sMAPE of `yhat` against the sample's undisrupted future, interval coverage per level, weeks."""
    merged = forecast.merge(
        truth[["market", "date", "users_clean"]], on=["market", "date"], how="inner"
    )
    merged = merged[merged["users_clean"] > 0]
    ape = (
        200
        * (merged["yhat"] - merged["users_clean"]).abs()
        / (merged["yhat"].abs() + merged["users_clean"])
    )
    covered = {}
    for lv in levels_in(merged.columns):
        lo, hi = bound_columns([lv])
        inside = (merged["users_clean"] >= merged[lo]) & (merged["users_clean"] <= merged[hi])
        covered[f"coverage_{lv}"] = inside.astype(float)
    scored = merged.assign(smape=ape, **covered)
    return scored.groupby(["market", "segment"], as_index=False).agg(
        smape=("smape", "mean"), **{c: (c, "mean") for c in covered}, weeks=("date", "size")
    )


def truth_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per segment, from `score_against_truth`: markets, median and mean sMAPE over markets, and
    each level's interval coverage pooled over all market-weeks (a median of per-market coverage
    would hide intervals too narrow in some markets and too wide in others)."""
    cover = [c for c in scores.columns if c.startswith("coverage_")]
    pooled = scores[cover].mul(scores["weeks"], axis=0).assign(weeks=scores["weeks"])
    pooled = pooled.groupby(scores["segment"]).sum()
    summary = scores.groupby("segment").agg(
        markets=("market", "size"), smape=("smape", "median"), smape_mean=("smape", "mean")
    )
    summary[cover] = pooled[cover].div(pooled["weeks"], axis=0)
    return summary
