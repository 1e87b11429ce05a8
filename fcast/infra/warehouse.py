"""Warehouse connectors: read actuals from SQL, write official vintages back, DuckDB in the store.

A SQL source is a SQLAlchemy URL plus a query or a table (`data.actuals: {sql: {url, query}}`);
its result is read in chunks on a server-side cursor and keeps only the columns the cube needs.
URLs may hold `${NAME}` placeholders, filled from a credentials file named in the config
(KEY=VALUE lines, or a single URL) or from environment variables; the expanded URL lives only
in memory: dumps, reprs and error messages show the template with the password as `***`.

A SQL sink appends an official vintage to a table (`vintage, run_id, published` plus the
forecast columns, unique on vintage, market, date) in one transaction, so readers see all of a
vintage or none of it; a vintage already in the table is refused. Without a server, DuckDB is
the zero-setup warehouse: `<store>/warehouse.duckdb`. `query_store` runs DuckDB SQL over the
store's Parquet files directly. SQLAlchemy, the drivers and DuckDB are the `sql` extra and are
imported only when used.

Longer than 500 lines because SQL in (actuals) and SQL out (vintages, DuckDB over the
store) share one connection model, credential handling and redaction; split them when either grows.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_serializer, model_validator

from fcast.contract import LEVEL_COLUMN
from fcast.errors import ConfigError, DataError, StoreError
from fcast.redact import redact, secrets_in

if TYPE_CHECKING:
    import duckdb
    import sqlalchemy as sa
    import xarray as xr

DEFAULT_TABLE = "fcast_official_forecasts"
WAREHOUSE_FILE = "warehouse.duckdb"
KEY_COLUMNS = ("vintage", "run_id", "published", "market", "date")
_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


# --- configuration --------------------------------------------------------------------


class _Connection(BaseModel):
    """A SQLAlchemy URL (with `${NAME}` placeholders) and an optional credentials file."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = Field(None, description="SQLAlchemy URL; ${NAME} placeholders allowed")
    credentials: str | None = Field(None, description="file of KEY=VALUE lines, or a single URL")

    @field_serializer("url")
    def _hide_password(self, url: str | None) -> str | None:
        return redacted(url) if url else url

    def __repr_args__(self) -> Any:
        for key, val in super().__repr_args__():
            yield key, (redacted(val) if key == "url" and val else val)


class SqlSource(_Connection):
    """Actuals from a SQL query or table: columns market, date and the value column."""

    query: str | None = None
    table: str | None = Field(None, description="table name, optionally schema.table")
    chunksize: int = Field(50_000, ge=1, description="rows fetched per chunk")

    @model_validator(mode="after")
    def _query_or_table(self) -> SqlSource:
        if (self.query is None) == (self.table is None):
            raise ValueError("give exactly one of query or table")
        if self.url is None and self.credentials is None:
            raise ValueError("give url (or a credentials file that holds one)")
        return self


class SqlActuals(BaseModel):
    """The `data.actuals` form of a SQL source: `{sql: {url: ..., query: ...}}`."""

    model_config = ConfigDict(extra="forbid")

    sql: SqlSource


class SqlSink(_Connection):
    """Where official vintages are appended; url None means the store's DuckDB warehouse."""

    table: str = DEFAULT_TABLE
    chunksize: int = Field(
        10_000, ge=1, description="rows per INSERT batch (all in one transaction)"
    )


# --- URLs and credentials -------------------------------------------------------------


def redacted(url: str) -> str:
    """The URL with its credentials as *** (`fcast.redact.redact`); ${NAME} placeholders stay."""
    return redact(url)


def read_credentials(path: str) -> dict[str, str]:
    """A credentials file as a mapping: KEY=VALUE lines, or {'URL': ...} for a file holding one URL."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"credentials file {path}: cannot read it ({exc.strerror})") from None
    lines = [
        ln.strip() for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")
    ]
    if len(lines) == 1 and "://" in lines[0] and "=" not in lines[0].split("://")[0]:
        return {"URL": lines[0]}
    values = {}
    for number, line in enumerate(lines, 1):
        key, sep, val = line.removeprefix("export ").partition("=")
        if not sep or not key.strip().isidentifier():
            raise ConfigError(f"credentials file {path}: entry {number} is not KEY=VALUE")
        values[key.strip()] = val.strip().strip("'\"")
    return values


def _lookup(name: str, values: dict[str, str], where: str) -> str:
    """A placeholder's value: from the credentials file, else the environment."""
    if name in values:
        return values[name]
    if name in os.environ:
        return os.environ[name]
    raise ConfigError(
        f"{where}: ${{{name}}} is not set (no environment variable or credentials entry {name})"
    )


