"""Tests for fcast.data.clean: known events, automatic detection and removal, scored against ground truth."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.config import load_disruptions, load_event_calendars
from fcast.core.metrics import mase_scale
from fcast.core.models import Model
from fcast.data import to_cube
from fcast.data.calendar import market_holidays
from fcast.data.clean import (
    RECORD_COLUMNS,
    clean,
    detect,
    expand_events,
    festivals,
    most_changed,
    parse_disruptions,
    remove,
)
from fcast.data.sample import STRONG_HOLIDAY_MARKETS
from fcast.errors import ConfigError

EVENTS_YAML = Path(__file__).resolve().parents[2] / "configs" / "events.yaml"
M = 52  # weekly data: season length


@pytest.fixture(scope="module")
def mature_cube(sample) -> xr.Dataset:
    """Observed actuals of the mature markets."""
    mature = sample.markets.loc[sample.markets["segment_hint"] == "mature", "market"]
    return to_cube(sample.actuals[sample.actuals["market"].isin(mature)], "W-MON")


@pytest.fixture(scope="module")
def cleaned(sample, mature_cube):
    """The pipeline path: the events file plus automatic detection, applied."""
    return clean(mature_cube, load_disruptions(EVENTS_YAML), auto=True, season_length=M)


def overlaps(
    windows: pd.DataFrame, market: str, start: pd.Timestamp, end: pd.Timestamp
) -> pd.DataFrame:
    """Windows of a market that overlap [start, end]."""
    return windows[
        (windows["market"] == market) & (windows["start"] <= end) & (windows["end"] >= start)
    ]


def truth_series(sample, column: str = "users_clean") -> pd.Series:
    """Ground truth indexed by market, date."""
    return sample.truth.set_index(["market", "date"])[column]


# --- known events --------------------------------------------------------------------


def test_events_file_lists_sample_disruptions(sample):
    events = load_disruptions(EVENTS_YAML)
    assert list(events.columns) == ["market", "start", "end", "kind", "note"]
    assert events["market"].tolist() == ["PE", "DK", "RO"]
    truth = sample.events.set_index("market")
    for ev in events.itertuples():
        assert (ev.start, ev.end, ev.kind) == (
            truth.loc[ev.market, "start"],
            truth.loc[ev.market, "end"],
            truth.loc[ev.market, "kind"],
        )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"events": [{"market": "SE", "start": "2024-03-04", "end": "2024-02-26"}]},
            "events.0: end 2024-02-26 is before start 2024-03-04",
        ),
        (
            {
                "events": [
                    {"market": "SE", "start": "2024-03-04", "end": "2024-03-04", "owner": "x"}
                ]
            },
            "events.0.owner: unknown key",
        ),
        (
            {"events": [{"market": "SE", "start": "yesterday", "end": "2024-03-04"}]},
            "events.0.start: Input should be a valid date",
        ),
        (
            {"events": [{"market": "", "start": "2024-03-04", "end": "2024-03-04"}]},
            "events.0.market: String should have at least 1 character",
        ),
        (
            {
                "events": [
                    {
                        "market": "SE",
                        "start": "2024-03-04",
                        "end": "2024-03-04",
                        "kind": "two words",
                    }
                ]
            },
            "events.0.kind: String should match pattern",
        ),
        ({"evnts": []}, "evnts: unknown key"),
        ([{"market": "SE"}], "expected a mapping with an 'events' list"),
    ],
)
def test_invalid_events_name_file_and_key(raw, expected):
    with pytest.raises(ConfigError) as err:
        parse_disruptions(raw, source="configs/bad-events.yaml")
    assert "configs/bad-events.yaml" in str(err.value)
    assert expected in str(err.value)


def test_events_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="events file not found"):
        load_disruptions(tmp_path / "missing.yaml")
    bad = tmp_path / "events.yaml"
    bad.write_text("events: [market: SE\n")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_disruptions(bad)
    bad.write_text("")
    assert load_disruptions(bad).empty


def test_disruptions_and_event_calendars_are_told_apart(tmp_path):
    """The two `events:` files: a calendar where disruptions are expected names the right key, and back."""
    calendars = tmp_path / "festivals.yaml"
    calendars.write_text("events:\n  festival: ['06-20/06-23']\n")
    with pytest.raises(ConfigError, match="belongs under holidays.events"):
        load_disruptions(calendars)
    with pytest.raises(ConfigError, match="belongs under clean.events"):
        load_event_calendars(EVENTS_YAML)
    assert load_event_calendars(calendars) == {"festival": ["06-20/06-23"]}
    calendars.write_text("events:\n  festival: ['06-31']\n")
    with pytest.raises(ConfigError, match=r"festivals.yaml: custom event 'festival': '06-31'"):
        load_event_calendars(calendars)


def test_star_expands_to_every_market():
    events = parse_disruptions(
        {
            "events": [
                {"market": "*", "start": "2024-03-04", "end": "2024-03-04", "kind": "tracking_bug"},
                {"market": "SE", "start": "2024-05-06", "end": "2024-05-13"},
                {"market": "XX", "start": "2024-05-06", "end": "2024-05-13"},
            ]
        }
    )
    out = expand_events(events, ["DK", "SE"])
    assert out[["market", "start", "kind"]].astype(str).values.tolist() == [
        ["DK", "2024-03-04", "tracking_bug"],
        ["SE", "2024-03-04", "tracking_bug"],
        ["SE", "2024-05-06", "disruption"],
    ]


# --- removal on a series with a known answer -------------------------------------------


def seasonal_cube(periods: int = 260, noise: float = 0.0) -> xr.Dataset:
    """One market: log-linear trend times a yearly wave, times lognormal noise of sd `noise`."""
    dates = pd.date_range("2019-01-07", periods=periods, freq="W-MON")
    t = np.arange(periods)
    wave = 0.1 * np.sin(2 * np.pi * (dates.dayofyear.to_numpy() - 1) / 365.25)
    users = 1000.0 * np.exp(0.002 * t + wave + np.random.default_rng(0).normal(0, noise, periods))
    return to_cube(pd.DataFrame({"market": "ZZ", "date": dates, "users": users}), "W-MON")


def test_remove_restores_a_doubled_window():
    cube = seasonal_cube()
    y = cube["y"].copy(deep=True)
    window = pd.DataFrame(
        {
            "market": ["ZZ"],
            "start": [y.time.values[100]],
            "end": [y.time.values[102]],
            "kind": ["spike"],
        }
    )
    y[0, 100:103] *= 2.0
    y_clean, record = remove(y, window, M, use_holidays=False)
    truth = cube["y"].values[0]
    np.testing.assert_allclose(y_clean.values[0], truth, rtol=0.005)
    np.testing.assert_array_equal(y_clean.values[0, :100], y.values[0, :100])  # untouched outside
    row = record.iloc[0]
    assert list(record.columns) == RECORD_COLUMNS
    assert (row["source"], row["periods"], bool(row["applied"])) == ("known", 3, True)
    assert row["change_pct"] == pytest.approx(-50.0, abs=0.5)
    assert row["mean_before"] == pytest.approx(2 * truth[100:103].mean(), rel=1e-9)


def test_window_outside_the_data_is_recorded_not_applied():
    cube = seasonal_cube(120)
    window = pd.DataFrame(
        {
            "market": ["ZZ"],
            "start": [pd.Timestamp("2030-01-07")],
            "end": [pd.Timestamp("2030-01-14")],
        }
    )
    y_clean, record = remove(cube["y"], window, M)
    np.testing.assert_array_equal(y_clean.values, cube["y"].values)
    assert not record["applied"].iloc[0]
    assert "no observed period" in record["note"].iloc[0]


def test_detect_ignores_edges_and_short_series():
    cube = seasonal_cube(noise=0.01)
    y = cube["y"].copy(deep=True)
    y[0, -1] *= 3.0  # a spike in the last period: cannot be told from a new level yet
    y[0, 150] *= 0.5  # an outage in the middle
    found = detect(y, M, use_holidays=False)
    assert found[["start", "kind", "periods"]].values.tolist() == [[y.time.values[150], "dip", 1]]
    assert found["effect_pct"].iloc[0] == pytest.approx(-50.0, abs=1.0)
    assert detect(y, M, use_holidays=False, min_history=300).empty


def christmas_dip_cube(market: str, country: str) -> xr.Dataset:
    """Four years of one market whose users drop 40% in every week holding a December public holiday."""
    import holidays

    cube = seasonal_cube(periods=208, noise=0.01).assign_coords(market=[market])
    times = pd.DatetimeIndex(cube.time.values)
    cal = holidays.country_holidays(country, years=range(2019, 2023))
    days = [pd.Timestamp(d) for d in cal if d.month == 12]
    christmas = np.array([any(t <= d < t + pd.Timedelta(days=7) for d in days) for t in times])
    return cube.assign(y=cube["y"] * np.where(christmas, 0.6, 1.0))


@pytest.mark.parametrize(("market", "country"), [("UK", "GB"), ("EL", "GR")])
def test_market_codes_get_their_countrys_calendar_in_cleaning(market, country):
    """Drift: cleaning and features share one calendar, so UK and EL get GB and GR holidays."""
    code = christmas_dip_cube(market, country)["y"]
    same = christmas_dip_cube(country, country)["y"]
    # Christmas weeks are known holiday periods: the baseline absorbs them, nothing is proposed
    assert detect(same, M).empty
    assert detect(code, M).empty
    # without a calendar, the same weeks look like disruptions
    assert len(detect(code, M, use_holidays=False)) >= 2


# --- the sample data: detection, removal accuracy, forecast value -----------------------


def test_detection_recall_and_false_positives(sample, mature_cube):
    t0 = time.perf_counter()
    found = detect(mature_cube["y"], M)
    seconds = time.perf_counter() - t0
    events = sample.events
    hits = [len(overlaps(found, e.market, e.start, e.end)) > 0 for e in events.itertuples()]
    exact = [
        len(
            found[
                (found["market"] == e.market)
                & (found["start"] == e.start)
                & (found["end"] == e.end)
            ]
        )
        == 1
        for e in events.itertuples()
    ]
    false = found[[overlaps(events, p.market, p.start, p.end).empty for p in found.itertuples()]]
    clean_markets = mature_cube.sizes["market"] - events["market"].nunique()
    print(
        f"\ndetection on {mature_cube.sizes['market']} markets x {mature_cube.sizes['time']} weeks: {seconds:.2f} s; "
        f"recall {np.mean(hits):.0%} ({sum(hits)}/{len(hits)}), exact windows {sum(exact)}/{len(exact)}, "
        f"false positives {len(false)} in {false['market'].nunique()} of {clean_markets} clean markets"
    )
    assert np.mean(hits) >= 0.9
    assert len(false) <= 2  # speed is measured in benchmarks, not asserted here


def test_no_proposals_in_strong_holiday_markets_without_disruptions(sample):
    truth = sample.truth[
        (sample.truth["date"] <= sample.actuals["date"].max())
        & sample.truth["market"].isin(STRONG_HOLIDAY_MARKETS)
    ]
    cube = to_cube(truth.rename(columns={"users_clean": "users"}), "W-MON")
    assert sorted(cube.market.values.tolist()) == sorted(STRONG_HOLIDAY_MARKETS)
    assert detect(cube["y"], M).empty
    # without the holiday regressors, moving holidays (Easter, Eid, Lunar New Year ...) look like disruptions
    assert len(detect(cube["y"], M, use_holidays=False)) > 10


def test_festival_days_are_grouped():
    groups = festivals(
        market_holidays("KR", pd.date_range("2020-01-06", "2026-12-28", freq="W-MON"))
    )
    chuseok = groups["Chuseok"].astype(str).tolist()
    assert {"2022-09-09", "2022-09-10", "2022-09-11", "2022-09-12"} <= set(
        chuseok
    )  # eve, day, 2nd day, substitute
    assert "National Foundation Day" in groups and "Hangul Day" in groups


def test_cleaned_series_matches_ground_truth(sample, cleaned):
    out, record = cleaned
    truth = truth_series(sample)
    errors = []
    for ev in sample.events.itertuples():
        dates = pd.date_range(ev.start, ev.end, freq="W-MON")
        got = out["y_clean"].sel(market=ev.market, time=dates).values
        errors.append(float(np.mean(np.abs(got / truth.loc[ev.market].loc[dates].to_numpy() - 1))))
    print(
        f"\ncleaned vs ground truth over the disrupted windows: median {np.median(errors):.2%}, "
        f"max {np.max(errors):.2%} ({', '.join(f'{e:.1%}' for e in errors)})"
    )
    assert np.median(errors) < 0.05
    np.testing.assert_array_equal(
        out["y"].values, to_cube(sample.actuals, "W-MON")["y"].sel(market=out.market).values
    )


def test_record_lists_known_and_detected_windows(sample, cleaned):
    out, record = cleaned
    assert list(record.columns) == RECORD_COLUMNS
    assert record["applied"].all()
    assert sorted(record.loc[record["source"] == "known", "market"]) == ["DK", "PE", "RO"]
    auto = record[record["source"] == "auto"]
    assert {"AR", "CO", "CR", "FR", "MT"} <= set(auto["market"])
    assert (auto[["kind"]].loc[auto["market"] == "MT"].values.ravel() == ["spike"]).all()
    changed = (out["y_clean"] != out["y"]) & out["y"].notnull()
    assert int(changed.sum()) == int(record["periods"].sum())


def test_proposals_are_reported_not_removed_without_auto(mature_cube):
    out, record = clean(mature_cube, load_disruptions(EVENTS_YAML), auto=False, season_length=M)
    assert sorted(record.loc[record["applied"], "market"]) == ["DK", "PE", "RO"]
    proposals = record[~record["applied"]]
    assert {"AR", "CO", "CR", "FR", "MT"} <= set(proposals["market"])
    assert (proposals["source"] == "auto").all() and proposals["note"].str.contains(
        "clean.auto is false"
    ).all()
    changed = ((out["y_clean"] != out["y"]) & out["y"].notnull()).any("time")
    assert sorted(out.market.values[changed.values].tolist()) == ["DK", "PE", "RO"]


def mase_next_year(history: np.ndarray, future: np.ndarray, scale_on: np.ndarray) -> float:
    """MASE of an MSTL forecast of the next 52 weeks."""
    fc = Model.create("mstl", {}, M).forecast(history[np.isfinite(history)], 52)["mean"]
    return float(np.mean(np.abs(fc - future)) / mase_scale(scale_on, M))


def test_forecast_on_cleaned_history_beats_raw(sample, mature_cube):
    """MSTL trained on y vs y_clean, scored on the next 52 weeks of the undisrupted ground truth."""
    truth = truth_series(sample)
    known = load_disruptions(EVENTS_YAML)
    rows = []
    for ev in sample.events.itertuples():
        for origin, cut in (
            ("4 weeks after the event", ev.end + pd.Timedelta(weeks=4)),
            ("end of history", mature_cube.time.values[-1]),
        ):
            cube = mature_cube.sel(market=[ev.market], time=slice(None, cut))
            if int(cube["y"].notnull().sum()) < 2 * M + 13:  # MSTL needs two seasons
                continue
            out, _ = clean(cube, known, auto=True, season_length=M)
            future = truth.loc[ev.market].loc[pd.Timestamp(cut) :].iloc[1:53].to_numpy()
            y, y_clean = out["y"].values[0], out["y_clean"].values[0]
            rows.append(
                {
                    "market": ev.market,
                    "origin": origin,
                    "raw": mase_next_year(y, future, y_clean),
                    "cleaned": mase_next_year(y_clean, future, y_clean),
                }
            )
    table = pd.DataFrame(rows)
    print("\nMASE of the next 52 weeks vs ground truth (MSTL), trained on raw vs cleaned history:")
    print(table.round(3).to_string(index=False))
    medians = table.groupby("origin")[["raw", "cleaned"]].median()
    print(medians.round(3).to_string())
    assert (medians["cleaned"] < medians["raw"]).all()
    after = table[table["origin"] == "4 weeks after the event"]
    assert (after["cleaned"] < after["raw"]).mean() >= 0.75


def test_most_changed_ranks_markets_by_periods_times_change() -> None:
    """Impact per market = sum of periods x |change %| over applied windows; ties by name; limits."""
    record = pd.DataFrame(
        {
            "market": ["A", "B", "B", "C", "D", "E"],
            "periods": [2, 1, 3, 4, 10, 0],
            "change_pct": [-50.0, 10.0, -20.0, 25.0, 1.0, 99.0],
            "applied": [True, True, True, True, True, False],
        }
    )  # A 100, B 10 + 60 = 70, C 100, D 10; E not applied
    assert most_changed(record, None) == ["A", "C", "B", "D"]
    assert most_changed(record, 2) == ["A", "C"]
    assert most_changed(record, 0) == []
    assert most_changed(record.iloc[5:], None) == []
    assert most_changed(record.iloc[0:0], 3) == []
