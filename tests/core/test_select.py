"""Selector: known weighted means pick known winners; top-X and holdout logic."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from statsforecast.models import AutoETS, SeasonalNaive

from fcast.contract import FAILED, OK, SKIPPED
from fcast.core.label import label
from fcast.core.metrics import score as window_score
from fcast.core.models import Model
from fcast.core.select import (
    SELECTION_COLUMNS,
    choose,
    holdout_block,
    holdout_scores,
    score,
    select,
    split_weights,
    top_hps,
)
from fcast.core.space import parse_space, to_dataset
from fcast.core.tune import tune


def cube(per_split: np.ndarray, steps: int = 2) -> tuple[xr.DataArray, xr.DataArray]:
    """An error cube whose mean over step is `per_split` (market, split, hp), all cells fitted."""
    err = np.repeat(per_split[..., None], steps, axis=-1).astype(float)
    err[..., 0] -= 0.5  # mean over step is unchanged
    err[..., 1] += 0.5
    dims = ("market", "split", "hp", "step")
    coords = {
        "market": ["A", "B"][: per_split.shape[0]],
        "split": np.arange(per_split.shape[1]),
        "hp": np.arange(per_split.shape[2]),
        "step": np.arange(1, steps + 1),
    }
    error = xr.DataArray(err, dims=dims, coords=coords)
    status = xr.full_like(error.isel(step=0, drop=True), OK, dtype="int8")
    return error, status


def test_split_weights_schemes():
    np.testing.assert_allclose(split_weights(3, "linear").values, [1 / 6, 2 / 6, 3 / 6])
    np.testing.assert_allclose(split_weights(3, "equal").values, [1 / 3] * 3)
    np.testing.assert_allclose(split_weights(3, "exponential").values, [1 / 7, 2 / 7, 4 / 7])
    np.testing.assert_allclose(split_weights(2, [3, 1]).values, [0.75, 0.25])
    with pytest.raises(ValueError, match="split weights"):
        split_weights(2, [1, 2, 3])


def test_weighted_score_picks_the_known_winner():
    # hp0 is best on old splits, hp1 on the recent one: linear weights favour hp1, equal weights hp0
    per_split = np.array([[[1.0, 4.0], [1.0, 4.0], [5.0, 1.0]]])  # market A; split x hp
    error, status = cube(per_split)
    linear = score(error, status, split_weights(3, "linear"), "mae")
    np.testing.assert_allclose(linear.sel(market="A").values, [(1 + 2 + 15) / 6, (4 + 8 + 3) / 6])
    assert int(linear.sel(market="A").argmin("hp")) == 1
    equal = score(error, status, split_weights(3, "equal"), "mae")
    np.testing.assert_allclose(equal.sel(market="A").values, [7 / 3, 3.0])
    assert int(equal.sel(market="A").argmin("hp")) == 0


def test_rmse_finishes_per_split_with_sqrt():
    per_split = np.array([[[4.0], [16.0]]])  # mean squared error per split
    error, status = cube(per_split)
    error = error.copy(data=np.repeat(per_split[..., None], 2, axis=-1))
    s = score(error, status, split_weights(2, "equal"), "rmse")
    assert float(s.squeeze()) == pytest.approx((2 + 4) / 2)


def test_skipped_splits_reweight_and_failed_cells_disqualify():
    per_split = np.array([[[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]], [[9.0, 9.0, 9.0], [2.0, 1.0, 3.0]]])
    error, status = cube(per_split)
    status = status.copy()
    status.loc[{"market": "B", "split": 0}] = SKIPPED
    error = error.where(status != SKIPPED)
    status.loc[{"market": "A", "split": 1, "hp": 0}] = FAILED
    error = error.where(status != FAILED)
    s = score(error, status, split_weights(2, "linear"), "mae")
    # B's only valid split is 1, whose weight becomes 1
    np.testing.assert_allclose(s.sel(market="B").values, [2.0, 1.0, 3.0])
    assert np.isnan(float(s.sel(market="A", hp=0)))
    top = top_hps(s, 3)
    np.testing.assert_array_equal(top.sel(market="A").values, [1, 2, -1])
    np.testing.assert_array_equal(top.sel(market="B").values, [1, 0, 2])


def test_ties_break_on_lower_hp_index():
    s = xr.DataArray(
        [[2.0, 1.0, 1.0, 3.0]], dims=("market", "hp"), coords={"market": ["A"], "hp": np.arange(4)}
    )
    np.testing.assert_array_equal(top_hps(s, 2).values, [[1, 2]])


def _hp():
    return parse_space({"families": {"ets": {"spec": ["ANN", "AAN", "AAdN"]}}}, "W-MON")


def test_choose_best_by_holdout_and_mean_of_top():
    hp = _hp()
    cv = xr.DataArray(
        [[0.3, 0.1, 0.2]], dims=("market", "hp"), coords={"market": ["A"], "hp": np.arange(3)}
    )
    top = top_hps(cv, 3)  # ranks: hp1, hp2, hp0
    ho = xr.DataArray(
        [[0.9, 0.4, 0.7]], dims=("market", "rank"), coords={"market": ["A"], "rank": [1, 2, 3]}
    )
    best = choose(top, cv, ho, None, hp, "best")
    assert best.loc[best["weight"] == 1, "hp"].tolist() == [
        2
    ]  # rank 2 has the lowest holdout score
    assert best["weight"].sum() == 1 and len(best) == 3
    assert json.loads(best.loc[best["hp"] == 2, "params"].item()) == {"spec": "AAdN"}
    mean = choose(
        top, cv, ho, xr.DataArray([0.5], dims="market", coords={"market": ["A"]}), hp, "mean"
    )
    np.testing.assert_allclose(mean["weight"].values, [1 / 3] * 3)
    assert (mean["ensemble_holdout_score"] == 0.5).all()
    no_holdout = choose(top, cv, None, None, hp, "best")
    assert no_holdout.loc[no_holdout["weight"] == 1, "hp"].tolist() == [1]  # CV best
    median = choose(
        top, cv, ho, xr.DataArray([0.6], dims="market", coords={"market": ["A"]}), hp, "median"
    )
    assert sorted(median["hp"]) == [0, 1, 2] and (median["combine"] == "median").all()
    assert (median["ensemble_holdout_score"] == 0.6).all()
    assert (best["combine"] == "best").all()


def test_holdout_scores_equal_direct_refits(small_cube):
    hp = parse_space({"families": {"ets": {"spec": ["ANN", "AAN"]}, "seasonal_naive": {}}}, "W-MON")
    y = small_cube["y"].sel(market=["DK", "FI"])
    top = xr.DataArray(
        [[2, 0], [1, -1]], dims=("market", "rank"), coords={"market": ["DK", "FI"], "rank": [1, 2]}
    )
    member, mean = holdout_scores(y, top, hp, holdout=10, metric="mae", season_length=52)
    row = y.sel(market="DK").values
    train, test = row[:-10], row[-10:]
    sn = SeasonalNaive(season_length=52).forecast(y=train, h=10)["mean"]
    ann = AutoETS(model="ANN").forecast(y=train, h=10)["mean"]
    assert member.sel(market="DK", rank=1) == pytest.approx(window_score("mae", test, sn), abs=1e-9)
    assert member.sel(market="DK", rank=2) == pytest.approx(
        window_score("mae", test, ann), abs=1e-9
    )
    assert mean.sel(market="DK") == pytest.approx(
        window_score("mae", test, (sn + ann) / 2), abs=1e-9
    )
    assert np.isnan(float(member.sel(market="FI", rank=2)))


def test_holdout_score_of_the_median_of_three(small_cube):
    hp = parse_space({"families": {"ets": {"spec": ["ANN", "AAN"]}, "seasonal_naive": {}}}, "W-MON")
    y = small_cube["y"].sel(market=["DK"])
    top = xr.DataArray(
        [[2, 0, 1]], dims=("market", "rank"), coords={"market": ["DK"], "rank": [1, 2, 3]}
    )
    _, med = holdout_scores(
        y, top, hp, holdout=10, metric="mae", season_length=52, combine="median"
    )
    row = y.sel(market="DK").values
    train, test = row[:-10], row[-10:]
    parts = [
        SeasonalNaive(season_length=52).forecast(y=train, h=10)["mean"],
        AutoETS(model="ANN").forecast(y=train, h=10)["mean"],
        AutoETS(model="AAN", damped=False).forecast(y=train, h=10)["mean"],
    ]
    expected = window_score("mae", test, np.median(parts, axis=0))
    assert med.sel(market="DK") == pytest.approx(expected, abs=1e-9)


def test_unknown_combine_is_refused(small_cube):
    with pytest.raises(ValueError, match="combine must be best, mean or median"):
        select(xr.Dataset(attrs={"metric": "mae"}), small_cube["y"], combine="trimmed")


def test_select_end_to_end_on_a_tuning_cube(small_cube, tmp_path, client2):
    check_select_end_to_end(small_cube, tmp_path, client2)


def test_select_end_to_end_in_process(small_cube, tmp_path):
    """The same checks without a cluster (the path `make mutate` exercises)."""
    check_select_end_to_end(small_cube, tmp_path, None)


def check_select_end_to_end(small_cube, tmp_path, client) -> None:  # noqa: ANN001
    """Tune a small space, select the top 2 by CV with an 8-week holdout; scores by hand."""
    hp = parse_space(
        {
            "families": {
                "ets": {"spec": ["ANN", "AAdN"]},
                "theta": {"variant": ["standard"]},
                "seasonal_naive": {},
            }
        },
        "W-MON",
    )
    lab = label(small_cube.time, splits=3, step=8, horizon=13, holdout=8, min_train=60)
    tuning, _ = tune(
        small_cube["y"],
        lab,
        hp,
        str(tmp_path / "t.zarr"),
        horizon=13,
        season_length=52,
        min_train=60,
        client=client,
        progress=False,
    )
    sel = select(tuning, small_cube["y"], top=2, combine="best", holdout=8, client=client)
    assert set(sel["market"]) == {"DK", "FI", "NO", "SE"}
    assert (sel.groupby("market")["weight"].sum() == 1).all()
    assert (sel.groupby("market").size() == 2).all()
    expected = score(
        tuning["error"], tuning["status"], split_weights(3, "linear"), "mase"
    ).compute()
    for row in sel.itertuples():
        assert row.cv_score == pytest.approx(float(expected.sel(market=row.market, hp=row.hp)))
    # rank 1 has the lowest CV score among the market's rows
    first = sel[sel["rank"] == 1].set_index("market")["cv_score"]
    assert (first <= sel.groupby("market")["cv_score"].min() + 1e-12).all()
    # "best": the member with the lower holdout score gets weight 1, and its score is the
    # holdout window's MASE of a direct refit
    for market, rows in sel.groupby("market"):
        assert rows["holdout_score"].notna().all(), market
        best = rows.loc[rows["holdout_score"].idxmin()]
        assert best["weight"] == 1 and set(rows["combine"]) == {"best"}, market
    assert list(sel.columns) == SELECTION_COLUMNS


def _weighting_cube() -> xr.Dataset:
    """One market, 3 splits, 3 hps, 2 steps: actuals 10; hp0 forecasts 10, hp1 12, hp2 14 (scale 1)."""
    hp = _hp()
    yhat = np.broadcast_to(np.array([10.0, 12.0, 14.0])[None, None, :, None], (1, 3, 3, 2)).copy()
    dims = ("market", "split", "hp", "step")
    coords = {"market": ["A"], "split": np.arange(3), "step": [1, 2]}
    ds = xr.Dataset(
        {
            "yhat": (dims, yhat),
            "error": (dims, np.abs(10.0 - yhat)),
            "status": (dims[:3], np.zeros((1, 3, 3), dtype="int8")),
            "y_test": (("market", "split", "step"), np.full((1, 3, 2), 10.0)),
            "scale": (("market", "split"), np.ones((1, 3))),
        },
        coords=coords,
        attrs={"metric": "mase", "season_length": 52},
    )
    return ds.assign_coords({c: hp.coords[c] for c in hp.coords})


def _weighting_y() -> xr.DataArray:
    """The actuals of the weighting cube's market: ten periods of 10."""
    return xr.DataArray(np.full((1, 10), 10.0), dims=("market", "time"), coords={"market": ["A"]})


