"""Applier: forecasts equal a direct statsforecast fit of the selected model(s)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from statsforecast.models import AutoETS, SeasonalNaive, Theta

from fcast.contract import FALLBACK
from fcast.core.apply import (
    apply,
    apply_block,
    combine_of,
    forecast_series,
    members_from_selection,
    on_dates,
    pool,
    to_table,
)
from fcast.core.models import Model

COLUMNS = [
    "market",
    "date",
    "yhat",
    "yhat_lo_80",
    "yhat_hi_80",
    "yhat_lo_95",
    "yhat_hi_95",
    "family",
    "segment",
    "origin",
]


def selection(rows):
    return pd.DataFrame(
        [{"market": m, "family": f, "params": json.dumps(p), "weight": w} for m, f, p, w in rows]
    )


def test_forecast_equals_direct_statsforecast_fit(small_cube, client2):
    sel = selection(
        [("DK", "ets", {"spec": "AAdN"}, 1.0), ("SE", "theta", {"variant": "standard"}, 1.0)]
    )
    members = members_from_selection(sel, 52)
    fc = apply(small_cube["y"], members, horizon=26, levels=[80, 95], freq="W-MON", client=client2)
    dk = small_cube["y"].sel(market="DK").values
    direct = AutoETS(model="AAN", damped=True).forecast(y=dk, h=26, level=[80, 95])
    np.testing.assert_allclose(fc["yhat"].sel(market="DK").values, direct["mean"], atol=1e-9)
    np.testing.assert_allclose(
        fc["bounds"].sel(market="DK", quantile=0.025).values, direct["lo-95"], atol=1e-9
    )
    np.testing.assert_allclose(
        fc["bounds"].sel(market="DK", quantile=0.9).values, direct["hi-80"], atol=1e-9
    )
    se = small_cube["y"].sel(market="SE").values
    se = se[np.isfinite(se)]  # SE starts late: the leading NaN are not history
    direct_se = Theta(season_length=52).forecast(y=se, h=26, level=[80, 95])
    np.testing.assert_allclose(fc["yhat"].sel(market="SE").values, direct_se["mean"], atol=1e-9)
    assert list(fc["market"].values) == ["DK", "SE"]
    assert pd.Timestamp(fc.time.values[0]) == pd.Timestamp(
        small_cube.time.values[-1]
    ) + pd.Timedelta(weeks=1)


def test_mean_of_members_and_table_contract(small_cube):
    sel = selection(
        [
            ("FI", "ets", {"spec": "ANN"}, 0.5),
            ("FI", "seasonal_naive", {}, 0.5),
            ("FI", "ets", {"spec": "AAN"}, 0.0),
        ]
    )
    fc = apply(small_cube["y"], members_from_selection(sel, 52), horizon=8, levels=[80, 95])
    fi = small_cube["y"].sel(market="FI").values
    a = AutoETS(model="ANN").forecast(y=fi, h=8, level=[80])
    b = SeasonalNaive(season_length=52).forecast(y=fi, h=8, level=[80])
    np.testing.assert_allclose(
        fc["yhat"].sel(market="FI").values, (a["mean"] + b["mean"]) / 2, atol=1e-9
    )
    np.testing.assert_allclose(
        fc["bounds"].sel(market="FI", quantile=0.1).values, (a["lo-80"] + b["lo-80"]) / 2, atol=1e-9
    )
    table = to_table(fc)
    assert list(table.columns) == COLUMNS
    assert len(table) == 8 and (table["family"] == "mean(ets,seasonal_naive)").all()
    assert (table["yhat_lo_95"] <= table["yhat_lo_80"]).all() and (
        table["yhat_lo_80"] <= table["yhat"]
    ).all()
    assert (table["yhat"] <= table["yhat_hi_80"]).all() and (
        table["yhat_hi_80"] <= table["yhat_hi_95"]
    ).all()


def test_failed_members_fall_back_and_values_are_clipped():
    y = xr.DataArray(
        [[0.0, 5, 3, 0, 1, 0, 2, 0, 1, 0, 0, 0, 0, 1, 0, 0]],
        dims=("market", "time"),
        coords={"market": ["ZZ"], "time": pd.date_range("2024-01-01", periods=16, freq="W-MON")},
    )
    members = {"ZZ": [(Model.create("ets", {"spec": "AAN", "log": True}, 52), 1.0)]}
    fc = apply(y, members, horizon=4, levels=[80])
    assert fc["family"].sel(market="ZZ").item() == FALLBACK
    assert float(fc["bounds"].min()) >= 0.0
    assert np.isfinite(fc["yhat"].values).all()
    # known answer: 16 weeks are not longer than the 52-week season, so the fallback is the plain
    # naive: the last value (0) repeated, bounds from the naive's residuals, clipped at zero
    np.testing.assert_array_equal(fc["yhat"].sel(market="ZZ").values, [0.0, 0.0, 0.0, 0.0])
    direct = SeasonalNaive(season_length=1).forecast(y=y.values[0], h=4, level=[80])
    np.testing.assert_allclose(
        fc["bounds"].sel(market="ZZ", quantile=0.9).values, direct["hi-80"], atol=1e-9
    )
    np.testing.assert_allclose(
        fc["bounds"].sel(market="ZZ", quantile=0.1).values,
        np.maximum(direct["lo-80"], 0.0),
        atol=1e-9,
    )
    assert (direct["hi-80"] > 0).all()  # the interval is not degenerate


def test_in_process_equals_cluster(small_cube, client2):
    sel = selection(
        [(m, "ets", {"spec": "AAdN", "log": True}, 1.0) for m in ["DK", "FI", "NO", "SE"]]
    )
    members = members_from_selection(sel, 52)
    a = apply(small_cube["y"], members, horizon=13, client=None, block_markets=3)
    b = apply(small_cube["y"], members, horizon=13, client=client2, block_markets=1)
    xr.testing.assert_identical(a, b)
    assert a["yhat"].sel(market="NO").values == pytest.approx(
        np.exp(
            AutoETS(model="AAN", damped=True).forecast(
                y=np.log(small_cube["y"].sel(market="NO").values), h=13
            )["mean"]
        )
    )


def test_median_of_members_is_pointwise_for_mean_and_bounds(small_cube):
    sel = selection(
        [
            ("FI", "ets", {"spec": "ANN"}, 1 / 3),
            ("FI", "seasonal_naive", {}, 1 / 3),
            ("FI", "theta", {"variant": "standard"}, 1 / 3),
        ]
    )
    sel["combine"] = "median"
    assert combine_of(sel) == "median" and combine_of(sel.drop(columns="combine")) == "mean"
    fc = apply(small_cube["y"], members_from_selection(sel, 52), horizon=8, combine=combine_of(sel))
    fi = small_cube["y"].sel(market="FI").values
    parts = [
        AutoETS(model="ANN").forecast(y=fi, h=8, level=[95]),
        SeasonalNaive(season_length=52).forecast(y=fi, h=8, level=[95]),
        Theta(season_length=52).forecast(y=fi, h=8, level=[95]),
    ]
    for key, q in (("mean", None), ("lo-95", 0.025), ("hi-95", 0.975)):
        expected = np.clip(np.median([p[key] for p in parts], axis=0), 0, None)
        got = fc["yhat"] if q is None else fc["bounds"].sel(quantile=q)
        np.testing.assert_allclose(got.sel(market="FI").values, expected, atol=1e-9)
    assert fc["family"].sel(market="FI").item() == "median(ets,seasonal_naive,theta)"


def test_median_of_known_forecasts():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    members = [
        (Model.create("seasonal_naive", {}, 1), 0.2),  # last value: 8
        (Model.create("seasonal_naive", {}, 2), 0.3),  # 7, 8
        (Model.create("seasonal_naive", {}, 4), 0.5),  # 5, 6
    ]
    fc, family = forecast_series(y, members, 2, [80], combine="median")
    # weighted median of (8,7,5) and (8,8,6) with weights (.2,.3,.5): the smallest value, 5 or 6,
    # holds exactly half the weight, so the mean of it and the next value (select.weighting)
    np.testing.assert_allclose(fc["mean"], [6.0, 7.0])
    equal = [(m, 1 / 3) for m, _ in members]
    fc_equal, _ = forecast_series(y, equal, 2, [80], combine="median")
    np.testing.assert_allclose(fc_equal["mean"], [7.0, 8.0])  # equal weights: the plain median
    mean, _ = forecast_series(y, members, 2, [80])
    np.testing.assert_allclose(
        mean["mean"], [0.2 * 8 + 0.3 * 7 + 0.5 * 5, 0.2 * 8 + 0.3 * 8 + 0.5 * 6]
    )
    assert family == "median(seasonal_naive,seasonal_naive,seasonal_naive)"
    with pytest.raises(ValueError, match="combine must be one of"):
        apply(
            xr.DataArray(
                [y],
                dims=("market", "time"),
                coords={
                    "market": ["A"],
                    "time": pd.date_range("2024-01-01", periods=8, freq="W-MON"),
                },
            ),
            {"A": members},
            horizon=2,
            combine="trimmed",
        )


def test_pool_median_with_weights_is_a_weighted_median():
    from fcast.core.apply import pool

    values = [np.array([1.0, 10.0]), np.array([2.0, 20.0]), np.array([3.0, 30.0])]
    np.testing.assert_array_equal(pool(values, "median"), [2.0, 20.0])
    np.testing.assert_array_equal(
        pool(values, "median", [1 / 3] * 3), [2.0, 20.0]
    )  # equal: np.median
    np.testing.assert_array_equal(pool(values, "median", [0.6, 0.2, 0.2]), [1.0, 10.0])
    np.testing.assert_allclose(pool(values, "mean", [0.5, 0.5, 0.0]), [1.5, 15.0])


def test_a_market_without_members_gets_the_one_fallback_known_answer():
    # season 4: the fallback repeats the last season; A also starts with two missing weeks
    a = [np.nan, np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0]
    b = [np.nan] * 9 + [3.0, 5.0, 7.0]  # 3 observations, not longer than a season: plain naive
    y = xr.DataArray(
        [a, b, list(range(12))],
        dims=("market", "time"),
        coords={
            "market": ["A", "B", "C"],
            "time": pd.date_range("2024-01-01", periods=12, freq="W-MON"),
        },
    )
    members = {"A": [], "B": [], "C": [(Model.create("seasonal_naive", {}, 4), 1.0)]}
    fc = apply(y, members, horizon=6, levels=[80])
    assert fc["family"].values.tolist() == [FALLBACK, FALLBACK, "seasonal_naive"]
    by_hand = {"A": [7, 8, 9, 10, 7, 8], "B": [7] * 6, "C": [8, 9, 10, 11, 8, 9]}
    for market, expected in by_hand.items():
        np.testing.assert_allclose(fc["yhat"].sel(market=market).values, expected, atol=1e-12)
    # the fallback's season length is the other members' (4) unless given; 2 when given 2
    two = apply(y.sel(market=["A"]), {"A": []}, horizon=4, levels=[80], season_length=2)
    np.testing.assert_allclose(two["yhat"].sel(market="A").values, [9, 10, 9, 10], atol=1e-12)
    lo, hi = fc["bounds"].sel(market="A", quantile=0.1), fc["bounds"].sel(market="A", quantile=0.9)
    assert (lo <= fc["yhat"].sel(market="A")).all() and (fc["yhat"].sel(market="A") <= hi).all()
    assert list(to_table(fc)["family"].unique()) == [FALLBACK, "seasonal_naive"]


class _Failing:
    """A member whose refit always fails (stands in for a model that cannot fit this series)."""

    uses_x = False
    family = "ets"
    season_length = 4

    def forecast(self, *args, **kwargs):
        raise RuntimeError("cannot fit")


# a series repeating 1, 2, 3, 4: the seasonal naive (m = 4) forecast is 1, 2, 3, 4 by hand
REPEATING = np.array([1.0, 2, 3, 4] * 3)


def test_a_failed_member_is_dropped_and_the_other_reweighted_to_one():
    sn = Model.create("seasonal_naive", {}, 4)
    fc, family = forecast_series(REPEATING, [(_Failing(), 0.5), (sn, 0.5)], 4, [80])
    # known answer: the surviving member carries the whole weight, so the forecast is not halved
    np.testing.assert_allclose(fc["mean"], [1.0, 2.0, 3.0, 4.0], atol=1e-12)
    assert family == "seasonal_naive"  # the one surviving member


def test_pool_normalises_weights_that_do_not_sum_to_one():
    from fcast.core.apply import pool

    a, b = np.array([4.0, 8.0]), np.array([8.0, 0.0])
    # by hand: 1/4 * a + 3/4 * b
    np.testing.assert_allclose(pool([a, b], "mean", [1.0, 3.0]), [7.0, 2.0], atol=1e-12)
    np.testing.assert_allclose(pool([a, b], "mean", [2.0, 2.0]), [6.0, 4.0], atol=1e-12)


def test_the_combined_path_clips_mean_and_bounds_at_zero():
    # a falling series: the drift-free naive (seasonal naive with m = 1) forecasts its last value 1,
    # with an interval wide enough to reach below zero
    y = np.array([40.0, 1, 40, 1, 40, 1, 40, 1])
    direct = SeasonalNaive(season_length=1).forecast(y=y, h=3, level=[80, 95])
    assert (direct["lo-95"] < 0).all()  # precondition: the unclipped bound is negative
    sn = Model.create("seasonal_naive", {}, 1)
    fc, _ = forecast_series(y, [(sn, 0.5), (sn, 0.5)], 3, [80, 95])
    for k in ("mean", "lo-80", "hi-80", "lo-95", "hi-95"):
        np.testing.assert_allclose(fc[k], np.maximum(direct[k], 0.0), atol=1e-9, err_msg=k)
    assert (fc["lo-95"] == 0.0).all()


def test_a_market_that_ends_early_is_forecast_from_its_own_last_actual_known_answer():
    """DK stops 20 weeks before the others: its forecast follows its own last week, its origin says so."""
    time = pd.date_range("2024-01-01", periods=40, freq="W-MON")
    season = np.array([10.0, 20.0, 30.0, 40.0])
    dk = np.tile(season, 10)
    dk[20:] = np.nan  # last actual: time[19], a 40 (season position 3)
    y = xr.DataArray(
        [dk, np.tile(season, 10) + 1, np.tile(season, 10) + 2],
        dims=("market", "time"),
        coords={"market": ["DK", "FI", "NO"], "time": time},
    )
    snaive = [(Model.create("seasonal_naive", {}, 4), 1.0)]
    fc = apply(y, {"DK": snaive, "FI": snaive, "NO": snaive}, horizon=6, levels=[80])
    assert pd.DatetimeIndex(fc["origin"].values).tolist() == [time[19], time[39], time[39]]
    table = to_table(fc)
    dk_rows = table[table["market"] == "DK"]
    assert dk_rows["date"].tolist() == list(pd.date_range(time[19], periods=7, freq="W-MON")[1:])
    assert (dk_rows["origin"] == time[19]).all()
    np.testing.assert_allclose(dk_rows["yhat"], [10, 20, 30, 40, 10, 20], atol=1e-12)
    fi_rows = table[table["market"] == "FI"]
    assert fi_rows["date"].iloc[0] == time[39] + pd.offsets.Week(weekday=0)
    np.testing.assert_allclose(fi_rows["yhat"], [11, 21, 31, 41, 11, 21], atol=1e-12)
    assert table.groupby("market").size().tolist() == [6, 6, 6]
    assert table[["yhat", "yhat_lo_80", "yhat_hi_80"]].notna().all().all()


# --- known answers for the small pieces (written to kill mutmut's survivors, docs/testing.md) ---


def test_pool_known_answers_for_each_combine():
    """Default: the plain pointwise mean; weights re-normalised; median: the weighted median."""
    a, b, c = np.array([1.0, 2.0]), np.array([3.0, 6.0]), np.array([8.0, 1.0])
    np.testing.assert_allclose(pool([a, b]), [2.0, 4.0])
    np.testing.assert_allclose(pool([a, b], "mean", [1, 3]), [2.5, 5.0])
    np.testing.assert_allclose(pool([a, b, c], "median", [1, 1, 1]), [3.0, 2.0])
    np.testing.assert_allclose(pool([a, b, c], "median", [100, 0, 0]), [1.0, 2.0])
    with pytest.raises(ValueError):
        pool([a, b], "mean", [1, 2, 3])  # one weight per member, never silently cut


def test_to_table_default_segment_and_bounds_in_contract_order(small_cube):
    """The table's columns and default segment, from a forecast without business input."""
    sel = selection([("FI", "seasonal_naive", {}, 1.0)])
    fc = apply(small_cube["y"].sel(market=["FI"]), members_from_selection(sel, 52), horizon=4)
    table = to_table(fc)
    assert len(table) == 4 and set(table["market"]) == {"FI"}
    assert set(table["segment"]) == {"mature"}
    assert list(table.columns[:7]) == [
        "market", "date", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95",
    ]  # fmt: skip
    assert set(to_table(fc, segment="new")["segment"]) == {"new"}


