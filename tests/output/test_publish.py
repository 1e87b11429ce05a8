"""Publish: comparison at quarter and year ends, insights from hand-made forecasts, the whole publish on real runs."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fcast.errors import StoreError
from fcast.infra.store import Store
from fcast.infra.vintage import list_vintages, read_vintage, verify_vintage
from fcast.output.publish import (
    TOTAL,
    RunArtifacts,
    checkpoints,
    compare,
    fmt_count,
    insights,
    key_checkpoint,
    load_run,
    movers,
    period_name,
    publish_run,
    tracking,
)
from tests.output.test_channels import webhook_server

MARKETS = ["DE", "DK", "NO", "SE"]
_SAMPLE: dict[str, Any] = {}


def sample_runs(factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real runs, built once per session: sample data, a small tuning run, weekly runs 8 weeks apart."""
    if not _SAMPLE:
        from fcast.config import parse_config
        from fcast.data.sample import write_sample
        from fcast.jobs.pipeline import run_tuning, run_weekly

        root = factory.mktemp("sample-runs")
        write_sample(str(root / "sample"))
        (root / "space.yaml").write_text("families:\n  ets: {spec: [ANN]}\n  seasonal_naive: {}\n")
        raw = {
            "data": {"actuals": "sample/actuals.parquet"},
            "horizon": 52,
            "cv": {"splits": 1, "step": 13, "holdout": 0},
            "space": "space.yaml",
            "store": "store",
        }
        cfg = parse_config(raw, source="test", base=root)
        run_tuning(cfg, markets=MARKETS, progress=False)
        first = run_weekly(cfg, markets=MARKETS, as_of="2026-09-21", progress=False)
        second = run_weekly(cfg, markets=MARKETS, progress=False)
        _SAMPLE.update(root=root, store=cfg.store, first=first.run_id, second=second.run_id)
    return _SAMPLE


def fresh_store(sample: dict[str, Any], path: Path) -> Store:
    """A new store holding copies of the sample runs (publishing writes into it)."""
    shutil.copytree(Path(sample["store"]) / "runs", path / "store" / "runs")
    return Store(str(path / "store"))


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Any]:
    return sample_runs(tmp_path_factory)


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


# --- the whole publish on real runs ------------------------------------------------------


def test_publish_two_runs_as_vintages_with_report_insights_and_channels(runs, tmp_path):
    store = fresh_store(runs, tmp_path)
    first = publish_run(store, runs["first"], "demo-1", author="ci")
    assert first.ok and first.previous == [] and "first official forecast" in first.insights
    for rel in (
        "insights.md",
        "comparison.parquet",
        "report/index.html",
        "report/png/overview.png",
        "report/png/SE.png",
    ):
        assert store.exists("runs", runs["first"], *rel.split("/")), rel
        assert rel in first.vintage["files"]
    with webhook_server() as (url, received):
        second = publish_run(store, runs["second"], "demo-2", webhook_url=url, author="ci")
    assert (
        second.ok
        and second.previous == ["demo-1"]
        and second.vintage["compared_with"] == ["demo-1"]
    )
    assert set(second.sent) == {"store", "webhook"} and received[0]["json"] == {
        "text": second.insights,
        "run_id": runs["second"],
        "vintage": "demo-2",
    }
    assert list_vintages(store)["name"].tolist() == ["demo-1", "demo-2"]
    assert (Path(store.root) / "published" / "latest" / "report" / "png" / "DK.png").exists()
    # the headline is the real total of the new forecast at the latest checkpoint demo-1 also covers
    fc = read_vintage(store, "demo-2")
    key = key_checkpoint(second.comparison, "demo-1")
    week = checkpoints(fc["date"]).set_index("checkpoint").loc[key, "date"]
    assert f"**{fmt_count(fc.loc[fc['date'] == week, 'yhat'].sum())}**" in second.insights
    assert "## Actuals against previous forecasts (last 8 weeks)" in second.insights
    assert "(2026-09-28 to 2026-11-16)" in second.insights
    assert set(second.comparison["vintage"]) == {"demo-1"} and set(second.comparison["market"]) == {
        *MARKETS,
        TOTAL,
    }
    with pytest.raises(StoreError, match="'demo-2' already exists"):
        publish_run(store, runs["first"], "demo-2")
    assert verify_vintage(store, "demo-2") == [] and read_vintage(store, "demo-2").equals(fc)


def test_publish_refuses_before_any_work_when_a_channel_is_misconfigured(runs, tmp_path):
    store = fresh_store(runs, tmp_path)
    from fcast.output.channels import ChannelError

    with pytest.raises(ChannelError, match="unknown channel 'email'"):
        publish_run(store, runs["first"], "v1", channels=("store", "email"))
    assert list_vintages(store).empty and not store.exists("runs", runs["first"], "insights.md")


def test_a_failing_webhook_is_reported_and_the_vintage_stays(runs, tmp_path):
    store = fresh_store(runs, tmp_path)
    with webhook_server(status=500) as (url, _):
        result = publish_run(store, runs["first"], "v1", channels=(), webhook_url=url, report=False)
    assert not result.ok and "answered HTTP 500" in result.failed["webhook"]
    assert result.report is None and list_vintages(store)["name"].tolist() == ["v1"]


def test_qc_errors_stop_a_publish_before_any_file_is_written_unless_overridden(runs, tmp_path):
    store = fresh_store(runs, tmp_path)
    qc = pd.DataFrame(
        {
            "market": ["SE"],
            "check": ["interval_width"],
            "severity": ["error"],
            "detail": ["95% interval 3x the level"],
        }
    )
    store.write_parquet(qc, "runs", runs["first"], "qc.parquet")
    with pytest.raises(StoreError, match="QC found 1 error"):
        publish_run(store, runs["first"], "v1", report=False)
    assert not store.exists("runs", runs["first"], "insights.md") and list_vintages(store).empty
    result = publish_run(
        store, runs["first"], "v1", report=False, override_reason="reviewed by ana", author="ana"
    )
    assert result.vintage["override"]["reason"] == "reviewed by ana"
    assert (
        'Published despite 1 QC error(s), overridden by ana: "reviewed by ana".' in result.insights
    )
    assert list_vintages(store)["override"].tolist() == ["reviewed by ana"]


def test_load_run_reads_optional_tables_and_cuts_actuals_at_the_forecast(runs, tmp_path):
    store = fresh_store(runs, tmp_path)
    store.write_parquet(
        pd.DataFrame({"market": ["SE"], "proxy": ["NO"], "weight": [1.0]}),
        "runs",
        runs["first"],
        "proxies.parquet",
    )
    for optional in ("qc.parquet", "adjustments.parquet"):  # written by every pipeline run today
        (Path(store.root) / "runs" / runs["first"] / optional).unlink(missing_ok=True)
    run = load_run(store, runs["first"])
    assert run.proxies is not None and run.qc is None and run.adjustments is None
    assert run.actuals["date"].max() == pd.Timestamp("2026-09-21") < run.forecast["date"].min()
    assert sorted(run.actuals["market"].unique()) == MARKETS
    manifest = json.loads((Path(store.root) / "runs" / runs["first"] / "manifest.json").read_text())
    assert run.manifest == manifest
