"""The input of a job: the markets table's country column reaches QA and cleaning."""

from __future__ import annotations

import pandas as pd

from fcast.config import parse_config
from fcast.jobs.prepare import prepare, run_countries
from tests.data.test_detect import DATES, MARKET, strike_users, swedish_christmas_users


def config(tmp_path, country: str | None, holidays: dict | None = None):
    """A run config over Nordics-North (a strike and Swedish Christmas dips) and a markets table."""
    users = swedish_christmas_users()
    users[120:127] = strike_users()[120:127]
    pd.DataFrame({"market": MARKET, "date": DATES, "users": users}).to_parquet(
        tmp_path / "actuals.parquet"
    )
    markets = pd.DataFrame({"market": [MARKET], "launch_date": [DATES[0]], "country": [country]})
    markets.to_csv(tmp_path / "markets.csv", index=False)
    raw = {
        "data": {"actuals": "actuals.parquet", "markets": "markets.csv"},
        "clean": {"auto": True},
        "holidays": {"country": holidays or {}},
        "horizon": 13,
    }
    return parse_config(raw, base=tmp_path)


def test_the_markets_table_country_gives_cleaning_and_qa_a_calendar(tmp_path):
    prep = prepare(config(tmp_path, "SE"))
    assert run_countries(config(tmp_path, "SE")) == {MARKET: "SE"}
    assert "calendar" not in set(prep.qa["check"])
    record = prep.cleaning
    assert record[["start", "end", "kind", "applied"]].values.tolist() == [
        [DATES[120], DATES[126], "zero", True]
    ]


def test_without_a_country_qa_says_so_and_recurring_dips_stay(tmp_path):
    prep = prepare(config(tmp_path, None))
    calendar = prep.qa[prep.qa["check"] == "calendar"]
    assert calendar[["market", "severity"]].values.tolist() == [[MARKET, "info"]]
    record = prep.cleaning
    assert record.loc[record["applied"], "kind"].tolist() == ["zero"]
    assert (~record.loc[record["kind"] == "dip", "applied"]).all()
    # holidays.country of the config wins over the table
    assert run_countries(config(tmp_path, "SE", {MARKET: "NO"})) == {MARKET: "NO"}
