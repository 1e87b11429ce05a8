"""Ragged panels: markets that end on different dates are forecast and cross-validated from their own ends."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.errors import FcastError
from fcast.infra.store import Store
from fcast.jobs.pipeline import QAFailed, prepare, run_tuning, run_weekly
from tests.conftest import tiny_project

EARLY = 20  # DK's last week lies this many weeks before the others'
WEEK = pd.offsets.Week(weekday=0)


def ragged(folder, **overrides):
    """A 3-market tiny project whose DK stops reporting EARLY weeks before FI and NO."""
    cfg = tiny_project(folder, markets=("DK", "FI", "NO"), **overrides)
    df = pd.read_csv(folder / "actuals.csv", parse_dates=["date"])
    cut = df["date"].max() - EARLY * WEEK
    df = df[~((df["market"] == "DK") & (df["date"] > cut))]
    df.to_csv(folder / "actuals.csv", index=False)
    return cfg, df


def last_of(df: pd.DataFrame, market: str) -> pd.Timestamp:
    return df.loc[df["market"] == market, "date"].max()


def qc_of(cfg, run_id: str) -> pd.DataFrame:
    return Store(cfg.store).read_parquet("runs", run_id, "qc.parquet")


def test_a_market_that_ends_early_is_tuned_and_forecast_from_its_own_last_week(tmp_path):
    cfg, df = ragged(tmp_path)
    tuned = run_tuning(cfg, progress=False)
    fc = tuned.forecast
    for market in ("DK", "FI", "NO"):
        rows = fc[fc["market"] == market].sort_values("date")
        end = last_of(df, market)
        assert rows["date"].tolist() == list(pd.date_range(end + WEEK, periods=13, freq="W-MON"))
        assert (rows["origin"] == end).all()
    assert last_of(df, "DK") == last_of(df, "FI") - EARLY * WEEK
    assert tuned.manifest["cv"]["shifted"] == {"DK": EARLY}
    # DK's CV windows and holdout lie on its own data: every cell fitted, every score finite
    cube = xr.open_zarr(Store(cfg.store).run_url(tuned.run_id, "tuning.zarr"))
    dk = cube.sel(market="DK")
    assert (dk["status"] == 0).all() and np.isfinite(dk["error"]).all()
    assert pd.Timestamp(dk["origin"].values) == last_of(df, "DK")
    chosen = tuned.selection[(tuned.selection["market"] == "DK") & (tuned.selection["weight"] > 0)]
    assert np.isfinite(chosen[["cv_score", "holdout_score"]].to_numpy()).all()
    qc = qc_of(cfg, tuned.run_id)
    assert not (qc["severity"] == "error").any(), qc[qc["severity"] == "error"]
    assert qc.loc[qc["check"] == "starts_after_actuals", "severity"].tolist() == ["ok"]
    weekly = run_weekly(cfg, progress=False)
    dk_weekly = weekly.forecast[weekly.forecast["market"] == "DK"]
    assert dk_weekly["date"].min() == last_of(df, "DK") + WEEK
    assert (dk_weekly["origin"] == last_of(df, "DK")).all()


HOLIDAY_SPACE = "families:\n  arima: {p: [1], d: [1], q: [1], holidays: [all]}\n"


@pytest.mark.parametrize("holidays", [False, True], ids=["plain", "holiday-regressors"])
def test_the_early_market_scores_as_if_tuned_alone_on_its_own_data(tmp_path, holidays):
    """Known answer: DK in the ragged panel gets the CV errors and forecast of DK tuned alone.

    With holiday regressors this holds only if DK's features follow DK's own dates.
    """
    (tmp_path / "panel").mkdir()
    (tmp_path / "alone").mkdir()
    cfg, df = ragged(tmp_path / "panel")
    alone_dir = tmp_path / "alone"
    alone = tiny_project(alone_dir, markets=("DK",))
    df[df["market"] == "DK"].to_csv(alone_dir / "actuals.csv", index=False)
    if holidays:
        for folder in ("panel", "alone"):
            (tmp_path / folder / "space.yaml").write_text(HOLIDAY_SPACE)
    panel_run, alone_run = run_tuning(cfg, progress=False), run_tuning(alone, progress=False)

    def dk_errors(c, run):
        return xr.open_zarr(Store(c.store).run_url(run.run_id, "tuning.zarr"))["error"].sel(
            market="DK"
        )

    np.testing.assert_allclose(dk_errors(cfg, panel_run), dk_errors(alone, alone_run))
    cols = ["label", "weight", "cv_score", "holdout_score"]
    pick = [
        s[s["market"] == "DK"][cols].reset_index(drop=True)
        for s in (panel_run.selection, alone_run.selection)
    ]
    pd.testing.assert_frame_equal(*pick)
    a, b = (
        r.forecast[r.forecast["market"] == "DK"].reset_index(drop=True)
        for r in (panel_run, alone_run)
    )
    pd.testing.assert_frame_equal(a[["date", "yhat", "origin"]], b[["date", "yhat", "origin"]])


def test_ragged_error_refuses_the_panel_naming_the_market(tmp_path):
    cfg, df = ragged(tmp_path, data={"actuals": "actuals.csv", "freq": "W-MON", "ragged": "error"})
    with pytest.raises(QAFailed) as err:
        run_tuning(cfg, progress=False)
    assert isinstance(err.value, FcastError)
    assert f"DK ({last_of(df, 'DK'):%Y-%m-%d})" in str(err.value)
    assert "data.ragged: error" in str(err.value)
    runs = Store(cfg.store).runs("tuning")
    assert runs[-1]["status"] == "failed"
    prepare(cfg, markets=["FI", "NO"])  # a run of the markets that end together goes on


def test_ragged_align_cuts_every_market_at_the_earliest_end(tmp_path, caplog):
    cfg, df = ragged(tmp_path, data={"actuals": "actuals.csv", "freq": "W-MON", "ragged": "align"})
    prep = prepare(cfg)
    assert pd.Timestamp(prep.cube["time"].values[-1]) == last_of(df, "DK")
    assert "data.ragged: align: every market cut at" in caplog.text
    tuned = run_tuning(cfg, progress=False)
    assert set(tuned.forecast["origin"]) == {last_of(df, "DK")}
    assert tuned.forecast["date"].min() == last_of(df, "DK") + WEEK


def test_a_market_whose_only_row_is_old_is_a_new_market_not_a_flat_forecast(tmp_path):
    """One 2023 row: one period of history (not the years up to the panel's end), so it is `new`."""
    cfg = tiny_project(
        tmp_path,
        markets=("DK", "FI", "NO"),
        segments={"min_history": 60},  # short enough that years to the panel end would be mature
    )
    df = pd.read_csv(tmp_path / "actuals.csv", parse_dates=["date"])
    old = pd.DataFrame(
        {"market": ["OLD"], "date": [df["date"].min() + 10 * WEEK], "users": [500.0]}
    )
    pd.concat([df, old]).to_csv(tmp_path / "actuals.csv", index=False)
    prep = prepare(cfg)
    assert prep.of("new") == ["OLD"]
    assert int(prep.segments.sel(market="OLD")["history"]) == 1
    tuned = run_tuning(cfg, progress=False)
    assert "OLD" not in set(tuned.forecast["market"])  # no markets table: no proxy forecast
    qc = qc_of(cfg, tuned.run_id)
    missing = qc[(qc["check"] == "markets_present") & (qc["market"] == "OLD")]
    assert missing["severity"].tolist() == ["error"]  # said, not silent


def test_an_adjustment_on_the_early_market_own_forecast_weeks_applies(tmp_path):
    """DK's forecast weeks lie before the panel's end: an adjustment on them is valid and applied."""
    cfg, df = ragged(tmp_path)
    start = last_of(df, "DK") + WEEK
    (tmp_path / "adj.yaml").write_text(
        f"adjustments:\n  - {{id: dk-promo, market: DK, from: {start:%Y-%m-%d}, "
        f"to: {start + WEEK:%Y-%m-%d}, kind: additive, value: 100,\n"
        f"     reason: r, author: me, created: {start:%Y-%m-%d}}}\n"
    )
    cfg = cfg.model_copy(update={"adjustments": str(tmp_path / "adj.yaml")})
    fc = run_tuning(cfg, progress=False).forecast
    dk = fc[fc["market"] == "DK"].sort_values("date")
    changed = dk[dk["adjustment_id"] == "dk-promo"]
    assert changed["date"].tolist() == [start, start + WEEK]
    np.testing.assert_allclose(changed["yhat"] - changed["yhat_base"], [100.0, 100.0])


def test_a_new_market_whose_data_ends_early_gets_its_proxy_forecast_from_its_own_end(tmp_path):
    """NEW (30 weeks of data, the last 6 missing) is proxied from its own last week; QC agrees."""
    cfg = tiny_project(tmp_path, markets=("DK", "FI", "NO", "NEW"))
    df = pd.read_csv(tmp_path / "actuals.csv", parse_dates=["date"])
    end = df["date"].max()
    new = df["market"] == "NEW"
    df = df[~new | ((df["date"] > end - 30 * WEEK) & (df["date"] <= end - 6 * WEEK))]
    df.to_csv(tmp_path / "actuals.csv", index=False)
    pd.DataFrame(
        {
            "market": ["DK", "FI", "NO", "NEW"],
            "launch_date": [df["date"].min()] * 3 + [end - 29 * WEEK],
            "population": [5.9e6, 5.5e6, 5.4e6, 5.0e6],
            "gdp_per_capita": [6.8e4, 5.3e4, 8.9e4, 6.0e4],
        }
    ).to_csv(tmp_path / "markets.csv", index=False)
    cfg.data.markets = str(tmp_path / "markets.csv")
    tuned = run_tuning(cfg, progress=False)
    rows = tuned.forecast[tuned.forecast["market"] == "NEW"].sort_values("date")
    own_end = last_of(df, "NEW")
    assert own_end == end - 6 * WEEK
    assert rows["segment"].unique().tolist() == ["new"]
    assert rows["date"].tolist() == list(pd.date_range(own_end + WEEK, periods=13, freq="W-MON"))
    assert (rows["origin"] == own_end).all()
    qc = qc_of(cfg, tuned.run_id)
    assert qc.loc[qc["check"] == "starts_after_actuals", "severity"].tolist() == ["ok"]