def _median_weighting(tuning: xr.Dataset) -> pd.DataFrame:
    """`select` on a weighting cube: the top 3, an equal-weight median, equal against inverse_error."""
    return select(
        tuning,
        _weighting_y(),
        top=3,
        combine="median",
        weights="equal",
        weighting=["equal", "inverse_error"],
    )


def test_learned_weighting_known_answers():
    from fcast.core.weighting import INVERSE_SHRINK, STACK_SHRINK

    tuning = _weighting_cube()
    y = _weighting_y()
    equal = select(tuning, y, top=3, combine="median", weights="equal")
    np.testing.assert_allclose(equal["weight"], [1 / 3] * 3)
    assert (equal["weighting"] == "equal").all()
    inv = select(tuning, y, top=3, combine="median", weights="equal", weighting="inverse_error")
    # hp0 has CV score 0: it takes the whole inverse-error share
    np.testing.assert_allclose(
        inv["weight"],
        [1 - INVERSE_SHRINK + INVERSE_SHRINK / 3, INVERSE_SHRINK / 3, INVERSE_SHRINK / 3],
    )
    stacked = select(tuning, y, top=3, combine="mean", weights="equal", weighting="stacked")
    np.testing.assert_allclose(
        stacked["weight"],
        [1 - STACK_SHRINK + STACK_SHRINK / 3, STACK_SHRINK / 3, STACK_SHRINK / 3],
        atol=1e-9,
    )
    assert stacked["hp"].tolist() == [0, 1, 2]  # rank order


