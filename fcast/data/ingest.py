"""Read an actuals table from any fsspec URL and build the cube y(market, time)."""

from __future__ import annotations

import hashlib

import fsspec
import pandas as pd
import pyarrow as pa
import xarray as xr

from fcast.errors import DataError

MAX_LISTED = 5


def _listing(items: list[str]) -> str:
    """A short, readable list: the first few items and how many more."""
    shown = ", ".join(items[:MAX_LISTED])
    more = len(items) - MAX_LISTED
    return shown + (f" and {more} more" if more > 0 else "")


def _rows_by_market(df: pd.DataFrame, mask: pd.Series) -> str:
    """Describe flagged rows as 'market: date, date' groups."""
    bad = df.loc[mask]
    parts = []
    for market, grp in bad.groupby("market", sort=True):
        dates = [str(d)[:10] for d in grp["date"]]
        parts.append(f"{market}: {_listing(dates)}")
    return "; ".join(parts[:MAX_LISTED]) + (
        f"; and {len(parts) - MAX_LISTED} more markets" if len(parts) > MAX_LISTED else ""
    )


def read_table(url: str) -> pd.DataFrame:
    """Read a CSV or Parquet file at an fsspec URL."""
    lower = url.lower()
    try:
        with fsspec.open(url, "rb") as fh:
            if lower.endswith((".parquet", ".pq")):
                return pd.read_parquet(fh)
            if lower.endswith((".csv", ".csv.gz", ".txt")):
                return pd.read_csv(fh, compression="gzip" if lower.endswith(".gz") else None)
    except FileNotFoundError:
        raise DataError(f"actuals file not found: {url}") from None
    except (
        pd.errors.EmptyDataError,
        pd.errors.ParserError,
        pa.ArrowException,
        UnicodeDecodeError,
    ) as exc:
        raise DataError(f"{url}: cannot read the actuals table ({exc})") from None
    raise DataError(f"{url}: unsupported file type (expected .csv or .parquet)")


