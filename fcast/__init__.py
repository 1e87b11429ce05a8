"""fcast: forecasting infrastructure on Dask.

The stages are plain functions over xarray objects, importable from the top level::

    import fcast
    cube = fcast.load_actuals("actuals.parquet", value="users", freq="W-MON")
    labels = fcast.label(cube.time, splits=4, step=13, horizon=52, holdout=13)
    hp = fcast.load_space("configs/spaces/default.yaml", freq="W-MON")
    tuning, _ = fcast.tune(cube.y, labels, hp, "tuning.zarr", horizon=52, season_length=52)
    selection = fcast.select(tuning, cube.y, top=3, holdout=13)
    forecast = fcast.apply(cube.y, fcast.members_from_selection(selection, 52), horizon=52)

Submodules keep their names (`fcast.tune` is the function; import helpers from
`fcast.tune` with `from fcast.tune import errors`).
"""

__version__ = "0.1.0"

from fcast.apply import apply, members_from_selection, to_table  # noqa: E402
from fcast.config import load_config, parse_config  # noqa: E402
from fcast.data import load_actuals, to_cube  # noqa: E402
from fcast.label import label  # noqa: E402
from fcast.notebook import client, load  # noqa: E402  (also registers the `.fcast` xarray accessor)
from fcast.pipeline import run_tuning, run_weekly  # noqa: E402
from fcast.select import select  # noqa: E402
from fcast.space import load_space, parse_space  # noqa: E402
from fcast.tune import tune  # noqa: E402

__all__ = [
    "apply",
    "client",
    "load",
    "label",
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
