"""Warehouse connectors on real databases: actuals from PostgreSQL and DuckDB, vintages written back in one transaction."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import xarray as xr

pytest.importorskip("sqlalchemy", reason="the sql extra is not installed (pip install -e '.[sql]')")
pytest.importorskip("duckdb", reason="the sql extra is not installed (pip install -e '.[sql]')")
pytest.importorskip(
    "duckdb_engine", reason="the sql extra is not installed (pip install -e '.[sql]')"
)

import sqlalchemy as sa  # noqa: E402

from fcast.config import QAConfig  # noqa: E402
from fcast.data import read_table, to_cube  # noqa: E402
from fcast.data.qa import run_qa  # noqa: E402
from fcast.errors import ConfigError, DataError, StoreError  # noqa: E402
from fcast.infra.warehouse import (  # noqa: E402
    SqlActuals,
    SqlSink,
    SqlSource,
    actuals_hash,
    actuals_label,
    duckdb_url,
    duckdb_warehouse,
    load_actuals_source,
    query_store,
    read_actuals_source,
    read_sql_actuals,
    read_vintages_sql,
    redacted,
    resolve_paths,
    resolve_url,
    source_hash,
    sql_channel,
    write_vintage_sql,
)
from tests.conftest import synthetic_actuals  # noqa: E402
from tests.pg import PgServer, fixture_postgres, fixture_postgres_url  # noqa: E402, F401

ROOT = Path(__file__).resolve().parents[2]
MARKETS = ["DK", "FI", "NO", "SE"]
PUBLISHED = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)


def load_table(url: str, name: str, df: pd.DataFrame) -> None:
    """Create a typed actuals table (market text, date date, users double, region text) and fill it."""
    rows = df.assign(date=pd.to_datetime(df["date"]).dt.date, region="nordics")
    eng = sa.create_engine(url)
    try:
        with eng.begin() as conn:
            rows.to_sql(
                name,
                conn,
                index=False,
                if_exists="replace",
                dtype={"date": sa.Date(), "users": sa.Double(), "market": sa.Text()},
            )
    finally:
        eng.dispose()


def forecast_frame(markets: list[str], weeks: int = 8, level: float = 100.0) -> pd.DataFrame:
    """A forecast table in the file contract's columns."""
    dates = pd.date_range("2026-11-23", periods=weeks, freq="W-MON")
    rows = []
    for k, m in enumerate(markets):
        for d in dates:
            y = level * (k + 1)
            rows.append(
                {
                    "market": m,
                    "date": d,
                    "yhat": y,
                    "yhat_lo_80": 0.9 * y,
                    "yhat_hi_80": 1.1 * y,
                    "yhat_lo_95": 0.8 * y,
                    "yhat_hi_95": 1.2 * y,
                    "family": "ets",
                    "segment": "mature",
                }
            )
    return pd.DataFrame(rows)


def count_rows(url: str, table: str, vintage: str) -> int:
    """Rows of a vintage in a table, 0 when the table does not exist."""
    eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with eng.connect() as conn:
            if not sa.inspect(conn).has_table(table):
                return 0
            query = sa.text(f"SELECT count(*) FROM {table} WHERE vintage = :v")
            return int(conn.execute(query, {"v": vintage}).scalar())
    finally:
        eng.dispose()


@pytest.fixture(params=["postgres", "duckdb"])
def warehouse(request, tmp_path) -> str:
    """A SQLAlchemy URL of a real warehouse: the throwaway PostgreSQL server, or a DuckDB file."""
    if request.param == "duckdb":
        return duckdb_url(str(tmp_path / "warehouse.duckdb"))
    return request.getfixturevalue("postgres_url")


def unique_table(request) -> str:
    """A table name per test (the PostgreSQL server is shared by the session)."""
    return "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name.lower())[-50:]


# --- URLs and credentials -------------------------------------------------------------


def test_redacted_hides_passwords_in_urls_and_parameters():
    assert redacted("postgresql://fcast:s3cr%40t@db:5432/dw") == "postgresql://fcast:***@db:5432/dw"
    assert redacted("postgresql://fcast@db/dw") == "postgresql://fcast@db/dw"
    assert (
        redacted("mssql+pyodbc://u:p@dsn?password=x&driver=y")
        == "mssql+pyodbc://u:***@dsn?password=***&driver=y"
    )
    assert (
        redacted("duckdb:////data/store/warehouse.duckdb")
        == "duckdb:////data/store/warehouse.duckdb"
    )
    assert (
        redacted("postgresql://${U}:${PW}@h/dw?password=${P2}")
        == "postgresql://${U}:${PW}@h/dw?password=${P2}"
    )


