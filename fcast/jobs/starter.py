"""`fcast init DATA_FILE`: detect a data file's columns and frequency, write a starter run config.

The detection reads the whole table once: the market column is a text column named like a
market (market, country, region, ...) or, failing that, the first text column with repeated
values; the date column is one named like a date (date, month, week, ...) or the first that
parses as dates; the value is the first numeric column left. The frequency comes from the
spacing of one market's dates (pandas' `infer_freq`, or the median gap). The config names
the built-in space for that frequency and CV settings sized for it; `fcast validate` and
`fcast run tuning` take it from there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from fcast.config import parse_config
from fcast.data import read_table
from fcast.errors import DataError, FcastError

MARKET_NAMES = ("market", "country", "country_code", "market_code", "region", "geo", "unit_id")
DATE_NAMES = ("date", "ds", "period", "month", "week", "day", "quarter", "time", "timestamp")
VALUE_NAMES = ("users", "value", "y", "sessions", "sales", "count", "total")

#: per frequency kind: a horizon and the CV that goes with it (one season per split step)
SETTINGS = {
    "daily": {"horizon": 28, "cv": {"splits": 4, "step": 7, "holdout": 7}},
    "weekly": {"horizon": 52, "cv": {"splits": 4, "step": 13, "holdout": 13}},
    "monthly": {"horizon": 12, "cv": {"splits": 3, "step": 12, "holdout": 0, "min_train": 12}},
    "quarterly": {"horizon": 8, "cv": {"splits": 3, "step": 4, "holdout": 0, "min_train": 8}},
}
#: per frequency kind: the selection and intervals its built-in space is measured with
#: (the space file's header; docs/accuracy.md)
COMBINED = [
    "select: {top: 24, combine: median, weights: equal}   # the median of every member",
    "intervals: scaled                 # own bounds narrowed by the combination gain",
]
EXTRA = {"monthly": COMBINED, "quarterly": COMBINED}


@dataclass
class Detected:
    """What `fcast init` found in a data file."""

    market: str
    date: str
    value: str
    freq: str
    kind: str
    markets: int
    periods: int


def _pick(columns: list[str], names: tuple[str, ...]) -> str | None:
    """The first column whose lower-cased name is one of `names` (in the order of `names`)."""
    lower = {c.lower(): c for c in columns}
    return next((lower[n] for n in names if n in lower), None)


def _parses_as_dates(values: pd.Series) -> bool:
    """Whether nearly every value of a column parses as a date."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return True
    if pd.api.types.is_numeric_dtype(values):
        return False
    sample = values.dropna().astype(str).head(200)
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return len(sample) > 0 and parsed.notna().mean() > 0.95


def detect_columns(df: pd.DataFrame, source: str) -> tuple[str, str, str]:
    """The (market, date, value) columns of a table; a DataError saying which could not be found."""
    cols = [str(c) for c in df.columns]
    date = _pick(cols, DATE_NAMES)
    if date is None or not _parses_as_dates(df[date]):
        date = next((c for c in cols if _parses_as_dates(df[c])), None)
    texts = [c for c in cols if c != date and not pd.api.types.is_numeric_dtype(df[c])]
    market = _pick(texts, MARKET_NAMES) or next(
        (c for c in texts if df[c].nunique() < len(df)), None
    )
    numbers = [c for c in cols if c not in (date, market) and pd.api.types.is_numeric_dtype(df[c])]
    value = _pick(numbers, VALUE_NAMES) or (numbers[0] if numbers else None)
    missing = [k for k, v in (("market", market), ("date", date), ("value", value)) if v is None]
    if missing:
        raise DataError(
            f"{source}: cannot tell which column is the {' and the '.join(missing)} "
            f"(columns {cols}); expected a text market column, a date column and a numeric value"
        )
    return market, date, value  # type: ignore[return-value]


