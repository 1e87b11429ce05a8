"""The publish job on real runs: vintages, report, insights and channels; refusals before any work."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from fcast.errors import StoreError
from fcast.infra.vintage import list_vintages, read_vintage, verify_vintage
from fcast.jobs.publish import load_run, preview_run, publish_run
from fcast.output.publish import TOTAL, checkpoints, fmt_count, headline_checkpoint
from tests.output.runs import MARKETS, fresh_store, sample_runs
from tests.output.test_channels import webhook_server


@pytest.fixture(scope="session")
def runs(tmp_path_factory) -> dict[str, Any]:
    return sample_runs(tmp_path_factory)


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
    # the headline is the real total of the new forecast at the last quarter end of its horizon,
    # wherever demo-1 reached (fixed by the run, not by the previous vintage)
    fc = read_vintage(store, "demo-2")
    key = headline_checkpoint(second.comparison, fc["date"])
    assert key == checkpoints(fc["date"])["checkpoint"].max()
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


def test_preview_writes_insights_and_report_to_a_scratch_folder_and_leaves_the_store(
    runs, tmp_path
):
    store = fresh_store(runs, tmp_path)
    publish_run(store, runs["first"], "demo-1", author="ci", pngs=False)
    before = sorted(str(p) for p in Path(store.root).rglob("*"))
    out = tmp_path / "scratch"
    preview = preview_run(store, runs["second"], "demo-2", out, pngs=False)
    assert sorted(str(p) for p in Path(store.root).rglob("*")) == before  # nothing in the store
    assert list_vintages(store)["name"].tolist() == ["demo-1"]
    assert preview.previous == ["demo-1"] and preview.report == str(out / "report" / "index.html")
    text = (out / "insights.md").read_text()
    assert text == preview.insights and text.startswith("# Forecast demo-2")
    assert "demo-1" in text and (out / "comparison.parquet").exists()
    # the same text a real publish would write
    real = publish_run(store, runs["second"], "demo-2", author="ci", pngs=False)
    assert real.insights == text


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
