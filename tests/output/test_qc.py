"""QC: every check fires on an output built to violate it and is silent on clean runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.config import QCConfig
from fcast.contract import SEVERITIES
from fcast.output.qc import (
    ENTRY_POINT_GROUP,
    QC_CHECKS,
    QCCheck,
    QCContext,
    SkipCheck,
    check_names,
    expected_step,
    forecast_growth,
    growth_range,
    has_errors,
    qc_summary,
    register_qc,
    run_qc,
)
from tests.output.entry_points import installed

M = 52
HISTORY = 156
START = pd.Timestamp("2023-11-27")


def actuals() -> xr.DataArray:
    """Two markets growing exactly 10% a year with a yearly cycle of period 52."""
    t = np.arange(HISTORY + M)
    base = 1000.0 * 1.1 ** (t / M) * (1 + 0.1 * np.sin(2 * np.pi * t / M))
    times = pd.date_range(START, periods=HISTORY, freq="W-MON")
    values = np.stack([base[:HISTORY], 2 * base[:HISTORY]])
    return xr.DataArray(
        values, dims=("market", "time"), coords={"market": ["A", "B"], "time": times}
    )


def forecast_rows(
    market: str | np.ndarray,
    dates: pd.DatetimeIndex | np.ndarray,
    yhat: np.ndarray,
    **extra: object,
) -> pd.DataFrame:
    """Forecast rows of yhat with bounds +-5% (80) and +-10% (95), ets, mature; `extra` columns last."""
    return pd.DataFrame(
        {
            "market": market,
            "date": dates,
            "yhat": yhat,
            "yhat_lo_80": yhat * 0.95,
            "yhat_hi_80": yhat * 1.05,
            "yhat_lo_95": yhat * 0.9,
            "yhat_hi_95": yhat * 1.1,
            "family": "ets",
            "segment": "mature",
            **extra,
        }
    )


def clean_forecast(y: xr.DataArray) -> pd.DataFrame:
    """The exact continuation: last season times 1.1, bounds +-5% (80) and +-10% (95)."""
    dates = pd.date_range(START, periods=HISTORY + M, freq="W-MON")[HISTORY:]
    rows = [forecast_rows(m, dates, y.sel(market=m).values[-M:] * 1.1) for m in ("A", "B")]
    return pd.concat(rows, ignore_index=True)


def totals_of(fc: pd.DataFrame, factor: float = 1.0) -> pd.DataFrame:
    summed = fc.groupby("date")["yhat"].sum() * factor
    return summed.rename("total").reset_index()


def findings(fc: pd.DataFrame, **kwargs) -> pd.DataFrame:
    kwargs.setdefault("previous", fc)
    kwargs.setdefault("totals", totals_of(fc))
    kwargs.setdefault("y", actuals())
    out = run_qc(fc, expected_markets=["A", "B"], **kwargs)
    return out[out["severity"].isin(["error", "warning", "info"])]


def fired(found: pd.DataFrame) -> list[tuple[str, str, str]]:
    return sorted(zip(found["check"], found["market"], found["severity"], strict=True))


def test_clean_output_passes_every_check():
    y = actuals()
    out = run_qc(
        clean_forecast(y),
        y=y,
        expected_markets=["A", "B"],
        previous=clean_forecast(y),
        totals=totals_of(clean_forecast(y)),
    )
    assert out["severity"].tolist() == ["ok"] * len(QC_CHECKS)
    assert out["check"].tolist() == list(QC_CHECKS)
    assert not has_errors(out)


def test_missing_and_incomplete_markets():
    fc = clean_forecast(actuals())
    assert fired(findings(fc[fc["market"] == "A"])) == [("markets_present", "B", "error")]
    short = fc.drop(fc.index[-3:])
    found = findings(short)
    assert fired(found) == [("markets_present", "B", "error")]
    assert found["detail"].iloc[0] == "49 of 52 forecast periods"


def test_nan_and_infinite_values():
    fc = clean_forecast(actuals())
    fc.loc[5, "yhat_lo_95"] = np.nan
    fc.loc[6, "yhat_hi_80"] = np.inf
    found = findings(fc)
    assert fired(found) == [("finite", "A", "error")]
    assert "2 NaN or infinite value(s) in yhat_hi_80, yhat_lo_95" in found["detail"].iloc[0]


def test_negative_values():
    fc = clean_forecast(actuals())
    fc.loc[fc["market"] == "B", "yhat_lo_95"] = -1.0
    found = findings(fc)
    assert fired(found) == [("non_negative", "B", "error")]
    assert found["detail"].iloc[0] == "52 negative value(s), lowest -1"


def test_intervals_out_of_order():
    fc = clean_forecast(actuals())
    fc.loc[60, ["yhat_lo_80", "yhat_hi_80"]] = fc.loc[60, ["yhat_hi_80", "yhat_lo_80"]].to_numpy()
    found = findings(fc)
    assert fired(found) == [("intervals_ordered", "B", "error")]
    assert "1 period(s) out of order, first 2027-01-18: yhat_lo_80" in found["detail"].iloc[0]


def test_jump_at_the_forecast_origin():
    fc = clean_forecast(actuals())
    cols = ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]
    # a level jump: the whole forecast of A sits 30% above where the actuals leave off
    fc.loc[fc["market"] == "A", cols] *= 1.3
    found = findings(fc)
    found = found[found["check"] == "origin_jump"]
    assert fired(found) == [("origin_jump", "A", "error")]
    assert "tolerance 25%" in found["detail"].iloc[0]
    assert not (findings(fc, cfg=QCConfig(jump_tolerance=0.35))["check"] == "origin_jump").any()


def test_a_holiday_dip_in_the_last_actual_is_not_a_jump():
    y = actuals()
    dipped = y.copy(data=y.values.copy())
    dipped[0, -1] *= 0.6  # e.g. a moving holiday in the last observed week
    assert fired(findings(clean_forecast(y), y=dipped)) == []


def test_growth_beyond_the_historical_range():
    fc = clean_forecast(actuals())
    cols = ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]
    b = fc["market"] == "B"
    fc.loc[b, cols] = (
        fc.loc[b, cols] * np.linspace(1.0, 3.0, M)[:, None]
    )  # no jump, +100% more by the end
    found = findings(fc, previous=None, totals=None)
    assert fired(found) == [("growth", "B", "warning")]
    assert "historical range +10.0% .. +10.0%" in found["detail"].iloc[0]


def test_a_market_without_actuals_or_with_a_zero_level_is_not_judged_and_does_not_crash():
    """B has no actuals at all (growth skips it); A's last 4 actuals have median 0 but the last is 5."""
    y = actuals()
    odd = y.copy(data=y.values.copy())
    odd[0, -4:] = [0.0, 0.0, 0.0, 5.0]  # level med(0, 0, 0, 5) = 0: a move from it has no basis
    odd[1, :] = np.nan
    found = findings(clean_forecast(y), y=odd, previous=None, totals=None)
    out = run_qc(clean_forecast(y), y=odd, expected_markets=["A", "B"])
    crashed = out[out["detail"].astype(str).str.contains("check failed")]
    assert crashed.empty, crashed
    assert not found["check"].isin(["origin_jump", "growth"]).any(), found


