"""The built-in QA checks, on the raw table (level ``table``) and on the cube (level ``cube``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from fcast.data import duplicated_rows, gappy_markets, history_length, on_grid, time_of_day
from fcast.data.calendar import country_of, has_calendar, holiday_periods
from fcast.data.qa.base import (
    SHOWN,
    QAInput,
    dates_text,
    finding,
    register_check,
    row_findings,
    valid_rows,
)

JUMP_WINDOW = 9


# --- table checks ------------------------------------------------------------------------


def check_columns(inp: QAInput) -> list[dict]:
    """The market, date and value columns exist."""
    missing = [c for c in ("market", "date", inp.value) if c not in inp.columns]
    if not missing:
        return []
    return [
        finding(
            "*",
            [],
            f"missing column(s) {missing}; found {inp.columns} "
            f"(expected market, date and the value column {inp.value!r} from data.value)",
        )
    ]


def check_empty(inp: QAInput) -> list[dict]:
    """The table has rows."""
    return [] if len(inp.table) else [finding("*", [], "the actuals table has no rows")]


def check_invalid(inp: QAInput) -> list[dict]:
    """Every row has a market, a parseable date and a numeric value."""
    t = inp.table
    out = []
    if t["bad_market"].any():
        rows = t.index[t["bad_market"]].tolist()
        out.append(finding("*", [], f"{len(rows)} rows without a market (rows {rows[:SHOWN]})"))
    for market, grp in t[t["bad_date"]].groupby("market", sort=True):
        out.append(
            finding(
                str(market), [], f"{len(grp)} unparseable dates (rows {grp.index.tolist()[:SHOWN]})"
            )
        )
    out += row_findings(
        t, t["bad_value"] & ~t["bad_market"] & ~t["bad_date"], f"non-numeric {inp.value!r} values"
    )
    return out


def check_duplicates(inp: QAInput) -> list[dict]:
    """Each (market, date) appears once."""
    t = valid_rows(inp)
    return row_findings(t, duplicated_rows(t), "duplicated dates")


def _on_grid(dates: pd.Series, freq: str) -> pd.Series:
    """Whether each date sits on the frequency's grid (at midnight unless the frequency is sub-daily)."""
    return on_grid(dates, freq)


def check_timezone(inp: QAInput) -> list[dict]:
    """Dates are naive local dates, without a timezone or UTC offset."""
    t = valid_rows(inp)
    out = []
    for market, grp in t[t["tz"]].groupby("market", sort=True):
        out.append(
            finding(
                str(market),
                grp["date"],
                f"{len(grp)} timezone-aware dates in column 'date' (e.g. {grp['raw_date'].iloc[0]}); "
                "convert them to naive local dates first (e.g. df['date'].dt.tz_localize(None))",
            )
        )
    return out


def check_time_of_day(inp: QAInput) -> list[dict]:
    """Dates are at midnight when the frequency has whole days (W-MON, D, MS ...)."""
    t = valid_rows(inp)
    timed = time_of_day(t["date"], inp.freq) & ~t["tz"]
    out = []
    for market, grp in t[timed].groupby("market", sort=True):
        out.append(
            finding(
                str(market),
                grp["date"],
                f"{len(grp)} dates with a time of day (e.g. {grp['date'].iloc[0]}); "
                f"{inp.freq} dates must be at midnight (e.g. df['date'].dt.normalize())",
            )
        )
    return out


def check_misaligned(inp: QAInput) -> list[dict]:
    """Every date is on the frequency's grid."""
    t = valid_rows(inp)
    t = t[~time_of_day(t["date"], inp.freq)]  # reported by time_of_day
    off = ~_on_grid(t["date"], inp.freq)
    return row_findings(t, off, f"dates off the {inp.freq} grid")


def _gap_runs(inp: QAInput) -> dict[str, list[pd.DatetimeIndex]]:
    """Each market's runs of consecutive missing periods between its first and last date."""
    t = valid_rows(inp)
    ok = _on_grid(t["date"], inp.freq).to_numpy()
    t = t if ok.all() else t.loc[ok, ["market", "date"]]  # no copy of a table on the grid
    out: dict[str, list[pd.DatetimeIndex]] = {}
    for market, grp in t[t["market"].isin(gappy_markets(t, inp.freq))].groupby("market", sort=True):
        dates = pd.DatetimeIndex(grp["date"].unique()).sort_values()
        full = pd.date_range(dates[0], dates[-1], freq=inp.freq)
        missing = ~full.isin(dates)
        if not missing.any():
            continue
        run_id = np.cumsum(~missing)[missing]
        out[str(market)] = [full[missing][run_id == r] for r in np.unique(run_id)]
    return out


def _fillable(inp: QAInput, run: pd.DatetimeIndex) -> bool:
    """Whether qa.fill_gaps: interpolate fills this run of missing periods."""
    return inp.qa.fill_gaps == "interpolate" and len(run) <= inp.qa.max_gap


