"""Holiday features match the real calendars; models with regressors equal direct statsforecast
fits; splits never see regressors past their test window; on the sample data the holiday-aware
families win in the strong moving-holiday markets and cut their holiday-week error."""

from __future__ import annotations

import json
import time
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from statsforecast.models import ARIMA

from fcast.config import load_event_calendars
from fcast.contract import FAILED, OK
from fcast.core.apply import apply, members_from_selection
from fcast.core.label import label
from fcast.core.models import Model
from fcast.core.select import score, select, split_weights
from fcast.core.space import load_space, models_of, parse_space
from fcast.core.tune import tune
from fcast.core.tune.kernel import evaluate_block
from fcast.data import to_cube
from fcast.data.calendar import (
    columns,
    future_index,
    group_of,
    has_calendar,
    holiday_features,
    market_holidays,
)
from fcast.data.sample import make_sample
from fcast.errors import ConfigError

W = "W-MON"


def weeks(start: str, n: int) -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq=W)


# --- calendars ----------------------------------------------------------------------


def test_germany_2024_easter_and_christmas_weeks_match_the_calendar():
    x = holiday_features(["DE"], weeks("2024-03-18", 41), W, lead=1, lag=1).sel(market="DE")
    easter = x.sel(feature="easter").to_series()
    # Good Friday 29 March (week of 25 March), Easter Monday 1 April (week of 1 April)
    assert easter[pd.Timestamp("2024-03-25")] == pytest.approx(1 / 7)
    assert easter[pd.Timestamp("2024-04-01")] == pytest.approx(1 / 7)
    assert easter[pd.Timestamp("2024-03-18")] == 0.0
    # Ascension 9 May, Whit Monday 20 May
    assert easter[pd.Timestamp("2024-05-06")] == pytest.approx(1 / 7)
    assert easter[pd.Timestamp("2024-05-20")] == pytest.approx(1 / 7)
    # lead: the week before shows next week's value; lag: the week after shows last week's
    assert float(x.sel(feature="easter_lead1", time="2024-03-18")) == pytest.approx(1 / 7)
    assert float(x.sel(feature="easter_lag1", time="2024-04-08")) == pytest.approx(1 / 7)
    # Christmas Day and Second Day of Christmas fall in the week of 23 December
    y = holiday_features(["DE"], weeks("2024-12-16", 3), W).sel(
        market="DE", feature="christmas_newyear"
    )
    assert y.values.tolist() == pytest.approx(
        [0.0, 2 / 7, 1 / 7]
    )  # 1 January 2025 in the week of 30 December
    assert float(x.sel(feature="national", time="2024-09-30")) == pytest.approx(
        1 / 7
    )  # German Unity Day 3 Oct


def test_moving_festivals_korea_and_saudi_arabia():
    kr = holiday_features(["KR"], weeks("2024-09-09", 3), W).sel(
        market="KR", feature="moving_religious"
    )
    assert kr.values.tolist() == pytest.approx([0.0, 3 / 7, 0.0])  # Chuseok 16-18 September 2024
    assert group_of("Eid al-Fitr Holiday") == "moving_religious"
    assert group_of("Good Friday") == "easter"
    assert group_of("Islamic New Year") == "religious_other"
    assert group_of("Labor Day") == "other"
    sa = holiday_features(["SA"], weeks("2024-01-01", 60), W).sel(
        market="SA", feature="moving_religious"
    )
    assert sa.sum() > 0.5  # Eid al-Fitr and Eid al-Adha each last several days


def test_monthly_share_and_unknown_country_is_zero():
    with pytest.warns(UserWarning, match="no holiday calendar for market 'XX'"):
        x = holiday_features(["DE", "XX"], pd.date_range("2024-12-01", periods=2, freq="MS"), "MS")
    assert float(
        x.sel(market="DE", feature="christmas_newyear", time="2024-12-01")
    ) == pytest.approx(2 / 31)
    assert float(
        x.sel(market="DE", feature="christmas_newyear", time="2025-01-01")
    ) == pytest.approx(1 / 31)
    assert float(x.sel(market="XX").sum()) == 0.0


