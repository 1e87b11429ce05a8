"""The one tuning entry point: strategies by name, options checked per strategy, no shadowed module."""

from __future__ import annotations

import importlib
import types

import pytest

import fcast
from fcast.core.tune import STRATEGIES, tune


def test_strategies_are_named_and_the_modules_stay_modules():
    assert sorted(STRATEGIES) == ["grid", "halving"]
    assert fcast.tune is tune
    for name in ("grid", "halving", "plan", "kernel", "regions", "report"):
        module = importlib.import_module(f"fcast.core.tune.{name}")
        assert isinstance(module, types.ModuleType)
        assert isinstance(
            getattr(importlib.import_module("fcast.core.tune"), name), types.ModuleType
        )


def test_unknown_strategy_and_foreign_options_are_refused():
    with pytest.raises(ValueError, match="strategy must be one of grid, halving, got 'bayes'"):
        tune(None, None, None, "x.zarr", horizon=1, strategy="bayes")
    with pytest.raises(TypeError, match=r"strategy='grid'\) takes no option keep"):
        tune(None, None, None, "x.zarr", horizon=1, keep=0.5)
    with pytest.raises(TypeError, match=r"strategy='halving'\) takes no option block_hps"):
        tune(None, None, None, "x.zarr", horizon=1, strategy="halving", block_hps=4)
