"""The one holiday calendar: a market's public holidays, and holiday features x(market, time, feature).

Every part that needs holidays asks here: cleaning (holiday regressors of the baseline),
QA (holiday weeks exempt from the jump check), the sample generator and the models'
features. Each market code maps to a country of the `holidays` package (`country_of`:
an explicit mapping first -- the `country` column of the markets table and
``holidays.country`` of the config, see `fcast.jobs.prepare.run_countries` -- then
``COUNTRY``, which fixes the few codes that differ, such as ``UK -> GB`` and ``EL -> GR``);
names are English where the package has them. `has_calendar` says whether a market gets
holidays at all (QA reports those that do not: check ``calendar``).
`market_holidays` lists a market's holidays over a time index, `holiday_count` and
`holiday_periods` count them per period, and `period_bounds` says where each period
starts and ends.

Features: every holiday day is put in exactly one group (``GROUPS``, first regex match on
its English name, else ``other``); custom events (a yearly festival, a one-off date range) add groups of
their own. A feature is the share of a period's days that fall on a holiday of the group:
for weekly data (W-MON) the share of the week's seven days. Lead/lag features shift a group
by whole periods (``easter_lead1`` at week t is the easter share of week t+1), so the weeks
before or after a holiday can get an effect of their own.

Calendars are known in advance, so features exist for any date: the caller passes the full
index, history plus horizon (`future_index`), and the stages slice it like `y`.

Models pick columns by hyperparameters (`columns`): ``holidays`` is a set name from
``SETS`` (``all``, ``moving``, ``none``) or comma-separated group names, ``holiday_lead``
and ``holiday_lag`` the largest shifts used.
"""

from __future__ import annotations

import functools
import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from fcast.errors import ConfigError

#: holiday group -> regex on the holiday's (English) name; the first match wins, in this order
GROUPS: dict[str, re.Pattern[str]] = {
    "easter": re.compile(
        r"\b(easter|good friday|holy (thursday|saturday|week)|maundy|ascension|pentecost|whit|"
        r"corpus christi|carnival|shrove|ash wednesday)\b",
        re.IGNORECASE,
    ),
    "moving_religious": re.compile(  # the big multi-day moving festivals
        r"\b(eid|ramadan|arafah|lunar new year|chinese new year|korean new year|seollal|chuseok|tet|"
        r"diwali|deepavali|holi|dussehra|dasara|passover|rosh hashanah|yom kippur|sukkot)\b",
        re.IGNORECASE,
    ),
    "religious_other": re.compile(  # the other moving religious days
        r"\b(islamic new year|hijri|prophet|isra|mi'?raj|mawlid|ashura|mid-autumn|dragon boat|qingming|"
        r"navratri|janmashtami|vesak|buddha|nyepi|day of silence|hanukkah|thaipusam|ganesh|guru|mahavir|muharram)\b",
        re.IGNORECASE,
    ),
    "christmas_newyear": re.compile(
        r"\b(christmas|boxing day|st\.? stephen|new year|epiphany|saint sylvester)\b", re.IGNORECASE
    ),
    "national": re.compile(
        r"\b(independence|national|republic|constitution|liberation|unity|unification|victory|revolution|"
        r"foundation|founding|flag|armed forces|king|queen|emperor|monarch|restoration|reformation)\b",
        re.IGNORECASE,
    ),
}
OTHER = "other"

#: named sets of groups a model can ask for
SETS: dict[str, tuple[str, ...]] = {
    "none": (),
    "moving": ("easter", "moving_religious"),
    "religious": ("easter", "moving_religious", "religious_other"),
    "fixed": ("christmas_newyear", "national", OTHER),
    "all": (*GROUPS, OTHER),
}

#: market codes that are not the holidays package's country code
COUNTRY: dict[str, str] = {"UK": "GB", "EL": "GR"}

_DAY = np.timedelta64(1, "D")


def group_of(name: str) -> str:
    """The group of one holiday name (a day holding several holidays takes the first listed)."""
    first = name.split(";")[0]
    for group, pattern in GROUPS.items():
        if pattern.search(first):
            return group
    return OTHER


def country_of(market: str, country: Mapping[str, str] | None = None) -> str:
    """The `holidays` country code of a market: `country` first, then the ``COUNTRY`` fix-up, else the code."""
    return {**COUNTRY, **(country or {})}.get(market, market)


