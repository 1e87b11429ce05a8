"""The report: self-contained HTML that renders offline in headless Chromium, and static PNGs."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from fcast.infra.store import Store
from fcast.jobs.publish import load_run
from fcast.output.publish import insights
from fcast.output.report import (
    ADJUSTMENT,
    CLEANED,
    FORECAST,
    anchor,
    build_report,
    caption,
    markdown_html,
    market_view,
    png_name,
)
from fcast.output.report.views import market_order
from tests.output.runs import sample_runs
from tests.output.test_publish import hand_made_run

CHROMIUM = (
    shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
)
#: upper bound of any wait for the browser (a hang, not a speed: every wait is for a state)
WAIT_LIMIT = 300.0


@pytest.fixture(scope="session")
def report_dir(tmp_path_factory) -> Path:
    """The report of the second sample run against the first (published by hand, no vintage needed)."""
    runs = sample_runs(tmp_path_factory)
    store = Store(runs["store"])
    first, second = load_run(store, runs["first"]), load_run(store, runs["second"])
    previous = {"demo-1": first.forecast}
    text = insights(second, previous, name="demo-2")
    out = tmp_path_factory.mktemp("report")
    build_report(
        second,
        previous,
        out,
        insights_text=text,
        name="demo-2",
        meta={"demo-1": {"data_end": "2026-09-21"}},
    )
    return out


def hand_made_with_cleaning() -> tuple[Any, dict[str, pd.DataFrame], dict[str, dict]]:
    """The hand-made run of test_publish plus two cleaning records for DK (one applied)."""
    run, previous, meta = hand_made_run()
    run.cleaning = pd.DataFrame(
        {
            "market": ["DK", "DK"],
            "start": ["2025-03-03", "2025-06-02"],
            "end": ["2025-03-17", "2025-06-02"],
            "kind": ["outage", "spike"],
            "source": ["events", "auto"],
            "applied": [True, False],
            "change_pct": [-45.0, 80.0],
        }
    )
    return run, previous, meta


@pytest.fixture(scope="session")
def hand_report_dir(tmp_path_factory) -> Path:
    """The report of the hand-made run: adjustments, cleaning, a new market with proxies, two vintages."""
    run, previous, meta = hand_made_with_cleaning()
    out = tmp_path_factory.mktemp("hand-report")
    build_report(run, previous, out, insights_text=insights(run, previous, meta=meta), meta=meta)
    return out


def test_markdown_subset_as_html():
    text = "# Title\n\nTotal **4.4M**, up <2%.\n\n## Changes\n\n- **DK** raised\n- **NO** lowered\n\nDone.\n"
    assert markdown_html(text) == (
        "<h2>Title</h2>\n<p>Total <b>4.4M</b>, up &lt;2%.</p>\n<h3>Changes</h3>\n"
        "<ul><li><b>DK</b> raised</li>\n<li><b>NO</b> lowered</li>\n</ul>\n<p>Done.</p>"
    )


def test_market_view_marks_adjustments_cleaning_and_proxies():
    run, previous, _ = hand_made_with_cleaning()
    dk = market_view(run, previous, "DK")
    assert dk.adjustments.to_dict("records") == [
        {
            "start": pd.Timestamp("2027-01-04"),
            "end": pd.Timestamp("2027-03-29"),
            "label": "+10%: TV campaign (bo)",
        }
    ]
    assert dk.cleaned["label"].tolist() == ["outage (events) -45%"]  # not applied: not marked
    assert list(dk.previous) == ["v1", "v0"] and len(dk.actuals) == 151
    assert (
        caption(dk)
        == "model: ets; segment: mature; 1 adjustment period(s) shaded yellow; 1 cleaned disruption(s) shaded red"
    )
    ke = market_view(run, previous, "KE")
    assert ke.segment == "new" and ke.proxies == [("SE", 0.6), ("NO", 0.4)] and ke.previous == {}
    assert "proxies: SE (0.60), NO (0.40)" in caption(ke)


def test_hand_made_report_has_every_market_new_market_proxies_and_no_remote_resources(
    hand_report_dir,
):
    page = hand_report_dir / "index.html"
    html = page.read_text()
    for market in ("DK", "FI", "KE", "NO", "SE"):
        assert f'id="m-{market}"' in html and (hand_report_dir / "png" / f"{market}.png").exists()
    assert "KE (new market)" in html and "proxies: SE (0.60), NO (0.40)" in html
    assert "compared with v1 (data to 2026-09-21), v0 (data to 2026-06-22)" in html
    assert re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']https?://", html) == []


@pytest.mark.filterwarnings(
    "ignore:Glyph"
)  # the PNG font has no CJK glyphs; the files are what counts
def test_awkward_market_names_get_distinct_ids_and_files(tmp_path):
    run, previous, meta = hand_made_run()
    names = {"DK": "東京", "FI": "大阪", "NO": "a/b", "SE": "..", "KE": "se"}
    run.forecast["market"] = run.forecast["market"].map(names)
    run.actuals["market"] = run.actuals["market"].map(names)
    run.proxies = None
    run.adjustments = run.adjustments.assign(market="東京")
    previous = {k: v.assign(market=v["market"].map(names)) for k, v in previous.items()}
    out = tmp_path / "report"
    build_report(run, previous, out, meta=meta)
    html = (out / "index.html").read_text()
    ids = re.findall(r'<section class="market" id="([^"]+)"', html)
    assert ids == [anchor(m) for m in sorted(names.values())] and len(set(ids)) == 5
    assert all(f"href='#{i}'" in html for i in ids)
    pngs = sorted(p.name for p in (out / "png").iterdir())
    assert pngs == sorted([*(png_name(m) for m in names.values()), "overview.png"])
    assert len({p.lower() for p in pngs}) == 6 and not (tmp_path / "a").exists()


def test_report_files_and_pngs(report_dir):
    page = report_dir / "index.html"
    assert (
        500_000 < page.stat().st_size < 5_000_000
    )  # bokeh inline, all data: self-contained but not huge
    pngs = sorted(p.name for p in (report_dir / "png").iterdir())
    assert pngs == ["DE.png", "DK.png", "NO.png", "SE.png", "overview.png"]
    for name in pngs:
        image = Image.open(report_dir / "png" / name).convert("RGB")
        assert image.size == (1000, 400) and _colours(image) > 50, name
        assert _pixels_near(image, FORECAST) > 300, name  # the new forecast line is drawn


# --- headless Chromium, driven through the DevTools protocol ------------------------------


def _pixels_near(image: Image.Image, color: str, tol: int = 30) -> int:
    """How many pixels are within `tol` of a hex colour."""
    target = np.array([int(color[i : i + 2], 16) for i in (1, 3, 5)])
    return int((np.abs(np.asarray(image, dtype=int) - target) <= tol).all(axis=-1).sum())


def _colours(image: Image.Image) -> int:
    """How many distinct colours an image has (a blank one has a handful)."""
    rgb = np.asarray(image, dtype=np.int64).reshape(-1, 3)
    return len(np.unique(rgb[:, 0] * 65536 + rgb[:, 1] * 256 + rgb[:, 2]))


NOT_FOUND: list[str] = []  # paths the local server answered with 404, for the assertion messages


@contextmanager
def serve(folder: Path) -> Iterator[str]:
    """Serve a folder on 127.0.0.1 (random port); yields the base URL."""

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
            if str(code) == "404":
                NOT_FOUND.append(self.path)

    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, ws_url: str) -> None:
        import websocket  # websocket-client (a dependency of the kubernetes client)

        # generous: every wait below is for a state of the page, this only bounds a hang
        self.ws = websocket.create_connection(ws_url, timeout=WAIT_LIMIT, suppress_origin=True)
        self.events: list[dict[str, Any]] = []
        self.next_id = 0

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send a command and wait for its answer, keeping the events that arrive meanwhile."""
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_event(self, method: str) -> dict[str, Any]:
        """Block until the browser sends the event `method` (or find it among those kept)."""
        for i, event in enumerate(self.events):
            if event.get("method") == method:
                return self.events.pop(i)
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("method") == method:
                return msg
            self.events.append(msg)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page."""
        return self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )["result"].get("value")


@contextmanager
def chromium(profile: Path, width: int = 1280, height: int = 1000) -> Iterator[DevTools]:
    """Headless Chromium with remote debugging on a random port; yields a DevTools client for its page."""
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--remote-allow-origins=*",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + WAIT_LIMIT  # waits for a state (the port file), bounds a hang
        while not (port_file.exists() and port_file.read_text().strip()):
            assert time.monotonic() < deadline and proc.poll() is None, "Chromium did not start"
            time.sleep(0.05)
        port = port_file.read_text().split()[0]
        targets = json.load(
            urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10)
        )
        page = next(t for t in targets if t["type"] == "page")
        client = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Runtime", "Log", "Network", "Page"):
            client.call(f"{domain}.enable")
        yield client
        client.ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def open_report(client: DevTools, url: str) -> int:
    """Navigate to the report and wait for its own ready state; the number of bokeh roots rendered.

    The page resolves `window.fcastReady` (and sets `data-ready` on its body) once bokeh has
    rendered every root (fcast/output/report/page.py), so nothing here depends on how fast.
    """
    client.call("Page.navigate", url=url)
    client.wait_event("Page.loadEventFired")
    roots = client.evaluate("window.fcastReady")  # awaits the promise
    assert client.evaluate("document.body.dataset.ready") == "true"
    return roots


#: per bokeh root: its name, the plot div it sits in, whether its view and every renderer's
#: view finished rendering, its canvases and size, and each renderer's glyph, colour and data
RENDERED = """Bokeh.documents[0].roots().map(root => {
  const view = Bokeh.index[root.id];
  const box = view.el.getBoundingClientRect();
  return {
    name: root.name,
    div: view.el.parentElement.closest("div.plot").id,
    finished: view.has_finished() && root.renderers.every(r => view.renderer_views.get(r).has_finished()),
    canvases: view.canvas_view.el.shadowRoot.querySelectorAll("canvas").length,
    width: box.width,
    height: box.height,
    renderers: root.renderers.map(r => ({
      name: r.name,
      glyph: r.glyph.type,
      color: [r.glyph.fill_color ?? r.glyph.line_color].map(c => c?.value ?? c)[0],
      n: r.data_source.get_length(),
      value: r.name === "new forecast" ? Array.from(r.data_source.data.value) : null,
      start: r.glyph.type === "Quad" ? Array.from(r.data_source.data.start) : null,
      end: r.glyph.type === "Quad" ? Array.from(r.data_source.data.end) : null,
    })),
  };
})"""


def page_problems(client: DevTools, base: str) -> tuple[list[str], list[str]]:
    """Console errors and exceptions, and requests to anything but the local server or inline data."""
    client.evaluate("0")  # drain the events that arrived since the last command
    errors, remote = [], []
    for event in client.events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params["type"] in ("error", "assert"):
            errors.append(
                " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
            )
        elif method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            errors.append(
                f"{details.get('text', '')} {details.get('exception', {}).get('description', '')}".strip()
            )
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            errors.append(params["entry"]["text"])
        elif method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if not (url.startswith(base + "/") or url.startswith(("data:", "blob:", "about:"))):
                remote.append(url)
    return errors, remote


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian package `chromium`; .ci/run installs it)",
)
def test_report_renders_in_headless_chromium_offline(report_dir, hand_report_dir, tmp_path):
    """Both reports render every chart offline, without errors, with the forecast's own data."""
    pytest.importorskip(
        "websocket", reason="websocket-client (installed with the k8s extra) drives Chromium"
    )
    run, previous, _ = hand_made_with_cleaning()
    with chromium(tmp_path / "profile") as client:
        for folder, markets in ((report_dir, ["DE", "DK", "NO", "SE"]), (hand_report_dir, None)):
            client.events.clear()
            NOT_FOUND.clear()
            with serve(folder) as base:
                assert open_report(client, f"{base}/index.html") == 2 + len(
                    markets or market_order(run)
                )
                errors, remote = page_problems(client, base)
                # the browser's own favicon probe is not the report's doing
                if NOT_FOUND and all(p.startswith("/favicon.ico") for p in NOT_FOUND):
                    errors = [e for e in errors if "status of 404" not in e]
                assert errors == [] and remote == [], (folder, NOT_FOUND)
                roots = client.evaluate(RENDERED)
            if markets is not None:
                _check_sample_roots(roots, markets)
        _check_hand_roots(roots, run, previous)


