"""Search: successive halving over splits, space-filling samples, the space report."""

from __future__ import annotations

import math
import shutil
import threading

import numpy as np
import pandas as pd
import pytest
import xarray as xr
import yaml
from statsforecast.models import SeasonalNaive

from fcast.contract import FAILED, NOT_RUN, OK, SKIPPED
from fcast.core.label import label
from fcast.core.models import FAMILIES, Family, register
from fcast.core.select import select
from fcast.core.space import parse_space
from fcast.core.tune import fits, tune
from fcast.core.tune.halving import survivors
from fcast.core.tune.report import narrowed_space, space_report
from fcast.jobs.space_report import write_space_report

SPACE = {
    "preprocess": {"log": [False, True]},
    "families": {
        "ets": {"spec": ["ANN", "AAdN"]},
        "theta": {"variant": ["standard", "optimized"]},
        "seasonal_naive": {},
    },
}
H, MIN_TRAIN, SPLITS = 13, 60, 3


@pytest.fixture(scope="module")
def setup(small_cube):
    lab = label(small_cube.time, splits=SPLITS, step=8, horizon=H, holdout=8, min_train=MIN_TRAIN)
    return small_cube["y"], lab, parse_space(SPACE, "W-MON")


def run_halving(setup, path, client=None, **kw):
    y, lab, hp = setup
    kw = {"keep": 0.5, "min_keep": 1, "block_markets": 2, **kw}
    return tune(
        y,
        lab,
        hp,
        str(path),
        strategy="halving",
        horizon=H,
        metric="mase",
        season_length=52,
        min_train=MIN_TRAIN,
        client=client,
        progress=False,
        **kw,
    )


@pytest.fixture(scope="module")
def grid(setup, tmp_path_factory):
    y, lab, hp = setup
    cube, _ = tune(
        y,
        lab,
        hp,
        str(tmp_path_factory.mktemp("g") / "grid.zarr"),
        horizon=H,
        metric="mase",
        season_length=52,
        min_train=MIN_TRAIN,
        block_markets=2,
        block_hps=4,
        progress=False,
    )
    return cube.load()


@pytest.fixture(scope="module")
def halved(setup, tmp_path_factory):
    path = tmp_path_factory.mktemp("h") / "halving.zarr"
    cube, reports = run_halving(setup, path)
    return path, cube.load(), reports


def test_cells_equal_the_grid_where_evaluated_and_nan_elsewhere(grid, halved):
    _, cube, _ = halved
    st = cube["status"].values
    run = st != NOT_RUN
    np.testing.assert_allclose(cube["error"].values[run], grid["error"].values[run], equal_nan=True)
    assert np.array_equal(st[run], grid["status"].values[run])
    assert np.isnan(cube["error"].values[~run]).all()
    assert np.isnan(cube["yhat"].values[~run]).all()
    # the most recent split is fully evaluated; rounds counts splits per (market, hp)
    assert run[:, -1, :].all()
    assert np.array_equal(cube["rounds"].values, run.sum(axis=1))


def test_number_of_fits_is_the_halving_arithmetic(setup, halved):
    y, lab, hp = setup
    _, cube, reports = halved
    n = hp.sizes["hp"]
    first = np.argmax(np.isfinite(y.values), axis=1)
    expected = 0
    for mi in range(y.sizes["market"]):
        alive = n
        for r, s in enumerate(range(SPLITS - 1, -1, -1)):
            if r > 0:
                alive = max(1, math.ceil(0.5 * alive))
            if lab["train_stop"].values[s] - first[mi] >= MIN_TRAIN:
                expected += alive
    assert fits(cube) == expected == sum(r.fits for r in reports)
    assert fits(cube) < SPLITS * n * y.sizes["market"]