def check_missing_periods(inp: QAInput) -> list[dict]:
    """No market skips a period between its first and last date (unless qa.fill_gaps fills it)."""
    out = []
    for market, runs in _gap_runs(inp).items():
        left = [r for r in runs if not _fillable(inp, r)]
        if not left:
            continue
        gaps = left[0].append(left[1:]) if len(left) > 1 else left[0]
        hint = (
            f" (qa.fill_gaps: interpolate fills runs of at most qa.max_gap={inp.qa.max_gap})"
            if inp.qa.fill_gaps == "interpolate"
            else " (qa.fill_gaps: interpolate fills short gaps)"
        )
        out.append(finding(market, gaps, f"{len(gaps)} missing periods: {dates_text(gaps)}{hint}"))
    return out


def check_filled(inp: QAInput) -> list[dict]:
    """Missing periods filled by linear interpolation (qa.fill_gaps: interpolate), one finding per run."""
    out = []
    for market, runs in _gap_runs(inp).items():
        if not all(_fillable(inp, r) for r in runs):
            continue  # the market fails missing_periods: nothing is filled
        out += [
            finding(
                market,
                run,
                f"{len(run)} missing periods filled by linear interpolation: {dates_text(run)}",
            )
            for run in runs
        ]
    return out


def fill_gaps(table: pd.DataFrame, freq: str) -> pd.DataFrame:
    """market, date, value rows with each market's missing periods interpolated linearly."""
    parts = []
    for market, grp in table.groupby("market", sort=True):
        series = grp.set_index("date")["value"].sort_index()
        full = pd.date_range(series.index[0], series.index[-1], freq=freq)
        if len(full) == len(series):
            parts.append(grp)
            continue
        filled = series.reindex(full).interpolate(method="linear", limit_area="inside")
        parts.append(pd.DataFrame({"market": market, "date": full, "value": filled.to_numpy()}))
    return pd.concat(parts, ignore_index=True) if parts else table


def check_nan(inp: QAInput) -> list[dict]:
    """Every value is present."""
    t = valid_rows(inp)
    return row_findings(t, t["value"].isna() & ~t["bad_value"], f"missing {inp.value!r} values")


def check_non_finite(inp: QAInput) -> list[dict]:
    """Every value is finite (no inf or -inf)."""
    t = valid_rows(inp)
    bad = np.isinf(t["value"].to_numpy())
    return row_findings(t, pd.Series(bad, index=t.index), f"non-finite (inf) {inp.value!r} values")


def check_negative(inp: QAInput) -> list[dict]:
    """No value is negative."""
    t = valid_rows(inp)
    negative = (t["value"] < 0) & ~np.isinf(t["value"])  # -inf is reported by non_finite
    return row_findings(t, negative, f"negative {inp.value!r} values")


def check_zero(inp: QAInput) -> list[dict]:
    """No value is exactly zero (a possible outage or a tracking gap)."""
    t = valid_rows(inp)
    return row_findings(t, t["value"] == 0, f"zero {inp.value!r} values")


def _markets(inp: QAInput) -> set[str]:
    """Markets named in the table."""
    return set(valid_rows(inp)["market"].unique().tolist())


def check_market_appeared(inp: QAInput) -> list[dict]:
    """Markets that were not in the previous run."""
    if inp.previous_markets is None:
        return []
    t = valid_rows(inp)
    new = sorted(_markets(inp) - set(inp.previous_markets))
    if not new:
        return []
    span = t.loc[t["market"].isin(new), ["market", "date"]].groupby("market")["date"]
    first, last = span.min(), span.max()  # a market's span is that of all its dates
    return [finding(m, [first[m], last[m]], "not in the previous run") for m in new]


def check_market_disappeared(inp: QAInput) -> list[dict]:
    """Markets of the previous run that are missing now."""
    if inp.previous_markets is None:
        return []
    gone = sorted(set(inp.previous_markets) - _markets(inp))
    return [finding(m, [], "in the previous run but not in the actuals") for m in gone]


# --- cube checks -------------------------------------------------------------------------


def _last_observed(y: xr.DataArray) -> pd.Series:
    """Each market's last observed period."""
    times = pd.DatetimeIndex(y["time"].values)
    observed = y.notnull().values
    last = observed.shape[1] - 1 - np.argmax(observed[:, ::-1], axis=1)
    return pd.Series(times[last], index=y["market"].values.tolist())