@pytest.mark.parametrize(
    ("combine", "expected"),
    [("median", "inverse_error"), ("mean", "inverse_error")],
)
def test_weighting_list_is_chosen_on_the_newest_split(combine, expected):
    # newest split as holdout, weights learned on the two older ones: the weighted median of
    # inverse_error (hp0 weight 2/3) is exact, stacked's (0.47) and equal's are 12
    tuning = _weighting_cube()
    y = _weighting_y()
    sel = select(
        tuning,
        y,
        top=3,
        combine=combine,
        weights="equal",
        weighting=["equal", "stacked", "inverse_error"],
    )
    assert (sel["weighting"] == expected).all()


def test_weighting_is_validated():
    tuning = _weighting_cube()
    y = _weighting_y()
    with pytest.raises(ValueError, match="weighting must be among"):
        select(tuning, y, top=3, combine="median", weighting="nope")
    with pytest.raises(ValueError, match="combine: mean or median"):
        select(tuning, y, top=3, combine="best", weighting="stacked")


def test_a_late_starting_market_refits_from_its_first_observation():
    # 12 leading NaN (the market opens late), then 30 observed weeks; holdout 6
    rng = np.random.default_rng(7)
    observed = 100 + np.cumsum(rng.normal(0, 3, 30))
    y = np.concatenate([np.full(12, np.nan), observed])[None, :]
    ets = Model.create("ets", {"spec": "ANN"}, 52)
    scores, mean = holdout_block(y, [[ets]], holdout=6, metric="mae")
    train, test = observed[:-6], observed[-6:]
    expected = window_score("mae", test, AutoETS(model="ANN").forecast(y=train, h=6)["mean"])
    assert scores[0, 0] == pytest.approx(expected, abs=1e-9)  # not NaN: the refit did not fail
    assert mean[0] == pytest.approx(expected, abs=1e-9)


def test_best_never_picks_a_member_whose_refit_failed():
    hp = _hp()
    cv = xr.DataArray(
        [[0.3, 0.1, 0.2]], dims=("market", "hp"), coords={"market": ["A"], "hp": np.arange(3)}
    )
    top = top_hps(cv, 3)  # ranks: hp1, hp2, hp0
    # rank 1 (hp1, the CV best) failed to refit on the holdout: NaN, not a perfect 0
    ho = xr.DataArray(
        [[np.nan, 0.4, 0.7]], dims=("market", "rank"), coords={"market": ["A"], "rank": [1, 2, 3]}
    )
    best = choose(top, cv, ho, None, hp, "best")
    assert best.loc[best["weight"] == 1, "hp"].tolist() == [2]  # rank 2: lowest finite score
    assert best.loc[best["hp"] == 1, "weight"].item() == 0.0


def test_select_end_to_end_against_scores_computed_by_hand():
    # per-split mean errors (market, split, hp); steps are +-0.5 around them
    per_split = np.array(
        [
            [[1.0, 3.0, 2.0], [4.0, 1.0, 2.0]],  # A
            [[2.0, 1.0, 3.0], [2.0, 0.5, 3.0]],  # B: hp1 fails on split 0
        ]
    )
    error, status = cube(per_split)
    status = status.copy()
    status[1, 0, 1] = FAILED
    error = error.where(status != FAILED)
    tuning = xr.Dataset(
        {"error": error, "status": status}, attrs={"metric": "mae", "season_length": 52}
    )
    tuning = tuning.assign_coords(_hp().coords)
    sel = select(tuning, None, top=2, combine="best", weights="linear", holdout=0)
    # linear weights over 2 splits: 1/3, 2/3
    # A: hp0 = 1/3 + 8/3 = 3, hp1 = 3/3 + 2/3 = 5/3, hp2 = 2  -> top 2: hp1, hp2; best hp1
    # B: hp1 failed -> no score; hp0 = 2, hp2 = 3            -> top 2: hp0, hp2; best hp0
    a, b = sel[sel["market"] == "A"], sel[sel["market"] == "B"]
    assert a["hp"].tolist() == [1, 2] and b["hp"].tolist() == [0, 2]
    np.testing.assert_allclose(a["cv_score"], [5 / 3, 2.0], atol=1e-12)
    np.testing.assert_allclose(b["cv_score"], [2.0, 3.0], atol=1e-12)
    assert a["weight"].tolist() == [1.0, 0.0] and b["weight"].tolist() == [1.0, 0.0]
    assert json.loads(a["params"].iloc[0]) == {"spec": "AAN"}


def test_no_scored_market_gives_an_empty_table_with_the_columns():
    """Issue 17 case 14: every market constant -> no CV score -> `KeyError: 'weight'` downstream."""
    hp = _hp()
    cv = xr.DataArray(
        [[np.nan] * 3], dims=("market", "hp"), coords={"market": ["A"], "hp": np.arange(3)}
    )
    table = choose(top_hps(cv, 3), cv, None, None, hp, "best")
    assert table.empty
    assert {"market", "hp", "weight", "cv_score", "family"} <= set(table.columns)
    assert table[table["weight"] > 0].empty


