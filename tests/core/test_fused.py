"""Select and apply in one wave: the same selection table and forecasts as select, then apply."""

from __future__ import annotations

import pandas as pd
import pytest
import xarray as xr

from fcast.core.apply import apply, combine_of, members_from_selection
from fcast.core.fused import select_and_apply
from fcast.core.label import label
from fcast.core.select import select
from fcast.core.space import parse_space
from fcast.core.tune import tune

HORIZON, HOLDOUT = 13, 8


@pytest.fixture(scope="module")
def tuned(small_cube: xr.Dataset, tmp_path_factory: pytest.TempPathFactory) -> xr.Dataset:
    """A tuning cube of the four small markets over a 4-hp space, in this process."""
    hp = parse_space(
        {
            "families": {
                "ets": {"spec": ["ANN", "AAdN"]},
                "theta": {"variant": ["standard"]},
                "seasonal_naive": {},
            }
        },
        "W-MON",
    )
    lab = label(small_cube.time, splits=2, step=8, horizon=HORIZON, holdout=HOLDOUT, min_train=60)
    path = str(tmp_path_factory.mktemp("fused") / "t.zarr")
    cube, _ = tune(
        small_cube["y"],
        lab,
        hp,
        path,
        horizon=HORIZON,
        season_length=52,
        min_train=60,
        progress=False,
    )
    return cube


def _two_waves(
    tuning: xr.Dataset, y: xr.DataArray, combine: str
) -> tuple[pd.DataFrame, xr.Dataset]:
    """The selection, then the forecast of its members (the fallback where none), as the tuning job did."""
    sel = select(tuning, y, top=2, combine=combine, holdout=HOLDOUT)
    members = members_from_selection(sel, 52)
    members = {m: members.get(m, []) for m in y["market"].values.tolist()}
    fc = apply(y, members, HORIZON, combine=combine_of(sel), season_length=52)
    return sel, fc


@pytest.mark.parametrize("combine", ["best", "mean", "median"])
@pytest.mark.parametrize(("block_markets", "on_cluster"), [(1, False), (3, False), (2, True)])
def test_one_wave_gives_the_two_waves_result(
    tuned: xr.Dataset,
    small_cube: xr.Dataset,
    request: pytest.FixtureRequest,
    combine: str,
    block_markets: int,
    on_cluster: bool,
) -> None:
    """Identical selection tables and forecasts whatever the blocks, in this process or on 2 workers."""
    y = small_cube["y"]
    sel, fc = _two_waves(tuned, y, combine)
    client = request.getfixturevalue("client2") if on_cluster else None
    sel1, fc1 = select_and_apply(
        tuned,
        y,
        horizon=HORIZON,
        freq="W-MON",
        top=2,
        combine=combine,
        holdout=HOLDOUT,
        client=client,
        block_markets=block_markets,
    )
    pd.testing.assert_frame_equal(sel, sel1)
    xr.testing.assert_identical(fc, fc1)


def test_unknown_combine_is_refused(tuned: xr.Dataset, small_cube: xr.Dataset) -> None:
    """A combine outside best, mean, median is a ValueError, as select says."""
    with pytest.raises(ValueError, match="combine"):
        select_and_apply(tuned, small_cube["y"], horizon=HORIZON, freq="W-MON", combine="max")
