"""Read an actuals table from any fsspec URL and build the cube y(market, time)."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence

import fsspec
import numpy as np
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


# pandas' default CSV missing-value markers; id columns do not use them (see read_table)
NA_STRINGS = [
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
    "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
]  # fmt: skip
ID_COLUMNS = ("market", "country")


def is_id_column(name: object) -> bool:
    """Columns that hold codes (market, country, *_id): read as text, `NA` is Namibia."""
    text = str(name)
    return text in ID_COLUMNS or text.endswith("_id")


def _read_csv(url: str, compression: str | None, text: Iterable[str] = ()) -> pd.DataFrame:
    """A CSV with its id columns (and `text`) as strings: only an empty field is missing there."""
    with fsspec.open(url, "rb") as fh:
        header = pd.read_csv(fh, compression=compression, nrows=0).columns
    ids = [c for c in header if is_id_column(c) or c in set(text)]
    na = {c: ([""] if c in ids else NA_STRINGS) for c in header}
    with fsspec.open(url, "rb") as fh:
        return pd.read_csv(
            fh,
            compression=compression,
            dtype={c: str for c in ids},
            keep_default_na=False,
            na_values=na,
        )


def read_table(url: str, text: Iterable[str] = ()) -> pd.DataFrame:
    """Read a CSV or Parquet file at an fsspec URL (CSV id columns such as market, and `text`, as text)."""
    lower = url.lower()
    try:
        if lower.endswith((".csv", ".csv.gz", ".txt")):
            return _read_csv(url, "gzip" if lower.endswith(".gz") else None, text)
        with fsspec.open(url, "rb") as fh:
            if lower.endswith((".parquet", ".pq")):
                table = pd.read_parquet(fh)
                # Arrow's allocator keeps the decoded file's buffers: give them back (~1/3 of
                # what the read leaves resident at 3,000 markets)
                pa.default_memory_pool().release_unused()
                return table
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


def read_header(url: str) -> list[str]:
    """The column names of a CSV or Parquet file, without reading its rows."""
    lower = url.lower()
    try:
        with fsspec.open(url, "rb") as fh:
            if lower.endswith((".parquet", ".pq")):
                import pyarrow.parquet as pq

                return list(pq.read_schema(fh).names)
            compression = "gzip" if lower.endswith(".gz") else None
            return [str(c) for c in pd.read_csv(fh, compression=compression, nrows=0).columns]
    except FileNotFoundError:
        raise DataError(f"actuals file not found: {url}") from None
    except (pd.errors.EmptyDataError, pd.errors.ParserError, pa.ArrowException) as exc:
        raise DataError(f"{url}: cannot read the header of the actuals table ({exc})") from None


def column_sources(columns: Mapping[str, str | None] | None, value: str) -> dict[str, str]:
    """Column fcast uses -> the file's column: market, date and `value` as named by `data.columns`."""
    c = dict(columns or {})
    return {
        "market": c.get("market") or "market",
        "date": c.get("date") or "date",
        value: c.get("value") or value,
    }


def check_header(
    header: Iterable[str], columns: Mapping[str, str | None] | None, value: str, source: str
) -> None:
    """A DataError naming the columns the config expects that the file's header lacks."""
    found = [str(c) for c in header]
    want = column_sources(columns, value)
    missing = [col for col in want.values() if col not in found]
    if missing:
        keys = ", ".join(
            f"{k}: {v}" for k, v in zip(("market", "date", "value"), want.values(), strict=True)
        )
        raise DataError(
            f"{source}: missing column(s) {missing}; found {found} "
            f"(data.columns maps the file's columns: {{{keys}}})"
        )


def apply_columns(
    df: pd.DataFrame, columns: Mapping[str, str | None] | None, value: str, source: str
) -> pd.DataFrame:
    """The table with its columns renamed to market, date and `value` as `data.columns` says."""
    want = column_sources(columns, value)
    renames = {src: dst for dst, src in want.items() if src != dst}
    if not renames:
        return df
    check_header(df.columns, columns, value, source)
    shadowed = [c for c, src in want.items() if src != c and c in df.columns and c not in renames]
    return df.drop(columns=shadowed).rename(columns=renames)


