"""Preparing a job's input: the same QA findings, cube and cleaning whatever the blocks and workers;
the markets table's country column and the cleaning options reach QA and cleaning in every block."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.config import parse_config
from fcast.data.sample import copy_countries, make_scaled_sample
from fcast.errors import DataError
from fcast.jobs.prepare import Prepared, QAFailed, prepare, run_countries
from tests.conftest import tiny_project
from tests.data.test_detect import DATES, MARKET, strike_users, swedish_christmas_users


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """A config and raw actuals of 23 generated markets with QA findings of every cube check."""
    folder = tmp_path_factory.mktemp("prepare")
    raw = make_scaled_sample(23, years=3.0).actuals
    markets = sorted(raw["market"].unique())
    stale, short, jumpy = markets[3], markets[10], markets[17]
    raw = raw[
        ~((raw["market"] == stale) & (raw["date"] > raw["date"].max() - pd.Timedelta(weeks=4)))
    ]
    raw = raw[
        ~((raw["market"] == short) & (raw["date"] < raw["date"].max() - pd.Timedelta(weeks=30)))
    ]
    raw = raw.copy()
    hit = (raw["market"] == jumpy) & (raw["date"] == raw["date"].max() - pd.Timedelta(weeks=20))
    raw.loc[hit, "users"] *= 5.0  # a one-week spike: a jump and a detected disruption
    raw.loc[raw.index[(raw["market"] == markets[5])][40], "users"] = 0.0  # a zero
    raw = raw.reset_index(drop=True)
    raw.to_csv(folder / "actuals.csv", index=False)
    cfg = tiny_project(
        folder,
        data={"actuals": "actuals.csv", "freq": "W-MON"},
        holidays={"country": copy_countries(markets)},
        clean={"auto": True},
    )
    return cfg, raw


def _same(a: Prepared, b: Prepared) -> None:
    """Equal findings, cleaning records, cubes and segments."""
    pd.testing.assert_frame_equal(a.qa, b.qa)
    pd.testing.assert_frame_equal(a.cleaning, b.cleaning)
    xr.testing.assert_identical(a.cube, b.cube)
    xr.testing.assert_identical(a.segments, b.segments)


@pytest.fixture(scope="module")
def reference(project: tuple) -> Prepared:
    """Prepared in this process, all markets in one block."""
    cfg, raw = project
    return prepare(cfg, raw=raw)


def test_reference_has_findings_and_cleaning(reference: Prepared) -> None:
    """The data exercises every per-market check and the cleaning."""
    checks = set(reference.qa["check"])
    assert {"stale", "jump", "short_history", "zero"} <= checks
    assert reference.cleaning["applied"].any()
    changed = ~np.isclose(reference.cube["y"], reference.cube["y_clean"], equal_nan=True)
    assert changed.any()


@pytest.mark.parametrize("block_markets", [1, 4, 7])
def test_in_process_blocks_give_the_same_input(
    project: tuple, reference: Prepared, block_markets: int
) -> None:
    """Blocks of any size in this process give what one block gives."""
    cfg, raw = project
    _same(reference, prepare(cfg, raw=raw, block_markets=block_markets))


@pytest.mark.parametrize(("workers", "block_markets"), [(1, 5), (2, 3), (2, None)])
def test_cluster_blocks_give_the_same_input(
    project: tuple,
    reference: Prepared,
    request: pytest.FixtureRequest,
    workers: int,
    block_markets: int | None,
) -> None:
    """On 1 or 2 workers, with any block size (None: sized for the cluster), the input is the same."""
    cfg, raw = project
    client = request.getfixturevalue(f"client{workers}")
    _same(
        reference, prepare(cfg, raw=raw, client=client, block_markets=block_markets, progress=False)
    )


def test_charts_on_the_cluster_are_the_charts_in_process(
    reference: Prepared, client2: object, tmp_path: object
) -> None:
    """The cluster draws a chart for every cleaned market, as this process does."""
    pytest.importorskip("hvplot")
    from fcast.infra.store import Store
    from fcast.jobs.prepare import write_inputs

    names = []
    for where, client in (("here", None), ("cluster", client2)):
        store = Store(str(tmp_path / where))
        write_inputs(store, "run-1", reference, client, progress=False)
        names.append(
            sorted(p.name for p in (tmp_path / where / "runs" / "run-1" / "charts").glob("*.html"))
        )  # next to static/, the one copy of BokehJS they share
    cleaned = reference.cleaning.loc[reference.cleaning["applied"], "market"].unique()
    assert names[0] == names[1] and len(names[0]) == len(cleaned)


def test_the_chart_bound_draws_the_largest_changes_only(reference: Prepared, tmp_path) -> None:
    """clean.charts = k: charts for the k markets of most_changed, none for the rest; 0: none."""
    pytest.importorskip("hvplot")
    from fcast.data.clean import most_changed
    from fcast.infra.store import Store
    from fcast.jobs.prepare import write_inputs
    from fcast.output.plots import chart_name

    cleaned = most_changed(reference.cleaning, None)
    assert len(cleaned) >= 3  # the fixture cleans several markets
    store = Store(str(tmp_path))
    write_inputs(store, "run-2", reference, None, progress=False, limit=2)
    charts = tmp_path / "runs" / "run-2" / "charts"
    assert sorted(p.name for p in charts.glob("*.html")) == sorted(
        chart_name(m) for m in cleaned[:2]
    )
    write_inputs(store, "run-3", reference, None, progress=False, limit=0)
    assert not (tmp_path / "runs" / "run-3" / "charts").exists()
    assert len(store.read_parquet("runs", "run-3", "cleaning.parquet")) == len(reference.cleaning)


def config(
    tmp_path,
    country: str | None,
    holidays: dict | None = None,
    clean: dict | None = None,
    names: tuple[str, ...] = (MARKET,),
):
    """A run config over Nordics-North (a strike and Swedish Christmas dips) and a markets table.

    `names`: markets with that series (the later ones scaled up); `clean`: more cleaning options.
    """
    users = swedish_christmas_users()
    users[120:127] = strike_users()[120:127]
    actuals = pd.concat(
        [
            pd.DataFrame({"market": name, "date": DATES, "users": users * (1 + 0.5 * i)})
            for i, name in enumerate(names)
        ]
    )
    actuals.to_parquet(tmp_path / "actuals.parquet")
    markets = pd.DataFrame(
        {"market": list(names), "launch_date": DATES[0], "country": [country] * len(names)}
    )
    markets.to_csv(tmp_path / "markets.csv", index=False)
    raw = {
        "data": {"actuals": "actuals.parquet", "markets": "markets.csv"},
        "clean": {"auto": True, **(clean or {})},
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


def test_blocks_get_the_table_countries_and_the_cleaning_options(tmp_path, client2):
    """Blocks of one market on the cluster see the table's country and clean.max_zero_periods."""
    names = (MARKET, "Nordics-South", "Nordics-East")
    cfg = config(tmp_path, "SE", clean={"max_zero_periods": 4, "near_zero": 0.1}, names=names)
    here = prepare(cfg)
    _same(here, prepare(cfg, client=client2, block_markets=1, progress=False))
    assert "calendar" not in set(here.qa["check"])  # every block knew the country
    zero = here.cleaning[here.cleaning["kind"] == "zero"]
    assert sorted(zero["market"]) == sorted(names)
    assert not zero["applied"].any()  # 7 zero weeks > max_zero_periods: proposed for review
    assert zero["note"].str.contains("not removed").all()


def test_an_unknown_market_is_refused_before_qa(project: tuple) -> None:
    """A typo in `--markets` is named at once: QA never runs, so blocking QA errors do not hide it."""
    cfg, raw = project
    broken = pd.concat([raw, raw.head(3)], ignore_index=True)  # duplicates: QA would fail
    with pytest.raises(DataError, match=r"unknown market\(s\) \['XX'\]; the actuals have "):
        prepare(cfg, markets=[raw["market"].iloc[0], "XX"], raw=broken)
    with pytest.raises(QAFailed, match="duplicates"):  # a known market reaches QA as before
        prepare(cfg, markets=[raw["market"].iloc[0]], raw=broken)


def test_a_padded_market_code_is_known_by_its_stripped_name(project: tuple) -> None:
    """`--markets SE` finds a market the file spells " SE " (QA strips codes): the early check does too."""
    cfg, raw = project
    first = raw["market"].iloc[0]
    padded = raw.assign(market=raw["market"].where(raw["market"] != first, f" {first} "))
    prep = prepare(cfg, markets=[first], raw=padded)
    assert first in prep.cube["market"].values.tolist()