def test_apply_with_regressors_known_answers(echo):
    """A mean of seasonal naive and echo for A, echo alone for B, which ends 2 weeks early."""
    t = np.arange(20, dtype="float64")
    b = 100 + t + 3 * (t % 2)
    b[:4] = np.nan
    b[18:] = np.nan  # B's last actual: t = 17
    time = pd.date_range("2024-01-01", periods=23, freq="W-MON")  # 20 actuals, 3 ahead
    y = xr.DataArray(
        np.stack([t**2, b]),
        dims=("market", "time"),
        coords={"market": ["A", "B"], "time": time[:20]},
    )
    tt = np.arange(23, dtype="float64")
    x = xr.DataArray(
        np.stack([tt, tt + 100])[:, :, None],
        dims=("market", "time", "feature"),
        coords={"market": ["A", "B"], "time": time, "feature": ["evt"]},
    )
    sn2 = Model.create("seasonal_naive", {}, 2)
    members = {"A": [(sn2, 1.0), (echo, 3.0)], "B": [(echo, 1.0)]}
    fc = apply(y, members, horizon=3, levels=[80], x=x, block_markets=1)
    direct = SeasonalNaive(season_length=2).forecast(y=t**2, h=3, level=[80])
    # echo for A: x after t = 19, the sum of x[0:20] = 190 and the 20 training values
    echo_a = np.array([20.0, 21, 22]) + 190 + 20
    a = fc.sel(market="A", time=time[20:])
    np.testing.assert_allclose(a["yhat"].values, 0.25 * direct["mean"] + 0.75 * echo_a)
    np.testing.assert_allclose(
        a["bounds"].sel(quantile=0.1).values, 0.25 * direct["lo-80"] + 0.75 * (echo_a - 80)
    )
    np.testing.assert_allclose(
        a["bounds"].sel(quantile=0.9).values, 0.25 * direct["hi-80"] + 0.75 * (echo_a + 80)
    )
    # B trains on t = 4..17 (14 values, x 104..117: 1547) and sees x at t = 18, 19, 20
    np.testing.assert_allclose(
        fc["yhat"].sel(market="B", time=time[18:21]).values, np.array([118.0, 119, 120]) + 1547 + 14
    )
    assert list(fc["time"].values) == list(time[18:])  # from B's first step to A's last
    assert fc["family"].values.tolist() == ["mean(seasonal_naive,echo)", "echo"]
    assert pd.DatetimeIndex(fc["origin"].values).tolist() == [time[19], time[17]]
    with pytest.raises(
        ValueError,
        match="^the selection has models with holiday regressors; pass the holiday features as x$",
    ):
        apply(y, members, horizon=3, levels=[80])
    plain = apply(y, {"A": [(sn2, 1.0)]}, horizon=3, levels=[80], x=x)  # x unused
    np.testing.assert_allclose(plain["yhat"].values[0], direct["mean"])