def test_placeholders_come_from_the_credentials_file_then_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("WH_USER", "env-user")
    monkeypatch.setenv("WH_PASSWORD", "from env")
    creds = tmp_path / "warehouse.env"
    creds.write_text(
        "# the analytics warehouse\nWH_PASSWORD='p@ss:/word'\nexport WH_HOST=db.internal\n"
    )
    source = SqlSource(
        url="postgresql+psycopg://${WH_USER}:${WH_PASSWORD}@${WH_HOST}:5432/dw",
        table="actuals",
        credentials=str(creds),
    )
    # the file wins over the environment; values inside a URL are percent-encoded
    assert (
        resolve_url(source) == "postgresql+psycopg://env-user:p%40ss%3A%2Fword@db.internal:5432/dw"
    )
    assert sa.make_url(resolve_url(source)).password == "p@ss:/word"
    # a lone placeholder is a whole URL, taken as it is
    monkeypatch.setenv("WH_URL", "postgresql+psycopg://u:p%40w@h/dw")
    assert resolve_url(SqlSource(url="${WH_URL}", table="t")) == "postgresql+psycopg://u:p%40w@h/dw"
    # a credentials file holding a single URL is the URL
    url_file = tmp_path / "url.txt"
    url_file.write_text("postgresql+psycopg://reader:pw@h/dw\n")
    assert (
        resolve_url(SqlSource(credentials=str(url_file), query="select 1"))
        == "postgresql+psycopg://reader:pw@h/dw"
    )
    # postgresql:// without a driver uses psycopg 3 when psycopg2 is not installed
    assert resolve_url(SqlSource(url="postgresql://h/dw", table="t")).startswith(
        "postgresql+psycopg://"
    )


def test_missing_credentials_are_clear_errors_that_show_no_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    with pytest.raises(ConfigError, match=r"\$\{NOT_SET_ANYWHERE\} is not set"):
        resolve_url(SqlSource(url="postgresql://u:${NOT_SET_ANYWHERE}@h/dw", table="t"))
    bad = tmp_path / "bad.env"
    bad.write_text("A=1\nthis line holds the hunter2 secret\n")
    with pytest.raises(ConfigError, match="entry 2 is not KEY=VALUE") as err:
        resolve_url(SqlSource(url="postgresql://u:${A}@h/dw", table="t", credentials=str(bad)))
    assert "hunter2" not in str(err.value)
    with pytest.raises(ConfigError, match="cannot read it"):
        resolve_url(
            SqlSource(url="postgresql://h/dw", table="t", credentials=str(tmp_path / "missing"))
        )
    with pytest.raises(ValueError, match="exactly one of query or table"):
        SqlSource(url="postgresql://h/dw", query="select 1", table="t")


def test_config_paths_resolve_against_the_config_folder(tmp_path):
    source = SqlSource(url="duckdb:///data/wh.duckdb", table="t", credentials="secrets/wh.env")
    resolve_paths(source, tmp_path)
    assert source.credentials == str(tmp_path / "secrets" / "wh.env")
    assert source.url == f"duckdb:///{tmp_path}/data/wh.duckdb"


# --- reading actuals ------------------------------------------------------------------


