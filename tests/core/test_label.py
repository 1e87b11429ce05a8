"""Labeler: rolling-origin splits and the final holdout, checked on exact indices."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.core.label import label, required_history, valid_splits
from fcast.errors import DataError


def test_split_windows_and_holdout_exact_indices():
    time = pd.date_range("2024-01-01", periods=30, freq="W-MON")
    lab = label(time, splits=3, step=4, horizon=5, holdout=6, min_train=3)
    # tuning sees periods 0..23; holdout is 24..29
    assert lab.attrs["holdout_start"] == 24
    np.testing.assert_array_equal(lab["test_stop"].values, [16, 20, 24])
    np.testing.assert_array_equal(lab["train_stop"].values, [11, 15, 19])
    assert list(lab["cutoff"].values) == list(time[[10, 14, 18]].values)
    role = lab["role"]
    for k, (train_stop, test_stop) in enumerate([(11, 16), (15, 20), (19, 24)]):
        r = role.isel(split=k).values
        assert (r[:train_stop] == "train").all()
        assert (r[train_stop:test_stop] == "test").all()
        assert (r[test_stop:24] == "unused").all()
        assert (r[24:] == "holdout").all()
    # no split ever tests on the holdout
    assert not ((role == "test") & (np.arange(30) >= 24)).any()


def test_roles_by_name_and_counts():
    time = pd.date_range("2024-01-01", periods=20, freq="MS")
    lab = label(time, splits=2, step=3, horizon=4, holdout=0)
    assert lab["role"].dims == ("split", "time")
    assert int((lab["role"] == "test").sum("time").max()) == 4
    assert int((lab["role"] == "holdout").sum()) == 0
    np.testing.assert_array_equal(lab["test_stop"].values, [17, 20])


def test_too_short_history_is_a_clear_error():
    time = pd.date_range("2024-01-01", periods=20, freq="W-MON")
    with pytest.raises(DataError, match="need at least 22"):
        label(time, splits=3, step=4, horizon=5, holdout=6, min_train=3)
    assert required_history(3, 4, 5, 6, 3) == 22


def test_valid_splits_per_market():
    import xarray as xr

    time = pd.date_range("2024-01-01", periods=30, freq="W-MON")
    lab = label(time, splits=3, step=4, horizon=5, holdout=6, min_train=3)
    first = xr.DataArray([0, 10], dims="market", coords={"market": ["A", "B"]})
    ok = valid_splits(lab, first, min_train=4)
    # B starts at 10: train lengths 1, 5, 9
    np.testing.assert_array_equal(ok.sel(market="B").values, [False, True, True])
    assert bool(ok.sel(market="A").all())


def test_history_exactly_at_the_minimum_is_accepted():
    # required: min_train 3 + horizon 5 + 2 x step 4 + holdout 6 = 22 periods
    time = pd.date_range("2024-01-01", periods=22, freq="W-MON")
    lab = label(time, splits=3, step=4, horizon=5, holdout=6, min_train=3)
    # by hand: holdout 16..21, test windows end at 8, 12, 16; the oldest trains on exactly 3
    np.testing.assert_array_equal(lab["test_stop"].values, [8, 12, 16])
    np.testing.assert_array_equal(lab["train_stop"].values, [3, 7, 11])
    with pytest.raises(DataError, match="need at least 22"):
        label(time[:21], splits=3, step=4, horizon=5, holdout=6, min_train=3)


def test_valid_splits_at_exactly_min_train_is_valid():
    """train_stop - first == min_train counts; one period less does not."""
    import xarray as xr

    labels = xr.Dataset({"train_stop": ("split", np.array([10, 11, 12]))})
    first = xr.DataArray([2, 0], dims="market")
    ok = valid_splits(labels, first, min_train=10)
    assert ok.transpose("market", "split").values.tolist() == [
        [False, False, True],
        [True, True, True],
    ]


def test_label_dims_coords_and_attrs():
    """The labels' schema that tune, select and the cubes rely on."""
    time = pd.date_range("2024-01-01", periods=100, freq="W-MON")
    lab = label(time, splits=3, step=4, horizon=6, holdout=5, min_train=20)
    assert lab["cutoff"].dims == lab["train_stop"].dims == lab["test_stop"].dims == ("split",)
    assert lab["split"].values.tolist() == [0, 1, 2]
    assert lab["time"].values.tolist() == time.values.tolist()
    assert {k: lab.attrs[k] for k in ("horizon", "step", "holdout")} == {
        "horizon": 6,
        "step": 4,
        "holdout": 5,
    }


def test_whole_role_matrix_and_error_text_known_answers():
    time = pd.date_range("2024-01-01", periods=9, freq="W-MON")
    lab = label(time, splits=2, step=2, horizon=2, holdout=1, min_train=3)
    # tune_stop 8; test windows [4, 6) and [6, 8); train before them; position 8 the holdout
    roles = lab["role"].values.tolist()
    assert roles[0] == ["train"] * 4 + ["test"] * 2 + ["unused"] * 2 + ["holdout"]
    assert roles[1] == ["train"] * 6 + ["test"] * 2 + ["holdout"]
    assert lab["role"].dims == ("split", "time")
    assert lab["train_stop"].values.tolist() == [4, 6]
    assert lab["test_stop"].values.tolist() == [6, 8]
    assert list(lab["cutoff"].values) == [time[3], time[5]]
    assert lab.attrs == {"horizon": 2, "step": 2, "holdout": 1, "holdout_start": 8}
    assert required_history(2, 2, 2, 1, 3) == 3 + 2 + 2 + 1
    with pytest.raises(DataError) as err:
        label(time, splits=2, step=2, horizon=2, holdout=1, min_train=5)
    assert str(err.value) == (
        "history too short for the CV design: 9 periods, need at least 10 "
        "(min_train 5 + horizon 2 + 1 x step 2 + holdout 1)"
    )


def test_label_defaults_no_holdout_and_one_training_period():
    """Without holdout and min_train: no holdout, and one period of training is enough."""
    time = pd.date_range("2024-01-01", periods=5, freq="W-MON")
    lab = label(time, splits=2, step=1, horizon=3)
    assert lab["role"].values.tolist() == [
        ["train", "test", "test", "test", "unused"],
        ["train", "train", "test", "test", "test"],
    ]
    assert lab.attrs["holdout"] == 0 and lab.attrs["holdout_start"] == 5
    # the split index is a coordinate of the split dimension, no other dimension appears
    assert dict(lab.sizes) == {"split": 2, "time": 5} and "split" in lab.indexes
    # a DataArray of times gives the same labels
    da = xr.DataArray(time, dims="time")
    assert (
        label(da, splits=2, step=1, horizon=3)["role"].values.tolist()
        == lab["role"].values.tolist()
    )
