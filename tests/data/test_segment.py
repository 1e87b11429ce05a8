"""Segmenting: mature, new (short history or pre-launch) and custom, from the cube and the markets table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from fcast.data import to_cube
from fcast.data.sample import make_sample
from fcast.data.segment import (
    countries_of,
    launch_dates,
    prelaunch_markets,
    read_markets,
    segment,
    validate_markets,
)
from fcast.errors import DataError

END = pd.Timestamp("2024-03-25")


def weekly(market: str, start: str, end: pd.Timestamp = END) -> pd.DataFrame:
    """A constant weekly series from start to end."""
    dates = pd.date_range(start, end, freq="W-MON")
    return pd.DataFrame({"market": market, "date": dates, "users": 100.0})


@pytest.fixture(scope="module")
def cube():
    """A: 52 weeks, B: 10 weeks, C: 52 weeks, D: 52 weeks (but the table says launch is ahead)."""
    parts = [
        weekly("A", "2023-03-27"),
        weekly("B", "2024-01-22"),
        weekly("C", "2023-03-27"),
        weekly("D", "2023-03-27"),
    ]
    return to_cube(pd.concat(parts, ignore_index=True), "W-MON")


@pytest.fixture(scope="module")
def table():
    """Launch dates: E launches after the end (pre-launch), F launched but has no actuals, A unknown (NaT)."""
    return pd.DataFrame(
        {
            "market": ["A", "B", "C", "D", "E", "F"],
            "launch_date": [
                None,
                "2024-01-22",
                "2023-03-27",
                "2024-06-03",
                "2024-05-06",
                "2023-01-02",
            ],
            "population": [1e6] * 6,
        }
    )


def test_segments_with_table(cube, table):
    seg = segment(cube, table, min_history=26, custom=["C"])
    assert seg.dims == ("market",)
    assert dict(seg.to_series()) == {
        "A": "mature",
        "B": "new",
        "C": "custom",
        "D": "new",
        "E": "new",
    }
    assert seg.sel(market="B")["history"].item() == 10
    assert seg.sel(market="E")["history"].item() == 0
    assert pd.Timestamp(seg.sel(market="E")["launch_date"].item()) == pd.Timestamp("2024-05-06")
    assert pd.Timestamp(seg.sel(market="A")["launch_date"].item()) == pd.Timestamp(
        "2023-03-27"
    )  # first observation
    assert prelaunch_markets(seg, END) == ["D", "E"]


def test_segments_without_table_use_history_only(cube):
    seg = segment(cube, None, min_history=26)
    assert dict(seg.to_series()) == {"A": "mature", "B": "new", "C": "mature", "D": "mature"}


def test_as_of_decides_what_is_prelaunch(cube, table):
    seg = segment(cube, table, min_history=26, as_of=pd.Timestamp("2024-06-10"))
    assert seg.sel(market="D").item() == "mature"
    assert (
        "E" not in seg["market"].values
    )  # launched by then but without actuals: nothing to forecast from


def test_launch_dates_prefer_table_then_first_observation(cube, table):
    launch = launch_dates(cube, table)
    assert launch["A"] == pd.Timestamp("2023-03-27")
    assert launch["D"] == pd.Timestamp("2024-06-03")
    assert launch["E"] == pd.Timestamp("2024-05-06")
    assert launch_dates(cube, None)["B"] == pd.Timestamp("2024-01-22")


def test_sample_segments_match_the_hints():
    sample = make_sample()
    cube = to_cube(sample.actuals, "W-MON")
    seg = segment(cube, sample.markets, min_history=104).to_series()
    hints = sample.markets.set_index("market")["segment_hint"].replace({"prelaunch": "new"})
    assert seg.sort_index().equals(hints.sort_index().rename("segment").rename_axis("market"))
    assert sorted(seg.index[seg == "new"]) == ["BD", "GH", "JO", "KZ", "LK", "PK", "RS", "UZ"]


def test_missing_launch_date_column_names_file_and_column(cube):
    bad = pd.DataFrame({"market": ["A"], "population": [1.0]})
    bad.attrs["source"] = "data/markets.csv"
    with pytest.raises(DataError, match=r"data/markets.csv: missing column\(s\) \['launch_date'\]"):
        segment(cube, bad, min_history=26)


def test_bad_rows_are_named():
    bad_date = pd.DataFrame({"market": ["A", "B"], "launch_date": ["2024-01-01", "soon"]})
    with pytest.raises(DataError, match=r"unparseable launch_date for B \('soon'\)"):
        validate_markets(bad_date)
    dup = pd.DataFrame({"market": ["A", "A"], "launch_date": ["2024-01-01", "2024-01-08"]})
    with pytest.raises(DataError, match="listed more than once: A"):
        validate_markets(dup)
    blank = pd.DataFrame({"market": ["A", " "], "launch_date": ["2024-01-01", "2024-01-08"]})
    with pytest.raises(DataError, match=r"missing market code in row\(s\) 1"):
        validate_markets(blank)


def test_unknown_custom_market_is_an_error(cube, table):
    with pytest.raises(DataError, match=r"segments.custom lists unknown market\(s\) \['ZZ'\]"):
        segment(cube, table, min_history=26, custom=["ZZ"])


def test_read_markets(tmp_path, table):
    path = tmp_path / "markets.parquet"
    table.assign(launch_date=pd.to_datetime(table["launch_date"])).to_parquet(path)
    got = read_markets(str(path))
    assert got.attrs["source"] == str(path)
    assert got["launch_date"].dtype.kind == "M"
    assert np.isnat(got["launch_date"].to_numpy()[0])
    with pytest.raises(DataError, match="markets file not found: .*nope.csv"):
        read_markets(str(tmp_path / "nope.csv"))


def test_country_column_names_a_markets_holiday_country():
    table = pd.DataFrame(
        {
            "market": ["Nordics-North", "DE", "LATAM"],
            "launch_date": ["2020-01-06"] * 3,
            "country": [" se ", None, ""],
        }
    )
    assert validate_markets(table)["country"].tolist() == ["SE", None, None]
    assert countries_of(table) == {"Nordics-North": "SE"}
    assert countries_of(table.drop(columns="country")) == {} and countries_of(None) == {}
    bad = table.assign(country=["SE", "XX", None])
    bad.attrs["source"] = "markets.csv"
    with pytest.raises(DataError, match=r"markets.csv: unknown country code for DE \('XX'\)"):
        validate_markets(bad)