def test_cv_residuals_follow_the_selection():
    from fcast.core.conformal import cv_residuals

    tuning = _weighting_cube()
    y = _weighting_y()
    sel = select(tuning, y, top=3, combine="median", weights="equal")
    res = cv_residuals(tuning, sel)
    np.testing.assert_allclose(res.values, np.full((1, 3, 2), 10.0 - 12.0))
    inv = select(tuning, y, top=3, combine="median", weights="equal", weighting="inverse_error")
    np.testing.assert_allclose(cv_residuals(tuning, inv).values, 0.0)


# --- known answers for the small pieces (written to kill mutmut's survivors, docs/testing.md) ---


def test_split_weights_default_is_linear_with_its_coords_and_name():
    """3 splits by default: 1/6, 2/6, 3/6 over split 0..2, float, named weight."""
    w = split_weights(3)
    assert w.dims == ("split",) and w.name == "weight" and w.dtype == np.float64
    assert w["split"].values.tolist() == [0, 1, 2]
    np.testing.assert_allclose(w.values, [1 / 6, 2 / 6, 3 / 6])
    np.testing.assert_allclose(split_weights([4, 7], [1, 3]).values, [0.25, 0.75])
    assert split_weights([4, 7], [1, 3])["split"].values.tolist() == [4, 7]
    np.testing.assert_allclose(split_weights(2, [0, 2]).values, [0.0, 1.0])  # a zero is allowed
    np.testing.assert_allclose(split_weights(2, [0.25, 0.25]).values, [0.5, 0.5])  # sum below 1
    for bad in ([1, -1], [0, 0], [1, 2, 3]):
        with pytest.raises(ValueError, match="non-negative numbers with a positive sum"):
            split_weights(2, bad)


def test_score_by_hand_with_a_failed_cell_and_no_valid_split():
    """Known weighted scores; a failed cell or a NaN error in a valid split gives NaN, named score."""
    err = xr.DataArray(
        np.array([[[2.0], [4.0]], [[1.0], [np.nan]]]).reshape(2, 2, 1, 1),
        dims=("market", "split", "hp", "step"),
        coords={"market": ["A", "B"], "split": [0, 1], "hp": [0]},
    )
    status = xr.DataArray(
        np.array([[[OK], [OK]], [[OK], [OK]]], dtype="int8"),
        dims=("market", "split", "hp"),
        coords={"market": ["A", "B"], "split": [0, 1], "hp": [0]},
    )
    s = score(err, status, split_weights(2, [1, 3]), "mae")
    assert s.name == "score"
    assert s.sel(market="A").item() == pytest.approx(0.25 * 2 + 0.75 * 4)
    assert np.isnan(s.sel(market="B").item())  # a NaN error in a valid split disqualifies
    skipped = status.where(status.market != "B", SKIPPED).astype("int8")
    s2 = score(err, skipped, split_weights(2, [1, 3]), "mae")
    assert np.isnan(s2.sel(market="B").item())  # no valid split: no score (0/0 is not 0)
    failed = status.copy()
    failed.loc[{"market": "A", "split": 0}] = FAILED
    assert np.isnan(score(err, failed, split_weights(2), "mae").sel(market="A").item())


def test_top_hps_known_order_ties_and_missing():
    """Best first, ties to the lower hp, NaN scores never ranked (-1), dims market x rank."""
    s = xr.DataArray(
        [[3.0, 1.0, 1.0, np.nan], [np.nan, np.nan, 2.0, np.nan]],
        dims=("market", "hp"),
        coords={"market": ["A", "B"], "hp": [10, 11, 12, 13]},
    )
    top = top_hps(s, 3)
    assert top.dims == ("market", "rank") and top["rank"].values.tolist() == [1, 2, 3]
    assert top["market"].values.tolist() == ["A", "B"]
    assert top.values.tolist() == [[11, 12, 10], [12, -1, -1]]
    # the same scores laid out hp-first give the same answer
    assert top_hps(s.transpose("hp", "market"), 3).values.tolist() == top.values.tolist()


def holdout_series() -> tuple[np.ndarray, np.ndarray]:
    """y: t**2 from t=0 and 100 + t + 3*(t odd) from t=4 (20 periods); x: t and t + 100."""
    t = np.arange(20, dtype="float64")
    late = 100 + t + 3 * (t % 2)
    late[:4] = np.nan
    return np.stack([t**2, late]), np.stack([t, t + 100])[:, :, None]


def test_holdout_block_known_answers_with_regressors(echo):
    y, x = holdout_series()
    sn2 = Model.create("seasonal_naive", {}, 2)
    naive_log = Model.create("seasonal_naive", {"log": True}, 1)
    members = [[sn2, echo], [naive_log], []]
    y3 = np.concatenate([y, y[:1]])
    x3 = np.concatenate([x, x[:1]])
    scores, mean, kept = holdout_block(y3, members, 3, "mase", x3, ["evt"], keep_forecasts=True)
    # market 0: test 289, 324, 361; seasonal naive 225, 256, 225; echo 17..19 + 136 + 17;
    # MASE scale of t**2 on t < 17 with the first member's lag 2: mean of 4t - 4 = 32
    np.testing.assert_array_equal(kept[0, 0], [225, 256, 225])
    np.testing.assert_array_equal(kept[0, 1], [170, 171, 172])
    np.testing.assert_allclose(scores[0], [268 / 3 / 32, 461 / 3 / 32])
    np.testing.assert_allclose(mean[0], 364.5 / 3 / 32)
    # market 1 from t = 4: test 120, 118, 122 against 116; lag-1 scale 36 / 12 = 3
    np.testing.assert_allclose(kept[1, 0], [116, 116, 116])
    np.testing.assert_allclose(scores[1, 0], 4 / 3)
    np.testing.assert_allclose(mean[1], 4 / 3)
    assert np.isnan(scores[1, 1]) and np.isnan(kept[1, 1]).all()
    assert np.isnan(scores[2]).all() and np.isnan(mean[2]) and np.isnan(kept[2]).all()
    assert scores.shape == (3, 2) and mean.shape == (3,) and kept.shape == (3, 2, 3)
    two = holdout_block(y3, members, 3, "mase", x3, ["evt"])
    assert len(two) == 2
    np.testing.assert_array_equal(two[0], scores)
    np.testing.assert_array_equal(two[1], mean)


