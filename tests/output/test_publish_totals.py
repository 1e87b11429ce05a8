"""The insights' section on the total and groups: bands, shares, and the part that adjustments make."""

from __future__ import annotations

import pandas as pd

from fcast.output.publish import insights
from fcast.output.publish.artifacts import RunArtifacts

DATES = pd.date_range("2026-11-23", periods=20, freq="W-MON")


def _rows(market: str, yhat: float, base: float, level: str | None = None) -> pd.DataFrame:
    """Constant forecast rows with +-10% / +-20% bands."""
    df = pd.DataFrame({"market": market, "date": DATES, "yhat": yhat})
    for lv, w in ((80, 0.1), (95, 0.2)):
        df[f"yhat_lo_{lv}"], df[f"yhat_hi_{lv}"] = yhat * (1 - w), yhat * (1 + w)
    df["family"], df["segment"], df["yhat_base"] = "ets", "mature", base
    df["adjustment_id"] = "a-up" if base != yhat else None
    if level is not None:
        df["family"], df["segment"], df["level"] = "bottom_up(ets)", "aggregate", level
    return df


def _run() -> RunArtifacts:
    """A: 100 (90 before a +10 adjustment) in region x, B: 50 in region y, their total 150."""
    forecast = pd.concat([_rows("A", 100.0, 90.0), _rows("B", 50.0, 50.0)], ignore_index=True)
    totals = pd.concat(
        [
            _rows("TOTAL", 150.0, 140.0, "total"),
            _rows("x", 100.0, 90.0, "region"),
            _rows("y", 50.0, 50.0, "region"),
        ],
        ignore_index=True,
    )
    return RunArtifacts("r1", {"data_end": "2026-11-16"}, forecast, totals=totals)


def test_total_and_groups_lead_with_bands_and_shares() -> None:
    """After the headline: the total and each region with 80/95% bands, largest region first."""
    text = insights(_run(), {}, name="v1")
    section = text.split("## Total and groups (end of Q1 2027)")[1].split("\n## ")[0]
    assert "Total users: **150** (80%: 135 to 165; 95%: 120 to 180)" in section
    assert "bottom-up reconciliation" in section
    assert section.index(
        "- x: 100 (80%: 90 to 110; 95%: 80 to 120), 67% of the total"
    ) < section.index("- y: 50")
    assert "Business adjustments make +10 of the total at that date." in section


def test_change_against_the_last_vintage_splits_into_adjustments_and_models() -> None:
    """Last vintage: 145 without adjustments; now 150 with +10 of them: +10 adjustments, -5 models."""
    prev = pd.concat([_rows("A", 95.0, 95.0), _rows("B", 50.0, 50.0)], ignore_index=True)
    text = insights(_run(), {"v0": prev}, name="v1")
    assert (
        "of the change of +5 against v0, +10 comes from adjustments and -5 from the models" in text
    )


def test_no_aggregates_no_section() -> None:
    """A run without a hierarchy has no such section."""
    run = _run()
    run.totals = None
    assert "## Total and groups" not in insights(run, {}, name="v1")