def test_halving_picks_the_grid_best_among_fully_evaluated_hps(setup, grid, halved):
    y, _, _ = setup
    _, cube, _ = halved
    h = select(cube, y, top=1).set_index("market")["hp"]
    g = select(grid, y, top=1).set_index("market")["hp"]
    valid = (grid["status"] != SKIPPED).sum("split")
    full = cube["rounds"] == valid
    for market in y["market"].values:
        grid_scores = (
            select(grid, y, top=grid.sizes["hp"])
            .set_index(["market", "hp"])["cv_score"]
            .loc[market]
        )
        survivors_ = [int(k) for k in np.flatnonzero(full.sel(market=market).values)]
        assert h[market] == grid_scores.loc[survivors_].idxmin()  # only fully evaluated hps compete
        if full.sel(market=market, hp=g[market]):
            assert h[market] == g[market]  # the grid's winner survived: same choice


def test_selection_equals_the_grid_when_the_best_hp_is_clearly_best(tmp_path):
    t = np.arange(160)
    pattern = (
        1000
        + 300 * np.sin(2 * np.pi * np.arange(52) / 52)
        + 50 * np.cos(6 * np.pi * np.arange(52) / 52)
    )
    rng = np.random.default_rng(3)
    rows = np.stack(
        [pattern[t % 52] * (1 + 0.3 * k) for k in range(3)]
    )  # exactly seasonal: snaive is exact
    y = xr.DataArray(
        rows + rng.normal(0, 1e-6, rows.shape),
        dims=("market", "time"),
        coords={
            "market": ["A", "B", "C"],
            "time": pd.date_range("2021-01-04", periods=160, freq="W-MON"),
        },
    )
    lab = label(y.time, splits=SPLITS, step=8, horizon=H, holdout=8, min_train=MIN_TRAIN)
    hp = parse_space(SPACE, "W-MON")
    kw = {
        "horizon": H,
        "metric": "mase",
        "season_length": 52,
        "min_train": MIN_TRAIN,
        "progress": False,
    }
    g, _ = tune(y, lab, hp, str(tmp_path / "g.zarr"), block_markets=2, block_hps=4, **kw)
    h, _ = tune(
        y, lab, hp, str(tmp_path / "h.zarr"), strategy="halving", keep=0.33, block_markets=2, **kw
    )
    gs, hs = select(g, y, top=1), select(h, y, top=1)
    assert (gs["family"] == "seasonal_naive").all()
    pd.testing.assert_series_equal(gs.set_index("market")["hp"], hs.set_index("market")["hp"])
    assert fits(h) == 3 * (10 + math.ceil(0.33 * 10) + math.ceil(0.33 * 4)) < fits(g)


def test_survivors_keep_the_best_by_score():
    err = np.ones((1, 2, 4, 1))
    err[0, 1, :, 0] = [3.0, 1.0, 2.0, 4.0]
    cube = xr.Dataset(
        {
            "error": (("market", "split", "hp", "step"), err),
            "status": (("market", "split", "hp"), np.full((1, 2, 4), OK, dtype="int8")),
        },
        coords={"market": ["A"], "split": [0, 1], "hp": np.arange(4)},
        attrs={"metric": "mae"},
    )
    assert survivors(cube, [1], keep=0.5, min_keep=1) == {0: [1, 2]}
    assert survivors(cube, [1], keep=0.1, min_keep=3) == {0: [0, 1, 2]}


def test_resume_skips_done_rounds(setup, tmp_path, monkeypatch):
    path = tmp_path / "h.zarr"
    run_halving(setup, path)
    shutil.rmtree(path / ".halving" / "2")  # the last round "did not finish"
    _, again = run_halving(setup, path)
    assert {r.round for r in again} == {2}
    cube, third = run_halving(setup, path)
    assert third == []
    assert int(cube["rounds"].max()) == SPLITS


def test_halving_on_a_cluster_equals_in_process(setup, halved, tmp_path, client2):
    _, local, _ = halved
    cube, _ = run_halving(setup, tmp_path / "c.zarr", client=client2)
    xr.testing.assert_equal(cube["error"].load(), local["error"])
    xr.testing.assert_equal(cube["rounds"].load(), local["rounds"])