def test_actuals_from_postgres_give_the_same_cube_and_qa_as_the_parquet_file(
    postgres_url, tmp_path
):
    df = synthetic_actuals(MARKETS, periods=160)
    df.to_parquet(tmp_path / "actuals.parquet", index=False)
    load_table(postgres_url, "weekly_users", df)
    from_file = read_table(str(tmp_path / "actuals.parquet"))
    by_table = {"sql": {"url": postgres_url, "table": "weekly_users", "chunksize": 100}}
    by_query = {
        "sql": {
            "url": postgres_url,
            "query": "SELECT market, date, users FROM weekly_users "
            "WHERE market LIKE '%' AND date >= '2000-01-03'::date ORDER BY random()",
            "chunksize": 70,
        }
    }
    cube = to_cube(from_file, "W-MON", "users", source="actuals")
    for actuals in (by_table, by_query):
        table = read_actuals_source(actuals, value="users")
        assert list(table.columns) == ["market", "date", "users"] and len(table) == len(df)
        xr.testing.assert_identical(to_cube(table, "W-MON", "users", source="actuals"), cube)
        qa = run_qa(
            table, value="users", freq="W-MON", source="sql", qa=QAConfig(), min_history=104
        )
        assert qa.errors.empty and qa.cube is not None
        xr.testing.assert_equal(qa.cube["y"], cube["y"])
    # the input hash is the content's: independent of row order and chunking, changed by an edit
    first = actuals_hash(by_table, "users")
    assert actuals_hash(by_query, "users") == first
    assert source_hash(read_actuals_source(by_query, "users")) == first
    assert actuals_hash(by_table) != first  # all columns (region too) is other content
    edited = df.copy()
    edited.loc[5, "users"] += 1
    load_table(postgres_url, "weekly_users_edit", edited)
    assert (
        actuals_hash({"sql": {"url": postgres_url, "table": "weekly_users_edit"}}, "users") != first
    )
    # a file URL still reads (and hashes) the file
    assert read_actuals_source(str(tmp_path / "actuals.parquet")).equals(from_file)


def test_the_cube_from_a_sql_source_names_it_without_the_password(postgres, tmp_path):
    load_table(postgres.url, "cube_actuals", synthetic_actuals(["DK", "SE"], periods=60))
    cube = load_actuals_source(
        {"sql": {"url": postgres.url, "table": "cube_actuals"}}, value="users", freq="W-MON"
    )
    assert cube.sizes == {"market": 2, "time": 60}
    assert cube.attrs["source"].startswith("sql postgresql+psycopg://fcast:***@127.0.0.1")
    assert cube.attrs["source"].endswith("(table cube_actuals)")


def test_actuals_from_a_duckdb_file(tmp_path):
    df = synthetic_actuals(["DK", "SE"], periods=120)
    url = duckdb_url(str(tmp_path / "wh.duckdb"))
    load_table(url, "actuals", df)
    table = read_sql_actuals(
        SqlSource(url=url, query="select * from actuals", chunksize=50), "users"
    )
    xr.testing.assert_identical(to_cube(table, "W-MON"), to_cube(df, "W-MON"))


def test_credentials_from_env_and_file_never_reach_dumps_reprs_or_errors(
    postgres, tmp_path, monkeypatch
):
    server: PgServer = postgres
    load_table(server.url, "secret_actuals", synthetic_actuals(["DK"], periods=60))
    monkeypatch.setenv("FCAST_TEST_PGPASSWORD", server.password)
    creds = tmp_path / "pg.env"
    creds.write_text(f"PGUSER={server.user}\nPGPORT={server.port}\n")
    template = f"postgresql://${{PGUSER}}:${{FCAST_TEST_PGPASSWORD}}@127.0.0.1:${{PGPORT}}/{server.database}"
    actuals = SqlActuals.model_validate(
        {"sql": {"url": template, "table": "secret_actuals", "credentials": str(creds)}}
    )
    assert len(read_actuals_source(actuals, "users")) == 60
    # a URL with the password written into it is redacted in every dump (what a run manifest stores)
    literal = SqlActuals.model_validate({"sql": {"url": server.url, "table": "secret_actuals"}})
    dumps = [
        json.dumps(actuals.model_dump(mode="json")),
        json.dumps(literal.model_dump(mode="json")),
        repr(literal),
        str(literal),
        actuals_label(literal),
        actuals_label(literal.model_dump()),
    ]
    assert all(server.password not in d for d in dumps)
    assert "***" in dumps[1] and "${FCAST_TEST_PGPASSWORD}" in dumps[0]
    # read errors name the source without the password
    for bad in (
        {"url": server.url, "table": "no_such_table"},
        {"url": server.url.replace(server.database, "no_such_db"), "table": "t"},
        {"url": template, "table": "no_such_table", "credentials": str(creds)},
    ):
        with pytest.raises(DataError, match="cannot read the actuals") as err:
            read_sql_actuals(SqlSource(**bad), "users")
        assert server.password not in str(err.value) and "p%40ss" not in str(err.value)


# --- writing vintages -----------------------------------------------------------------


