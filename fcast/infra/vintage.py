"""Official vintages: immutable copies of a run's forecast under `<store>/official/<name>/`.

A publish stages every file in `official/<name>.tmp-<hex>/`, renames the folder to
`official/<name>/` and writes the `_COMPLETE` marker last. Only folders with the marker are
vintages: a publish killed at any point leaves a staging folder or an unmarked folder,
which listing ignores, `incomplete_vintages` reports and `clean_incomplete` removes.
A vintage is never overwritten; a run with QC errors is refused unless an override
reason is given, which the vintage manifest records.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from fsspec.implementations.local import LocalFileSystem

from fcast.errors import StoreError
from fcast.infra.store import Store

OFFICIAL = "official"
MARKER = "_COMPLETE"
MANIFEST = "vintage.json"
STAGING = ".tmp-"
RUN_FILES = (
    "forecast.parquet",
    "selection.parquet",
    "comparison.parquet",
    "qc.parquet",
    "qa.parquet",
    "cleaning.parquet",
    "proxies.parquet",
    "adjustments.parquet",
    "insights.md",
)
RUN_DIRS = ("report",)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
LIST_COLUMNS = ["name", "published", "run_id", "markets", "data_end", "override", "author"]


def fs_path(store: Store, *parts: str) -> str:
    """The filesystem path (no protocol) of a file or folder under the store root."""
    return "/".join([store.root, *parts])


def now_precise() -> str:
    """The current UTC time as ISO text with milliseconds (orders publishes within a second)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def default_author() -> str:
    """The login name of the publishing user, or 'unknown'."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def check_name(name: str) -> str:
    """A vintage name: letters, digits, '.', '_', '-' (no staging suffix), else a clear error."""
    if not _NAME.match(name or "") or STAGING in name:
        raise StoreError(
            f"invalid vintage name {name!r}: use letters, digits, '.', '_' or '-' "
            f"(e.g. 2026-11-W47), starting with a letter or digit"
        )
    return name


def _entries(store: Store) -> list[str]:
    """Folder names directly under official/."""
    if not store.exists(OFFICIAL):
        return []
    paths = store.fs.ls(fs_path(store, OFFICIAL), detail=False)
    return sorted(p.rstrip("/").rsplit("/", 1)[-1] for p in paths if store.fs.isdir(p))


def is_complete(store: Store, name: str) -> bool:
    """Whether `official/<name>/` is a committed vintage (has its marker)."""
    return STAGING not in name and store.exists(OFFICIAL, name, MARKER)


def incomplete_vintages(store: Store) -> list[str]:
    """Folders under official/ without a commit marker (interrupted or running publishes)."""
    return [e for e in _entries(store) if not is_complete(store, e)]


def _staged_at(store: Store, entry: str) -> float:
    """When an incomplete folder was staged (epoch seconds), 0 when unknown."""
    try:
        staged = store.read_json(OFFICIAL, entry, MANIFEST)["staged"]
        return datetime.fromisoformat(staged.replace("Z", "+00:00")).timestamp()
    except (OSError, KeyError, ValueError, TypeError):
        return 0.0


def clean_incomplete(store: Store, older_than: float = 3600.0) -> list[str]:
    """Remove incomplete folders staged more than `older_than` seconds ago; return their names."""
    removed = []
    for entry in incomplete_vintages(store):
        if time.time() - _staged_at(store, entry) >= older_than:
            store.fs.rm(fs_path(store, OFFICIAL, entry), recursive=True)
            removed.append(entry)
    return removed


def run_manifest(store: Store, run_id: str) -> dict[str, Any]:
    """The manifest of a complete run with a forecast, else a clear error."""
    if not store.exists("runs", run_id, "manifest.json"):
        known = [m["run_id"] for m in store.runs()][-5:]
        raise StoreError(
            f"no run {run_id!r} in store {store.url} (latest runs: {', '.join(known) or 'none'})"
        )
    manifest = store.read_json("runs", run_id, "manifest.json")
    if manifest.get("status") != "complete":
        raise StoreError(
            f"run {run_id} is not complete (status {manifest.get('status')!r}); only complete runs can be published"
        )
    if not store.exists("runs", run_id, "forecast.parquet"):
        raise StoreError(f"run {run_id} has no forecast.parquet; nothing to publish")
    return manifest


def qc_errors(store: Store, run_id: str) -> pd.DataFrame:
    """The QC rows of severity 'error' of a run (empty when the run has no qc.parquet)."""
    if not store.exists("runs", run_id, "qc.parquet"):
        return pd.DataFrame(columns=["market", "check", "severity", "detail"])
    qc = store.read_parquet("runs", run_id, "qc.parquet")
    return qc[qc["severity"].astype(str).str.lower() == "error"].reset_index(drop=True)


def _describe_errors(errors: pd.DataFrame, limit: int = 5) -> str:
    """'market check: detail; ...' for the first few QC errors."""
    parts = [
        f"{r.get('market', '?')} {r.get('check', '?')}: {r.get('detail', '')}"
        for r in errors.head(limit).to_dict("records")
    ]
    more = f"; and {len(errors) - limit} more" if len(errors) > limit else ""
    return "; ".join(parts) + more


def _override(errors: pd.DataFrame, reason: str | None, author: str) -> dict[str, Any] | None:
    """The override record, or a clear error when QC errors exist and no reason is given."""
    if errors.empty:
        return None
    if not (reason or "").strip():
        raise StoreError(
            f"QC found {len(errors)} error(s): {_describe_errors(errors)}; fix them, or publish anyway "
            f"with an override reason (--override-reason '...'), which the vintage records"
        )
    cols = [c for c in ("market", "check", "detail") if c in errors]
    return {
        "reason": reason.strip(),
        "author": author,
        "errors": errors[cols].astype(str).to_dict("records"),
    }


def check_publishable(
    store: Store,
    run_id: str,
    name: str,
    override_reason: str | None = None,
    author: str | None = None,
) -> dict[str, Any] | None:
    """Validate a publish before any work: name free, run complete, QC errors overridden; the override record."""
    check_name(name)
    if is_complete(store, name):
        existing = vintage_manifest(store, name)
        raise StoreError(
            f"official vintage {name!r} already exists (published {existing.get('published')} from run "
            f"{existing.get('run_id')}); vintages are never overwritten: choose another name"
        )
    run_manifest(store, run_id)
    return _override(qc_errors(store, run_id), override_reason, author or default_author())


def _data_end(manifest: dict[str, Any], forecast: pd.DataFrame) -> str:
    """Last period of actuals: from the manifest, else the period before the first forecast date."""
    if manifest.get("data_end"):
        return str(manifest["data_end"])[:10]
    dates = pd.DatetimeIndex(sorted(pd.to_datetime(forecast["date"]).unique()))
    step = dates[1] - dates[0] if len(dates) > 1 else pd.Timedelta(0)
    return str((dates[0] - step).date()) if len(dates) else ""


def _copy(store: Store, src: tuple[str, ...], dst: tuple[str, ...]) -> str:
    """Copy one file inside the store; return its sha256."""
    with store.fs.open(fs_path(store, *src), "rb") as fh:
        data = fh.read()
    target = fs_path(store, *dst)
    store.fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
    with store.fs.open(target, "wb") as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def _run_files(store: Store, run_id: str) -> list[str]:
    """Files of a run that go into a vintage, as paths relative to the run folder."""
    files = [f for f in RUN_FILES if store.exists("runs", run_id, f)]
    base = fs_path(store, "runs", run_id)
    for folder in RUN_DIRS:
        if store.exists("runs", run_id, folder):
            files += sorted(
                p[len(base) + 1 :] for p in store.fs.find(fs_path(store, "runs", run_id, folder))
            )
    return files


def _stage(store: Store, run_id: str, name: str, manifest: dict[str, Any]) -> str:
    """Copy the run's files and the vintage manifest into a fresh staging folder; return its name."""
    staging = f"{name}{STAGING}{uuid.uuid4().hex[:8]}"
    store.fs.makedirs(fs_path(store, OFFICIAL, staging), exist_ok=True)
    store.fs.pipe_file(
        fs_path(store, OFFICIAL, staging, MANIFEST), json.dumps({"staged": now_precise()}).encode()
    )
    files = {
        rel: _copy(store, ("runs", run_id, *rel.split("/")), (OFFICIAL, staging, *rel.split("/")))
        for rel in _run_files(store, run_id)
    }
    files["run.json"] = _copy(
        store, ("runs", run_id, "manifest.json"), (OFFICIAL, staging, "run.json")
    )
    manifest = {**manifest, "files": files, "staged": now_precise()}
    store.fs.pipe_file(
        fs_path(store, OFFICIAL, staging, MANIFEST),
        json.dumps(manifest, indent=2, default=str).encode(),
    )
    return staging