def test_a_market_that_names_its_country_gets_that_calendar():
    """Known answer: market "Nordics-North" with country SE gets the Swedish holidays of 2024."""
    country = {"Nordics-North": "SE"}
    year = weeks("2024-01-01", 52)
    days = dict(market_holidays("Nordics-North", year, country))
    assert days == dict(market_holidays("SE", year))
    assert days[np.datetime64("2024-06-22")] == "Midsummer Day"
    assert days[np.datetime64("2024-12-26")] == "Second Day of Christmas"
    assert has_calendar("Nordics-North", country) and not has_calendar("Nordics-North")
    x = holiday_features(["Nordics-North", "SE"], year, W, country=country)
    np.testing.assert_array_equal(x.sel(market="Nordics-North").values, x.sel(market="SE").values)
    assert float(x.sel(market="Nordics-North", feature="christmas_newyear").sum()) > 0


def test_custom_events_yearly_and_one_off(tmp_path):
    path = tmp_path / "events.yaml"
    path.write_text("events:\n  festival: ['06-20/06-23']\n  launch: ['2025-03-04']\n")
    events = load_event_calendars(path)
    x = holiday_features(["SE"], weeks("2024-06-17", 54), W, events=events).sel(market="SE")
    fest = x.sel(feature="festival").to_series()
    assert fest[pd.Timestamp("2024-06-17")] == pytest.approx(4 / 7)  # every year
    assert fest[pd.Timestamp("2025-06-16")] == pytest.approx(
        3 / 7
    )  # 20-22 June 2025: Fri-Sun in week of 16 June
    assert fest[pd.Timestamp("2025-06-23")] == pytest.approx(
        1 / 7
    )  # ... and Mon 23 June in the next
    assert float(x.sel(feature="launch").sum()) == pytest.approx(1 / 7)
    assert "festival" in [x["feature"].values[i] for i in columns(list(x["feature"].values), "all")]


def test_columns_pick_groups_and_shifts():
    names = ["easter", "easter_lead1", "easter_lag1", "national", "moving_religious"]
    assert columns(names, "moving") == [0, 4]
    assert columns(names, "moving", lead=1) == [0, 1, 4]
    assert columns(names, "easter,national", lag=1) == [0, 2, 3]
    assert columns(names, "none") == []


def test_future_index_extends_the_history():
    idx = future_index(weeks("2024-01-01", 3), 2, W)
    assert list(idx) == list(weeks("2024-01-01", 5))


# --- models, tuning, selection and application with regressors ---------------------


def series(n: int = 160, seed: int = 0) -> tuple[np.ndarray, xr.DataArray]:
    """A weekly series with a strong Easter dip, and DE holiday features over n + 13 weeks."""
    x = holiday_features(["DE"], weeks("2021-01-04", n + 13), W)
    rng = np.random.default_rng(seed)
    easter = x.sel(market="DE", feature="easter").values
    y = 1000 * np.exp(0.002 * np.arange(n + 13) - 2.0 * easter + rng.normal(0, 0.01, n + 13))
    return y, x


def test_model_with_holidays_equals_direct_statsforecast_arima():
    y, x = series()
    xv, feats = x.sel(market="DE").values, list(x["feature"].values)
    model = Model.create(
        "arima",
        {"p": 1, "d": 1, "q": 1, "log": True, "holidays": "moving", "holiday_form": "any"},
        52,
    )
    fc = model.forecast(y[:160], 13, level=[80], X=xv[:160], X_future=xv[160:], features=feats)
    cols = [feats.index("easter"), feats.index("moving_religious")]
    X, Xf = (xv[:160, cols] > 0).astype(float), (xv[160:, cols] > 0).astype(float)
    keep = [
        j for j in range(X.shape[1]) if np.ptp(X[:, j]) > 0
    ]  # DE has no Eid: the constant column is dropped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct = ARIMA(order=(1, 1, 1)).forecast(
            y=np.log(y[:160]), h=13, X=X[:, keep], X_future=Xf[:, keep], level=[80]
        )
    np.testing.assert_allclose(fc["mean"], np.exp(direct["mean"]), rtol=1e-10)
    np.testing.assert_allclose(fc["lo-80"], np.exp(direct["lo-80"]), rtol=1e-10)
    plain = Model.create("arima", {"p": 1, "d": 1, "q": 1, "log": True, "holidays": "none"}, 52)
    assert not plain.uses_x and plain.label() == "arima(1,1,1) log"
    with pytest.raises(ValueError, match="needs holiday features"):
        model.forecast(y[:160], 13)


