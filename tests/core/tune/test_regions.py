"""Known answers of the tuning cube's layout, region writes, markers and resume (in process, tiny cube)."""

from __future__ import annotations

import json
import time
from dataclasses import asdict

import fsspec
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.contract import FAILED, NOT_RUN, OK, SKIPPED
from fcast.core.tune.plan import BlockKey
from fcast.core.tune.regions import (
    BlockReport,
    RoundKey,
    RoundReport,
    block_marker,
    create_cube,
    done_blocks,
    read_report,
    read_round,
    round_markers,
    template,
    write_block,
    write_round,
)

T, H, MIN_TRAIN, SEASON = 20, 3, 10, 2


def y_tune(origin: bool = False) -> xr.DataArray:
    """Market A: t**2 from t=0; market B: 100 + t + 3*(t odd) from t=4."""
    t = np.arange(T, dtype="float64")
    b = 100 + t + 3 * (t % 2)
    b[:4] = np.nan
    da = xr.DataArray(
        np.stack([t**2, b]),
        dims=("market", "time"),
        coords={"market": ["A", "B"], "time": pd.date_range("2024-01-01", periods=T, freq="W-MON")},
    )
    return da.assign_coords(origin=("market", [0, 4])) if origin else da


def labels() -> xr.Dataset:
    """Two splits with training stops 10 and 14."""
    cutoff = pd.to_datetime(["2024-03-04", "2024-04-01"])
    return xr.Dataset(
        {"train_stop": ("split", [10, 14])}, coords={"split": [0, 1], "cutoff": ("split", cutoff)}
    )


def hp() -> xr.Dataset:
    """Three hps with a family label."""
    return xr.Dataset(coords={"hp": [0, 1, 2], "family": ("hp", ["a", "b", "c"])})


def build(origin: bool = False) -> xr.Dataset:
    """The template of the tiny cube: blocks of 1 market x 2 hps."""
    return template(y_tune(origin), labels(), hp(), H, "mase", SEASON, MIN_TRAIN, 1, 2)


def test_template_known_answers():
    ds = build()
    assert ds["yhat"].dims == ds["error"].dims == ("market", "split", "hp", "step")
    assert ds["status"].dims == ("market", "split", "hp")
    assert ds["yhat"].shape == (2, 2, 3, H)
    assert ds["yhat"].data.chunks == ((1, 1), (2,), (2, 1), (3,))
    assert ds["error"].data.chunks == ds["yhat"].data.chunks
    assert ds["status"].encoding["chunks"] == (1, 2, 2)  # eager, written with the template
    assert np.isnan(ds["yhat"].values).all() and np.isnan(ds["error"].values).all()
    assert ds["status"].dtype == np.int8 and (ds["status"].values == NOT_RUN).all()
    y = y_tune().values
    # A has exactly 10 = min_train values at stop 10; B has 6 there (no test, no scale)
    np.testing.assert_array_equal(ds["y_test"].values[0], [y[0, 10:13], y[0, 14:17]])
    np.testing.assert_array_equal(ds["y_test"].values[1, 1], [114, 118, 116])
    assert np.isnan(ds["y_test"].values[1, 0]).all()
    assert ds["y_test"].dims == ("market", "split", "step")
    # lag-2 MASE scales: |t**2 - (t-2)**2| = 4t - 4 means 18 (t < 10) and 26 (t < 14); B: 2
    np.testing.assert_array_equal(ds["scale"].values, [[18, 26], [np.nan, 2]])
    assert ds["scale"].dims == ("market", "split")
    assert list(ds["market"].values) == ["A", "B"]
    assert list(ds["split"].values) == [0, 1]
    assert list(ds["step"].values) == [1, 2, 3]
    assert list(ds["train_stop"].values) == [10, 14] and ds["train_stop"].dims == ("split",)
    assert list(ds["cutoff"].values) == list(labels()["cutoff"].values)
    assert ds["cutoff"].dims == ("split",)
    assert list(ds["family"].values) == ["a", "b", "c"] and list(ds["hp"].values) == [0, 1, 2]
    assert ds.attrs == {"metric": "mase", "season_length": 2, "horizon": 3, "min_train": 10}
    assert "origin" not in ds.coords
    assert dict(ds.sizes) == {"market": 2, "split": 2, "hp": 3, "step": H}  # no other dim
    assert list(ds.indexes) == ["market", "split", "step", "hp"]  # split is an indexed coord


