"""Model families: a registry from family name to a model, plus preprocessing.

A family declares its parameters (name -> type) and a builder that turns a parameter
dict and the season length into a model object: a statsforecast model, or one of fcast's
own estimators (`fcast.core.estimators`: `harmonic`, the weekly default, and `prophet`, the
optional extra), which offer the same `forecast(y, h, level, X, X_future)` call. `Model`
wraps one family with its parameters and the preprocessing shared by every family (log
transform, training window), and exposes `forecast(y, h, level)` like a statsforecast model.

Extension families plug in without editing fcast: a package declares an entry point in
the group ``fcast.models`` (``drift = "my_pkg:family"``), or a config names a dotted path
``my_pkg.module:factory``. Either target is a `Family` or a callable returning one; it
is loaded on first use and registered under the name it was asked for, so the same
lookup works in the client and in every Dask worker that can import the package.
`FAMILIES` is a `fcast.registry.Registry` (group ``fcast.models``); look families up with
`get_family`, add them with `register`.

Longer than 520 lines because every built-in family (statsforecast's and fcast's own) is
registered in this one table, next to the `Model` that reads it: a family's parameters,
defaults and checks are found in one place.
"""

from __future__ import annotations

import importlib
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fcast.registry import Registry, RegistryError

ParamType = type  # int, float, bool or str
Builder = Callable[[Mapping[str, Any], int], Any]

#: preprocessing parameters every family accepts
PREPROCESS: dict[str, ParamType] = {"log": bool, "window": int}

#: regressor parameters every family with `uses_x` accepts (see fcast.data.calendar): which holiday
#: groups ("all", "moving", "none" or group names), the largest lead and lag, and the encoding
#: ("share" of the period's days, "any": 1 when the period holds a holiday of the group, or
#: "both": the share columns and the indicators, for effects that grow with the days and
#: effects of the holiday as such)
HOLIDAY_FORMS = ("share", "any", "both")
X_PARAMS: dict[str, ParamType] = {
    "holidays": str,
    "holiday_lead": int,
    "holiday_lag": int,
    "holiday_form": str,
}


@dataclass(frozen=True)
class Family:
    """A model family: its parameters with types and defaults, and how to build the model."""

    name: str
    params: dict[str, ParamType]
    build: Builder
    defaults: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Mapping[str, Any], int], str | None] | None = None
    uses_x: bool = False  # the model takes exogenous regressors X (holiday features)


def param_types(family: Family) -> dict[str, ParamType]:
    """Every parameter a family accepts: its own, preprocessing, and regressor ones when it uses X."""
    return {**family.params, **PREPROCESS, **(X_PARAMS if family.uses_x else {})}


#: entry point group through which installed packages add model families
ENTRY_POINT_GROUP = "fcast.models"


