"""Totals in the jobs: aggregate rows in forecast.parquet, coherent, moved by adjustments, in the insights."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fcast.contract import aggregate_rows, forecast_columns, market_rows
from fcast.infra.store import Store
from fcast.jobs.pipeline import run_tuning, run_weekly
from fcast.jobs.publish import publish_run
from tests.conftest import tiny_project

pytest.importorskip("hierarchicalforecast")

MARKETS = ("DK", "FI", "NO", "SE", "DE")
REGION = {"DK": "Nordics", "FI": "Nordics", "NO": "Nordics", "SE": "Nordics", "DE": "Central"}
PERIODS = 180
LAST = pd.date_range("2021-01-04", periods=PERIODS, freq="W-MON")[-1]


def _adjustment(folder) -> None:
    """SE +20% over the first 4 weeks of the horizon."""
    start, end = LAST + pd.Timedelta(weeks=1), LAST + pd.Timedelta(weeks=4)
    (folder / "adj.yaml").write_text(
        "adjustments:\n"
        f"  - {{id: se-up, market: SE, start: {start:%Y-%m-%d}, end: {end:%Y-%m-%d}, "
        "kind: multiplicative, value: 1.2, reason: campaign, author: ana, "
        "created: '2026-11-18 09:30:00+00:00'}\n"
    )


@pytest.fixture(scope="module")
def weekly(tmp_path_factory):
    """A tuned project with regions and an SE adjustment, then its weekly run."""
    folder = tmp_path_factory.mktemp("totals")
    pd.DataFrame(
        {"market": list(REGION), "launch_date": "2019-01-07", "region": list(REGION.values())}
    ).to_csv(folder / "markets.csv", index=False)
    _adjustment(folder)
    cfg = tiny_project(
        folder,
        markets=MARKETS,
        periods=PERIODS,
        hierarchy={"groups": ["region"], "family": "ets", "params": {"spec": "AAN"}},
        adjustments="adj.yaml",
    )
    cfg.data.markets = str(folder / "markets.csv")
    run_tuning(cfg, progress=False)
    return cfg, run_weekly(cfg, progress=False)


def test_forecast_has_coherent_total_and_region_rows(weekly) -> None:
    """forecast.parquet: market, region and total rows; markets sum to regions and regions to the total."""
    cfg, result = weekly
    table = Store(cfg.store).read_parquet("runs", result.run_id, "forecast.parquet")
    assert set(forecast_columns(cfg.levels, adjusted=True, hierarchy=True)) <= set(table.columns)
    assert table.columns[-1] == "level"
    agg = aggregate_rows(table)
    assert set(zip(agg["level"], agg["market"], strict=True)) == {
        ("total", "TOTAL"),
        ("region", "Nordics"),
        ("region", "Central"),
    }
    markets = market_rows(table).assign(region=lambda d: d["market"].map(REGION))
    by_region = markets.groupby(["region", "date"])["yhat"].sum()
    regions = agg[agg["level"] == "region"].set_index(["market", "date"])["yhat"]
    np.testing.assert_allclose(regions.sort_index(), by_region.sort_index(), atol=1e-6)
    total = agg[agg["level"] == "total"].set_index("date")["yhat"]
    np.testing.assert_allclose(total, markets.groupby("date")["yhat"].sum(), atol=1e-6)
    for lv in cfg.levels:
        assert (agg[f"yhat_lo_{lv}"] <= agg["yhat"]).all() and (
            agg["yhat"] <= agg[f"yhat_hi_{lv}"]
        ).all()
    assert (agg["yhat_hi_95"] > agg["yhat_hi_80"]).all()
    assert len(result.forecast) == len(markets)  # the job hands back the market rows


def test_adjustment_moves_region_and_total(weekly) -> None:
    """The SE adjustment moves Nordics and the total by the same amount, base values kept."""
    cfg, result = weekly
    table = Store(cfg.store).read_parquet("runs", result.run_id, "forecast.parquet")
    se = market_rows(table).query("market == 'SE'").set_index("date")
    moved = (se["yhat"] - se["yhat_base"]).loc[lambda s: s.abs() > 0]
    assert len(moved) == 4
    agg = aggregate_rows(table)
    for name in ("TOTAL", "Nordics"):
        rows = agg[agg["market"] == name].set_index("date")
        np.testing.assert_allclose(
            (rows["yhat"] - rows["yhat_base"]).loc[moved.index], moved, rtol=1e-9
        )
    central = agg[agg["market"] == "Central"]
    np.testing.assert_allclose(central["yhat"], central["yhat_base"])


def test_insights_lead_with_total_and_groups(weekly) -> None:
    """insights.md: the total and each region with their bands, and the adjustments' part."""
    cfg, result = weekly
    text = publish_run(cfg.store, result.run_id, "v1", report=False).insights
    section = text.split("## Total and groups")[1].split("\n## ")[0]
    assert "80%:" in section and "95%:" in section
    assert "- Nordics:" in section and "- Central:" in section
    assert text.index("## Total and groups") < text.index("## Quality control")
    assert "markets in" not in text or "5 markets" in text


