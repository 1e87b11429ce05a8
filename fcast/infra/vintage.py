"""Official vintages: immutable copies of a run's forecast under `<store>/official/<name>/`.

A publish first claims the name: it creates `official/<name>/_CLAIM.json` exclusively (who,
which run, when, pid and host). Only the claimer writes into that folder: the run's files and
`vintage.json`, then the `_COMPLETE` marker last. Only folders with the marker are vintages: a
publish killed at any point leaves a claimed folder without a marker, which listing ignores,
`incomplete_vintages` reports and `clean_incomplete` removes once its publisher is gone. A
second publish of a taken name fails at the claim, before it writes anything; no publish ever
deletes or replaces a folder it did not claim. A run with QC errors is refused unless an
override reason is given, which the vintage manifest records.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import socket
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from fcast import names
from fcast.atomic import create_in
from fcast.contract import market_rows
from fcast.errors import StoreError
from fcast.infra.lock import pid_alive
from fcast.infra.store import Store

OFFICIAL = "official"
MARKER = "_COMPLETE"
MANIFEST = "vintage.json"
CLAIM = "_CLAIM.json"
STAGING = ".tmp-"  #: suffix of the staging folders of earlier releases (incomplete when found)
RUN_FILES = (
    "forecast.parquet",
    "selection.parquet",
    "comparison.parquet",
    "qc.parquet",
    "qa.parquet",
    "cleaning.parquet",
    "hierarchy.parquet",
    "proxies.parquet",
    "adjustments.parquet",
    "insights.md",
)
RUN_DIRS = ("report",)
CLAIM_TIMEOUT = 3600.0  #: seconds after which a claim of an unfinished publish on another host counts as abandoned
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
    """A vintage name by the one name rule (`fcast.names`), else a clear error."""
    return names.check_name("vintage name", name)


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


def read_claim(store: Store, name: str) -> dict[str, Any]:
    """The claim of `official/<name>/` ({} when it has none or it cannot be read)."""
    try:
        claim = store.read_json(OFFICIAL, name, CLAIM)
    except StoreError:
        return {}
    return claim if isinstance(claim, dict) else {}


def _staged_at(store: Store, entry: str) -> float:
    """When an incomplete folder was claimed or staged (epoch seconds), 0 when unknown."""
    stamp = read_claim(store, entry).get("claimed")
    if not stamp:
        try:
            stamp = store.read_json(OFFICIAL, entry, MANIFEST)["staged"]
        except (StoreError, KeyError, TypeError):
            return 0.0
    try:
        return datetime.fromisoformat(str(stamp).replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


def _publisher_gone(store: Store, entry: str, older_than: float) -> bool:
    """Whether an incomplete folder's publisher is gone: its pid dead on this host, or claimed long ago."""
    claim = read_claim(store, entry)
    if claim.get("host") == socket.gethostname() and not pid_alive(int(claim.get("pid") or 0)):
        return True
    return time.time() - _staged_at(store, entry) >= older_than


def clean_incomplete(store: Store, older_than: float = 3600.0) -> list[str]:
    """Remove incomplete folders whose publisher is gone (dead pid here, or older than `older_than` s)."""
    removed = []
    for entry in incomplete_vintages(store):
        if _publisher_gone(store, entry, older_than):
            store.fs.rm(fs_path(store, OFFICIAL, entry), recursive=True)
            removed.append(entry)
    return removed