def test_growth_is_not_checked_in_the_launch_phase():
    fc = clean_forecast(actuals())
    b = fc["market"] == "B"
    fc.loc[b, "segment"] = "new"
    fc.loc[b, ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]] *= np.linspace(
        1, 3, M
    )[:, None]
    assert fired(findings(fc, previous=None, totals=None)) == []


def test_deviation_from_the_previous_official_forecast():
    y = actuals()
    previous = clean_forecast(y)
    previous.loc[previous["market"] == "A", "yhat"] *= 0.8
    found = findings(clean_forecast(y), previous=previous)
    assert fired(found) == [("deviation", "A", "warning")]
    assert (
        found["detail"]
        .iloc[0]
        .startswith("+25.0% vs the previous official forecast over 52 common periods")
    )
    previous.loc[previous["market"] == "A", "yhat"] *= 1.2  # now 0.96: within 20%
    assert fired(findings(clean_forecast(y), previous=previous)) == []


def test_totals_inconsistent_with_the_sum_of_markets():
    fc = clean_forecast(actuals())
    found = findings(fc, totals=totals_of(fc, 1.1))
    assert fired(found) == [("totals", "TOTAL", "warning")]
    assert "in 52 of 52 periods" in found["detail"].iloc[0]
    assert fired(findings(fc, totals=totals_of(fc, 1.01))) == []


