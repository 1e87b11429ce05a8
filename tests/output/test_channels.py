"""Publish channels: the registry, the store channel and the webhook against a local HTTP server."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from fcast.output.channels import (
    CHANNELS,
    ENTRY_POINT_GROUP,
    ChannelError,
    Message,
    get_channel,
    register_channel,
    resolve,
    send,
    store_channel,
    webhook_channel,
)
from tests.output.entry_points import declared, installed


@contextmanager
def webhook_server(status: int = 200) -> Iterator[tuple[str, list[dict]]]:
    """A local HTTP server on 127.0.0.1 that records POSTs (headers and JSON body) and answers `status`."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server API)
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(
                {
                    "path": self.path,
                    "content_type": self.headers["Content-Type"],
                    "json": json.loads(body),
                }
            )
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b"ok" if status < 300 else b"invalid_token")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hooks/abc", received
    finally:
        server.shutdown()
        server.server_close()


def message(
    tmp_path: Path, vintage: str = "v1", text: str = "# Forecast v1\n\nTotal **4.4M**.\n"
) -> Message:
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "src" / "insights.md").write_text(text)
    (tmp_path / "src" / f"{vintage}.html").write_text(f"<p>{vintage}</p>")
    files = {
        "insights.md": str(tmp_path / "src" / "insights.md"),
        f"report/{vintage}.html": str(tmp_path / "src" / f"{vintage}.html"),
    }
    return Message(text=text, run_id="weekly-1", vintage=vintage, files=files)


def test_webhook_posts_the_insights_as_json():
    msg = Message(
        text="# Forecast v1\n\nTotal **4.4M**, up 2.8%.\n", run_id="weekly-1", vintage="v1"
    )
    with webhook_server() as (url, received):
        where = webhook_channel(msg, url)
    host = url.split("/", 3)[2]
    assert (
        where == f"posted to http://{host} (HTTP 200)"
    )  # the path (a webhook's token) is never shown
    assert received == [
        {
            "path": "/hooks/abc",
            "content_type": "application/json",
            "json": {"text": msg.text, "run_id": "weekly-1", "vintage": "v1"},
        }
    ]


def test_webhook_truncates_long_text():
    msg = Message(text="x" * 500, run_id="r", vintage="v")
    with webhook_server() as (url, received):
        webhook_channel(msg, url, max_chars=100)
    assert len(received[0]["json"]["text"]) == 100 and received[0]["json"]["text"].endswith(
        "(truncated)"
    )


def test_webhook_errors_name_the_status_or_the_reason():
    msg = Message(text="t", run_id="r", vintage="v")
    with (
        webhook_server(status=403) as (url, _),
        pytest.raises(ChannelError, match=r"answered HTTP 403 Forbidden: invalid_token"),
    ):
        webhook_channel(msg, url)
    with webhook_server() as (url, _):
        pass  # the server is closed now: nothing listens on the port
    host = url.split("/", 3)[2]
    with pytest.raises(ChannelError, match=f"webhook http://{host} could not be reached") as err:
        webhook_channel(msg, url + "/T0KEN-secret", timeout=2)
    assert "T0KEN" not in str(err.value)


def test_store_channel_keeps_each_vintage_and_refreshes_latest(tmp_path):
    dest = str(tmp_path / "published")
    assert store_channel(message(tmp_path, "v1"), dest) == f"{dest}/latest/"
    store_channel(message(tmp_path, "v2", text="second\n"), dest)
    out = tmp_path / "published"
    assert sorted(p.name for p in out.iterdir()) == ["latest", "v1", "v2"]
    assert (out / "v1" / "report" / "v1.html").exists() and (
        out / "v1" / "insights.md"
    ).read_text().startswith("# Forecast v1")
    assert sorted(
        str(p.relative_to(out / "latest")) for p in (out / "latest").rglob("*") if p.is_file()
    ) == ["insights.md", "published.json", "report/v2.html"]  # v1's report is gone from latest
    assert json.loads((out / "latest" / "published.json").read_text())["vintage"] == "v2"
    assert (out / "latest" / "insights.md").read_text() == "second\n"


def test_registry_resolve_and_send_collect_failures(tmp_path):
    calls = []

    def note(msg: Message, prefix: str = "") -> str:
        calls.append(prefix + msg.vintage)
        return "noted"

    def broken(msg: Message) -> str:
        raise ChannelError("chat is down")

    register_channel("test-note", note, replace=True)
    register_channel("test-broken", broken, replace=True)
    try:
        with pytest.raises(ChannelError, match="already registered"):
            register_channel("test-note", note)
        with pytest.raises(ChannelError, match=r"unknown channel 'nope'; known: .*store.*webhook"):
            get_channel("nope")
        with pytest.raises(ChannelError, match="channel 'webhook' needs a URL"):
            resolve(["webhook"])
        names, opts = resolve(
            ["test-broken", "test-note"],
            webhook_url="http://127.0.0.1:9/x",
            options={"test-note": {"prefix": "> "}},
            default_dest="/tmp/x",
        )
        assert names == ["test-broken", "test-note", "webhook"] and opts["webhook"] == {
            "url": "http://127.0.0.1:9/x"
        }
        sent, failed = send(names[:2], message(tmp_path), opts)
        assert (
            sent == {"test-note": "noted"}
            and failed == {"test-broken": "chat is down"}
            and calls == ["> v1"]
        )
    finally:
        CHANNELS.unregister("test-note")
        CHANNELS.unregister("test-broken")


def test_the_sql_channel_comes_from_its_declared_entry_point(tmp_path):
    from fcast.infra.warehouse import sql_channel

    refs = declared(ENTRY_POINT_GROUP)
    assert refs == {"sql": "fcast.infra.warehouse:sql_channel"}
    CHANNELS.unregister("sql")
    try:
        with installed(tmp_path, {ENTRY_POINT_GROUP: refs}):
            assert "sql" in CHANNELS.names() and "sql" not in CHANNELS
            assert get_channel("sql") is sql_channel
        assert "sql" in CHANNELS  # loaded once, kept
    finally:
        CHANNELS.unregister("sql")


def test_the_publish_job_registers_sql_when_the_installed_metadata_lacks_it():
    from fcast.infra.warehouse import sql_channel
    from fcast.jobs.publish import ensure_channels

    CHANNELS.unregister("sql")
    try:
        ensure_channels()
        assert get_channel("sql") is sql_channel
        ensure_channels()  # idempotent
    finally:
        CHANNELS.unregister("sql")


def test_output_imports_neither_the_store_nor_the_warehouse():
    code = (
        "import sys, fcast.output.channels, fcast.output.publish, fcast.output.report, "
        "fcast.output.qc, fcast.output.plots\n"
        "print(sorted(m for m in sys.modules if m.startswith(('fcast.infra', 'fcast.jobs', "
        "'fcast.config'))))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
