"""Business adjustments (the stage): exact numbers per kind, validation, the YAML schema.

Reading and writing the files is tested in tests/jobs/test_adjust.py, custom markets in
tests/markets/test_custom.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fcast.errors import ConfigError
from fcast.markets.adjustments import (
    Adjustment,
    adjustments_table,
    apply_adjustments,
    base_of,
    changes,
    conflicts,
    dump_adjustments,
    effects,
    expired,
    make_adjustment,
    new_id,
    overlap,
    parse_adjustments,
    preview,
    validate_adjustments,
)
from fcast.yamlio import load_yaml_text

ROOT = Path(__file__).resolve().parents[2]
DATES = pd.date_range("2026-11-23", periods=4, freq="W-MON")  # 11-23, 11-30, 12-07, 12-14
CREATED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


def forecast() -> pd.DataFrame:
    """SE yhat 100..130 with bounds +-10 (80%) and +-20 (95%); NO flat 50 +-5/+-10."""
    rows = []
    for market, yhat, w in (("SE", [100.0, 110.0, 120.0, 130.0], 10.0), ("NO", [50.0] * 4, 5.0)):
        y = np.array(yhat)
        rows.append(
            pd.DataFrame(
                {
                    "market": market,
                    "date": DATES,
                    "yhat": y,
                    "yhat_lo_80": y - w,
                    "yhat_hi_80": y + w,
                    "yhat_lo_95": y - 2 * w,
                    "yhat_hi_95": y + 2 * w,
                    "family": "ets",
                    "segment": "mature",
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def adj(
    kind: str,
    value: float,
    start: str = "2026-11-30",
    end: str = "2026-12-07",
    market: str = "SE",
    id: str | None = None,
) -> Adjustment:  # noqa: A002
    return make_adjustment(
        market,
        start,
        end,
        kind,
        value,
        "test reason",
        "tester",
        id=id or f"{market}-{kind}-{start}",
        created=CREATED,
    )


def se(df: pd.DataFrame, col: str) -> list[float]:
    return df.loc[df["market"] == "SE", col].round(9).tolist()


# --- each kind gives exact numbers -----------------------------------------------------------


def test_multiplicative_scales_yhat_and_every_bound():
    out = apply_adjustments(forecast(), [adj("multiplicative", 1.5)])
    assert se(out, "yhat") == [100, 165, 180, 130]
    assert se(out, "yhat_lo_80") == [90, 150, 165, 120]
    assert se(out, "yhat_hi_80") == [110, 180, 195, 140]
    assert se(out, "yhat_lo_95") == [80, 135, 150, 110]
    assert se(out, "yhat_hi_95") == [120, 195, 210, 150]
    assert se(out, "yhat_base") == [100, 110, 120, 130]
    assert se(out, "yhat_hi_95_base") == [120, 130, 140, 150]
    ids = out.loc[out["market"] == "SE", "adjustment_id"].tolist()
    assert ids == [None, "SE-multiplicative-2026-11-30", "SE-multiplicative-2026-11-30", None]
    assert out.loc[out["market"] == "NO", "yhat"].tolist() == [50.0] * 4
    assert out["adjustment_id"][out["market"] == "NO"].isna().all()


def test_additive_shifts_yhat_and_bounds_by_the_value():
    out = apply_adjustments(forecast(), [adj("additive", -30)])
    assert se(out, "yhat") == [100, 80, 90, 130]
    assert se(out, "yhat_lo_95") == [80, 60, 70, 110]
    assert se(out, "yhat_hi_80") == [110, 90, 100, 140]


def test_additive_clips_at_zero_keeping_bounds_ordered():
    out = apply_adjustments(forecast(), [adj("additive", -115)])
    assert se(out, "yhat") == [100, 0, 5, 130]
    assert se(out, "yhat_lo_80") == [90, 0, 0, 120]
    assert se(out, "yhat_hi_95") == [120, 15, 25, 150]


def test_level_shift_sets_the_mean_over_the_period_and_keeps_the_shape():
    # base mean over 11-30..12-07 is (110 + 120) / 2 = 115, so everything moves by 200 - 115 = 85
    out = apply_adjustments(forecast(), [adj("level_shift", 200)])
    assert se(out, "yhat") == [100, 195, 205, 130]
    assert se(out, "yhat_lo_80") == [90, 185, 195, 120]
    assert se(out, "yhat_hi_95") == [120, 215, 225, 150]


def test_ramp_goes_linearly_from_the_base_at_start_to_the_target_at_end():
    # w = 0, 0.5, 1 on 11-30, 12-07, 12-14: yhat = (1 - w) * base + w * 200
    out = apply_adjustments(forecast(), [adj("ramp", 200, "2026-11-30", "2026-12-14")])
    assert se(out, "yhat") == [100, 110, 160, 200]
    assert se(out, "yhat_lo_80") == [
        90,
        100,
        150,
        190,
    ]  # bounds shift by yhat - yhat_base: 0, 40, 70
    assert se(out, "yhat_hi_95") == [120, 130, 180, 220]


def test_ramp_that_started_before_the_forecast_continues_where_it_is():
    # start 11-16 (before the horizon), end 11-30: w = 0.5 on 11-23 and 1 on 11-30
    out = apply_adjustments(forecast(), [adj("ramp", 200, "2026-11-16", "2026-11-30")])
    assert se(out, "yhat") == [150, 200, 120, 130]


def test_ramp_of_one_period_is_the_target():
    out = apply_adjustments(forecast(), [adj("ramp", 42, "2026-12-07", "2026-12-07")])
    assert se(out, "yhat") == [100, 110, 42, 130]


def test_two_multiplicative_adjustments_combine_and_both_are_traced():
    a = adj("multiplicative", 1.1, "2026-11-23", "2026-12-07", id="a")
    b = adj("multiplicative", 1.2, "2026-11-30", "2026-12-14", id="b")
    out = apply_adjustments(forecast(), [a, b])
    assert se(out, "yhat") == [110, 145.2, 158.4, 156]
    assert out.loc[out["market"] == "SE", "adjustment_id"].tolist() == ["a", "a+b", "a+b", "b"]


def test_applying_again_starts_from_the_base():
    once = apply_adjustments(forecast(), [adj("multiplicative", 2.0)])
    again = apply_adjustments(once, [adj("additive", 1)])
    assert se(again, "yhat") == [100, 111, 121, 130]
    assert se(again, "yhat_base") == [100, 110, 120, 130]
    pd.testing.assert_frame_equal(base_of(again), forecast())


def test_preview_shows_one_market_with_saved_and_new_adjustments():
    saved = [adj("additive", 10, "2026-11-23", "2026-11-23", id="saved")]
    out = preview(forecast(), adj("multiplicative", 2.0), saved)
    assert out["market"].unique().tolist() == ["SE"]
    assert out["yhat"].tolist() == [110, 220, 240, 130]
    assert out["yhat_base"].tolist() == [100, 110, 120, 130]


def test_adjustments_table_counts_the_periods_changed():
    table = adjustments_table(
        [adj("multiplicative", 1.5), adj("additive", 1, market="NO")], forecast()
    )
    assert table["adjustment_id"].tolist() == [
        "SE-multiplicative-2026-11-30",
        "NO-additive-2026-11-30",
    ]
    assert table["periods"].tolist() == [2, 2]
    assert {"market", "start", "end", "kind", "value", "reason", "author", "created"} <= set(
        table.columns
    )


# --- validation -------------------------------------------------------------------------------


def test_conflicting_overlap_is_rejected_naming_both_ids():
    a = adj("multiplicative", 1.1, id="campaign")
    b = adj("additive", 5, "2026-12-07", "2026-12-14", id="fix")
    with pytest.raises(
        ConfigError, match=r"campaign .* and fix .* conflict.*SE from 2026-12-07 to 2026-12-07"
    ):
        validate_adjustments([a, b], ["SE", "NO"], DATES)
    with pytest.raises(ConfigError, match="conflict"):
        apply_adjustments(forecast(), [a, b])


def test_level_adjustments_never_overlap_even_of_the_same_kind():
    with pytest.raises(ConfigError, match="conflict"):
        validate_adjustments([adj("ramp", 1, id="r1"), adj("ramp", 2, id="r2")], ["SE"], DATES)


def test_adjacent_periods_and_other_markets_do_not_conflict():
    a = adj("ramp", 200, "2026-11-23", "2026-11-30", id="a")
    b = adj("level_shift", 300, "2026-12-07", "2026-12-14", id="b")
    c = adj("additive", 1, "2026-11-23", "2026-12-14", market="NO", id="c")
    assert overlap(a, b) is None  # a ends on 11-30, b starts on 12-07
    assert overlap(a, c) is None and overlap(b, c) is None  # c is another market
    assert not any(conflicts(p, q) for p, q in [(a, b), (a, c), (b, c)])
    assert validate_adjustments([a, b, c], ["SE", "NO"], DATES) is None  # no ConfigError
    # known answer the other way: b moved one week earlier shares 11-30 with a and conflicts
    b_early = adj("level_shift", 300, "2026-11-30", "2026-12-14", id="b")
    nov30 = pd.Timestamp("2026-11-30").date()
    assert overlap(a, b_early) == (nov30, nov30)
    assert conflicts(a, b_early)


def test_unknown_market_suggests_close_codes():
    with pytest.raises(ConfigError, match=r"unknown market 'SEE'; did you mean SE"):
        validate_adjustments([adj("additive", 1, market="SEE")], ["SE", "NO"], DATES)


def test_period_outside_the_horizon_is_rejected():
    late = adj("additive", 1, "2027-03-01", "2027-03-29")
    with pytest.raises(
        ConfigError,
        match=r"covers no forecast period; the horizon has periods starting 2026-11-23 \.\. 2026-12-14",
    ):
        validate_adjustments([late], ["SE"], DATES)
    between = adj(
        "additive", 1, "2026-12-01", "2026-12-03"
    )  # Tuesday..Thursday: no period start inside
    with pytest.raises(ConfigError, match="covers no forecast period"):
        validate_adjustments([between], ["SE"], DATES)


def test_expired_adjustments_are_an_error_when_added_and_a_record_in_runs():
    old = adj("additive", 1, "2026-10-05", "2026-10-26")
    with pytest.raises(ConfigError, match="covers no forecast period"):
        validate_adjustments([old], ["SE"], DATES)
    validate_adjustments([old], ["SE"], DATES, allow_expired=True)
    assert expired([old, adj("additive", 1)], DATES) == [old]
    assert se(apply_adjustments(forecast(), [old]), "yhat") == [100, 110, 120, 130]


# --- the YAML schema ------------------------------------------------------------------------------


def test_market_no_read_as_false_gets_the_quote_hint():
    """Drift: only configs said that YAML reads NO (Norway) as false; adjustments say it too."""
    text = (
        "adjustments:\n  - {id: a, market: NO, start: 2026-11-30, end: 2026-12-07, kind: additive,\n"
        "     value: 5, reason: r, author: me, created: 2026-11-20}\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_adjustments(load_yaml_text(text, "adj.yaml"), source="adj.yaml")
    assert "adjustments.0.market" in str(info.value)
    assert "quote codes that YAML reads as booleans, e.g. market: 'NO'" in str(info.value)
    (ok,) = parse_adjustments(load_yaml_text(text.replace("NO", "'NO'"), "adj.yaml"), "adj.yaml")
    assert ok.market == "NO" and ok.source == "adj.yaml"


def test_dump_and_parse_round_trip():
    a, b = adj("multiplicative", 1.15, id="one"), adj("additive", 3, market="NO", id="two")
    text = dump_adjustments([a, b])
    assert text.startswith("# Business adjustments")
    back = parse_adjustments(load_yaml_text(text, "x.yaml"), "x.yaml")
    assert [x.model_dump() for x in back] == [a.model_dump(), b.model_dump()]


def test_new_ids_are_readable_and_unique():
    assert new_id("SE", "2026-12-14", "ramp") == "SE-20261214-ramp"
    assert (
        new_id("SE", "2026-12-14", "ramp", ["SE-20261214-ramp", "SE-20261214-ramp-2"])
        == "SE-20261214-ramp-3"
    )


def test_make_adjustment_rejects_bad_values_clearly():
    with pytest.raises(ConfigError, match=r"value: .*a level and cannot be negative"):
        make_adjustment("SE", "2026-11-30", "2026-12-07", "ramp", -5, "r", "me")


def test_changes_lists_only_the_adjusted_rows():
    out = changes(apply_adjustments(forecast(), [adj("multiplicative", 1.5)]))
    assert out.columns.tolist() == [
        "market",
        "date",
        "yhat_base",
        "yhat",
        "change",
        "change_pct",
        "adjustment_id",
    ]
    assert out["change"].tolist() == [55.0, 60.0] and out["change_pct"].tolist() == [50.0, 50.0]


def test_effects_describe_each_adjustment_for_the_console():
    a = adj("multiplicative", 1.5, id="campaign")
    late = adj("additive", 5, "2027-01-04", "2027-01-11", id="late")
    lines = effects(apply_adjustments(forecast(), [a, late]), [a, late])
    assert lines == [
        "campaign: SE multiplicative 1.5 from 2026-11-30 to 2026-12-07: +115 over 2 period(s) (+50.0%); "
        "test reason (tester)",
        "late: SE additive 5 from 2027-01-04 to 2027-01-11: not in this forecast's horizon",
    ]


# --- bounds and the name rule (issue 17: cases 14 and 10) ---------------------------------


@pytest.mark.parametrize("value", [1e300, 100.5, 0.0, -1.0])
def test_multiplicative_factor_is_bounded(value):
    """Case 14: a factor of 1e300 was accepted (yhat 5e307)."""
    with pytest.raises(ConfigError, match=r"factor in \(0, 100\]"):
        adj("multiplicative", value)


def test_multiplicative_factor_of_100_is_allowed():
    out = apply_adjustments(forecast(), [adj("multiplicative", 100.0)])
    assert se(out, "yhat")[1] == 11000


@pytest.mark.parametrize("kind", ["additive", "level_shift", "ramp"])
def test_additive_and_level_values_are_bounded_by_the_forecast(kind):
    with pytest.raises(ConfigError, match=r"more than 100 times SE's largest forecast \(130\)"):
        apply_adjustments(forecast(), [adj(kind, 1e300)])
    out = apply_adjustments(forecast(), [adj(kind, 5000.0)])  # big, but business input
    assert se(out, "yhat")[2] > 1000


@pytest.mark.parametrize("bad", ["ok\n", "a/b", "..", "x.tmp", "-x"])
def test_adjustment_ids_follow_the_one_name_rule(bad):
    """Case 10: adjustment ids used their own pattern ending in `$` (a trailing newline passed)."""
    with pytest.raises(ConfigError, match="invalid adjustment id"):
        adj("additive", 1.0, id=bad)
