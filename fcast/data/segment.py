"""Segmenting: each market is `mature`, `new` (short history or not launched yet) or `custom`.

The markets table (`data.markets`) has one row per market: `market`, `launch_date`, an
optional `country` (the `holidays` country code of a market whose code is not one, such
as ``Nordics-North -> SE``; `countries_of`) and any external features. A market is `new` when its history is shorter than `min_history`
periods or its launch date lies after the as-of date (pre-launch: it has no actuals and
enters the segments from the table alone); `custom` when the configuration lists it, which
wins over both; `mature` otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import fsspec
import numpy as np
import pandas as pd
import xarray as xr

from fcast.data import history_length, read_table
from fcast.data.calendar import known_country
from fcast.errors import DataError

MAX_LISTED = 5
SEGMENTS = ("mature", "new", "custom")


def _listing(items: Sequence[str]) -> str:
    """The first few items and how many more."""
    items = list(items)
    more = len(items) - MAX_LISTED
    return ", ".join(items[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def source_of(markets: pd.DataFrame) -> str:
    """The file a markets table came from, for error messages."""
    return str(markets.attrs.get("source", "<markets table>"))


def read_markets(url: str) -> pd.DataFrame:
    """Read and validate the markets table (CSV or Parquet at any fsspec URL)."""
    fs, path = fsspec.core.url_to_fs(url)
    if not fs.exists(path):
        raise DataError(f"markets file not found: {url} (data.markets)")
    df = read_table(url)
    df.attrs["source"] = url
    return validate_markets(df)


def validate_markets(markets: pd.DataFrame) -> pd.DataFrame:
    """Check the market and launch_date columns; return a copy with clean codes and dates."""
    source = source_of(markets)
    missing = [c for c in ("market", "launch_date") if c not in markets.columns]
    if missing:
        raise DataError(f"{source}: missing column(s) {missing}; found {list(markets.columns)}")
    out = markets.copy()
    blank = out["market"].isna() | (out["market"].astype(str).str.strip() == "")
    if blank.any():
        raise DataError(
            f"{source}: missing market code in row(s) {_listing([str(i) for i in out.index[blank]])}"
        )
    out["market"] = out["market"].astype(str).str.strip()
    dup = out["market"][out["market"].duplicated()].unique().tolist()
    if dup:
        raise DataError(f"{source}: market(s) listed more than once: {_listing(dup)}")
    dates = pd.to_datetime(out["launch_date"], errors="coerce")
    bad = dates.isna() & out["launch_date"].notna()
    if bad.any():
        rows = [
            f"{m} ({v!r})"
            for m, v in zip(out.loc[bad, "market"], out.loc[bad, "launch_date"], strict=True)
        ]
        raise DataError(f"{source}: unparseable launch_date for {_listing(rows)}")
    out["launch_date"] = dates
    if "country" in out.columns:
        out["country"] = _countries(out, source)
    out.attrs["source"] = source
    return out.reset_index(drop=True)


def _countries(markets: pd.DataFrame, source: str) -> pd.Series:
    """The country column as stripped, upper-case codes (None where blank); unknown codes are an error."""
    codes = pd.Series(
        [str(c).strip().upper() or None if pd.notna(c) else None for c in markets["country"]],
        index=markets.index,
        dtype=object,
    )
    bad = [
        f"{m} ({c!r})"
        for m, c in zip(markets["market"], codes, strict=True)
        if c is not None and not known_country(c)
    ]
    if bad:
        raise DataError(
            f"{source}: unknown country code for {_listing(bad)}; "
            "use a country code of the holidays package (ISO 3166 alpha-2, e.g. SE)"
        )
    return codes


def countries_of(markets: pd.DataFrame | None) -> dict[str, str]:
    """market -> holidays country code from the markets table's `country` column ({} without one)."""
    if markets is None or "country" not in markets.columns:
        return {}
    table = validate_markets(markets)
    return {
        str(m): str(c)
        for m, c in zip(table["market"], table["country"], strict=True)
        if isinstance(c, str) and c
    }


def first_observation(y: xr.DataArray) -> pd.Series:
    """Date of each market's first observed value (NaT when it has none)."""
    observed = y.notnull()
    first = pd.DatetimeIndex(y["time"].values[observed.argmax("time").values])
    return pd.Series(
        first.where(observed.any("time").values),
        index=y["market"].values.astype(str),
        name="launch_date",
    )


def launch_dates(cube: xr.Dataset, markets: pd.DataFrame | None) -> pd.Series:
    """Launch date per market: the table's, else the first observation; table-only markets included."""
    first = first_observation(cube["y"])
    if markets is None:
        return first
    table = validate_markets(markets).set_index("market")["launch_date"]
    merged = table.reindex(first.index).fillna(first)
    extra = table.drop(first.index, errors="ignore").dropna()
    return pd.concat([merged, extra]).rename("launch_date")


def _check_custom(custom: Sequence[str], known: set[str], source: str) -> None:
    """Every custom market must be in the actuals or the markets table."""
    unknown = sorted(set(custom) - known)
    if unknown:
        raise DataError(
            f"segments.custom lists unknown market(s) {unknown}: not in the actuals nor in {source}"
        )


def segment(
    cube: xr.Dataset,
    markets: pd.DataFrame | None,
    *,
    min_history: int,
    custom: Sequence[str] = (),
    as_of: pd.Timestamp | None = None,
) -> xr.DataArray:
    """Segment per market (cube markets plus pre-launch markets of the table): mature, new or custom."""
    end = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(cube["time"].values[-1])
    launch = launch_dates(cube, markets)
    cube_markets = cube["market"].values.astype(str).tolist()
    prelaunch = [m for m in launch.index if m not in cube_markets and launch[m] > end]
    _check_custom(
        custom,
        set(cube_markets) | set(launch.index),
        source_of(markets) if markets is not None else "no markets table",
    )
    order = cube_markets + sorted(prelaunch)
    history = history_length(cube["y"]).to_series().reindex(order).fillna(0).astype(int)
    launch = launch.reindex(order)
    is_new = (history.to_numpy() < min_history) | (launch > end).to_numpy()
    values = np.where(is_new, "new", "mature")
    values = np.where(np.isin(order, list(custom)), "custom", values)
    return xr.DataArray(
        values.astype(str),
        dims="market",
        coords={
            "market": np.array(order, dtype=str),
            "launch_date": ("market", pd.DatetimeIndex(launch).to_numpy()),
            "history": ("market", history.to_numpy()),
        },
        name="segment",
    )


def prelaunch_markets(segments: xr.DataArray, as_of: pd.Timestamp) -> list[str]:
    """Markets whose launch date lies after `as_of`."""
    launch = pd.DatetimeIndex(segments["launch_date"].values)
    return segments["market"].values[launch > pd.Timestamp(as_of)].astype(str).tolist()
