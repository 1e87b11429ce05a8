"""The store: one root URL (fsspec) holding runs, the latest tuned selection and official vintages.

Layout::

    <root>/runs/<run_id>/manifest.json, tuning.zarr, selection.parquet, forecast.parquet, ...
    <root>/latest/tuning.json      pointer to the latest complete tuning run
    <root>/official/<vintage>/     immutable published forecasts (publish issue)

Small files are written atomically: to a temporary name beside the target, then moved,
so a reader never sees half a file.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import fsspec
import pandas as pd

from fcast.atomic import create_in, write_in
from fcast.errors import StoreError
from fcast.names import check_name, is_name
from fcast.redact import redact

if TYPE_CHECKING:
    import xarray as xr

FIX = "restore it, or rerun the job that wrote it"
CLAIM = "_CLAIM.json"  #: created exclusively in a new run folder: the run id is this process's
_CONTROL = {chr(c) for c in range(32)} | {chr(127)}


def utcnow() -> str:
    """The current UTC time as ISO text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _short(exc: BaseException) -> str:
    """An exception as one short line."""
    text = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).strip()
    return redact(text.splitlines()[0][:200]) if text else type(exc).__name__


def check_parts(parts: Sequence[str]) -> None:
    """A StoreError when a path part would leave its folder: empty, '.', '..', '\\' or control characters."""
    for part in parts:
        segments = str(part).split("/")
        if (
            not isinstance(part, str)
            or any(seg in ("", ".", "..") for seg in segments)
            or "\\" in part
            or _CONTROL & set(part)
        ):
            raise StoreError(f"invalid store path part {part!r}: it must stay inside the store")