class ExtensionError(KeyError):
    """An extension family that was found but could not be loaded."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def extension_names() -> list[str]:
    """Names of the families installed packages offer through the `fcast.models` entry points."""
    from importlib.metadata import entry_points

    return sorted({ep.name for ep in entry_points(group=ENTRY_POINT_GROUP)})


def _import_target(path: str) -> Any:
    """The object a dotted path `package.module:attr` names."""
    module, _, attr = path.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


def _as_family(target: Any, name: str) -> Family:
    """A Family from a Family or a factory returning one, registered under `name`."""
    fam = target if isinstance(target, Family) else target()
    if not isinstance(fam, Family):
        raise TypeError(f"expected a fcast.core.models.Family, got {type(fam).__name__}")
    return fam if fam.name == name else replace(fam, name=name)


#: family name -> Family: the built-ins, registered extensions, and (loaded on first use) the
#: installed `fcast.models` entry points
FAMILIES: Registry[Family] = Registry("model family", ENTRY_POINT_GROUP, load=_as_family)


def register(family: Family) -> Family:
    """Add a family to the registry, replacing one of the same name (extensions call this too)."""
    return FAMILIES.register(family.name, family, replace=True)


def get_family(name: str) -> Family:
    """Look up a family by name (built-in, registered, entry point or dotted path) with a helpful error."""
    if name in FAMILIES:
        return FAMILIES.get(name)
    try:
        if ":" in name:
            return FAMILIES.register(name, _as_family(_import_target(name), name), replace=True)
        return FAMILIES.get(name)
    except RegistryError:
        known = FAMILIES.names()
        raise KeyError(
            f"unknown model family {name!r}; known: {known}; or a dotted path 'package.module:factory'"
        ) from None
    except Exception as exc:  # any import or factory failure: report which extension and why
        msg = f"cannot load model family {name!r}: {type(exc).__name__}: {exc}"
        raise ExtensionError(msg) from exc


def has_family(name: str) -> bool:
    """Whether `name` is a family get_family can find (an extension that fails to load is not)."""
    try:
        get_family(name)
    except KeyError:
        return False
    return True


# --- statsforecast-backed families -------------------------------------------------


def _ets_parts(spec: str) -> tuple[str, str, bool, str]:
    """Split an ETS spec like 'AAdA' into error, trend, damped, season."""
    s = spec.strip()
    damped = "d" in s
    s = s.replace("d", "")
    if len(s) != 3 or s[0] not in "AM" or s[1] not in "ANM" or s[2] not in "ANM":
        raise ValueError(f"invalid ETS spec {spec!r}: expected e.g. ANN, AAN, AAdN, AAA, MAdM")
    if damped and s[1] == "N":
        raise ValueError(f"invalid ETS spec {spec!r}: damping needs a trend")
    return s[0], s[1], damped, s[2]


def _build_ets(p: Mapping[str, Any], m: int) -> Any:
    from statsforecast.models import AutoETS

    error, trend, damped, season = _ets_parts(p["spec"])
    return AutoETS(
        season_length=m if season != "N" else 1, model=error + trend + season, damped=damped
    )


def _check_ets(p: Mapping[str, Any], m: int) -> str | None:
    try:
        *_, season = _ets_parts(p["spec"])
    except ValueError as exc:
        return str(exc)
    if season != "N" and m > 24:
        return f"ETS spec {p['spec']!r} is seasonal but the season length is {m} (> 24); use mstl or theta"
    if season != "N" and m < 2:
        return f"ETS spec {p['spec']!r} is seasonal but the data has no seasonal period"
    return None


def _build_arima(p: Mapping[str, Any], m: int) -> Any:
    from statsforecast.models import ARIMA

    seasonal = (int(p.get("P", 0)), int(p.get("D", 0)), int(p.get("Q", 0)))
    return ARIMA(
        order=(int(p["p"]), int(p["d"]), int(p["q"])),
        season_length=m if any(seasonal) else 1,
        seasonal_order=seasonal,
        include_drift=bool(p.get("drift", False)),
    )


_THETA = {
    "standard": "Theta",
    "optimized": "OptimizedTheta",
    "dynamic": "DynamicTheta",
    "dynamic_optimized": "DynamicOptimizedTheta",
}


def _build_theta(p: Mapping[str, Any], m: int) -> Any:
    import statsforecast.models as sm

    return getattr(sm, _THETA[p["variant"]])(season_length=m)


def _check_theta(p: Mapping[str, Any], m: int) -> str | None:
    if p["variant"] not in _THETA:
        return f"unknown theta variant {p['variant']!r}; choose from {sorted(_THETA)}"
    return None


def _seasons(p: Mapping[str, Any], m: int) -> list[int]:
    """MSTL seasonal periods: a comma-separated string, or the data's season length."""
    raw = p.get("seasons")
    if raw in (None, "", "auto"):
        return [m]
    return [int(s) for s in str(raw).split(",")]


def _build_mstl(p: Mapping[str, Any], m: int) -> Any:
    from statsforecast.models import ARIMA, MSTL, AutoETS

    trend = p.get("trend", "ets")
    forecaster = (
        AutoETS(model="ZZN") if trend == "ets" else ARIMA(order=(1, 1, 1), include_drift=True)
    )
    seasons = _seasons(p, m)
    return MSTL(
        season_length=seasons if len(seasons) > 1 else seasons[0], trend_forecaster=forecaster
    )