def expand(template: str, values: dict[str, str], where: str = "sql url") -> str:
    """Fill ${NAME} placeholders; inside a URL the values are percent-encoded, a lone placeholder is the URL."""
    whole = _PLACEHOLDER.fullmatch(template.strip())
    if whole:
        return _lookup(whole[1], values, where)
    return _PLACEHOLDER.sub(lambda m: quote(_lookup(m[1], values, where), safe=""), template)


def _template(conn: _Connection) -> tuple[str, dict[str, str]]:
    """The URL template and the credentials file's values."""
    values = read_credentials(conn.credentials) if conn.credentials else {}
    file_url = values.get("URL") if len(values) == 1 else None
    if file_url and conn.url is None:
        return file_url, values
    if conn.url is None:
        raise ConfigError(
            f"credentials file {conn.credentials}: no url in the config and the file holds no single URL"
        )
    return conn.url, values


def resolve_url(conn: _Connection) -> str:
    """The connection URL with placeholders filled, ready for SQLAlchemy (psycopg 3 for postgresql://)."""
    template, values = _template(conn)
    url = expand(template, values, f"sql url {redacted(template)}")
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError(
            f"sql url {redacted(template)}: expected a SQLAlchemy URL such as postgresql://user@host/db"
        )
    if (
        scheme in ("postgres", "postgresql")
        and _has_module("psycopg")
        and not _has_module("psycopg2")
    ):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"


def _has_module(name: str) -> bool:
    """Whether a module can be imported."""
    from importlib.util import find_spec

    return find_spec(name) is not None


def label(conn: _Connection, what: str = "") -> str:
    """A log-safe description of a connection: the redacted URL template and what is read or written."""
    url = conn.url or f"<url from {conn.credentials}>"
    return f"sql {redacted(url)}" + (f" ({what})" if what else "")


def _secrets(conn: _Connection) -> list[str]:
    """Secret strings that must not reach a message: the URL's password and secret-looking parameters."""
    from urllib.parse import unquote

    try:
        template, values = _template(conn)
        url = expand(template, values)
    except ConfigError:
        return []
    return [v for s in secrets_in(url) for v in (s, unquote(s))]


def scrub(text: str, conn: _Connection) -> str:
    """A message with the connection's secrets (and fragments of them) and any URL credentials as ***."""
    return redact(text, secrets=_secrets(conn))


def resolve_paths(conn: _Connection, base: Path) -> None:
    """Resolve a relative credentials file and a relative DuckDB file against the config's folder."""
    if conn.credentials and not Path(conn.credentials).is_absolute():
        conn.credentials = str((base / conn.credentials).resolve())
    if conn.url and conn.url.startswith("duckdb:///") and not conn.url.startswith("duckdb:////"):
        path = conn.url.removeprefix("duckdb:///")
        if path and not path.startswith(":memory:") and "${" not in path:
            conn.url = duckdb_url(str((base / path).resolve()))