def test_split_never_sees_regressors_after_its_test_window():
    y, x = series()
    xv = x.values.copy()
    models = [
        Model.create("arima", {"p": 1, "d": 1, "q": 0, "log": True, "holidays": "moving"}, 52)
    ]
    feats = list(x["feature"].values)
    stop = np.array([120])
    full = evaluate_block(y[None, :160], stop, models, 13, "mase", 60, xv[:, :160], feats)
    poisoned = xv[:, :160].copy()
    poisoned[:, 133:] = np.nan  # after the split's test window [120, 133)
    cut = evaluate_block(y[None, :160], stop, models, 13, "mase", 60, poisoned, feats)
    assert cut["status"][0, 0, 0] == OK
    np.testing.assert_array_equal(full["yhat"], cut["yhat"])
    poisoned[:, 125] = np.nan  # inside the test window: the fit cannot use it and fails loudly
    assert (
        evaluate_block(y[None, :160], stop, models, 13, "mase", 60, poisoned, feats)["status"][
            0, 0, 0
        ]
        == FAILED
    )


def test_space_validation_and_shipped_spaces():
    with pytest.raises(ConfigError, match="invalid holidays"):
        parse_space({"families": {"arima": {"p": 1, "d": 1, "q": 0, "holidays": ",,"}}}, W)
    with pytest.raises(ConfigError, match="only with trend: arima"):
        parse_space({"families": {"mstl": {"trend": "ets", "holidays": "all"}}}, W)
    with pytest.raises(ConfigError, match="no parameter 'holidays'"):
        parse_space({"families": {"theta": {"variant": "standard", "holidays": "all"}}}, W)
    assert "holidays" not in load_space("classic", W).coords
    assert set(load_space("weekly", W)["holidays"].values) == {"all"}
    hp = load_space("holidays", W)
    models = models_of(hp, 52)
    assert sum(m.uses_x for m in models) == 20 and len(models) == 44


def test_apply_and_tune_need_x_for_holiday_models(tmp_path):
    y, x = series()
    cube = to_cube(
        pd.DataFrame({"market": "DE", "date": weeks("2021-01-04", 160), "users": y[:160]}), W
    )
    sel = pd.DataFrame(
        [
            {
                "market": "DE",
                "family": "arima",
                "weight": 1.0,
                "params": json.dumps({"p": 1, "d": 1, "q": 0, "log": True, "holidays": "moving"}),
            }
        ]
    )
    members = members_from_selection(sel, 52)
    with pytest.raises(ValueError, match="pass the holiday features"):
        apply(cube["y"], members, 13, freq=W)
    fc = apply(cube["y"], members, 13, freq=W, x=x)
    assert fc["family"].values.tolist() == ["arima"]
    easter_2024 = (
        fc["yhat"].sel(market="DE", time="2024-01-29").item()
    )  # 13 weeks after 2023-10-30: no easter
    assert np.isfinite(easter_2024)
    with pytest.raises(ValueError, match="do not cover"):
        apply(cube["y"], members, 14, freq=W, x=x)
    hp = parse_space({"families": {"arima": {"p": 1, "d": 1, "q": 0, "holidays": "moving"}}}, W)
    with pytest.raises(ValueError, match="pass the holiday features"):
        tune(
            cube["y"],
            label(cube.time, 2, 13, 13, 0, 60),
            hp,
            str(tmp_path / "t.zarr"),
            horizon=13,
            season_length=52,
            min_train=60,
            progress=False,
        )


# --- evidence on the sample data -----------------------------------------------------

STRONG = ["DE", "ID", "SA", "KR"]
PLAIN = ["SE", "US"]
EVIDENCE_SPACE = {
    "preprocess": {"log": [True]},
    "families": {
        "arima": {
            "p": [1],
            "d": [1],
            "q": [1],
            "holidays": ["none", "moving", "all"],
            "holiday_form": ["any"],
        },
        "mstl": {"trend": ["arima"], "holidays": ["none", "moving"], "holiday_form": ["any"]},
        "theta": {"variant": ["optimized"]},
    },
}