def test_a_vintage_is_appended_with_its_name_run_and_publish_time(warehouse, request):
    table = unique_table(request)
    sink = SqlSink(url=warehouse, table=table, chunksize=7)
    first = forecast_frame(["DK", "SE"])
    assert (
        write_vintage_sql(sink, first, vintage="2026-W47", run_id="weekly-1", published=PUBLISHED)
        == 16
    )
    second = forecast_frame(["DK", "SE", "NO"], level=110).assign(yhat_base=1.0, adjustment_id=None)
    write_vintage_sql(sink, second, vintage="2026-W48", run_id="weekly-2", published=PUBLISHED)
    rows = read_vintages_sql(sink)
    assert list(rows.columns[:5]) == ["vintage", "run_id", "published", "market", "date"]
    assert {"yhat", "yhat_lo_95", "family", "segment", "yhat_base", "adjustment_id"} <= set(
        rows.columns
    )
    assert rows.groupby("vintage").size().to_dict() == {"2026-W47": 16, "2026-W48": 24}
    one = read_vintages_sql(sink, "2026-W47")
    assert set(one["run_id"]) == {"weekly-1"} and one["yhat_base"].isna().all()
    assert pd.Timestamp(one["published"].iloc[0]) == pd.Timestamp(PUBLISHED)
    assert one["yhat"].tolist() == first["yhat"].tolist()
    assert [str(d)[:10] for d in one["date"]] == [str(d)[:10] for d in first["date"]]


def test_a_vintage_with_totals_carries_its_aggregate_rows_with_level(warehouse, request):
    """Market, total and group rows go to the table with `level`; a group named like a market is its own row."""
    sink = SqlSink(url=warehouse, table=unique_table(request))
    markets = forecast_frame(["DK", "SE"]).assign(level="market")
    total = forecast_frame(["TOTAL"], level=300).assign(level="total", segment="aggregate")
    group = forecast_frame(["SE"], level=200).assign(level="platform", segment="aggregate")
    frame = pd.concat([markets, total, group], ignore_index=True)
    assert (
        write_vintage_sql(sink, frame, vintage="v1", run_id="weekly-1", published=PUBLISHED) == 32
    )
    rows = read_vintages_sql(sink, "v1")
    assert rows.groupby("level").size().to_dict() == {"market": 16, "platform": 8, "total": 8}
    se = rows[rows["market"] == "SE"].groupby("level")["yhat"].first().to_dict()
    assert se == {"market": 200.0, "platform": 200.0}
    with pytest.raises(DataError, match=r"duplicated \(market, date, level\)"):
        write_vintage_sql(
            sink, pd.concat([frame, total]), vintage="v2", run_id="w", published=PUBLISHED
        )


def test_a_schema_qualified_table_in_postgres(postgres_url):
    eng = sa.create_engine(postgres_url)
    with eng.begin() as conn:
        conn.exec_driver_sql("CREATE SCHEMA IF NOT EXISTS forecasting")
    eng.dispose()
    sink = SqlSink(url=postgres_url, table="forecasting.official")
    write_vintage_sql(sink, forecast_frame(["DK"]), vintage="v1", run_id="r", published=PUBLISHED)
    write_vintage_sql(
        sink,
        forecast_frame(["DK"]).assign(yhat_base=2.0),
        vintage="v2",
        run_id="r",
        published=PUBLISHED,
    )
    assert read_vintages_sql(sink).groupby("vintage")["yhat_base"].count().to_dict() == {
        "v1": 0,
        "v2": 8,
    }


def test_a_vintage_already_in_the_table_is_refused(warehouse, request):
    sink = SqlSink(url=warehouse, table=unique_table(request))
    write_vintage_sql(
        sink, forecast_frame(["DK"]), vintage="v1", run_id="run-a", published=PUBLISHED
    )
    with pytest.raises(
        StoreError, match=r"vintage 'v1' is already in .*\(8 rows from run run-a.*never overwritten"
    ):
        write_vintage_sql(
            sink, forecast_frame(["SE"]), vintage="v1", run_id="run-b", published=PUBLISHED
        )
    assert read_vintages_sql(sink)["market"].unique().tolist() == ["DK"]
    with pytest.raises(DataError, match="duplicated"):
        write_vintage_sql(
            sink,
            pd.concat([forecast_frame(["SE"])] * 2),
            vintage="v2",
            run_id="r",
            published=PUBLISHED,
        )