@contextmanager
def engine(conn: _Connection) -> Iterator[sa.Engine]:
    """A SQLAlchemy engine for a connection, disposed on exit; missing drivers are a clear error."""
    try:
        import sqlalchemy as sa
    except ImportError:
        raise ConfigError(
            "SQL sources and sinks need SQLAlchemy: pip install 'fcast[sql]'"
        ) from None
    url = resolve_url(conn)
    if url.startswith("duckdb:///") and not url.startswith("duckdb:///:memory:"):
        Path(url.removeprefix("duckdb:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        eng = sa.create_engine(url, poolclass=sa.pool.NullPool)
    except (ImportError, sa.exc.NoSuchModuleError) as exc:
        raise ConfigError(
            f"{label(conn)}: {scrub(str(exc), conn)} (pip install 'fcast[sql]')"
        ) from None
    except (ValueError, sa.exc.ArgumentError) as exc:
        raise ConfigError(
            f"{label(conn)}: not a valid SQLAlchemy URL ({scrub(str(exc), conn)}); "
            "percent-encode '@', ':' and '/' in the user name and password"
        ) from None
    try:
        yield eng
    finally:
        eng.dispose()


# --- reading actuals ------------------------------------------------------------------


def _selectable(source: SqlSource) -> Any:
    """The query text, or SELECT * from the (quoted) table."""
    if source.query is not None:
        return source.query
    import sqlalchemy as sa

    schema, _, name = source.table.rpartition(".")
    return sa.select(sa.text("*")).select_from(sa.table(name, schema=schema or None))


def read_sql_actuals(source: SqlSource, value: str | None = None) -> pd.DataFrame:
    """Stream a SQL source in chunks; keep market, date and `value` (all columns when value is None)."""
    import sqlalchemy as sa

    keep = [c for c in ("market", "date", value) if c]
    parts = []
    try:
        with engine(source) as eng, eng.connect() as conn:
            streaming = conn.execution_options(
                stream_results=True, max_row_buffer=source.chunksize, no_parameters=True
            )
            for chunk in pd.read_sql(_selectable(source), streaming, chunksize=source.chunksize):
                parts.append(
                    _compact(chunk[[c for c in chunk.columns if c in keep]] if value else chunk)
                )
    except sa.exc.SQLAlchemyError as exc:
        detail = scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], source)
        raise DataError(
            f"{label(source, source_what(source))}: cannot read the actuals ({detail})"
        ) from None
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(keep))


def _compact(chunk: pd.DataFrame) -> pd.DataFrame:
    """SQL DATE values (Python date objects) as datetime64; text dates stay as they are for QA."""
    if "date" in chunk and pd.api.types.infer_dtype(chunk["date"], skipna=True) == "date":
        return chunk.assign(date=pd.to_datetime(chunk["date"]))
    return chunk


def source_what(source: SqlSource) -> str:
    """'table NAME' or 'query'."""
    return f"table {source.table}" if source.table else "query"


def source_hash(df: pd.DataFrame) -> str:
    """SHA-256 of a table's content, independent of row order (the input hash of a SQL source)."""
    rows = pd.util.hash_pandas_object(df, index=False).to_numpy().copy()
    rows.sort()
    h = hashlib.sha256(json.dumps([str(c) for c in df.columns]).encode())
    h.update(rows.tobytes())
    return h.hexdigest()


def sql_source(actuals: Any) -> SqlSource | None:
    """The SqlSource of a `data.actuals` value ({sql: {...}}, SqlActuals, SqlSource), None for a file URL."""
    if isinstance(actuals, SqlActuals):
        return actuals.sql
    if isinstance(actuals, SqlSource):
        return actuals
    if isinstance(actuals, dict):
        return (
            SqlActuals.model_validate(actuals).sql
            if "sql" in actuals
            else SqlSource.model_validate(actuals)
        )
    return None


def read_actuals_source(
    actuals: Any, value: str | None = None, columns: Mapping[str, str | None] | None = None
) -> pd.DataFrame:
    """The raw actuals table from a file URL (CSV/Parquet) or a SQL source; `columns` renames a file's."""
    source = sql_source(actuals)
    if source is None:
        from fcast.data import apply_columns, column_sources, read_table

        if not columns or value is None:
            return read_table(str(actuals))
        table = read_table(str(actuals), text=[column_sources(columns, value)["market"]])
        return apply_columns(table, columns, value, actuals_label(actuals))
    return read_sql_actuals(source, value)


def load_actuals_source(
    actuals: Any,
    value: str = "users",
    freq: str = "W-MON",
    columns: Mapping[str, str | None] | None = None,
) -> xr.Dataset:
    """The validated cube y(market, time) from a file URL or a SQL source."""
    from fcast.data import to_cube

    return to_cube(
        read_actuals_source(actuals, value, columns),
        freq=freq,
        value=value,
        source=actuals_label(actuals),
    )


def actuals_hash(actuals: Any, value: str | None = None, table: pd.DataFrame | None = None) -> str:
    """Input hash for the run manifest: the file's bytes, or the content of a SQL source as read for `value`."""
    source = sql_source(actuals)
    if source is None:
        from fcast.data import file_hash

        return file_hash(str(actuals))
    return source_hash(table if table is not None else read_sql_actuals(source, value))


