"""Tests for fcast.data.qa: every check fires on a table built to violate it and stays silent on clean data."""

from __future__ import annotations

import sys
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from fcast.config import QAConfig
from fcast.contract import SEVERITIES
from fcast.data.qa import CHECKS, FINDING_COLUMNS, all_checks, register_check, run_qa, summary
from fcast.errors import DataError

MIN_HISTORY = (
    208  # what the demo CV design needs: 104 min_train + 52 horizon + 3 x 13 step + 13 holdout
)
BASE_MARKETS = ["DK", "NO", "SE"]
SPOT = pd.Timestamp(
    "2024-08-19"
)  # a week without public holidays in DK, NO, SE (nor the weeks around it)


@pytest.fixture(scope="module")
def undisrupted(sample) -> pd.DataFrame:
    """The sample history without its one-time disruptions (ground truth users_clean)."""
    hist = sample.truth[sample.truth["date"] <= sample.actuals["date"].max()]
    return (
        hist[["market", "date", "users_clean"]]
        .rename(columns={"users_clean": "users"})
        .reset_index(drop=True)
    )


@pytest.fixture
def base(undisrupted) -> pd.DataFrame:
    """Three clean markets with 314 weeks each."""
    return undisrupted[undisrupted["market"].isin(BASE_MARKETS)].reset_index(drop=True).copy()


def qa_of(table: pd.DataFrame, **kwargs):
    """run_qa with the demo settings."""
    settings = {
        "value": "users",
        "freq": "W-MON",
        "source": "actuals.parquet",
        "qa": QAConfig(),
        "min_history": MIN_HISTORY,
    }
    return run_qa(table, **{**settings, **kwargs})


def at(df: pd.DataFrame, market: str, date: pd.Timestamp) -> pd.Index:
    """Row labels of one market and date."""
    return df.index[(df["market"] == market) & (df["date"] == date)]