def run_manifest(store: Store, run_id: str) -> dict[str, Any]:
    """The manifest of a complete run with a forecast, else a clear error (the run id by the name rule)."""
    names.check_name("run id", run_id)
    if not store.exists("runs", run_id, "manifest.json"):
        known = [m["run_id"] for m in store.runs()][-5:]
        raise StoreError(
            f"no run {run_id!r} in store {store.label} (latest runs: {', '.join(known) or 'none'})"
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


def _taken(store: Store, name: str) -> str:
    """Why a vintage name is taken: published, being published, or left by an interrupted publish."""
    if is_complete(store, name):
        m = vintage_manifest(store, name)
        return (
            f"vintage {name!r} already exists (published by {m.get('author')} at {m.get('published')} "
            f"from run {m.get('run_id')}); vintages are never overwritten: choose another name"
        )
    c = read_claim(store, name)
    who = (
        f"{c.get('author')} from run {c.get('run_id')} at {c.get('claimed')} "
        f"(pid {c.get('pid')} on {c.get('host')})"
        if c
        else "a publish that left no claim"
    )
    if not c or _publisher_gone(store, name, CLAIM_TIMEOUT):
        return (
            f"vintage {name!r} is held by an interrupted publish ({who}); "
            f"`fcast vintages --clean` removes it, or choose another name"
        )
    return f"vintage {name!r} is being published by {who}; choose another name, or wait and check `fcast vintages`"


def check_publishable(
    store: Store,
    run_id: str,
    name: str,
    override_reason: str | None = None,
    author: str | None = None,
) -> dict[str, Any] | None:
    """Validate a publish before any work: name free, run complete, QC errors overridden; the override record."""
    check_name(name)
    if store.exists(OFFICIAL, name):
        raise StoreError(_taken(store, name))
    run_manifest(store, run_id)
    return _override(qc_errors(store, run_id), override_reason, author or default_author())


def claim_vintage(
    store: Store, name: str, run_id: str, author: str | None = None
) -> dict[str, Any]:
    """Claim vintage `name` for this process by creating its claim file exclusively; the claim, else a clear error."""
    check_name(name)
    claim = {
        "name": name,
        "run_id": names.check_name("run id", run_id),
        "author": author or default_author(),
        "claimed": now_precise(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "token": uuid.uuid4().hex,
    }
    body = json.dumps(claim, indent=2).encode()
    try:
        created = create_in(store.fs, fs_path(store, OFFICIAL, name, CLAIM), body)
    except OSError as exc:
        raise StoreError(f"cannot claim vintage {name!r} in store {store.label}: {exc}") from None
    if not created:
        raise StoreError(_taken(store, name))
    return claim


def release_claim(store: Store, claim: dict[str, Any]) -> bool:
    """Remove an unfinished vintage folder this process claimed (never another's); whether it did."""
    name = claim["name"]
    if is_complete(store, name) or read_claim(store, name).get("token") != claim["token"]:
        return False
    store.fs.rm(fs_path(store, OFFICIAL, name), recursive=True)
    return True


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


def _stage(store: Store, run_id: str, name: str, manifest: dict[str, Any]) -> None:
    """Copy the run's files and the vintage manifest into the claimed folder `official/<name>/`."""
    files = {
        rel: _copy(store, ("runs", run_id, *rel.split("/")), (OFFICIAL, name, *rel.split("/")))
        for rel in _run_files(store, run_id)
    }
    files["run.json"] = _copy(
        store, ("runs", run_id, "manifest.json"), (OFFICIAL, name, "run.json")
    )
    store.write_json(
        {**manifest, "files": files, "staged": now_precise()}, OFFICIAL, name, MANIFEST
    )


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
    claim: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Promote a complete run to the immutable official vintage `name`; return the vintage manifest.

    `claim` is the result of an earlier `claim_vintage` (publish_run claims before its report
    work); without it the name is claimed here. A failure removes only the folder claimed.
    """
    author = author or default_author()
    if claim is None:
        override = check_publishable(store, run_id, name, override_reason, author)
        claim = claim_vintage(store, name, run_id, author)
    else:
        check_name(name)
        run_manifest(store, run_id)
        override = _override(qc_errors(store, run_id), override_reason, author)
    try:
        _stage(store, run_id, name, _vintage_record(store, run_id, name, author, override, extra))
        _mark(store, name)
    except BaseException:
        release_claim(store, claim)
        raise
    return vintage_manifest(store, name)


def _vintage_record(
    store: Store,
    run_id: str,
    name: str,
    author: str,
    override: dict[str, Any] | None,
    extra: dict[str, Any] | None,
) -> dict[str, Any]:
    """The vintage manifest of a run, before its file digests."""
    run = run_manifest(store, run_id)
    forecast = market_rows(store.read_parquet("runs", run_id, "forecast.parquet"))
    return {
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


def vintage_manifest(store: Store, name: str) -> dict[str, Any]:
    """The manifest of a committed vintage, else a clear error naming the available ones."""
    if not is_complete(store, name):
        if name in _entries(store):
            raise StoreError(
                f"official vintage {name!r} is incomplete (an interrupted publish) and is ignored"
            )
        available = ", ".join(list_vintages(store)["name"]) or "none"
        raise StoreError(
            f"no official vintage {name!r} in store {store.label} (available: {available})"
        )
    return store.read_json(OFFICIAL, name, MANIFEST)


def read_vintage(store: Store, name: str, aggregates: bool = False) -> pd.DataFrame:
    """The forecast table of a committed vintage: its market rows, or with `aggregates` every row."""
    vintage_manifest(store, name)
    table = store.read_parquet(OFFICIAL, name, "forecast.parquet")
    return table if aggregates else market_rows(table)


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


def period_name(when: pd.Timestamp, freq: str) -> str:
    """The data's period holding `when`, as a vintage name: 2026-W47, 2026-11, 2026-Q4, 2026-11-23."""
    kind = pd.tseries.frequencies.to_offset(freq).name.split("-")[0]
    if kind in ("MS", "ME", "M"):
        return f"{when:%Y-%m}"
    if kind in ("QS", "QE", "Q"):
        return f"{when.year}-Q{when.quarter}"
    if kind in ("D", "B"):
        return f"{when:%Y-%m-%d}"
    year, week, _ = when.isocalendar()
    return f"{year}-W{week:02d}"


def default_name(store: Store, run_id: str) -> str:
    """A free vintage name from the run's last period of actuals (2026-W47 for weekly data,
    2026-11 monthly, 2026-Q4 quarterly, 2026-11-23 daily), else with -2, -3, ..."""
    manifest = run_manifest(store, run_id)
    end = pd.Timestamp(_data_end(manifest, store.read_parquet("runs", run_id, "forecast.parquet")))
    base = period_name(end, manifest.get("config", {}).get("data", {}).get("freq", "W-MON"))
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
            raise StoreError(f"no official vintage {before!r} in store {store.label}")
        listing = listing.iloc[: int(listing.index[listing["name"] == before][0])]
    return listing["name"].tolist()[::-1][:n]