def actuals_label(actuals: Any) -> str:
    """A log- and manifest-safe name of the actuals: the file URL, or the redacted SQL source."""
    source = sql_source(actuals)
    return redact(str(actuals)) if source is None else label(source, source_what(source))


# --- writing vintages -----------------------------------------------------------------


def _sql_type(dtype: Any) -> Any:
    """A portable SQLAlchemy column type for a pandas dtype."""
    import sqlalchemy as sa

    if pd.api.types.is_bool_dtype(dtype):
        return sa.Boolean()
    if pd.api.types.is_integer_dtype(dtype):
        return sa.BigInteger()
    if pd.api.types.is_float_dtype(dtype):
        return sa.Double()
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return sa.DateTime(timezone=True)
    return sa.Text()


def vintage_rows(
    forecast: pd.DataFrame, *, vintage: str, run_id: str, published: datetime
) -> pd.DataFrame:
    """The rows of one vintage: vintage, run_id, published, market, date (a date), then the forecast columns."""
    missing = [c for c in ("market", "date") if c not in forecast.columns]
    if missing:
        raise DataError(f"forecast of vintage {vintage!r} lacks column(s) {missing}")
    key = _row_key(forecast)
    dup = forecast.duplicated(key)
    if dup.any():
        raise DataError(
            f"forecast of vintage {vintage!r} has {int(dup.sum())} duplicated ({', '.join(key)}) rows"
        )
    if published.tzinfo is None:
        raise ValueError("published must be timezone-aware (e.g. datetime.now(UTC))")
    rest = [c for c in forecast.columns if c not in KEY_COLUMNS]
    rows = forecast[rest].copy()
    rows.insert(0, "vintage", vintage)
    rows.insert(1, "run_id", run_id)
    rows.insert(2, "published", pd.Timestamp(published))
    rows.insert(3, "market", forecast["market"].astype(str))
    rows.insert(4, "date", pd.to_datetime(forecast["date"]).dt.date)
    return rows


def _row_key(rows: pd.DataFrame) -> list[str]:
    """What makes a forecast row unique: (market, date), and `level` when the rows carry totals and groups."""
    return ["market", "date", *([LEVEL_COLUMN] if LEVEL_COLUMN in rows.columns else [])]


def _table(name: str, rows: pd.DataFrame) -> sa.Table:
    """The vintage table for these rows: key columns not null, unique (vintage, market, date[, level])."""
    import sqlalchemy as sa

    key_types = {
        "vintage": sa.Text(),
        "run_id": sa.Text(),
        "published": sa.DateTime(timezone=True),
        "market": sa.Text(),
        "date": sa.Date(),
    }
    schema, _, bare = name.rpartition(".")
    cols = [sa.Column(c, key_types[c], nullable=False) for c in KEY_COLUMNS]
    cols += [sa.Column(c, _sql_type(rows[c].dtype)) for c in rows.columns if c not in key_types]
    return sa.Table(
        bare,
        sa.MetaData(),
        *cols,
        sa.UniqueConstraint("vintage", *_row_key(rows)),
        schema=schema or None,
    )


def _existing_columns(conn: sa.Connection, table: sa.Table) -> set[str]:
    """Column names of a table as the database has them (information_schema: PostgreSQL, DuckDB, ...)."""
    import sqlalchemy as sa

    query = sa.text(
        "SELECT column_name FROM information_schema.columns WHERE table_name = :t "
        "AND table_schema = COALESCE(:s, current_schema())"
    )
    return {r[0] for r in conn.execute(query, {"t": table.name, "s": table.schema})}


def _ensure_table(conn: sa.Connection, table: sa.Table) -> None:
    """Create the table if missing; add forecast columns it lacks (nullable), in the open transaction."""
    table.create(conn, checkfirst=True)
    have = _existing_columns(conn, table)
    prep = conn.dialect.identifier_preparer
    for col in table.columns:
        if col.name not in have:
            ddl = f"ALTER TABLE {prep.format_table(table)} ADD COLUMN {prep.quote(col.name)} {col.type.compile(conn.dialect)}"
            conn.exec_driver_sql(ddl)


