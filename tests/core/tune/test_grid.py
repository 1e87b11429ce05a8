"""Tuning: the Dask path equals a plain statsforecast loop; failures are counted; runs resume."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest
import xarray as xr
from statsforecast.models import AutoETS, OptimizedTheta, SeasonalNaive, Theta

from fcast.contract import FAILED, OK, SKIPPED
from fcast.core.label import label
from fcast.core.space import parse_space
from fcast.core.tune import errors, tune
from fcast.core.tune.plan import auto_block_markets, client_threads, plan_blocks
from fcast.core.tune.regions import done_blocks

SPACE = {
    "preprocess": {"log": [False, True]},
    "families": {
        "ets": {"spec": ["ANN", "AAdN"]},
        "theta": {"variant": ["standard", "optimized"]},
        "seasonal_naive": {},
    },
}
H, MIN_TRAIN = 13, 60


def direct_models():
    """The same models as SPACE, built by hand in grid order (family order, then params, log)."""
    return [
        (AutoETS(model="ANN"), False),
        (AutoETS(model="AAN", damped=True), False),
        (AutoETS(model="ANN"), True),
        (AutoETS(model="AAN", damped=True), True),
        (Theta(season_length=52), False),
        (OptimizedTheta(season_length=52), False),
        (Theta(season_length=52), True),
        (OptimizedTheta(season_length=52), True),
        (SeasonalNaive(season_length=52), False),
        (SeasonalNaive(season_length=52), True),
    ]


def plain_loop(y: xr.DataArray, train_stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """yhat and MASE loss for every cell, by calling statsforecast directly."""
    models = direct_models()
    n_m, n_s = y.sizes["market"], len(train_stop)
    yhat = np.full((n_m, n_s, len(models), H), np.nan)
    err = np.full_like(yhat, np.nan)
    for mi in range(n_m):
        row = y.isel(market=mi).values
        first = int(np.argmax(np.isfinite(row)))
        for si, stop in enumerate(train_stop):
            train = row[first:stop]
            if len(train) < MIN_TRAIN:
                continue
            test = row[stop : stop + H]
            lag = 52 if len(train) > 52 else 1
            scale = np.mean(np.abs(train[lag:] - train[:-lag]))
            for hi, (model, log) in enumerate(models):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    fc = model.forecast(y=np.log(train) if log else train, h=H)["mean"]
                fc = np.exp(fc) if log else fc
                yhat[mi, si, hi] = fc
                err[mi, si, hi] = np.abs(test - fc) / scale
    return yhat, err


@pytest.fixture(scope="module")
def setup(small_cube):
    lab = label(small_cube.time, splits=3, step=8, horizon=H, holdout=8, min_train=MIN_TRAIN)
    hp = parse_space(SPACE, "W-MON")
    y_tune = small_cube["y"].isel(time=slice(0, lab.attrs["holdout_start"]))
    expected = plain_loop(y_tune, lab["train_stop"].values)
    return small_cube, lab, hp, expected


def run(setup, path, client, **kw):
    cube, lab, hp, _ = setup
    kw = {"block_markets": 2, "block_hps": 4, **kw}
    return tune(
        cube["y"],
        lab,
        hp,
        str(path),
        horizon=H,
        metric="mase",
        season_length=52,
        min_train=MIN_TRAIN,
        client=client,
        progress=False,
        **kw,
    )


@pytest.mark.parametrize("workers", [1, 2])
def test_dask_path_equals_plain_statsforecast_loop(setup, tmp_path, workers, client1, client2):
    client = client1 if workers == 1 else client2
    tuning, reports = run(setup, tmp_path / "t.zarr", client)
    yhat, err = setup[3]
    np.testing.assert_allclose(tuning["yhat"].values, yhat, rtol=0, atol=1e-9, equal_nan=True)
    np.testing.assert_allclose(tuning["error"].values, err, rtol=0, atol=1e-9, equal_nan=True)
    # one task per block, never per fit
    assert len(reports) == len(plan_blocks(4, 10, 2, 4)) == 6
    assert tuning["error"].dims == ("market", "split", "hp", "step")
    assert list(tuning["family"].values[:2]) == ["ets", "ets"]


def test_same_numbers_in_process_and_with_other_blocks(setup, tmp_path, client2):
    a, _ = run(setup, tmp_path / "a.zarr", None)
    b, _ = run(setup, tmp_path / "b.zarr", client2, block_markets=3, block_hps=7)
    xr.testing.assert_identical(a["error"].load(), b["error"].load())


@pytest.mark.parametrize(
    ("n_markets", "n_splits", "n_hps", "block_hps", "threads", "expected"),
    [
        (200, 3, 9, 32, 2, 4),  # the speed benchmark: 200 // (24 x 2) = 4 markets -> 50 blocks
        (24, 3, 9, 32, 2, 2),  # few markets: the 50-fit floor (27 fits per market) wins
        (55, 4, 26, 32, 2, 1),  # the demo: 104 fits per market, one market per block
        (366, 3, 24, 16, 2, 8),  # Tourism monthly, 2 hp blocks: capped at 8
        (10_000, 4, 26, 32, 64, 6),  # a big cluster: 10000 // (24 x 64) = 6
        (3, 1, 2, 32, 2, 3),  # tiny work never exceeds the market count
        (200, 3, 9, 32, None, 8),  # in-process: as large as allowed
    ],
)
def test_auto_block_markets_known_answers(n_markets, n_splits, n_hps, block_hps, threads, expected):
    assert auto_block_markets(n_markets, n_splits, n_hps, block_hps, threads) == expected


def test_auto_blocks_follow_the_cluster_threads(setup, tmp_path, client2):
    assert client_threads(None) is None
    assert client_threads(client2) == 2
    tuning, reports = run(setup, tmp_path / "auto.zarr", client2, block_markets=None)
    # 4 markets x 3 splits x 4 hps = 12 fits per market: the 50-fit floor makes one block of 4 markets
    assert tuning["yhat"].encoding["chunks"][0] == 4
    assert len(reports) == 3
    np.testing.assert_allclose(
        tuning["yhat"].values, setup[3][0], rtol=0, atol=1e-9, equal_nan=True
    )


def test_short_history_cells_are_skipped(setup, tmp_path):
    tuning, _ = run(setup, tmp_path / "t.zarr", None)
    status = tuning["status"].load()
    # SE starts 40 weeks late: its first split has 40 - 0 < 60 training weeks... check exactly
    se_train = setup[1]["train_stop"].values - 40
    expected_skipped = se_train < MIN_TRAIN
    np.testing.assert_array_equal(
        (status.sel(market="SE") == SKIPPED).all("hp").values, expected_skipped
    )
    assert bool((status.sel(market="DK") == OK).all())
    assert np.isnan(tuning["error"].sel(market="SE").values[expected_skipped]).all()


def test_failed_fits_are_nan_and_counted(small_cube, tmp_path):
    cube = small_cube.copy(deep=True)
    cube["y"].loc[{"market": "DK"}] = (
        cube["y"].sel(market="DK").where(cube.time != cube.time[5], 0.0)
    )
    lab = label(cube.time, splits=2, step=8, horizon=H, holdout=8, min_train=MIN_TRAIN)
    hp = parse_space(
        {"preprocess": {"log": [False, True]}, "families": {"seasonal_naive": {}}}, "W-MON"
    )
    tuning, reports = tune(
        cube["y"],
        lab,
        hp,
        str(tmp_path / "f.zarr"),
        horizon=H,
        season_length=52,
        min_train=MIN_TRAIN,
        progress=False,
    )
    status = tuning["status"].load()
    # log of a zero fails for DK only, on every split
    assert bool((status.sel(market="DK", hp=1) == FAILED).all())
    assert bool((status.sel(hp=0) == OK).all())
    assert np.isnan(tuning["yhat"].sel(market="DK", hp=1).values).all()
    assert sum(r.failed for r in reports) == 2


def test_interrupted_run_resumes_without_refitting_done_blocks(setup, tmp_path):
    path = tmp_path / "r.zarr"
    full, reports = run(setup, path, None)
    reference = full["yhat"].load()
    # emulate a crash: two blocks never finished (no marker, region never written)
    lost = ["0-1", "1-2"]
    for name in lost:
        (path / ".blocks" / f"{name}.json").unlink()
    ds = xr.open_zarr(path)
    blank = xr.full_like(ds["yhat"].isel(market=slice(0, 2), hp=slice(4, 8)), np.nan).load()
    xr.Dataset({"yhat": blank.drop_vars(list(blank.coords))}).to_zarr(
        path, region={"market": slice(0, 2), "hp": slice(4, 8)}, zarr_format=2
    )
    assert done_blocks(f"{path}/.blocks") == {r.block for r in reports} - set(lost)
    resumed, again = run(setup, path, None)
    assert sorted(r.block for r in again) == lost
    xr.testing.assert_identical(resumed["yhat"].load(), reference)


def test_a_marker_written_aside_is_not_a_finished_block(setup, tmp_path):
    path = tmp_path / "r.zarr"
    _, reports = run(setup, path, None)
    assert len(reports) == 6
    # a crash between writing a marker aside and moving it into place leaves only the aside file
    (path / ".blocks" / "0-1.json").rename(path / ".blocks" / "0-1.json.3f9a1c2e.tmp")
    (path / ".blocks" / "1-2.json").rename(path / ".blocks" / ".tmp-3f9a1c2e0b1d-1-2.json")
    done = done_blocks(f"{path}/.blocks")
    assert done == {"0-0", "0-2", "1-0", "1-1"}  # known answer: the two aside markers do not count
    _, again = run(setup, path, None)
    assert sorted(r.block for r in again) == ["0-1", "1-2"]  # ... so the rerun redoes those blocks


def test_errors_recomputes_any_metric(setup, tmp_path):
    tuning, _ = run(setup, tmp_path / "t.zarr", None)
    mase = errors(tuning, "mase").load()
    np.testing.assert_allclose(mase.values, tuning["error"].values, equal_nan=True)
    mae = errors(tuning, "mae").load()
    np.testing.assert_allclose(
        mae.values,
        np.abs(tuning["y_test"] - tuning["yhat"]).transpose(*mae.dims).values,
        equal_nan=True,
    )


def test_rerun_after_delete_starts_clean(setup, tmp_path):
    path = tmp_path / "t.zarr"
    run(setup, path, None)
    shutil.rmtree(path)
    _, reports = run(setup, path, None)
    assert len(reports) == 6
