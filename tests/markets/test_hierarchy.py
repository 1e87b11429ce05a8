"""The hierarchy from the markets table: known summing matrices, checks on the table."""

import numpy as np
import pandas as pd
import pytest

from fcast.data.sample import make_sample
from fcast.errors import ConfigError, DataError
from fcast.markets.hierarchy import TOTAL, HierarchyConfig, build_hierarchy

TABLE = pd.DataFrame(
    {
        "market": ["US", "CA", "DE", "FR", "JP"],
        "region": ["NA", "NA", "EU", "EU", "APAC"],
        "platform": ["ios", "web", "ios", "web", "ios"],
    }
)


def test_nested_known_answer() -> None:
    """Total, then regions sorted, then markets; S sums markets into each."""
    h = build_hierarchy(TABLE, ["region"], ["US", "CA", "DE", "FR", "JP"])
    assert h.names == (TOTAL, "APAC", "EU", "NA", "US", "CA", "DE", "FR", "JP")
    assert h.levels[:4] == ("total", "region", "region", "region")
    expected = np.array(
        [
            [1, 1, 1, 1, 1],
            [0, 0, 0, 0, 1],
            [0, 0, 1, 1, 0],
            [1, 1, 0, 0, 0],
        ]
    )
    np.testing.assert_array_equal(h.S[:4], expected)
    np.testing.assert_array_equal(h.S[4:], np.eye(5))
    assert {k: v.tolist() for k, v in h.tags().items()} == {
        "total": [0],
        "region": [1, 2, 3],
        "market": [4, 5, 6, 7, 8],
    }


def test_crossed_groups_and_aggregate() -> None:
    """Two crossed columns give two levels; aggregate sums values, NaN counting as 0."""
    h = build_hierarchy(TABLE, ["region", "platform"], ["US", "CA", "DE", "FR", "JP"])
    assert h.names[4:6] == ("ios", "web")
    values = np.array([[1.0, 2.0], [10.0, np.nan], [100.0, 100.0], [1000.0, 0.0], [5.0, 5.0]])
    every = h.aggregate(values)
    np.testing.assert_allclose(every[0], [1116.0, 107.0])  # total
    np.testing.assert_allclose(every[4], [106.0, 107.0])  # ios: US DE JP
    np.testing.assert_allclose(every[5], [1010.0, 0.0])  # web: CA FR
    assert h.aggregates()["markets"].iloc[2] == ["DE", "FR"]


def test_total_only_without_table() -> None:
    """No groups: the total over the markets, no table needed."""
    h = build_hierarchy(None, [], ["A", "B"])
    assert h.names == (TOTAL, "A", "B") and h.n_aggregates == 1


def test_errors_name_what_is_missing() -> None:
    """A missing column is a config error; a market without a group value a data error."""
    with pytest.raises(ConfigError, match="not in the markets table"):
        build_hierarchy(TABLE, ["continent"], ["US"])
    with pytest.raises(ConfigError, match="needs a markets table"):
        build_hierarchy(None, ["region"], ["US"])
    with pytest.raises(DataError, match=r"\['XX'\]"):
        build_hierarchy(TABLE, ["region"], ["US", "XX"])
    with pytest.raises(ValueError, match="distinct"):
        HierarchyConfig(groups=["region", "region"])


def test_sample_has_a_region_per_market() -> None:
    """The sample's markets table groups every market into a continent."""
    markets = make_sample(n_mature=12, n_new=2, n_prelaunch=1).markets
    assert markets["region"].notna().all()
    h = build_hierarchy(markets, ["region"], markets["market"].tolist())
    assert h.n_aggregates >= 3
    np.testing.assert_array_equal(h.S[1 : h.n_aggregates].sum(axis=0), np.ones(len(markets)))