def test_report_shows_total_and_groups_first(weekly, tmp_path) -> None:
    """The report's overview has the total's bands; the group figures come before the markets'."""
    from fcast.jobs.publish import load_run
    from fcast.output.report import build_report
    from fcast.output.report.views import group_views, total_view

    cfg, result = weekly
    run = load_run(Store(cfg.store), result.run_id)
    assert set(run.forecast["market"]) == set(MARKETS) and len(run.hierarchy) == 2 * len(MARKETS)
    total = total_view(run, {})
    assert "yhat_lo_95" in total.forecast and total.forecast["yhat_lo_95"].notna().all()
    groups = group_views(run, {})
    assert [(lv, v.market) for lv, v in groups] == [("region", "Nordics"), ("region", "Central")]
    nordics = groups[0][1]
    expected = (
        run.actuals[run.actuals["market"] != "DE"]
        .groupby("date")["y"]
        .sum()
        .tail(len(nordics.actuals))
    )
    np.testing.assert_allclose(nordics.actuals["y"], expected.to_numpy())
    page = Path(build_report(run, {}, tmp_path / "report", pngs=False)).read_text(encoding="utf-8")
    heads = [page.index(f"<h3>{t}</h3>") for t in ("Nordics (region)", "Central (region)", "DK")]
    assert heads == sorted(heads)


def test_a_market_without_a_group_fails_before_compute(tmp_path) -> None:
    """A market with no region in the markets table is a data error naming it, before any tuning."""
    from fcast.errors import DataError

    pd.DataFrame(
        {"market": list(REGION), "launch_date": "2019-01-07", "region": ["N", "N", "N", "N", None]}
    ).to_csv(tmp_path / "markets.csv", index=False)
    cfg = tiny_project(tmp_path, markets=MARKETS, periods=PERIODS, hierarchy={"groups": ["region"]})
    cfg.data.markets = str(tmp_path / "markets.csv")
    with pytest.raises(DataError, match=r"\['DE'\]"):
        run_tuning(cfg, progress=False)
    runs = Store(cfg.store).runs()
    assert not any(Path(cfg.store, "runs", r["run_id"], "tuning.zarr").exists() for r in runs)


def test_auto_method_is_chosen_on_the_cv_splits(weekly, caplog) -> None:
    """hierarchy.method auto: the job logs the CV scores and reconciles with the winner, coherently."""
    import logging

    cfg, _ = weekly
    auto = cfg.model_copy(deep=True)
    auto.hierarchy.method = "auto"
    with caplog.at_level(logging.INFO, logger="fcast.jobs.totals"):
        result = run_weekly(auto, progress=False)
    line = next(r.message for r in caplog.records if "hierarchy.method auto" in r.message)
    chosen = line.split("auto: ")[1].split(" ")[0]
    table = Store(cfg.store).read_parquet("runs", result.run_id, "forecast.parquet")
    agg = aggregate_rows(table)
    assert agg["family"].str.startswith(f"{chosen}(").all()
    total = agg[agg["level"] == "total"].set_index("date")["yhat"]
    np.testing.assert_allclose(total, market_rows(table).groupby("date")["yhat"].sum(), atol=1e-6)


