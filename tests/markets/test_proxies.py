"""Proxy model: known-answer proxies, launch curves, scaling and calibration; the sample backtest."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import t as student_t

from fcast.config import NewMarketsConfig
from fcast.core.apply import apply, to_table
from fcast.core.models import Model
from fcast.data import to_cube
from fcast.data.sample import make_sample
from fcast.data.segment import segment
from fcast.errors import DataError
from fcast.markets.proxies import (
    _choose,
    backtest,
    backtest_table,
    find_proxies,
    forecast_new,
    inverse_distance_weights,
    last_value_growth,
    launch_curves,
    mape,
    periods_since,
)

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


@pytest.fixture(scope="module")
def sample():
    """The built-in sample data and its cube."""
    data = make_sample()
    return data, to_cube(data.actuals, "W-MON")


def feature_table(copy_of: str, jitter: float) -> pd.DataFrame:
    """Ten markets with random features plus NEW, a copy of `copy_of` with features scaled by 1 + jitter."""
    rng = np.random.default_rng(3)
    n = 10
    df = pd.DataFrame(
        {
            "market": [f"M{i}" for i in range(n)],
            "launch_date": pd.Timestamp("2020-01-06"),
            "population": rng.uniform(1e6, 5e7, n),
            "gdp_per_capita": rng.uniform(2e3, 9e4, n),
            "median_age": rng.uniform(20, 50, n),
            "urban_share": rng.uniform(0.3, 1.0, n),
        }
    )
    twin = df[df["market"] == copy_of].assign(market="NEW")
    cols = ["population", "gdp_per_capita", "median_age", "urban_share"]
    twin[cols] = twin[cols] * (1 + jitter)
    return pd.concat([df, twin], ignore_index=True)


@pytest.mark.parametrize(
    "cfg",
    [
        NewMarketsConfig(),
        NewMarketsConfig(method="knn"),
        NewMarketsConfig(pca=2, clusters=2, proxies=3),
    ],
    ids=["kmeans_knn", "knn", "pca"],
)
def test_near_copy_is_the_heaviest_proxy(cfg):
    table = feature_table("M3", 0.01)
    proxies = find_proxies(table, [f"M{i}" for i in range(10)], ["NEW"], cfg)
    assert len(proxies) == cfg.proxies
    assert proxies.loc[proxies["weight"].idxmax(), "proxy"] == "M3"
    assert proxies["weight"].iloc[0] > 2 * proxies["weight"].iloc[1]
    assert proxies["weight"].sum() == pytest.approx(1.0)
    assert set(proxies.columns) == {
        "market",
        "proxy",
        "weight",
        "distance",
        "cluster",
        "same_cluster",
    }


def test_exact_copy_takes_all_the_weight_and_is_never_its_own_proxy():
    table = feature_table("M3", 0.0)
    candidates = [f"M{i}" for i in range(10)] + ["NEW"]
    proxies = find_proxies(table, candidates, ["NEW", "M3"], NewMarketsConfig(proxies=3))
    new = proxies[proxies["market"] == "NEW"].set_index("proxy")["weight"]
    assert new["M3"] == 1.0 and new.drop("M3").sum() == 0.0
    m3 = proxies[proxies["market"] == "M3"].set_index("proxy")["weight"]
    assert m3["NEW"] == 1.0 and "M3" not in m3.index


def test_weights_are_inverse_effective_distances():
    np.testing.assert_allclose(
        inverse_distance_weights(np.array([1.0, 2.0, 4.0])), [4 / 7, 2 / 7, 1 / 7]
    )
    # the nearest is in another cluster: it counts at twice its distance (2.0 > 1.5)
    order, weights = _choose(np.array([1.0, 1.5, 3.0]), np.array([False, True, True]), 3)
    assert order.tolist() == [1, 0, 2]
    np.testing.assert_allclose(weights, [4 / 9, 3 / 9, 2 / 9])


def test_periods_since_launch():
    weeks = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    assert periods_since(weeks, pd.Timestamp("2024-01-10"), "W-MON").tolist() == [
        -1,
        0,
        1,
        2,
    ]  # a Wednesday
    months = pd.date_range("2024-01-01", periods=4, freq="MS")
    assert periods_since(months, pd.Timestamp("2024-02-15"), "MS").tolist() == [-1, 0, 1, 2]


def test_launch_curves_align_on_launch_and_divide_by_size():
    dates = pd.date_range("2024-01-01", periods=6, freq="W-MON")
    rows = [("A", d, 10.0 * (i + 1)) for i, d in enumerate(dates)]  # launched at the first week
    rows += [("B", d, 7.0) for d in dates[2:]]  # launched on a Wednesday of the third week
    rows += [
        ("C", d, 3.0 * (i + 1)) for i, d in enumerate(dates)
    ]  # launched two weeks before the data
    cube = to_cube(pd.DataFrame(rows, columns=["market", "date", "users"]), "W-MON")
    launch = pd.Series(
        pd.to_datetime(["2024-01-01", "2024-01-17", "2023-12-18"]), index=["A", "B", "C"]
    )
    size = pd.Series([10.0, 7.0, 3.0], index=["A", "B", "C"])
    curves = launch_curves(cube["y"], launch, size, max_weeks=8)
    assert curves.dims == ("market", "week")
    np.testing.assert_array_equal(curves.sel(market="A"), [1, 2, 3, 4, 5, 6, np.nan, np.nan])
    np.testing.assert_array_equal(
        curves.sel(market="B"), [1, 1, 1, 1, np.nan, np.nan, np.nan, np.nan]
    )
    np.testing.assert_array_equal(curves.sel(market="C"), [np.nan, np.nan, 1, 2, 3, 4, 5, 6])


def known_world(end_week: int = 120) -> tuple[xr.Dataset, pd.DataFrame]:
    """Proxies A (curve a) and B (curve 4a); M launched 10 weeks ago at 3a; N launches in 3 weeks."""
    dates = pd.date_range("2022-01-03", periods=end_week, freq="W-MON")
    a = 0.001 * (np.arange(end_week) + 1)
    parts = [
        pd.DataFrame({"market": "A", "date": dates, "users": 1000 * a}),
        pd.DataFrame({"market": "B", "date": dates, "users": 2000 * 4 * a}),
        pd.DataFrame({"market": "M", "date": dates[-10:], "users": 500 * 3 * a[:10]}),
    ]
    table = pd.DataFrame(
        {
            "market": ["A", "B", "M", "N"],
            "launch_date": [dates[0], dates[0], dates[-10], dates[-1] + pd.Timedelta(weeks=3)],
            "population": [1000.0, 2000.0, 500.0, 500.0],
            "x": [0.0, 2.0, 1.0, 1.0],  # M and N are exactly halfway: weights 1/2, 1/2
        }
    )
    return to_cube(pd.concat(parts, ignore_index=True), "W-MON"), table


def test_forecast_new_scales_combines_and_calibrates_exactly():
    cube, table = known_world()
    seg = segment(cube, table, min_history=52)
    assert dict(seg.to_series()) == {"A": "mature", "B": "mature", "M": "new", "N": "new"}
    cfg = NewMarketsConfig(features=["x"], proxies=2, method="knn")
    fc, proxies = forecast_new(
        cube["y"], table, seg, horizon=6, levels=[80, 95], freq="W-MON", cfg=cfg
    )
    a = 0.001 * (np.arange(130) + 1)
    # N, pre-launch: 0 for two weeks, then 500 x geometric mean of a and 4a = 500 x 2a from its week 0
    np.testing.assert_allclose(fc["yhat"].sel(market="N"), [0, 0, *(500 * 2 * a[:4])])
    # interval: weighted log spread of (a, 4a) is log 2; two equal weights -> sd = log 2 * sqrt(3);
    # t with max(2 - 1, MIN_DF) = 10 dof (not 1: a Cauchy interval is 10x wider at 95%)
    hi80 = 500 * 2 * a[:4] * 2 ** (np.sqrt(3) * student_t.ppf(0.9, 10))
    np.testing.assert_allclose(fc["bounds"].sel(market="N", quantile=0.9)[2:], hi80)
    hi95 = 500 * 2 * a[:4] * 2 ** (np.sqrt(3) * student_t.ppf(0.975, 10))
    np.testing.assert_allclose(fc["bounds"].sel(market="N", quantile=0.975)[2:], hi95)
    # M: 10 weeks at 3a -> level ratios 3 (vs a) and 3/4 (vs 4a); the log ratio is kept in full at the
    # last known week and fades, with time constant 13 weeks, to 10 / (10 + 4) of itself
    kept = 10 / 14 + (1 - 10 / 14) * np.exp(-np.arange(1, 7) / 13)
    np.testing.assert_allclose(fc["yhat"].sel(market="M"), 500 * 2 * 1.5**kept * a[10:16])
    calib = proxies[proxies["market"] == "M"].set_index("proxy")["calibration"]
    np.testing.assert_allclose(calib[["A", "B"]], [3.0, 0.75])
    assert proxies.groupby("market")["weight"].sum().tolist() == pytest.approx([1.0, 1.0])


def test_a_new_market_whose_data_ends_early_is_forecast_from_its_own_last_week():
    """Known answer: M stops reporting 3 weeks before the panel's end; N is pre-launch."""
    cube, table = known_world()
    early = cube["y"].copy()
    early.loc[{"market": "M", "time": early["time"].values[-3:]}] = np.nan
    seg = segment(early.to_dataset(name="y"), table, min_history=52)
    cfg = NewMarketsConfig(features=["x"], proxies=2, method="knn")
    fc, _ = forecast_new(early, table, seg, horizon=6, levels=[80, 95], freq="W-MON", cfg=cfg)
    dates = pd.DatetimeIndex(cube["time"].values)
    assert pd.Timestamp(fc["origin"].sel(market="M").values) == dates[-4]
    assert pd.Timestamp(fc["origin"].sel(market="N").values) == dates[-1]
    table_rows = to_table(fc, segment="new")
    m = table_rows[table_rows["market"] == "M"]
    assert m["date"].tolist() == list(pd.date_range(dates[-4], periods=7, freq="W-MON")[1:])
    a = 0.001 * (np.arange(130) + 1)
    # 7 known weeks at 3a: calibration 3 (vs a) and 3/4 (vs 4a), faded to 7 / (7 + 4) of itself
    kept = 7 / 11 + (1 - 7 / 11) * np.exp(-np.arange(1, 7) / 13)
    np.testing.assert_allclose(m["yhat"], 500 * 2 * 1.5**kept * a[7:13])
    n = table_rows[table_rows["market"] == "N"]
    assert n["date"].min() == dates[-1] + pd.offsets.Week(weekday=0)
    np.testing.assert_allclose(n["yhat"], [0, 0, *(500 * 2 * a[:4])])


