"""Tests for fcast.output.plots: before/after cleaning charts written as offline HTML (and PNG)."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from fcast.data import to_cube
from fcast.data.clean import clean, parse_events
from fcast.data.sample import make_sample
from fcast.output.plots import STATIC, chart_name, cleaning_chart, save_cleaning_charts

pytest.importorskip("hvplot")


@pytest.fixture(scope="module")
def cleaned():
    """Three sample markets; the known events of two of them removed."""
    sample = make_sample()
    cube = to_cube(sample.actuals[sample.actuals["market"].isin(["DK", "PE", "SE"])], "W-MON")
    events = parse_events(
        {
            "events": [
                {
                    "market": "PE",
                    "start": "2023-01-23",
                    "end": "2023-01-23",
                    "kind": "pipeline_spike",
                },
                {"market": "DK", "start": "2024-10-28", "end": "2024-11-11", "kind": "campaign"},
                {"market": "DK", "start": "2022-03-07", "end": "2022-03-07", "kind": "outage"},
            ]
        }
    )
    return clean(cube, events, auto=False, season_length=52)


def test_one_offline_page_per_market_with_a_removal(tmp_path, cleaned):
    cube, record = cleaned
    paths = save_cleaning_charts(cube, record, str(tmp_path / "charts"), png=True)
    names = sorted(p.split("/")[-1] for p in paths)
    assert names == ["cleaning-DK.html", "cleaning-DK.png", "cleaning-PE.html", "cleaning-PE.png"]
    html = (tmp_path / "charts" / "cleaning-DK.html").read_text()
    assert "DK: 2 one-time disruptions removed" in html
    assert not re.search(r"(src|href)=\"(https?:)?//", html)  # nothing from the network
    assert (tmp_path / "charts" / "cleaning-PE.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_charts_to_any_fsspec_url(cleaned):
    import fsspec

    cube, record = cleaned
    paths = save_cleaning_charts(cube, record, "memory://run-1/charts")
    assert paths == [
        "memory://run-1/charts/cleaning-DK.html",
        "memory://run-1/charts/cleaning-PE.html",
    ]
    with fsspec.open(paths[1], "rt") as fh:
        assert "PE: 1 one-time disruption removed" in fh.read()


def test_chart_shades_each_applied_window(cleaned):
    import holoviews as hv

    cube, record = cleaned
    chart = cleaning_chart(cube, record, "DK")
    spans = [el for el in chart if isinstance(el, hv.VSpan)]
    assert [pd.Timestamp(s.data[0]) for s in spans] == [
        pd.Timestamp("2022-03-07"),
        pd.Timestamp("2024-10-28"),
    ]
    assert pd.Timestamp(spans[1].data[1]) == pd.Timestamp(
        "2024-11-18"
    )  # end of the last week of the window


def test_no_removal_no_chart(tmp_path, cleaned):
    cube, record = cleaned
    assert save_cleaning_charts(cube, record[record["market"] == "SE"], str(tmp_path)) == []
    assert list(tmp_path.iterdir()) == []


def test_awkward_market_names_get_distinct_chart_files(tmp_path, cleaned):
    cube, record = cleaned
    names = {"DK": "東京", "PE": "a/b", "SE": "大阪"}
    cube = cube.assign_coords(market=[names[m] for m in cube["market"].values.astype(str)])
    record = record.assign(market=record["market"].map(names))
    paths = save_cleaning_charts(cube, record, str(tmp_path / "charts"))
    assert sorted(p.split("/")[-1] for p in paths) == sorted(
        [chart_name("東京"), chart_name("a/b")]
    )
    assert sorted(p.name for p in (tmp_path / "charts").iterdir() if p.name != STATIC) == sorted(
        p.split("/")[-1] for p in paths
    )  # a/b wrote no sub-folder (static/ holds the shared scripts)
    assert chart_name("東京") != chart_name("大阪") and chart_name("se") != chart_name("SE")


def _linked(html: str) -> list[str]:
    """The files a page links (script src, link href, stylesheet urls of its models), as written."""
    tags = re.findall(r"<(?:script|link)[^>]*(?:src|href)=\"([^\"]+)\"", html)
    return tags + re.findall(r"\"url\":\"([^\"]+\.css)", html)


def test_charts_of_a_run_share_one_copy_of_bokehjs(tmp_path, cleaned):
    """Each page links the same static/ scripts by relative URL; BokehJS is on disk once."""
    cube, record = cleaned
    folder = tmp_path / "charts"
    paths = save_cleaning_charts(cube, record, str(folder))
    links = [_linked((folder / p.split("/")[-1]).read_text()) for p in paths]
    assert len(paths) == 2 and links[0] == links[1]
    assert links[0] and all(link.startswith(f"{STATIC}/") for link in links[0])
    on_disk = [p for p in (folder / STATIC).rglob("*") if p.is_file()]
    assert sorted(p.relative_to(folder).as_posix() for p in on_disk) == sorted(set(links[0]))
    # every linked file exists, nothing else is there, and no page names a CDN
    assert not any("cdn." in (folder / p.split("/")[-1]).read_text() for p in paths)
    shared = sum(p.stat().st_size for p in on_disk)
    pages = [(folder / p.split("/")[-1]).stat().st_size for p in paths]
    assert any(link.startswith(f"{STATIC}/bokeh-") for link in links[0])
    assert max(pages) < 0.05 * shared  # N small pages next to one copy of the libraries
    inline = tmp_path / "inline.html"
    import hvplot
    from bokeh.resources import INLINE

    hvplot.save(cleaning_chart(cube, record, "DK"), str(inline), resources=INLINE)
    assert shared <= inline.stat().st_size  # the shared copy is no bigger than one inline page


def test_shared_static_scripts_are_uploaded_to_a_remote_folder(cleaned):
    import fsspec

    cube, record = cleaned
    save_cleaning_charts(cube, record, "memory://run-2/charts")
    fs = fsspec.filesystem("memory")
    with fsspec.open("memory://run-2/charts/cleaning-DK.html", "rt") as fh:
        links = _linked(fh.read())
    assert links and all(fs.exists(f"/run-2/charts/{link}") for link in links)


#: resolves once bokeh has rendered every root of the page: each figure's title, canvases, glyphs
FIGURES = """new Promise(resolve => {
  const figures = view => [
    ...(["Figure", "Plot"].includes(view.model.type) ? [view] : []),
    ...(view.child_views ?? []).flatMap(figures),
  ];
  const check = () => {
    const doc = window.Bokeh && Bokeh.documents[0];
    const views = doc ? doc.roots().map(r => Bokeh.index[r.id]) : [];
    if (!views.length || !views.every(v => v && v.has_finished())) return setTimeout(check, 50);
    resolve(views.flatMap(figures).map(f => ({
      title: f.model.title.text,
      canvases: f.canvas_view.el.shadowRoot.querySelectorAll("canvas").length,
      glyphs: f.model.renderers.map(r => r.glyph?.type ?? r.type),
    })));
  };
  check();
})"""


def test_charts_render_offline_in_headless_chromium(tmp_path, cleaned):
    """Two pages linking the shared static/ files render their figure with no remote request."""
    from tests.output.test_report import CHROMIUM, NOT_FOUND, chromium, page_problems, serve

    if CHROMIUM is None:
        pytest.skip("headless Chromium not installed (Debian package `chromium`)")
    pytest.importorskip("websocket", reason="websocket-client drives Chromium")
    cube, record = cleaned
    save_cleaning_charts(cube, record, str(tmp_path / "charts"))
    NOT_FOUND.clear()
    with chromium(tmp_path / "profile") as client, serve(tmp_path / "charts") as base:
        for market, n in (("DK", 2), ("PE", 1)):
            client.events.clear()
            client.call("Page.navigate", url=f"{base}/{chart_name(market)}")
            client.wait_event("Page.loadEventFired")
            assert client.evaluate("typeof window.Bokeh") == "object"  # static/ scripts loaded
            (figure,) = client.evaluate(FIGURES)
            assert figure["title"].startswith(f"{market}: {n} one-time") and figure["canvases"]
            assert figure["glyphs"] == ["Line", "Line"] + ["BoxAnnotation"] * n  # shaded windows
            errors, remote = page_problems(client, base)
            assert remote == [] and all("404" in e for e in errors), errors
    assert all(p.startswith("/favicon.ico") for p in NOT_FOUND)  # the browser's own probe