def test_console_totals_lines_read_in_short_numbers() -> None:
    """The run's console line for an aggregate: 'total at <date>: 240.4M (95%: 226.5M to 254.3M)'."""
    from fcast.jobs.totals import totals_lines

    rows = pd.DataFrame(
        {
            "market": ["DK", "TOTAL", "Nordics"],
            "level": ["market", "total", "region"],
            "date": pd.Timestamp("2027-11-15"),
            "yhat": [1.0, 240_383_482.0, 12_345.0],
            "yhat_lo_95": [0.5, 226_516_470.0, 950.0],
            "yhat_hi_95": [1.5, 254_250_493.0, 1.5e9],
        }
    )
    assert totals_lines(rows) == [
        "total at 2027-11-15: 240.4M (95%: 226.5M to 254.3M)",
        "region Nordics at 2027-11-15: 12.35k (95%: 950 to 1.5B)",
    ]


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A project whose total and regions are tuned like markets (no `hierarchy.family`): tuning, weekly."""
    folder = tmp_path_factory.mktemp("tuned")
    pd.DataFrame(
        {"market": list(REGION), "launch_date": "2019-01-07", "region": list(REGION.values())}
    ).to_csv(folder / "markets.csv", index=False)
    cfg = tiny_project(folder, markets=MARKETS, periods=PERIODS, hierarchy={"groups": ["region"]})
    cfg.data.markets = str(folder / "markets.csv")
    return cfg, run_tuning(cfg, progress=False), run_weekly(cfg, progress=False)


def _tuned_alone(cfg, key: str, folder: Path) -> pd.DataFrame:
    """The selection of one summed series tuned and selected alone, with the run's space, splits and select config."""
    from fcast.core.label import label
    from fcast.core.select import select
    from fcast.core.space import load_space
    from fcast.core.tune import tune
    from fcast.jobs.prepare import min_train, prepare
    from fcast.jobs.totals import aggregate_panel

    prep = prepare(cfg, progress=False)
    y = aggregate_panel(cfg, prep).sel(market=[key])
    labels = label(
        prep.cube.time, cfg.cv.splits, cfg.cv.step, cfg.cv_horizon, cfg.cv.holdout, min_train(cfg)
    )
    tuning, _ = tune(
        y,
        labels,
        load_space(cfg.space, cfg.data.freq),
        str(folder / "alone.zarr"),
        horizon=cfg.cv_horizon,
        metric=cfg.tune.metric,
        season_length=52,
        min_train=min_train(cfg),
        progress=False,
    )
    return select(
        tuning,
        y,
        top=cfg.select.top,
        combine=cfg.select.combine,
        weights=cfg.select.weights,
        holdout=cfg.cv.holdout,
        weighting=cfg.select.weighting,
    )


@pytest.mark.parametrize("key", ["total:TOTAL", "region:Nordics"])
def test_aggregates_are_tuned_like_a_market_alone(tuned, key, tmp_path) -> None:
    """The run's selection of an aggregate (members, weights, CV and holdout errors) is that of its summed series tuned alone."""
    cfg, result, _ = tuned
    run = result.selection[result.selection["market"] == key].reset_index(drop=True)
    alone = _tuned_alone(cfg, key, tmp_path).reset_index(drop=True)
    cols = ["label", "rank", "weight", "cv_score", "holdout_score"]
    assert len(run) and (run["weight"] > 0).any()
    pd.testing.assert_frame_equal(run[cols], alone[cols])


def test_weekly_refits_the_tuned_aggregates(tuned) -> None:
    """The weekly run forecasts the total and regions with their tuned selections, coherent with the markets."""
    cfg, tuning, weekly = tuned
    store = Store(cfg.store)
    sel = store.read_parquet("runs", weekly.run_id, "selection.parquet")
    assert {"total:TOTAL", "region:Nordics", "region:Central"} <= set(sel["market"])
    table = store.read_parquet("runs", weekly.run_id, "forecast.parquet")
    agg = aggregate_rows(table)
    chosen = tuning.selection[tuning.selection["weight"] > 0]
    label = chosen.loc[chosen["market"] == "total:TOTAL", "label"].iloc[0]  # ets(ANN)
    total = agg[agg["level"] == "total"]
    assert (total["family"] == f"bottom_up({label.split('(')[0]})").all()
    np.testing.assert_allclose(
        total.set_index("date")["yhat"],
        market_rows(table).groupby("date")["yhat"].sum(),
        atol=1e-6,
    )