def test_addressable_population_is_the_size_when_given():
    cube, table = known_world()
    table["addressable_population"] = [1000.0, 2000.0, 500.0, 250.0]  # N: half its population
    seg = segment(cube, table, min_history=52)
    cfg = NewMarketsConfig(features=["x"], proxies=2, method="knn")
    fc, _ = forecast_new(cube["y"], table, seg, horizon=6, levels=[80], freq="W-MON", cfg=cfg)
    a = 0.001 * (np.arange(4) + 1)
    np.testing.assert_allclose(fc["yhat"].sel(market="N"), [0, 0, *(250 * 2 * a)])


def test_forecast_new_has_the_appliers_format(sample):
    data, cube = sample
    seg = segment(cube, data.markets, min_history=104)
    fc, proxies = forecast_new(
        cube["y"],
        data.markets,
        seg,
        horizon=52,
        levels=[80, 95],
        freq="W-MON",
        cfg=NewMarketsConfig(),
    )
    new = ["BD", "GH", "JO", "KZ", "PK", "RS", "LK", "UZ"]
    assert sorted(fc["market"].values) == sorted(new)
    assert fc["yhat"].dims == ("market", "time") and fc["bounds"].dims == (
        "market",
        "time",
        "quantile",
    )
    assert fc["quantile"].values.tolist() == [0.025, 0.1, 0.9, 0.975]
    assert set(fc["family"].values) == {"proxy"} and json.loads(fc.attrs["levels"]) == [80, 95]
    assert pd.Timestamp(fc["time"].values[0]) == pd.Timestamp("2026-11-23")
    assert (fc["bounds"].sel(quantile=0.025) <= fc["yhat"]).all() and (
        fc["yhat"] <= fc["bounds"].sel(quantile=0.975)
    ).all()
    launch = data.markets.set_index("market")["launch_date"]
    for m in ("LK", "UZ"):  # pre-launch: zero before launch, positive from the launch week
        before = fc["time"].values < np.datetime64(launch[m])
        assert (fc["yhat"].sel(market=m).values[before] == 0).all() and (
            fc["yhat"].sel(market=m).values[~before] > 0
        ).all()
    for m in ("BD", "GH", "JO", "KZ", "PK", "RS"):  # launched: continues from its own level
        last = cube["y"].sel(market=m).values[-1]
        assert 0.7 < fc["yhat"].sel(market=m).values[0] / last < 1.4
    assert proxies.groupby("market")["weight"].sum().to_numpy() == pytest.approx(np.ones(8))
    assert set(proxies["proxy"]) <= {
        "AD",
        "AT",
        "CH",
        "CO",
        "CR",
        "FR",
        "HK",
        "IT",
        "LV",
        "MC",
        "MY",
        "PH",
        "SG",
        "US",
        "UY",
    }
    # joins the mature forecasts: concatenate along market, one table with both segments
    mature = apply(
        cube["y"].sel(market=["SE", "NO"]),
        {m: [(Model.create("seasonal_naive", {}, 52), 1.0)] for m in ("SE", "NO")},
        52,
        [80, 95],
    )
    both = xr.concat([mature, fc], dim="market")
    table = pd.concat(
        [to_table(both.sel(market=["SE", "NO"])), to_table(both.sel(market=new), segment="new")]
    )
    assert list(table.columns) == COLUMNS
    assert len(table) == 10 * 52 and not table[COLUMNS[2:7]].isna().any().any()
    assert not table.duplicated(["market", "date"]).any()