def file_hash(url: str) -> str:
    """SHA-256 of a file's bytes, for the run manifest."""
    h = hashlib.sha256()
    with fsspec.open(url, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def codes_of(values: pd.Series, sort: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1: missing) and the distinct values of a column (sorted with `sort`).

    A long table holds each market's rows together: an object column is hashed once per
    run of equal rows, not once per row (`pd.factorize` sizes its hash table by the rows).
    """
    v = values.to_numpy()
    try:
        runs = v.dtype == object and len(v) > 0
        heads = np.flatnonzero(np.r_[True, v[1:] != v[:-1]]) if runs else None
    except TypeError:  # values without a truth value for != (pd.NA): hash every row
        heads = None
    if heads is None:
        codes, uniques = pd.factorize(values)
    else:
        head_codes, uniques = pd.factorize(v[heads])
        codes = np.repeat(head_codes, np.diff(np.r_[heads, len(v)]))
    uniques = np.asarray(uniques, dtype=object)
    if sort and len(uniques):
        order = np.argsort(uniques)
        rank = np.empty(len(order), dtype=codes.dtype)
        rank[order] = np.arange(len(order))
        codes = np.where(codes < 0, codes, rank[codes])
        uniques = uniques[order]
    return codes, uniques


def market_text(market: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each row's market code as stripped text ("" when blank) and whether it is blank.

    The codes are converted once per distinct value, so every row of a market shares one
    string object (a long table holds one pointer per row, not one string).
    """
    codes, uniques = codes_of(market)
    if market.dtype == object and not all(isinstance(u, str) for u in uniques):
        # mixed codes (1 and 1.0 are one value to factorize): convert every row, as text
        codes, uniques = pd.factorize(market.astype(str))
        codes = np.where(market.isna().to_numpy(), -1, codes)
    text = pd.Index(uniques).astype(str).str.strip()
    blank = np.append(np.asarray(text == ""), True)  # the last slot: missing codes (-1)
    names = np.append(np.asarray(text, dtype=object), "")
    bad = blank[codes]
    return np.where(bad, "", names[codes]).astype(object), bad


def duplicated_rows(df: pd.DataFrame) -> np.ndarray:
    """Rows whose (market, date) appears more than once (all of them, as `duplicated(keep=False)`).

    One sort of integer keys: a fraction of the memory `DataFrame.duplicated` takes on two
    columns of a long table.
    """
    codes = codes_of(df["market"])[0]
    dates = df["date"].to_numpy(dtype="datetime64[ns]").view("int64")
    order = np.lexsort((dates, codes))
    c, d = codes[order], dates[order]
    same = (c[1:] == c[:-1]) & (d[1:] == d[:-1])
    in_sorted = np.zeros(len(order), dtype=bool)
    in_sorted[1:] |= same
    in_sorted[:-1] |= same
    out = np.empty(len(order), dtype=bool)
    out[order] = in_sorted
    return out


def validate_actuals(df: pd.DataFrame, value: str, source: str = "<table>") -> pd.DataFrame:
    """Check columns, dates, duplicates and values; return market, date, value sorted."""
    missing = [c for c in ("market", "date", value) if c not in df.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {missing}; found {list(df.columns)} "
            f"(expected market, date and the value column {value!r} from data.value)"
        )
    out = df[["market", "date", value]].copy()
    market, blank = market_text(out["market"])
    if blank.any():
        rows = [
            f"row {i} (date {d!r})"
            for i, d in zip(out.index[blank], out.loc[blank, "date"], strict=True)
        ]
        raise DataError(f"{source}: missing market in {_listing(rows)}")
    out["market"] = market
    aware = timezone_aware(out["date"])
    if aware.any():
        raise DataError(
            f"{source}: timezone-aware dates in column 'date' at "
            f"{_rows_by_market(out.assign(date=out['date'].astype(str)), aware)}; "
            "convert them to naive local dates (e.g. df['date'].dt.tz_localize(None)) first"
        )
    naive = pd.api.types.is_datetime64_dtype(out["date"].dtype)  # already dates: nothing to parse
    dates = out["date"] if naive else pd.to_datetime(out["date"], errors="coerce")
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
    dup = duplicated_rows(out)
    if dup.any():
        raise DataError(f"{source}: duplicated (market, date) rows at {_rows_by_market(out, dup)}")
    nan = out[value].isna()
    if nan.any():
        raise DataError(f"{source}: NaN {value!r} values at {_rows_by_market(out, nan)}")
    infinite = ~np.isfinite(out[value])
    if infinite.any():
        raise DataError(
            f"{source}: non-finite (inf) {value!r} values at {_rows_by_market(out, infinite)}"
        )
    neg = out[value] < 0
    if neg.any():
        raise DataError(f"{source}: negative {value!r} values at {_rows_by_market(out, neg)}")
    return _by_market_and_date(out)


def _by_market_and_date(df: pd.DataFrame) -> pd.DataFrame:
    """The rows sorted by market and date (stable) with a fresh index; no copy when already sorted."""
    codes = codes_of(df["market"], sort=True)[0]
    order = np.lexsort((df["date"].to_numpy().view("int64"), codes))
    if not (order == np.arange(len(order))).all():
        df = df.take(order)
    df.reset_index(drop=True, inplace=True)
    return df


_TZ_SUFFIX = re.compile(r"\d[T ]?\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)$", re.I)


def timezone_aware(dates: pd.Series) -> pd.Series:
    """Which raw dates carry a timezone: a tz-aware dtype, tz-aware objects or an offset in text."""
    if isinstance(dates.dtype, pd.DatetimeTZDtype):
        return pd.Series(True, index=dates.index)
    if dates.dtype != object:
        return pd.Series(False, index=dates.index)

    def aware(v: object) -> bool:
        if isinstance(v, str):
            return bool(_TZ_SUFFIX.search(v.strip()))
        return getattr(v, "tzinfo", None) is not None

    return dates.map(aware).astype(bool)


def allows_time_of_day(freq: str) -> bool:
    """Whether dates of a frequency may carry a time of day (sub-daily frequencies only)."""
    offset = pd.tseries.frequencies.to_offset(freq)
    return isinstance(offset, pd.offsets.Tick) and offset.nanos < pd.Timedelta("1D").value


def on_grid(dates: pd.Series, freq: str) -> pd.Series:
    """Whether each date sits on the frequency's grid, at midnight unless the frequency is sub-daily."""
    offset = pd.tseries.frequencies.to_offset(freq)
    distinct = pd.Index(dates.dropna().unique())  # markets share dates: test each date once
    ok = dates.isin(distinct[[bool(offset.is_on_offset(d)) for d in distinct]])
    if not allows_time_of_day(freq):
        ok &= dates == dates.dt.normalize()
    return ok


def time_of_day(dates: pd.Series, freq: str) -> pd.Series:
    """Dates at a time other than midnight where the frequency has whole days."""
    if allows_time_of_day(freq):
        return pd.Series(False, index=dates.index)
    return dates.notna() & (dates != dates.dt.normalize())


def gappy_markets(df: pd.DataFrame, freq: str) -> list[str]:
    """Markets whose distinct on-grid dates do not fill every period from their first to their last.

    Dates off one common grid make every market a candidate (the caller looks at each).
    Vectorised: one sort of (market, period) keys instead of a groupby over the codes.
    """
    if df.empty:
        return []
    grid = pd.date_range(df["date"].min(), df["date"].max(), freq=freq)
    pos = grid.get_indexer(df["date"])
    if (pos < 0).any():  # not on one common grid: look at every market
        return df["market"].unique().tolist()
    codes, names = codes_of(df["market"])
    keys = codes.astype(np.int64, copy=False)  # (market, period) as one integer, in place
    keys *= len(grid)
    keys += pos
    keys.sort()
    keys = keys[np.r_[True, keys[1:] != keys[:-1]]]  # distinct (np.unique hashes: slow here)
    market = keys // len(grid)
    starts = np.flatnonzero(np.r_[True, market[1:] != market[:-1]])
    ends = np.r_[starts[1:], len(keys)] - 1
    gaps = keys[ends] - keys[starts] + 1 != ends - starts + 1  # same market: periods differ
    return np.asarray(names)[market[starts][gaps]].tolist()


def _check_frequency(df: pd.DataFrame, freq: str, source: str) -> None:
    """Every date must sit on the frequency's grid (at midnight) and no market may have gaps."""
    timed = time_of_day(df["date"], freq)
    if timed.any():
        examples = [
            f"{m}: {d}"
            for m, d in df.loc[timed].groupby("market", sort=True)["date"].first().items()
        ]
        raise DataError(
            f"{source}: dates with a time of day (data.freq {freq!r} has whole days) at "
            f"{_listing(examples)}; give dates at midnight (e.g. df['date'].dt.normalize())"
        )
    off_grid = ~on_grid(df["date"], freq)
    if off_grid.any():
        raise DataError(
            f"{source}: dates that do not match frequency {freq!r} at "
            f"{_rows_by_market(df, off_grid)} (check data.freq, e.g. W-MON means weeks starting Monday)"
        )
    problems = []
    for market, grp in df[df["market"].isin(gappy_markets(df, freq))].groupby("market", sort=True):
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
    # one row per (market, period) on the grid (checked above): place each value in its cell
    codes, markets = codes_of(clean["market"], sort=True)
    wide = np.full((len(markets), len(time)), np.nan)
    wide[codes, time.get_indexer(clean["date"])] = clean[value].to_numpy(dtype="float64")
    y = xr.DataArray(
        wide,
        dims=("market", "time"),
        coords={"market": np.asarray(markets, dtype=str), "time": time},
        name="y",
        attrs={"long_name": value},
    )
    ds = y.to_dataset()
    ds.attrs.update(freq=freq, value=value, source=source)
    return ds


def load_actuals(url: str, value: str = "users", freq: str = "W-MON") -> xr.Dataset:
    """Read an actuals file and return the validated cube."""
    return to_cube(read_table(url), freq=freq, value=value, source=url)


def check_known(markets: Sequence[str], known: Iterable[str]) -> None:
    """Refuse markets that are not in the actuals, naming them and what the actuals have.

    `known` may be raw codes: they are compared as QA reads them, stripped text.
    """
    have = sorted({str(k).strip() for k in known} - {""})
    unknown = sorted(set(markets) - set(have))
    if unknown:
        raise DataError(f"unknown market(s) {unknown}; the actuals have {_listing(have)}")


def restrict(
    cube: xr.Dataset, markets: list[str] | None = None, as_of: str | None = None
) -> xr.Dataset:
    """Keep a subset of markets and/or the periods up to `as_of`; unknown markets are an error."""
    if markets:
        check_known(markets, cube.market.values.tolist())
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
    """Periods from a market's first observation to its own last one (a market may end early)."""
    observed = y.notnull()
    first = observed.argmax("time")
    last = y.sizes["time"] - 1 - observed.isel(time=slice(None, None, -1)).argmax("time")
    return (last - first + 1).where(observed.any("time"), 0).rename("history")


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
    "allows_time_of_day",
    "apply_columns",
    "check_header",
    "codes_of",
    "column_sources",
    "duplicated_rows",
    "file_hash",
    "gappy_markets",
    "history_length",
    "is_id_column",
    "load_actuals",
    "market_text",
    "on_grid",
    "read_header",
    "read_table",
    "restrict",
    "season_length",
    "time_of_day",
    "timezone_aware",
    "to_cube",
    "to_frame",
    "validate_actuals",
]
