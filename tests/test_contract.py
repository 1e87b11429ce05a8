"""The forecast contract's helpers against answers written out by hand."""

from __future__ import annotations

import pytest

from fcast import contract


def test_quantiles_of_known_levels():
    """80 -> (0.1, 0.9), 95 -> (0.025, 0.975), 50 -> (0.25, 0.75), rounded to 4 places."""
    assert contract.quantiles_of(80) == (0.1, 0.9)
    assert contract.quantiles_of(95) == (0.025, 0.975)
    assert contract.quantiles_of(50) == (0.25, 0.75)
    assert contract.quantiles_of(33.33333) == (0.3333, 0.6667)


def test_bound_and_forecast_columns_in_the_contract_order():
    """lo before hi, level by level; key columns first, family, segment and origin last."""
    assert contract.bound_columns([80, 95]) == [
        "yhat_lo_80",
        "yhat_hi_80",
        "yhat_lo_95",
        "yhat_hi_95",
    ]
    assert contract.forecast_columns() == [
        "market",
        "date",
        "yhat",
        "yhat_lo_80",
        "yhat_hi_80",
        "yhat_lo_95",
        "yhat_hi_95",
        "family",
        "segment",
        "origin",
    ]
    assert contract.forecast_columns([90], adjusted=True) == [
        "market",
        "date",
        "yhat",
        "yhat_lo_90",
        "yhat_hi_90",
        "family",
        "segment",
        "origin",
        "yhat_base",
        "adjustment_id",
    ]


def test_levels_in_needs_both_bounds_and_a_number():
    """A level counts only with its lo and hi column; other yhat_lo_ names are ignored."""
    cols = ["yhat", "yhat_lo_95", "yhat_hi_95", "yhat_lo_80", "yhat_hi_80", "yhat_lo_50"]
    assert contract.levels_in(cols + ["yhat_lo_x", "yhat_hi_x", "xyhat_lo_70", "yhat_hi_70"]) == [
        80,
        95,
    ]
    assert contract.levels_in(["yhat"]) == []
    assert contract.value_columns(cols) == [
        "yhat",
        "yhat_lo_80",
        "yhat_hi_80",
        "yhat_lo_95",
        "yhat_hi_95",
    ]


def test_check_severity_passes_known_and_refuses_others():
    """Each known severity comes back as is; another is a ValueError listing the three."""
    for s in ("error", "warning", "info"):
        assert contract.check_severity(s) == s
    with pytest.raises(
        ValueError, match=r"^severity must be one of error, warning, info, got 'fatal'$"
    ):
        contract.check_severity("fatal")


def test_the_cell_statuses_and_format_constants():
    """The numbers written into cubes on disk: changing one breaks every stored run."""
    assert (contract.OK, contract.FAILED, contract.SKIPPED, contract.NOT_RUN) == (0, 1, 2, -1)
    assert contract.ZARR_FORMAT == 2
    assert contract.LEVELS == (80, 95)
    assert contract.FALLBACK == "fallback:seasonal_naive"


def test_market_and_aggregate_rows_split_a_table_on_its_level_column():
    import pandas as pd

    table = pd.DataFrame(
        {
            "market": ["DK", "TOTAL", "FI", "north"],
            contract.LEVEL_COLUMN: [contract.MARKET_LEVEL, "total", contract.MARKET_LEVEL, "group"],
            "yhat": [1.0, 3.0, 2.0, 3.0],
        },
        index=[10, 11, 12, 13],
    )
    markets = contract.market_rows(table)
    assert markets.to_dict("list") == {"market": ["DK", "FI"], "yhat": [1.0, 2.0]}
    assert list(markets.index) == [0, 1]
    rest = contract.aggregate_rows(table)
    assert rest["market"].tolist() == ["TOTAL", "north"] and list(rest.index) == [0, 1]
    assert rest[contract.LEVEL_COLUMN].tolist() == ["total", "group"]
    assert list(rest.columns) == ["market", contract.LEVEL_COLUMN, "yhat"]
    plain = table.drop(columns=contract.LEVEL_COLUMN)
    assert contract.market_rows(plain) is plain
    none = contract.aggregate_rows(plain)
    assert len(none) == 0
    assert list(none.columns) == ["market", "yhat", contract.LEVEL_COLUMN]


def test_forecast_columns_with_a_hierarchy_end_with_the_level():
    cols = contract.forecast_columns([80], hierarchy=True)
    assert cols == [*contract.forecast_columns([80]), contract.LEVEL_COLUMN]