def test_forecast_zarr_holds_every_series_base_forecast(tuned) -> None:
    """forecast.zarr: the markets' and aggregates' base forecasts with level(market), named as base forecasts."""
    import xarray as xr

    from fcast.jobs.totals import BASE_CONTENT

    cfg, _, weekly = tuned
    store = Store(cfg.store)
    cube = xr.open_zarr(store.run_url(weekly.run_id, "forecast.zarr"), consolidated=True).load()
    assert cube.attrs["content"] == BASE_CONTENT
    level = dict(zip(cube["market"].values.tolist(), cube["level"].values.tolist(), strict=True))
    assert level["total:TOTAL"] == "total" and level["region:Nordics"] == "region"
    assert {level[m] for m in MARKETS} == {"market"}
    table = store.read_parquet("runs", weekly.run_id, "forecast.parquet")
    se = market_rows(table).query("market == 'SE'").set_index("date")["yhat"]
    np.testing.assert_allclose(cube["yhat"].sel(market="SE").to_series().reindex(se.index), se)


def test_notebook_and_warehouse_readers_carry_the_aggregate_rows(tuned, tmp_path) -> None:
    """A published vintage with totals: `fcast.notebook.vintages` and the SQL channel's table hold the total and groups with level."""
    from fcast.infra.warehouse import SqlSink, duckdb_url, read_vintages_sql, write_store_vintage
    from fcast.notebook import vintages

    cfg, _, weekly = tuned
    publish_run(cfg.store, weekly.run_id, "t1", report=False)
    table = Store(cfg.store).read_parquet("runs", weekly.run_id, "forecast.parquet")
    total = aggregate_rows(table).query("level == 'total'").set_index("date")["yhat"]
    cube = vintages(cfg.store, ["t1"])
    assert cube["level"].sel(market="total:TOTAL").item() == "total"
    assert cube["level"].sel(market="region:Nordics").item() == "region"
    assert cube["level"].sel(market="SE").item() == "market"
    np.testing.assert_allclose(cube["yhat"].sel(vintage="t1", market="total:TOTAL"), total)
    sink = SqlSink(url=duckdb_url(str(tmp_path / "wh.duckdb")), table="official")
    assert write_store_vintage(cfg.store, "t1", sink) == len(table)
    rows = read_vintages_sql(sink, "t1")
    assert set(rows["level"]) == {"market", "total", "region"}
    sql_total = rows[rows["level"] == "total"].assign(date=lambda r: pd.to_datetime(r["date"]))
    np.testing.assert_allclose(sql_total.set_index("date")["yhat"].sort_index(), total.sort_index())


def test_conformal_half_widths_of_the_markets_ignore_the_aggregates(tmp_path) -> None:
    """intervals: conformal with tuned aggregates: the stored half-widths are those of the markets alone, and weekly runs."""
    from fcast.jobs.intervals import CONFORMAL_FILE

    widths = []
    for name, hierarchy in (("plain", None), ("totals", {})):
        folder = tmp_path / name
        folder.mkdir()
        extra = {} if hierarchy is None else {"hierarchy": hierarchy}
        cfg = tiny_project(folder, markets=MARKETS, periods=PERIODS, intervals="conformal", **extra)
        run = run_tuning(cfg, progress=False)
        widths.append(Store(cfg.store).read_parquet("runs", run.run_id, CONFORMAL_FILE))
    pd.testing.assert_frame_equal(widths[0], widths[1])
    table = Store(cfg.store).read_parquet(
        "runs", run_weekly(cfg, progress=False).run_id, "forecast.parquet"
    )
    assert set(aggregate_rows(table)["market"]) == {"TOTAL"}
