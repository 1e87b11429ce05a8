"""Tests for the deterministic sample-data generator."""

from __future__ import annotations

import holidays
import numpy as np
import pandas as pd
import pytest

from fcast.data.sample import STRONG_HOLIDAY_MARKETS, SampleData, make_sample, write_sample

END = pd.Timestamp("2026-11-16")
FIELDS = ("actuals", "markets", "events", "truth")


@pytest.fixture(scope="module")
def data() -> SampleData:
    """Default sample, generated once per module."""
    return make_sample()


def _segment(data: SampleData, seg: str) -> pd.DataFrame:
    """Rows of the markets table in one segment."""
    return data.markets[data.markets["segment_hint"] == seg]


def test_same_seed_is_identical(data: SampleData) -> None:
    """Two calls with the same seed give identical frames, down to the hashed bytes."""
    again = make_sample()
    for name in FIELDS:
        a, b = getattr(data, name), getattr(again, name)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert pd.util.hash_pandas_object(a).equals(pd.util.hash_pandas_object(b))


def test_different_seed_differs(data: SampleData) -> None:
    """Another seed changes the observed values and the events."""
    other = make_sample(seed=8)
    assert not data.actuals["users"].equals(other.actuals["users"])
    assert not data.events.equals(other.events)


def test_segment_counts(data: SampleData) -> None:
    """At least 60 mature, 6 new launched in the last year and 2 prelaunch markets."""
    assert len(_segment(data, "mature")) >= 60
    new = _segment(data, "new")
    assert len(new) >= 6
    assert (
        new["launch_date"].between(END - pd.Timedelta(weeks=50), END - pd.Timedelta(weeks=8)).all()
    )
    pre = _segment(data, "prelaunch")
    assert len(pre) >= 2
    assert (pre["launch_date"] > END).all()
    assert not data.actuals["market"].isin(pre["market"]).any()
    assert data.markets["market"].is_unique


def test_prelaunch_truth_has_launch_curve(data: SampleData) -> None:
    """Prelaunch markets have future truth starting at launch and growing."""
    for row in _segment(data, "prelaunch").itertuples():
        t = data.truth[data.truth["market"] == row.market]
        assert t["date"].min() == row.launch_date
        assert t["trend"].iloc[-1] > 3 * t["trend"].iloc[0]


def test_mature_launches_inside_history(data: SampleData) -> None:
    """Some mature markets launched inside the history, at least 2 years before end."""
    mature = _segment(data, "mature")
    start = data.actuals["date"].min()
    inside = mature[mature["launch_date"] > start]
    assert len(inside) >= 10
    assert (inside["launch_date"] <= END - pd.Timedelta(weeks=104)).all()
    first = data.actuals.groupby("market")["date"].min()
    assert (first[inside["market"]].to_numpy() == inside["launch_date"].to_numpy()).all()


def test_codes_supported_by_holidays(data: SampleData) -> None:
    """Every market code is an ISO alpha-2 code with a holidays calendar."""
    for code in data.markets["market"]:
        assert len(code) == 2 and code.isupper()
        assert len(holidays.country_holidays(code, years=2025)) > 0


def test_sizes_span_three_orders(data: SampleData) -> None:
    """Last-week users of mature markets span at least three orders of magnitude."""
    mature = _segment(data, "mature")["market"]
    last = data.actuals[(data.actuals["date"] == END) & data.actuals["market"].isin(mature)]
    assert np.log10(last["users"].max() / last["users"].min()) >= 3


def test_values_clean(data: SampleData) -> None:
    """No NaN, positive values, no duplicate keys, nothing observed after end."""
    for name in FIELDS:
        assert not getattr(data, name).isna().any().any()
    assert (data.actuals["users"] > 0).all()
    assert (data.truth[["users_clean", "users_signal", "trend", "seasonal"]] > 0).all().all()
    assert not data.actuals.duplicated(["market", "date"]).any()
    assert not data.truth.duplicated(["market", "date"]).any()
    assert data.actuals["date"].max() == END
    assert data.truth["date"].max() == END + pd.Timedelta(weeks=104)