def test_every_forecast_starts_one_period_after_its_own_last_actual():
    """B's actuals end 20 weeks early: a forecast dated from the panel's end is an error naming B."""
    y = actuals()
    y.loc[{"market": "B"}] = np.where(np.arange(HISTORY) < HISTORY - 20, y.sel(market="B"), np.nan)
    fc = clean_forecast(actuals())
    checked = {"checks": ["starts_after_actuals"], "y": y}
    found = findings(fc, **checked)
    assert fired(found) == [("starts_after_actuals", "B", "error")]
    b_last = y["time"].values[HISTORY - 21]
    assert found["detail"].iloc[0] == (
        f"forecast starts {fc['date'].iloc[0]:%Y-%m-%d}, 21 period(s) after its last actual "
        f"{pd.Timestamp(b_last):%Y-%m-%d} (expected 1)"
    )
    # B dated from its own last actual, with that origin: passes
    own = fc["market"] == "B"
    fc.loc[own, "date"] = pd.date_range(b_last, periods=M + 1, freq="W-MON")[1:]
    fc["origin"] = np.where(own, b_last, y["time"].values[-1])
    assert fired(findings(fc, **checked)) == []
    # an origin that is not the market's last actual is an error too
    fc.loc[~own, "origin"] = y["time"].values[-2]
    found = findings(fc, **checked)
    assert fired(found) == [("starts_after_actuals", "A", "error")]
    assert "is not its last actual" in found["detail"].iloc[0]


def test_checks_without_inputs_are_skipped_and_recorded():
    fc = clean_forecast(actuals())
    out = run_qc(fc)
    skipped = out.loc[out["severity"] == "skipped", "check"].tolist()
    assert skipped == [
        "markets_present",
        "origin_jump",
        "starts_after_actuals",
        "growth",
        "deviation",
        "totals",
    ]
    assert not has_errors(out)


def test_growth_and_step_formulas():
    y = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 8.0])
    # sums of n = 2: 3, 5, 7, 10, 14; over m = 2 periods: 7/3, 10/5, 14/7 -> growth 4/3, 1, 1
    np.testing.assert_allclose(growth_range(y, 2, 2), [4 / 3, 1.0, 1.0])
    # first n = 2 forecast periods [10, 12] vs the same periods a season earlier [6, 8]
    assert forecast_growth(y, np.array([10.0, 12.0, 99.0]), 2) == pytest.approx(22 / 14 - 1)
    assert expected_step(y, 2, launch=False) == pytest.approx(6 / 4 - 1)  # y_(T+1-m) / y_(T-m) - 1
    assert expected_step(np.array([100.0, 110.0, 121.0]), 52, launch=True) == pytest.approx(0.1)


def test_registered_checks_skipping_and_crashing():
    def wants_previous(ctx):
        if ctx.previous is None:
            raise SkipCheck("nothing to compare")
        return [("A", "always")]

    def broken(ctx):
        raise RuntimeError("boom")

    try:
        register_qc("wants_previous", "info", wants_previous)
        register_qc("broken", "warning", broken)
        fc = clean_forecast(actuals())
        out = run_qc(fc, checks=["wants_previous", "broken"])
        assert out.values.tolist() == [
            ["*", "wants_previous", "skipped", "nothing to compare"],
            ["*", "broken", "error", "check failed: RuntimeError: boom"],
        ]
        assert has_errors(out)
        out = run_qc(fc, previous=fc, checks=["wants_previous"])
        assert out.values.tolist() == [["A", "wants_previous", "info", "always"]]
    finally:
        QC_CHECKS.unregister("wants_previous")
        QC_CHECKS.unregister("broken")
    with pytest.raises(ValueError, match="severity"):
        register_qc("x", "fatal", broken)


BUILT_IN = [
    "markets_present",
    "finite",
    "non_negative",
    "intervals_ordered",
    "origin_jump",
    "starts_after_actuals",
    "growth",
    "deviation",
    "totals",
]


def plugin_check(ctx):
    """An installed check: notes every market of the forecast."""
    return [(market, "seen by the plugin") for market, _ in ctx.by_market()]


plugin_check.severity = "info"
PLUGIN_RECORD = QCCheck("any name", "warning", plugin_check)


def test_installed_checks_come_from_the_qc_checks_entry_point_group(tmp_path):
    refs = {
        "test_plugin": "tests.output.test_qc:plugin_check",
        "test_record": "tests.output.test_qc:PLUGIN_RECORD",
        "test_missing": "tests.output.no_such_module:check",
    }
    try:
        with installed(tmp_path, {ENTRY_POINT_GROUP: refs}):
            assert check_names() == [*BUILT_IN, "test_missing", "test_plugin", "test_record"]
            out = run_qc(clean_forecast(actuals()), y=actuals(), checks=check_names()[-3:])
        assert out.values.tolist() == [
            [
                "*",
                "test_missing",
                "error",
                "check not loaded: ModuleNotFoundError: "
                "No module named 'tests.output.no_such_module'",
            ],
            ["A", "test_plugin", "info", "seen by the plugin"],
            ["B", "test_plugin", "info", "seen by the plugin"],
            ["A", "test_record", "warning", "seen by the plugin"],
            ["B", "test_record", "warning", "seen by the plugin"],
        ]
        assert QC_CHECKS.get("test_record").name == "test_record"  # named by its entry point
    finally:
        for name in refs:
            QC_CHECKS.unregister(name)
    assert check_names() == BUILT_IN


