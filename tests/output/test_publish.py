"""Publish's pure stages: comparison at quarter and year ends, tracking and insights from hand-made forecasts."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from fcast.output.publish import (
    TOTAL,
    RunArtifacts,
    checkpoints,
    compare,
    headline_checkpoint,
    human_numbers,
    insights,
    key_checkpoint,
    movers,
    period_name,
    tracking,
)

# --- hand-made forecasts ---------------------------------------------------------------


def flat(levels: dict[str, float], start: str, periods: int, spread: float = 0.1) -> pd.DataFrame:
    """A forecast table at a constant level per market, with +-spread 80% and +-2*spread 95% bounds."""
    dates = pd.date_range(start, periods=periods, freq="W-MON")
    rows = [
        {
            "market": m,
            "date": d,
            "yhat": v,
            "yhat_lo_80": v * (1 - spread),
            "yhat_hi_80": v * (1 + spread),
            "yhat_lo_95": v * (1 - 2 * spread),
            "yhat_hi_95": v * (1 + 2 * spread),
            "family": "ets",
            "segment": "mature",
        }
        for m, v in levels.items()
        for d in dates
    ]
    return pd.DataFrame(rows)


def history(levels: dict[str, float], start: str, end: str) -> pd.DataFrame:
    """Actuals at a constant level per market between two Mondays."""
    dates = pd.date_range(start, end, freq="W-MON")
    return pd.DataFrame(
        [{"market": m, "date": d, "y": v} for m, v in levels.items() for d in dates]
    )


def test_checkpoints_are_quarter_ends_within_the_horizon():
    cps = checkpoints(
        pd.date_range("2026-11-23", periods=20, freq="W-MON")
    )  # to the week of 2027-04-05
    assert cps.to_dict("records") == [
        {
            "checkpoint": pd.Timestamp("2026-12-31"),
            "label": "end of 2026",
            "year_end": True,
            "date": pd.Timestamp("2026-12-28"),
        },
        {
            "checkpoint": pd.Timestamp("2027-03-31"),
            "label": "end of Q1 2027",
            "year_end": False,
            "date": pd.Timestamp("2027-03-29"),
        },
    ]
    monthly = checkpoints(
        pd.date_range("2026-01-01", periods=6, freq="MS")
    )  # Jan..Jun: the June period holds 06-30
    assert monthly["checkpoint"].tolist() == [
        pd.Timestamp("2026-03-31"),
        pd.Timestamp("2026-06-30"),
    ]
    assert monthly["date"].tolist() == [pd.Timestamp("2026-03-01"), pd.Timestamp("2026-06-01")]
    assert period_name(pd.date_range("2026-01-01", periods=6, freq="MS")) == "month"
    assert period_name(pd.date_range("2026-11-23", periods=3, freq="W-MON")) == "week"
    assert period_name(pd.date_range("2026-01-01", periods=3, freq="QS")) == "quarter"


def test_compare_levels_differences_and_growth_at_fixed_dates():
    new = flat({"A": 110.0, "B": 50.0}, "2026-11-23", 20)
    v1 = flat(
        {"A": 100.0, "B": 50.0}, "2026-10-26", 20
    )  # ends in the week of 2027-03-08: no Q1 2027
    actuals = history({"A": 100.0, "B": 40.0}, "2025-06-02", "2026-11-16")
    actuals.loc[(actuals["market"] == "A") & (actuals["date"] == "2025-12-29"), "y"] = 88.0
    cmp = compare(new, {"v1": v1}, actuals).set_index(["market", "label"])
    a, total = cmp.loc[("A", "end of 2026")], cmp.loc[(TOTAL, "end of 2026")]
    assert (a["yhat"], a["prev_yhat"], a["diff"], a["diff_pct"]) == (
        110.0,
        100.0,
        10.0,
        pytest.approx(10.0),
    )
    assert a["yoy_pct"] == pytest.approx(25.0) and a["prev_yoy_pct"] == pytest.approx(
        100 / 88 * 100 - 100
    )
    assert (total["yhat"], total["prev_yhat"], total["diff"]) == (160.0, 150.0, 10.0)
    assert total["diff_pct"] == pytest.approx(100 / 15) and total["yoy_pct"] == pytest.approx(25.0)
    q1 = cmp.loc[(TOTAL, "end of Q1 2027")]
    assert q1["yoy_pct"] == pytest.approx(100 * (160 / 140 - 1)) and math.isnan(q1["prev_yhat"])
    assert key_checkpoint(compare(new, {"v1": v1}, actuals), "v1") == pd.Timestamp("2026-12-31")
    assert movers(compare(new, {"v1": v1}, actuals), "v1")["market"].tolist() == ["A", "B"]
    first = compare(new, {}, None)
    assert first["vintage"].isna().all() and len(first) == 6 and first["prev_yhat"].isna().all()


MATURE = {"DK": 1.0e6, "FI": 0.5e6, "NO": 0.8e6, "SE": 2.0e6}


def hand_made_run() -> tuple[RunArtifacts, dict[str, pd.DataFrame], dict[str, dict]]:
    """A new forecast against v1 and v0 with known changes, tracking, a new market, QC and an adjustment."""
    new = flat({"DK": 1.1e6, "FI": 0.5e6, "NO": 0.76e6, "SE": 2.04e6, "KE": 2e4}, "2026-11-23", 20)
    new.loc[new["market"] == "KE", "segment"] = "new"
    new["yhat_base"], new["adjustment_id"] = new["yhat"], None
    window = (new["market"] == "DK") & new["date"].between("2027-01-04", "2027-03-29")
    new.loc[window, "yhat_base"], new.loc[window, "adjustment_id"] = 1.0e6, "adj-1"
    v1 = flat(MATURE, "2026-09-28", 30)
    v0 = flat({**MATURE, "DK": 0.9e6}, "2026-06-29", 45)
    actuals = pd.concat(
        [
            history(MATURE, "2024-01-01", "2026-11-16"),
            history({"KE": 1e4}, "2026-06-01", "2026-11-16"),
        ]
    )
    recent = actuals["date"] >= "2026-09-28"
    actuals.loc[recent & (actuals["market"] == "SE"), "y"] = 2.1e6
    actuals.loc[recent & (actuals["market"] == "NO"), "y"] = 0.768e6
    run = RunArtifacts(
        "weekly-x",
        {"data_end": "2026-11-16", "config": {"data": {"value": "users"}}},
        new,
        actuals.reset_index(drop=True),
        qc=pd.DataFrame(
            {
                "market": ["SE", "DK"],
                "check": ["interval_width", "negative"],
                "severity": ["warning", "ok"],
                "detail": ["80% interval wider than 50% of the level", ""],
            }
        ),
        proxies=pd.DataFrame({"market": ["KE", "KE"], "proxy": ["NO", "SE"], "weight": [0.4, 0.6]}),
        adjustments=pd.DataFrame(
            {
                "adjustment_id": ["adj-1"],
                "market": ["DK"],
                "start": ["2027-01-04"],
                "end": ["2027-03-29"],
                "kind": ["pct"],
                "value": [10.0],
                "reason": ["TV campaign"],
                "author": ["bo"],
            }
        ),
    )
    meta = {"v1": {"data_end": "2026-09-21"}, "v0": {"data_end": "2026-06-22"}}
    return run, {"v1": v1, "v0": v0}, meta


def test_insights_name_the_right_markets_and_numbers():
    run, previous, meta = hand_made_run()
    text = insights(run, previous, name="2026-W47", meta=meta)
    assert text.startswith(
        "# Forecast 2026-W47\n\nRun weekly-x, actuals to 2026-11-16, 5 markets.\n\n"
    )
    expected = [
        "Total users at end of Q1 2027 (week of 2027-03-29): **4.42M**, +2.8% on a year earlier.",
        "Compared with the previous official forecasts: up 2.8% (+120k) on v1 (data to 2026-09-21); "
        "up 5.2% (+220k) on v0 (data to 2026-06-22).",
        "- end of 2026: 4.42M, +2.8% year on year (was +0.0%); +2.8% vs v1",
        "## Biggest changes vs v1 (end of Q1 2027)",
        "- **DK** raised 10.0% (+100k, to 1.1M)\n- **NO** lowered 5.0% (-40k, to 760k)\n- **SE** raised 2.0% (+40k, to 2.04M)\n\n",
        "\n\nTogether they account for +100k of the +120k change in the total.\n\nThe other market is unchanged.\n\n",
        "New in this forecast (not in v1): KE.",
        "Over the last 8 weeks (2026-09-28 to 2026-11-16) the total ran 1.6% above v1's forecast.",
        "- **SE** ran 5.0% above v1 (above in 8 of 8 weeks; within its 80% interval throughout); also above v0 (+5.0%)\n"
        "- **NO** ran 4.0% below v1 (below in 8 of 8 weeks; within its 80% interval throughout); also below v0 (-4.0%)",
        "- **KE** (25 weeks of history): 10k now, 20k by 2027-04-05 (x2.0); proxies SE 0.60, NO 0.40.",
        "- **SE** interval_width: 80% interval wider than 50% of the level",
        "- **DK** +10% from 2027-01-04 to 2027-03-29: TV campaign (bo); +100k per week on average over 13 weeks.",
    ]
    for line in expected:
        assert line in text, line
    assert "**FI**" not in text and "**DK** ran" not in text  # unchanged, on track


def test_insights_for_a_first_forecast_and_an_override():
    run, _, _ = hand_made_run()
    override = {
        "reason": "known data fix",
        "author": "ana",
        "errors": [{"market": "SE", "check": "negative", "detail": ""}],
    }
    text = insights(run, {}, override=override)
    assert (
        "This is the first official forecast, so there is no earlier one to compare it with."
        in text
    )
    assert "Biggest changes" not in text and "Actuals against" not in text
    assert 'Published despite 1 QC error(s), overridden by ana: "known data fix".' in text


def test_tracking_scores_previous_vintages_on_recent_actuals():
    run, previous, _ = hand_made_run()
    track = tracking(run.actuals, previous, periods=8).set_index(["vintage", "market"])
    se = track.loc[("v1", "SE")]
    assert (se["periods"], se["above"], se["outside_80"]) == (8, 8, 0)
    assert se["diff_pct"] == pytest.approx(5.0) and se["first"] == pd.Timestamp("2026-09-28")
    assert track.loc[("v1", TOTAL), "diff_pct"] == pytest.approx(100 * (4.368 / 4.3 - 1))
    assert track.loc[("v0", "DK"), "diff_pct"] == pytest.approx(100 * (1 / 0.9 - 1))


def test_headline_checkpoint_is_fixed_by_the_run_not_by_the_previous_vintage():
    new = flat(MATURE, "2026-11-30", 52)  # a year ahead: last quarter end 2027-09-30
    short = flat(MATURE, "2026-11-30", 10)  # a previous vintage that reaches only Q4 2026
    comparison = compare(new, {"short": short}, None)
    alone = compare(new, {}, None)
    assert headline_checkpoint(comparison, new["date"]) == pd.Timestamp("2027-09-30")
    assert headline_checkpoint(alone, new["date"]) == pd.Timestamp("2027-09-30")
    assert key_checkpoint(comparison, "short") == pd.Timestamp("2026-12-31")  # what it used to be
    assert headline_checkpoint(comparison, new["date"], periods=20) == pd.Timestamp("2027-03-31")
    run = RunArtifacts("weekly-y", {"config": {"data": {"value": "users"}}}, new, None)
    text = insights(run, {"short": short}, comparison, name="v")
    assert "Total users at end of Q3 2027" in text
    assert "The previous official forecasts do not reach end of Q3 2027." in text
    limited = RunArtifacts(
        "weekly-y", {"config": {"data": {"value": "users"}, "publish": {"headline": 20}}}, new, None
    )
    assert "Total users at end of Q1 2027" in insights(limited, {}, alone, name="v")


def test_a_pre_launch_market_is_described_from_its_launch():
    new = flat({**MATURE, "UZ": 3e4}, "2026-11-23", 30)
    uz = new["market"] == "UZ"
    new.loc[uz, "segment"] = "new"
    new.loc[uz & (new["date"] < "2027-03-08"), "yhat"] = 0.0  # launches 2027-03-08
    actuals = history(MATURE, "2024-01-01", "2026-11-16")
    run = RunArtifacts("weekly-z", {"config": {"data": {"value": "users"}}}, new, actuals)
    text = insights(run, {})
    assert "**UZ** (pre-launch): from 30k in the week of 2027-03-08 (launch) to 30k by" in text


def test_human_numbers_shortens_large_float_columns_only():
    table = pd.DataFrame(
        {"market": ["SE", "NO"], "yhat": [1_433_076.0, 845_300.0], "factor": [1.5, 0.25]}
    )
    out = human_numbers(table)
    assert out["yhat"].tolist() == ["1.43M", "845k"]
    assert out["factor"].tolist() == [1.5, 0.25] and table["yhat"].dtype.kind == "f"


def test_human_table_counts_errors_ages_and_times():
    from fcast.output.publish import human_table

    table = pd.DataFrame(
        {
            "yhat": [1_433_076.0, 845_300.0, float("nan")],
            "fits": [12_480, 950, 3],
            "cv_score": [0.50114, 0.2, 1.0],
            "value": [1.15, 2.0, 0.5],
            "change_pct": [15.0, -2.44, 0.0],
            "age_days": [0, 3, 120],
            "started": pd.to_datetime(
                ["2026-12-01 15:00:06", "2026-11-30 09:30:00", None], utc=True
            ),
            "data_end": pd.to_datetime(["2026-11-16", "2026-09-21", "2026-11-23"]),
            "note": ["a", None, "c"],
        }
    )
    out = human_table(table)
    assert out.to_dict("list") == {
        "yhat": ["1.43M", "845k", ""],
        "fits": ["12,480", "950", "3"],
        "cv_score": ["0.501", "0.200", "1.000"],  # errors: fixed decimals, at most 3
        "value": ["1.15", "2.00", "0.50"],  # the fewest decimals that show every value
        "change_pct": ["+15.0%", "-2.4%", "+0.0%"],
        "age": ["0 d", "3 d", "120 d"],
        "started": ["2026-12-01 15:00", "2026-11-30 09:30", ""],
        "data_end": ["2026-11-16", "2026-09-21", "2026-11-23"],
        "note": ["a", "", "c"],
    }
    assert table["yhat"].dtype.kind == "f"  # the input is left as it was
