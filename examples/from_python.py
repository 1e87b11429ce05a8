"""The README's "From Python" example as a script: tune, select and forecast three sample markets.

Run it from any folder: `python examples/from_python.py [WORK_DIR]` (default: the current
folder; the sample data and the tuning cube go under WORK_DIR/fcast-store). The main guard
is what lets Dask start its worker processes when the code runs as a script; in a notebook
the body of `main` runs as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

import fcast


def main(work: Path) -> None:
    """Tune, select and forecast SE, NO and DK of the built-in sample on a 2-worker local cluster."""
    from distributed import Client

    from fcast.data.sample import write_sample

    store = work / "fcast-store"
    paths = write_sample(str(store / "sample"))  # the built-in sample data
    cube = fcast.load_actuals(paths["actuals"], value="users", freq="W-MON")
    cube = cube.sel(market=["SE", "NO", "DK"])  # an xarray Dataset y(market, time)
    labels = fcast.label(cube.time, splits=4, step=13, horizon=52, holdout=13, min_train=104)
    hp = fcast.load_space("weekly", freq="W-MON")  # the hp dimension, one label per entry
    # the weekly default (harmonic regression) takes each market's holidays as regressors x
    time = fcast.future_index(cube.time.values, 52, "W-MON")  # history and horizon
    x = fcast.holiday_features(cube.market.values.tolist(), time, "W-MON")

    with Client(n_workers=2, threads_per_worker=1) as client:
        tuning, _ = fcast.tune(
            cube.y, labels, hp, str(store / "tuning.zarr"), horizon=52, metric="mase",
            season_length=52, min_train=104, client=client, x=x,
        )  # fmt: skip
        score = tuning.error.mean(["split", "step"]).swap_dims(hp="label")  # hp by label
        print(score.to_pandas().T.round(3).to_string())  # MASE per hp x market
        selection = fcast.select(
            tuning, cube.y, top=3, combine="best", holdout=13, client=client, x=x
        )
        members = fcast.members_from_selection(selection, 52)
        forecast = fcast.apply(cube.y, members, horizon=52, client=client, x=x)
    table = fcast.to_table(forecast)  # market, date, yhat, yhat_lo_80, ... family, segment, origin
    print(table.groupby("market")[["family"]].first().to_string())
    print(f"forecast: {len(table)} rows for {table['market'].nunique()} markets")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