def _check_rendered(roots: list[dict[str, Any]], names: list[str]) -> dict[str, dict[str, Any]]:
    """Every root in its own plot div, rendered onto a canvas at full width; by name."""
    assert [r["name"] for r in roots] == names
    for r in roots:
        assert r["div"] == f"plot-{r['name']}" and r["finished"], r["name"]
        assert r["canvases"] >= 1 and r["width"] > 800 and r["height"] > 150, r["name"]
    return {r["name"]: r for r in roots}


def _new_forecast(root: dict[str, Any]) -> list[float]:
    """The values of a figure's new-forecast line, as the page holds them."""
    (line,) = [x for x in root["renderers"] if x["name"] == "new forecast"]
    assert line["glyph"] == "Line" and line["n"] == len(line["value"])
    return line["value"]


def _check_sample_roots(roots: list[dict[str, Any]], markets: list[str]) -> None:
    """The sample run's report: overview, movers, one figure per market, 52 weeks each."""
    by_name = _check_rendered(roots, ["overview", "movers", *(anchor(m) for m in markets)])
    for name in ["overview", *(anchor(m) for m in markets)]:
        assert len(_new_forecast(by_name[name])) == 52, name  # the sample run's horizon
    assert by_name["movers"]["renderers"][0]["n"] == len(markets)


