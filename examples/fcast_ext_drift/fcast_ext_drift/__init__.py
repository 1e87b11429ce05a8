"""A worked fcast extension: a damped random walk with drift, as the model family `drift`.

An extension provides a `fcast.core.models.Family`: its parameters with types and defaults,
a builder `(params, season_length) -> model`, and optionally a check. The model only
needs `forecast(y, h, level) -> {"mean": ..., "lo-80": ..., "hi-80": ...}` like a
statsforecast model. fcast finds this family through the entry point declared in
pyproject.toml (`drift`), or through the dotted path `fcast_ext_drift:family`.

The model, for a series y_1..y_n and damping phi in (0, 1]:

    drift  d     = mean(y_t - y_{t-1})
    mean   f_k   = y_n + d * (phi + phi^2 + ... + phi^k)            k = 1..h
    spread s     = std(y_t - y_{t-1} - d), ddof=1 (0 with fewer than 3 points)
    bounds f_k -+ z_L * s * sqrt(k),  z_L the standard normal quantile at 0.5 + L/200
"""

from __future__ import annotations

from collections.abc import Mapping
from statistics import NormalDist
from typing import Any

import numpy as np

from fcast.core.models import Family

__all__ = ["DampedDrift", "family"]


class DampedDrift:
    """Random walk with a (damped) drift and normal prediction intervals."""

    def __init__(self, phi: float = 1.0) -> None:
        self.phi = float(phi)

    def forecast(
        self, y: np.ndarray, h: int, level: list[int] | None = None
    ) -> dict[str, np.ndarray]:
        """Mean and lo-L/hi-L bounds for `h` steps after the end of `y`."""
        y = np.asarray(y, dtype="float64")
        if len(y) < 2:
            raise ValueError("drift needs at least 2 observations")
        diffs = np.diff(y)
        drift = float(diffs.mean())
        mean = y[-1] + drift * np.cumsum(self.phi ** np.arange(1, h + 1))
        sigma = float(np.std(diffs - drift, ddof=1)) if len(diffs) > 1 else 0.0
        spread = sigma * np.sqrt(np.arange(1, h + 1))
        out = {"mean": mean}
        for lv in level or []:
            z = NormalDist().inv_cdf(0.5 + lv / 200)
            out[f"lo-{lv}"] = mean - z * spread
            out[f"hi-{lv}"] = mean + z * spread
        return out


def _build(params: Mapping[str, Any], season_length: int) -> DampedDrift:
    """The model for one parameter set (the season length is not used)."""
    return DampedDrift(phi=params["phi"])


def _check(params: Mapping[str, Any], season_length: int) -> str | None:
    """Why these parameters cannot run, or None."""
    phi = params["phi"]
    return None if 0 < phi <= 1 else f"drift: phi must be in (0, 1], got {phi}"


def family() -> Family:
    """The `drift` family (the factory the entry point and the dotted path name)."""
    return Family("drift", {"phi": float}, _build, defaults={"phi": 1.0}, check=_check)