def hand_forecast(origin: bool = True, horizon: bool = True) -> xr.Dataset:
    """A forecast by hand: A from its origin 2024-01-08 (2 steps), B from 2024-01-01 (2 steps)."""
    time = pd.date_range("2024-01-08", periods=3, freq="W-MON")
    yhat = np.array([[np.nan, 1.0, 2.0], [3.0, 4.0, np.nan]])
    quantile = [0.025, 0.1, 0.9, 0.975]
    bounds = yhat[:, :, None] + np.array([-20.0, -8.0, 8.0, 20.0])
    ds = xr.Dataset(
        {
            "yhat": (("market", "time"), yhat),
            "bounds": (("market", "time", "quantile"), bounds),
            "family": ("market", np.array(["ets", FALLBACK])),
        },
        coords={"market": ["A", "B"], "time": time, "quantile": quantile},
        attrs={"levels": "[80, 95]", **({"horizon": 2} if horizon else {})},
    )
    if origin:
        ds = ds.assign_coords(origin=("market", pd.to_datetime(["2024-01-08", "2024-01-01"])))
    return ds


def test_to_table_known_rows_bounds_and_origins():
    table = to_table(hand_forecast(), segment="new")
    assert list(table.columns) == COLUMNS
    assert table["market"].tolist() == ["A", "A", "B", "B"]
    assert table["date"].tolist() == list(
        pd.to_datetime(["2024-01-15", "2024-01-22", "2024-01-08", "2024-01-15"])
    )
    assert table["yhat"].tolist() == [1.0, 2.0, 3.0, 4.0]
    np.testing.assert_array_equal(table["yhat_lo_80"], [-7, -6, -5, -4])
    np.testing.assert_array_equal(table["yhat_hi_80"], [9, 10, 11, 12])
    np.testing.assert_array_equal(table["yhat_lo_95"], [-19, -18, -17, -16])
    np.testing.assert_array_equal(table["yhat_hi_95"], [21, 22, 23, 24])
    assert table["family"].tolist() == ["ets", "ets", FALLBACK, FALLBACK]
    assert set(table["segment"]) == {"new"}
    assert table["origin"].tolist() == list(pd.to_datetime(["2024-01-08"] * 2 + ["2024-01-01"] * 2))
    assert list(table.index) == [0, 1, 2, 3]


