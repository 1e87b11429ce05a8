"""Resume that checks what it resumes (issue 17 item 7): a broken tuning cube says --fresh."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from fcast.core.label import label
from fcast.core.space import parse_space
from fcast.core.tune import tune
from fcast.core.tune.regions import template
from fcast.errors import StoreError
from fcast.infra.lock import run_lock_name, store_lock
from fcast.infra.store import Store, check_resumable

SPACE = {"families": {"seasonal_naive": {}, "theta": {"variant": ["standard"]}}}
H, MIN_TRAIN = 8, 40


@pytest.fixture(scope="module")
def setup(small_cube):
    lab = label(small_cube.time, splits=2, step=8, horizon=H, holdout=8, min_train=MIN_TRAIN)
    return small_cube["y"], lab, parse_space(SPACE, "W-MON")


def run_tune(setup, path: Path) -> None:
    y, lab, hp = setup
    tune(
        y,
        lab,
        hp,
        str(path),
        horizon=H,
        season_length=52,
        min_train=MIN_TRAIN,
        block_markets=2,
        block_hps=1,
        progress=False,
    )


@pytest.fixture(scope="module")
def done_cube(setup, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cube") / "tuning.zarr"
    run_tune(setup, path)
    return path


@pytest.fixture
def cube(done_cube, tmp_path) -> Path:
    """A fresh copy of a finished 2x2-block tuning cube."""
    path = tmp_path / "store" / "runs" / "tuning-a" / "tuning.zarr"
    shutil.copytree(done_cube, path)
    return path


def test_a_sound_cube_or_none_at_all_is_resumable(cube, tmp_path):
    assert check_resumable(str(tmp_path / "nothing.zarr")) is None
    assert check_resumable(str(cube)) is None
    (cube / ".blocks" / "1-1.json").unlink()  # an unfinished block is redone, not a problem
    (cube / "yhat" / "1.0.1.0").write_bytes(b"half a chunk")
    assert check_resumable(str(cube)) is None


def test_a_template_without_a_cube_says_fresh(cube):
    for entry in cube.iterdir():  # what two runs sharing one id left: only .blocks/_template
        if entry.name != ".blocks":
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for marker in (cube / ".blocks").glob("*.json"):
        marker.unlink()
    problem = check_resumable(str(cube))
    assert problem and "Zarr metadata cannot be read" in problem
    assert problem.endswith("rerun with --fresh to start it over") and str(cube) in problem


def test_a_corrupt_marker_says_fresh(cube):
    (cube / ".blocks" / "0-1.json").write_text('{"block": "0-1", "fi')
    assert "block marker .blocks/0-1.json is corrupt" in check_resumable(str(cube))


def test_a_corrupt_chunk_behind_a_marker_says_fresh(cube):
    (cube / "error" / "0.0.1.0").write_bytes(b"\x00garbage" * 8)
    problem = check_resumable(str(cube))
    assert "chunk 0.0.1.0 of error cannot be read" in problem and "--fresh" in problem


def test_a_marker_without_results_says_fresh(cube):
    for var in ("yhat", "error"):
        (cube / var / "1.0.0.0").unlink()
    assert "block 1-0 has a marker but its results were never written" in check_resumable(str(cube))


def test_a_cube_started_for_another_space_says_fresh(cube, setup):
    y, lab, _ = setup
    other = parse_space({"families": {"seasonal_naive": {}}}, "W-MON")
    y_tune = y.isel(time=slice(0, int(lab.attrs["holdout_start"])))
    expected = template(y_tune, lab, other, H, "mase", 52, MIN_TRAIN, 2, 1)
    assert "started for another cube" in check_resumable(str(cube), expected)
    y_tune2 = y.isel(time=slice(0, int(lab.attrs["holdout_start"])))
    same = template(y_tune2, lab, setup[2], H, "mase", 52, MIN_TRAIN, 2, 1)
    assert check_resumable(str(cube), same) is None


def _running(store: Store, run_id: str) -> None:
    store.write_json(
        {
            "run_id": run_id,
            "kind": "tuning",
            "status": "running",
            "fingerprint": "fp",
            "input_hash": "h",
            "scope": ["*"],
        },
        "runs",
        run_id,
        "manifest.json",
    )


def test_resumable_refuses_a_broken_run_with_the_fresh_hint(cube):
    store = Store(str(cube.parents[2]))
    _running(store, "tuning-a")
    assert store.resumable("tuning", "fp", "h", ["*"]) == "tuning-a"
    (cube / ".zmetadata").write_text("{not json")
    (cube / ".zgroup").unlink()
    with pytest.raises(
        StoreError, match=r"tuning run tuning-a: cannot resume .*rerun with --fresh"
    ):
        store.resumable("tuning", "fp", "h", ["*"])


def test_resumable_skips_a_run_a_live_job_holds(cube):
    store = Store(str(cube.parents[2]))
    _running(store, "tuning-a")
    with store_lock(store, run_lock_name("tuning-a"), owner="the first job"):
        assert store.resumable("tuning", "fp", "h", ["*"]) is None
    assert store.resumable("tuning", "fp", "h", ["*"]) == "tuning-a"
    assert json.loads((cube / ".blocks" / "0-0.json").read_text())["block"] == "0-0"


def test_a_halving_cube_is_checked_too(setup, tmp_path):
    from fcast.core.tune.halving import halving

    y, lab, hp = setup
    path = tmp_path / "halving.zarr"
    halving(
        y, lab, hp, str(path), keep=0.5, horizon=H, season_length=52, min_train=MIN_TRAIN,
        block_markets=2, progress=False,
    )  # fmt: skip
    assert check_resumable(str(path)) is None
    markers = sorted((path / ".halving").rglob("*.json"))
    assert markers and all(m.parent.name.isdigit() for m in markers)
    (path / "yhat" / "1.0.0.0").write_bytes(b"\x00garbage" * 8)  # behind the marker of m0=2
    assert "chunk 1.0.0.0 of yhat cannot be read" in check_resumable(str(path))
    (path / "yhat" / "1.0.0.0").unlink()
    markers[0].write_text("{")
    assert "is corrupt" in check_resumable(str(path))
