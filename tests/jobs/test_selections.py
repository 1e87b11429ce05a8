"""Per-market selections: subset tuning updates only its markets; weekly uses each market's own."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest

from fcast.contract import FALLBACK
from fcast.errors import StoreError
from fcast.infra.store import Store
from fcast.jobs import selections
from fcast.jobs.pipeline import run_tuning, run_weekly
from tests.conftest import tiny_project


def _rows(market: str, run_id: str, tuned_at: str, label: str = "ets(ANN)") -> pd.DataFrame:
    return pd.DataFrame(
        {
            "market": [market],
            "rank": [1],
            "label": [label],
            "weight": [1.0],
            "cv_score": [0.5],
            "run_id": [run_id],
            "tuned_at": [tuned_at],
            "fingerprint": ["abc"],
        }
    )


def test_merge_replaces_only_the_tuned_markets() -> None:
    existing = pd.concat([_rows("DK", "r1", "2026-01-01"), _rows("SE", "r1", "2026-01-01")])
    tuned = _rows("SE", "r2", "2026-02-01", label="theta")
    out = selections.merge(existing, tuned, ["SE"])
    assert out.set_index("market")["run_id"].to_dict() == {"DK": "r1", "SE": "r2"}
    assert out.set_index("market").loc["SE", "label"] == "theta"


def test_listing_and_age_with_known_dates() -> None:
    table = pd.concat([_rows("DK", "r1", "2026-01-01T00:00:00"), _rows("SE", "r2", "2026-03-01")])
    now = datetime(2026, 3, 11, tzinfo=UTC)
    listed = selections.listing(table, now).set_index("market")
    assert listed.loc["DK", "age_days"] == 69 and listed.loc["SE", "age_days"] == 10
    assert selections.stale(table, 30, now) == ["DK"]
    assert selections.stale(table, None, now) == []


def test_stale_matches_the_listings_ages_at_the_limit_and_with_time_zones() -> None:
    """Naive and aware tuned_at, an age exactly at the limit (not stale) and one day over."""
    table = pd.concat(
        [
            _rows("AT", "r1", "2026-02-09T12:00:00+00:00"),  # 30 days, 0 h: at the limit
            _rows("BE", "r1", "2026-02-08T11:00:00"),  # 31 days: over
            _rows("CH", "r2", "2026-02-09T13:00:00+01:00"),  # 12:00 UTC: at the limit
        ]
    )
    now = datetime(2026, 3, 11, 12, 0, tzinfo=UTC)
    listed = selections.listing(table, now).set_index("market")["age_days"].to_dict()
    assert listed == {"AT": 30, "BE": 31, "CH": 30}
    assert selections.stale(table, 30, now) == ["BE"]
    assert selections.stale(table, 29, now) == ["AT", "BE", "CH"]


def test_subset_tuning_keeps_the_other_markets_selections(tmp_path) -> None:
    cfg = tiny_project(tmp_path)
    full = run_tuning(cfg, progress=False)
    subset = run_tuning(cfg, markets=["SE"], progress=False)
    table = selections.current(Store(cfg.store))
    by_market = table.groupby("market")["run_id"].first().to_dict()
    assert by_market == {
        "DK": full.run_id,
        "FI": full.run_id,
        "NO": full.run_id,
        "SE": subset.run_id,
    }
    weekly = run_weekly(cfg, progress=False)
    assert weekly.manifest["untuned_markets"] == []
    assert FALLBACK not in set(weekly.forecast["family"])
    assert weekly.manifest["tuning_runs"] == sorted({full.run_id, subset.run_id})


def test_a_corrupt_selection_table_is_a_clear_error(tmp_path) -> None:
    cfg = tiny_project(tmp_path)
    store = Store(cfg.store)
    store.write_bytes(b"not parquet", *selections.PATH)
    with pytest.raises(StoreError, match="cannot read .*current.parquet.*rerun `fcast run tuning`"):
        selections.current(store)


def test_every_market_constant_gets_the_fallback_in_tuning_and_weekly(tmp_path) -> None:
    cfg = tiny_project(tmp_path)
    df = pd.read_csv(tmp_path / "actuals.csv")
    df["users"] = 1000.0  # no hp gets a CV score (MASE scale 0 everywhere)
    df.to_csv(tmp_path / "actuals.csv", index=False)
    tuned = run_tuning(cfg, progress=False)
    assert tuned.manifest["unselected"] == ["DK", "FI", "NO", "SE"]
    weekly = run_weekly(cfg, progress=False)
    assert set(weekly.forecast["family"]) == {FALLBACK}
    assert weekly.manifest["untuned_markets"] == ["DK", "FI", "NO", "SE"]
    assert (weekly.forecast["yhat"] == 1000.0).all()  # the seasonal naive of a constant series
