"""The report at many markets: a bounded overview page, a paged searchable index, charts loaded on demand.

The large run is fabricated (no fits): a contract-shaped forecast table for `MANY` markets,
actuals and one previous vintage, and its comparison table built with numpy.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from fcast.names import safe_name
from fcast.output.publish import TOTAL, RunArtifacts
from fcast.output.report import EMBED_LIMIT, PAGE_SIZE, build_report, market_view
from fcast.output.report.paged import chart_payload, index_rows
from fcast.output.report.views import market_order, market_views
from tests.output.test_publish import hand_made_run
from tests.output.test_report import (
    CHROMIUM,
    chromium,
    hand_made_with_cleaning,
    open_report,
    page_problems,
    serve,
)

MANY = 10_000
#: the size the default suite builds (paged too: above EMBED_LIMIT); MANY runs in `make test-all`
SOME = 1_000
#: docs/scaling.md: index.html of the paged report at 10,000 markets stays under this
PAGE_BOUND = 4_000_000
#: and each market's chart file under this (3 years of weekly actuals, half a year ahead)
CHART_BOUND = 12_000
CHECKPOINT = pd.Timestamp("2027-03-31")


def many_markets(n: int = MANY, seed: int = 0) -> tuple[RunArtifacts, dict, pd.DataFrame]:
    """A run of `n` markets at random levels, a vintage 5% above, and their comparison table."""
    rng = np.random.default_rng(seed)
    markets = [f"M{i:05d}" for i in range(n)]
    dates = pd.date_range("2026-11-23", periods=26, freq="W-MON")
    past = pd.date_range("2024-01-01", "2026-11-16", freq="W-MON")
    level = rng.lognormal(10, 1, n)
    v = np.repeat(level, len(dates))
    fc = pd.DataFrame({"market": np.repeat(markets, len(dates)), "date": np.tile(dates, n)})
    fc = fc.assign(yhat=v, yhat_lo_80=0.9 * v, yhat_hi_80=1.1 * v, yhat_lo_95=0.8 * v)
    fc = fc.assign(yhat_hi_95=1.2 * v, family="ets", segment="mature")
    fc.loc[fc["market"].isin(markets[::10]), "segment"] = "new"
    actuals = pd.DataFrame(
        {
            "market": np.repeat(markets, len(past)),
            "date": np.tile(past, n),
            "y": np.repeat(level, len(past)),
        }
    )
    prev = fc[["market", "date", "yhat"]].assign(yhat=lambda d: 1.05 * d["yhat"])
    ahead = np.r_[level, level.sum()]
    comparison = pd.DataFrame(
        {
            "market": [*markets, TOTAL],
            "checkpoint": CHECKPOINT,
            "label": "end of Q1 2027",
            "year_end": False,
            "date": pd.Timestamp("2027-03-29"),
            "yhat": ahead,
            "yoy_pct": 0.0,
            "vintage": "v1",
            "prev_yhat": 1.05 * ahead,
            "prev_yoy_pct": 0.0,
            "diff": -0.05 * ahead,
            "diff_pct": 100 * (1 / 1.05 - 1),
        }
    )
    qc = pd.DataFrame(
        {
            "market": markets[:7],
            "check": "interval_width",
            "severity": "warning",
            "detail": "80% interval wider than 50% of the level",
        }
    )
    manifest = {"data_end": "2026-11-16", "config": {"data": {"value": "users"}}}
    return RunArtifacts("weekly-many", manifest, fc, actuals, qc=qc), {"v1": prev}, comparison


@pytest.fixture(scope="module", params=[SOME, pytest.param(MANY, marks=pytest.mark.slow)])
def many_report(request, tmp_path_factory) -> tuple[Path, int]:
    """The paged report of SOME (default suite) or MANY (`slow`) fabricated markets (no PNGs), and n."""
    n = request.param
    run, previous, comparison = many_markets(n)
    out = tmp_path_factory.mktemp(f"many-report-{n}")
    build_report(run, previous, out, comparison=comparison, insights_text="# x\n\nmany", pngs=False)
    return out, n


def test_market_views_are_market_view_of_every_market():
    run, previous, _ = hand_made_with_cleaning()
    views = list(market_views(run, previous))
    assert [v.market for v in views] == market_order(run)
    for view in views:
        one = market_view(run, previous, view.market)
        for table in ("actuals", "forecast", "adjustments", "cleaned"):
            pd.testing.assert_frame_equal(
                getattr(view, table), getattr(one, table), check_dtype=False
            )
        assert view.previous.keys() == one.previous.keys(), view.market
        for k in view.previous:
            pd.testing.assert_frame_equal(view.previous[k], one.previous[k], check_dtype=False)
        assert (view.proxies, view.segment, view.family) == (one.proxies, one.segment, one.family)


def test_chart_payload_holds_the_figure_data():
    run, previous, _ = hand_made_with_cleaning()
    dk = market_view(run, previous, "DK")
    payload = chart_payload(dk, ["v1", "v0"], [95, 80])
    src = payload["sources"]
    assert src["new forecast"]["value"] == pytest.approx(dk.forecast["yhat"].tolist())
    assert len(src["actuals"]["date"]) == len(dk.actuals) and len(src["official v0"]["date"]) > 0
    assert len(src["adjustment"]["start"]) == 1 and len(src["cleaned disruption"]["start"]) == 1
    assert len(src["before adjustments"]["value"]) == len(dk.forecast)  # DK was adjusted
    assert payload["caption"].startswith("model: ets")


def test_small_runs_keep_the_embedded_report(tmp_path):
    run, previous, meta = hand_made_run()
    assert run.forecast["market"].nunique() <= EMBED_LIMIT
    build_report(run, previous, tmp_path, meta=meta, pngs=False)
    assert not (tmp_path / "charts").exists()
    assert 'id="market-index"' not in (tmp_path / "index.html").read_text()


def _index(page: str) -> dict:
    """The market index JSON the page holds."""
    (text,) = re.findall(r'<script type="application/json" id="market-data">(.*?)</script>', page)
    return json.loads(text)


def test_many_markets_page_is_bounded_and_lists_every_market(many_report):
    many_report, n = many_report
    page = many_report / "index.html"
    assert page.stat().st_size < PAGE_BOUND
    html = page.read_text()
    data = _index(html)
    assert data["page_size"] == PAGE_SIZE and len(data["rows"]) == n
    assert html.count('class="market group"') == 0 and html.count('<section class="market"') == 0
    col = {c: i for i, c in enumerate(data["columns"])}
    levels = [r[col["level"]] for r in data["rows"]]
    assert levels == sorted(levels, reverse=True)  # largest first
    assert sum(r[col["qc"]] for r in data["rows"]) == 7
    charts = sorted(p.name for p in (many_report / "charts").iterdir())
    assert len(charts) == n and charts[0] == "M00000.js"
    assert max(p.stat().st_size for p in (many_report / "charts").iterdir()) < CHART_BOUND
    assert re.findall(r"<(?:script|link|img)[^>]+(?:src|href)=[\"']https?://", html) == []


def test_index_rows_follow_the_comparison():
    run, previous, comparison = many_markets(n=30, seed=1)
    columns, rows = index_rows(run, comparison, list(previous))
    assert columns[:7] == ["market", "file", "segment", "family", "level", "yoy", "qc"]
    assert columns[7:] == ["change v1"]
    first = comparison.set_index("market")
    for r in rows:
        assert r[1] == safe_name(r[0])
        assert r[4] == pytest.approx(first.loc[r[0], "yhat"], rel=1e-3)
        assert r[7] == pytest.approx(100 * (1 / 1.05 - 1), rel=1e-3)


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium not installed (Debian package `chromium`; .ci/run installs it)",
)
def test_many_markets_report_pages_filters_and_loads_charts_offline(many_report, tmp_path):
    """The page is ready with one page of rows; search and filters narrow it; a click draws a market."""
    many_report, n = many_report
    pytest.importorskip(
        "websocket", reason="websocket-client (installed with the k8s extra) drives Chromium"
    )
    run, previous, _ = many_markets(n)
    with chromium(tmp_path / "profile") as client, serve(many_report) as base:
        roots = open_report(client, f"{base}/index.html")
        assert roots == 3  # overview, movers, the on-demand market figure
        rows = "document.querySelectorAll('#market-index tbody tr').length"
        assert client.evaluate(rows) == PAGE_SIZE
        assert client.evaluate("fcastFilter('M0012', '', false)") == 10
        assert client.evaluate(rows) == 10
        assert client.evaluate("fcastFilter('', 'new', false)") == n // 10
        assert client.evaluate("fcastFilter('', '', true)") == 7
        assert client.evaluate("fcastFilter('', '', false)") == n
        assert client.evaluate(f"fcastPage({n // PAGE_SIZE - 1})") == PAGE_SIZE  # the last page
        first = client.evaluate("document.querySelector('#market-index tbody a').textContent")
        client.evaluate("document.querySelector('#market-index tbody a').click()")
        assert client.evaluate(f"fcastShow({json.dumps(first)})") == first  # awaits the chart
        assert client.evaluate("document.body.dataset.chart") == first
        drawn = client.evaluate(
            "Array.from(Bokeh.documents[0].get_model_by_name('market:new forecast').data_source.data.value)"
        )
        expected = run.forecast.loc[run.forecast["market"] == first, "yhat"].tolist()
        assert drawn == pytest.approx(expected, rel=1e-5)
        title = client.evaluate("document.getElementById('chart-title').textContent")
        assert title == first + (" (new market)" if int(first[1:]) % 10 == 0 else "")
        errors, remote = page_problems(client, base)
        errors = [e for e in errors if "favicon" not in e and "status of 404" not in e]
        assert errors == [] and remote == []
        # from a file, opened on a market's anchor: the page draws that market by itself
        open_report(client, (many_report / "index.html").as_uri() + "#m-M00042")
        assert client.evaluate(DRAWN) == "M00042"
        drawn = client.evaluate(
            "Bokeh.documents[0].get_model_by_name('market:new forecast').data_source.data.value.length"
        )
        assert drawn == 26


#: a promise of the market the on-demand figure shows, once it shows one (a state, not a delay)
DRAWN = """new Promise(function (resolve) {
  (function check() {
    if (document.body.dataset.chart) { resolve(document.body.dataset.chart); }
    else { window.setTimeout(check, 50); }
  })();
})"""
