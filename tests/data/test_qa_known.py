"""Known answers for fcast.data.qa: 300 markets with faults injected in known markets, the exact findings.

The expected rows were produced by the per-market implementation the vectorised checks
replaced; they must stay the same (market, check, severity, first, last, detail, order).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcast.config import QAConfig
from fcast.data.qa import FINDING_COLUMNS, run_qa

N, WEEKS, MIN_HISTORY = 300, 70, 40
DATES = pd.date_range("2023-01-02", periods=WEEKS, freq="W-MON")
PREVIOUS = [f"M{i:03d}" for i in range(N) if i != 150] + ["GONE"]  # M150 appeared, GONE went
COUNTRIES = {f"M{i:03d}": "DK" for i in range(N) if i not in (160, 161)}  # no calendar: M160, M161
HINT = " (qa.fill_gaps: interpolate fills short gaps)"
NO_CALENDAR = (
    "no holiday calendar: '{}' is not a country code of the holidays package, so cleaning, QA "
    "and features see no public holidays; set its country in the markets table (column "
    "country) or under holidays.country"
)


def clean_table(n: int = N) -> pd.DataFrame:
    """`n` smooth weekly markets M000... with a little noise (no finding but calendar)."""
    rng = np.random.default_rng(3)
    t = np.arange(WEEKS)
    parts = [
        pd.DataFrame(
            {
                "market": f"M{i:03d}",
                "date": DATES,
                "users": (100.0 + 10 * i)
                * (1 + 0.05 * np.sin(t / 5 + i))
                * np.exp(rng.normal(0, 0.02, WEEKS)),
            }
        )
        for i in range(n)
    ]
    return pd.concat(parts, ignore_index=True)


def rows(df: pd.DataFrame, market: str, *weeks: int) -> pd.Index:
    """Row labels of some weeks of one market."""
    return df.index[(df["market"] == market) & df["date"].isin(DATES[list(weeks)])]


def typed_faults(df: pd.DataFrame) -> pd.DataFrame:
    """Faults a typed table (dates and floats) can hold, each in its own market."""
    df = pd.concat([df, df.loc[rows(df, "M010", 20)]], ignore_index=True)  # a duplicate
    df.loc[rows(df, "M020", 30), "users"] = np.nan
    df.loc[rows(df, "M030", 31), "users"] = np.inf
    df.loc[rows(df, "M031", 32), "users"] = -np.inf
    df.loc[rows(df, "M040", 33), "users"] = -5.0
    df.loc[rows(df, "M050", 34, 36), "users"] = 0.0
    df = df.drop(rows(df, "M060", 40)).drop(rows(df, "M061", 41, 42, 43))
    df = df.drop(rows(df, "M062", 10, 50, 51))
    df.loc[rows(df, "M080", 9), "date"] += pd.Timedelta(hours=12)
    df.loc[rows(df, "M090", 12), "date"] += pd.Timedelta(days=1)
    df = df.drop(df.index[(df["market"] == "M120") & (df["date"] > DATES[-6])])  # stale
    df = df.drop(df.index[(df["market"] == "M130") & (df["date"] < DATES[40])])  # short
    df.loc[rows(df, "M140", 35), "users"] *= 20  # a jump
    return df.reset_index(drop=True)


def text_faults(df: pd.DataFrame) -> pd.DataFrame:
    """The typed faults as text (a CSV's columns) plus the faults only text can hold."""
    df = typed_faults(df)
    bad_date, bad_value, aware = rows(df, "M005", 15), rows(df, "M070", 16), rows(df, "M100", 17)
    df["date"] = df["date"].astype(str).astype(object)
    df["users"] = df["users"].astype(object)
    df.loc[bad_date, "date"] = "not a date"
    df.loc[bad_value, "users"] = "abc"
    df.loc[aware, "date"] = "2023-05-01T00:00:00+01:00"
    df.loc[df["market"] == "M171", "market"] = "  M171 "  # stripped: no finding
    blank = pd.DataFrame({"market": [" ", None], "date": ["2023-01-23"] * 2, "users": [1.0, 2.0]})
    return pd.concat([df, blank], ignore_index=True)


def findings(table: pd.DataFrame, **kwargs: object) -> list[tuple]:
    """run_qa's findings as (market, check, severity, first, last, detail) tuples, in order."""
    qa = QAConfig(**kwargs.pop("qa", {}))  # type: ignore[arg-type]
    settings = {"value": "users", "freq": "W-MON", "source": "actuals", "min_history": MIN_HISTORY}
    found = run_qa(table, qa=qa, countries=COUNTRIES, **settings, **kwargs).findings  # type: ignore[arg-type]
    assert list(found.columns) == FINDING_COLUMNS
    return [
        (m, c, s, str(f)[:19] if pd.notna(f) else None, str(la)[:19] if pd.notna(la) else None, d)
        for m, c, s, f, la, d in found[
            ["market", "check", "severity", "first", "last", "detail"]
        ].itertuples(index=False, name=None)
    ]


def day(text: str) -> str:
    """A finding date at midnight as `findings` shows it."""
    return f"{text} 00:00:00"


TYPED = [
    ("M010", "duplicates", "error", day("2023-05-22"), day("2023-05-22"), "2 duplicated dates: 2023-05-22, 2023-05-22"),
    ("M080", "time_of_day", "error", "2023-03-06 12:00:00", "2023-03-06 12:00:00",
     "1 dates with a time of day (e.g. 2023-03-06 12:00:00); W-MON dates must be at midnight (e.g. df['date'].dt.normalize())"),
    ("M090", "misaligned", "error", day("2023-03-28"), day("2023-03-28"), "1 dates off the W-MON grid: 2023-03-28"),
    ("M060", "missing_periods", "error", day("2023-10-09"), day("2023-10-09"), "1 missing periods: 2023-10-09" + HINT),
    ("M061", "missing_periods", "error", day("2023-10-16"), day("2023-10-30"),
     "3 missing periods: 2023-10-16, 2023-10-23, 2023-10-30" + HINT),
    ("M062", "missing_periods", "error", day("2023-03-13"), day("2023-12-25"),
     "3 missing periods: 2023-03-13, 2023-12-18, 2023-12-25" + HINT),
    ("M080", "missing_periods", "error", day("2023-03-06"), day("2023-03-06"), "1 missing periods: 2023-03-06" + HINT),
    ("M090", "missing_periods", "error", day("2023-03-27"), day("2023-03-27"), "1 missing periods: 2023-03-27" + HINT),
    ("M020", "nan", "error", day("2023-07-31"), day("2023-07-31"), "1 missing 'users' values: 2023-07-31"),
    ("M030", "non_finite", "error", day("2023-08-07"), day("2023-08-07"), "1 non-finite (inf) 'users' values: 2023-08-07"),
    ("M031", "non_finite", "error", day("2023-08-14"), day("2023-08-14"), "1 non-finite (inf) 'users' values: 2023-08-14"),
    ("M040", "negative", "error", day("2023-08-21"), day("2023-08-21"), "1 negative 'users' values: 2023-08-21"),
    ("M050", "zero", "warning", day("2023-08-28"), day("2023-09-11"), "2 zero 'users' values: 2023-08-28, 2023-09-11"),
    ("M150", "market_appeared", "warning", day("2023-01-02"), day("2024-04-29"), "not in the previous run"),
    ("GONE", "market_disappeared", "warning", None, None, "in the previous run but not in the actuals"),
    ("M120", "stale", "warning", day("2024-03-25"), day("2024-03-25"),
     "last period 2024-03-25 is 5 periods before 2024-04-29 (allowed: 1, qa.stale_after)"),
    ("M140", "jump", "warning", day("2023-09-04"), day("2023-09-11"),
     "2 jumps: 2023-09-04 (+1879%, z +114), 2023-09-11 (-95%, z -116)"),
    ("M130", "short_history", "warning", day("2023-10-09"), day("2024-04-29"),
     "30 periods of history, the CV design needs 40; handled as a new market"),
    ("M160", "calendar", "info", day("2023-01-02"), day("2024-04-29"), NO_CALENDAR.format("M160")),
    ("M161", "calendar", "info", day("2023-01-02"), day("2024-04-29"), NO_CALENDAR.format("M161")),
]  # fmt: skip


TEXT = [
    ("*", "invalid", "error", None, None, "2 rows without a market (rows [20949, 20950])"),
    ("M005", "invalid", "error", None, None, "1 unparseable dates (rows [365])"),
    ("M070", "invalid", "error", day("2023-04-24"), day("2023-04-24"), "1 non-numeric 'users' values: 2023-04-24"),
    TYPED[0],
    ("M100", "timezone", "error", day("2023-05-01"), day("2023-05-01"),
     "1 timezone-aware dates in column 'date' (e.g. 2023-05-01T00:00:00+01:00); convert them to "
     "naive local dates first (e.g. df['date'].dt.tz_localize(None))"),
    *TYPED[1:3],
    ("M005", "missing_periods", "error", day("2023-04-17"), day("2023-04-17"), "1 missing periods: 2023-04-17" + HINT),
    *TYPED[3:],
]  # fmt: skip

FILLED = "missing periods filled by linear interpolation"
INTERPOLATED = [
    *TYPED[:3],
    ("M061", "missing_periods", "error", day("2023-10-16"), day("2023-10-30"),
     "3 missing periods: 2023-10-16, 2023-10-23, 2023-10-30 (qa.fill_gaps: interpolate fills "
     "runs of at most qa.max_gap=2)"),
    ("M060", "filled", "info", day("2023-10-09"), day("2023-10-09"), f"1 {FILLED}: 2023-10-09"),
    ("M062", "filled", "info", day("2023-03-13"), day("2023-03-13"), f"1 {FILLED}: 2023-03-13"),
    ("M062", "filled", "info", day("2023-12-18"), day("2023-12-25"), f"2 {FILLED}: 2023-12-18, 2023-12-25"),
    ("M080", "filled", "info", day("2023-03-06"), day("2023-03-06"), f"1 {FILLED}: 2023-03-06"),
    ("M090", "filled", "info", day("2023-03-27"), day("2023-03-27"), f"1 {FILLED}: 2023-03-27"),
    *TYPED[8:13],
    *TYPED[15:],
]  # fmt: skip


@pytest.mark.parametrize("block_markets", [None, 7])
def test_typed_table_gives_the_known_findings(block_markets):
    table = typed_faults(clean_table())
    assert findings(table, previous_markets=PREVIOUS, block_markets=block_markets) == TYPED


def test_text_table_gives_the_known_findings():
    assert findings(text_faults(clean_table()), previous_markets=PREVIOUS) == TEXT


def test_interpolated_gaps_give_the_known_findings():
    assert findings(typed_faults(clean_table()), qa={"fill_gaps": "interpolate"}) == INTERPOLATED


def test_categorical_market_codes_give_the_same_findings():
    table = typed_faults(clean_table())
    table["market"] = table["market"].astype("category")
    assert findings(table, previous_markets=PREVIOUS) == TYPED


def test_a_clean_table_has_only_the_calendar_and_appeared_findings():
    assert findings(clean_table(), previous_markets=PREVIOUS[:-1]) == [TYPED[13], *TYPED[18:]]
