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
import uuid
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd

from fcast.errors import StoreError


def utcnow() -> str:
    """The current UTC time as ISO text."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Store:
    """Access to a store root through fsspec."""

    def __init__(self, root: str) -> None:
        self.url = root.rstrip("/")
        self.fs, self.root = fsspec.core.url_to_fs(self.url)

    def path(self, *parts: str) -> str:
        """A URL under the root (usable by fsspec, pandas and xarray)."""
        return "/".join([self.url, *parts])

    def _local(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def exists(self, *parts: str) -> bool:
        """Whether a file or folder exists under the root."""
        return self.fs.exists(self._local(*parts))

    def write_bytes(self, data: bytes, *parts: str) -> str:
        """Write bytes atomically (temporary name, then move)."""
        target = self._local(*parts)
        tmp = f"{target}.tmp-{uuid.uuid4().hex[:8]}"
        self.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(tmp, "wb") as fh:
            fh.write(data)
        self.fs.mv(tmp, target)
        return self.path(*parts)

    def write_json(self, obj: Any, *parts: str) -> str:
        """Write JSON atomically."""
        return self.write_bytes(json.dumps(obj, indent=2, default=str).encode(), *parts)

    def read_json(self, *parts: str) -> Any:
        """Read a JSON file."""
        with self.fs.open(self._local(*parts), "r") as fh:
            return json.load(fh)

    def write_parquet(self, df: pd.DataFrame, *parts: str) -> str:
        """Write a table as Parquet atomically."""
        buf = io.BytesIO()
        df.to_parquet(buf, index=False)
        return self.write_bytes(buf.getvalue(), *parts)

    def read_parquet(self, *parts: str) -> pd.DataFrame:
        """Read a Parquet table."""
        with self.fs.open(self._local(*parts), "rb") as fh:
            return pd.read_parquet(fh)

    def write_text(self, text: str, *parts: str) -> str:
        """Write a text file atomically."""
        return self.write_bytes(text.encode(), *parts)

    # --- runs -------------------------------------------------------------------------

    def new_run_id(self, kind: str, fingerprint: str) -> str:
        """A sortable, unique run id: <kind>-<UTC timestamp>-<config hash>."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        run_id = f"{kind}-{stamp}-{fingerprint[:6]}"
        n = 1
        while self.exists("runs", run_id):
            n += 1
            run_id = f"{kind}-{stamp}-{fingerprint[:6]}-{n:03d}"
        return run_id

    def run_url(self, run_id: str, *parts: str) -> str:
        """URL of a run folder or a file in it."""
        return self.path("runs", run_id, *parts)

    def runs(self, kind: str | None = None) -> list[dict[str, Any]]:
        """Manifests of all runs (optionally of one kind), oldest first."""
        base = self._local("runs")
        if not self.fs.exists(base):
            return []
        out = []
        for p in sorted(self.fs.ls(base, detail=False)):
            run_id = p.rstrip("/").rsplit("/", 1)[-1]
            if not self.exists("runs", run_id, "manifest.json"):
                continue
            manifest = self.read_json("runs", run_id, "manifest.json")
            if kind is None or manifest.get("kind") == kind:
                out.append(manifest)
        return sorted(out, key=lambda m: (m.get("started") or "", m.get("run_id", "")))

    def resumable(
        self, kind: str, fingerprint: str, input_hash: str, scope: list[str]
    ) -> str | None:
        """The newest unfinished run with the same config, input and requested markets (scope), if any."""
        for manifest in reversed(self.runs(kind)):
            if (
                manifest.get("status") != "complete"
                and manifest.get("fingerprint") == fingerprint
                and manifest.get("input_hash") == input_hash
                and manifest.get("scope") == scope
            ):
                return manifest["run_id"]
        return None

    def set_latest(self, kind: str, run_id: str) -> None:
        """Point `latest/<kind>.json` at a complete run."""
        self.write_json({"run_id": run_id, "updated": utcnow()}, "latest", f"{kind}.json")

    def latest(self, kind: str) -> str:
        """The run id of the latest complete run of a kind, or a clear error."""
        if not self.exists("latest", f"{kind}.json"):
            raise StoreError(
                f"no {kind} run in store {self.url}: run `fcast run {kind} -c CONFIG` first"
            )
        return self.read_json("latest", f"{kind}.json")["run_id"]