class Store:
    """Access to a store root through fsspec."""

    def __init__(self, root: str) -> None:
        self.url = str(root).rstrip("/")
        self.label = redact(self.url)  #: the URL as messages show it (credentials masked)
        self.fs, self.root = fsspec.core.url_to_fs(self.url)
        if _is_file(self.fs, self.root):
            raise StoreError(
                f"store {self.label} is a file; the store must be a folder (or a bucket prefix)"
            )

    def path(self, *parts: str) -> str:
        """A URL under the root (usable by fsspec, pandas and xarray)."""
        check_parts(parts)
        return "/".join([self.url, *parts])

    def _local(self, *parts: str) -> str:
        check_parts(parts)
        return "/".join([self.root, *parts])

    @contextmanager
    def _io(self, doing: str, *parts: str) -> Iterator[None]:
        """Turn a filesystem error while `doing` something to a file into a StoreError naming it."""
        try:
            yield
        except OSError as exc:
            raise StoreError(
                f"cannot {doing} {'/'.join(parts)} in store {self.label}: {_short(exc)}"
                + ("; check that the store is writable" if doing != "read" else "")
            ) from None

    def exists(self, *parts: str) -> bool:
        """Whether a file or folder exists under the root."""
        return self.fs.exists(self._local(*parts))

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write bytes atomically (temporary name, then move)."""
        with self._io("write", *parts):
            write_in(self.fs, self._local(*parts), data)
        return self.path(*parts)

    def write_json(self, obj: Any, *parts: str) -> str:
        """Write JSON atomically."""
        return self.write_bytes(json.dumps(obj, indent=2, default=str).encode(), *parts)

    def read_json(self, *parts: str, fix: str = FIX) -> Any:
        """Read a JSON file; a missing or corrupt file is a StoreError naming it (and `fix`)."""
        with self._io("read", *parts):
            raw = self.fs.cat_file(self._local(*parts))
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise StoreError(self._corrupt(parts, exc, fix)) from None

    def _corrupt(self, parts: Sequence[str], exc: BaseException, fix: str) -> str:
        """The message for a file that exists but cannot be parsed."""
        return f"{'/'.join(parts)} in store {self.label} is corrupt ({_short(exc)}); {fix}"

    def write_parquet(self, df: pd.DataFrame, *parts: str, block_markets: int | None = None) -> str:
        """Write a table as Parquet atomically; with `block_markets`, one row group per block of markets."""
        if block_markets is not None:
            from fcast.data.blockwise import market_row_groups

            return self.write_bytes(market_row_groups(df, block_markets), *parts)
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return self.write_bytes(buf.getvalue(), *parts)

    def read_parquet(
        self, *parts: str, columns: Sequence[str] = (), fix: str = FIX
    ) -> pd.DataFrame:
        """Read a Parquet table; missing, corrupt, or without `columns`: a StoreError naming it."""
        with self._io("read", *parts):
            raw = self.fs.cat_file(self._local(*parts))
        try:
            df = pd.read_parquet(io.BytesIO(raw))
        except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad bytes
            raise StoreError(self._corrupt(parts, exc, fix)) from None
        missing = [c for c in columns if c not in df.columns]
        if missing:
            problem = ValueError(f"no column(s) {', '.join(missing)}")
            raise StoreError(self._corrupt(parts, problem, fix))
        return df

    def write_text(self, text: str, *parts: str) -> str:
        """Write a text file atomically."""
        return self.write_bytes(text.encode(), *parts)

    # --- runs -------------------------------------------------------------------------

    def new_run_id(self, kind: str, fingerprint: str, attempts: int = 20) -> str:
        """A new run id <kind>-<UTC time>-<config hash>-<ms><random>, its folder claimed exclusively.

        Ids sort by start time to the millisecond; the random part makes two at once distinct.
        """
        now = _clock()
        stamp = f"{now:%Y%m%dT%H%M%S}-{fingerprint[:6]}-{now.microsecond // 1000:03d}"
        claim = json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "created": utcnow()})
        for _ in range(attempts):
            run_id = check_name("run id", f"{kind}-{stamp}{_suffix()}")
            with self._io("create", "runs", run_id, CLAIM):
                if create_in(self.fs, self._local("runs", run_id, CLAIM), claim.encode()):
                    return run_id
        raise StoreError(
            f"could not create a unique run id in store {self.label} in {attempts} tries"
        )

    def run_url(self, run_id: str, *parts: str) -> str:
        """URL of a run folder or a file in it (the run id checked by the name rule)."""
        return self.path("runs", check_name("run id", run_id), *parts)

    def runs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Manifests of all runs (optionally of one kind), oldest first; unreadable ones are skipped, warned."""
        base = self._local("runs")
        if not self.fs.exists(base):
            return []
        out = []
        for p in sorted(self.fs.ls(base, detail=False)):
            run_id = p.rstrip("/").rsplit("/", 1)[-1]
            if not is_name(run_id) or not self.exists("runs", run_id, "manifest.json"):
                continue
            try:
                manifest = self.read_json("runs", run_id, "manifest.json")
            except StoreError as exc:
                print(f"warning: run ignored: {exc}", file=sys.stderr)
                continue
            if isinstance(manifest, dict) and (kind is None or manifest.get("kind") == kind):
                out.append(manifest)
        return sorted(out, key=lambda m: (m.get("started") or "", m.get("run_id", "")))

    def resumable(
        self, kind: str, fingerprint: str, input_hash: str, scope: list[str]
    ) -> str | None:
        """The newest unfinished run with the same config, input and markets that no live job holds.

        Its tuning cube is checked first (`check_resumable`): one that cannot be resumed is a
        StoreError saying to rerun with --fresh.
        """
        from fcast.infra.lock import lock_holder, run_lock_name

        for manifest in reversed(self.runs(kind)):
            run_id = manifest.get("run_id")
            if not (
                is_name(run_id)
                and manifest.get("status") != "complete"
                and manifest.get("fingerprint") == fingerprint
                and manifest.get("input_hash") == input_hash
                and manifest.get("scope") == scope
            ):
                continue
            if lock_holder(self, run_lock_name(run_id)) is not None:
                continue  # a live job is running it
            problem = check_resumable(self.run_url(run_id, "tuning.zarr"))
            if problem:
                raise StoreError(f"{kind} run {run_id}: {problem}")
            return run_id
        return None

    def set_latest(self, kind: str, run_id: str) -> None:
        """Point `latest/<kind>.json` at a complete run."""
        check_name("run id", run_id)
        self.write_json({"run_id": run_id, "updated": utcnow()}, "latest", f"{kind}.json")

    def latest(self, kind: str) -> str:
        """The run id of the latest complete run of a kind; missing or corrupt: a clear error."""
        if not self.exists("latest", f"{kind}.json"):
            raise StoreError(
                f"no {kind} run in store {self.label}: run `fcast run {kind} -c CONFIG` first"
            )
        fix = f"rerun `fcast run {kind} -c CONFIG`, or restore it"
        pointer = self.read_json("latest", f"{kind}.json", fix=fix)
        run_id = pointer.get("run_id") if isinstance(pointer, dict) else None
        if not is_name(run_id):
            raise StoreError(
                f"latest/{kind}.json in store {self.label} is corrupt (no valid run_id: {run_id!r}); {fix}"
            )
        return run_id


