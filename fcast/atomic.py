"""Atomic writes through fsspec: write aside under a unique name, then move into place.

A reader sees a file whole or not at all. `is_aside` tells the temporary names apart so
nothing ever mistakes a half-written file for a finished one. Creating a name exclusively
(`create_exclusive`) is how run ids, vintage names and locks are claimed.
"""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import fsspec

ASIDE = ".tmp-"  #: infix of every file written aside


def aside_name(target: str) -> str:
    """A unique temporary name next to `target`."""
    head, _, tail = target.rpartition("/")
    return (
        f"{head}/{ASIDE}{uuid.uuid4().hex[:12]}-{tail}"
        if head
        else f"{ASIDE}{uuid.uuid4().hex[:12]}-{tail}"
    )


def is_aside(name: str) -> bool:
    """Whether a file name (or path) is a temporary written-aside file."""
    base = name.rsplit("/", 1)[-1]
    return base.startswith(ASIDE) or ".tmp" in base


def _is_local(fs: fsspec.AbstractFileSystem) -> bool:
    """Whether `fs` is the local filesystem."""
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols


def write_in(fs: fsspec.AbstractFileSystem, target: str, data: bytes) -> None:
    """Write `data` to path `target` of `fs` atomically (aside, then moved into place)."""
    parent = target.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)
    tmp = aside_name(target)
    try:
        fs.pipe_file(tmp, data)
        fs.mv(tmp, target)
    finally:
        if fs.exists(tmp):
            fs.rm(tmp)


def write_bytes(url: str, data: bytes) -> str:
    """Write `data` to `url` atomically; return `url`."""
    fs, target = fsspec.core.url_to_fs(url)
    write_in(fs, target, data)
    return url


def write_json(url: str, obj: Any) -> str:
    """Write JSON to `url` atomically."""
    return write_bytes(url, json.dumps(obj, indent=2, default=str).encode())


def _create_local(target: str, data: bytes) -> bool:
    """Write aside, then hard-link into place: the name appears whole or not at all, once."""
    tmp = aside_name(target)
    with open(tmp, "wb") as fh:
        fh.write(data)
    try:
        os.link(tmp, target)
    except FileExistsError:
        return False
    except OSError:  # a filesystem without hard links: O_EXCL, the content follows
        return _create_excl(target, data)
    finally:
        os.unlink(tmp)
    return True


def _create_excl(target: str, data: bytes) -> bool:
    """Create `target` with O_EXCL and write `data` into it."""
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return True


def create_in(fs: fsspec.AbstractFileSystem, target: str, data: bytes = b"") -> bool:
    """Create path `target` of `fs` only if nothing is there; True if this call created it."""
    parent = target.rsplit("/", 1)[0]
    if parent:
        fs.makedirs(parent, exist_ok=True)
    if _is_local(fs):
        return _create_local(target, data)
    try:
        with fs.open(target, "xb") as fh:
            fh.write(data)
    except FileExistsError:
        return False
    return True


def create_exclusive(url: str, data: bytes = b"") -> bool:
    """Create `url` only if nothing is there; True if this call created it.

    Local folders write aside and hard-link into place (atomic and whole: a reader never sees
    an empty claim; O_EXCL where hard links are not supported); other filesystems use the
    fsspec `mode="xb"` where the backend supports it (gcsfs, s3fs with conditional writes).
    """
    fs, target = fsspec.core.url_to_fs(url)
    return create_in(fs, target, data)
