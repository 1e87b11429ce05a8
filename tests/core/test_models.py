"""Tests for fcast.core.models: Model forecasts equal direct statsforecast fits; preprocessing; registry."""

from __future__ import annotations

import numpy as np
import pytest
from statsforecast.models import ARIMA, AutoETS, SeasonalNaive, Theta

from fcast.core.models import (
    FAMILIES,
    PREPROCESS,
    Family,
    Model,
    coerce_params,
    get_family,
    register,
)

LEVELS = [80, 95]
KEYS = {"mean", "lo-80", "hi-80", "lo-95", "hi-95"}


def series(n: int = 72, m: int = 12, seed: int = 3) -> np.ndarray:
    """A positive trending seasonal series with noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    return 200.0 + 1.5 * t + 20.0 * np.sin(2 * np.pi * t / m) + rng.normal(0.0, 3.0, n)


def direct(estimator, y: np.ndarray, h: int) -> dict[str, np.ndarray]:
    res = estimator.forecast(y=y, h=h, level=LEVELS)
    return {k: np.asarray(v, dtype="float64") for k, v in res.items() if k in KEYS}


def assert_same(got: dict[str, np.ndarray], want: dict[str, np.ndarray]) -> None:
    assert set(got) == KEYS
    assert set(want) == KEYS
    for k in KEYS:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-9, err_msg=k)


@pytest.mark.parametrize(
    ("family", "params", "m", "estimator"),
    [
        ("ets", {"spec": "AAdN"}, 52, AutoETS(model="AAN", damped=True)),
        ("ets", {"spec": "ANN"}, 12, AutoETS(model="ANN")),
        ("ets", {"spec": "AAA"}, 12, AutoETS(model="AAA", season_length=12)),
        ("theta", {"variant": "standard"}, 12, Theta(season_length=12)),
        ("arima", {"p": 1, "d": 1, "q": 0}, 12, ARIMA(order=(1, 1, 0))),
        ("seasonal_naive", {}, 12, SeasonalNaive(season_length=12)),
    ],
    ids=["ets-AAdN", "ets-ANN", "ets-AAA", "theta", "arima-110", "seasonal_naive"],
)
def test_forecast_equals_direct_statsforecast(family, params, m, estimator):
    y = series()
    h = 8
    got = Model.create(family, params, m).forecast(y, h, level=LEVELS)
    assert all(v.shape == (h,) for v in got.values())
    assert_same(got, direct(estimator, y, h))
    assert np.all(got["lo-95"] <= got["lo-80"]) and np.all(got["lo-80"] <= got["mean"])
    assert np.all(got["mean"] <= got["hi-80"]) and np.all(got["hi-80"] <= got["hi-95"])


def test_seasonal_naive_known_answer():
    y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    out = Model.create("seasonal_naive", {}, 4).forecast(y, 6)
    np.testing.assert_array_equal(out["mean"], [5.0, 6.0, 7.0, 8.0, 5.0, 6.0])
    assert set(out) == {"mean"}  # no levels asked, only the mean


def test_log_preprocessing_is_exp_of_fit_on_log():
    y = series()
    got = Model.create("ets", {"spec": "AAdN", "log": True}, 12).forecast(y, 6, level=LEVELS)
    on_log = direct(AutoETS(model="AAN", damped=True), np.log(y), 6)
    assert_same(got, {k: np.exp(v) for k, v in on_log.items()})


def test_window_keeps_only_last_points():
    y = series(n=80)
    model = Model.create("arima", {"p": 1, "d": 1, "q": 0, "window": 30}, 12)
    np.testing.assert_array_equal(model.prepare(y), y[-30:])
    assert_same(model.forecast(y, 5, level=LEVELS), direct(ARIMA(order=(1, 1, 0)), y[-30:], 5))
    # and it matters: the full-history fit is different
    full = Model.create("arima", {"p": 1, "d": 1, "q": 0}, 12).forecast(y, 5)
    assert not np.allclose(full["mean"], model.forecast(y, 5)["mean"])


def test_window_and_log_together():
    y = series(n=60)
    model = Model.create("theta", {"variant": "standard", "window": 36, "log": True}, 12)
    np.testing.assert_allclose(model.prepare(y), np.log(y[-36:]))
    want = {k: np.exp(v) for k, v in direct(Theta(season_length=12), np.log(y[-36:]), 4).items()}
    assert_same(model.forecast(y, 4, level=LEVELS), want)


def test_log_ignores_non_positive_values_outside_window():
    y = np.concatenate([[0.0, -1.0], series(n=30)])
    model = Model.create("seasonal_naive", {"log": True, "window": 30}, 12)
    assert np.all(np.isfinite(model.forecast(y, 3)["mean"]))


@pytest.mark.parametrize("bad", [0.0, -5.0])
def test_log_with_non_positive_values_raises(bad):
    y = series(n=30)
    y[10] = bad
    with pytest.raises(ValueError, match="positive"):
        Model.create("ets", {"spec": "ANN", "log": True}, 1).forecast(y, 3)


def test_prepare_returns_float_copy_without_preprocessing():
    y = [1, 2, 3]
    out = Model.create("seasonal_naive", {}, 1).prepare(y)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [1.0, 2.0, 3.0])


# --- parameters ---------------------------------------------------------------------------------


def test_coerce_params_casts_and_fills_defaults():
    out = coerce_params("arima", {"p": "2", "d": 1.0, "q": np.int64(1), "log": 1, "window": 104.0})
    assert out == {
        "P": 0,
        "D": 0,
        "Q": 0,
        "drift": False,
        "p": 2,
        "d": 1,
        "q": 1,
        "log": True,
        "window": 104,
    }
    assert type(out["p"]) is int and type(out["d"]) is int and type(out["q"]) is int
    assert type(out["log"]) is bool and type(out["window"]) is int


def test_coerce_params_drops_missing_values():
    out = coerce_params("ets", {"spec": "ANN", "window": float("nan"), "log": None, "variant": ""})
    assert out == {"spec": "ANN"}


def test_coerce_params_string_and_overrides_default():
    assert coerce_params("mstl", {"seasons": 52}) == {"trend": "ets", "seasons": "52"}
    assert coerce_params("mstl", {"trend": "arima"}) == {"trend": "arima"}
    assert coerce_params("holt_winters", {}) == {"error_type": "A"}


def test_coerce_params_unknown_parameter():
    with pytest.raises(ValueError, match="no parameter 'alpha'") as info:
        coerce_params("ets", {"spec": "ANN", "alpha": 0.3})
    assert "spec" in str(info.value) and "log" in str(info.value)


def test_create_coerces():
    model = Model.create("arima", {"p": 1.0, "d": "1", "q": 0}, 12)
    assert model == Model(
        "arima", {"P": 0, "D": 0, "Q": 0, "drift": False, "p": 1, "d": 1, "q": 0}, 12
    )


@pytest.mark.parametrize(
    ("family", "params", "label"),
    [
        ("ets", {"spec": "AAdN", "log": True, "window": 156}, "ets(AAdN) log w=156"),
        ("ets", {"spec": "ANN", "log": False}, "ets(ANN)"),
        ("theta", {"variant": "optimized"}, "theta(optimized)"),
        ("arima", {"p": 2, "d": 1, "q": 0}, "arima(2,1,0)"),
        ("mstl", {"trend": "ets"}, "mstl"),
        ("mstl", {"trend": "arima"}, "mstl(arima)"),
        ("seasonal_naive", {"window": 52}, "seasonal_naive w=52"),
    ],
)
def test_label(family, params, label):
    assert Model.create(family, params, 52).label() == label


def test_label_follows_declared_parameter_order():
    assert (
        Model.create("arima", {"p": 1, "d": 1, "q": 1, "drift": True}, 52).label()
        == "arima(1,1,1,True)"
    )


def test_check_reports_problems():
    assert Model.create("ets", {"spec": "AAA"}, 52).check() is not None
    assert Model.create("ets", {"spec": "AAA"}, 12).check() is None
    assert "no seasonal period" in Model.create("ets", {"spec": "AAA"}, 1).check()
    assert "damping needs a trend" in Model.create("ets", {"spec": "AdNN"}, 1).check()
    assert Model.create("holt_winters", {}, 52).check() is not None
    assert Model.create("holt_winters", {}, 4).check() is None
    assert "fancy" in Model.create("theta", {"variant": "fancy"}, 12).check()
    assert "trend" in Model.create("mstl", {"trend": "prophet"}, 52).check()
    assert Model.create("seasonal_naive", {}, 52).check() is None


# --- registry -----------------------------------------------------------------------------------


def test_register_custom_family():
    class Drift:
        """Mean of the last `k` points, flat: a tiny statsforecast-like model."""

        def __init__(self, k: int) -> None:
            self.k = k

        def forecast(self, y, h, level=None):
            mean = np.full(h, float(np.mean(y[-self.k :])))
            out = {"mean": mean}
            for lv in level or []:
                out[f"lo-{lv}"] = mean - lv / 100
                out[f"hi-{lv}"] = mean + lv / 100
            out["fitted"] = y  # extra keys are dropped by Model.forecast
            return out

    name = "test_last_k_mean"
    try:
        fam = register(Family(name, {"k": int}, lambda p, m: Drift(p["k"]), defaults={"k": 2}))
        assert get_family(name) is fam
        model = Model.create(name, {"window": 3}, 1)
        assert model.params == {"k": 2, "window": 3}
        out = model.forecast(np.array([1.0, 100.0, 2.0, 4.0, 6.0]), 2, level=[80])
        assert set(out) == {"mean", "lo-80", "hi-80"}
        np.testing.assert_allclose(out["mean"], [5.0, 5.0])
        np.testing.assert_allclose(out["hi-80"], [5.8, 5.8])
        assert Model.create(name, {"k": 3}, 1).label() == f"{name}(3)"
    finally:
        FAMILIES.unregister(name)


def test_get_family_unknown_lists_known():
    with pytest.raises(KeyError) as info:
        get_family("nbeats")
    msg = str(info.value)
    assert "nbeats" in msg
    for known in ("arima", "ets", "harmonic", "prophet", "seasonal_naive", "theta"):
        assert known in msg


def test_builtin_families_and_preprocess():
    assert {
        "ets",
        "arima",
        "theta",
        "mstl",
        "holt_winters",
        "seasonal_naive",
        "harmonic",
        "prophet",
    } <= set(FAMILIES)
    assert sorted(PREPROCESS) == ["log", "window"]
    assert PREPROCESS["log"] is bool and PREPROCESS["window"] is int


def test_non_finite_forecast_raises():
    name = "test_inf_model"

    class Inf:
        def forecast(self, y, h, level=None):
            return {"mean": np.full(h, np.inf)}

    try:
        register(Family(name, {}, lambda p, m: Inf()))
        with pytest.raises(ValueError, match="non-finite"):
            Model.create(name, {}, 1).forecast(np.ones(5), 2)
    finally:
        FAMILIES.unregister(name)