def test_holdout_block_median_and_a_member_that_cannot_refit(echo):
    y, x = holdout_series()
    sn2 = Model.create("seasonal_naive", {}, 2)
    naive = Model.create("seasonal_naive", {}, 1)
    members = [[sn2, echo, naive]]
    scores, median = holdout_block(y[:1], members, 3, "mae", x[:1], ["evt"], combine="median")
    # pointwise median of (225, 256, 225), (170, 171, 172), (256, 256, 256): the seasonal naive
    np.testing.assert_allclose(scores[0], [268 / 3, 461 / 3, (33 + 68 + 105) / 3])
    np.testing.assert_allclose(median[0], 268 / 3)
    # without x the echo cannot refit: it has no score and the mean is of the other two
    scores, mean = holdout_block(y[:1], members, 3, "mae")
    assert np.isnan(scores[0, 1])
    np.testing.assert_allclose(mean[0], (48.5 + 68 + 120.5) / 3)
    _, no_names = holdout_block(y[:1], members, 3, "mae", x[:1])
    np.testing.assert_allclose(no_names[0], (48.5 + 68 + 120.5) / 3)
    empty = holdout_block(y[:1], [[]], 3, "mae")
    assert empty[0].shape == (1, 0) and np.isnan(empty[1]).all()


def holdout_arrays() -> tuple[xr.DataArray, xr.DataArray]:
    """`holdout_series` as DataArrays: markets A, B on 20 Mondays, feature 'evt'."""
    y, x = holdout_series()
    time = pd.date_range("2024-01-01", periods=20, freq="W-MON")
    coords = {"market": ["A", "B"], "time": time}
    return (
        xr.DataArray(y, dims=("market", "time"), coords=coords),
        xr.DataArray(x, dims=("market", "time", "feature"), coords={**coords, "feature": ["evt"]}),
    )


def test_holdout_scores_known_answers_with_regressors_in_blocks_of_one(echo):
    y, x = holdout_arrays()
    sn2 = Model.create("seasonal_naive", {}, 2)
    hp = to_dataset([sn2, echo, Model.create("seasonal_naive", {"log": True}, 2)])
    top = xr.DataArray(
        [[0, 1], [2, -1]], dims=("market", "rank"), coords={"market": ["A", "B"], "rank": [1, 2]}
    )
    member, mean, kept = holdout_scores(
        y, top, hp, 3, "mase", 2, block_markets=1, x=x, forecasts=True
    )
    np.testing.assert_allclose(member.values[0], [268 / 3 / 32, 461 / 3 / 32])
    # B from t = 4, log seasonal naive (lag 2): 118, 116, 118 against 120, 118, 122; scale 2
    np.testing.assert_allclose(member.values[1, 0], 4 / 3)
    assert np.isnan(member.values[1, 1])
    np.testing.assert_allclose(mean.values, [364.5 / 3 / 32, 4 / 3])
    np.testing.assert_allclose(kept.values[0], [[225, 256, 225], [170, 171, 172]])
    np.testing.assert_allclose(kept.values[1, 0], [118, 116, 118])
    assert member.dims == ("market", "rank") and list(member["rank"].values) == [1, 2]
    assert list(member["market"].values) == ["A", "B"] and list(mean["market"].values) == ["A", "B"]
    assert mean.dims == ("market",)
    assert kept.dims == ("market", "rank", "step") and list(kept["step"].values) == [1, 2, 3]
    assert list(kept["rank"].values) == [1, 2] and list(kept["market"].values) == ["A", "B"]
    m2, mean2 = holdout_scores(y, top, hp, 3, "mase", 2, x=x)
    np.testing.assert_array_equal(m2.values, member.values)
    np.testing.assert_array_equal(mean2.values, mean.values)
    assert m2.dims == ("market", "rank") and list(m2["rank"].values) == [1, 2]
    assert list(mean2["market"].values) == ["A", "B"]
    with pytest.raises(ValueError, match="holiday regressors; pass the holiday features as x"):
        holdout_scores(y, top, hp, 3, "mase", 2)
    no_x = top.where(top != 1, -1)  # no member with regressors: x is not needed
    m3, _ = holdout_scores(y, no_x, hp, 3, "mase", 2)
    np.testing.assert_allclose(m3.values[:, 0], [268 / 3 / 32, 4 / 3])


def test_choose_whole_table_known_answers():
    """Every column of the table for two markets, a missing rank, learned weights and NaN holdouts."""
    sn = Model.create("seasonal_naive", {}, 52)
    ets = Model.create("ets", {"spec": "AAdN", "log": True, "window": 104}, 52)
    theta = Model.create("theta", {"variant": "standard"}, 52)
    hp = to_dataset([sn, ets, theta])
    coords = {"market": ["A", "B"], "hp": [0, 1, 2]}
    cv = xr.DataArray([[0.5, 0.2, 0.3], [0.4, np.nan, 0.1]], dims=("market", "hp"), coords=coords)
    top = top_hps(cv, 3)  # A: hp1, hp2, hp0; B: hp2, hp0, -1
    rank = {"market": ["A", "B"], "rank": [1, 2, 3]}
    ho = xr.DataArray(
        [[0.9, 0.4, np.nan], [np.nan, np.nan, np.nan]], dims=("market", "rank"), coords=rank
    )
    ens = xr.DataArray([0.25, 0.35], dims="market", coords={"market": ["A", "B"]})
    best = choose(top, cv, ho, ens, hp, "best")
    assert list(best.columns) == SELECTION_COLUMNS
    assert best["market"].tolist() == ["A", "A", "A", "B", "B"]
    assert best["rank"].tolist() == [1, 2, 3, 1, 2]
    assert best["hp"].tolist() == [1, 2, 0, 2, 0]
    assert best["family"].tolist() == ["ets", "theta", "seasonal_naive", "theta", "seasonal_naive"]
    assert best["label"].tolist() == [
        ets.label(),
        theta.label(),
        sn.label(),
        theta.label(),
        sn.label(),
    ]
    # parameters without the other families' blanks (NaN numbers, "" strings)
    params = [json.loads(p) for p in best["params"]]
    assert params[0] == {"spec": "AAdN", "log": True, "window": 104.0}
    assert params[1] == {"variant": "standard"}
    assert params[2] == {}
    assert best["params"].iloc[0] == json.dumps(params[0], sort_keys=True)
    assert best["cv_score"].tolist() == [0.2, 0.3, 0.5, 0.1, 0.4]
    np.testing.assert_array_equal(best["holdout_score"], [0.9, 0.4, np.nan, np.nan, np.nan])
    # A: the lowest holdout wins (rank 2); B: no holdout at all, so the CV best (rank 1)
    assert best["weight"].tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert best["ensemble_holdout_score"].isna().all()
    assert set(best["combine"]) == {"best"} and set(best["weighting"]) == {"equal"}
    learned = {"A": [0.5, 0.3, 0.2]}  # B has none: equal weights
    mean = choose(top, cv, ho, ens, hp, "median", learned, "inverse_error")
    assert mean["weight"].tolist() == [0.5, 0.3, 0.2, 0.5, 0.5]
    assert mean["ensemble_holdout_score"].tolist() == [0.25] * 3 + [0.35] * 2
    assert set(mean["combine"]) == {"median"} and set(mean["weighting"]) == {"inverse_error"}
    plain = choose(top, cv, None, None, hp, "mean")
    assert plain["holdout_score"].isna().all() and plain["ensemble_holdout_score"].isna().all()
    assert plain["weight"].tolist() == pytest.approx([1 / 3] * 3 + [0.5] * 2)
    assert set(plain["weighting"]) == {"equal"}