def test_space_report_and_narrowed_space(setup, grid, tmp_path):
    y, _, hp = setup
    sel = select(grid, y, top=2)
    rep = space_report(grid, sel)
    rep.to_parquet(tmp_path / "rep.parquet")
    assert {"family", "param", "value", "gap", "spread", "selected"} <= set(rep.columns)
    chosen = sel[sel["weight"] > 0]
    assert (
        rep.loc[rep["param"] == "log", "selected"].sum()
        == chosen.groupby("family")["market"].nunique().sum()
    )
    assert (rep["gap"].dropna() >= -1e-12).all()
    space = narrowed_space(grid, sel, 52)
    assert set(space["families"]) == set(chosen["family"])
    narrowed = parse_space(yaml.safe_load(yaml.safe_dump(space)), "W-MON")
    assert set(narrowed["label"].values) >= set(chosen["label"])
    assert narrowed.sizes["hp"] <= hp.sizes["hp"]
    # the CLI helper reads a run folder
    run = tmp_path / "run"
    grid.drop_encoding().to_zarr(run / "tuning.zarr", zarr_format=2, consolidated=True)
    sel.to_parquet(run / "selection.parquet")
    out = write_space_report(str(run), 52)
    assert (run / "space-report.parquet").exists() and (run / "space-narrowed.yaml").exists()
    assert out["hps_after"] == narrowed.sizes["hp"]


def test_heatmap_of_a_halving_cube_shows_unevaluated_cells_as_gaps(halved):
    pytest.importorskip("hvplot")
    from fcast.output.plots import tuning_heatmap

    _, cube, _ = halved
    plot = tuning_heatmap(cube, ["DK"])
    data = plot.dframe()
    assert len(data) == cube.sizes["split"] * cube.sizes["hp"]
    assert data["error"].isna().sum() == int((cube["status"].sel(market="DK") != OK).sum())


# --- a hanging fit in a halving round ------------------------------------------------------

RELEASE = threading.Event()  # never set while a test runs: a fit that waits on it hangs


class Blocking:
    """A seasonal naive forecast; for a series that starts above `above` it waits on RELEASE."""

    def __init__(self, above: float, season_length: int) -> None:
        self.above, self.season_length = above, season_length

    def forecast(self, y: np.ndarray, h: int, level: list[int] | None = None) -> dict:
        if y[0] > self.above:
            RELEASE.wait()
        return SeasonalNaive(season_length=self.season_length).forecast(y=y, h=h, level=level)


BLOCKING = Family("blocking", {"above": float}, lambda p, m: Blocking(p["above"], m))


@pytest.fixture()
def blocking():
    """The blocking family registered; afterwards RELEASE frees the abandoned fits."""
    RELEASE.clear()
    register(BLOCKING)
    yield BLOCKING
    RELEASE.set()
    FAMILIES.unregister(BLOCKING.name)


def test_halving_cuts_off_a_hanging_fit_at_task_timeout(setup, blocking, tmp_path, capfd):
    y, lab, _ = setup
    hp = parse_space({"families": {"seasonal_naive": {}, "blocking": {"above": [3500.0]}}}, "W-MON")
    cube, reports = tune(
        y,
        lab,
        hp,
        str(tmp_path / "h.zarr"),
        strategy="halving",
        keep=0.5,
        block_markets=1,
        horizon=H,
        season_length=52,
        min_train=MIN_TRAIN,
        task_timeout=8.0,  # far above a normal block; the blocked one waits until released
    )
    # only SE starts above 3500: its block of round 0 (the last split) is cut off, and the run ends
    late = [(r.round, r.split, r.block) for r in reports if r.timed_out]
    assert late == [(0, SPLITS - 1, "3")]
    st = cube["status"].load()
    assert bool((st.sel(market="SE").isel(split=-1) == FAILED).all())  # both hps: the whole block
    assert bool((st.sel(market="SE").isel(split=slice(0, -1)) == NOT_RUN).all())  # nothing survived
    assert np.isnan(cube["yhat"].sel(market="SE").values).all()
    others = st.drop_sel(market="SE")
    assert not bool((others == FAILED).any())
    assert bool((others.isel(split=-1) == OK).all())
    err = capfd.readouterr().err
    assert "halving: block 0-3 (markets SE; round 0, split 2) exceeded task_timeout=8s" in err
