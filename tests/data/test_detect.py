"""Tests for fcast.data.detect on real-looking disruptions: a strike's zero run, recurring Christmas dips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.data import to_cube
from fcast.data.clean import clean, detect

M = 52  # weekly data: season length
MARKET = "Nordics-North"  # not a country code: no holiday calendar, Christmas is not a holiday here
DATES = pd.date_range("2019-01-07", periods=320, freq="W-MON")  # 2019-01-07 .. 2025-02-17
STRIKE = slice(120, 127)  # 7 weeks of zeros: 2021-04-26 .. 2021-06-07
CHRISTMAS_WEEK = 52  # ISO week 52 holds Christmas Day in 2019..2024 (the same weeks every year)


def undisrupted() -> np.ndarray:
    """Weekly users: a gentle log trend, a yearly wave and 2% noise (seeded)."""
    t = np.arange(len(DATES))
    wave = 0.1 * np.sin(2 * np.pi * (DATES.dayofyear.to_numpy() - 1) / 365.25)
    noise = np.random.default_rng(1).normal(0, 0.02, len(DATES))
    return 5000.0 * np.exp(0.002 * t + wave + noise)


def christmas() -> np.ndarray:
    """The Christmas weeks of every year (ISO week 52)."""
    return DATES.isocalendar().week.to_numpy() == CHRISTMAS_WEEK


def series_cube(users: np.ndarray) -> xr.Dataset:
    """The cube of one market's weekly users."""
    return to_cube(pd.DataFrame({"market": MARKET, "date": DATES, "users": users}), "W-MON")


def strike_users(zeros: slice = STRIKE, zero: float = 0.0) -> np.ndarray:
    """The undisrupted series with 45% Christmas dips every year and a run of zero weeks."""
    users = undisrupted() * np.where(christmas(), 0.55, 1.0)
    users[zeros] = zero
    return users


@pytest.mark.parametrize("zero", [0.0, 3.0], ids=["zero", "near-zero"])
def test_a_zero_run_is_one_disruption_and_christmas_dips_stay(zero):
    """Issue 17: the strike is one window covering exactly its weeks, nothing else is removed."""
    y = strike_users(zero=zero)
    out, record = clean(series_cube(y), None, auto=True, season_length=M)
    applied = record[record["applied"]]
    assert applied[["start", "end", "kind", "periods"]].values.tolist() == [
        [DATES[STRIKE.start], DATES[STRIKE.stop - 1], "zero", 7]
    ]
    y_clean = out["y_clean"].values[0]
    # the zero weeks are replaced by the counterfactual, close to the undisrupted series
    np.testing.assert_allclose(y_clean[STRIKE], undisrupted()[STRIKE], rtol=0.08)
    # no fragments next to the strike, and the Christmas dips of every year are kept
    outside = np.ones(len(DATES), dtype=bool)
    outside[STRIKE] = False
    np.testing.assert_array_equal(y_clean[outside], y[outside])
    assert christmas().sum() == 6


def test_partial_weeks_next_to_a_zero_run_join_it():
    """A strike starting and ending mid-week: the two partial weeks belong to the one disruption."""
    y = strike_users()
    y[STRIKE.start - 1] *= 0.5
    y[STRIKE.stop] *= 0.7
    out, record = clean(series_cube(y), None, auto=True, season_length=M)
    applied = record[record["applied"]]
    assert applied[["start", "end", "kind", "periods"]].values.tolist() == [
        [DATES[STRIKE.start - 1], DATES[STRIKE.stop], "zero", 9]
    ]
    changed = np.flatnonzero(out["y_clean"].values[0] != y)
    assert changed.tolist() == list(range(STRIKE.start - 1, STRIKE.stop + 1))


def test_recurring_christmas_dips_are_proposed_for_review_not_removed():
    """A dip in the same calendar weeks of two or more years is seasonal: recorded, never removed."""
    y = undisrupted() * np.where(christmas(), 0.55, 1.0)
    y[180] *= 0.5  # 2022-06-20: a one-time outage, still removed
    out, record = clean(series_cube(y), None, auto=True, season_length=M)
    assert record.loc[record["applied"], "start"].tolist() == [DATES[180]]
    proposed = record[~record["applied"]]
    assert len(proposed) >= 4 and set(proposed["start"]) <= set(DATES[christmas()])
    assert proposed["note"].str.contains("recurs in the same calendar periods").all()
    np.testing.assert_array_equal(out["y_clean"].values[0][christmas()], y[christmas()])


def test_a_long_zero_run_is_proposed_for_review():
    """Longer than clean.max_zero_periods (weekly 13): one proposal, not removed; a larger limit removes it."""
    zeros = slice(120, 140)
    y = strike_users(zeros)
    out, record = clean(series_cube(y), None, auto=True, season_length=M)
    zero = record[record["kind"] == "zero"]
    assert zero[["start", "end", "periods", "applied"]].values.tolist() == [
        [DATES[120], DATES[139], 20, False]
    ]
    assert "clean.max_zero_periods" in zero["note"].iloc[0]
    np.testing.assert_array_equal(out["y_clean"].values[0], y)
    out, record = clean(series_cube(y), None, auto=True, season_length=M, max_zero_periods=26)
    assert record.loc[record["applied"], "kind"].tolist() == ["zero"]
    assert (out["y_clean"].values[0][zeros] > 1000).all()


def test_zero_runs_at_the_edges_and_recurring_shutdowns_are_not_removed():
    """Zeros at the end (cannot tell a closure yet) are not proposed; a yearly shutdown is seasonal."""
    ending = undisrupted()
    ending[-5:] = 0.0
    assert detect(series_cube(ending)["y"], M).empty
    shutdown = undisrupted()
    august = DATES.month.to_numpy() == 8
    shutdown[august] = 0.0
    found = detect(series_cube(shutdown)["y"], M)
    assert (found["kind"] == "zero").all() and len(found) >= 5
    assert found["review"].str.contains("recurs").all()


def swedish_christmas_users() -> np.ndarray:
    """The undisrupted series with a 40% dip in every week holding a Swedish December public holiday."""
    import holidays

    days = [pd.Timestamp(d) for d in holidays.country_holidays("SE", years=range(2019, 2026))]
    december = [d for d in days if d.month == 12]
    hit = np.array([any(t <= d < t + pd.Timedelta(days=7) for d in december) for t in DATES])
    return undisrupted() * np.where(hit, 0.6, 1.0)


def test_a_market_that_names_its_country_gets_its_holidays_in_cleaning():
    """Nordics-North with country SE: Christmas weeks are holidays of the baseline, nothing is proposed."""
    y = series_cube(swedish_christmas_users())["y"]
    assert detect(y, M, countries={MARKET: "SE"}).empty
    without = detect(y, M)  # no calendar: the dips are found, but recur, so only for review
    assert len(without) >= 4 and without["review"].str.contains("recurs").all()


def test_a_known_zero_run_is_not_proposed_again():
    """A strike listed in clean.events is removed once, as the known event."""
    known = pd.DataFrame(
        {
            "market": [MARKET],
            "start": [DATES[STRIKE.start]],
            "end": [DATES[STRIKE.stop - 1]],
            "kind": ["strike"],
            "note": ["national strike"],
        }
    )
    out, record = clean(series_cube(strike_users()), known, auto=True, season_length=M)
    applied = record[record["applied"]]
    assert applied[["kind", "source", "periods"]].values.tolist() == [["strike", "known", 7]]
    assert (out["y_clean"].values[0][STRIKE] > 1000).all()