def test_template_keeps_the_origin_of_right_aligned_markets():
    ds = build(origin=True)
    assert list(ds["origin"].values) == [0, 4] and ds["origin"].dims == ("market",)


def test_template_season_longer_than_the_window_uses_lag_one():
    ds = template(y_tune(), labels(), hp(), H, "mae", 12, MIN_TRAIN, 2, 3)
    # A at stop 10: 10 values, season 12 -> lag 1: |t**2 - (t-1)**2| = 2t - 1, t = 1..9: mean 9
    assert ds["scale"].values[0, 0] == 9
    assert ds["yhat"].data.chunks == ((2,), (2,), (3,), (3,))


@pytest.fixture()
def cube(tmp_path):
    """A fresh cube on disk; `calls` counts the template builds."""
    calls = []

    def counted() -> xr.Dataset:
        calls.append(1)
        return build()

    path = str(tmp_path / "t.zarr")
    ds = create_cube(path, ".blocks", counted)
    return path, ds, calls, counted


def test_create_cube_builds_once_and_marks_the_template(cube):
    path, ds, calls, counted = cube
    assert calls == [1]
    with open(f"{path}/.blocks/_template", "rb") as fh:
        assert fh.read() == b"ok"
    np.testing.assert_array_equal(ds["scale"].values, build()["scale"].values)
    again = create_cube(path, ".blocks", counted)
    assert calls == [1]  # the marker says the template is there
    assert set(again.data_vars) == {"yhat", "error", "status", "y_test", "scale"}
    create_cube(path, ".halving", counted)  # another marker folder: built again
    assert calls == [1, 1]


def block_out(n_m: int, n_h: int, status: list) -> dict[str, np.ndarray]:
    """A block's arrays: yhat counting up, error = yhat / 10, the given status."""
    yhat = np.arange(n_m * 2 * n_h * H, dtype="float64").reshape(n_m, 2, n_h, H)
    return {"yhat": yhat, "error": yhat / 10, "status": np.array(status, dtype="int8")}


def test_write_block_writes_its_region_then_its_marker(cube):
    path, _, _, _ = cube
    key = BlockKey(1, 0, 1, 2, 0, 2)
    out = block_out(1, 2, [[[OK, FAILED], [SKIPPED, OK]]])
    t0 = time.perf_counter() - 100
    rep = write_block(path, key, out, t0)
    assert (rep.block, rep.fits, rep.failed, rep.skipped, rep.timed_out) == ("1-0", 3, 1, 1, False)
    assert 100 <= rep.seconds < 3600 and rep.seconds == round(rep.seconds, 4)
    assert isinstance(rep.seconds, float)  # rounded to 4 decimals, not to whole seconds
    assert block_marker(path, key) == f"{path}/.blocks/1-0.json"
    with open(f"{path}/.blocks/1-0.json") as fh:
        assert json.load(fh) == asdict(rep)
    assert read_report(path, key) == rep
    ds = xr.open_zarr(path, consolidated=False).load()
    np.testing.assert_array_equal(ds["yhat"].values[1:2, :, 0:2], out["yhat"])
    np.testing.assert_array_equal(ds["error"].values[1:2, :, 0:2], out["error"])
    np.testing.assert_array_equal(ds["status"].values[1:2, :, 0:2], out["status"])
    assert np.isnan(ds["yhat"].values[0]).all() and np.isnan(ds["yhat"].values[1, :, 2]).all()
    assert done_blocks(f"{path}/.blocks") == {"1-0"}
    # the cells no block wrote read NOT_RUN from disk, not zarr's fill value 0 (= OK)
    assert (ds["status"].values[0] == NOT_RUN).all() and (
        ds["status"].values[1, :, 2] == NOT_RUN
    ).all()


def test_an_untouched_cube_reads_not_run_everywhere(cube):
    """A half-finished run's heat map must not show unevaluated cells as fitted."""
    path, _, _, _ = cube
    ds = xr.open_zarr(path, consolidated=True)
    assert ds["status"].dtype == np.int8 and (ds["status"].values == NOT_RUN).all()
    assert ds["status"].chunks == ((1, 1), (2,), (2, 1))  # one chunk per block of the template


def test_write_block_timed_out_flag(cube):
    path, _, _, _ = cube
    key = BlockKey(0, 1, 0, 1, 2, 3)
    out = block_out(1, 1, [[[FAILED], [SKIPPED]]])
    rep = write_block(path, key, out, time.perf_counter(), timed_out=True)
    assert rep == read_report(path, key)
    assert (rep.block, rep.fits, rep.failed, rep.skipped, rep.timed_out) == ("0-1", 1, 1, 1, True)


