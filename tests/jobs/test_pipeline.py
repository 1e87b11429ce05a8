"""Pipeline: jobs write complete runs, resume interrupted tuning, and weekly reuses the latest selection."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fcast.config import parse_config
from fcast.contract import FALLBACK
from fcast.errors import StoreError
from fcast.infra.store import Store
from fcast.jobs.pipeline import QAFailed, chosen_table, prepare, run_tuning, run_weekly
from tests.conftest import synthetic_actuals


@pytest.fixture()
def cfg(tmp_path):
    df = synthetic_actuals(["DK", "FI", "NO", "SE", "IS"], periods=180)
    df = df[
        ~(
            (df["market"] == "IS")
            & (df["date"] < df["date"].max() - __import__("pandas").Timedelta(weeks=60))
        )
    ]
    df.to_csv(tmp_path / "actuals.csv", index=False)
    (tmp_path / "space.yaml").write_text(
        "families:\n  ets: {spec: [ANN, AAdN]}\n  seasonal_naive: {}\n"
    )
    raw = {
        "data": {"actuals": "actuals.csv", "freq": "W-MON"},
        "horizon": 13,
        "cv": {"splits": 2, "step": 8, "holdout": 8},
        "space": "space.yaml",
        "tune": {"block_markets": 2, "block_hps": 2},
        "store": "store",
    }
    return parse_config(raw, source="test", base=tmp_path)


def test_segments_split_mature_and_new(cfg):
    prep = prepare(cfg)
    assert prep.of("new") == ["IS"]  # 61 weeks < min_train 104 + horizon 13 + holdout 8
    assert prep.of("mature") == ["DK", "FI", "NO", "SE"]
    assert prepare(cfg, markets=["SE", "IS"]).of("mature") == ["SE"]


def test_tuning_in_process_then_weekly(cfg):
    tuned = run_tuning(cfg, progress=False)
    assert tuned.manifest["status"] == "complete" and tuned.manifest["cluster"] == {
        "kind": "in-process"
    }
    assert tuned.manifest["segments"] == {
        "mature": ["DK", "FI", "NO", "SE"],
        "new": ["IS"],
        "custom": [],
    }
    assert set(chosen_table(tuned.selection)["market"]) == {"DK", "FI", "NO", "SE"}
    store = Store(cfg.store)
    assert store.latest("tuning") == tuned.run_id
    weekly = run_weekly(cfg, progress=False)
    assert weekly.manifest["tuning_run"] == tuned.run_id
    assert set(weekly.forecast["market"]) == {"DK", "FI", "NO", "SE"}
    # weekly reuses the selection: same chosen models
    assert (
        weekly.selection[["market", "hp", "weight"]].values
        == tuned.selection[["market", "hp", "weight"]].values
    ).all()


def test_interrupted_tuning_resumes_the_same_run(cfg):
    first = run_tuning(cfg, progress=False)
    run_dir = Path(cfg.store) / "runs" / first.run_id
    # emulate a crash after half the blocks: markers gone, manifest still 'running', no latest pointer
    markers = sorted((run_dir / "tuning.zarr" / ".blocks").glob("*-*.json"))
    for m in markers[: len(markers) // 2]:
        m.unlink()
    manifest = json.loads((run_dir / "manifest.json").read_text())
    manifest["status"] = "running"
    (run_dir / "manifest.json").write_text(json.dumps(manifest))
    (Path(cfg.store) / "latest" / "tuning.json").unlink()
    again = run_tuning(cfg, progress=False)
    assert again.run_id == first.run_id and again.manifest["resumed"] is True
    assert again.manifest["counts"]["blocks_run"] == len(markers) // 2
    assert again.selection.equals(first.selection)
    assert Store(cfg.store).latest("tuning") == first.run_id
    fresh = run_tuning(cfg, progress=False, fresh=True)
    assert fresh.run_id != first.run_id


def test_weekly_without_tuning_is_a_clear_error(cfg):
    with pytest.raises(StoreError, match="run `fcast run tuning"):
        run_weekly(cfg, progress=False)


def test_qa_errors_stop_the_run_before_compute(cfg, tmp_path):
    df = synthetic_actuals(["DK", "FI", "NO", "SE"], periods=180)
    df.loc[10, "users"] = -5.0  # a negative value in DK
    df.to_csv(tmp_path / "actuals.csv", index=False)
    with pytest.raises(QAFailed, match="negative") as info:
        run_tuning(cfg, progress=False)
    assert "DK" in str(info.value)
    runs = Store(cfg.store).runs("tuning")
    assert len(runs) == 1 and runs[0]["status"] == "failed"
    run_dir = Path(cfg.store) / "runs" / runs[0]["run_id"]
    qa = __import__("pandas").read_parquet(run_dir / "qa.parquet")
    assert (
        (qa["check"] == "negative") & (qa["market"] == "DK") & (qa["severity"] == "error")
    ).any()
    assert not (run_dir / "tuning.zarr").exists()
    # an ad hoc run on other markets is not blocked by DK's problem
    ok = run_tuning(cfg, markets=["FI", "NO"], progress=False)
    assert set(ok.forecast["market"]) == {"FI", "NO"}


def test_models_train_on_cleaned_actuals(cfg, tmp_path):
    df = synthetic_actuals(["DK", "FI", "NO", "SE"], periods=180)
    outage = (df["market"] == "NO") & df["date"].isin(sorted(df["date"].unique())[100:102])
    df.loc[outage, "users"] *= 0.4
    df.to_csv(tmp_path / "actuals.csv", index=False)
    start, end = (str(d)[:10] for d in sorted(df["date"].unique())[100:102])
    (tmp_path / "events.yaml").write_text(
        f"events:\n  - {{market: 'NO', start: {start}, end: {end}, kind: outage}}\n"
    )
    cfg.clean.events = str(tmp_path / "events.yaml")
    result = run_tuning(cfg, progress=False)
    run_dir = Path(result.url)
    record = __import__("pandas").read_parquet(run_dir / "cleaning.parquet")
    assert ((record["market"] == "NO") & record["applied"] & (record["source"] == "known")).any()
    assert result.manifest["cleaning"]["removed"] >= 1
    assert (run_dir / "charts" / "cleaning-NO.html").exists()
    # the weekly refit sees the cleaned series too: same forecast as a refit on cleaned history by hand
    prep = prepare(cfg)
    raw, cleaned = prep.cube["y"].sel(market="NO"), prep.cube["y_clean"].sel(market="NO")
    assert (
        float((cleaned - raw).isel(time=[100, 101]).min()) > 0
        and float(abs(cleaned - raw).isel(time=99)) == 0
    )


def test_yaml_boolean_market_code_gets_a_hint(cfg, tmp_path):
    (tmp_path / "events.yaml").write_text(
        "events:\n  - {market: NO, start: 2022-01-03, end: 2022-01-03, kind: outage}\n"
    )
    from fcast.config import load_disruptions
    from fcast.errors import ConfigError

    with pytest.raises(ConfigError, match="quote codes"):
        load_disruptions(tmp_path / "events.yaml")


def test_holiday_aware_space_runs_through_tuning_and_weekly(cfg, tmp_path):
    (tmp_path / "space.yaml").write_text(
        "families:\n  arima: {p: [1], d: [1], q: [1], holidays: [none, all]}\n  seasonal_naive: {}\n"
    )
    cfg = cfg.model_copy(update={"space": str(tmp_path / "space.yaml")})
    tuned = run_tuning(cfg, progress=False)
    import xarray as xr

    tuning = xr.open_zarr(Path(tuned.url) / "tuning.zarr")
    assert "all" in set(tuning["holidays"].values.tolist())
    assert int((tuning["status"] == 0).sum()) == int((tuning["status"] != 2).sum())  # every fit ran
    weekly = run_weekly(cfg, progress=False)
    assert weekly.forecast[["yhat", "yhat_lo_95", "yhat_hi_95"]].notna().all().all()


def test_halving_search_in_the_tuning_job(cfg):
    from fcast.config import SearchConfig

    cfg = cfg.model_copy(update={"search": SearchConfig(strategy="halving", keep=0.5)})
    cfg.cv.splits = 3
    cfg.select.top = 1  # halving keeps at least `top` hps per market
    result = run_tuning(cfg, progress=False)
    grid_fits = 4 * 3 * 3  # markets x hps x splits
    assert 0 < result.manifest["counts"]["fits"] < grid_fits
    assert set(result.forecast["market"]) == {"DK", "FI", "NO", "SE"}


@pytest.mark.timeout(180)  # the old pipeline never passed task_timeout to halving: it hung here
def test_halving_in_the_tuning_job_honours_task_timeout(cfg, tmp_path, capsys):
    import threading

    import numpy as np
    from statsforecast.models import SeasonalNaive

    from fcast.config import SearchConfig, TuneConfig
    from fcast.core.models import FAMILIES, Family, register

    release = threading.Event()  # set only after the test: SE's fits wait on it

    class Blocking:
        def __init__(self, above: float, m: int) -> None:
            self.above, self.m = above, m

        def forecast(self, y, h, level=None):  # noqa: ANN001, ANN201
            if y[0] > self.above:
                release.wait()
            return SeasonalNaive(season_length=self.m).forecast(y=y, h=h, level=level)

    register(Family("blocking", {"above": float}, lambda p, m: Blocking(p["above"], m)))
    try:
        (tmp_path / "space.yaml").write_text(
            "families:\n  seasonal_naive: {}\n  blocking: {above: [3500.0]}\n"
        )
        cfg = cfg.model_copy(
            update={
                "search": SearchConfig(strategy="halving", keep=0.5),
                "tune": TuneConfig(block_markets=1, task_timeout=8.0),
            }
        )
        cfg.select.top = 1
        result = run_tuning(cfg, progress=True)
    finally:
        release.set()
        FAMILIES.unregister("blocking")
    err = capsys.readouterr().err
    assert "halving: block 0-3 (markets SE; round 0, split 1) exceeded task_timeout=8s" in err
    assert result.manifest["status"] == "complete" and result.manifest["unselected"] == ["SE"]
    se = result.forecast[result.forecast["market"] == "SE"]
    assert set(se["family"]) == {FALLBACK} and np.isfinite(se["yhat"]).all()


def test_market_without_any_scored_hp_still_gets_a_forecast(cfg, tmp_path, caplog):
    import numpy as np
    import pandas as pd

    df = pd.read_csv(tmp_path / "actuals.csv")
    df.loc[(df["market"] == "DK") & (df.index % 50 == 7), "users"] = 0.0  # log models cannot fit DK
    df.to_csv(tmp_path / "actuals.csv", index=False)
    (tmp_path / "space.yaml").write_text(
        "preprocess: {log: [true]}\nfamilies:\n  ets: {spec: [ANN]}\n  seasonal_naive: {}\n"
    )
    tuned = run_tuning(cfg, progress=False)
    assert tuned.manifest["unselected"] == ["DK"]
    assert "no hp has a CV score for 1 market(s) ['DK']" in caplog.text
    dk = tuned.forecast[tuned.forecast["market"] == "DK"]
    assert len(dk) == cfg.horizon and np.isfinite(dk["yhat"]).all()
    assert set(dk["family"]) == {FALLBACK}  # apply's one fallback, with its one label
    assert set(tuned.forecast["market"]) >= {"DK", "FI", "NO", "SE"}


def test_weekly_forecasts_untuned_markets_with_the_seasonal_naive(cfg, caplog):
    run_tuning(cfg, markets=["DK", "FI"], progress=False)
    caplog.clear()
    weekly = run_weekly(cfg)
    assert weekly.manifest["untuned_markets"] == ["NO", "SE"]
    assert "no tuned selection for ['NO', 'SE']" in caplog.text
    fc = weekly.forecast
    assert {"DK", "FI", "NO", "SE"} <= set(fc["market"])
    assert set(fc.loc[fc["market"].isin(["NO", "SE"]), "family"]) == {FALLBACK}
    assert set(weekly.selection["market"]) == {"DK", "FI"}  # the stored selection is not invented


def test_conformal_intervals_and_learned_weights_through_tuning_and_weekly(tmp_path, cfg):
    from fcast.core.metrics import mase_scale

    raw = cfg.model_dump(mode="json", exclude_none=True)
    raw.update(intervals="conformal")
    raw["select"].update(combine="median", weighting=["equal", "inverse_error"])
    conf = parse_config(raw, source="test", base=tmp_path)
    tuned = run_tuning(conf, progress=False)
    store = Store(conf.store)
    widths = store.read_parquet("runs", tuned.run_id, "conformal.parquet")
    assert set(widths["level"]) == {80, 95} and set(widths["step"]) == set(range(1, 14))
    assert set(tuned.selection["weighting"]) <= {"equal", "inverse_error"}
    assert tuned.selection["weighting"].nunique() == 1  # one strategy for all markets
    # known answer: hi_80 - yhat at step t is the stored half-width x the market's MASE scale
    y = prepare(conf).cube["y_clean"].sel(market="DK").values
    fc = tuned.forecast[tuned.forecast["market"] == "DK"].sort_values("date")
    half = widths[widths["level"] == 80].sort_values("step")["half_width"].to_numpy()
    np.testing.assert_allclose(
        (fc["yhat_hi_80"] - fc["yhat"]).to_numpy(), half * mase_scale(y, 52), rtol=1e-9
    )
    # weekly on the same data reuses the stored half-widths: the same bounds
    weekly = run_weekly(conf, progress=False)
    cols = ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]
    key = ["market", "date"]
    a = tuned.forecast.sort_values(key)[cols].to_numpy()
    b = weekly.forecast.sort_values(key)[cols].to_numpy()
    np.testing.assert_allclose(b, a, rtol=1e-9)


def test_scaled_intervals_through_tuning_and_weekly(tmp_path, cfg):
    from fcast.core.conformal import combination_gain

    raw = cfg.model_dump(mode="json", exclude_none=True)
    raw.update(intervals="scaled")
    raw["select"].update(top=3, combine="median")
    conf = parse_config(raw, source="test", base=tmp_path)
    tuned = run_tuning(conf, progress=False)
    store = Store(conf.store)
    factor = float(store.read_parquet("runs", tuned.run_id, "scaled.parquet")["factor"].iloc[0])
    tuning = __import__("xarray").open_zarr(f"{tuned.url}/tuning.zarr", consolidated=True)
    assert factor == pytest.approx(combination_gain(tuning, tuned.selection))
    # known answer: the bounds are the own bounds' distances from yhat times the factor
    own_raw = raw | {"intervals": "model", "store": str(tmp_path / "own-store")}
    own = run_tuning(parse_config(own_raw, source="test", base=tmp_path), progress=False)
    own_store = Store(own_raw["store"])  # the models' own bounds: nothing for weekly to reuse
    assert not own_store.exists("runs", own.run_id, "scaled.parquet")
    assert not own_store.exists("runs", own.run_id, "conformal.parquet")
    key = ["market", "date"]
    a, b = own.forecast.sort_values(key), tuned.forecast.sort_values(key)
    np.testing.assert_allclose(b["yhat"], a["yhat"], rtol=1e-9)
    expect = np.clip(a["yhat"] + factor * (a["yhat_hi_80"] - a["yhat"]), 0, None)
    np.testing.assert_allclose(b["yhat_hi_80"], expect, rtol=1e-9)
    # weekly on the same data reuses the stored factor: the same bounds
    weekly = run_weekly(conf, progress=False).forecast.sort_values(key)
    cols = ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]
    np.testing.assert_allclose(weekly[cols].to_numpy(), b[cols].to_numpy(), rtol=1e-9)
