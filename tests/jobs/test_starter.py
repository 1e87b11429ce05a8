"""`fcast init`'s detection of columns and frequency, and the starter config it writes."""

from __future__ import annotations

import pandas as pd
import pytest
import yaml

from fcast.config import load_config
from fcast.core.space import BUILTIN
from fcast.errors import DataError, FcastError
from fcast.jobs.starter import detect, detect_columns, detect_freq, write_starter


def table(freq: str, n: int = 30, **names: str) -> pd.DataFrame:
    """Two markets of `n` periods under the given column names (market, date, value)."""
    cols = {"market": "market", "date": "date", "value": "users", **names}
    dates = pd.date_range("2022-01-03", periods=n, freq=freq)
    return pd.DataFrame(
        {
            cols["date"]: [str(d.date()) for d in dates] * 2,
            cols["market"]: ["SE"] * n + ["NA"] * n,
            cols["value"]: [float(i) for i in range(2 * n)],
        }
    )


def test_detect_columns_by_name_and_by_content():
    df = table("MS", market="country", date="month", value="sessions")
    assert detect_columns(df, "own.csv") == ("country", "month", "sessions")
    odd = table("MS", market="land", date="stamp", value="amount")
    assert detect_columns(odd, "own.csv") == ("land", "stamp", "amount")
    with pytest.raises(DataError, match="cannot tell which column is the value"):
        detect_columns(odd.drop(columns="amount"), "own.csv")


@pytest.mark.parametrize(
    ("freq", "expected", "kind"),
    [
        ("D", "D", "daily"),
        ("W-MON", "W-MON", "weekly"),
        ("MS", "MS", "monthly"),
        ("QS", "QS", "quarterly"),
    ],
)
def test_detect_freq(freq, expected, kind):
    dates = pd.Series(pd.date_range("2022-01-03", periods=20, freq=freq))
    assert detect_freq(dates, "f") == (expected, kind)
    gappy = dates.drop(index=[3, 7, 8])  # missing periods: the median spacing decides
    assert detect_freq(gappy, "f")[1] == kind


def test_detect_freq_refuses_what_it_cannot_tell():
    with pytest.raises(DataError, match="too few dates"):
        detect_freq(pd.Series(pd.to_datetime(["2024-01-01", "2024-02-01"])), "f")
    yearly = pd.Series(pd.date_range("2000-01-01", periods=10, freq="YS"))
    with pytest.raises(DataError, match="cannot detect a daily, weekly, monthly or quarterly"):
        detect_freq(yearly, "f")


def test_write_starter_is_a_valid_config_and_never_overwrites(tmp_path):
    data = tmp_path / "data" / "own.csv"
    data.parent.mkdir()
    table("MS", n=40, market="country", date="month", value="sessions").to_csv(data, index=False)
    out = tmp_path / "fcast.yaml"
    found = detect(str(data))
    assert (found.markets, found.periods, found.freq, found.kind) == (2, 40, "MS", "monthly")
    write_starter(str(data), out)
    raw = yaml.safe_load(out.read_text())
    assert raw["data"] == {
        "actuals": "data/own.csv",  # relative to the config's folder
        "freq": "MS",
        "columns": {"market": "country", "date": "month", "value": "sessions"},
    }
    cfg = load_config(out)
    assert cfg.space == str(BUILTIN / "monthly.yaml") and cfg.horizon == 12
    assert cfg.data.value == "sessions" and cfg.cv.step == 12
    # the built-in monthly space's measured selection and intervals (its header)
    assert (cfg.select.top, cfg.select.combine, cfg.select.weights) == (24, "median", "equal")
    assert cfg.intervals == "scaled"
    before = out.read_text()
    with pytest.raises(FcastError, match="exists; not overwriting it"):
        write_starter(str(data), out)
    assert out.read_text() == before
    write_starter(str(data), tmp_path / "small.yaml", space="small")
    small = load_config(tmp_path / "small.yaml")
    assert small.space == str(BUILTIN / "small.yaml") and small.intervals == "model"


def test_plain_columns_leave_the_mapping_commented_out(tmp_path):
    data = tmp_path / "plain.csv"
    table("W-MON").to_csv(data, index=False)
    write_starter(str(data), tmp_path / "fcast.yaml")
    cfg = load_config(tmp_path / "fcast.yaml")
    assert cfg.data.column_map is None and cfg.data.freq == "W-MON" and cfg.horizon == 52
    assert cfg.select.combine != "median" and cfg.intervals == "model"  # weekly keeps its own
