"""A throwaway PostgreSQL server for the tests: initdb in a temporary folder, started on a free localhost port.

Use the fixtures `postgres` (a PgServer) and `postgres_url` in a test module with
`from tests.pg import fixture_postgres, fixture_postgres_url  # noqa: F401`.

Uses the server binaries of Debian's `postgresql` package (`/usr/lib/postgresql/<version>/bin`).
PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user the package
creates. The `postgres` fixture skips, with the reason, where no server can be started.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

USER = "fcast"
DATABASE = "fcast"


@dataclass(frozen=True)
class PgServer:
    """A running server: where it listens and how to log in."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def url(self) -> str:
        """SQLAlchemy URL (psycopg 3 driver) with the password percent-encoded."""
        return (
            f"postgresql+psycopg://{self.user}:{quote(self.password, safe='')}"
            f"@{self.host}:{self.port}/{self.database}"
        )


def bindir() -> Path | None:
    """The newest PostgreSQL server bin folder with initdb, pg_ctl and postgres, if any."""
    found = [
        p
        for p in Path("/usr/lib/postgresql").glob("*/bin")
        if all((p / tool).exists() for tool in ("initdb", "pg_ctl", "postgres"))
    ]
    return max(found, key=lambda p: int(p.parent.name), default=None) if found else None


def free_port() -> int:
    """A TCP port on localhost that is free right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_server_user() -> list[str]:
    """Command prefix that runs the server as a non-root user (empty when not root)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise RuntimeError("running as root and `runuser` is missing")
    pwd.getpwnam("postgres")  # KeyError when the package's user does not exist
    return ["runuser", "-u", "postgres", "--"]


def _run(cmd: list[str], log: Path) -> None:
    """Run a command; on failure, raise with the tail of its output and of the server log."""
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    if done.returncode:
        tail = log.read_text()[-2000:] if log.exists() else ""
        raise RuntimeError(f"{' '.join(cmd[-3:])} failed: {done.stderr[-2000:]}\n{tail}")


def _initdb(bin_: Path, prefix: list[str], root: Path, password: str) -> Path:
    """Create a data folder with password (scram) authentication for USER."""
    pwfile = root / "pwfile"
    pwfile.write_text(password + "\n")
    if prefix:
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    data = root / "data"
    _run(
        [
            *prefix,
            str(bin_ / "initdb"),
            "-D",
            str(data),
            "-U",
            USER,
            "-A",
            "scram-sha-256",
            f"--pwfile={pwfile}",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        root / "initdb.log",
    )
    pwfile.unlink()
    return data


def _start(bin_: Path, prefix: list[str], root: Path, data: Path, port: int) -> None:
    """Start the server on 127.0.0.1:port with its socket in `root`; wait until it accepts connections."""
    options = (
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={root} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    )
    log = root / "server.log"
    _run(
        [
            *prefix,
            str(bin_ / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(log),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        ],
        log,
    )


def _create_database(server: PgServer) -> None:
    """CREATE DATABASE on the fresh server."""
    import psycopg

    with psycopg.connect(
        host=server.host,
        port=server.port,
        user=server.user,
        password=server.password,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f"CREATE DATABASE {server.database}")


@contextmanager
def postgres_server() -> Iterator[PgServer]:
    """Start a throwaway server in a temporary folder; stop it and remove everything on exit."""
    bin_ = bindir()
    if bin_ is None:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="fcast-pg-"))
    data = None
    try:
        password = "p@ss:/" + secrets.token_urlsafe(12)  # characters a URL must encode
        data = _initdb(bin_, prefix, root, password)
        port = free_port()
        _start(bin_, prefix, root, data, port)
        server = PgServer("127.0.0.1", port, USER, password, DATABASE)
        _create_database(server)
        yield server
    finally:
        if data is not None and (data / "postmaster.pid").exists():
            subprocess.run(
                [*prefix, str(bin_ / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                capture_output=True,
                timeout=60,
            )
        shutil.rmtree(root, ignore_errors=True)


def unavailable() -> str | None:
    """Why no server can be started here, or None."""
    if bindir() is None:
        return "PostgreSQL is not installed (apt-get install postgresql; .ci/run installs it)"
    try:
        import psycopg  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        return f"{exc.name} is not installed (pip install -e '.[sql]')"
    try:
        _as_server_user()
    except (KeyError, RuntimeError) as exc:
        return f"cannot run PostgreSQL as a non-root user: {exc}"
    return None


@pytest.fixture(scope="session", name="postgres")
def fixture_postgres() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server for the test session (skipped, with the reason, where unavailable)."""
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="session", name="postgres_url")
def fixture_postgres_url(postgres: PgServer) -> str:
    """SQLAlchemy URL of the throwaway server's database."""
    return postgres.url