def set_value(market: str, value: object) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A mutation writing `value` at SPOT in one market."""

    def mutate(df: pd.DataFrame) -> pd.DataFrame:
        df["users"] = df["users"].astype(object) if isinstance(value, str) else df["users"]
        df.loc[at(df, market, SPOT), "users"] = value
        return df

    return mutate


def drop_rows(market: str, dates: list[pd.Timestamp]) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """A mutation removing some periods of one market."""
    return lambda df: df[~((df["market"] == market) & df["date"].isin(dates))]


def blank_market(df: pd.DataFrame) -> pd.DataFrame:
    """An extra row without a market."""
    return pd.concat(
        [df, pd.DataFrame({"market": [" "], "date": [SPOT], "users": [1.0]})], ignore_index=True
    )


def bad_date(df: pd.DataFrame) -> pd.DataFrame:
    """One date cannot be parsed."""
    df["date"] = df["date"].astype(object)
    df.loc[at(df, "NO", SPOT), "date"] = "not a date"
    return df


def duplicate(df: pd.DataFrame) -> pd.DataFrame:
    """One (market, date) row appears twice."""
    return pd.concat([df, df.loc[at(df, "SE", SPOT)]], ignore_index=True)


def misalign(df: pd.DataFrame) -> pd.DataFrame:
    """One market labels its weeks by the Sunday before the Monday."""
    df.loc[df["market"] == "DK", "date"] -= pd.Timedelta(days=1)
    return df


def triple(df: pd.DataFrame) -> pd.DataFrame:
    """One week triples (a double-counting bug)."""
    df.loc[at(df, "SE", SPOT), "users"] *= 3.0
    return df


CASES = {
    "invalid": (blank_market, "*"),
    "duplicates": (duplicate, "SE"),
    "misaligned": (misalign, "DK"),
    "missing_periods": (drop_rows("NO", [SPOT, SPOT + pd.Timedelta(weeks=1)]), "NO"),
    "nan": (set_value("DK", np.nan), "DK"),
    "negative": (set_value("SE", -5.0), "SE"),
    "zero": (set_value("SE", 0.0), "SE"),
    "jump": (triple, "SE"),
}


@pytest.mark.parametrize("check", sorted(CASES))
def test_check_fires_on_a_violation(base, check):
    mutate, market = CASES[check]
    result = qa_of(mutate(base.copy()))
    assert result.findings[["check", "market"]].values.tolist() == [[check, market]]
    row = result.findings.iloc[0]
    assert row["severity"] == CHECKS.get(check).severity
    if market != "*":
        assert row["first"] <= SPOT <= row["last"] + pd.Timedelta(days=7)
    assert result.ok == (row["severity"] == "warning")


def test_error_markets_are_left_out_of_the_cube(base):
    result = qa_of(duplicate(base.copy()))
    assert not result.ok
    assert result.cube.market.values.tolist() == ["DK", "NO"]
    with pytest.raises(DataError, match=r"(?s)actuals.parquet: input QA failed\n.*duplicates.*SE"):
        result.raise_for_errors()


def test_unparseable_dates_and_values(base):
    df = bad_date(base.copy())
    df["users"] = df["users"].astype(object)
    df.loc[at(df, "DK", SPOT), "users"] = "n/a"
    result = qa_of(df)
    # the row with an unreadable date also leaves a gap in NO
    assert result.findings[["check", "market"]].values.tolist() == [
        ["invalid", "NO"],
        ["invalid", "DK"],
        ["missing_periods", "NO"],
    ]
    assert "1 unparseable dates" in result.findings["detail"].iloc[0]
    assert "non-numeric 'users' values: 2024-08-19" in result.findings["detail"].iloc[1]
    assert result.cube.market.values.tolist() == ["SE"]


def test_missing_column_and_empty_table(base):
    result = qa_of(base.rename(columns={"users": "count"}))
    assert result.findings[["check", "market"]].values.tolist() == [["columns", "*"]]
    assert "missing column(s) ['users']" in result.findings["detail"].iloc[0]
    assert result.cube is None and not result.ok
    empty = qa_of(base.iloc[:0])
    assert empty.findings["check"].tolist() == ["empty"] and empty.cube is None


def test_stale_markets(base):
    late = drop_rows("NO", list(pd.date_range("2026-10-26", "2026-11-16", freq="W-MON")))(
        base.copy()
    )
    result = qa_of(late)
    assert result.findings[["check", "market", "last"]].values.tolist() == [
        ["stale", "NO", pd.Timestamp("2026-10-19")]
    ]
    assert "4 periods before 2026-11-16" in result.findings["detail"].iloc[0]
    # a run date two weeks after the data: every market is two periods behind (one is allowed)
    ahead = qa_of(base, as_of=pd.Timestamp("2026-12-02"))
    assert ahead.findings[["check", "market"]].values.tolist() == [
        ["stale", m] for m in BASE_MARKETS
    ]
    assert qa_of(
        base, as_of=pd.Timestamp("2026-11-25")
    ).findings.empty  # the current week is not due yet


def test_markets_that_appeared_or_disappeared(base):
    result = qa_of(base, previous_markets=["DK", "SE", "FI"])
    assert result.findings[["check", "market"]].values.tolist() == [
        ["market_appeared", "NO"],
        ["market_disappeared", "FI"],
    ]
    assert result.ok


def test_short_history(base):
    short = base[~((base["market"] == "DK") & (base["date"] < pd.Timestamp("2023-01-02")))]
    result = qa_of(short)
    row = result.findings.iloc[0]
    assert result.findings["check"].tolist() == ["short_history"]
    assert (row["market"], row["first"]) == ("DK", pd.Timestamp("2023-01-02"))
    assert "203 periods of history, the CV design needs 208" in row["detail"]


@pytest.mark.parametrize("key", ["fail_on_warning", "fail_on_warn"])
def test_fail_on_warning_turns_warnings_into_errors(base, key):
    qa = QAConfig.model_validate({key: True})  # fail_on_warn: the former name, still read
    assert qa.fail_on_warning and qa.fail_on_warn
    result = qa_of(triple(base.copy()), qa=qa)
    assert result.findings[["check", "severity"]].values.tolist() == [["jump", "error"]]
    assert "qa.fail_on_warning" in result.findings["detail"].iloc[0]
    assert not result.ok


def test_one_severity_vocabulary_with_qc(base):
    """Drift: QA said `warn` where QC says `warning`; both now use fcast.contract.SEVERITIES."""
    assert {CHECKS.get(name).severity for name in all_checks()} <= set(SEVERITIES)
    result = qa_of(triple(base.copy()))
    assert result.findings["severity"].tolist() == ["warning"] and len(result.warnings) == 1
    with pytest.warns(DeprecationWarning, match="'warn' is now 'warning'"):
        old = register_check("old_spelling", "warn", lambda inp: [])
    CHECKS.unregister("old_spelling")
    assert old.severity == "warning"


def test_silent_on_clean_sample_data(sample, undisrupted):
    result = qa_of(undisrupted, previous_markets=sorted(undisrupted["market"].unique()))
    history = undisrupted.groupby("market").size()
    assert result.findings["check"].unique().tolist() == [
        "short_history"
    ]  # new markets, by design of the sample
    assert sorted(result.findings["market"]) == sorted(history.index[history < MIN_HISTORY])
    assert result.ok and result.cube.sizes["market"] == len(history)


def test_jumps_on_the_sample_actuals_are_its_disruptions(sample):
    result = qa_of(sample.actuals)
    jumps = result.findings[result.findings["check"] == "jump"]
    print(
        "\njump findings on the sample actuals:\n"
        + jumps[["market", "first", "detail"]].to_string(index=False)
    )
    assert set(jumps["market"]) <= set(sample.events["market"])
    assert (
        len(jumps) >= 6
    )  # MT's spike falls in a public-holiday week (15 August), which the jump check exempts


def test_summary_counts_per_check():
    findings = pd.DataFrame(
        [
            {
                "market": "SE",
                "check": "duplicates",
                "severity": "error",
                "first": pd.NaT,
                "last": pd.NaT,
                "detail": "2 duplicated dates",
            },
            {
                "market": "DK",
                "check": "jump",
                "severity": "warning",
                "first": pd.NaT,
                "last": pd.NaT,
                "detail": "1 jumps",
            },
            {
                "market": "NO",
                "check": "jump",
                "severity": "warning",
                "first": pd.NaT,
                "last": pd.NaT,
                "detail": "1 jumps",
            },
            {
                "market": "FI",
                "check": "jump",
                "severity": "warning",
                "first": pd.NaT,
                "last": pd.NaT,
                "detail": "1 jumps",
            },
        ],
        columns=FINDING_COLUMNS,
    )
    assert summary(findings).splitlines() == [
        "QA: 1 error(s), 3 warning(s) in 4 market(s)",
        "  error   duplicates           1: SE (2 duplicated dates)",
        "  warning jump                 3: DK; NO; FI",
    ]
    assert summary(findings.iloc[:0]) == "QA: no findings"


@pytest.fixture
def installed_check(tmp_path, monkeypatch):
    """A tiny installed distribution (a dist-info on sys.path) offering `small_market` in fcast.qa_checks."""
    (tmp_path / "fcast_qa_small.py").write_text(
        "from fcast.data.qa import Check\n\n\n"
        "def small(inp):\n"
        "    mean = inp.cube['y'].mean('time').to_series()\n"
        "    return [{'market': m, 'first': None, 'last': None, 'detail': 'small'}\n"
        "            for m, v in mean.items() if v < 1e7]\n\n\n"
        "check = Check('ignored', 'warning', small)\n"
    )
    dist = tmp_path / "fcast_qa_small-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fcast-qa-small\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[fcast.qa_checks]\nsmall_market = fcast_qa_small:check\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "small_market"
    CHECKS.unregister("small_market")
    sys.modules.pop("fcast_qa_small", None)


def test_installed_entry_point_check_is_found_and_runs(base, installed_check):
    assert installed_check not in CHECKS  # not loaded until asked for
    assert installed_check in CHECKS.names() and all_checks()[-1] == installed_check
    result = qa_of(base)
    assert result.findings[["check", "market", "severity"]].values.tolist() == [
        ["small_market", m, "warning"] for m in BASE_MARKETS
    ]
    assert CHECKS.get(installed_check).name == installed_check  # the entry point names it


def test_registered_check_runs(base):
    def tiny(inp):
        """Markets averaging under 10 million users."""
        return [
            {"market": m, "first": None, "last": None, "detail": "small"}
            for m, v in inp.cube["y"].mean("time").to_series().items()
            if v < 1e7
        ]

    register_check("tiny", "warning", tiny)
    try:
        result = qa_of(base)
        with pytest.raises(KeyError, match="already registered"):
            register_check("tiny", "warning", tiny)
    finally:
        CHECKS.unregister("tiny")
    assert result.findings[["check", "market"]].values.tolist() == [
        ["tiny", m] for m in BASE_MARKETS
    ]
    with pytest.raises(ValueError, match="severity"):
        register_check("bad", "fatal", tiny)


# --- input rules (issue 17: cases 3, 4, 5, 16) ---------------------------------------------


def test_time_of_day_in_one_market_is_an_error_naming_it_and_a_date(base):
    """Case 3: DK at 12:00 on Mondays passed the grid check and was then dropped from the cube."""
    df = base.copy()
    df.loc[df["market"] == "DK", "date"] += pd.Timedelta(hours=12)
    result = qa_of(df)
    errors = result.errors
    assert errors[["check", "market"]].values.tolist() == [["time_of_day", "DK"]]
    assert "12:00:00" in errors.iloc[0]["detail"]
    assert (
        "2018" in errors.iloc[0]["detail"] or str(df["date"].min())[:4] in errors.iloc[0]["detail"]
    )
    assert not result.ok
    with pytest.raises(DataError, match="time_of_day.*DK"):
        result.raise_for_errors()


def test_hourly_data_may_have_a_time_of_day(base):
    df = base[base["market"] == "SE"].head(300).copy()
    df["date"] = pd.date_range("2024-01-01 00:00", periods=len(df), freq="h")
    result = qa_of(df, freq="h", min_history=10, checks=["time_of_day", "misaligned"])
    assert result.findings.empty


@pytest.mark.parametrize("form", ["dtype", "text"])
def test_timezone_aware_dates_are_an_error_saying_to_convert(base, form):
    """Case 4: tz-aware dates were accepted and mangled (forecast dates at 23:00)."""
    df = base.copy()
    dates = df["date"].dt.tz_localize("Europe/Stockholm")
    df["date"] = dates if form == "dtype" else dates.astype(str)
    result = qa_of(df)
    tz = result.errors[result.errors["check"] == "timezone"]
    assert sorted(tz["market"]) == BASE_MARKETS
    assert "naive local dates" in tz.iloc[0]["detail"]
    assert "+0" in tz.iloc[0]["detail"]
    assert not result.ok


def test_timezone_in_one_market_only_fails_that_market(base):
    df = base.copy()
    df["date"] = df["date"].astype(object)
    dk = df["market"] == "DK"
    df.loc[dk, "date"] = [d.tz_localize("UTC") for d in df.loc[dk, "date"]]
    result = qa_of(df)
    assert result.errors[["check", "market"]].values.tolist() == [["timezone", "DK"]]
    assert sorted(result.cube["market"].values.tolist()) == ["NO", "SE"]


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_are_an_error_like_nan(base, value):
    """Case 5: +inf only raised a jump warning and the applier spliced the series."""
    result = qa_of(set_value("SE", value)(base.copy()))
    assert result.errors[["check", "market"]].values.tolist() == [["non_finite", "SE"]]
    row = result.errors.iloc[0]
    assert row["first"] == row["last"] == SPOT
    assert str(SPOT)[:10] in row["detail"]
    assert "SE" not in result.cube["market"].values


def test_one_missing_week_is_an_error_by_default(base):
    result = qa_of(drop_rows("NO", [SPOT])(base.copy()))
    assert result.errors[["check", "market"]].values.tolist() == [["missing_periods", "NO"]]
    assert "qa.fill_gaps" in result.errors.iloc[0]["detail"]


def test_fill_gaps_interpolates_short_gaps_and_records_them(base):
    """Case 16: a weekly series with one missing week was refused with no way forward."""
    weeks = [SPOT, SPOT + pd.Timedelta(weeks=1), SPOT + pd.Timedelta(weeks=10)]
    df = drop_rows("NO", weeks)(base.copy())
    result = qa_of(df, qa=QAConfig(fill_gaps="interpolate"))
    assert result.ok
    filled = result.findings[result.findings["check"] == "filled"]
    assert filled["severity"].unique().tolist() == ["info"]
    assert filled[["market", "first", "last"]].values.tolist() == [
        ["NO", weeks[0], weeks[1]],
        ["NO", weeks[2], weeks[2]],
    ]
    y = result.cube["y"].sel(market="NO").to_series()
    before, after = y[SPOT - pd.Timedelta(weeks=1)], y[SPOT + pd.Timedelta(weeks=2)]
    assert y[weeks[0]] == pytest.approx(before + (after - before) / 3)
    assert y[weeks[1]] == pytest.approx(before + 2 * (after - before) / 3)
    assert y.notnull().all()
    untouched = df[df["market"] == "NO"].set_index("date")["users"]
    assert y[untouched.index].to_numpy() == pytest.approx(untouched.to_numpy())


def test_fill_gaps_refuses_gaps_longer_than_max_gap(base):
    weeks = [SPOT + pd.Timedelta(weeks=i) for i in range(3)]
    result = qa_of(drop_rows("NO", weeks)(base.copy()), qa=QAConfig(fill_gaps="interpolate"))
    assert result.errors[["check", "market"]].values.tolist() == [["missing_periods", "NO"]]
    assert "max_gap=2" in result.errors.iloc[0]["detail"]
    assert "filled" not in result.findings["check"].tolist()
    ok = qa_of(drop_rows("NO", weeks)(base.copy()), qa=QAConfig(fill_gaps="interpolate", max_gap=3))
    assert ok.ok


def test_fill_gaps_option_is_validated():
    with pytest.raises(ValueError, match="fill_gaps"):
        QAConfig(fill_gaps="zero")
    with pytest.raises(ValueError, match="max_gap"):
        QAConfig(max_gap=0)


def test_a_market_without_a_holiday_calendar_gets_an_info_finding(base):
    """Not a silent no-holidays: a non-ISO market without a country is reported (info)."""
    renamed = base.assign(market=base["market"].replace({"SE": "Nordics-North"}))
    result = qa_of(renamed)
    found = result.findings[result.findings["check"] == "calendar"]
    assert found[["market", "severity"]].values.tolist() == [["Nordics-North", "info"]]
    assert "markets table (column country)" in found["detail"].iloc[0]
    assert result.ok
    named = qa_of(renamed, countries={"Nordics-North": "SE"})
    assert "calendar" not in set(named.findings["check"])