def _is_file(fs: fsspec.AbstractFileSystem, path: str) -> bool:
    """Whether `path` is a file; False when that cannot be told (the first real access reports why)."""
    try:
        return bool(fs.isfile(path))
    except Exception:  # noqa: BLE001 - remote filesystems raise their own auth and network errors
        return False


def _clock() -> datetime:
    """The current UTC time (run ids)."""
    return datetime.now(UTC)


def _suffix() -> str:
    """The random part of a run id."""
    return secrets.token_hex(2)


# --- resuming a tuning cube -------------------------------------------------------------------

MARKER_DIRS = (".blocks", ".halving")  #: grid and halving tuning: `<dir>/_template` + markers
CUBE_VARS = ("yhat", "error", "status")


def check_resumable(path: str, expected: xr.Dataset | None = None) -> str | None:
    """The error message when the tuning cube at `path` cannot be resumed (it ends: rerun with --fresh), or None.

    None when tuning has not started there (no `_template`) or the cube is sound. Checked: the
    Zarr metadata opens with the cube variables; with `expected` (the template tuning would
    write) the same sizes, coords and attrs; every block marker is whole JSON; y_test, scale
    and every chunk of a block with a marker decode; every grid block with a marker has data.
    """
    fs, root = fsspec.core.url_to_fs(path)
    dirs = [d for d in MARKER_DIRS if fs.exists(f"{root}/{d}/_template")]
    if not dirs:
        return None
    problem = _cube_problem(fs, root, dirs, path, expected)
    if problem is None:
        return None
    return f"cannot resume the tuning in {path}: {problem}; rerun with --fresh to start it over"


def _cube_problem(
    fs: fsspec.AbstractFileSystem,
    root: str,
    dirs: list[str],
    path: str,
    expected: xr.Dataset | None,
) -> str | None:
    """What is wrong with a started tuning cube, or None."""
    import xarray as xr

    try:
        ds = xr.open_zarr(path, consolidated=True)
    except Exception as exc:  # noqa: BLE001 - zarr and xarray raise many types for a broken store
        return f"it has a block template but its Zarr metadata cannot be read ({_short(exc)})"
    missing = [v for v in CUBE_VARS if v not in ds.data_vars]
    if missing:
        return f"it lacks the variable(s) {', '.join(missing)}"
    return (
        (expected is not None and _mismatch(ds, expected))
        or _bad_marker(fs, root, dirs)
        or _bad_chunk(ds, _marked_chunks(fs, root, dirs, ds))
        or (".blocks" in dirs and _missing_block(fs, root, ds))
        or None
    )