def known_country(code: str) -> bool:
    """Whether the `holidays` package has a calendar for a country code."""
    return _country_calendar(str(code), (2020,)) is not None


def has_calendar(market: str, country: Mapping[str, str] | None = None) -> bool:
    """Whether a market gets public holidays: its country (`country_of`) is known to the `holidays` package."""
    return known_country(country_of(market, country))


@functools.lru_cache(maxsize=512)
def _country_calendar(code: str, years: tuple[int, ...]) -> tuple[tuple[Any, str], ...] | None:
    """(date, names) of a country's public holidays, English names where the package has them; None if unknown."""
    import holidays

    try:
        cal = holidays.country_holidays(code, years=years)
        if "en_US" in cal.supported_languages:
            cal = holidays.country_holidays(code, years=years, language="en_US")
    except (NotImplementedError, KeyError, AttributeError):
        return None
    return tuple(sorted(cal.items()))


def calendar(
    market: str, years: Iterable[int], country: Mapping[str, str] | None = None
) -> dict[Any, str]:
    """date -> holiday name(s) for a market's country (English names when the package has them); {} if unknown."""
    code = country_of(market, country)
    cal = _country_calendar(code, tuple(years))
    if cal is None:
        warnings.warn(
            f"no holiday calendar for market {market!r} (country {code!r}); its holiday features are 0",
            stacklevel=2,
        )
        return {}
    return dict(cal)