def detect_freq(dates: pd.Series, source: str) -> tuple[str, str]:
    """A pandas frequency and its kind (daily, weekly, monthly, quarterly) from one market's dates."""
    index = pd.DatetimeIndex(sorted(pd.to_datetime(dates.dropna().unique())))
    if len(index) < 3:
        raise DataError(f"{source}: too few dates to detect the frequency (pass --freq)")
    freq = pd.infer_freq(index)
    if freq is None:  # gaps: the most common spacing decides, anchored like the first date
        days = int(pd.Series(index).diff().dt.days.median())
        first = index[0]
        if days == 1:
            freq = "D"
        elif days == 7:
            freq = f"W-{first.day_name()[:3].upper()}"
        elif 28 <= days <= 31:
            freq = "MS" if first.day == 1 else "ME"
        elif 89 <= days <= 92:
            freq = "QS" if first.day == 1 else "QE"
    kind = freq_kind(freq) if freq else None
    if kind is None:
        raise DataError(
            f"{source}: cannot detect a daily, weekly, monthly or quarterly frequency "
            f"(found {freq or 'irregular dates'}); pass --freq (a pandas alias: D, W-MON, MS, QS)"
        )
    if kind == "quarterly":  # QS-OCT and QS-JAN are the same quarters: the plain alias
        freq = str(freq).split("-")[0]
    return str(freq), kind


def freq_kind(freq: str) -> str | None:
    """daily, weekly, monthly or quarterly for a pandas frequency alias (None for others)."""
    name = pd.tseries.frequencies.to_offset(freq).name.split("-")[0]
    return {
        "D": "daily",
        "W": "weekly",
        "MS": "monthly",
        "ME": "monthly",
        "QS": "quarterly",
        "QE": "quarterly",
    }.get(name)


def detect(path: str, freq: str | None = None) -> Detected:
    """Columns, frequency and size of a data file."""
    market, date, value = detect_columns(read_table(path), path)
    df = read_table(path, text=[market])
    longest = df[market].value_counts().index[0]
    if freq is None:
        freq, kind = detect_freq(df.loc[df[market] == longest, date], path)
    elif (kind := freq_kind(freq)) is None:
        raise DataError(f"--freq {freq}: fcast init knows D, W-xxx, MS, ME, QS and QE")
    periods = df[date].nunique()
    return Detected(market, date, value, freq, kind, int(df[market].nunique()), int(periods))


def starter_text(data: str, found: Detected, space: str | None = None) -> str:
    """The starter config's YAML, with comments saying what each part is."""
    s = SETTINGS[found.kind]
    cv = ", ".join(f"{k}: {v}" for k, v in s["cv"].items())
    columns = {"market": found.market, "date": found.date, "value": found.value}
    mapping = ", ".join(f"{k}: {v}" for k, v in columns.items())
    renamed = any(k != v for k, v in columns.items() if k != "value")
    lines = [
        f"# Starter run config written by `fcast init` for {data}",
        f"# ({found.markets} markets, {found.periods} {found.kind} periods). Check it with",
        "# `fcast validate`, then `fcast run tuning` and `fcast run weekly`.",
        "data:",
        f"  actuals: {data}",
        f"  freq: {found.freq}                # {found.kind}",
        f"  {'' if renamed or found.value != 'users' else '# '}columns: {{{mapping}}}",
        f"horizon: {s['horizon']}                 # periods ahead",
        f"cv: {{{cv}}}",
        f"space: {space or found.kind}"
        + ("" if space else "            # the built-in space for this frequency"),
        *([] if space else EXTRA.get(found.kind, [])),
        "store: ./fcast-store",
        "cluster: {local: {workers: 2, threads: 1}}",
    ]
    return "\n".join(lines) + "\n"


def write_starter(
    data: str, out: str | Path, freq: str | None = None, space: str | None = None
) -> Detected:
    """Detect the data file and write the starter config to `out`; refuses to overwrite."""
    out = Path(out)
    if out.exists():
        raise FcastError(f"{out} exists; not overwriting it (remove it or pass --output)")
    found = detect(data, freq)
    rel = data if "://" in data else os.path.relpath(Path(data).resolve(), out.resolve().parent)
    text = starter_text(rel, found, space)
    parse_config(yaml.safe_load(text), source=str(out))  # the starter is a valid config
    out.write_text(text)
    return found