def test_dates_are_regular_mondays(data: SampleData) -> None:
    """All dates are Mondays and each market's series is weekly without gaps."""
    assert (data.actuals["date"].dt.dayofweek == 0).all()
    assert (data.truth["date"].dt.dayofweek == 0).all()
    for _, g in data.actuals.groupby("market"):
        assert (g["date"].diff().dropna() == pd.Timedelta(weeks=1)).all()
        assert g["date"].max() == END
    launch = data.markets.set_index("market")["launch_date"]
    first = data.actuals.groupby("market")["date"].min()
    assert (first >= launch[first.index]).all()


def test_events_valid(data: SampleData) -> None:
    """6-10 events of known kinds, in mature markets, not overlapping, not in the last 8 weeks."""
    ev = data.events.sort_values("start")
    assert 6 <= len(ev) <= 10
    assert set(ev["kind"]) == {"outage", "pipeline_spike", "campaign"}
    assert ev["market"].isin(_segment(data, "mature")["market"]).all()
    assert (ev["start"] <= ev["end"]).all()
    assert (ev["start"] >= data.actuals["date"].min()).all()
    assert (ev["end"] <= END - pd.Timedelta(weeks=8)).all()
    assert (ev["start"].iloc[1:].to_numpy() > ev["end"].iloc[:-1].to_numpy()).all()
    weeks = (ev["end"] - ev["start"]).dt.days // 7 + 1
    for kind, lo, hi, emin, emax in [
        ("outage", 1, 2, 0.4, 0.7),
        ("pipeline_spike", 1, 1, 1.5, 2.5),
        ("campaign", 3, 6, 1.2, 1.5),
    ]:
        mask = ev["kind"] == kind
        assert weeks[mask].between(lo, hi).all()
        assert ev.loc[mask, "effect"].between(emin, emax).all()


def test_observed_over_clean_matches_events(data: SampleData) -> None:
    """observed / clean equals the event effect inside windows and 1 elsewhere."""
    merged = data.actuals.merge(data.truth, on=["market", "date"], validate="1:1")
    assert len(merged) == len(data.actuals)
    expected = np.ones(len(merged))
    for ev in data.events.itertuples():
        inside = (merged["market"] == ev.market) & merged["date"].between(ev.start, ev.end)
        assert inside.any()
        expected[inside.to_numpy()] = ev.effect
    np.testing.assert_allclose(merged["users"] / merged["users_clean"], expected, rtol=1e-12)


def test_signal_decomposition(data: SampleData) -> None:
    """users_signal = trend * seasonal * holiday_effect; clean noise is small."""
    t = data.truth
    np.testing.assert_allclose(
        t["users_signal"], t["trend"] * t["seasonal"] * t["holiday_effect"], rtol=1e-12
    )
    ratio = np.log(t["users_clean"] / t["users_signal"])
    assert ratio.abs().max() < 0.25
    assert 0.005 < ratio.std() < 0.05


def test_holiday_effect_known_weeks(data: SampleData) -> None:
    """Christmas week in GB and Easter weeks in DE carry a holiday effect; a plain week does not."""
    h = data.truth.set_index(["market", "date"])["holiday_effect"]
    assert abs(h[("GB", pd.Timestamp("2025-12-22"))] - 1) > 0.01
    assert abs(h[("DE", pd.Timestamp("2025-04-14"))] - 1) > 0.05  # Good Friday 2025-04-18
    assert abs(h[("DE", pd.Timestamp("2025-04-21"))] - 1) > 0.05  # Easter Monday 2025-04-21
    assert h[("GB", pd.Timestamp("2025-07-07"))] == 1.0


def test_strong_moving_holidays(data: SampleData) -> None:
    """Strong-effect markets have much larger holiday swings than the others."""
    swing = data.truth.groupby("market")["holiday_effect"].agg(lambda x: np.abs(np.log(x)).max())
    strong = [m for m in STRONG_HOLIDAY_MARKETS if m in swing.index]
    assert len(strong) >= 6
    assert (swing[strong] > 0.25).all()
    assert swing.drop(strong).max() <= 0.15 + 1e-9


def test_new_market_curves_follow_features(data: SampleData) -> None:
    """New markets ramp up from launch and similar features give similar per-capita levels."""
    t = data.truth
    for code in _segment(data, "new")["market"]:
        trend = t.loc[t["market"] == code, "trend"].to_numpy()
        assert trend[-1] > 3 * trend[0]
    m = data.markets.set_index("market")
    top = t[t["date"] == t["date"].max()].set_index("market")["trend"] / m["population"]
    rich = m["gdp_per_capita"] > 40_000
    assert top[rich].median() > 3 * top[m["gdp_per_capita"] < 5_000].median()