def _mismatch(ds: xr.Dataset, expected: xr.Dataset) -> str | None:
    """How a stored cube differs from the one expected (dims, coords, attrs), or None."""
    if dict(ds.sizes) != dict(expected.sizes):
        return f"it was started for another cube (sizes {dict(ds.sizes)}, expected {dict(expected.sizes)})"
    for name in expected.coords:
        if name not in ds.coords or not ds[name].variable.equals(expected[name].variable):
            return f"it was started for another cube (coordinate {name!r} differs)"
    for key, value in expected.attrs.items():
        if ds.attrs.get(key) != value:
            return f"it was started with {key}={ds.attrs.get(key)!r}, expected {value!r}"
    return None


def _bad_marker(fs: fsspec.AbstractFileSystem, root: str, dirs: list[str]) -> str | None:
    """The first block marker that is not a whole JSON object, or None."""
    from fcast.atomic import is_aside

    for d in dirs:
        for name in sorted(fs.find(f"{root}/{d}")):
            if is_aside(name) or not name.endswith(".json"):
                continue
            try:
                ok = isinstance(json.loads(fs.cat_file(name)), dict)
            except (OSError, ValueError):
                ok = False
            if not ok:
                return f"block marker {name[len(root) + 1 :]} is corrupt"
    return None


def _marked_chunks(
    fs: fsspec.AbstractFileSystem, root: str, dirs: list[str], ds: xr.Dataset
) -> list[tuple[int, int]]:
    """(market chunk, hp chunk) of every block a marker says is done (grid `i-j`, halving `<r>/<m0>`)."""
    found = set()
    size = ds["status"].data.chunks[0][0]
    for d in dirs:
        for name in fs.find(f"{root}/{d}"):
            rel = name[len(f"{root}/{d}/") :].removesuffix(".json")
            if not name.endswith(".json"):
                continue
            if d == ".blocks" and re.fullmatch(r"\d+-\d+", rel):
                i, j = rel.split("-")
                found.add((int(i), int(j)))
            elif d == ".halving" and re.fullmatch(r"\d+/\d+", rel):
                found.add((int(rel.split("/")[1]) // size, 0))
    return sorted(found)


def _bad_chunk(ds: xr.Dataset, blocks: list[tuple[int, int]]) -> str | None:
    """The first unreadable chunk: of y_test and scale, or of a cube variable in a done block, or None."""
    for var in ("y_test", "scale"):
        if var in ds and (problem := _read(ds, var, None)):
            return problem
    for i, j in blocks:
        for var in CUBE_VARS:
            index = (i, 0, j, 0)[: ds[var].ndim]
            if any(k >= n for k, n in zip(index, ds[var].data.numblocks, strict=True)):
                return f"block marker {i}-{j} is outside the cube"
            if problem := _read(ds, var, index):
                return problem
    return None


def _read(ds: xr.Dataset, var: str, index: tuple[int, ...] | None) -> str | None:
    """Why one chunk (or all of `var` when index is None) cannot be read and decoded, or None."""
    data = ds[var].data
    try:
        (data if index is None else data.blocks[index]).compute(scheduler="synchronous")
    except Exception as exc:  # noqa: BLE001 - codecs raise many types for bad bytes
        where = "" if index is None else f"chunk {'.'.join(map(str, index))} of "
        return f"{where}{var} cannot be read ({_short(exc)})"
    return None


def _missing_block(fs: fsspec.AbstractFileSystem, root: str, ds: xr.Dataset) -> str | None:
    """The first grid block with a marker whose results were never written, or None.

    An unwritten chunk reads as its fill value: status -1, or 0 (fitted) where the cube has no
    fill value, with every forecast NaN; a written block of fits that all returned NaN is the
    one false alarm, and it is not a block any real space produces.
    """
    import numpy as np

    for i, j in _marked_chunks(fs, root, [".blocks"], ds):
        status = ds["status"].data.blocks[i, 0, j].compute(scheduler="synchronous")
        yhat = ds["yhat"].data.blocks[i, 0, j, 0].compute(scheduler="synchronous")
        if (status == -1).any() or ((status == 0).all() and np.isnan(yhat).all()):
            return f"block {i}-{j} has a marker but its results were never written"
    return None