def _check_x(p: Mapping[str, Any]) -> str | None:
    from fcast.data.calendar import check_set

    problem = check_set(p.get("holidays"))
    if problem:
        return problem
    if p.get("holiday_form", "share") not in HOLIDAY_FORMS:
        return f"unknown holiday_form {p.get('holiday_form')!r}; choose from {list(HOLIDAY_FORMS)}"
    if min(int(p.get("holiday_lead", 0)), int(p.get("holiday_lag", 0))) < 0:
        return "holiday_lead and holiday_lag must be >= 0"
    return None


def _check_arima(p: Mapping[str, Any], m: int) -> str | None:
    return _check_x(p)


def _check_mstl(p: Mapping[str, Any], m: int) -> str | None:
    if p.get("trend", "ets") not in ("ets", "arima"):
        return f"unknown mstl trend {p.get('trend')!r}; choose ets or arima"
    problem = _check_x(p)
    if problem:
        return problem
    if p.get("holidays", "none") != "none" and p.get("trend", "ets") != "arima":
        return "mstl takes holiday regressors only with trend: arima"
    if min(_seasons(p, m)) < 2:
        return "mstl needs a seasonal period of at least 2"
    return None


def _build_holt_winters(p: Mapping[str, Any], m: int) -> Any:
    from statsforecast.models import HoltWinters

    return HoltWinters(season_length=m, error_type=p.get("error_type", "A"))


def _check_holt_winters(p: Mapping[str, Any], m: int) -> str | None:
    if m > 24 or m < 2:
        return f"holt_winters needs a season length between 2 and 24, the data has {m}"
    return None


def _build_seasonal_naive(p: Mapping[str, Any], m: int) -> Any:
    from statsforecast.models import SeasonalNaive

    return SeasonalNaive(season_length=max(m, 1))


register(Family("ets", {"spec": str}, _build_ets, check=_check_ets))
register(
    Family(
        "arima",
        {"p": int, "d": int, "q": int, "P": int, "D": int, "Q": int, "drift": bool},
        _build_arima,
        defaults={"P": 0, "D": 0, "Q": 0, "drift": False},
        check=_check_arima,
        uses_x=True,
    )
)
register(Family("theta", {"variant": str}, _build_theta, check=_check_theta))
register(
    Family(
        "mstl",
        {"seasons": str, "trend": str},
        _build_mstl,
        defaults={"trend": "ets"},
        check=_check_mstl,
        uses_x=True,
    )
)
register(
    Family(
        "holt_winters",
        {"error_type": str},
        _build_holt_winters,
        defaults={"error_type": "A"},
        check=_check_holt_winters,
    )
)
register(Family("seasonal_naive", {}, _build_seasonal_naive))


# --- families fcast implements (fcast.core.estimators) ------------------------------


def _build_harmonic(p: Mapping[str, Any], m: int) -> Any:
    from fcast.core.estimators import HarmonicRegression, season_period

    return HarmonicRegression(
        float(p["period"]) if p.get("period") else season_period(m),
        harmonics=int(p["harmonics"]),
        changepoint_penalty=float(p["changepoint_penalty"]),
        changepoint_every=int(p["changepoint_every"]) if p.get("changepoint_every") else None,
        changepoint_end=int(p["changepoint_end"]) if "changepoint_end" in p else None,
        level_scale=not p.get("log", False),  # the penalty is relative to the level of raw data
        robust=bool(p["robust"]),
    )


def _check_harmonic(p: Mapping[str, Any], m: int) -> str | None:
    if int(p.get("harmonics", 0)) < 0 or float(p.get("changepoint_penalty", 0)) < 0:
        return "harmonic needs harmonics >= 0 and changepoint_penalty >= 0"
    if p.get("period") is not None and float(p["period"]) <= 0:
        return "harmonic needs a period > 0"
    if int(p.get("changepoint_every", 1)) < 1 or int(p.get("changepoint_end", 0)) < 0:
        return "harmonic needs changepoint_every >= 1 and changepoint_end >= 0"
    return _check_x(p)


