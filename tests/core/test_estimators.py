"""Tests for fcast.core.estimators: the harmonic regression recovers known series; Prophet wraps cleanly."""

from __future__ import annotations

import numpy as np
import pytest

from fcast.core.estimators import (
    YEAR_OF_WEEKS,
    HarmonicRegression,
    ProphetRegression,
    season_period,
)
from fcast.core.models import FAMILIES, Model

P = YEAR_OF_WEEKS


def seasonal(t: np.ndarray, period: float = P) -> np.ndarray:
    """A smooth yearly shape with two harmonics."""
    w = 2 * np.pi * t / period
    return 0.08 * np.sin(w) - 0.05 * np.cos(w) + 0.03 * np.sin(2 * w)


def test_season_period_is_a_calendar_year_for_weekly_data():
    assert season_period(52) == pytest.approx(365.25 / 7)
    assert season_period(12) == 12.0
    assert season_period(1) == 1.0


def test_recovers_a_noise_free_series_and_its_future():
    n, h = 300, 52
    t = np.arange(n + h)
    z = 10.0 + 0.15 * t / P + seasonal(t)  # log users: 15% a year, a yearly season
    fc = HarmonicRegression(P, harmonics=2).forecast(z[:n], h)["mean"]
    np.testing.assert_allclose(fc, z[n:], atol=2e-4)


def test_a_weekly_season_of_52_18_weeks_does_not_drift():
    """The calendar year is 52.18 weeks; a 52-period season would be 9 days off after 6 years."""
    n, h = 6 * 52, 52
    t = np.arange(n + h)
    z = 5.0 + seasonal(t)
    good = HarmonicRegression(P, harmonics=2, changepoint_penalty=1e6).forecast(z[:n], h)
    drifted = HarmonicRegression(52.0, harmonics=2, changepoint_penalty=1e6).forecast(z[:n], h)
    err_good = np.abs(good["mean"] - z[n:]).max()
    err_drift = np.abs(drifted["mean"] - z[n:]).max()
    assert err_good < 1e-4
    assert err_drift > 0.005  # the 52-week season has slid against the data


def test_continues_the_slope_after_the_last_changepoint():
    """Growth 20%/year, then -10%/year from week 156: the forecast keeps falling at 10%/year."""
    rng = np.random.default_rng(0)
    n, h = 312, 52
    t = np.arange(n + h)
    kink = 156
    trend = 0.2 * t / P - 0.3 * np.maximum(t - kink, 0) / P
    z = 8.0 + trend + seasonal(t) + rng.normal(0, 0.01, n + h)
    model = HarmonicRegression(P, harmonics=2).fit(z[:n])
    assert model.coef_[1] + model.slope_changes_.sum() == pytest.approx(-0.1, abs=0.01)
    fc = model.predict(h)["mean"]
    truth = 8.0 + trend[n:] + seasonal(t[n:])
    assert np.abs(fc - truth).max() < 0.02
    # the L1 penalty puts the slope change at the kink and (almost) nowhere else
    near = np.abs(model.changepoints_ * P - kink) <= 26
    assert model.slope_changes_[near].sum() == pytest.approx(-0.3, abs=0.03)
    assert np.abs(model.slope_changes_[~near]).sum() < 0.03
    assert (np.abs(model.slope_changes_) < 1e-3).mean() > 0.7


def test_holiday_regressors_carry_their_effect_into_the_future():
    rng = np.random.default_rng(1)
    n, h = 260, 52
    t = np.arange(n + h)
    x = np.zeros((n + h, 1))
    x[t % 52 == 14] = 1.0  # a holiday week a year
    x[(n + 20, n + 40), 0] = 1.0  # two in the horizon, at weeks the past never had
    z = 6.0 + 0.05 * t / P + seasonal(t) - 0.4 * x[:, 0] + rng.normal(0, 0.005, n + h)
    fc = HarmonicRegression(P, harmonics=2).forecast(z[:n], h, X=x[:n], X_future=x[n:])["mean"]
    base = 6.0 + 0.05 * t[n:] / P + seasonal(t[n:])
    weeks = np.flatnonzero(x[n:, 0])
    assert list(weeks) == [14, 20, 40]
    np.testing.assert_allclose(fc[weeks] - base[weeks], -0.4, atol=0.02)
    others = np.setdiff1d(np.arange(h), weeks)
    assert np.abs(fc[others] - base[others]).max() < 0.02


def test_an_outlier_barely_moves_the_fit():
    n, h = 260, 26
    t = np.arange(n + h)
    z = 4.0 + 0.1 * t / P + seasonal(t)
    bad = z[:n].copy()
    bad[200:203] += 1.0  # a three-week disruption the cleaning missed
    robust = HarmonicRegression(P, harmonics=2).forecast(bad, h)["mean"]
    plain = HarmonicRegression(P, harmonics=2, robust=False).forecast(bad, h)["mean"]
    assert np.abs(robust - z[n:]).max() < 0.01 < np.abs(plain - z[n:]).max()


def test_intervals_match_white_noise_and_are_ordered():
    rng = np.random.default_rng(2)
    n, h, sd = 520, 13, 0.02
    t = np.arange(n)
    z = 3.0 + seasonal(t) + rng.normal(0, sd, n)
    out = HarmonicRegression(P, harmonics=2, changepoint_penalty=1e6, ar=False).forecast(
        z, h, level=[80, 95]
    )
    assert set(out) == {"mean", "lo-80", "hi-80", "lo-95", "hi-95"}
    assert np.all(out["lo-95"] < out["lo-80"]) and np.all(out["lo-80"] < out["mean"])
    assert np.all(out["mean"] < out["hi-80"]) and np.all(out["hi-80"] < out["hi-95"])
    half = (out["hi-80"] - out["lo-80"]) / 2
    np.testing.assert_allclose(half, 1.2816 * sd, rtol=0.15)


