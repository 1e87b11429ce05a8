"""Tests for fcast.data.ingest: reading actuals, validation, the cube and its helpers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.data.ingest import (
    apply_columns,
    check_header,
    history_length,
    load_actuals,
    read_header,
    read_table,
    restrict,
    season_length,
    to_cube,
    to_frame,
    validate_actuals,
)
from fcast.errors import DataError

# 2024-01-01 is a Monday: every date below is on the W-MON grid unless stated otherwise.
START = pd.Timestamp("2024-01-01")


def weekly(market: str, start: str, n: int, first_value: float = 10.0) -> pd.DataFrame:
    """n consecutive Mondays of one market, values first_value, first_value + 1, ..."""
    dates = pd.date_range(start, periods=n, freq="W-MON")
    return pd.DataFrame(
        {"market": market, "date": dates, "users": first_value + np.arange(n, dtype=float)}
    )


@pytest.fixture
def actuals() -> pd.DataFrame:
    """Three markets in unsorted order; DK starts three weeks late."""
    return pd.concat(
        [
            weekly("SE", "2024-01-01", 8, 100.0),
            weekly("DK", "2024-01-22", 5, 50.0),
            weekly("NO", "2024-01-01", 8, 10.0),
        ],
        ignore_index=True,
    )


def write_csv(df: pd.DataFrame, path) -> str:
    out = df.copy()
    out["date"] = pd.to_datetime(out["date"]).dt.strftime("%Y-%m-%d")
    out.to_csv(path, index=False)
    return str(path)


def sorted_frame(df: pd.DataFrame) -> pd.DataFrame:
    out = df[["market", "date", "users"]].copy()
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    out["users"] = out["users"].astype("float64")
    return out.sort_values(["market", "date"]).reset_index(drop=True)


# --- round trips ----------------------------------------------------------------------


def test_csv_round_trip(tmp_path, actuals):
    url = write_csv(actuals, tmp_path / "actuals.csv")
    cube = load_actuals(url, value="users", freq="W-MON")
    back = to_frame(cube["y"], value="users")
    back["date"] = back["date"].astype("datetime64[ns]")
    pd.testing.assert_frame_equal(back, sorted_frame(actuals))
    assert cube.attrs == {"freq": "W-MON", "value": "users", "source": url}


def test_parquet_round_trip(tmp_path, actuals):
    path = tmp_path / "actuals.parquet"
    actuals.to_parquet(path, index=False)
    cube = load_actuals(str(path), value="users", freq="W-MON")
    back = to_frame(cube["y"], value="users")
    back["date"] = back["date"].astype("datetime64[ns]")
    pd.testing.assert_frame_equal(back, sorted_frame(actuals))


def test_file_url_round_trip(tmp_path, actuals):
    path = tmp_path / "actuals.parquet"
    actuals.to_parquet(path, index=False)
    url = path.as_uri()
    assert url.startswith("file://")
    cube = load_actuals(url, value="users", freq="W-MON")
    assert cube.attrs["source"] == url
    assert cube["y"].sel(market="SE").values.tolist() == [100.0 + i for i in range(8)]


def test_csv_and_parquet_give_identical_cubes(tmp_path, actuals):
    csv = write_csv(actuals, tmp_path / "a.csv")
    pq = tmp_path / "a.parquet"
    actuals.to_parquet(pq, index=False)
    a = load_actuals(csv)
    b = load_actuals(str(pq))
    xr.testing.assert_identical(a["y"], b["y"])


def test_custom_value_column_and_uppercase_extension(tmp_path):
    df = weekly("SE", "2024-01-01", 4).rename(columns={"users": "sessions"})
    url = write_csv(df, tmp_path / "ACTUALS.CSV")
    cube = load_actuals(url, value="sessions")
    assert cube["y"].attrs["long_name"] == "sessions"
    assert cube["y"].values.tolist() == [[10.0, 11.0, 12.0, 13.0]]


# --- the cube -------------------------------------------------------------------------


def test_cube_dims_and_coords(actuals):
    cube = to_cube(actuals, freq="W-MON", value="users")
    y = cube["y"]
    assert y.dims == ("market", "time")
    assert y.dtype == np.float64
    assert y.name == "y"
    assert cube.market.values.tolist() == ["DK", "NO", "SE"]
    expected_time = pd.date_range("2024-01-01", periods=8, freq="W-MON")
    pd.testing.assert_index_equal(
        pd.DatetimeIndex(cube.time.values), expected_time, check_names=False
    )
    assert pd.infer_freq(pd.DatetimeIndex(cube.time.values)) == "W-MON"


def test_late_market_is_nan_before_first_date(actuals):
    y = to_cube(actuals, freq="W-MON")["y"]
    dk = y.sel(market="DK").values
    assert np.isnan(dk[:3]).all()
    assert dk[3:].tolist() == [50.0, 51.0, 52.0, 53.0, 54.0]
    assert not np.isnan(y.sel(market=["NO", "SE"]).values).any()


def test_monthly_cube():
    dates = pd.date_range("2023-01-01", periods=14, freq="MS")
    df = pd.DataFrame({"market": "FI", "date": dates, "users": np.arange(14.0)})
    cube = to_cube(df, freq="MS")
    assert cube.sizes == {"market": 1, "time": 14}
    assert pd.Timestamp(cube.time.values[-1]) == pd.Timestamp("2024-02-01")


def test_validate_actuals_sorts_and_casts():
    df = pd.DataFrame(
        {
            "market": [2, 1, 1],
            "date": ["2024-01-08", "2024-01-08", "2024-01-01"],
            "users": ["3", "2", "1"],
            "extra": ["x", "y", "z"],
        }
    )
    out = validate_actuals(df, "users")
    assert list(out.columns) == ["market", "date", "users"]
    assert out["market"].tolist() == ["1", "1", "2"]
    assert out["date"].tolist() == [
        pd.Timestamp("2024-01-01"),
        pd.Timestamp("2024-01-08"),
        pd.Timestamp("2024-01-08"),
    ]
    assert out["users"].tolist() == [1.0, 2.0, 3.0]
    assert out["users"].dtype == np.float64


# --- bad input: every one is a DataError naming file, market and dates -------------------


def _drop_week(df, market, date):
    return df[~((df["market"] == market) & (df["date"] == pd.Timestamp(date)))].copy()


def _set_value(df, market, date, value):
    out = df.copy()
    out["users"] = out["users"].astype(object)
    out.loc[(out["market"] == market) & (out["date"] == pd.Timestamp(date)), "users"] = value
    return out


def _duplicate(df, market, date):
    row = df[(df["market"] == market) & (df["date"] == pd.Timestamp(date))]
    return pd.concat([df, row], ignore_index=True)


def _move(df, market, date, new_date):
    out = df.copy()
    out.loc[(out["market"] == market) & (out["date"] == pd.Timestamp(date)), "date"] = pd.Timestamp(
        new_date
    )
    return out


BAD_ROWS = {
    "duplicate": (
        lambda df: _duplicate(df, "NO", "2024-01-15"),
        ["duplicated", "NO", "2024-01-15"],
    ),
    "tuesday": (
        lambda df: _move(df, "SE", "2024-01-15", "2024-01-16"),
        ["W-MON", "SE", "2024-01-16"],
    ),
    "gap": (lambda df: _drop_week(df, "SE", "2024-01-29"), ["gaps", "SE", "2024-01-29"]),
    "nan": (lambda df: _set_value(df, "DK", "2024-02-05", np.nan), ["NaN", "DK", "2024-02-05"]),
    "negative": (
        lambda df: _set_value(df, "NO", "2024-01-08", -3.0),
        ["negative", "NO", "2024-01-08"],
    ),
    "non_numeric": (
        lambda df: _set_value(df, "SE", "2024-02-12", "lots"),
        ["non-numeric", "SE", "2024-02-12"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_ROWS))
def test_bad_rows_raise_data_error_naming_file_market_and_date(tmp_path, actuals, case):
    change, expected = BAD_ROWS[case]
    url = write_csv(change(actuals), tmp_path / f"{case}.csv")
    with pytest.raises(DataError) as info:
        load_actuals(url, value="users", freq="W-MON")
    msg = str(info.value)
    assert url in msg
    for text in expected:
        assert text in msg, f"{text!r} not in {msg!r}"


@pytest.mark.parametrize("case", ["nan", "negative", "duplicate", "tuesday", "gap"])
def test_bad_rows_in_parquet_also_raise(tmp_path, actuals, case):
    change, expected = BAD_ROWS[case]
    df = change(actuals)
    df["users"] = pd.to_numeric(df["users"])
    path = tmp_path / f"{case}.parquet"
    df.to_parquet(path, index=False)
    with pytest.raises(DataError, match=expected[0]) as info:
        load_actuals(str(path))
    assert str(path) in str(info.value)
    assert expected[1] in str(info.value) and expected[2] in str(info.value)


def test_missing_value_column_lists_found_columns(tmp_path, actuals):
    url = write_csv(actuals.rename(columns={"users": "visits"}), tmp_path / "cols.csv")
    with pytest.raises(DataError) as info:
        load_actuals(url, value="users")
    msg = str(info.value)
    assert url in msg
    assert "missing column(s) ['users']" in msg
    assert "found ['market', 'date', 'visits']" in msg


def test_wrong_column_names_lists_all_missing(tmp_path):
    url = tmp_path / "c.csv"
    url.write_text("country,week,users\nSE,2024-01-01,1.0\n")
    with pytest.raises(DataError) as info:
        load_actuals(str(url))
    msg = str(info.value)
    assert str(url) in msg
    assert "['market', 'date']" in msg
    assert "found ['country', 'week', 'users']" in msg


def test_unparseable_dates(tmp_path, actuals):
    df = actuals.copy()
    df["date"] = df["date"].dt.strftime("%Y-%m-%d")
    df.loc[(df["market"] == "SE") & (df["date"] == "2024-01-15"), "date"] = "someday"
    url = tmp_path / "dates.csv"
    df.to_csv(url, index=False)
    with pytest.raises(DataError) as info:
        load_actuals(str(url))
    msg = str(info.value)
    assert str(url) in msg
    assert "unparseable dates" in msg
    assert "SE: 'someday'" in msg


def test_many_bad_rows_are_listed_briefly(actuals):
    df = actuals.copy()
    df.loc[df["market"] == "SE", "users"] = -1.0
    with pytest.raises(DataError) as info:
        to_cube(df, "W-MON", source="t.csv")
    msg = str(info.value)
    # 8 negative weeks: the first five are shown, then a count of the rest
    assert "SE: 2024-01-01, 2024-01-08, 2024-01-15, 2024-01-22, 2024-01-29 and 3 more" in msg


def test_unsupported_extension(tmp_path):
    path = tmp_path / "actuals.xlsx"
    path.write_bytes(b"whatever")
    with pytest.raises(DataError, match="unsupported file type") as info:
        load_actuals(str(path))
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    path = tmp_path / "nope.csv"
    with pytest.raises(DataError, match="not found") as info:
        load_actuals(str(path))
    assert str(path) in str(info.value)


def test_header_only_table_is_empty(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_text("market,date,users\n")
    with pytest.raises(DataError, match="no rows") as info:
        load_actuals(str(path))
    assert str(path) in str(info.value)


def test_empty_parquet_table(tmp_path):
    path = tmp_path / "empty.parquet"
    pd.DataFrame(
        {
            "market": pd.Series([], dtype=str),
            "date": pd.Series([], dtype="datetime64[ns]"),
            "users": pd.Series([], dtype=float),
        }
    ).to_parquet(path, index=False)
    with pytest.raises(DataError, match="no rows"):
        load_actuals(str(path))


def test_zero_byte_csv_is_data_error(tmp_path):
    path = tmp_path / "zero.csv"
    path.write_bytes(b"")
    with pytest.raises(DataError) as info:
        read_table(str(path))
    assert str(path) in str(info.value)


def test_corrupt_parquet_is_data_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"this is not parquet")
    with pytest.raises(DataError) as info:
        read_table(str(path))
    assert str(path) in str(info.value)


def test_missing_market_is_data_error(tmp_path, actuals):
    df = actuals.copy()
    df["market"] = df["market"].astype(object)
    df.loc[0, "market"] = None
    url = write_csv(df, tmp_path / "blank_market.csv")
    with pytest.raises(DataError, match="market"):
        load_actuals(url)


# --- restrict ---------------------------------------------------------------------------


@pytest.fixture
def cube(actuals) -> xr.Dataset:
    return to_cube(actuals, freq="W-MON", source="mem")


def test_restrict_markets_keeps_requested_order(cube):
    out = restrict(cube, markets=["SE", "NO"])
    assert out.market.values.tolist() == ["SE", "NO"]
    assert out.sizes["time"] == 8
    np.testing.assert_array_equal(
        out["y"].sel(market="SE").values, cube["y"].sel(market="SE").values
    )


def test_restrict_none_and_empty_keep_everything(cube):
    xr.testing.assert_identical(restrict(cube), cube)
    xr.testing.assert_identical(restrict(cube, markets=[]), cube)


def test_restrict_unknown_market_lists_it(cube):
    with pytest.raises(DataError) as info:
        restrict(cube, markets=["SE", "XX", "AA"])
    msg = str(info.value)
    assert "unknown market(s) ['AA', 'XX']" in msg
    assert "DK, NO, SE" in msg


def test_restrict_as_of_cuts_time_and_drops_markets_without_data(cube):
    out = restrict(cube, as_of="2024-01-15")
    assert pd.Timestamp(out.time.values[-1]) == pd.Timestamp("2024-01-15")
    assert out.sizes["time"] == 3
    # DK starts on 2024-01-22: nothing left for it
    assert out.market.values.tolist() == ["NO", "SE"]
    assert out["y"].sel(market="SE").values.tolist() == [100.0, 101.0, 102.0]


def test_restrict_as_of_between_periods_keeps_earlier_period(cube):
    out = restrict(cube, as_of="2024-01-17")
    assert pd.Timestamp(out.time.values[-1]) == pd.Timestamp("2024-01-15")


def test_restrict_as_of_before_first_date(cube):
    with pytest.raises(DataError, match="before the first period 2024-01-01"):
        restrict(cube, as_of="2023-12-25")


def test_restrict_unparseable_as_of_is_data_error(cube):
    with pytest.raises(DataError, match="not-a-date"):
        restrict(cube, as_of="not-a-date")


# --- helpers ----------------------------------------------------------------------------


def test_history_length(cube):
    h = history_length(cube["y"])
    assert h.name == "history"
    assert dict(zip(h.market.values.tolist(), h.values.tolist(), strict=True)) == {
        "DK": 5,
        "NO": 8,
        "SE": 8,
    }


def test_history_length_all_nan_market_is_zero():
    y = xr.DataArray(
        [[np.nan, np.nan, np.nan], [np.nan, 1.0, 2.0]],
        dims=("market", "time"),
        coords={"market": ["A", "B"], "time": pd.date_range("2024-01-01", periods=3, freq="W-MON")},
    )
    assert history_length(y).values.tolist() == [0, 2]


@pytest.mark.parametrize(
    ("freq", "expected"),
    [("W-MON", 52), ("W-SUN", 52), ("W", 52), ("D", 7), ("MS", 12), ("QS", 4), ("YS", 1)],
)
def test_season_length(freq, expected):
    assert season_length(freq) == expected


def test_to_frame_drops_leading_nan(cube):
    df = to_frame(cube["y"], value="visits")
    assert list(df.columns) == ["market", "date", "visits"]
    assert len(df) == 8 + 8 + 5
    dk = df[df["market"] == "DK"]
    assert pd.Timestamp(dk["date"].iloc[0]) == pd.Timestamp("2024-01-22")
    assert dk["visits"].tolist() == [50.0, 51.0, 52.0, 53.0, 54.0]


# --- input rules (issue 17: cases 3, 4, 5, 6) ----------------------------------------------


def test_csv_market_na_is_namibia_not_missing(tmp_path, actuals):
    """Case 6: a CSV market `NA` was read as missing ("rows without a market")."""
    df = actuals.replace({"market": {"DK": "NA"}})
    df["country"] = df["market"]
    cube = load_actuals(write_csv(df, tmp_path / "a.csv"))
    assert sorted(cube["market"].values.tolist()) == ["NA", "NO", "SE"]
    table = read_table(write_csv(df, tmp_path / "b.csv"))
    assert table["country"].tolist() == df["country"].tolist()


def test_csv_value_na_is_still_missing_and_empty_market_still_missing(tmp_path, actuals):
    df = actuals.astype({"users": object, "market": object})
    df.loc[0, "users"] = "NA"
    table = read_table(write_csv(df, tmp_path / "a.csv"))
    assert np.isnan(table.loc[0, "users"])
    df = actuals.astype({"market": object})
    df.loc[0, "market"] = ""
    with pytest.raises(DataError, match="missing market"):
        load_actuals(write_csv(df, tmp_path / "b.csv"))


def test_time_of_day_is_an_error_naming_market_and_date(actuals):
    """Case 3: dates at 12:00 on Mondays passed `is_on_offset`."""
    df = actuals.copy()
    df.loc[df["market"] == "DK", "date"] += pd.Timedelta(hours=12)
    with pytest.raises(DataError, match=r"time of day.*DK: 2024-01-22 12:00:00"):
        to_cube(df, "W-MON")


@pytest.mark.parametrize("form", ["dtype", "text"])
def test_timezone_aware_dates_are_an_error(actuals, form):
    """Case 4: tz-aware dates were accepted and mangled."""
    df = actuals.copy()
    dates = df["date"].dt.tz_localize("Europe/Oslo")
    df["date"] = dates if form == "dtype" else dates.astype(str)
    with pytest.raises(DataError, match=r"timezone-aware dates.*DK.*naive local dates"):
        to_cube(df, "W-MON")


@pytest.mark.parametrize("value", [np.inf, -np.inf])
def test_infinite_values_are_an_error(actuals, value):
    """Case 5: inf passed ingestion."""
    df = actuals.copy()
    df.loc[(df["market"] == "NO") & (df["date"] == START), "users"] = value
    with pytest.raises(DataError, match=r"non-finite.*NO: 2024-01-01"):
        to_cube(df, "W-MON")


def test_history_length_ends_at_the_market_own_last_observation():
    """A market that stopped reporting has the history it observed, not up to the panel's end."""
    y = xr.DataArray(
        [[5.0, np.nan, np.nan, np.nan], [1.0, 2.0, 3.0, 4.0], [np.nan, 1.0, 2.0, np.nan]],
        dims=("market", "time"),
        coords={
            "market": ["OLD", "A", "B"],
            "time": pd.date_range("2024-01-01", periods=4, freq="W-MON"),
        },
    )
    assert history_length(y).values.tolist() == [1, 4, 2]


