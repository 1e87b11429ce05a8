"""Resume law: after a crash that left any subset of blocks finished, the rerun gives the same cube."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from fcast.core.label import label
from fcast.core.space import parse_space
from fcast.core.tune import tune

SPACE = {
    "preprocess": {"log": [False, True]},
    "families": {"ets": {"spec": ["ANN"]}, "seasonal_naive": {}},
}
BLOCKS = [f"{m}-{h}" for m in range(2) for h in range(2)]  # 2 markets x 4 hps in 1 x 2 blocks


def run(cube, lab, hp, path):
    return tune(
        cube["y"],
        lab,
        hp,
        str(path),
        horizon=8,
        metric="mae",
        season_length=52,
        min_train=40,
        block_markets=1,
        block_hps=2,
        progress=False,
    )


@pytest.fixture(scope="module")
def reference(small_cube, tmp_path_factory):
    cube = small_cube.sel(market=["DK", "SE"])
    lab = label(cube.time, splits=2, step=8, horizon=8, holdout=0, min_train=40)
    hp = parse_space(SPACE, "W-MON")
    path = tmp_path_factory.mktemp("ref") / "ref.zarr"
    full, reports = run(cube, lab, hp, path)
    assert sorted(r.block for r in reports) == BLOCKS
    return cube, lab, hp, path, full.load()


@settings(max_examples=6, deadline=None)
@given(finished=st.sets(st.sampled_from(BLOCKS)))
def test_resume_after_any_subset_of_finished_blocks_gives_the_same_cube(reference, finished):
    cube, lab, hp, ref_path, full = reference
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "r.zarr"
        shutil.copytree(ref_path, path)
        lost = sorted(set(BLOCKS) - finished)
        for name in lost:  # crash: no marker, region never written
            (path / ".blocks" / f"{name}.json").unlink()
            m, h = (int(i) for i in name.split("-"))
            region = {"market": slice(m, m + 1), "hp": slice(2 * h, 2 * h + 2)}
            ds = xr.open_zarr(path)
            blank = {
                v: xr.full_like(ds[v].isel(region), np.nan).load().drop_vars(list(ds[v].coords))
                for v in ("yhat", "error")
            }
            xr.Dataset(blank).to_zarr(path, region=region, zarr_format=2)
        resumed, again = run(cube, lab, hp, path)
        assert sorted(r.block for r in again) == lost  # exactly the unfinished blocks are redone
        xr.testing.assert_identical(resumed.load(), full)