def _check_hand_roots(
    roots: list[dict[str, Any]], run: Any, previous: dict[str, pd.DataFrame]
) -> None:
    """The hand-made report: each line holds the run's forecast, DK its two shaded spans."""
    order = market_order(run)
    by_name = _check_rendered(roots, ["overview", "movers", *(anchor(m) for m in order)])
    fc = run.forecast.sort_values(["market", "date"])
    total = fc.groupby("date")["yhat"].sum().tolist()
    assert _new_forecast(by_name["overview"]) == pytest.approx(total)
    for market in order:
        expected = fc.loc[fc["market"] == market, "yhat"].tolist()
        assert _new_forecast(by_name[anchor(market)]) == pytest.approx(expected), market
    dk = market_view(run, previous, "DK")
    quads = {
        r["color"]: list(zip(r["start"], r["end"], strict=True))
        for r in by_name[anchor("DK")]["renderers"]
        if r["glyph"] == "Quad"
    }
    assert quads == {
        ADJUSTMENT: _spans_ms(dk.adjustments),
        CLEANED: _spans_ms(dk.cleaned),
    }
    assert len(quads[ADJUSTMENT]) == 1 and len(quads[CLEANED]) == 1  # the applied cleaning only


def _spans_ms(spans: pd.DataFrame) -> list[tuple[float, float]]:
    """start and end of each span in epoch milliseconds, as bokeh holds datetimes."""
    ms = [pd.to_datetime(spans[c]).astype("int64") // 1_000_000 for c in ("start", "end")]
    return [(float(a), float(b)) for a, b in zip(*ms, strict=True)]


def test_report_html_has_no_server_paths_even_with_panel_loaded(hand_report_dir):
    import fcast.app  # noqa: F401  (registers Panel's ESM models, as the adjustment app does)

    html = (hand_report_dir / "index.html").read_text()
    assert "static/extensions" not in html
