"""fcast: forecasting infrastructure on Dask.

The stages are plain functions over xarray objects, importable from the top level::

    import fcast
    cube = fcast.load_actuals("actuals.parquet", value="users", freq="W-MON")
    labels = fcast.label(cube.time, splits=4, step=13, horizon=52, holdout=13)
    hp = fcast.load_space("weekly", freq="W-MON")  # harmonic regression with holidays
    time = fcast.future_index(cube.time.values, 52, "W-MON")  # history and horizon
    x = fcast.holiday_features(cube.market.values.tolist(), time, "W-MON")
    tuning, _ = fcast.tune(cube.y, labels, hp, "tuning.zarr", horizon=52, season_length=52, x=x)
    selection = fcast.select(tuning, cube.y, top=3, holdout=13, x=x)
    forecast = fcast.apply(cube.y, fcast.members_from_selection(selection, 52), horizon=52, x=x)

The names are loaded on first use, so ``import fcast`` stays light. Each lives in the
part of the package it belongs to (``fcast.core.tune``, ``fcast.core.select`` ...; see
docs/architecture.md); no top-level name shadows a module. The ``.fcast`` xarray accessor
is registered by ``fcast.load``/``fcast.client`` or ``import fcast.notebook``.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: public name -> module that defines it
_API: dict[str, str] = {
    "apply": "fcast.core.apply",
    "members_from_selection": "fcast.core.apply",
    "to_table": "fcast.core.apply",
    "label": "fcast.core.label",
    "load_space": "fcast.core.space",
    "parse_space": "fcast.core.space",
    "select": "fcast.core.select",
    "tune": "fcast.core.tune",
    "load_actuals": "fcast.data.ingest",
    "to_cube": "fcast.data.ingest",
    "holiday_features": "fcast.data.calendar",
    "future_index": "fcast.data.calendar",
    "load_config": "fcast.config",
    "parse_config": "fcast.config",
    "client": "fcast.notebook",
    "load": "fcast.notebook",
    "run_tuning": "fcast.jobs",
    "run_weekly": "fcast.jobs",
}

__all__ = [
    "__version__",
    "apply",
    "client",
    "future_index",
    "holiday_features",
    "label",
    "load",
    "load_actuals",
    "load_config",
    "load_space",
    "members_from_selection",
    "parse_config",
    "parse_space",
    "run_tuning",
    "run_weekly",
    "select",
    "to_cube",
    "to_table",
    "tune",
]


def __getattr__(name: str) -> Any:
    """Load a public name from its module on first use."""
    if name == "__version__":  # the one version source: the installed package's metadata
        from importlib.metadata import PackageNotFoundError, version

        try:
            value = version("fcast")
        except PackageNotFoundError:  # a source tree without installed metadata
            value = "0+unknown"
        globals()[name] = value
        return value
    if name in _API:
        value = getattr(import_module(_API[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fcast' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


if TYPE_CHECKING:  # static type checkers and IDEs see the real objects
    from fcast.config import load_config, parse_config
    from fcast.core.apply import apply, members_from_selection, to_table
    from fcast.core.label import label
    from fcast.core.select import select
    from fcast.core.space import load_space, parse_space
    from fcast.core.tune import tune
    from fcast.data.calendar import future_index, holiday_features
    from fcast.data.ingest import load_actuals, to_cube
    from fcast.jobs import run_tuning, run_weekly
    from fcast.notebook import client, load
