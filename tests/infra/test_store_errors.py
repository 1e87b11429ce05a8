"""Store-side crashes become clear errors (issue 17 item 14): what is wrong and where."""

from __future__ import annotations

import pandas as pd
import pytest

from fcast.errors import StoreError
from fcast.infra.store import Store


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(str(tmp_path / "store"))


def test_a_corrupt_latest_pointer_is_a_clear_error(store, tmp_path):
    store.set_latest("tuning", "tuning-a")
    (tmp_path / "store/latest/tuning.json").write_text('{"run_id": "tun')  # a torn write
    with pytest.raises(StoreError) as err:
        store.latest("tuning")
    msg = str(err.value)
    assert msg.startswith(f"latest/tuning.json in store {store.url} is corrupt (")
    assert "rerun `fcast run tuning -c CONFIG`" in msg


@pytest.mark.parametrize("pointer", ['{"updated": "x"}', '["tuning-a"]', '{"run_id": "../x"}'])
def test_a_latest_pointer_without_a_valid_run_id_is_a_clear_error(store, tmp_path, pointer):
    (tmp_path / "store/latest").mkdir(parents=True)
    (tmp_path / "store/latest/tuning.json").write_text(pointer)
    with pytest.raises(
        StoreError, match=r"latest/tuning.json in store .* is corrupt \(no valid run_id"
    ):
        store.latest("tuning")


def test_a_corrupt_selection_is_a_clear_error(store, tmp_path):
    store.write_parquet(
        pd.DataFrame({"market": ["SE"], "hp": [1]}), "runs", "t", "selection.parquet"
    )
    path = tmp_path / "store/runs/t/selection.parquet"
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(StoreError, match=r"runs/t/selection.parquet in store .* is corrupt \("):
        store.read_parquet("runs", "t", "selection.parquet")
    store.write_parquet(pd.DataFrame({"x": [1]}), "runs", "t", "selection.parquet")
    with pytest.raises(StoreError, match=r"is corrupt \(no column\(s\) market\)"):
        store.read_parquet("runs", "t", "selection.parquet", columns=["market"])


def test_a_missing_file_is_a_store_error_naming_it(store):
    with pytest.raises(StoreError, match=r"cannot read runs/t/manifest.json in store "):
        store.read_json("runs", "t", "manifest.json")


def test_an_unwritable_store_is_a_clear_error(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the store's folder should be")
    store = Store(str(blocker / "store"))
    with pytest.raises(StoreError, match=r"cannot create runs/.*check that the store is writable"):
        store.new_run_id("tuning", "abcdef")
    with pytest.raises(StoreError, match=r"cannot write latest/tuning.json in store .*writable"):
        store.set_latest("tuning", "tuning-a")


def test_a_permission_error_while_writing_is_a_clear_error(store, monkeypatch):
    def refuse(path, data):
        raise PermissionError(13, "Permission denied", path)

    monkeypatch.setattr(store.fs, "pipe_file", refuse)
    with pytest.raises(
        StoreError, match=r"cannot write runs/r/qa.parquet in store .*Permission denied"
    ):
        store.write_parquet(pd.DataFrame({"x": [1]}), "runs", "r", "qa.parquet")


def test_a_store_root_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "store").write_text("oops")
    with pytest.raises(StoreError, match=r"store .*/store is a file; the store must be a folder"):
        Store(str(tmp_path / "store"))


def test_one_corrupt_manifest_does_not_break_listing(store, tmp_path, capsys):
    store.write_json({"run_id": "weekly-a", "kind": "weekly"}, "runs", "weekly-a", "manifest.json")
    (tmp_path / "store/runs/weekly-b").mkdir()
    (tmp_path / "store/runs/weekly-b/manifest.json").write_text("{")
    assert [m["run_id"] for m in store.runs()] == ["weekly-a"]
    assert "warning: run ignored: runs/weekly-b/manifest.json in store" in capsys.readouterr().err


def test_store_messages_never_show_the_store_url_credentials(tmp_path):
    store = Store("memory://user:s3cr3t@bucket/store")
    assert store.label == "memory://user:***@bucket/store"
    with pytest.raises(StoreError) as err:
        store.latest("tuning")
    assert "s3cr3t" not in str(err.value) and "user:***@bucket" in str(err.value)