def test_backtest_beats_both_baselines(sample):
    data, cube = sample
    results = backtest(cube["y"], data.markets, cfg=NewMarketsConfig())
    table = backtest_table(results)
    print(
        "\nnew-markets backtest, median MAPE % over 52 weeks (leave-one-out, 15 launched markets)"
    )
    print(table.to_string())
    print(
        "proxy 80% interval coverage by k:",
        results.groupby("k")["coverage"].mean().round(2).to_dict(),
    )
    assert results["market"].nunique() == 15
    assert table.loc["proxy", "all"] < table.loc["global_curve", "all"]
    assert table.loc["proxy", "all"] < table.loc["last_value_growth", "all"]
    assert table.loc["proxy", "k=0"] < table.loc["global_curve", "k=0"]


def test_baselines_and_error_known_answers():
    np.testing.assert_allclose(
        last_value_growth(np.array([np.nan, 1.0, 2.0, 3.0, 4.0]), 3), [5, 6, 7]
    )
    assert np.isnan(last_value_growth(np.array([np.nan]), 2)).all()
    assert mape(np.array([100.0, 200.0]), np.array([110.0, 150.0])) == pytest.approx(17.5)


def test_bad_markets_tables_are_named():
    cube, table = known_world()
    seg = segment(cube, table, min_history=52)
    run = dict(horizon=4, levels=[80], freq="W-MON")
    table.attrs["source"] = "data/markets.csv"
    with pytest.raises(DataError, match=r"data/markets.csv: feature column\(s\) \['gdp'\]"):
        forecast_new(cube["y"], table, seg, cfg=NewMarketsConfig(features=["gdp"]), **run)
    text = table.assign(x=["0", "2", "1", "high"])
    with pytest.raises(
        DataError, match=r"non-numeric values in column 'x' for market\(s\) \['N'\]"
    ):
        forecast_new(cube["y"], text, seg, cfg=NewMarketsConfig(features=["x"]), **run)
    with pytest.raises(DataError, match=r"no row for market\(s\) \['N'\]"):
        forecast_new(
            cube["y"],
            table[table["market"] != "N"],
            seg,
            cfg=NewMarketsConfig(features=["x"]),
            **run,
        )
    with pytest.raises(DataError, match="missing column 'population'"):
        forecast_new(
            cube["y"],
            table.drop(columns="population"),
            seg,
            cfg=NewMarketsConfig(features=["x"]),
            **run,
        )