def test_write_sample_roundtrip(data: SampleData, tmp_path) -> None:
    """write_sample writes four parquet files that read back identically."""
    root = str(tmp_path / "nested" / "sample")
    paths = write_sample(root, data)
    assert set(paths) == set(FIELDS)
    for name, path in paths.items():
        back = pd.read_parquet(path)
        pd.testing.assert_frame_equal(back, getattr(data, name), check_exact=True)


def test_parameters_respected() -> None:
    """Smaller requests honour counts and history length; bad end dates are rejected."""
    small = make_sample(seed=1, years=3.0, n_mature=20, n_new=2, n_prelaunch=1, future_weeks=10)
    assert small.markets["segment_hint"].value_counts().to_dict() == {
        "mature": 20,
        "new": 2,
        "prelaunch": 1,
    }
    assert small.actuals["date"].min() == END - pd.Timedelta(weeks=157)
    with pytest.raises(ValueError):
        make_sample(end="2026-11-17")
    with pytest.raises(ValueError):
        make_sample(n_mature=500)


def test_scaled_sample_has_any_number_of_distinct_markets() -> None:
    """Beyond the pool, copies get their own codes, series and their country's holidays."""
    from fcast.data.sample import copy_countries, make_scaled_sample

    data = make_scaled_sample(75, years=2.0)
    codes = data.markets["market"].tolist()
    assert len(codes) == len(set(codes)) == 75
    assert "US-0070" in codes
    assert copy_countries(codes)["US-0070"] == "US"
    region = data.markets.set_index("market")["region"]
    assert region["US-0070"] == region["US"]  # a copy is in its original's region
    wide = data.actuals.pivot(index="date", columns="market", values="users")
    assert not wide["US"].equals(wide["US-0070"])


def _scored_forecast() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Truth 100 for A (4 weeks) and B (2 weeks); 80% bounds hold 2 of A's weeks and none of B's."""
    dates = pd.date_range("2030-01-07", periods=4, freq="W-MON")
    truth = pd.DataFrame(
        {"market": ["A"] * 4 + ["B"] * 2, "date": [*dates, *dates[:2]], "users_clean": 100.0}
    )
    fc = truth.rename(columns={"users_clean": "yhat"}).assign(
        segment="mature", yhat_lo_80=99.0, yhat_lo_95=50.0, yhat_hi_95=150.0
    )
    fc["yhat_hi_80"] = [101.0, 101.0, 99.5, 99.5, 99.5, 99.5]
    return fc, truth


def test_score_against_truth_known_answers() -> None:
    """Per market: sMAPE, coverage for every level of the forecast, and the weeks scored."""
    from fcast.data.sample import score_against_truth

    fc, truth = _scored_forecast()
    scores = score_against_truth(fc, truth).set_index("market")
    assert scores.loc["A", "coverage_80"] == 0.5 and scores.loc["B", "coverage_80"] == 0.0
    assert (scores["coverage_95"] == 1.0).all() and (scores["smape"] == 0.0).all()
    assert scores["weeks"].tolist() == [4, 2]


def test_truth_summary_pools_coverage_over_market_weeks() -> None:
    """Market A: 4 weeks, all inside; market B: 1 week, outside. Pooled 4/5, not the median 1/2."""
    from fcast.data.sample import score_against_truth, truth_summary

    dates = pd.date_range("2026-01-05", periods=4, freq="7D")
    truth = pd.DataFrame(
        {"market": ["A"] * 4 + ["B"], "date": [*dates, dates[0]], "users_clean": 100.0}
    )
    fc = truth.drop(columns="users_clean").assign(
        segment="mature",
        yhat=[100.0, 100.0, 100.0, 100.0, 300.0],
        yhat_lo_80=[90.0] * 4 + [250.0],
        yhat_hi_80=[110.0] * 4 + [350.0],
    )
    out = truth_summary(score_against_truth(fc, truth))
    row = out.loc["mature"]
    assert row["markets"] == 2
    assert row["coverage_80"] == pytest.approx(0.8)
    assert row["smape"] == pytest.approx(50.0)  # median of 0 and 100
    assert row["smape_mean"] == pytest.approx(50.0)
