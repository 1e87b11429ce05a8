"""Per-market tuned selections: the store keeps each market's current selection with provenance.

`selections/current.parquet` holds the selection rows (the columns of a tuning run's
`selection.parquet`) of every tuned market plus where they came from: `run_id`,
`tuned_at` (UTC, when the tuning run finished) and `fingerprint` (of the config and space
that tuned it). A tuning run replaces the rows of the markets it tuned and leaves every
other market's rows alone, so `fcast run tuning --markets SE,NO,DK` after a full tuning run
keeps the other markets' selections, and `fcast run weekly` uses each market's own latest
selection. Stores written before this table existed are read through `latest/tuning.json`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import pandas as pd

from fcast.errors import StoreError
from fcast.infra.store import Store

log = logging.getLogger(__name__)

PATH = ("selections", "current.parquet")
PROVENANCE = ["run_id", "tuned_at", "fingerprint"]
LISTING = ["market", "run_id", "tuned_at", "age_days", "model", "cv_score", "fingerprint"]


def _read(store: Store, *parts: str) -> pd.DataFrame:
    """A selection table, or a StoreError that says which file is broken and what to do."""
    try:
        return store.read_parquet(*parts)
    except Exception as exc:  # a truncated or foreign file: say which, never a traceback
        raise StoreError(
            f"cannot read {store.path(*parts)} ({type(exc).__name__}: {exc}); "
            "rerun `fcast run tuning` to rebuild it"
        ) from None


def _legacy(store: Store) -> pd.DataFrame | None:
    """The selection of the run `latest/tuning.json` points at, with provenance (old stores)."""
    if not store.exists("latest", "tuning.json"):
        return None
    try:
        run_id = store.latest("tuning")
    except Exception as exc:
        raise StoreError(
            f"cannot read {store.path('latest', 'tuning.json')} ({type(exc).__name__}: {exc}); "
            "rerun `fcast run tuning`"
        ) from None
    if not store.exists("runs", run_id, "selection.parquet"):
        raise StoreError(
            f"latest tuning run {run_id} has no selection.parquet; rerun `fcast run tuning`"
        )
    manifest = store.read_json("runs", run_id, "manifest.json")
    sel = _read(store, "runs", run_id, "selection.parquet")
    return with_provenance(
        sel,
        run_id,
        manifest.get("finished") or manifest.get("started"),
        manifest.get("fingerprint", ""),
    )


def with_provenance(
    selection: pd.DataFrame, run_id: str, tuned_at: str | None, fingerprint: str
) -> pd.DataFrame:
    """`selection` with the provenance columns set for every row."""
    out = selection.copy()
    out["run_id"] = run_id
    out["tuned_at"] = tuned_at or datetime.now(UTC).isoformat(timespec="seconds")
    out["fingerprint"] = fingerprint
    return out


def current(store: Store) -> pd.DataFrame:
    """Every tuned market's current selection rows with provenance (empty if nothing is tuned)."""
    if store.exists(*PATH):
        return _read(store, *PATH)
    legacy = _legacy(store)
    return legacy if legacy is not None else pd.DataFrame(columns=["market", *PROVENANCE])


def merge(existing: pd.DataFrame, tuned: pd.DataFrame, markets: Sequence[str]) -> pd.DataFrame:
    """`existing` with the rows of `markets` replaced by `tuned`'s (markets tuned now)."""
    keep = existing[~existing["market"].astype(str).isin([str(m) for m in markets])]
    parts = [p for p in (keep, tuned) if len(p)]
    if not parts:
        return tuned.iloc[0:0]
    out = pd.concat(parts, ignore_index=True)
    return out.sort_values(["market", "rank"] if "rank" in out else ["market"], kind="stable")


def update(store: Store, tuned: pd.DataFrame, markets: Sequence[str]) -> pd.DataFrame:
    """Replace the current selections of `markets` by `tuned` (with provenance); return the table.

    The caller holds the store's `selections` lock, so two tuning runs never interleave
    their read-modify-write; the write itself is atomic.
    """
    table = merge(current(store), tuned, markets).reset_index(drop=True)
    store.write_parquet(table, *PATH)
    return table


def of_markets(table: pd.DataFrame, markets: Sequence[str]) -> pd.DataFrame:
    """The current selection rows of `markets` (markets without one are simply absent)."""
    return table[table["market"].astype(str).isin([str(m) for m in markets])]


def _chosen(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the members with weight (all rows of a table without weights)."""
    return table[table["weight"] > 0] if "weight" in table else table


def ages(table: pd.DataFrame, now: datetime | None = None) -> pd.Series:
    """Whole days since each market's selection was tuned (market -> days; naive times are UTC)."""
    chosen = _chosen(table)
    tuned_at = chosen.groupby(chosen["market"].astype(str), sort=True)["tuned_at"].first()
    when = pd.to_datetime(tuned_at, utc=True, format="ISO8601")
    return (pd.Timestamp(now or datetime.now(UTC)) - when).dt.days


def listing(table: pd.DataFrame, now: datetime | None = None) -> pd.DataFrame:
    """One line per tuned market: which run tuned it, when, how many days ago, the chosen model."""
    if not len(table):
        return pd.DataFrame(columns=LISTING)
    age = ages(table, now or datetime.now(UTC))
    rows = []
    for market, grp in _chosen(table).groupby("market", sort=True):
        tuned_at = pd.Timestamp(grp["tuned_at"].iloc[0])
        tuned_at = tuned_at.tz_localize(UTC) if tuned_at.tzinfo is None else tuned_at
        rows.append(
            {
                "market": market,
                "run_id": grp["run_id"].iloc[0],
                "tuned_at": tuned_at.strftime("%Y-%m-%d %H:%M"),
                "age_days": int(age[str(market)]),
                "model": " + ".join(grp["label"].astype(str)) if "label" in grp else "",
                "cv_score": round(float(grp["cv_score"].mean()), 4) if "cv_score" in grp else None,
                "fingerprint": grp["fingerprint"].iloc[0],
            }
        )
    return pd.DataFrame(rows, columns=LISTING)


def stale(table: pd.DataFrame, max_age_days: int | None, now: datetime | None = None) -> list[str]:
    """Markets whose selection is older than `max_age_days` (none when no limit is set)."""
    if max_age_days is None or not len(table):
        return []
    age = ages(table, now)
    return age.index[age > max_age_days].tolist()