def check_stale(inp: QAInput) -> list[dict]:
    """Each market's last period is recent enough for the run date."""
    y = inp.cube["y"]
    last = _last_observed(y)
    offset = pd.tseries.frequencies.to_offset(inp.freq)
    as_of = pd.Timestamp(inp.as_of) if inp.as_of is not None else last.max()
    current = offset.rollback(as_of.normalize())
    # markets share their last periods: count the periods once per distinct last period
    lags = {end: len(pd.date_range(end, current, freq=inp.freq)) - 1 for end in set(last)}
    out = []
    for market, end in last.items():
        lag = lags[end]
        if lag > inp.qa.stale_after:
            out.append(
                finding(
                    market,
                    [end],
                    f"last period {str(end)[:10]} is {lag} periods before "
                    f"{str(current)[:10]} (allowed: {inp.qa.stale_after}, qa.stale_after)",
                )
            )
    return out


def jump_scores(values: np.ndarray, holiday: np.ndarray | None = None) -> np.ndarray:
    """Robust z-score of each period-over-period log change against the local median change."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logy = np.where(values > 0, np.log(values), np.nan)
    d = np.r_[np.nan, np.diff(logy)]
    if holiday is not None:
        d[holiday | np.r_[False, holiday[:-1]]] = np.nan
    local = pd.Series(d).rolling(JUMP_WINDOW, center=True, min_periods=3).median().to_numpy()
    dev = d - local
    ok = np.isfinite(dev)
    if ok.sum() < JUMP_WINDOW:
        return np.full(len(values), np.nan)
    scale = 1.4826 * np.median(np.abs(dev[ok] - np.median(dev[ok])))
    return dev / scale if scale > 0 else np.full(len(values), np.nan)


def check_jump(inp: QAInput) -> list[dict]:
    """Period-over-period changes far outside the market's usual changes."""
    y = inp.cube["y"]
    times = pd.DatetimeIndex(y["time"].values)
    out = []
    holidays: dict[str, np.ndarray] = {}  # a market's holiday periods are its country's
    for market, values in zip(y["market"].values.tolist(), y.values, strict=True):
        code = country_of(market, inp.countries)
        if code not in holidays:
            holidays[code] = holiday_periods(market, times, inp.countries)
        z = jump_scores(values, holidays[code])
        hits = np.flatnonzero(np.nan_to_num(np.abs(z)) > inp.qa.jump_z)
        if hits.size:
            change = [
                f"{str(times[i])[:10]} ({100 * (values[i] / values[i - 1] - 1):+.0f}%, z {z[i]:+.0f})"
                for i in hits
            ]
            out.append(
                finding(market, times[hits], f"{hits.size} jumps: {', '.join(change[:SHOWN])}")
            )
    return out


def check_short_history(inp: QAInput) -> list[dict]:
    """Markets with less history than the CV design needs (they are handled as new markets)."""
    y = inp.cube["y"]
    history = history_length(y)
    last = _last_observed(y)
    out = []
    for market, n in zip(y["market"].values.tolist(), history.values.tolist(), strict=True):
        if n < inp.min_history:
            first = last[market] - (n - 1) * pd.tseries.frequencies.to_offset(inp.freq)
            out.append(
                finding(
                    market,
                    [first, last[market]],
                    f"{n} periods of history, the CV design needs {inp.min_history}; handled as a new market",
                )
            )
    return out


def check_calendar(inp: QAInput) -> list[dict]:
    """Markets without a holiday calendar: neither a country code nor given a country."""
    y = inp.cube["y"]
    times = pd.DatetimeIndex(y["time"].values)[[0, -1]]
    return [
        finding(
            market,
            times,
            f"no holiday calendar: {country_of(market, inp.countries)!r} is not a country code of the "
            "holidays package, so cleaning, QA and features see no public holidays; "
            "set its country in the markets table (column country) or under holidays.country",
        )
        for market in y["market"].values.astype(str).tolist()
        if not has_calendar(market, inp.countries)
    ]


for _name, _sev, _fn, _level in (
    ("columns", "error", check_columns, "table"),
    ("empty", "error", check_empty, "table"),
    ("invalid", "error", check_invalid, "table"),
    ("duplicates", "error", check_duplicates, "table"),
    ("timezone", "error", check_timezone, "table"),
    ("time_of_day", "error", check_time_of_day, "table"),
    ("misaligned", "error", check_misaligned, "table"),
    ("missing_periods", "error", check_missing_periods, "table"),
    ("filled", "info", check_filled, "table"),
    ("nan", "error", check_nan, "table"),
    ("non_finite", "error", check_non_finite, "table"),
    ("negative", "error", check_negative, "table"),
    ("zero", "warning", check_zero, "table"),
    ("market_appeared", "warning", check_market_appeared, "table"),
    ("market_disappeared", "warning", check_market_disappeared, "table"),
    ("stale", "warning", check_stale, "cube"),
    ("jump", "warning", check_jump, "cube"),
    ("short_history", "warning", check_short_history, "cube"),
    ("calendar", "info", check_calendar, "cube"),
):
    register_check(_name, _sev, _fn, level=_level, blockwise=_level == "cube")
