"""The tuning cube in Zarr: its layout, region writes with markers, and resume.

`create_cube` writes the cube's metadata (lazy, block-chunked placeholders) once; each block
then writes its region and, after it, a small marker (through `fcast.atomic`, so a marker is
whole or absent). A rerun skips the blocks whose marker exists (`done_blocks`, which ignores
files written aside), so an interrupted tuning resumes instead of starting over. Grid blocks
mark ``.blocks/<i>-<j>.json``; halving rounds mark ``.halving/<round>/<first market>.json``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import dask.array as da
import fsspec
import numpy as np
import xarray as xr

from fcast.atomic import is_aside, write_bytes, write_json
from fcast.contract import FAILED, NOT_RUN, OK, SKIPPED, ZARR_FORMAT
from fcast.core.metrics import mase_scale
from fcast.core.series import first_observed
from fcast.core.tune.plan import BlockKey

DIMS4, DIMS3 = ("market", "split", "hp", "step"), ("market", "split", "hp")


def template(
    y_tune: xr.DataArray,
    labels: xr.Dataset,
    hp: xr.Dataset,
    horizon: int,
    metric: str,
    season_length: int,
    min_train: int,
    block_markets: int,
    block_hps: int,
) -> xr.Dataset:
    """The full tuning cube with lazy, block-chunked placeholders and eager y_test and scale."""
    train_stop = labels["train_stop"].values
    y = y_tune.values
    first = first_observed(y)
    n_m, n_s, n_h = y.shape[0], len(train_stop), hp.sizes["hp"]
    y_test = np.full((n_m, n_s, horizon), np.nan)
    scale = np.full((n_m, n_s), np.nan)
    for mi in range(n_m):
        for si, stop in enumerate(train_stop):
            if stop - first[mi] >= min_train:
                y_test[mi, si] = y[mi, stop : stop + horizon]
                scale[mi, si] = mase_scale(y[mi, first[mi] : stop], season_length)
    chunks4 = (block_markets, n_s, block_hps, horizon)
    ds = xr.Dataset(
        {
            "yhat": (DIMS4, da.full((n_m, n_s, n_h, horizon), np.nan, chunks=chunks4)),
            "error": (DIMS4, da.full((n_m, n_s, n_h, horizon), np.nan, chunks=chunks4)),
            # eager (small: int8 per cell) so NOT_RUN is on disk before any block: a lazy one is
            # never written and its unwritten chunks would read as zarr's fill value 0 (OK)
            "status": (DIMS3, np.full((n_m, n_s, n_h), NOT_RUN, dtype="int8")),
            "y_test": (("market", "split", "step"), y_test),
            "scale": (("market", "split"), scale),
        },
        coords={
            "market": y_tune["market"].values,
            "split": labels["split"].values,
            "step": np.arange(1, horizon + 1),
            "cutoff": ("split", labels["cutoff"].values),
            "train_stop": ("split", train_stop),
        },
        attrs={
            "metric": metric,
            "season_length": season_length,
            "horizon": horizon,
            "min_train": min_train,
        },
    )
    ds["status"].encoding["chunks"] = chunks4[:3]  # one chunk per block: regions never share one
    if "origin" in y_tune.coords:  # right-aligned markets (`fcast.core.series.right_align`)
        ds = ds.assign_coords(origin=("market", y_tune["origin"].values))
    return ds.assign_coords(hp.coords)


def _exists(url: str) -> bool:
    fs, target = fsspec.core.url_to_fs(url)
    return fs.exists(target)


def create_cube(path: str, markers: str, build: Callable[[], xr.Dataset]) -> xr.Dataset:
    """The cube at `path`, its metadata written from `build()` unless `<markers>/_template` says it is there.

    The template marker is written last, so a half-written template is redone.
    """
    if not _exists(f"{path}/{markers}/_template"):
        build().to_zarr(path, mode="w", compute=False, zarr_format=ZARR_FORMAT, consolidated=True)
        write_bytes(f"{path}/{markers}/_template", b"ok")
    return xr.open_zarr(path, consolidated=True)


def write_region(path: str, out: dict[str, np.ndarray], region: dict[str, slice]) -> None:
    """Write a block's yhat, error and status into their region of the cube."""
    block = xr.Dataset(
        {
            "yhat": (DIMS4, out["yhat"]),
            "error": (DIMS4, out["error"]),
            "status": (DIMS3, out["status"]),
        }
    )
    block.to_zarr(path, region=region, zarr_format=ZARR_FORMAT)


