"""The pipeline on a SQL source: same forecast as from the file, no password in manifests or output, publish to SQL."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytest.importorskip("sqlalchemy", reason="the sql extra is not installed (pip install -e '.[sql]')")

from fcast.config import load_config  # noqa: E402
from fcast.errors import ConfigError  # noqa: E402
from fcast.infra.warehouse import SqlSink, read_vintages_sql  # noqa: E402
from fcast.jobs.pipeline import run_tuning  # noqa: E402
from tests.conftest import synthetic_actuals  # noqa: E402
from tests.infra.test_warehouse import load_table  # noqa: E402
from tests.pg import PgServer, fixture_postgres, fixture_postgres_url  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[2]


def write_config(path: Path, actuals: object, store: str, publish: dict | None = None) -> Path:
    """A tiny tuning config (one ETS spec, one split) around an actuals source."""
    (path.parent / "space.yaml").write_text("families:\n  ets: {spec: [ANN]}\n")
    raw = {
        "data": {"actuals": actuals, "freq": "W-MON"},
        "horizon": 13,
        "cv": {"splits": 1, "step": 13, "holdout": 0},
        "space": "space.yaml",
        "store": store,
    }
    if publish:
        raw["publish"] = publish
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_run_on_postgres_actuals_matches_the_file_run_and_publishes_back(
    postgres, tmp_path, monkeypatch
):
    server: PgServer = postgres
    df = synthetic_actuals(["DK", "NO", "SE"], periods=160)
    df.to_parquet(tmp_path / "actuals.parquet", index=False)
    load_table(server.url, "pipeline_actuals", df)
    monkeypatch.setenv("FCAST_WH_PASSWORD", server.password)
    (tmp_path / "wh.env").write_text(f"WH_USER={server.user}\n")
    url = f"postgresql://${{WH_USER}}:${{FCAST_WH_PASSWORD}}@{server.host}:{server.port}/{server.database}"
    sql = {
        "sql": {"url": url, "table": "pipeline_actuals", "credentials": "wh.env", "chunksize": 100}
    }
    publish = {"sql": {"url": url, "credentials": "wh.env", "table": "official_forecasts"}}
    from_file = run_tuning(
        load_config(write_config(tmp_path / "file.yaml", "actuals.parquet", "store-file")),
        progress=False,
    )
    config = write_config(tmp_path / "sql.yaml", sql, "store-sql", publish)
    cfg = load_config(config)
    assert cfg.data.actuals.sql.credentials == str(tmp_path / "wh.env")
    from_sql = run_tuning(cfg, progress=False)
    pd.testing.assert_frame_equal(from_sql.forecast, from_file.forecast)
    manifest = (tmp_path / "store-sql" / "runs" / from_sql.run_id / "manifest.json").read_text()
    assert json.loads(manifest)["config"]["data"]["actuals"]["sql"]["url"] == url
    assert server.password not in manifest
    # a rerun of the same input resumes nothing and finds the same input hash
    assert run_tuning(cfg, progress=False).manifest["input_hash"] == from_sql.manifest["input_hash"]
    # fcast publish: the config's publish.sql adds the sql channel
    env = {**__import__("os").environ, "FCAST_WH_PASSWORD": server.password}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fcast.cli",
            "publish",
            from_sql.run_id,
            "--official",
            "2026-W10",
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "sent via sql: 39 rows of vintage 2026-W10" in done.stdout
    assert server.password not in done.stdout + done.stderr
    rows = read_vintages_sql(SqlSink(url=server.url, table="official_forecasts"), "2026-W10")
    assert len(rows) == 39 and set(rows["run_id"]) == {from_sql.run_id}
    vintage = (tmp_path / "store-sql" / "official" / "2026-W10" / "run.json").read_text()
    assert server.password not in vintage


def test_an_invalid_sql_source_is_a_config_error_naming_the_key(tmp_path):
    config = write_config(tmp_path / "bad.yaml", {"sql": {"url": "postgresql://h/db"}}, "store")
    with pytest.raises(ConfigError, match="data.actuals") as err:
        load_config(config)
    print(err.value)
