"""The notebook API: shared client, load, the `.fcast` accessor (same numbers as the stages), plots."""

from __future__ import annotations

import os
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr

import fcast.notebook as nb
from fcast.core.apply import apply, members_from_selection, to_table
from fcast.core.label import label
from fcast.core.select import score, select, split_weights
from fcast.core.space import parse_space
from fcast.core.tune import tune
from fcast.errors import DataError
from fcast.infra.store import Store
from fcast.infra.vintage import publish_vintage
from fcast.output.publish import compare

SPACE = {"families": {"ets": {"spec": ["ANN", "AAdN"]}, "seasonal_naive": {}}}
CV = {"splits": 2, "step": 13, "horizon": 13, "holdout": 13}
viz = pytest.mark.skipif(find_spec("hvplot") is None, reason="needs the viz extra")


@pytest.fixture(scope="module")
def cube(small_cube: xr.Dataset) -> xr.Dataset:
    """The small synthetic cube with the attrs `load` gives."""
    return small_cube


@pytest.fixture(scope="module")
def tuned(cube: xr.Dataset, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    """The accessor's tuning of the small cube, in-process."""
    return cube.fcast.tune(
        SPACE, tmp_path_factory.mktemp("acc") / "tuning.zarr", client=False, **CV
    )


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The built-in sample data in a temp folder."""
    return nb.sample_data(tmp_path_factory.mktemp("sample"))


# --- client ----------------------------------------------------------------------------------


def test_client_is_started_once_and_reused_with_a_dashboard_link(capsys):
    nb.close_client()
    try:
        first = nb.client(n_workers=1)
        again = nb.client(n_workers=1)
        assert again is first
        assert nb.shared_client() is first
        assert len(first.scheduler_info()["workers"]) == 1
        printed = capsys.readouterr().out
        assert printed.count("dask: 1 workers") == 1  # announced once, when started
        if find_spec("bokeh"):
            assert first.dashboard_link.startswith("http") and first.dashboard_link in printed
            assert "dashboard" in first._repr_html_().lower()
        assert nb._client(None) is first and nb._client(False) is None
        assert first.submit(lambda x: x + 1, 1).result() == 2
        cluster = nb._CLUSTER
        first.close()  # a user closing the client: the next call reconnects to the same cluster
        second = nb.client()
        assert second is not first and nb._CLUSTER is cluster and second.status == "running"
    finally:
        nb.close_client()
    assert nb.shared_client() is None and nb._client(None) is None


# --- data ------------------------------------------------------------------------------------


def test_sample_data_is_written_once_into_the_env_folder(tmp_path, monkeypatch):
    monkeypatch.setenv(nb.SAMPLE_ENV, str(tmp_path))
    paths = nb.sample_data()
    assert set(paths) == {"actuals", "markets", "events", "truth"}
    assert all(Path(p).parent == tmp_path for p in paths.values())
    stamp = os.stat(paths["actuals"]).st_mtime_ns
    assert nb.sample_data() == paths and os.stat(paths["actuals"]).st_mtime_ns == stamp


def test_load_a_market_subset_with_the_markets_table_as_coords(sample):
    cube = nb.load(sample["actuals"], markets=["SE", "NO"], table=sample["markets"])
    assert cube["market"].values.tolist() == ["SE", "NO"]
    assert cube.attrs["freq"] == "W-MON" and cube.attrs["markets_table"] == sample["markets"]
    assert cube["population"].dims == ("market",) and cube["population"].sel(market="SE") > 0
    assert cube["name"].sel(market="NO").item() == "Norway"
    assert np.issubdtype(cube["launch_date"].dtype, np.datetime64)
    assert int(cube["y"].isnull().sum()) == 0  # leading periods without data are cut
    with pytest.raises(DataError, match="unknown market"):
        nb.load(sample["actuals"], markets=["SE", "XX"])


def test_load_cuts_at_as_of(sample):
    cube = nb.load(sample["actuals"], markets=["SE"], as_of="2026-01-05")
    assert str(cube["time"].values[-1])[:10] == "2026-01-05"


def test_space_from_a_mapping_a_file_or_a_dataset(tmp_path):
    hp = nb.space(SPACE)
    assert hp.sizes["hp"] == 3 and hp["family"].values.tolist() == ["ets", "ets", "seasonal_naive"]
    path = tmp_path / "space.yaml"
    path.write_text("families:\n  ets: {spec: [ANN, AAdN]}\n  seasonal_naive: {}\n")
    assert nb.space(path)["label"].values.tolist() == hp["label"].values.tolist()
    assert nb.space(hp) is hp


# --- the accessor runs the stages --------------------------------------------------------------


def test_kind_and_clear_errors_on_the_wrong_object(cube, tuned):
    assert cube.fcast.kind == "cube" and tuned.fcast.kind == "tuning"
    assert cube.fcast.freq == "W-MON" and cube.fcast.season_length == 52
    with pytest.raises(TypeError, match="needs a tuning cube"):
        cube.fcast.scores()
    with pytest.raises(TypeError, match="needs a forecast"):
        cube.fcast.table()
    with pytest.raises(DataError, match="no markets table"):
        cube.fcast.segments()


def test_label_uses_the_cube_time_axis_and_two_seasons_of_training(cube):
    expected = label(cube.time, 2, 13, 13, 13, min_train=104)
    xr.testing.assert_identical(cube.fcast.label(**CV), expected)


def test_tune_gives_the_stage_cube_and_remembers_the_cv_design(cube, tuned, tmp_path):
    labels = label(cube.time, 2, 13, 13, 13, min_train=104)
    direct, _ = tune(
        cube.y,
        labels,
        parse_space(SPACE, "W-MON"),
        str(tmp_path / "t.zarr"),
        horizon=13,
        metric="mase",
        season_length=52,
        min_train=104,
        progress=False,
    )
    np.testing.assert_array_equal(tuned["status"].values, direct["status"].values)
    np.testing.assert_allclose(tuned["error"].values, direct["error"].values, equal_nan=True)
    assert tuned.attrs["holdout"] == 13 and tuned.attrs["freq"] == "W-MON"
    assert Path(tuned.attrs["path"]).exists()
    # SE starts late: splits without enough history are skipped
    assert (tuned["status"].sel(market="SE") == 2).any()


def test_tune_without_a_path_writes_to_a_temp_folder(cube):
    tuning = cube.fcast.tune(
        {"families": {"seasonal_naive": {}}}, markets=["DK"], client=False, **CV
    )
    assert tuning["market"].values.tolist() == ["DK"] and Path(tuning.attrs["path"]).exists()


def test_scores_split_errors_and_family_scores(tuned):
    w = split_weights(tuned["split"].values, "linear")
    expected = score(tuned["error"], tuned["status"], w, "mase").compute()
    xr.testing.assert_allclose(tuned.fcast.scores(), expected.assign_attrs(metric="mase"))
    per_split = tuned.fcast.split_errors()
    assert per_split.dims == ("market", "split", "hp")
    np.testing.assert_array_equal(per_split.isnull().values, (tuned["status"] != 0).values)
    fam = tuned.fcast.family_scores()
    assert set(fam["family"].values) == {"ets", "seasonal_naive"}
    s = tuned.fcast.scores().to_pandas()
    assert fam.sel(market="DK", family="ets") == pytest.approx(min(s.loc["DK", 0], s.loc["DK", 1]))


def test_select_and_apply_match_the_stage_functions(cube, tuned):
    selection = tuned.fcast.select(cube, top=2, client=False)
    expected = select(tuned, cube.y, top=2, holdout=13)
    pd.testing.assert_frame_equal(selection, expected)
    fc = cube.fcast.apply(selection, horizon=26, client=False)
    direct = apply(cube.y, members_from_selection(selection, 52), 26, (80, 95), "W-MON")
    xr.testing.assert_allclose(fc[["yhat", "bounds"]], direct[["yhat", "bounds"]])
    assert fc.fcast.kind == "forecast" and fc.attrs["freq"] == "W-MON"
    pd.testing.assert_frame_equal(fc.fcast.table(), to_table(direct))


def test_models_train_on_y_clean_when_the_cube_has_it(cube):
    cleaned, record = cube.fcast.clean(auto=True)
    assert "y_clean" in cleaned and list(record.columns)[:3] == ["market", "start", "end"]
    bumped = cleaned.assign(y_clean=cleaned["y_clean"] * 2)
    assert float(bumped.fcast.target.sum()) == pytest.approx(2 * float(cleaned["y_clean"].sum()))


def test_forecast_table_round_trip(cube, tuned):
    fc = cube.fcast.apply(tuned.fcast.select(cube, top=1, client=False), horizon=13, client=False)
    back = nb.forecast_cube(to_table(fc))
    xr.testing.assert_allclose(back["yhat"], fc["yhat"].sortby("market"))
    xr.testing.assert_allclose(back["bounds"], fc["bounds"].sortby("market"))
    assert back["segment"].values.tolist() == ["mature"] * fc.sizes["market"]


# --- new markets --------------------------------------------------------------------------------


def test_launch_curves_segments_and_proxy_forecasts(sample):
    cube = nb.load(sample["actuals"], table=sample["markets"])
    seg = cube.fcast.segments()
    new = seg["market"].values[seg.values == "new"].tolist()
    assert {"GH", "LK"} <= set(new) and "SE" not in new
    curves = cube.fcast.launch_curves(markets=["GH", "PH", "SE"])
    assert curves.fcast.kind == "curves" and curves["curve"].dims == ("market", "week")
    assert float(curves["curve"].sel(market="PH").max()) > 0
    fc, proxies = cube.fcast.new_markets(horizon=26, proxies=3)
    assert sorted(fc["market"].values.tolist()) == sorted(new)
    assert set(fc["family"].values) == {"proxy"} and fc.sizes["time"] == 26
    gh = proxies[proxies["market"] == "GH"]
    assert (
        len(gh) == 3 and gh["weight"].sum() == pytest.approx(1.0) and "GH" not in gh["proxy"].values
    )
    assert float(fc["yhat"].sel(market="LK").isel(time=0)) == 0.0  # pre-launch


# --- vintages -----------------------------------------------------------------------------------


def _vintage_store(path: Path, fc: xr.Dataset) -> Store:
    """A store with two official vintages made from one forecast (scaled by 1.0 and 1.1)."""
    store = Store(str(path))
    for k, (name, factor) in enumerate((("2026-W01", 1.0), ("2026-W05", 1.1))):
        table = to_table(fc.assign(yhat=fc["yhat"] * factor, bounds=fc["bounds"] * factor))
        run_id = f"weekly-{k}"
        store.write_parquet(table, "runs", run_id, "forecast.parquet")
        store.write_json(
            {"run_id": run_id, "status": "complete", "data_end": "2026-01-05"},
            "runs",
            run_id,
            "manifest.json",
        )
        publish_vintage(store, run_id, name, author="test")
    return store


def test_vintages_and_compare(cube, tuned, tmp_path):
    fc = cube.fcast.apply(tuned.fcast.select(cube, top=1, client=False), horizon=26, client=False)
    store = _vintage_store(tmp_path / "store", fc)
    prev = nb.vintages(store)
    assert prev["vintage"].values.tolist() == ["2026-W05", "2026-W01"]  # newest first
    assert prev["yhat"].dims == ("vintage", "market", "time")
    ratio = prev["yhat"].sel(vintage="2026-W05") / prev["yhat"].sel(vintage="2026-W01")
    np.testing.assert_allclose(ratio.values, 1.1)
    comparison = fc.fcast.compare(store.root, actuals=cube)
    previous = {
        n: to_table(fc.assign(yhat=fc["yhat"] * f))
        for n, f in (("2026-W05", 1.1), ("2026-W01", 1.0))
    }
    expected = compare(to_table(fc), previous)
    pd.testing.assert_series_equal(comparison["diff_pct"], expected["diff_pct"])
    one = comparison[(comparison["market"] == "TOTAL") & (comparison["vintage"] == "2026-W05")]
    assert len(one) and np.allclose(one["diff_pct"], 100 * (1 / 1.1 - 1))
    assert comparison["yoy_pct"].notna().any()  # actuals give growth on a year earlier
    assert nb.vintages(str(tmp_path / "empty")).sizes.get("vintage", 0) == 0


# --- plots --------------------------------------------------------------------------------------


@viz
def test_heatmap_over_hp_and_split(tuned):
    import holoviews as hv

    heat = tuned.fcast.heatmap("DK")
    assert isinstance(heat, hv.HeatMap)
    assert [d.name for d in heat.kdims] == ["split", "label"] and heat.vdims[0].name == "error"
    data = heat.dframe()
    assert len(data) == tuned.sizes["split"] * tuned.sizes["hp"]
    assert data["split"].str.contains(r"\(\d{4}-\d{2}-\d{2}\)").all()  # split with its cutoff date
    errors = tuned.fcast.split_errors().sel(market="DK")
    assert data["error"].sum() == pytest.approx(float(errors.sum()))
    fam = tuned.fcast.heatmap("DK", by="family")
    assert sorted(fam.dframe()["family"].unique()) == ["ets", "seasonal_naive"]
    layout = tuned.fcast.heatmap(["DK", "FI"])
    assert isinstance(layout, hv.Layout) and len(layout) == 2
    assert tuned.fcast.plot("DK").kdims == heat.kdims
    hv.render(layout, backend="bokeh")
    with pytest.raises(ValueError, match="by must be"):
        tuned.fcast.heatmap("DK", by="step")


@viz
def test_cube_forecast_and_vintage_plots_render(cube, tuned, tmp_path):
    import holoviews as hv

    lines = cube.fcast.plot(markets=["DK", "NO"])
    assert sorted(lines.keys()) == ["DK", "NO"]
    fc = cube.fcast.apply(tuned.fcast.select(cube, top=1, client=False), horizon=26, client=False)
    store = _vintage_store(tmp_path / "store", fc)
    figure = fc.fcast.plot(actuals=cube, previous=nb.vintages(store), markets=["DK", "FI"])
    assert isinstance(figure, hv.Layout) and len(figure) == 2
    first = list(figure.values())[0]
    kinds = [type(el).__name__ for el in first]
    assert kinds.count("Area") == 1 and kinds.count("Curve") == 4  # actuals, 2 vintages, forecast
    hv.render(figure, backend="bokeh")
    single = fc.fcast.plot(markets="DK")
    assert isinstance(single, hv.Overlay)
    with pytest.raises(DataError, match="unknown market"):
        fc.fcast.plot(markets="XX")


@viz
def test_launch_curve_plot(sample):
    import holoviews as hv

    cube = nb.load(sample["actuals"], markets=["GH", "PH", "MY"], table=sample["markets"])
    plot = cube.fcast.launch_curves().fcast.plot(highlight=["GH"])
    assert isinstance(plot, hv.Overlay) and len(plot) == 3
    hv.render(plot, backend="bokeh")


def test_plot_of_something_else_is_a_clear_error():
    with pytest.raises(TypeError, match="nothing to plot"):
        xr.Dataset({"z": ("x", [1.0])}).fcast.plot()


def test_a_ragged_forecast_table_round_trips_with_its_origins():
    from fcast.core.models import Model

    time = pd.date_range("2024-01-01", periods=12, freq="W-MON")
    values = np.tile([1.0, 2.0, 3.0, 4.0], (2, 3))
    values[0, 9:] = np.nan  # A ends 3 weeks before B
    y = xr.DataArray(values, dims=("market", "time"), coords={"market": ["A", "B"], "time": time})
    snaive = [(Model.create("seasonal_naive", {}, 4), 1.0)]
    table = to_table(apply(y, {"A": snaive, "B": snaive}, horizon=4, levels=[80]))
    assert table.groupby("market")["origin"].first().tolist() == [time[8], time[11]]
    again = to_table(nb.forecast_cube(table))
    pd.testing.assert_frame_equal(again, table)


def test_a_forecast_table_with_totals_reads_as_markets_and_aggregates_with_level():
    """forecast_cube: total and group rows become `level:name` markets with level(market); a group named like a market stays apart."""
    dates = pd.date_range("2026-11-23", periods=3, freq="W-MON")
    rows = [
        ("SE", "market", 1.0),
        ("DK", "market", 2.0),
        ("TOTAL", "total", 3.0),
        ("SE", "platform", 1.5),
    ]
    table = pd.DataFrame(
        [
            {"market": mk, "date": d, "yhat": y, "yhat_lo_80": y - 0.1, "yhat_hi_80": y + 0.1}
            | {"family": "ets", "segment": "mature", "level": lv}
            for mk, lv, y in rows
            for d in dates
        ]
    )
    cube = nb.forecast_cube(table)
    level = dict(zip(cube["market"].values.tolist(), cube["level"].values.tolist(), strict=True))
    assert level == {
        "DK": "market",
        "SE": "market",
        "platform:SE": "platform",
        "total:TOTAL": "total",
    }
    assert cube["yhat"].sel(market="platform:SE").values.tolist() == [1.5] * 3
    assert cube["yhat"].sel(market="SE").values.tolist() == [1.0] * 3