def test_ar1_residual_decays_into_the_forecast():
    """With AR(1) noise the first steps lean towards the last residual, later ones do not."""
    rng = np.random.default_rng(3)
    n = 520
    e = np.zeros(n)
    for i in range(1, n):
        e[i] = 0.6 * e[i - 1] + rng.normal(0, 0.01)
    t = np.arange(n)
    z = 2.0 + seasonal(t) + e
    m = HarmonicRegression(P, harmonics=2, changepoint_penalty=1e6).fit(z)
    assert m.phi_ == pytest.approx(0.6, abs=0.1)
    no_ar = HarmonicRegression(P, harmonics=2, changepoint_penalty=1e6, ar=False).fit(z)
    diff = m.predict(40)["mean"] - no_ar.predict(40)["mean"]
    assert abs(diff[0]) > 0.4 * min(abs(m.last_resid_), 1.0) * m.phi_
    assert abs(diff[-1]) < 1e-6


def test_raw_data_penalty_is_scale_free():
    """On raw data (level_scale) the forecast of c * y is c times the forecast of y."""
    rng = np.random.default_rng(4)
    n = 260
    t = np.arange(n)
    y = 1000 * np.exp(0.1 * t / P + seasonal(t)) * np.exp(rng.normal(0, 0.02, n))
    a = HarmonicRegression(P, level_scale=True).forecast(y, 26, level=[80])
    b = HarmonicRegression(P, level_scale=True).forecast(250.0 * y, 26, level=[80])
    for k in a:
        np.testing.assert_allclose(b[k], 250.0 * a[k], rtol=1e-6)


def test_errors_on_bad_input():
    with pytest.raises(ValueError, match="at least 3"):
        HarmonicRegression(P).fit(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match="future rows"):
        y = np.random.default_rng(0).normal(10, 1, 60)
        HarmonicRegression(P).fit(y, X=np.ones((60, 1))).predict(5)
    with pytest.raises(ValueError):
        HarmonicRegression(-1.0)


# --- through the model registry ---------------------------------------------------------------


def test_harmonic_family_with_holiday_features_both_forms():
    rng = np.random.default_rng(5)
    n, h = 260, 52
    t = np.arange(n + h)
    share = np.where(t % 52 == 30, 2 / 7, 0.0)[:, None]  # a two-day holiday in week 30
    y = np.exp(
        7.0 + 0.1 * t / P + seasonal(t) - 0.3 * (share[:, 0] > 0) + rng.normal(0, 0.01, n + h)
    )
    model = Model.create("harmonic", {"log": True, "holidays": "all", "holiday_form": "both"}, 52)
    assert model.uses_x and model.check() is None
    assert model.label() == "harmonic log hol=all both"
    fc = model.forecast(y[:n], h, level=[80], X=share[:n], X_future=share[n:], features=["easter"])
    week = int(np.flatnonzero(share[n:, 0])[0])
    assert fc["mean"][week] / fc["mean"][week - 1] == pytest.approx(np.exp(-0.3), rel=0.03)
    assert np.all(fc["lo-80"] < fc["mean"]) and np.all(fc["mean"] < fc["hi-80"])


def test_harmonic_params_and_checks():
    assert "harmonic" in FAMILIES and "prophet" in FAMILIES
    m = Model.create("harmonic", {"changepoint_penalty": 60, "log": True}, 52)
    assert m.params["changepoint_penalty"] == 60.0 and m.params["harmonics"] == 4
    assert m.label() == "harmonic(60.0) log"
    assert "harmonics" in Model.create("harmonic", {"harmonics": -1}, 52).check()
    assert (
        "holiday_form"
        in Model.create("harmonic", {"holidays": "all", "holiday_form": "sometimes"}, 52).check()
    )
    est = m.estimator()
    assert est.period == pytest.approx(P) and est.changepoint_every == 13
    assert est.changepoint_end == 26 and not est.level_scale
    assert Model.create("harmonic", {"period": 12.0}, 12).estimator().changepoint_every == 3


def test_prophet_family_says_how_to_install_when_missing(monkeypatch):
    import fcast.core.estimators as est

    monkeypatch.setattr(est, "prophet_available", lambda: False)
    assert "fcast[prophet]" in Model.create("prophet", {}, 52).check()


def test_prophet_needs_a_known_spacing():
    with pytest.raises(ValueError, match="season length"):
        ProphetRegression(5)


def test_prophet_family_forecasts_with_holiday_regressors():
    pytest.importorskip("prophet")
    rng = np.random.default_rng(6)
    n, h = 208, 26
    t = np.arange(n + h)
    x = (t % 52 == 10).astype(float)[:, None]
    y = 1000 + 2 * t + 100 * seasonal(t) * 10 - 150 * x[:, 0] + rng.normal(0, 5, n + h)
    model = Model.create("prophet", {"holidays": "all"}, 52)
    assert model.check() is None
    a = model.forecast(y[:n], h, level=[80, 95], X=x[:n], X_future=x[n:], features=["easter"])
    b = model.forecast(y[:n], h, level=[80, 95], X=x[:n], X_future=x[n:], features=["easter"])
    assert set(a) == {"mean", "lo-80", "hi-80", "lo-95", "hi-95"}
    for k in a:  # seeded: the same numbers twice
        np.testing.assert_allclose(a[k], b[k])
    assert np.all(a["lo-95"] <= a["lo-80"]) and np.all(a["hi-80"] <= a["hi-95"])
    assert np.mean(np.abs(a["mean"] - y[n:])) < 40