PROPHET_MODES = ("additive", "multiplicative")


def _build_prophet(p: Mapping[str, Any], m: int) -> Any:
    from fcast.core.estimators import ProphetRegression

    return ProphetRegression(
        m,
        changepoint_prior_scale=float(p["changepoint_prior_scale"]),
        seasonality_prior_scale=float(p["seasonality_prior_scale"]),
        holidays_prior_scale=float(p["holidays_prior_scale"]),
        seasonality_mode=str(p["seasonality_mode"]),
    )


def _check_prophet(p: Mapping[str, Any], m: int) -> str | None:
    from fcast.core.estimators import PROPHET_FREQ, prophet_available

    if not prophet_available():
        return "the prophet family needs the optional extra: pip install 'fcast[prophet]'"
    if p.get("seasonality_mode", "additive") not in PROPHET_MODES:
        return f"unknown seasonality_mode {p.get('seasonality_mode')!r}; choose from {list(PROPHET_MODES)}"
    if m not in PROPHET_FREQ:
        return f"prophet needs a season length in {sorted(PROPHET_FREQ)}, the data has {m}"
    return _check_x(p)


register(
    Family(
        "harmonic",
        {
            "changepoint_penalty": float,
            "harmonics": int,
            "period": float,
            "changepoint_every": int,
            "changepoint_end": int,
            "robust": bool,
        },
        _build_harmonic,
        defaults={"changepoint_penalty": 200.0, "harmonics": 4, "robust": True},
        check=_check_harmonic,
        uses_x=True,
    )
)
register(
    Family(
        "prophet",
        {
            "changepoint_prior_scale": float,
            "seasonality_prior_scale": float,
            "holidays_prior_scale": float,
            "seasonality_mode": str,
        },
        _build_prophet,
        defaults={
            "changepoint_prior_scale": 0.05,
            "seasonality_prior_scale": 10.0,
            "holidays_prior_scale": 10.0,
            "seasonality_mode": "additive",
        },
        check=_check_prophet,
        uses_x=True,
    )
)


# --- the model object ----------------------------------------------------------------


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v == ""