def test_a_publish_interrupted_mid_transaction_leaves_no_rows(warehouse, request):
    sink = SqlSink(url=warehouse, table=unique_table(request), chunksize=5)
    write_vintage_sql(sink, forecast_frame(["DK"]), vintage="v1", run_id="r1", published=PUBLISHED)
    inserts = []

    def interrupt(conn, cursor, statement, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(statement)
            if len(inserts) == 2:
                raise KeyboardInterrupt  # e.g. Ctrl-C after two of the batches went in

    sa.event.listen(sa.Engine, "after_cursor_execute", interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            write_vintage_sql(
                sink, forecast_frame(["DK", "SE"]), vintage="v2", run_id="r2", published=PUBLISHED
            )
    finally:
        sa.event.remove(sa.Engine, "after_cursor_execute", interrupt)
    assert len(inserts) == 2
    assert (
        count_rows(warehouse, sink.table, "v2") == 0
        and count_rows(warehouse, sink.table, "v1") == 8
    )
    assert (
        write_vintage_sql(
            sink, forecast_frame(["DK", "SE"]), vintage="v2", run_id="r2", published=PUBLISHED
        )
        == 16
    )


KILLED_WRITER = textwrap.dedent(
    """
    import sys, threading
    from datetime import UTC, datetime
    import pandas as pd, sqlalchemy as sa
    from fcast.infra.warehouse import SqlSink, write_vintage_sql

    url, table, path = sys.argv[1:4]
    inserts = []

    def pause(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("INSERT"):
            inserts.append(1)
            if len(inserts) == 2:  # half of the 4 batches are in, the transaction is open
                print("half", flush=True)
                threading.Event().wait()  # until the test kills this process

    sa.event.listen(sa.Engine, "after_cursor_execute", pause)
    forecast = pd.read_parquet(path)
    sink = SqlSink(url=url, table=table, chunksize=len(forecast) // 4)
    write_vintage_sql(sink, forecast, vintage="v-killed", run_id="r", published=datetime.now(UTC))
    """
)


def test_a_publish_killed_mid_transaction_leaves_no_partial_vintage(warehouse, request, tmp_path):
    table = unique_table(request)
    write_vintage_sql(
        SqlSink(url=warehouse, table=table),
        forecast_frame(["DK"]),
        vintage="v1",
        run_id="r1",
        published=PUBLISHED,
    )
    forecast = forecast_frame(["DK", "FI", "NO", "SE"], weeks=10)
    forecast.to_parquet(tmp_path / "forecast.parquet")
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, warehouse, table, str(tmp_path / "forecast.parquet")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        line = proc.stdout.readline()
        assert line.strip() == "half", proc.stderr.read()
        if warehouse.startswith(
            "postgresql"
        ):  # a concurrent reader sees none of the open transaction
            assert count_rows(warehouse, table, "v-killed") == 0
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert count_rows(warehouse, table, "v-killed") == 0 and count_rows(warehouse, table, "v1") == 8
    sink = SqlSink(url=warehouse, table=table)
    assert (
        write_vintage_sql(sink, forecast, vintage="v-killed", run_id="r", published=PUBLISHED) == 40
    )


# --- the store: publish channel and DuckDB over Parquet ---------------------------------


@pytest.fixture(scope="module")
def store_with_runs(tmp_path_factory) -> dict[str, Any]:
    """A real store: sample data, a tiny tuning run on three markets."""
    from fcast.config import parse_config
    from fcast.data.sample import write_sample
    from fcast.jobs.pipeline import run_tuning

    root = tmp_path_factory.mktemp("warehouse-store")
    write_sample(str(root / "sample"))
    (root / "space.yaml").write_text("families:\n  ets: {spec: [ANN]}\n")
    raw = {
        "data": {"actuals": "sample/actuals.parquet"},
        "horizon": 13,
        "cv": {"splits": 1, "step": 13, "holdout": 0},
        "space": "space.yaml",
        "store": "store",
    }
    cfg = parse_config(raw, source="test", base=root)
    run = run_tuning(cfg, markets=["DK", "NO", "SE"], progress=False)
    return {"store": cfg.store, "run_id": run.run_id, "forecast": run.forecast}


@pytest.fixture
def sql_registered():
    """The `sql` channel in the registry for one test (as its entry point registers it)."""
    from fcast.output.channels import CHANNELS, register_channel

    register_channel("sql", sql_channel, replace=True)
    yield
    CHANNELS.unregister("sql")


def test_publish_through_the_sql_channel_into_postgres_and_the_store_duckdb(
    store_with_runs, sql_registered, postgres_url
):
    from fcast.jobs.publish import publish_run

    store, run_id = store_with_runs["store"], store_with_runs["run_id"]
    result = publish_run(
        store,
        run_id,
        "2026-W47",
        channels=("sql", "store"),
        channel_options={"sql": {"url": postgres_url, "table": "official_forecasts"}},
        report=False,
        pngs=False,
    )
    assert result.ok, result.failed
    assert "39 rows of vintage 2026-W47" in result.sent["sql"] and "***" in result.sent["sql"]
    sink = SqlSink(url=postgres_url, table="official_forecasts")
    rows = read_vintages_sql(sink, "2026-W47")
    assert len(rows) == len(store_with_runs["forecast"]) == 39
    assert set(rows["run_id"]) == {run_id}
    assert pd.Timestamp(rows["published"].iloc[0]) == pd.Timestamp(result.vintage["published"])
    # the embedded default: no url -> <store>/warehouse.duckdb, then query it like any warehouse
    from fcast.output.channels import Message

    message = Message(
        text="",
        run_id=run_id,
        vintage="2026-W47",
        files={"insights.md": f"{store}/official/2026-W47/insights.md"},
    )
    assert "warehouse.duckdb" in sql_channel(message)
    local = SqlSink(url=duckdb_url(duckdb_warehouse(store)))
    assert read_vintages_sql(local)[["market", "date", "yhat"]].equals(
        rows[["market", "date", "yhat"]]
    )
    with pytest.raises(StoreError, match="already in"):
        sql_channel(message)
    assert query_store(store, "SELECT count(*) AS n FROM vintages")["n"].item() == 1


def test_duckdb_queries_the_store_parquet_files_directly(store_with_runs):
    from fcast.infra.store import Store
    from fcast.infra.vintage import publish_vintage

    store, run_id = store_with_runs["store"], store_with_runs["run_id"]
    if "2026-W01" not in query_store(store, "SELECT name FROM vintages")["name"].tolist():
        publish_vintage(Store(store), run_id, "2026-W01")
    per_run = query_store(
        store,
        "SELECT run_id, count(*) AS n, count(DISTINCT market) AS markets FROM forecasts GROUP BY run_id",
    )
    assert per_run.to_dict("records") == [{"run_id": run_id, "n": 39, "markets": 3}]
    official = query_store(
        store,
        "SELECT vintage, market, sum(yhat) AS total FROM official WHERE vintage = '2026-W01' GROUP BY ALL ORDER BY market",
    )
    expected = store_with_runs["forecast"].groupby("market")["yhat"].sum()
    assert official["market"].tolist() == ["DK", "NO", "SE"]
    assert official["total"].round(6).tolist() == expected.round(6).tolist()
    joined = query_store(
        store,
        "SELECT r.kind, r.status, s.family FROM selections s JOIN runs r USING (run_id) LIMIT 1",
    )
    assert joined.to_dict("records") == [{"kind": "tuning", "status": "complete", "family": "ets"}]


def test_the_example_config_parses_and_names_a_sql_source_and_sink():
    import yaml

    raw = yaml.safe_load((ROOT / "configs" / "warehouse.example.yaml").read_text())
    source = SqlActuals.model_validate(raw["data"]["actuals"]).sql
    assert "${" in source.url and source.query and "SELECT" in source.query.upper()
    sink = SqlSink.model_validate(raw["publish"]["sql"])
    assert (
        sink.table.endswith(".fcast_official_forecasts")
        and "${WAREHOUSE_WRITER_PASSWORD}" in sink.url
    )


def test_duckdb_queries_a_store_on_any_fsspec_filesystem(tmp_path):
    from fcast.infra.store import Store

    url = f"memory://{tmp_path.name}/store"
    st = Store(url)
    forecast = forecast_frame(["DK", "SE"], weeks=4)
    st.write_parquet(forecast, "runs", "weekly-1", "forecast.parquet")
    st.write_json(
        {"run_id": "weekly-1", "kind": "weekly", "status": "complete"},
        "runs",
        "weekly-1",
        "manifest.json",
    )
    out = query_store(
        url,
        "SELECT f.run_id, r.kind, count(*) AS n FROM forecasts f JOIN runs r USING (run_id) GROUP BY ALL",
    )
    assert out.to_dict("records") == [{"run_id": "weekly-1", "kind": "weekly", "n": 8}]
    with pytest.raises(StoreError, match="not local"):
        duckdb_warehouse(url)
