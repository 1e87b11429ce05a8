"""Tuning: the error cube market x split x hp, by grid search or successive halving."""

from fcast.core.tune.grid import errors, tune

__all__ = ["errors", "tune"]
