"""Estimators fcast implements itself: plain objects with `fit`, `predict` and `forecast`.

`HarmonicRegression` is the weekly default: a piecewise-linear trend, a Fourier season and
regressors (the holiday features of `fcast.data.calendar`) in one robust, penalised linear
regression, with an AR(1) correction of the residual::

    z[t] = a + b t + sum_j delta_j (t - c_j)+ + sum_k (s_k sin 2 pi k t / P + c_k cos 2 pi k t / P)
           + x[t] @ gamma + r[t]

- `t` counts seasons (periods / P), so a slope is growth per season (per year for weekly
  data, where P = 365.25 / 7 = 52.18 weeks: a season of 52 periods would drift by a day
  and a quarter a year against the calendar, and the holidays with it);
- a candidate changepoint `c_j` every `changepoint_every` periods (default P / 4) up to
  `changepoint_end` periods before the end (default P / 2), so the last slope is fitted on
  at least half a season; the slope changes `delta_j` get an L1 penalty
  ``changepoint_penalty * sigma**2 / L * sum |delta_j|`` (solved as iteratively reweighted
  ridge), so most are zero and the trend bends only where the data insist. `sigma` is the
  noise scale (robust, from first differences) and `L` the level (1 for log data, the mean
  absolute value otherwise): one penalty value means the same in every series;
- the Fourier and regressor coefficients get a light ridge (prior sd of one level unit),
  which only keeps collinear holiday columns solvable;
- Huber weights (from the residuals' MAD) make a leftover outlier count less;
- the forecast continues the last slope, the season and the regressors' future values, and
  adds the last (Huber-clipped) residual decaying with the residuals' lag-1 autocorrelation.

Intervals: normal bounds with the variance of the AR(1) residual at each step plus that of
the fitted coefficients (the final weighted ridge's covariance: level, slope, season,
holidays), inflated by (1 + phi) / (1 - phi) for the residuals' autocorrelation. Future
slope changes are not simulated (as Prophet does): on the sample data that made the
intervals of markets with a bendy past much too wide (Winkler score 21 vs 12) for little
coverage; these intervals cover 78-79% (80%) and 93-94% (95%) there, pooled over markets.

`ProphetRegression` wraps Prophet (the optional extra ``fcast[prophet]``) behind the same
interface: synthetic dates at the data's spacing, yearly seasonality, and the holiday
features as regressors (the same calendar every fcast family sees).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np

#: a year of weeks: the seasonal period of weekly data
YEAR_OF_WEEKS = 365.25 / 7
HUBER_C = 2.0
MAD = 1.4826
#: slope change the L1 reweighting starts from, per level unit (5% per season in log data)
START_DELTA = 0.05
#: smallest slope change the reweighting divides by, per level unit
MIN_DELTA = 1e-4
#: smallest noise scale, per level unit (an exactly smooth series still gets a tiny ridge)
MIN_SIGMA = 1e-4


_CONTROLLER = None


def one_blas_thread() -> Any:
    """A context in which BLAS runs on one thread: these matrices are small, and a multi-threaded
    BLAS in the client process (notebooks, in-process runs) made each fit 3-20x slower."""
    global _CONTROLLER
    if _CONTROLLER is None:  # scanning the loaded libraries once costs ~ms; each limit ~30 us
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def season_period(season_length: int) -> float:
    """The seasonal period in periods: a calendar year (52.18) for weekly data, else the season length."""
    return YEAR_OF_WEEKS if season_length == 52 else float(max(season_length, 1))


def _robust_scale(v: np.ndarray) -> float:
    """MAD-based scale of the values (0 when there are none)."""
    if len(v) == 0:
        return 0.0
    return MAD * float(np.median(np.abs(v - np.median(v))))


def _normal_bounds(
    mean: np.ndarray, sd: np.ndarray, level: Sequence[int] | None
) -> dict[str, np.ndarray]:
    """mean plus lo-L / hi-L normal bounds for each level."""
    out = {"mean": mean}
    for lv in level or ():
        z = NormalDist().inv_cdf(0.5 + lv / 200)
        out[f"lo-{lv}"] = mean - z * sd
        out[f"hi-{lv}"] = mean + z * sd
    return out


class HarmonicRegression:
    """Piecewise-linear trend + Fourier season + regressors, robust L1-penalised fit, AR(1) residual."""

    def __init__(
        self,
        period: float,
        harmonics: int = 4,
        changepoint_penalty: float = 200.0,
        changepoint_every: int | None = None,
        changepoint_end: int | None = None,
        level_scale: bool = False,
        robust: bool = True,
        ar: bool = True,
        iterations: int = 8,
    ) -> None:
        if period <= 0 or harmonics < 0 or changepoint_penalty < 0:
            raise ValueError("period > 0, harmonics >= 0 and changepoint_penalty >= 0 are needed")
        self.period = float(period)
        self.harmonics = int(min(harmonics, max(int(self.period // 2), 0)))
        self.changepoint_penalty = float(changepoint_penalty)
        self.changepoint_every = int(changepoint_every or max(round(self.period / 4), 1))
        self.changepoint_end = int(
            round(self.period / 2) if changepoint_end is None else changepoint_end
        )
        self.level_scale = level_scale
        self.robust = robust
        self.ar = ar
        self.iterations = int(iterations)

    # --- design -----------------------------------------------------------------------

    def _design(self, start: int, n: int, X: np.ndarray | None) -> np.ndarray:
        """Rows start..start+n-1: [1, t, hinges, sin, cos, X]."""
        t = np.arange(start, start + n, dtype=float) / self.period
        hinge = np.maximum(t[:, None] - self.changepoints_[None, :], 0.0)
        k = np.arange(1, self.harmonics + 1)[None, :] * 2 * np.pi * t[:, None]
        parts = [np.ones((n, 1)), t[:, None], hinge, np.sin(k), np.cos(k)]
        if self.n_x_:
            parts.append(np.asarray(X, dtype=float).reshape(n, self.n_x_))
        return np.concatenate(parts, axis=1)

    # --- fit and predict ----------------------------------------------------------------

    def fit(self, y: np.ndarray, X: np.ndarray | None = None) -> HarmonicRegression:
        """Fit on a series (and regressors X with one row per period)."""
        with one_blas_thread():
            return self._fit(y, X)

    def _fit(self, y: np.ndarray, X: np.ndarray | None) -> HarmonicRegression:
        y = np.asarray(y, dtype=float)
        n = len(y)
        if n < 3 or not np.all(np.isfinite(y)):
            raise ValueError("harmonic regression needs at least 3 finite values")
        self.n_ = n
        self.n_x_ = 0 if X is None else int(np.asarray(X).shape[1])
        if self.n_x_ and len(X) != n:
            raise ValueError(f"X has {len(X)} rows, y has {n}")
        last = n - self.changepoint_end
        self.changepoints_ = (
            np.arange(self.changepoint_every, max(last, 0), self.changepoint_every) / self.period
        )
        A = self._design(0, n, X)
        n_cp = len(self.changepoints_)
        cp = slice(2, 2 + n_cp)
        level = float(np.mean(np.abs(y))) if self.level_scale else 1.0
        level = level if level > 0 else 1.0
        sigma = _robust_scale(np.diff(y)) / math.sqrt(2)
        if not sigma > 0:  # more than half the steps equal: fall back on their spread
            sigma = float(np.std(np.diff(y)))
        sigma = max(sigma, MIN_SIGMA * level)
        # ridge on season and regressor coefficients: prior sd of one level unit
        ridge = np.zeros(A.shape[1])
        ridge[2 + n_cp :] = (sigma / level) ** 2
        lam = self.changepoint_penalty * sigma**2 / level
        delta = np.full(n_cp, START_DELTA * level)
        w = np.ones(n)
        for _ in range(max(self.iterations, 1)):
            pen = ridge.copy()
            pen[cp] = lam / (2 * np.maximum(np.abs(delta), MIN_DELTA * level))
            Aw = A * w[:, None]
            beta = np.linalg.solve(Aw.T @ A + np.diag(pen), Aw.T @ y)
            delta = beta[cp]
            resid = y - A @ beta
            if self.robust:
                s = _robust_scale(resid)
                if s > 0:
                    w = np.minimum(1.0, HUBER_C * s / np.maximum(np.abs(resid), 1e-300))
        self.coef_ = beta
        self.slope_changes_ = delta
        self.resid_ = resid
        # coefficient covariance of the final weighted ridge, for the intervals
        self.coef_cov_ = np.linalg.inv(Aw.T @ A + np.diag(pen)) * float(
            np.sum(w * resid**2) / max(np.sum(w) - 2, 1.0)
        )
        s = _robust_scale(resid) or float(np.std(resid))
        self.last_resid_ = float(np.clip(resid[-1], -HUBER_C * s, HUBER_C * s))
        phi = 0.0
        if self.ar and n > 10:
            a, b = resid[1:], resid[:-1]
            if b @ b > 0:
                phi = float(np.clip(a @ b / (b @ b), 0.0, 0.95))
        self.phi_ = phi
        innov = resid[1:] - phi * resid[:-1]
        self.innovation_sd_ = float(np.sqrt(np.mean(innov**2))) if len(innov) else 0.0
        return self

    def predict(
        self, h: int, X: np.ndarray | None = None, level: Sequence[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Forecast h periods (X: the regressors' h future rows): mean and lo-L / hi-L."""
        with one_blas_thread():
            return self._predict(h, X, level)

    def _predict(
        self, h: int, X: np.ndarray | None, level: Sequence[int] | None
    ) -> dict[str, np.ndarray]:
        if self.n_x_ and (X is None or len(X) != h):
            raise ValueError(f"the model was fitted with regressors: X needs {h} future rows")
        steps = np.arange(1, h + 1)
        B = self._design(self.n_, h, X if self.n_x_ else None)
        mean = B @ self.coef_ + self.last_resid_ * self.phi_**steps
        if not level:
            return {"mean": mean}
        phi2 = self.phi_**2
        ar_var = self.innovation_sd_**2 * (
            (1 - phi2**steps) / (1 - phi2) if phi2 < 1 else steps.astype(float)
        )
        # the coefficients' uncertainty (level, slope, season, holidays), inflated by the
        # long-run variance factor of AR(1) residuals: correlated residuals carry less information
        inflate = (1 + self.phi_) / (1 - self.phi_)
        coef_var = inflate * np.einsum("ij,jk,ik->i", B, self.coef_cov_, B)
        return _normal_bounds(mean, np.sqrt(ar_var + coef_var), level)

    def forecast(
        self,
        y: np.ndarray,
        h: int,
        level: Sequence[int] | None = None,
        X: np.ndarray | None = None,
        X_future: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Fit on y (and X) and forecast h periods (X_future): the statsforecast-style call."""
        return self.fit(y, X).predict(h, X_future, level)


# --- Prophet (optional extra) ---------------------------------------------------------

#: pandas frequency of the synthetic dates Prophet is given, by season length
PROPHET_FREQ = {52: "W-MON", 12: "MS", 4: "QS", 7: "D", 24: "h", 1: "YS"}


def quiet_stan_logs() -> None:
    """Keep Prophet's and cmdstanpy's INFO lines (two per fit) out of the run's output.

    cmdstanpy installs its own INFO handler unless its logger already has one: give it a
    null handler at WARNING first.
    """
    import logging

    for name in ("prophet", "cmdstanpy"):
        log = logging.getLogger(name)
        if not any(isinstance(h, logging.NullHandler) for h in log.handlers):
            log.addHandler(logging.NullHandler())
        log.setLevel(logging.WARNING)


def prophet_available() -> bool:
    """Whether the optional `prophet` package can be imported."""
    try:
        import prophet  # noqa: F401
    except ImportError:
        return False
    return True


class ProphetRegression:
    """Prophet on synthetic dates with the holiday features as regressors (needs fcast[prophet])."""

    def __init__(
        self,
        season_length: int,
        changepoint_prior_scale: float = 0.05,
        seasonality_prior_scale: float = 10.0,
        holidays_prior_scale: float = 10.0,
        seasonality_mode: str = "additive",
        yearly: bool = True,
    ) -> None:
        if season_length not in PROPHET_FREQ:
            raise ValueError(
                f"prophet needs a season length in {sorted(PROPHET_FREQ)} to space its dates, got {season_length}"
            )
        self.freq = PROPHET_FREQ[season_length]
        self.params = {
            "changepoint_prior_scale": float(changepoint_prior_scale),
            "seasonality_prior_scale": float(seasonality_prior_scale),
            "holidays_prior_scale": float(holidays_prior_scale),
            "seasonality_mode": seasonality_mode,
            "yearly_seasonality": bool(yearly),
            "weekly_seasonality": season_length in (7, 24),
            "daily_seasonality": season_length == 24,
        }

    def forecast(
        self,
        y: np.ndarray,
        h: int,
        level: Sequence[int] | None = None,
        X: np.ndarray | None = None,
        X_future: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Fit Prophet on y (and X) and forecast h periods; bounds from its simulated paths (seeded)."""
        import pandas as pd

        try:
            from prophet import Prophet
        except ImportError as exc:  # the optional extra is missing
            raise ImportError(
                "the prophet family needs the optional extra: pip install 'fcast[prophet]'"
            ) from exc
        quiet_stan_logs()
        y = np.asarray(y, dtype=float)
        ds = pd.date_range("2000-01-03", periods=len(y) + h, freq=self.freq)
        hist = pd.DataFrame({"ds": ds[: len(y)], "y": y})
        fut = pd.DataFrame({"ds": ds[len(y) :]})
        names = []
        if X is not None and np.asarray(X).shape[1]:
            for j in range(np.asarray(X).shape[1]):
                names.append(f"x{j}")
                hist[f"x{j}"] = np.asarray(X, dtype=float)[:, j]
                fut[f"x{j}"] = np.asarray(X_future, dtype=float)[:, j]
        model = Prophet(**self.params)
        for name in names:
            model.add_regressor(name, prior_scale=self.params["holidays_prior_scale"])
        model.fit(hist)
        samples = model.uncertainty_samples
        model.uncertainty_samples = 0  # the point forecast needs no simulation
        out = {"mean": model.predict(fut)["yhat"].to_numpy(dtype=float)}
        if level:
            model.uncertainty_samples = samples
            state = np.random.get_state()  # Prophet simulates with the global generator
            np.random.seed(0)
            try:
                draws = model.predictive_samples(fut)["yhat"]  # (h, samples)
            finally:
                np.random.set_state(state)
            for lv in level:
                out[f"lo-{lv}"] = np.percentile(draws, 50 - lv / 2, axis=1)
                out[f"hi-{lv}"] = np.percentile(draws, 50 + lv / 2, axis=1)
        return out