def coerce_params(family: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Cast parameter values to the family's declared types and drop missing ones."""
    fam = get_family(family)
    types = param_types(fam)
    out: dict[str, Any] = {}
    for name, value in params.items():
        if _is_missing(value):
            continue
        if name not in types:
            raise ValueError(f"family {family!r} has no parameter {name!r}; it has {sorted(types)}")
        kind = types[name]
        out[name] = bool(value) if kind is bool else kind(value) if kind is not str else str(value)
    return {**fam.defaults, **out}


@dataclass(frozen=True)
class Model:
    """One family with fixed parameters; `forecast` fits and predicts like statsforecast."""

    family: str
    params: dict[str, Any]
    season_length: int = 1

    @classmethod
    def create(cls, family: str, params: Mapping[str, Any], season_length: int) -> Model:
        """Build a model with coerced parameters."""
        return cls(family, coerce_params(family, params), season_length)

    def check(self) -> str | None:
        """A reason this model cannot run on data with this season length, or None."""
        fam = get_family(self.family)
        return fam.check(self.params, self.season_length) if fam.check else None

    def estimator(self) -> Any:
        """The underlying model object (statsforecast's or one of fcast.core.estimators)."""
        return get_family(self.family).build(self.params, self.season_length)

    def prepare(self, y: np.ndarray) -> np.ndarray:
        """Apply the training window and the log transform to a training series."""
        y = np.asarray(y, dtype="float64")
        window = self.params.get("window")
        if window:
            y = y[-int(window) :]
        if self.params.get("log"):
            if np.any(y <= 0):
                raise ValueError("log transform needs positive values")
            y = np.log(y)
        return y

    @property
    def uses_x(self) -> bool:
        """True when this model takes holiday regressors (a family with `uses_x` and holidays other than none)."""
        return get_family(self.family).uses_x and self.params.get("holidays", "none") not in (
            "none",
            "",
        )

    def regressors(
        self,
        X: np.ndarray | None,
        X_future: np.ndarray | None,
        h: int,
        features: Sequence[str] | None,
    ) -> dict[str, np.ndarray]:
        """The X and X_future kwargs for the estimator: the model's columns, windowed like y, non-constant."""
        from fcast.data.calendar import columns

        if X is None or X_future is None or features is None:
            raise ValueError(f"{self.label()} needs holiday features x (and their future values)")
        cols = columns(
            features,
            self.params.get("holidays"),
            int(self.params.get("holiday_lead", 0)),
            int(self.params.get("holiday_lag", 0)),
        )
        X = np.asarray(X, dtype="float64")[:, cols]
        X_future = np.asarray(X_future, dtype="float64")[:, cols]
        if len(X_future) != h:
            raise ValueError(f"X_future has {len(X_future)} rows, the horizon is {h}")
        window = self.params.get("window")
        if window:
            X = X[-int(window) :]
        form = self.params.get("holiday_form", "share")
        if form == "any":
            X, X_future = (X > 0).astype("float64"), (X_future > 0).astype("float64")
        elif form == "both":  # the share columns, then the 'any' indicators
            X = np.concatenate([X, (X > 0).astype("float64")], axis=1)
            X_future = np.concatenate([X_future, (X_future > 0).astype("float64")], axis=1)
        if not (np.all(np.isfinite(X)) and np.all(np.isfinite(X_future))):
            raise ValueError("holiday features have missing values")
        keep: list[int] = []
        for j in range(
            X.shape[1]
        ):  # a constant or repeated column would make the regression singular
            if np.ptp(X[:, j]) > 0 and not any(np.array_equal(X[:, j], X[:, k]) for k in keep):
                keep.append(j)
        return {"X": X[:, keep], "X_future": X_future[:, keep]} if keep else {}

    def forecast(
        self,
        y: np.ndarray,
        h: int,
        level: list[int] | None = None,
        X: np.ndarray | None = None,
        X_future: np.ndarray | None = None,
        features: Sequence[str] | None = None,
    ) -> dict[str, np.ndarray]:
        """Fit on `y` and forecast `h` periods: keys mean and lo-L / hi-L per level.

        X (rows aligned with y) and X_future (h rows) are the holiday features with column
        names `features`; only a model with `uses_x` looks at them.
        """
        if self.uses_x:
            if X is not None and len(X) != len(y):
                raise ValueError(f"X has {len(X)} rows, y has {len(y)}")
            extra = self.regressors(X, X_future, h, features)
        else:
            extra = {}
        train = self.prepare(y)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = self.estimator().forecast(y=train, h=h, level=level, **extra)
        out = {
            k: np.asarray(v, dtype="float64")
            for k, v in res.items()
            if k == "mean" or k[:3] in ("lo-", "hi-")
        }
        if self.params.get("log"):
            out = {k: np.exp(v) for k, v in out.items()}
        if not np.all(np.isfinite(out["mean"])):
            raise ValueError("non-finite forecast")
        return out

    def label(self) -> str:
        """A short readable name, e.g. 'ets(AAdN) log w=156'."""
        fam = get_family(self.family)
        core = [
            self.params[k]
            for k in fam.params
            if k in self.params and fam.defaults.get(k) != self.params[k]
        ]
        inner = ",".join(str(v) for v in core)
        text = f"{self.family}({inner})" if inner else self.family
        if self.params.get("log"):
            text += " log"
        if self.params.get("window"):
            text += f" w={self.params['window']}"
        if self.uses_x:
            text += f" hol={self.params['holidays']}"
            for key, short in (("holiday_lead", "+"), ("holiday_lag", "-")):
                if self.params.get(key):
                    text += f"{short}{self.params[key]}"
            if self.params.get("holiday_form", "share") != "share":
                text += f" {self.params['holiday_form']}"
        return text