def file_hash(url: str) -> str:
    """SHA-256 of a file's bytes, for the run manifest."""
    h = hashlib.sha256()
    with fsspec.open(url, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def validate_actuals(df: pd.DataFrame, value: str, source: str = "<table>") -> pd.DataFrame:
    """Check columns, dates, duplicates and values; return market, date, value sorted."""
    missing = [c for c in ("market", "date", value) if c not in df.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {missing}; found {list(df.columns)} "
            f"(expected market, date and the value column {value!r} from data.value)"
        )
    out = df[["market", "date", value]].copy()
    blank = out["market"].isna() | (out["market"].astype(str).str.strip() == "")
    if blank.any():
        rows = [
            f"row {i} (date {d!r})"
            for i, d in zip(out.index[blank], out.loc[blank, "date"], strict=True)
        ]
        raise DataError(f"{source}: missing market in {_listing(rows)}")
    out["market"] = out["market"].astype(str).str.strip()
    dates = pd.to_datetime(out["date"], errors="coerce")
    bad_dates = dates.isna()
    if bad_dates.any():
        raw = out.loc[bad_dates]
        examples = [
            f"row {i} ({m}: {d!r})"
            for i, m, d in zip(raw.index, raw["market"], raw["date"], strict=True)
        ]
        raise DataError(f"{source}: unparseable dates in column 'date': {_listing(examples)}")
    out["date"] = dates
    values = pd.to_numeric(out[value], errors="coerce")
    non_numeric = values.isna() & out[value].notna()
    if non_numeric.any():
        raise DataError(
            f"{source}: non-numeric {value!r} values at {_rows_by_market(out, non_numeric)}"
        )
    out[value] = values.astype("float64")
    dup = out.duplicated(["market", "date"], keep=False)
    if dup.any():
        raise DataError(f"{source}: duplicated (market, date) rows at {_rows_by_market(out, dup)}")
    nan = out[value].isna()
    if nan.any():
        raise DataError(f"{source}: NaN {value!r} values at {_rows_by_market(out, nan)}")
    neg = out[value] < 0
    if neg.any():
        raise DataError(f"{source}: negative {value!r} values at {_rows_by_market(out, neg)}")
    return out.sort_values(["market", "date"]).reset_index(drop=True)


def _check_frequency(df: pd.DataFrame, freq: str, source: str) -> None:
    """Every date must sit on the frequency's grid and no market may have gaps."""
    offset = pd.tseries.frequencies.to_offset(freq)
    off_grid = ~df["date"].map(offset.is_on_offset)
    if off_grid.any():
        raise DataError(
            f"{source}: dates that do not match frequency {freq!r} at "
            f"{_rows_by_market(df, off_grid)} (check data.freq, e.g. W-MON means weeks starting Monday)"
        )
    problems = []
    for market, grp in df.groupby("market", sort=True):
        expected = pd.date_range(grp["date"].iloc[0], grp["date"].iloc[-1], freq=freq)
        if len(expected) != len(grp):
            gaps = expected.difference(pd.DatetimeIndex(grp["date"]))
            problems.append(f"{market}: {_listing([str(d)[:10] for d in gaps])}")
    if problems:
        raise DataError(f"{source}: missing periods (gaps) at {'; '.join(problems[:MAX_LISTED])}")


def to_cube(
    df: pd.DataFrame, freq: str, value: str = "users", source: str = "<table>"
) -> xr.Dataset:
    """Build the cube y(market, time) on a regular time axis; NaN before a market's first date."""
    clean = validate_actuals(df, value, source)
    if clean.empty:
        raise DataError(f"{source}: the actuals table has no rows")
    _check_frequency(clean, freq, source)
    time = pd.date_range(clean["date"].min(), clean["date"].max(), freq=freq)
    wide = clean.pivot(index="market", columns="date", values=value).reindex(columns=time)
    y = xr.DataArray(
        wide.to_numpy(dtype="float64"),
        dims=("market", "time"),
        coords={"market": wide.index.to_numpy(dtype=str), "time": time},
        name="y",
        attrs={"long_name": value},
    )
    ds = y.to_dataset()
    ds.attrs.update(freq=freq, value=value, source=source)
    return ds


def load_actuals(url: str, value: str = "users", freq: str = "W-MON") -> xr.Dataset:
    """Read an actuals file and return the validated cube."""
    return to_cube(read_table(url), freq=freq, value=value, source=url)


def restrict(
    cube: xr.Dataset, markets: list[str] | None = None, as_of: str | None = None
) -> xr.Dataset:
    """Keep a subset of markets and/or the periods up to `as_of`; unknown markets are an error."""
    if markets:
        unknown = sorted(set(markets) - set(cube.market.values.tolist()))
        if unknown:
            raise DataError(
                f"unknown market(s) {unknown}; the actuals have {_listing(sorted(cube.market.values.tolist()))}"
            )
        cube = cube.sel(market=list(markets))
    if as_of is not None:
        try:
            cut = pd.Timestamp(as_of)
        except ValueError:
            raise DataError(f"--as-of {as_of!r} is not a date (e.g. 2024-01-29)") from None
        if cut < cube.time.values[0]:
            raise DataError(
                f"--as-of {as_of} is before the first period {str(cube.time.values[0])[:10]}"
            )
        cube = cube.sel(time=slice(None, cut))
    # markets that have no data left after the cut are dropped
    has_data = cube.y.notnull().any("time")
    if not bool(has_data.all()):
        cube = cube.sel(market=has_data.values)
    # periods before the first observation of any kept market carry nothing
    start = int(cube.y.notnull().any("market").argmax("time"))
    return cube.isel(time=slice(start, None)) if start else cube


def history_length(y: xr.DataArray) -> xr.DataArray:
    """Periods from a market's first observation to the end of the cube."""
    observed = y.notnull()
    first = observed.argmax("time")
    return (y.sizes["time"] - first).where(observed.any("time"), 0).rename("history")


def season_length(freq: str) -> int:
    """Main seasonal period (in periods per year, or per week for daily data) of a frequency."""
    offset = pd.tseries.frequencies.to_offset(freq)
    name = offset.name.split("-")[0]
    table = {
        "W": 52,
        "D": 7,
        "B": 5,
        "MS": 12,
        "ME": 12,
        "M": 12,
        "QS": 4,
        "QE": 4,
        "Q": 4,
        "h": 24,
        "H": 24,
    }
    return table.get(name, 1)


def to_frame(y: xr.DataArray, value: str = "users") -> pd.DataFrame:
    """The cube back as a long table (market, date, value) without the leading NaN."""
    df = y.to_dataframe(name=value).reset_index().rename(columns={"time": "date"})
    return df.dropna(subset=[value])[["market", "date", value]].reset_index(drop=True)


__all__ = [
    "file_hash",
    "history_length",
    "load_actuals",
    "read_table",
    "restrict",
    "season_length",
    "to_cube",
    "to_frame",
    "validate_actuals",
]