def hand_tuning(hp: xr.Dataset, per_hp: list[list[float]]) -> xr.Dataset:
    """A tuning cube by hand: markets A, B, 2 splits, 1 step, every cell OK with error per_hp."""
    err = np.repeat(np.array(per_hp, dtype=float)[:, None, :, None], 2, axis=1)
    dims = ("market", "split", "hp", "step")
    ds = xr.Dataset(
        {
            "error": (dims, err),
            "status": (dims[:3], np.zeros(err.shape[:3], dtype="int8")),
        },
        coords={"market": ["A", "B"], "split": [0, 1], "step": [1]},
        attrs={"metric": "mase", "season_length": 2},
    )
    return ds.assign_coords({c: hp.coords[c] for c in hp.coords})


def test_select_with_holdout_and_regressors_known_answers(echo):
    y, x = holdout_arrays()
    sn2 = Model.create("seasonal_naive", {}, 2)
    hp = to_dataset([sn2, echo, Model.create("seasonal_naive", {"log": True}, 2)])
    tuning = hand_tuning(hp, [[0.1, 0.2, 0.3], [0.2, 0.3, 0.1]])
    sel = select(tuning, y, top=2, combine="mean", weights="equal", holdout=3, x=x)
    assert sel["market"].tolist() == ["A", "A", "B", "B"]
    assert sel["hp"].tolist() == [0, 1, 2, 0]
    assert sel["cv_score"].tolist() == pytest.approx([0.1, 0.2, 0.1, 0.2])
    # the holdout refits of test_holdout_block_known_answers_with_regressors
    assert sel["holdout_score"].tolist() == pytest.approx([268 / 96, 461 / 96, 4 / 3, 4 / 3])
    assert sel["ensemble_holdout_score"].tolist() == pytest.approx([364.5 / 96] * 2 + [4 / 3] * 2)
    assert sel["weight"].tolist() == [0.5] * 4
    assert set(sel["combine"]) == {"mean"} and set(sel["weighting"]) == {"equal"}
    best = select(tuning, y, top=2, holdout=3, x=x)
    assert best["weight"].tolist() == [1.0, 0.0, 1.0, 0.0]  # B's tie: the CV rank decides
    assert best["ensemble_holdout_score"].isna().all()
    # linear split weights (the default) on equal splits: the same CV scores, no holdout
    cv_only = select(tuning, y, top=1)
    assert cv_only["hp"].tolist() == [0, 2] and cv_only["holdout_score"].isna().all()
    with pytest.raises(ValueError, match="holiday regressors"):
        select(tuning, y, top=2, holdout=3)
    with pytest.raises(ValueError, match="combine must be best, mean or median, got 'max'"):
        select(tuning, y, combine="max")
    with pytest.raises(ValueError, match="weighting must be among"):
        select(tuning, y, combine="mean", weighting=[])
    with pytest.raises(ValueError, match="weighting must be among"):
        select(tuning, y, combine="mean", weighting=["equal", "nope"])
    with pytest.raises(ValueError, match="a weighting other than equal needs combine"):
        select(tuning, y, weighting="inverse_error")


# --- known answers for select()'s own paths (mutation survivors, docs/testing.md) ---


def _hp4() -> xr.Dataset:
    return parse_space({"families": {"ets": {"spec": ["ANN", "AAN", "AAdN", "MNN"]}}}, "W-MON")


