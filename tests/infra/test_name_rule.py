"""The one name rule (issue 17 item 10): full match, no control characters, no path parts."""

from __future__ import annotations

import pandas as pd
import pytest

from fcast.errors import ConfigError, StoreError
from fcast.infra.store import Store
from fcast.infra.vintage import publish_vintage
from fcast.names import NameRuleError, check_name, is_name

GOOD = ["V2", "2026-W47", "weekly-20260101T000000-abcdef-0a1b2c", "a.b_c-d", "x" * 100, "adj.1"]
BAD = [
    "",
    "V2\n",  # a pattern ending in `$` accepts this
    "ok\n",
    "\nV2",
    "V 2",
    "V\t2",
    "v\x00",
    "v\x1b[31m",
    "a/b",
    "../x",
    "..",
    ".",
    "a\\b",
    "-x",
    ".hidden",
    "v..w",
    "v1.tmp-1234",
    "x" * 101,
    "東京",
    "caf\u00e9",
]


@pytest.mark.parametrize("value", GOOD)
def test_good_names_pass(value):
    assert check_name("vintage name", value) == value and is_name(value)


@pytest.mark.parametrize("value", BAD, ids=repr)
def test_bad_names_are_refused_with_the_kind_and_the_value(value):
    with pytest.raises(NameRuleError, match=r"invalid run id ") as err:
        check_name("run id", value)
    assert repr(value) in str(err.value)
    assert isinstance(err.value, StoreError) and isinstance(err.value, ConfigError)
    assert not is_name(value)


def test_non_text_is_refused():
    assert not is_name(None) and not is_name(7)
    with pytest.raises(NameRuleError, match="expected text"):
        check_name("adjustment id", 7)


def _complete_run(store: Store, run_id: str) -> None:
    forecast = pd.DataFrame(
        {"market": ["SE"], "date": pd.to_datetime(["2026-11-23"]), "yhat": [1.0]}
    )
    store.write_parquet(forecast, "runs", run_id, "forecast.parquet")
    store.write_json(
        {"run_id": run_id, "kind": "weekly", "status": "complete"}, "runs", run_id, "manifest.json"
    )


def test_publish_of_a_run_id_with_path_parts_cannot_escape_the_store(tmp_path):
    store = Store(str(tmp_path / "one" / "store"))
    other = Store(str(tmp_path / "other"))
    _complete_run(other, "weekly-x")
    escape = "../../other/runs/weekly-x"  # resolves to the other store's run from runs/
    with pytest.raises(StoreError, match=r"invalid run id '\.\./\.\./other/runs/weekly-x'"):
        publish_vintage(store, escape, "v1")
    assert not (tmp_path / "one" / "store" / "official").exists()
    assert sorted(p.name for p in (tmp_path / "other" / "runs" / "weekly-x").iterdir()) == [
        "forecast.parquet",
        "manifest.json",
    ]


def test_store_paths_never_leave_the_store(tmp_path):
    store = Store(str(tmp_path / "store"))
    for run_id in ("../x", "a/b", "x\n", ""):
        with pytest.raises(StoreError, match="invalid run id"):
            store.run_url(run_id)
    for parts in (("runs", "..", "x"), ("runs", "a/../../b"), ("runs", ""), ("x\x00",)):
        with pytest.raises(StoreError, match="must stay inside the store"):
            store.path(*parts)
    with pytest.raises(StoreError, match="must stay inside the store"):
        store.write_text("x", "..", "outside.txt")
    assert not (tmp_path / "outside.txt").exists()
    assert store.path("runs", "r1", "report/index.html").endswith("/runs/r1/report/index.html")


def test_vintage_names_with_a_trailing_newline_are_refused(tmp_path):
    store = Store(str(tmp_path / "store"))
    _complete_run(store, "weekly-a")
    with pytest.raises(StoreError, match=r"invalid vintage name 'V2\\n'"):
        publish_vintage(store, "weekly-a", "V2\n")
    assert not (tmp_path / "store" / "official").exists()