def test_one_severity_vocabulary_and_no_silent_replacement():
    assert list(QC_CHECKS) == BUILT_IN
    assert {check.severity for _, check in QC_CHECKS.items()} <= set(SEVERITIES)
    with pytest.raises(KeyError, match="QC check 'finite' is already registered"):
        register_qc("finite", "warning", plugin_check)


def test_summary_lists_errors_and_warnings():
    fc = clean_forecast(actuals())
    fc.loc[0, "yhat_lo_95"] = -5.0
    text = qc_summary(run_qc(fc, y=actuals(), expected_markets=["A", "B", "C"]))
    lines = text.splitlines()
    assert lines[0] == "QC: 9 checks, 2 error(s), 0 warning(s); skipped: deviation, totals"
    assert lines[1] == "  error    markets_present   C: no forecast for this market"
    assert lines[2].startswith("  error    non_negative      A: 1 negative value(s), lowest -5")
    assert lines[-1] == "  errors block publishing as official unless overridden with a reason"


# --- a clean run on the built-in sample data --------------------------------------------------


@pytest.fixture(scope="module")
def sample_run(tmp_path_factory):
    """Sample data: mature markets by MSTL, new markets by the proxy model; previous = one week earlier."""
    from fcast.config import parse_config
    from fcast.core.apply import apply, to_table
    from fcast.core.models import Model
    from fcast.data.sample import write_sample
    from fcast.jobs.pipeline import prepare
    from fcast.markets.proxies import forecast_new

    paths = write_sample(str(tmp_path_factory.mktemp("sample")))
    cfg = parse_config({"data": {"actuals": paths["actuals"], "markets": paths["markets"]}})

    def run(as_of: str | None) -> tuple[pd.DataFrame, object]:
        prep = prepare(cfg, as_of=as_of)
        mature = prep.of("mature")
        model = Model.create("mstl", {"trend": "ets"}, 52)
        fc = apply(prep.cube["y"].sel(market=mature), {m: [(model, 1.0)] for m in mature}, 52)
        new, _ = forecast_new(
            prep.cube["y"],
            prep.markets,
            prep.segments,
            horizon=52,
            levels=[80, 95],
            freq="W-MON",
            cfg=cfg.new_markets,
        )
        return pd.concat([to_table(fc), to_table(new, segment="new")], ignore_index=True), prep

    previous, _ = run("2026-11-09")
    table, prep = run(None)
    return table, prep, previous


def test_clean_sample_run_is_silent(sample_run):
    table, prep, previous = sample_run
    assert set(table["segment"]) == {"mature", "new"}
    expected = prep.of("mature") + prep.of("new")
    out = run_qc(
        table,
        y=prep.cube["y"],
        expected_markets=expected,
        previous=previous,
        totals=totals_of(table),
    )
    assert qc_summary(out) == "QC: 9 checks, 0 error(s), 0 warning(s)"
    assert out["severity"].tolist() == ["ok"] * 9


# --- many markets, faults in known ones -------------------------------------------------------

LEVELS_OF = {f"m{k:03d}": 100.0 + k for k in range(300)}  # flat actuals: market k at 100 + k
VALUES = ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]


def flat_panel() -> tuple[xr.DataArray, pd.DataFrame]:
    """300 markets of flat weekly actuals and their exact forecast (bounds +-5% and +-10%)."""
    markets = list(LEVELS_OF)
    level = np.array([LEVELS_OF[m] for m in markets])
    times = pd.date_range(START, periods=HISTORY, freq="W-MON")
    y = xr.DataArray(
        np.repeat(level[:, None], HISTORY, axis=1),
        dims=("market", "time"),
        coords={"market": markets, "time": times},
    )
    dates = pd.date_range(START, periods=HISTORY + M, freq="W-MON")[HISTORY:]
    market, date = np.repeat(markets, M), np.tile(dates, len(markets))
    fc = forecast_rows(market, date, np.repeat(level, M), origin=times[-1])
    return y, fc