def test_interval_dof_is_the_effective_proxies_minus_one_with_a_floor():
    from fcast.markets.curves import MIN_DF, combine

    def hi80(n: int) -> float:
        """Upper 80% bound of n equal-weight proxies at e^-1 and e^1 alternately (log mean 0)."""
        logs = np.array([(-1.0) ** i for i in range(n)])
        logs -= logs.mean()
        paths = xr.DataArray(np.exp(logs)[:, None], dims=("proxy", "step"))
        _, bounds = combine(paths, xr.DataArray(np.full(n, 1.0 / n), dims="proxy"), [80])
        return float(bounds.sel(quantile=0.9).item())

    def by_hand(n: int, dof: float) -> float:
        logs = np.array([(-1.0) ** i for i in range(n)])
        logs -= logs.mean()
        c = 1.0 / n  # equal weights: sum of squares
        sd = np.sqrt(np.mean(logs**2) / (1 - c) * (1 + c))
        return float(np.exp(student_t.ppf(0.9, dof) * sd))

    assert MIN_DF == 10.0
    assert hi80(4) == pytest.approx(by_hand(4, 10.0), rel=1e-12)  # 3 dof raised to the floor
    assert hi80(22) == pytest.approx(by_hand(22, 21.0), rel=1e-12)  # 21 dof: above the floor