def _refuse_existing(conn: sa.Connection, table: sa.Table, vintage: str, where: str) -> None:
    """A clear error when the table already holds rows of this vintage."""
    import sqlalchemy as sa

    found = conn.execute(
        sa.select(
            sa.func.count(), sa.func.min(table.c.run_id), sa.func.min(table.c.published)
        ).where(table.c.vintage == vintage)
    ).one()
    if found[0]:
        raise StoreError(
            f"vintage {vintage!r} is already in {where} ({found[0]} rows from run {found[1]}, published "
            f"{found[2]}); vintages are never overwritten"
        )


def _records(rows: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values, NaN as NULL."""
    return rows.astype(object).where(rows.notna(), None).to_dict("records")


def write_vintage_sql(
    sink: SqlSink, forecast: pd.DataFrame, *, vintage: str, run_id: str, published: datetime
) -> int:
    """Append a vintage's forecast to the sink's table in one transaction; return the rows written."""
    import sqlalchemy as sa

    rows = vintage_rows(forecast, vintage=vintage, run_id=run_id, published=published)
    table = _table(sink.table, rows)
    where = label(sink, f"table {sink.table}")
    records = _records(rows)
    try:
        with engine(sink) as eng, eng.begin() as conn:
            _ensure_table(conn, table)
            _refuse_existing(conn, table, vintage, where)
            for start in range(0, len(records), sink.chunksize):
                conn.execute(table.insert(), records[start : start + sink.chunksize])
    except sa.exc.IntegrityError:
        raise StoreError(
            f"vintage {vintage!r} was written to {where} concurrently; it is kept as it is"
        ) from None
    except sa.exc.SQLAlchemyError as exc:
        detail = scrub(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0], sink)
        raise StoreError(f"{where}: vintage {vintage!r} not written ({detail})") from None
    return len(records)


def read_vintages_sql(sink: SqlSink, vintage: str | None = None) -> pd.DataFrame:
    """The sink table's rows (of one vintage, or all), ordered by vintage, market, date."""
    import sqlalchemy as sa

    table = sa.table(sink.table.rpartition(".")[2], schema=sink.table.rpartition(".")[0] or None)
    query = sa.select(sa.text("*")).select_from(table)
    if vintage is not None:
        query = query.where(sa.column("vintage") == vintage)
    with engine(sink) as eng, eng.connect() as conn:
        df = pd.read_sql(query.order_by(sa.text("vintage, market, date")), conn)
    return df


def write_store_vintage(store: str, name: str, sink: SqlSink) -> int:
    """Write a committed vintage of a store to a SQL sink (also how a failed channel delivery is retried)."""
    from fcast.infra.store import Store
    from fcast.infra.vintage import read_vintage, vintage_manifest

    st = Store(store)
    manifest = vintage_manifest(st, name)
    if sink.url is None and sink.credentials is None:
        sink = sink.model_copy(update={"url": duckdb_url(duckdb_warehouse(st.url))})
    published = datetime.fromisoformat(str(manifest["published"]).replace("Z", "+00:00"))
    forecast = read_vintage(st, name, aggregates=True)  # with the total and group rows (level)
    return write_vintage_sql(
        sink, forecast, vintage=name, run_id=manifest["run_id"], published=published
    )


def sink_options(sink: SqlSink) -> dict[str, Any]:
    """Keyword options of the `sql` channel for a configured sink (the URL template, not redacted)."""
    return {
        "url": sink.url,
        "table": sink.table,
        "credentials": sink.credentials,
        "chunksize": sink.chunksize,
    }


def _store_of(message: Any) -> str:
    """The store root of a published message, from the URL of one of its vintage files."""
    for rel, url in message.files.items():
        folder = url[: -len(rel)].rstrip("/") if url.endswith(rel) else ""
        tail = f"/official/{message.vintage}"
        if folder.endswith(tail):
            return folder[: -len(tail)]
    raise StoreError(
        f"message of run {message.run_id} names no file of vintage {message.vintage!r}"
    )


def sql_channel(
    message: Any,
    url: str | None = None,
    table: str = DEFAULT_TABLE,
    credentials: str | None = None,
    chunksize: int = 10_000,
) -> str:
    """Publish channel `sql`: append the vintage's forecast to a SQL table (default: the store's DuckDB)."""
    if not message.vintage:
        raise StoreError(
            f"run {message.run_id} was sent without a vintage; only official vintages go to SQL"
        )
    sink = SqlSink(url=url, table=table, credentials=credentials, chunksize=chunksize)
    store = _store_of(message)
    rows = write_store_vintage(store, message.vintage, sink)
    where = (
        label(sink, f"table {table}")
        if url or credentials
        else f"{duckdb_warehouse(store)} (table {table})"
    )
    return f"{rows} rows of vintage {message.vintage} appended to {where}"


# --- DuckDB: the embedded warehouse and SQL over the store ------------------------------


def duckdb_warehouse(store_root: str) -> str:
    """Path of the store's embedded DuckDB warehouse, `<store>/warehouse.duckdb` (local stores only)."""
    import fsspec
    from fsspec.implementations.local import LocalFileSystem

    fs, root = fsspec.core.url_to_fs(store_root)
    if not isinstance(fs, LocalFileSystem):
        raise StoreError(
            f"store {store_root} is not local: the embedded DuckDB warehouse needs a local store; "
            f"give the sql sink a url instead"
        )
    return str(Path(root) / WAREHOUSE_FILE)


def duckdb_url(path: str) -> str:
    """SQLAlchemy URL (duckdb-engine) of a DuckDB file."""
    return f"duckdb:///{Path(path).resolve()}"


def _parquet_list(paths: list[str]) -> str:
    """A DuckDB list literal of file paths."""
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def store_connection(store_root: str) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with views over a store: forecasts, selections, official, vintages, runs."""
    import duckdb
    from fsspec.implementations.local import LocalFileSystem

    from fcast.infra.store import Store
    from fcast.infra.vintage import fs_path, list_vintages

    st = Store(store_root)
    con = duckdb.connect()
    prefix = "" if isinstance(st.fs, LocalFileSystem) else f"{st.url.split('://')[0]}://"
    if prefix:
        con.register_filesystem(st.fs)
    for view, name in (("forecasts", "forecast.parquet"), ("selections", "selection.parquet")):
        files = sorted(st.fs.glob(fs_path(st, "runs", "*", name)))
        if files:
            con.execute(
                f"CREATE VIEW {view} AS SELECT * EXCLUDE (filename), "
                f"regexp_extract(filename, '/runs/([^/]+)/{re.escape(name)}$', 1) AS run_id "
                f"FROM read_parquet({_parquet_list([prefix + f for f in files])}, filename = true, union_by_name = true)"
            )
    vintages = list_vintages(st)
    con.register("vintages", vintages)
    if len(vintages):
        files = [prefix + fs_path(st, "official", n, "forecast.parquet") for n in vintages["name"]]
        con.execute(
            "CREATE VIEW official AS SELECT * EXCLUDE (filename), "
            "regexp_extract(filename, '/official/([^/]+)/forecast\\.parquet$', 1) AS vintage "
            f"FROM read_parquet({_parquet_list(files)}, filename = true, union_by_name = true)"
        )
    con.register("runs", _runs_frame(st))
    return con


def _runs_frame(st: Any) -> pd.DataFrame:
    """One row per run manifest: run_id, kind, status, started, finished, data_end, input_hash."""
    cols = [
        "run_id",
        "kind",
        "status",
        "started",
        "finished",
        "data_end",
        "input_hash",
        "fingerprint",
    ]
    return pd.DataFrame([{c: m.get(c) for c in cols} for m in st.runs()], columns=cols)


def query_store(store_root: str, sql: str) -> pd.DataFrame:
    """Run DuckDB SQL over a store's files: views forecasts, selections, official, vintages, runs."""
    con = store_connection(store_root)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


__all__ = [
    "DEFAULT_TABLE",
    "SqlActuals",
    "SqlSink",
    "SqlSource",
    "actuals_hash",
    "actuals_label",
    "duckdb_url",
    "duckdb_warehouse",
    "load_actuals_source",
    "query_store",
    "read_actuals_source",
    "read_sql_actuals",
    "read_vintages_sql",
    "redacted",
    "resolve_paths",
    "resolve_url",
    "source_hash",
    "sink_options",
    "sql_channel",
    "sql_source",
    "store_connection",
    "write_store_vintage",
    "write_vintage_sql",
]