def test_done_blocks_counts_finished_markers_only(tmp_path):
    folder = tmp_path / ".blocks"
    assert done_blocks(str(folder)) == set()
    folder.mkdir()
    assert done_blocks(str(folder)) == set()
    for name in ("0-0.json", "1-0.json", ".tmp-0123456789ab-2-0.json", "0-2.json.5f3a.tmp"):
        (folder / name).write_text("{}")
    (folder / "_template").write_bytes(b"ok")
    (folder / "3-0.txt").write_text("")
    assert done_blocks(str(folder)) == {"0-0", "1-0"}


def test_done_blocks_reads_names_on_a_remote_filesystem():
    """fsspec's `ls` lists entries as dicts unless told not to; only local files list names by default."""
    fs = fsspec.filesystem("memory")
    root = "/regions-done-blocks/.blocks"
    try:
        for name in ("0-0.json", "2-1.json", ".tmp-0123456789ab-1-0.json", "_template"):
            fs.pipe(f"{root}/{name}", b"{}")
        assert done_blocks(f"memory://{root}") == {"0-0", "2-1"}
    finally:
        fs.rm("/regions-done-blocks", recursive=True)


def test_write_round_writes_one_split_then_its_marker(cube):
    path, _, _, _ = cube
    key = RoundKey(round=2, split=1, m0=0, m1=2)
    assert key.name == "0" and RoundKey(0, 0, 5, 7).name == "5"
    yhat = np.arange(2 * 3 * H, dtype="float64").reshape(2, 1, 3, H) + 1
    status = np.array([[[OK, NOT_RUN, FAILED]], [[SKIPPED, OK, NOT_RUN]]], dtype="int8")
    out = {"yhat": yhat, "error": -yhat, "status": status}
    rep = write_round(path, 3, key, out, time.perf_counter() - 100, False)
    assert (rep.round, rep.split, rep.block, rep.fits, rep.failed) == (2, 1, "0", 3, 1)
    assert rep.timed_out is False
    assert 100 <= rep.seconds < 3600 and rep.seconds == round(rep.seconds, 4)
    assert isinstance(rep.seconds, float)  # rounded to 4 decimals, not to whole seconds
    assert round_markers(path, 2) == f"{path}/.halving/2"
    with open(f"{path}/.halving/2/0.json") as fh:
        assert json.load(fh) == asdict(rep)
    assert read_round(path, key) == rep
    assert done_blocks(round_markers(path, 2)) == {"0"}
    ds = xr.open_zarr(path, consolidated=False).load()
    np.testing.assert_array_equal(ds["yhat"].values[:, 1:2], yhat)
    np.testing.assert_array_equal(ds["error"].values[:, 1:2], -yhat)
    np.testing.assert_array_equal(ds["status"].values[:, 1:2], status)
    assert np.isnan(ds["yhat"].values[:, 0]).all()
    late = write_round(path, 3, RoundKey(3, 0, 1, 2), {k: v[1:] for k, v in out.items()}, 0.0, True)
    assert late == read_round(path, RoundKey(3, 0, 1, 2)) and late.timed_out is True
    assert (late.block, late.fits, late.failed) == ("1", 1, 0)
    first = write_round(
        path, 3, RoundKey(4, 0, 0, 1), {k: v[:1] for k, v in out.items()}, 0.0, False
    )
    assert (first.block, first.fits, first.failed) == ("0", 2, 1)
    ds = xr.open_zarr(path, consolidated=False).load()
    np.testing.assert_array_equal(ds["yhat"].values[:, 0], [yhat[0, 0], yhat[1, 0]])
    # a block of the first 2 hps only writes those
    two = {"yhat": yhat[:, :, :2] * 10, "error": yhat[:, :, :2], "status": status[:, :, :2]}
    write_round(path, 2, RoundKey(5, 0, 0, 2), two, 0.0, False)
    ds = xr.open_zarr(path, consolidated=False).load()
    np.testing.assert_array_equal(ds["yhat"].values[:, 0, :2], yhat[:, 0, :2] * 10)
    np.testing.assert_array_equal(ds["yhat"].values[:, 0, 2], yhat[:, 0, 2])


def test_report_defaults_are_not_timed_out():
    assert BlockReport("0-0", 1, 0, 0, 0.1).timed_out is False
    assert RoundReport(0, 0, "0", 1, 0, 0.1).timed_out is False