def done_blocks(folder: str) -> set[str]:
    """Names of the blocks marked done in a marker folder (files written aside do not count)."""
    fs, root = fsspec.core.url_to_fs(folder)
    if not fs.exists(root):
        return set()
    names = (p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))
    return {n.removesuffix(".json") for n in names if n.endswith(".json") and not is_aside(n)}


def _read_json(url: str) -> dict:
    with fsspec.open(url, "r") as fh:
        return json.load(fh)


# --- the grid: block (i, j) of markets x hps, every split -------------------------------------


@dataclass(frozen=True)
class BlockReport:
    """What one grid block did."""

    block: str
    fits: int
    failed: int
    skipped: int
    seconds: float
    timed_out: bool = False


def block_marker(path: str, key: BlockKey) -> str:
    """Where a grid block's marker lives."""
    return f"{path}/.blocks/{key.name}.json"


def write_block(
    path: str, key: BlockKey, out: dict[str, np.ndarray], t0: float, timed_out: bool = False
) -> BlockReport:
    """Write a grid block's region of the cube, then its marker; return its report."""
    write_region(path, out, {"market": slice(key.m0, key.m1), "hp": slice(key.h0, key.h1)})
    st = out["status"]
    report = BlockReport(
        key.name,
        fits=int(st.size - (st == SKIPPED).sum()),
        failed=int((st == FAILED).sum()),
        skipped=int((st == SKIPPED).sum()),
        seconds=round(time.perf_counter() - t0, 4),
        timed_out=timed_out,
    )
    write_json(block_marker(path, key), asdict(report))
    return report


def read_report(path: str, key: BlockKey) -> BlockReport:
    """The report a grid block wrote into its marker."""
    return BlockReport(**_read_json(block_marker(path, key)))


# --- halving: one split of a block of markets, each with its own hps ---------------------------


@dataclass(frozen=True)
class RoundKey:
    """Block of markets [m0, m1) in halving round `round`, which evaluates split `split`."""

    round: int
    split: int
    m0: int
    m1: int

    @property
    def name(self) -> str:
        """The block's name within its round: its first market's index."""
        return str(self.m0)


@dataclass(frozen=True)
class RoundReport:
    """What one block of one halving round did."""

    round: int
    split: int
    block: str
    fits: int
    failed: int
    seconds: float
    timed_out: bool = False


def round_markers(path: str, r: int) -> str:
    """The marker folder of halving round `r`."""
    return f"{path}/.halving/{r}"


def write_round(
    path: str, n_hps: int, key: RoundKey, out: dict[str, np.ndarray], t0: float, timed_out: bool
) -> RoundReport:
    """Write a halving block into split `key.split` of the cube, then its marker; return its report."""
    region = {
        "market": slice(key.m0, key.m1),
        "split": slice(key.split, key.split + 1),
        "hp": slice(0, n_hps),
    }
    write_region(path, out, region)
    st = out["status"]
    rep = RoundReport(
        key.round,
        key.split,
        key.name,
        int(((st == OK) | (st == FAILED)).sum()),
        int((st == FAILED).sum()),
        round(time.perf_counter() - t0, 4),
        timed_out,
    )
    write_json(f"{round_markers(path, key.round)}/{key.name}.json", asdict(rep))
    return rep


def read_round(path: str, key: RoundKey) -> RoundReport:
    """The report a halving block wrote into its marker."""
    return RoundReport(**_read_json(f"{round_markers(path, key.round)}/{key.name}.json"))