def test_to_table_without_origin_or_horizon():
    no_origin = to_table(hand_forecast(origin=False))
    assert len(no_origin) == 6 and no_origin["origin"].isna().all()
    assert no_origin["origin"].dtype.kind == "M"  # NaT, a date column like with origins
    assert set(no_origin["segment"]) == {"mature"}
    assert no_origin["market"].tolist() == ["A"] * 3 + ["B"] * 3
    # without a horizon attr every date after the origin counts (the time axis' length, 3)
    no_horizon = to_table(hand_forecast(horizon=False))
    assert len(no_horizon) == 5 and no_horizon["market"].tolist() == ["A"] * 2 + ["B"] * 3
    assert no_horizon["yhat"].tolist()[:4] == [1.0, 2.0, 3.0, 4.0]
    assert np.isnan(no_horizon["yhat"].iloc[4])


def test_on_dates_places_each_market_after_its_own_origin():
    stacked = np.arange(2 * 3 * 2, dtype=float).reshape(2, 3, 2)  # market, column, step
    origin = pd.to_datetime(["2024-01-15", "2024-01-01"])
    placed, dates = on_dates(stacked, origin, pd.Timestamp("2030-01-07"), 2, "W-MON")
    assert list(dates) == list(pd.date_range("2024-01-08", periods=4, freq="W-MON"))
    assert placed.shape == (2, 3, 4)
    np.testing.assert_array_equal(placed[0, :, 2:], stacked[0])
    np.testing.assert_array_equal(placed[1, :, :2], stacked[1])
    assert np.isnan(placed[0, :, :2]).all() and np.isnan(placed[1, :, 2:]).all()
    empty = np.empty((0, 3, 2))
    none, after = on_dates(empty, pd.DatetimeIndex([]), pd.Timestamp("2024-01-01"), 2, "W-MON")
    assert none is empty and list(after) == list(pd.to_datetime(["2024-01-08", "2024-01-15"]))
    with pytest.raises(ValueError, match=r"forecast origins \[Timestamp\('2024-01-03"):
        on_dates(stacked, pd.to_datetime(["2024-01-01", "2024-01-03"]), origin[0], 2, "W-MON")