def test_select_rmse_exponential_weights_skipped_and_failed_by_hand():
    """rmse finishes each split with sqrt; exponential weights; default top 3 and combine best."""
    per_split = np.array(
        [
            [[4.0, 1.0, 9.0, 1.0], [4.0, 9.0, 1.0, 1.0], [16.0, 1.0, 4.0, 1.0]],  # A
            [[0.0, 0.0, 0.0, 0.0], [1.0, 4.0, 9.0, 16.0], [4.0, 4.0, 1.0, 9.0]],  # B
        ]
    )
    error, status = cube(per_split)
    status = status.copy()
    status[0, 1, 3] = FAILED  # A's hp3 failed on split 1: no score
    status[1, 0, :] = SKIPPED  # B is too short for split 0: weights 2/6, 4/6 over splits 1, 2
    error = error.where(status == OK)
    tuning = xr.Dataset(
        {"error": error, "status": status}, attrs={"metric": "rmse", "season_length": 52}
    ).assign_coords(_hp4().coords)
    sel = select(tuning, None, weights="exponential")
    # A, weights 1/7, 2/7, 4/7 on sqrt: hp0 (2 + 4 + 16) / 7, hp1 (1 + 6 + 4) / 7, hp2 (3 + 2 + 8) / 7
    # B: hp0 1/3 + 4/3, hp1 2/3 + 4/3, hp2 1 + 2/3 (tie with hp0: lower hp first), hp3 4/3 + 2
    assert sel["market"].tolist() == ["A"] * 3 + ["B"] * 3
    assert sel["hp"].tolist() == [1, 2, 0, 0, 2, 1]
    np.testing.assert_allclose(
        sel["cv_score"], [11 / 7, 13 / 7, 22 / 7, 5 / 3, 5 / 3, 2.0], atol=1e-12
    )
    assert sel["weight"].tolist() == [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    assert set(sel["combine"]) == {"best"}


def learned_tuning(hp: xr.Dataset, per_hp: list[list[float]]) -> xr.Dataset:
    """`hand_tuning` with the CV forecasts a learned weighting reads (inverse_error uses none)."""
    ds = hand_tuning(hp, per_hp)
    shape = (ds.sizes["market"], ds.sizes["split"])
    return ds.assign(
        yhat=xr.zeros_like(ds["error"]),
        y_test=(("market", "split", "step"), np.zeros((*shape, 1))),
        scale=(("market", "split"), np.ones(shape)),
    )


def test_select_learned_weights_scored_on_the_holdout_known_answers(echo):
    y, x = holdout_arrays()
    sn2 = Model.create("seasonal_naive", {}, 2)
    hp = to_dataset([sn2, echo, Model.create("seasonal_naive", {"log": True}, 2)])
    tuning = learned_tuning(hp, [[0.1, 0.2, 0.3], [0.2, 0.3, 0.1]])
    # inverse_error on CV scores 0.1, 0.2: 2/3, 1/3 half-way to 1/2 each: 7/12, 5/12
    kw = {"top": 2, "weights": "equal", "holdout": 3, "x": x, "weighting": "inverse_error"}
    mean = select(tuning, y, combine="mean", **kw)
    np.testing.assert_allclose(mean["weight"], [7 / 12, 5 / 12] * 2)
    assert mean["holdout_score"].tolist() == pytest.approx([268 / 96, 461 / 96, 4 / 3, 4 / 3])
    # A: 7/12 (225, 256, 225) + 5/12 (170, 171, 172) against 289, 324, 361, MASE scale 32;
    # B's two members forecast the same 118, 116, 118 (4/3)
    a = (1043 + 1241 + 1897) / 12 / 3 / 32
    assert mean["ensemble_holdout_score"].tolist() == pytest.approx([a, a, 4 / 3, 4 / 3])
    assert set(mean["weighting"]) == {"inverse_error"} and set(mean["combine"]) == {"mean"}
    # the weighted median of two is the heavier member: A's seasonal naive (268/96)
    median = select(tuning, y, combine="median", **kw)
    assert median["ensemble_holdout_score"].tolist() == pytest.approx([268 / 96] * 2 + [4 / 3] * 2)
    # equal against inverse_error on the holdout: A's equal mean is 364.5/96, so inverse_error
    chosen = select(tuning, y, combine="mean", **{**kw, "weighting": ["equal", "inverse_error"]})
    assert set(chosen["weighting"]) == {"inverse_error"}
    assert chosen["ensemble_holdout_score"].tolist() == pytest.approx([a, a, 4 / 3, 4 / 3])


def test_select_median_holdout_and_a_holdout_of_one(echo):
    y, x = holdout_arrays()
    sn2 = Model.create("seasonal_naive", {}, 2)
    hp = to_dataset([sn2, echo, Model.create("seasonal_naive", {"log": True}, 2)])
    tuning = hand_tuning(hp, [[0.1, 0.2, 0.3], [0.2, 0.3, 0.1]])
    # median of the three: A's log seasonal naive cannot refit on t**2 (a 0), so A's is the
    # median of two (their mean, 364.5/96); B: 118, 116, 118 twice and the echo's 1560 and up,
    # whose median is 118, 116, 118 (4/3; their mean would be far off)
    med = select(tuning, y, top=3, combine="median", weights="equal", holdout=3, x=x)
    assert med["ensemble_holdout_score"].tolist() == pytest.approx([364.5 / 96] * 3 + [4 / 3] * 3)
    # holdout 1: A's test 361 against 289 (sn2) and 209 (echo: 19 + 171 + 19), lag-2 scale 36;
    # B's 122 against 120, scale 2
    one = select(tuning, y, top=2, holdout=1, x=x)
    assert one["holdout_score"].tolist() == pytest.approx([2.0, 152 / 36, 1.0, 1.0])
    assert one["weight"].tolist()[:2] == [1.0, 0.0]  # B's near-tie is decided by rounding


def test_weighting_lists_without_a_holdout_by_split_count():
    """2 candidates on 2 or 3 splits: fitted on the older, scored on the newest; 1 split: the first."""
    tuning = _weighting_cube()
    # inverse_error puts 2/3 on the exact hp0: its weighted median is 10, equal's is 12
    assert set(_median_weighting(tuning)["weighting"]) == {"inverse_error"}
    assert set(_median_weighting(tuning.isel(split=[1, 2]))["weighting"]) == {"inverse_error"}
    one = _median_weighting(tuning.isel(split=[2]))  # nothing to score candidates on
    assert set(one["weighting"]) == {"equal"}
    np.testing.assert_allclose(one["weight"], [1 / 3] * 3)


def test_the_older_splits_keep_the_given_split_weights():
    """Equal split weights on the older splits (not the linear default) make hp0 the median."""
    tuning = _weighting_cube()
    err = tuning["error"].copy()
    err[0, 0, :, :] = [[0.01] * 2, [1.0] * 2, [1.0] * 2]
    err[0, 1, :, :] = [[0.4] * 2, [1.0] * 2, [1.0] * 2]
    err[0, 2, :, :] = 1.0
    tuning = tuning.assign(error=err)
    # older hp0 score (0.01 + 0.4) / 2 = 0.205: 4.878 of 6.878 inverse mass, weight 0.52 > 1/2,
    # so the weighted median is hp0's exact 10 on the newest split (equal's median: 12).
    # Linear weights (0.01 + 0.8) / 3 = 0.27 would give hp0 0.49 and a median of 12: a tie.
    sel = _median_weighting(tuning)
    assert set(sel["weighting"]) == {"inverse_error"}


def test_choose_defaults_to_best_keeps_later_markets_and_sorts_params():
    """A market without members does not end the table; params keys are sorted whatever the coords' order."""
    hp = xr.Dataset(
        coords={
            "hp": [0, 1],
            "family": ("hp", ["ets", "ets"]),
            "label": ("hp", ["e0", "e1"]),
            "window": ("hp", [104.0, 52.0]),
            "spec": ("hp", ["AAN", "ANN"]),
        }
    )
    cv = xr.DataArray(
        [[np.nan, np.nan], [0.2, 0.1]],
        dims=("market", "hp"),
        coords={"market": ["A", "B"], "hp": [0, 1]},
    )
    table = choose(top_hps(cv, 2), cv, None, None, hp)
    assert table["market"].tolist() == ["B", "B"] and table["hp"].tolist() == [1, 0]
    assert table["params"].tolist() == [
        '{"spec": "ANN", "window": 52.0}',
        '{"spec": "AAN", "window": 104.0}',
    ]
    assert set(table["combine"]) == {"best"} and table["weight"].tolist() == [1.0, 0.0]


def test_holdout_block_of_no_markets_and_a_memberless_first_market():
    sn2 = Model.create("seasonal_naive", {}, 2)
    scores, mean = holdout_block(np.zeros((0, 10)), [], 3, "mae")
    assert scores.shape == (0, 0) and mean.shape == (0,)
    y, _ = holdout_series()
    scores, mean = holdout_block(y[:1][[0, 0]], [[], [sn2]], 3, "mae")
    assert np.isnan(mean[0]) and scores.shape == (2, 1)
    np.testing.assert_allclose(scores[1], [268 / 3])  # test 289, 324, 361 against 225, 256, 225
    np.testing.assert_allclose(mean[1], 268 / 3)


def test_holdout_scores_of_one_period_keep_each_rank_forecast(echo):
    y, x = holdout_arrays()
    sn2 = Model.create("seasonal_naive", {}, 2)
    hp = to_dataset([sn2, echo, Model.create("seasonal_naive", {"log": True}, 2)])
    top = xr.DataArray(
        [[0, 1], [2, -1]], dims=("market", "rank"), coords={"market": ["A", "B"], "rank": [1, 2]}
    )
    # holdout 1: A's sn2 forecasts y[17] = 289, the echo 19 + 171 + 19 = 209; B's log sn2 120
    _, _, kept = holdout_scores(y, top, hp, 1, "mase", 2, block_markets=1, x=x, forecasts=True)
    np.testing.assert_allclose(kept.values[0, :, 0], [289.0, 209.0])
    np.testing.assert_allclose(kept.values[1, 0], [120.0])
    assert np.isnan(kept.values[1, 1]).all()  # B has no second member
    _, _, three = holdout_scores(y, top, hp, 3, "mase", 2, block_markets=1, x=x, forecasts=True)
    assert np.isnan(three.values[1, 1]).all()


def test_the_selector_error_messages_in_full(echo):
    y, x = holdout_arrays()
    hp = to_dataset([Model.create("seasonal_naive", {}, 2), echo])
    tuning = hand_tuning(hp, [[0.1, 0.2], [0.2, 0.1]])
    with pytest.raises(
        ValueError, match="^a weighting other than equal needs combine: mean or median$"
    ):
        select(tuning, y, weighting="inverse_error")
    top = xr.DataArray(
        [[1], [1]], dims=("market", "rank"), coords={"market": ["A", "B"], "rank": [1]}
    )
    with pytest.raises(
        ValueError,
        match="^the top hps have models with holiday regressors; pass the holiday features as x$",
    ):
        holdout_scores(y, top, hp, 3, "mase", 2)


def test_the_older_splits_are_scored_with_the_metric_and_the_status():
    """The candidates' older-split scores finish with rmse's sqrt and leave skipped splits out."""
    tuning = _weighting_cube().assign_attrs(metric="rmse")
    err = tuning["error"].copy()
    err[0, :, :, :] = np.array([4.0, 25.0, 25.0])[:, None]  # squared errors
    # sqrt: 2, 5, 5 -> hp0's inverse share 0.5 / 0.9, weight 0.44 < 1/2: the weighted median
    # is 12 like equal's, a tie, so the first listed (equal); without the sqrt hp0 would get 0.55
    assert set(_median_weighting(tuning.assign(error=err))["weighting"]) == {"equal"}
    tuning = _weighting_cube()
    err = tuning["error"].copy()
    err[0, 0] = np.nan  # split 0 skipped: the older score is split 1's alone
    err[0, 1:, :, :] = np.array([0.01, 1.0, 1.0])[:, None]
    status = tuning["status"].copy()
    status[0, 0] = SKIPPED
    # hp0's inverse share 100 / 102, weight 0.66: its exact 10 is the weighted median
    sel = _median_weighting(tuning.assign(error=err, status=status))
    assert set(sel["weighting"]) == {"inverse_error"}


def test_the_candidates_are_scored_by_the_combination_they_feed():
    """Without a holdout the weightings compete on the newest split by the median, not the mean."""
    tuning = _weighting_cube()
    yhat, y_test, err = tuning["yhat"].copy(), tuning["y_test"].copy(), tuning["error"].copy()
    yhat[0, 2] = np.array([10.0, 11.0, 30.0])[:, None]  # newest split's forecasts, actual 11
    y_test[0, 2] = 11.0
    err[0, :2] = np.array([0.01, 1.0, 1.0])[:, None]
    err[0, 2] = np.array([1.0, 0.0, 19.0])[:, None]
    tuning = tuning.assign(yhat=yhat, y_test=y_test, error=err)
    # older scores 0.01, 1, 1: inverse_error weights 0.657, 0.172, 0.172. Median: hp0's 10
    # (error 1) against equal's 11 (error 0), so equal; the weighted mean (13.6, error 2.6)
    # would beat the plain mean (17, error 6)
    sel = _median_weighting(tuning)
    assert set(sel["weighting"]) == {"equal"}
    np.testing.assert_allclose(sel["weight"], [1 / 3] * 3)


def test_ties_break_on_the_lower_hp_among_a_thousand():
    """The documented tie rule holds for a large space too (numpy's default sort is not stable)."""
    values = np.ones((1, 1000))
    values[0, ::3] = 0.5
    s = xr.DataArray(values, dims=("market", "hp"), coords={"market": ["A"], "hp": np.arange(1000)})
    assert top_hps(s, 5).values.tolist() == [[0, 3, 6, 9, 12]]


def test_split_weights_refuse_a_negative_weight_with_a_positive_sum():
    with pytest.raises(ValueError, match="non-negative numbers with a positive sum"):
        split_weights(2, [2, -1])


def test_choose_best_reports_the_equal_weighting_whatever_it_is_given():
    hp = _hp()
    cv = xr.DataArray(
        [[0.3, 0.1, 0.2]], dims=("market", "hp"), coords={"market": ["A"], "hp": [0, 1, 2]}
    )
    table = choose(top_hps(cv, 2), cv, None, None, hp, "best", None, "stacked")
    assert set(table["weighting"]) == {"equal"} and table["weight"].tolist() == [1.0, 0.0]