@pytest.mark.slow  # ~25 s of tuning; `make test-all` (keeps make test under 15 minutes)
def test_evidence_holiday_families_win_strong_moving_holiday_markets(tmp_path):
    t0 = time.perf_counter()
    sample = make_sample(
        n_mature=57, n_new=0, n_prelaunch=0, future_weeks=0
    )  # KR, ID, SA are late in the pool
    truth = sample.truth[sample.truth["market"].isin(STRONG + PLAIN)]
    cube = to_cube(truth.rename(columns={"users_clean": "users"})[["market", "date", "users"]], W)
    effect = to_cube(
        truth.rename(columns={"holiday_effect": "users"})[["market", "date", "users"]], W
    )["y"]
    y = cube["y"]
    x = holiday_features(y["market"].values.tolist(), pd.DatetimeIndex(y["time"].values), W)
    hp = parse_space(EVIDENCE_SPACE, W)
    labels = label(y.time, 6, 13, 13, 13, 104)
    tuning, _ = tune(
        y,
        labels,
        hp,
        str(tmp_path / "t.zarr"),
        horizon=13,
        season_length=52,
        min_train=104,
        x=x,
        progress=False,
    )
    tuning = tuning.load()
    cv = score(
        tuning["error"], tuning["status"], split_weights(tuning["split"].values), "mase"
    ).to_pandas()
    selection = select(tuning, y, top=2, holdout=13, x=x)
    chosen = selection[selection["weight"] > 0].set_index("market")["label"]
    uses = np.array([m.uses_x for m in models_of(hp, 52)])
    print(f"\n{'market':6} {'selected':34} {'hol-week MAPE with':>19} {'without':>8}  weeks")
    with_err, without_err = {}, {}
    for m in STRONG + PLAIN:
        row = cv.loc[m].to_numpy()
        best_x, best_plain = (
            int(np.argmin(np.where(uses, row, np.inf))),
            int(np.argmin(np.where(~uses, row, np.inf))),
        )
        stops = tuning["train_stop"].values
        hol = np.stack(
            [np.abs(np.log(effect.sel(market=m).values[s : s + 13])) > 0.2 for s in stops]
        )
        y_test = tuning["y_test"].sel(market=m).values
        ape = {
            h: np.abs(tuning["yhat"].sel(market=m).isel(hp=h).values / y_test - 1)
            for h in (best_x, best_plain)
        }
        if hol.any():
            with_err[m], without_err[m] = (
                float(ape[best_x][hol].mean()),
                float(ape[best_plain][hol].mean()),
            )
        print(
            f"{m:6} {chosen[m]:34} {with_err.get(m, np.nan):19.4f} {without_err.get(m, np.nan):8.4f}  {hol.sum()}"
        )
    # the selection refits on all history and forecasts the horizon with future holiday values
    x_future = holiday_features(
        y["market"].values.tolist(), future_index(y["time"].values, 26, W), W
    )
    fc = apply(y, members_from_selection(selection, 52), 26, freq=W, x=x_future)
    assert np.isfinite(fc["yhat"].values).all() and set(fc["family"].values) <= {
        "arima",
        "mstl",
        "theta",
    }
    print(f"evidence: {time.perf_counter() - t0:.1f}s")
    for m in STRONG:
        assert " hol=" in chosen[m], f"{m}: selected {chosen[m]}, not a holiday-aware model"
        assert with_err[m] < 0.7 * without_err[m], (
            m
        )  # holiday-week error cut by at least 30% in each market
    assert np.mean(list(with_err.values())) < 0.5 * np.mean(list(without_err.values()))


def test_dask_path_equals_in_process_with_regressors(tmp_path, client2):
    y, x = series()
    y2, _ = series(seed=1)
    frame = pd.concat(
        [
            pd.DataFrame({"market": m, "date": weeks("2021-01-04", 160), "users": v[:160]})
            for m, v in (("DE", y), ("AT", y2))
        ]
    )
    cube = to_cube(frame, W)
    x2 = xr.concat([x, x.assign_coords(market=["AT"])], "market")  # AT gets DE's calendar here
    hp = parse_space(
        {"families": {"arima": {"p": 1, "d": 1, "q": 0, "holidays": ["none", "moving"]}}}, W
    )
    labels = label(cube.time, 2, 13, 13, 0, 60)
    kw = {
        "horizon": 13,
        "season_length": 52,
        "min_train": 60,
        "progress": False,
        "x": x2,
        "block_markets": 1,
    }
    local, _ = tune(cube["y"], labels, hp, str(tmp_path / "a.zarr"), **kw)
    remote, _ = tune(cube["y"], labels, hp, str(tmp_path / "b.zarr"), client=client2, **kw)
    np.testing.assert_array_equal(local["yhat"].values, remote["yhat"].values)
    assert (local["status"].values == OK).all()
    # the holiday model fits the Easter dip the plain one misses
    assert float(local["error"].sel(hp=1).mean()) < float(local["error"].sel(hp=0).mean())
