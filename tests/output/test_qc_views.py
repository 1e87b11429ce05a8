"""QC's per-market views: the forecast split once by market, the actuals as one indexed array."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from fcast.output.qc_views import Actuals, ForecastRows


def table() -> pd.DataFrame:
    """Three markets' rows, out of order: b has 3 dates, a 2, c 1."""
    return pd.DataFrame(
        {
            "market": ["b", "a", "c", "b", "a", "b"],
            "date": pd.to_datetime(
                ["2024-01-15", "2024-01-08", "2024-01-01", "2024-01-01", "2024-01-01", "2024-01-08"]
            ),
            "yhat": [3.0, 2.0, 9.0, 1.0, 1.0, 2.0],
            "segment": ["mature", "new", "new", "mature", "new", "new"],
        }
    )


def test_rows_are_sorted_and_split_once_per_market():
    rows = ForecastRows(table())
    assert rows.markets == ["a", "b", "c"]
    assert rows.starts.tolist() == [0, 2, 5] and rows.stops.tolist() == [2, 5, 6]
    assert rows.array(["yhat"])[:, 0].tolist() == [1.0, 2.0, 1.0, 2.0, 3.0, 9.0]
    assert [(m, v.tolist()) for _, m, v in rows.each(rows.array(["yhat"])[:, 0])] == [
        ("a", [1.0, 2.0]),
        ("b", [1.0, 2.0, 3.0]),
        ("c", [9.0]),
    ]
    assert rows.all_equal("segment", "new").tolist() == [True, False, True]
    assert rows.all_equal("no_such_column", "new").tolist() == [False, False, False]
    assert [str(d.date()) for d in rows.column_at_starts("date")] == ["2024-01-01"] * 3
    assert [m for m, _ in rows.frames] == ["a", "b", "c"]


def test_flagged_names_only_the_markets_whose_rows_are_set():
    rows = ForecastRows(table())
    mask = rows.array(["yhat"])[:, 0] >= 3
    assert [(m, (s.start, s.stop)) for m, s in rows.flagged(mask)] == [("b", (2, 5)), ("c", (5, 6))]
    empty = ForecastRows(table().iloc[0:0])
    assert len(empty) == 0 and list(empty.flagged(np.array([], bool))) == []
    assert empty.all_equal("segment", "new").tolist() == []


def test_actuals_series_runs_from_first_to_last_observation():
    nan = np.nan
    y = xr.DataArray(
        [[nan, 1.0, nan, 3.0, nan], [nan] * 5, [1.0, 2.0, 3.0, 4.0, 5.0]],
        dims=("market", "time"),
        coords={"market": ["a", "b", "c"], "time": pd.date_range("2024-01-01", periods=5)},
    ).transpose("time", "market")  # any dimension order
    act = Actuals(y)
    np.testing.assert_array_equal(act.series("a"), [1.0, nan, 3.0])
    assert act.series("b").size == 0 and act.series("zz").size == 0
    assert act.series("c").tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    act.series("c")[0] = 99.0  # a copy: the shared array is untouched
    assert act.series("c")[0] == 1.0
