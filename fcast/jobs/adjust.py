"""Business input on disk and in the store: the adjustment files, and what the adjust tools show.

Adjustments live in YAML, one file or a folder of them (``configs/adjustments/``); the
schema, validation and applying are the stage `fcast.markets.adjustments`. Here: reading
a file or folder (ids unique across files), adding and removing one adjustment with an
atomic write (`fcast.atomic`: a reader never sees half a file), validating a run's
adjustments against its markets and horizon, and the inputs of `fcast adjust` and the web
app (the latest forecast in the store, the actuals, every known market).
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import xarray as xr

from fcast.atomic import is_aside, write_bytes
from fcast.config import RunConfig
from fcast.contract import market_rows
from fcast.data.segment import read_markets
from fcast.errors import ConfigError, StoreError
from fcast.infra.store import Store
from fcast.infra.warehouse import load_actuals_source
from fcast.markets.adjustments import (
    Adjustment,
    check_conflicts,
    check_unique_ids,
    dump_adjustments,
    parse_adjustments,
    validate_adjustments,
)
from fcast.yamlio import read_yaml

YAML_SUFFIXES = (".yaml", ".yml")

# --- files ----------------------------------------------------------------------------------


def read_file(path: str | Path) -> list[Adjustment]:
    """The adjustments of one YAML file, validated, each knowing its file."""
    return parse_adjustments(read_yaml(path, what="adjustments file"), source=str(path))


def adjustment_files(path: str | Path) -> list[Path]:
    """The YAML files of a folder (sorted, files being written aside left out), or the file itself."""
    p = Path(path)
    if p.is_dir():
        return sorted(
            f
            for f in p.iterdir()
            if f.suffix in YAML_SUFFIXES and f.is_file() and not is_aside(f.name)
        )
    return [p]


def load_adjustments(path: str | Path | None) -> list[Adjustment]:
    """All adjustments of a YAML file or a folder of them; ids must be unique across files."""
    if path is None:
        return []
    if not Path(path).exists():
        raise ConfigError(f"adjustments not found: {path} (adjustments)")
    adjs = [a for f in adjustment_files(path) for a in read_file(f)]
    check_unique_ids(adjs)
    return adjs


def _write(path: Path, adjs: Sequence[Adjustment]) -> None:
    """Write aside then move into place, so a reader never sees half a file."""
    write_bytes(str(path), dump_adjustments(adjs).encode())


def _target(path: str | Path, adj: Adjustment) -> Path:
    """The file a new adjustment goes to: `<folder>/<id>.yaml`, or the file itself."""
    p = Path(path)
    return p / f"{adj.id}.yaml" if p.is_dir() or p.suffix not in YAML_SUFFIXES else p


def add_adjustment(
    path: str | Path,
    adj: Adjustment,
    markets: Sequence[str] | None = None,
    dates: pd.DatetimeIndex | None = None,
) -> Path:
    """Validate `adj` against the saved ones (and the markets and horizon when given), then save it."""
    p = Path(path)
    existing = load_adjustments(p) if p.exists() else []
    if any(a.id == adj.id for a in existing):
        raise ConfigError(
            f"adjustment id {adj.id!r} already exists in {path}; choose another id or remove it first"
        )
    check_conflicts([*existing, adj])
    if markets is not None and dates is not None:
        validate_adjustments([adj], markets, dates)
    target = _target(p, adj)
    kept = read_file(target) if target.exists() else []
    _write(target, [*kept, adj])
    return target


def remove_adjustment(path: str | Path, adjustment_id: str) -> Adjustment:
    """Remove one adjustment by id from its file (a folder's file is deleted once empty)."""
    adjs = load_adjustments(path)
    found = next((a for a in adjs if a.id == adjustment_id), None)
    if found is None:
        known = ", ".join(a.id for a in adjs) or "none"
        raise ConfigError(f"no adjustment {adjustment_id!r} in {path} (known: {known})")
    file = Path(found.source)
    rest = [a for a in read_file(file) if a.id != adjustment_id]
    if not rest and Path(path).is_dir():
        file.unlink()
    else:
        _write(file, rest)
    return found


def run_adjustments(
    path: str | Path | None, markets: Sequence[str], dates: pd.DatetimeIndex
) -> list[Adjustment]:
    """A run's adjustments, read and validated against its markets and horizon (expired ones kept as a record)."""
    adjs = load_adjustments(path)
    validate_adjustments(adjs, markets, dates, allow_expired=True)
    return adjs


# --- inputs of the tools (CLI, app) ---------------------------------------------------------


@dataclass
class RunInputs:
    """What the adjust tools show and validate against: the latest forecast, actuals, markets, dates."""

    run_id: str
    forecast: pd.DataFrame
    actuals: pd.DataFrame
    markets: list[str]

    @property
    def dates(self) -> pd.DatetimeIndex:
        """The forecast dates of the latest run."""
        return pd.DatetimeIndex(sorted(self.forecast["date"].unique()))


def default_author() -> str:
    """The login name of the person at the keyboard, or ''."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return ""


def latest_forecast(store: Store) -> tuple[str, pd.DataFrame]:
    """The newest complete run that has a forecast and is not an `--as-of` replay: its id and forecast.

    A replay (manifest `as_of` set) forecasts from a past date; checking adjustments against
    its horizon would refuse valid future ones and accept past ones that no run applies.
    """
    replays = []
    for manifest in reversed(store.runs()):
        run_id = manifest.get("run_id", "")
        if manifest.get("status") != "complete" or not store.exists(
            "runs", run_id, "forecast.parquet"
        ):
            continue
        if manifest.get("as_of") is not None:
            replays.append(run_id)
            continue
        table = market_rows(store.read_parquet("runs", run_id, "forecast.parquet"))
        return run_id, table.assign(date=pd.to_datetime(table["date"]))
    only = (
        f" (only --as-of replays, which do not count: {', '.join(replays[:3])})" if replays else ""
    )
    raise StoreError(
        f"no complete run with a forecast in store {store.url}{only}; run `fcast run weekly` first"
    )


def actuals_table(actuals: pd.DataFrame | xr.Dataset | xr.DataArray) -> pd.DataFrame:
    """Actuals as market, date, y (from a cube or a table with one value column)."""
    if isinstance(actuals, xr.Dataset):
        actuals = actuals["y"]
    if isinstance(actuals, xr.DataArray):
        actuals = actuals.to_dataframe(name="y").reset_index().rename(columns={"time": "date"})
    value = (
        "y" if "y" in actuals else next(c for c in actuals.columns if c not in ("market", "date"))
    )
    df = actuals.rename(columns={value: "y"})[["market", "date", "y"]].dropna(subset=["y"])
    return df.assign(date=pd.to_datetime(df["date"]), market=df["market"].astype(str))


def run_inputs(cfg: RunConfig) -> RunInputs:
    """The latest forecast in a config's store, its actuals, and every known market (actuals and markets table)."""
    run_id, forecast = latest_forecast(Store(cfg.store))
    cube = load_actuals_source(
        cfg.data.actuals, value=cfg.data.value, freq=cfg.data.freq, columns=cfg.data.column_map
    )
    markets = cube["market"].values.astype(str).tolist()
    if cfg.data.markets:
        markets += read_markets(cfg.data.markets)["market"].astype(str).tolist()
    return RunInputs(run_id, forecast, actuals_table(cube), sorted(set(markets)))


__all__ = [
    "RunInputs",
    "actuals_table",
    "add_adjustment",
    "adjustment_files",
    "default_author",
    "latest_forecast",
    "load_adjustments",
    "read_file",
    "remove_adjustment",
    "run_adjustments",
    "run_inputs",
]