def _commit(store: Store, staging: str, name: str) -> None:
    """Move the staging folder to its final name (atomic rename on a local disk)."""
    src, dst = fs_path(store, OFFICIAL, staging), fs_path(store, OFFICIAL, name)
    if store.exists(OFFICIAL, name):
        if is_complete(store, name):
            raise StoreError(
                f"official vintage {name!r} was published concurrently; it is kept as it is"
            )
        store.fs.rm(dst, recursive=True)  # an interrupted earlier publish of the same name
    if isinstance(store.fs, LocalFileSystem):
        try:
            os.rename(src, dst)
        except OSError as exc:
            raise StoreError(f"could not commit vintage {name!r}: {exc}") from None
    else:
        store.fs.mv(src, dst, recursive=True)


def _mark(store: Store, name: str) -> None:
    """Write the commit marker, the last step of a publish."""
    manifest = store.read_json(OFFICIAL, name, MANIFEST)
    digest = hashlib.sha256(json.dumps(manifest, sort_keys=True, default=str).encode()).hexdigest()
    store.write_json(
        {"name": name, "committed": now_precise(), "manifest_sha256": digest},
        OFFICIAL,
        name,
        MARKER,
    )


def publish_vintage(
    store: Store,
    run_id: str,
    name: str,
    *,
    override_reason: str | None = None,
    author: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Promote a complete run to the immutable official vintage `name`; return the vintage manifest."""
    author = author or default_author()
    override = check_publishable(store, run_id, name, override_reason, author)
    run = run_manifest(store, run_id)
    forecast = store.read_parquet("runs", run_id, "forecast.parquet")
    manifest = {
        "name": name,
        "run_id": run_id,
        "kind": run.get("kind"),
        "published": now_precise(),
        "author": author,
        "data_end": _data_end(run, forecast),
        "markets": sorted(forecast["market"].astype(str).unique().tolist()),
        "forecast_dates": [
            str(pd.Timestamp(forecast["date"].min()).date()),
            str(pd.Timestamp(forecast["date"].max()).date()),
        ],
        "rows": len(forecast),
        "override": override,
        **(extra or {}),
    }
    staging = _stage(store, run_id, name, manifest)
    _commit(store, staging, name)
    _mark(store, name)
    return vintage_manifest(store, name)


def vintage_manifest(store: Store, name: str) -> dict[str, Any]:
    """The manifest of a committed vintage, else a clear error naming the available ones."""
    if not is_complete(store, name):
        if name in _entries(store):
            raise StoreError(
                f"official vintage {name!r} is incomplete (an interrupted publish) and is ignored"
            )
        available = ", ".join(list_vintages(store)["name"]) or "none"
        raise StoreError(
            f"no official vintage {name!r} in store {store.url} (available: {available})"
        )
    return store.read_json(OFFICIAL, name, MANIFEST)


def read_vintage(store: Store, name: str) -> pd.DataFrame:
    """The forecast table of a committed vintage."""
    vintage_manifest(store, name)
    return store.read_parquet(OFFICIAL, name, "forecast.parquet")


def verify_vintage(store: Store, name: str) -> list[str]:
    """Problems with a committed vintage's files (missing or changed since publish); empty when intact."""
    manifest = vintage_manifest(store, name)
    problems = []
    for rel, digest in manifest.get("files", {}).items():
        if not store.exists(OFFICIAL, name, *rel.split("/")):
            problems.append(f"{rel}: missing")
            continue
        with store.fs.open(fs_path(store, OFFICIAL, name, *rel.split("/")), "rb") as fh:
            if hashlib.sha256(fh.read()).hexdigest() != digest:
                problems.append(f"{rel}: changed since publish")
    return problems


def list_vintages(store: Store) -> pd.DataFrame:
    """Committed vintages, oldest first: name, published, run_id, markets, data_end, override, author."""
    rows = []
    for entry in _entries(store):
        if not is_complete(store, entry):
            continue
        m = store.read_json(OFFICIAL, entry, MANIFEST)
        override = m.get("override")
        rows.append(
            {
                "name": entry,
                "published": m.get("published"),
                "run_id": m.get("run_id"),
                "markets": len(m.get("markets", [])),
                "data_end": m.get("data_end"),
                "override": override["reason"] if override else None,
                "author": m.get("author"),
            }
        )
    df = pd.DataFrame(rows, columns=LIST_COLUMNS)
    return df.sort_values(["published", "name"], ignore_index=True)


def default_name(store: Store, run_id: str) -> str:
    """A free vintage name from the run's last week of actuals: 2026-W47, else 2026-W47-2, -3, ..."""
    manifest = run_manifest(store, run_id)
    year, week, _ = pd.Timestamp(
        _data_end(manifest, store.read_parquet("runs", run_id, "forecast.parquet"))
    ).isocalendar()
    base = f"{year}-W{week:02d}"
    taken = set(_entries(store))
    n = 2
    name = base
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def previous_vintages(store: Store, n: int = 2, before: str | None = None) -> list[str]:
    """Names of the `n` latest committed vintages (newest first), optionally only those published before `before`."""
    listing = list_vintages(store)
    if before is not None:
        if before not in set(listing["name"]):
            raise StoreError(f"no official vintage {before!r} in store {store.url}")
        listing = listing.iloc[: int(listing.index[listing["name"] == before][0])]
    return listing["name"].tolist()[::-1][:n]