def period_bounds(
    times: pd.DatetimeIndex, freq: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Each period's first day and the day after its last, as datetime64[D].

    The last period ends one `freq` after its start, or (without `freq`) one step of the index.
    """
    times = pd.DatetimeIndex(times)
    lo = times.to_numpy().astype("datetime64[D]")
    if freq is not None and len(lo):
        last = (times[-1] + pd.tseries.frequencies.to_offset(freq)).to_datetime64()
        return lo, np.r_[lo[1:], np.datetime64(last, "D")]
    if len(lo) < 2:
        return lo, lo + 1
    return lo, np.r_[lo[1:], lo[-1] + (lo[-1] - lo[-2])]


_NAME_SUFFIX = re.compile(r"\s*\((observed|estimated)\)", re.IGNORECASE)


def _years(times: pd.DatetimeIndex, freq: str | None) -> tuple[int, ...]:
    """The calendar years the periods of `times` touch."""
    lo, hi = period_bounds(times, freq)
    return tuple(range(int(str(lo[0])[:4]), int(str(hi[-1])[:4]) + 1))


def market_holidays(
    market: str,
    times: pd.DatetimeIndex,
    country: Mapping[str, str] | None = None,
    freq: str | None = None,
) -> tuple[tuple[np.datetime64, str], ...]:
    """(day, name) of every holiday of a market over the periods of `times`; () when its country is unknown.

    A day holding several holidays gives one pair per name; "(observed)" and "(estimated)"
    are dropped from names, so a substitute day counts with its holiday.
    """
    if len(times) == 0:
        return ()
    return _named_days(country_of(market, country), _years(pd.DatetimeIndex(times), freq))


@functools.lru_cache(maxsize=512)
def _named_days(code: str, years: tuple[int, ...]) -> tuple[tuple[np.datetime64, str], ...]:
    """One (day, name) pair per holiday name of a country's calendar; () when unknown."""
    cal = _country_calendar(code, years) or ()
    return tuple(
        (np.datetime64(day, "D"), _NAME_SUFFIX.sub("", name).strip())
        for day, names in cal
        for name in str(names).split("; ")
    )


def holiday_count(
    market: str,
    times: pd.DatetimeIndex,
    country: Mapping[str, str] | None = None,
    freq: str | None = None,
) -> np.ndarray:
    """Public holiday days in each period of `times` (zeros when the country is unknown)."""
    found = market_holidays(market, times, country, freq)
    if not found:
        return np.zeros(len(times), dtype=int)
    days = np.unique(np.array([d for d, _ in found]))
    lo, hi = period_bounds(pd.DatetimeIndex(times), freq)
    return np.searchsorted(days, hi) - np.searchsorted(days, lo)


def holiday_periods(
    market: str,
    times: pd.DatetimeIndex,
    country: Mapping[str, str] | None = None,
    freq: str | None = None,
) -> np.ndarray:
    """Whether each period holds a public holiday of the market's country (all False when unknown)."""
    return holiday_count(market, times, country, freq) > 0


def _share(days: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Share of the days in [lo, hi) that are in the sorted, unique `days`."""
    days = np.unique(days)
    count = np.searchsorted(days, hi) - np.searchsorted(days, lo)
    return count / ((hi - lo) / _DAY)


def expand_events(
    events: Mapping[str, Sequence[str]], years: Iterable[int]
) -> dict[str, np.ndarray]:
    """Custom event group -> its days. An entry is a date 'YYYY-MM-DD', a range 'YYYY-MM-DD/YYYY-MM-DD'
    (inclusive), or a yearly date or range 'MM-DD' / 'MM-DD/MM-DD' repeated every year."""
    out: dict[str, np.ndarray] = {}
    years = list(years)
    for name, entries in events.items():
        if name in GROUPS or name == OTHER:
            raise ValueError(f"custom event {name!r} clashes with a built-in holiday group")
        days: list[np.ndarray] = []
        for entry in entries:
            start, _, end = str(entry).partition("/")
            end = end or start
            starts = [start] if len(start) > 5 else [f"{y}-{start}" for y in years]
            ends = [end] if len(end) > 5 else [f"{y}-{end}" for y in years]
            for a, b in zip(starts, ends, strict=True):
                try:
                    a64, b64 = np.datetime64(a, "D"), np.datetime64(b, "D")
                except ValueError:
                    raise ValueError(
                        f"custom event {name!r}: {entry!r} is not a date 'YYYY-MM-DD', 'MM-DD' or a range 'a/b'"
                    ) from None
                if b64 < a64:
                    raise ValueError(f"custom event {name!r}: {entry!r} ends before it starts")
                days.append(np.arange(a64, b64 + _DAY, _DAY))
        out[name] = np.unique(np.concatenate(days)) if days else np.array([], dtype="datetime64[D]")
    return out


def parse_event_calendars(raw: object, source: str = "<events>") -> dict[str, list[str]]:
    """Validate custom event calendars (already read from YAML): ``events: {festival: ["06-20/06-23"], ...}``.

    Each name becomes a holiday-feature group of its own; an entry is a date, a range or a
    yearly date or range (see `expand_events`). The known disruptions that cleaning removes
    (``events: [{market, start, end, ...}]``) are a different file, see
    `fcast.data.clean.parse_disruptions`. Reading the file is `fcast.config.load_event_calendars`.
    """
    events = raw.get("events", raw) if isinstance(raw, dict) else None
    if isinstance(events, list):
        raise ConfigError(
            f"invalid event calendars {source}: events: expected a mapping of names to dates; "
            "a list of market/start/end entries is a file of known disruptions, which belongs "
            "under clean.events"
        )
    if not isinstance(events, dict) or not all(isinstance(v, list) for v in events.values()):
        raise ConfigError(
            f"invalid event calendars {source}: expected 'events: {{name: [date or range, ...]}}'"
        )
    out = {str(k): [str(e) for e in v] for k, v in events.items()}
    try:
        expand_events(out, [2000])  # a leap year: every yearly date exists
    except ValueError as exc:
        raise ConfigError(f"invalid event calendars {source}: {exc}") from None
    return out


def feature_names(groups: Sequence[str], lead: int = 0, lag: int = 0) -> list[str]:
    """Column names: each group, then its leads and lags."""
    names = []
    for g in groups:
        names.append(g)
        names += [f"{g}_lead{k}" for k in range(1, lead + 1)]
        names += [f"{g}_lag{k}" for k in range(1, lag + 1)]
    return names


def _group_days(
    market: str,
    years: Iterable[int],
    country: Mapping[str, str] | None,
    groups: Sequence[str],
    custom: Mapping[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Holiday days of a market per group (custom events are the same for every market)."""
    by_group: dict[str, list] = {g: [] for g in groups}
    for day, name in calendar(market, years, country).items():
        g = group_of(name)
        if g in by_group:
            by_group[g].append(np.datetime64(day, "D"))
    return {
        g: custom[g] if g in custom else np.array(by_group[g], dtype="datetime64[D]")
        for g in groups
    }


def _shifted_shares(
    days: Mapping[str, np.ndarray],
    groups: Sequence[str],
    lo: np.ndarray,
    hi: np.ndarray,
    n: int,
    lead: int,
    lag: int,
) -> np.ndarray:
    """x(time, feature) of one market: each group's share, then its leads and lags (lo/hi span the shifts)."""
    cols = []
    for g in groups:
        share = _share(days[g], lo, hi)  # over the extended index: index lag + t is period t
        cols.append(share[lag : lag + n])
        cols += [share[lag + k : lag + k + n] for k in range(1, lead + 1)]
        cols += [share[lag - k : lag - k + n] for k in range(1, lag + 1)]
    return np.column_stack(cols) if cols else np.zeros((n, 0))


def holiday_features(
    markets: Sequence[str],
    time: pd.DatetimeIndex,
    freq: str,
    groups: Sequence[str] | None = None,
    lead: int = 0,
    lag: int = 0,
    events: Mapping[str, Sequence[str]] | None = None,
    country: Mapping[str, str] | None = None,
) -> xr.DataArray:
    """x(market, time, feature): share of each period's days on a holiday of each group, with leads and lags.

    `time` is the full index (history and horizon); `groups` defaults to every built-in group
    plus the custom `events` (which apply to every market).
    """
    time = pd.DatetimeIndex(time)
    offset = pd.tseries.frequencies.to_offset(freq)
    ext = (
        pd.date_range(time[0] - lag * offset, periods=len(time) + lead + lag, freq=offset)
        if len(time)
        else time
    )
    lo, hi = period_bounds(ext, freq)
    years = range(int(str(lo[0])[:4]) - 1, int(str(hi[-1])[:4]) + 1)
    custom = expand_events(events or {}, years)
    groups = list(groups) if groups is not None else [*GROUPS, OTHER, *custom]
    unknown = [g for g in groups if g not in GROUPS and g != OTHER and g not in custom]
    if unknown:
        raise ValueError(f"unknown holiday groups {unknown}; known: {[*GROUPS, OTHER, *custom]}")
    names = feature_names(groups, lead, lag)
    out = np.zeros((len(markets), len(time), len(names)))
    for mi, market in enumerate(markets):
        days = _group_days(str(market), years, country, groups, custom)
        out[mi] = _shifted_shares(days, groups, lo, hi, len(time), lead, lag)
    return xr.DataArray(
        out,
        dims=("market", "time", "feature"),
        coords={"market": np.asarray(markets, dtype=str), "time": time, "feature": names},
        name="x",
        attrs={"freq": freq, "lead": lead, "lag": lag},
    )


def future_index(
    time: pd.DatetimeIndex | xr.DataArray, horizon: int, freq: str
) -> pd.DatetimeIndex:
    """The history's index followed by `horizon` periods: what `holiday_features` needs for apply."""
    time = pd.DatetimeIndex(np.asarray(time))
    future = pd.date_range(time[-1], periods=horizon + 1, freq=freq)[1:]
    return time.append(future)


def group_set(name: str | None) -> tuple[str, ...]:
    """The groups of a set name or comma-separated group list ('' / None / 'none' -> no groups)."""
    if name is None or name in ("", "none"):
        return ()
    if name in SETS:
        return SETS[name]
    return tuple(g.strip() for g in str(name).split(",") if g.strip())


def check_set(name: str | None) -> str | None:
    """A reason a `holidays` value is invalid, or None (custom event names are checked when x is built)."""
    if name is None or name in SETS:
        return None
    if not group_set(name):
        return f"invalid holidays {name!r}: a set name {sorted(SETS)} or comma-separated groups"
    return None


def columns(
    features: Sequence[str], holidays: str | None, lead: int = 0, lag: int = 0
) -> list[int]:
    """Indices of the features a model uses: its groups, with shifts up to its lead and lag."""
    groups = set(group_set(holidays))
    if holidays == "all":  # every group x has, custom events included
        groups |= {re.sub(r"_(lead|lag)\d+$", "", f) for f in features}
    keep = {f"{g}" for g in groups}
    keep |= {f"{g}_lead{k}" for g in groups for k in range(1, lead + 1)}
    keep |= {f"{g}_lag{k}" for g in groups for k in range(1, lag + 1)}
    return [i for i, f in enumerate(features) if f in keep]