def test_the_fallback_of_exactly_one_season_is_the_plain_naive():
    from fcast.core.apply import fallback_forecast

    fc = fallback_forecast(np.array([1.0, 2.0, 3.0, 4.0]), 4, [80], 4)
    np.testing.assert_allclose(fc["mean"], [4.0] * 4)
    longer = fallback_forecast(np.array([1.0, 2.0, 3.0, 4.0, 5.0]), 4, [80], 4)
    np.testing.assert_allclose(longer["mean"], [2.0, 3.0, 4.0, 5.0])


def test_apply_block_ends_defaults_and_the_fallback_season(echo):
    y = np.array([[np.nan, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [1.0, 2.0, 1.0, 2.0, 1.0, 2.0, np.nan]])
    naive = [(Model.create("seasonal_naive", {}, 1), 1.0)]
    out, fam = apply_block(y, [naive, []], 2, [80])
    assert out.dtype == np.float64 and out.shape == (2, 3, 2)
    np.testing.assert_allclose(out[0, 0], [6.0, 6.0])  # from its last actual, t = 6
    # no members: the fallback with the default season 1, the naive from t = 5
    np.testing.assert_allclose(out[1, 0], [2.0, 2.0])
    assert fam == ["seasonal_naive", FALLBACK]
    ends, _ = apply_block(y, [naive, []], 2, [80], ends=np.array([3, 2]))
    np.testing.assert_allclose(ends[:, 0], [[3.0, 3.0], [1.0, 1.0]])
    # with x (the regressor path) the fallback keeps the given season: 2 -> 1, 2
    x = np.zeros((2, 9, 1))
    with_x, fam = apply_block(y, [naive, []], 2, [80], x, ["evt"], "mean", 2)
    np.testing.assert_allclose(with_x[1, 0], [1.0, 2.0])
    assert fam == ["seasonal_naive", FALLBACK]


def test_apply_without_any_member_falls_back_on_season_one():
    time = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    y = xr.DataArray(
        [[1.0, 2.0, 1.0, 2.0]], dims=("market", "time"), coords={"market": ["A"], "time": time}
    )
    fc = apply(y, {"A": []}, horizon=2, levels=[80])
    np.testing.assert_allclose(fc["yhat"].values[0], [2.0, 2.0])
    assert fc["family"].values.tolist() == [FALLBACK]
    assert list(fc["time"].values) == list(pd.date_range("2024-01-29", periods=2, freq="W-MON"))


# --- known answers for apply's edges and defaults (mutation survivors, docs/testing.md) ---


def test_apply_with_no_market_to_forecast_is_empty_with_its_dates_and_dtypes():
    time = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    y = xr.DataArray(
        [[1.0, 2.0, 1.0, 2.0]], dims=("market", "time"), coords={"market": ["A"], "time": time}
    )
    fc = apply(y, {}, horizon=2, levels=[50, 80])
    assert fc["yhat"].shape == (0, 2) and fc["bounds"].shape == (0, 2, 4)
    # the dates follow y's last date (2024-01-22)
    assert list(fc["time"].values) == list(pd.date_range("2024-01-29", periods=2, freq="W-MON"))
    assert fc["family"].dtype.kind == "U" and fc["market"].dtype.kind == "U"
    assert fc["origin"].dims == ("market",) and fc["origin"].size == 0
    assert to_table(fc).empty


def test_apply_puts_the_origin_on_the_market_dimension():
    time = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    y = xr.DataArray(
        [[1.0, 2.0, 1.0, 2.0], [3.0, 4.0, np.nan, np.nan]],
        dims=("market", "time"),
        coords={"market": ["A", "B"], "time": time},
    )
    fc = apply(y, {"A": [], "B": []}, horizon=2, levels=[80])
    assert fc["origin"].dims == ("market",) and set(fc.sizes) == {"market", "time", "quantile"}
    assert list(fc["origin"].values) == [time[3], time[1]]


def test_forecast_series_defaults_season_one_and_the_mean(echo):
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    # no members: the fallback with season 1 (the naive), not 2
    fc, family = forecast_series(y, [], 3, [])
    np.testing.assert_allclose(fc["mean"], [5.0] * 3)
    assert family == FALLBACK
    # a member that cannot refit (the echo without x): the fallback takes its season, 2
    fc, family = forecast_series(y, [(echo, 1.0)], 3, [])
    np.testing.assert_allclose(fc["mean"], [4.0, 5.0, 4.0])
    assert family == FALLBACK
    # two members combined with the default, the weighted mean: (5 * 1 + 4 * 3) / 4
    naive, sn2 = Model.create("seasonal_naive", {}, 1), Model.create("seasonal_naive", {}, 2)
    fc, family = forecast_series(y, [(naive, 1.0), (sn2, 3.0)], 1, [])
    np.testing.assert_allclose(fc["mean"], [17 / 4])
    assert family == "mean(seasonal_naive,seasonal_naive)"
    out, fams = apply_block(y[None], [[(naive, 1.0), (sn2, 3.0)]], 1, [])
    np.testing.assert_allclose(out[0, 0], [17 / 4])
    assert fams == ["mean(seasonal_naive,seasonal_naive)"]