def faulty_panel() -> tuple[xr.DataArray, pd.DataFrame, pd.DataFrame]:
    """The flat panel with one fault per chosen market; rows shuffled. Returns y, forecast, previous."""
    y, fc = flat_panel()
    previous = fc.copy()
    of = fc["market"].to_numpy()
    week = np.tile(np.arange(M), len(LEVELS_OF))
    fc.loc[(of == "m010") & (week == 5), "yhat_lo_95"] = np.nan
    fc.loc[(of == "m020") & (week < 2), "yhat_hi_80"] = (
        np.inf
    )  # finite only: inf's tolerance is inf
    fc.loc[(of == "m030") & (week < 3), "yhat_lo_95"] = -2.5
    crossed = (of == "m040") & (week == 7)
    fc.loc[crossed, ["yhat_lo_80", "yhat_hi_80"]] = [[147.0, 133.0]]
    fc.loc[of == "m050", VALUES] *= 1.3  # a level jump at the origin
    fc.loc[of == "m060", VALUES] *= np.linspace(1, 3, M)[:, None]  # growth, no jump
    y.loc[{"market": "m070", "time": y["time"][-3:]}] = np.nan  # actuals end 3 weeks early
    fc.loc[of == "m080", "origin"] = y["time"].values[-2]  # origin not the last actual
    launched = ["m100", "m110"]
    y.loc[{"market": launched, "time": y["time"][:-20]}] = np.nan  # launched 20 weeks ago
    fc.loc[np.isin(of, launched), "segment"] = "new"
    fc.loc[of == "m110", VALUES] *= 1.5  # a jump in the launch phase
    short = (of == "m090") & (week >= M - 2)
    fc = fc[~short & (of != "m299")]  # m090 two periods short, m299 without a forecast
    return y, fc.sample(frac=1.0, random_state=7), previous


def test_faults_in_known_markets_of_many_give_exactly_their_findings():
    y, fc, previous = faulty_panel()
    out = run_qc(fc, y=y, expected_markets=list(LEVELS_OF), previous=previous)
    found = out[out["severity"].isin(["error", "warning"])]
    same_step = "expected +0.0% from the same step a season earlier; tolerance 25%"
    previously = (
        "vs the previous official forecast over 52 common periods (2026-11-23 .. 2027-11-15)"
    )
    assert list(found[["check", "market", "detail"]].itertuples(index=False, name=None)) == [
        ("markets_present", "m090", "50 of 52 forecast periods"),
        ("markets_present", "m299", "no forecast for this market"),
        ("finite", "m010", "1 NaN or infinite value(s) in yhat_lo_95 (first 2026-12-28)"),
        ("finite", "m020", "2 NaN or infinite value(s) in yhat_hi_80 (first 2026-11-23)"),
        ("non_negative", "m030", "3 negative value(s), lowest -2.5"),
        (
            "intervals_ordered",
            "m040",
            "1 period(s) out of order, first 2027-01-11: yhat_lo_80 147 > yhat 140",
        ),
        ("origin_jump", "m050", f"first period +30.0% vs the last actual (150); {same_step}"),
        (
            "origin_jump",
            "m110",
            "first period +50.0% vs the last actual (210); expected +0.0% from recent growth "
            "per period (launch phase); tolerance 25%",
        ),
        (
            "starts_after_actuals",
            "m070",
            "forecast starts 2026-11-23, 4 period(s) after its last actual 2026-10-26 (expected 1)",
        ),
        (
            "starts_after_actuals",
            "m080",
            "origin 2026-11-09 00:00:00 is not its last actual 2026-11-16",
        ),
        (
            "growth",
            "m060",
            "growth +100.0% over the first 52 periods vs a season earlier; historical range "
            "+0.0% .. +0.0%, tolerance 50% points",
        ),
        ("deviation", "m050", f"+30.0% {previously}; threshold 20%"),
        ("deviation", "m060", f"+100.0% {previously}; threshold 20%"),
        ("deviation", "m110", f"+50.0% {previously}; threshold 20%"),
    ]
    assert set(out.loc[out["severity"] == "skipped", "check"]) == {"totals"}


def test_third_party_checks_see_each_market_once_sorted_by_date():
    y, fc, _ = faulty_panel()
    ctx = QCContext(fc, y, None, None, None, QCConfig(), M)
    seen = list(ctx.by_market())
    assert [m for m, _ in seen] == sorted(set(fc["market"]))
    assert all(grp["date"].is_monotonic_increasing for _, grp in seen)
    assert all((grp["market"] == m).all() for m, grp in seen)
    assert len(ctx.series("m100")) == 20 and len(ctx.series("m070")) == HISTORY - 3
    assert ctx.series("nowhere").size == 0