# --- data.columns: the file's own column names -------------------------------------------------

COLUMNS = {"market": "country", "date": "month", "value": "sessions"}


def test_apply_columns_renames_to_market_date_value_and_keeps_codes_as_text(tmp_path):
    path = tmp_path / "own.csv"
    path.write_text("month,country,sessions,market\n2024-01-01,NA,5,x\n2024-02-01,SE,6,y\n")
    table = read_table(str(path), text=["country"])
    assert read_header(str(path)) == ["month", "country", "sessions", "market"]
    out = apply_columns(table, COLUMNS, "sessions", "own.csv")
    assert sorted(out.columns) == [
        "date",
        "market",
        "sessions",
    ]  # the file's own `market` is shadowed
    assert out["market"].tolist() == ["NA", "SE"]  # Namibia, not a missing value
    cube = to_cube(out, freq="MS", value="sessions")
    assert cube.y.sel(market="SE").dropna("time").values.tolist() == [6.0]
    assert apply_columns(table, None, "sessions", "own.csv") is table  # no mapping: untouched


def test_check_header_names_the_missing_columns_and_the_mapping(tmp_path):
    path = tmp_path / "own.parquet"
    pd.DataFrame({"country": ["SE"], "day": ["2024-01-01"], "sessions": [1.0]}).to_parquet(path)
    header = read_header(str(path))
    assert header == ["country", "day", "sessions"]
    with pytest.raises(DataError) as err:
        check_header(header, COLUMNS, "sessions", "own.parquet")
    assert str(err.value) == (
        "own.parquet: missing column(s) ['month']; found ['country', 'day', 'sessions'] "
        "(data.columns maps the file's columns: {market: country, date: month, value: sessions})"
    )
    with pytest.raises(DataError, match=r"missing column\(s\) \['market', 'date', 'users'\]"):
        check_header(header, None, "users", "own.parquet")
    with pytest.raises(DataError, match="actuals file not found"):
        read_header(str(tmp_path / "absent.csv"))
