"""The origin-jump formulas over all markets at once: known answers, and which markets they leave out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from fcast.output.qc_formulas import expected_step, mature_jumps
from fcast.output.qc_views import Actuals, ForecastRows

RAMP = 10.0 * np.arange(1, 13)  # 10, 20, ..., 120: 12 periods


def panel() -> tuple[ForecastRows, Actuals]:
    """a: 12 periods (m + 4 for m = 8); b: 11; c: no actuals; d: a zero level; e: 3 forecast rows."""
    nan = np.nan
    y = np.stack([RAMP, [nan, *RAMP[1:]], np.full(12, nan), [*RAMP[:8], 0, 0, 0, 5], RAMP])
    ya = xr.DataArray(
        y,
        dims=("market", "time"),
        coords={"market": list("abcde"), "time": pd.date_range("2024-01-01", periods=12)},
    )
    h = {"a": 4, "b": 4, "c": 4, "d": 4, "e": 3}
    fc = pd.DataFrame(
        {
            "market": [m for m, k in h.items() for _ in range(k)],
            "date": [d for k in h.values() for d in pd.date_range("2024-01-13", periods=k)],
            "yhat": [100.0, 150.0, 120.0, 130.0] * 4 + [1.0, 2.0, 3.0],
        }
    )
    return ForecastRows(fc.iloc[::-1]), Actuals(ya)


def test_medians_of_four_for_the_markets_with_a_season_and_four_periods_more():
    rows, actuals = panel()
    done, jump, step, last = mature_jumps(rows, actuals, 8)
    assert done.tolist() == [True, False, False, False, False]
    # med(100, 150, 120, 130) = 125 against med(90, 100, 110, 120) = 105
    assert jump[0] == pytest.approx(125 / 105 - 1)
    # a season earlier: med(50, 60, 70, 80) = 65 against med(10, 20, 30, 40) = 25
    assert step[0] == pytest.approx(65 / 25 - 1) == expected_step(RAMP, 8, launch=False)
    assert last[0] == 120.0
    assert np.isnan(jump[1:]).all() and np.isnan(step[1:]).all()


def test_no_season_of_more_than_four_periods_leaves_every_market_to_the_scalar_formula():
    rows, actuals = panel()
    done, *_ = mature_jumps(rows, actuals, 4)
    assert not done.any()
