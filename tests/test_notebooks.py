"""The research notebooks run top to bottom on the sample data; any cell error fails the suite."""

from __future__ import annotations

import json
import os
import sys
import time
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
EXPECTED = [
    "01_quickstart",
    "02_tune_a_market_subset",
    "03_new_market_proxies",
    "04_compare_vintages",
]
KERNEL = "fcast-tests"
CELL_TIMEOUT = 240
NEEDS = ("nbformat", "nbclient", "ipykernel", "hvplot")


@pytest.fixture(autouse=True)
def _tools() -> None:
    """Fail (not skip) without the notebook tools: `make test` installs them with the dev and viz extras."""
    missing = [m for m in NEEDS if find_spec(m) is None]
    if missing:
        pytest.fail(
            f"the notebook tests need {missing}: install the dev and viz extras (make setup)"
        )


@pytest.fixture(scope="module")
def kernel_manager_factory(tmp_path_factory: pytest.TempPathFactory):
    """Kernels of this interpreter, from a kernelspec in a temp dir (no user-level kernelspec needed)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    root = tmp_path_factory.mktemp("jupyter")
    spec_dir = root / "kernels" / KERNEL
    spec_dir.mkdir(parents=True)
    env = {
        "FCAST_SAMPLE_DIR": str(root / "sample"),  # written once, shared by the notebooks
        "MPLBACKEND": "Agg",
        "OMP_NUM_THREADS": "1",
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }
    spec = {
        "argv": [
            sys.executable,
            "-Xfrozen_modules=off",
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
        ],
        "display_name": "fcast tests",
        "language": "python",
        "env": env,
    }
    (spec_dir / "kernel.json").write_text(json.dumps(spec))
    ksm = KernelSpecManager(kernel_dirs=[str(root / "kernels")])

    def make() -> KernelManager:
        return KernelManager(kernel_name=KERNEL, kernel_spec_manager=ksm)

    return make


def test_the_four_notebooks_exist():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == EXPECTED


@pytest.mark.parametrize("name", EXPECTED)
def test_notebook_is_stored_without_outputs(name: str):
    import nbformat

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    assert all(c.outputs == [] and c.execution_count is None for c in code), (
        "clear the outputs before committing"
    )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")


def execute(nb: Any, km: Any, cwd: Path) -> None:
    """Run every cell in a fresh kernel from `cwd`; raise on the first cell error; shut the kernel down."""
    import nbclient

    client = nbclient.NotebookClient(
        nb,
        km=km,
        timeout=CELL_TIMEOUT,
        startup_timeout=120,
        allow_errors=False,
        resources={"metadata": {"path": str(cwd)}},
    )
    try:
        client.execute()
    finally:
        # a kernel manager we pass in is ours to shut down (and with it the notebook's cluster)
        if km.has_kernel:
            km.shutdown_kernel()


#: notebooks run by `make test`; 04 (vintages, ~20 s) runs in `make test-all` to keep make test under 15 minutes
RUN = [
    pytest.param(n, marks=pytest.mark.slow) if n == "04_compare_vintages" else n for n in EXPECTED
]


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", RUN)
def test_notebook_runs(name: str, kernel_manager_factory, tmp_path: Path):
    import nbformat

    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    t0 = time.perf_counter()
    try:
        execute(nb, kernel_manager_factory(), NOTEBOOKS)
    finally:
        nbformat.write(
            nb, tmp_path / f"{name}.ipynb"
        )  # the executed copy, for a look after a failure
    print(f"{name}: {time.perf_counter() - t0:.1f}s")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    if os.environ.get("FCAST_NOTEBOOK_OUT"):
        nbformat.write(nb, Path(os.environ["FCAST_NOTEBOOK_OUT"]) / f"{name}.ipynb")


@pytest.mark.timeout(120)
def test_a_failing_cell_fails_the_run(kernel_manager_factory, tmp_path: Path):
    import nbformat
    from nbclient.exceptions import CellExecutionError
    from nbformat.v4 import new_code_cell, new_notebook

    nb = new_notebook(
        cells=[new_code_cell("import fcast.notebook"), new_code_cell("1 / 0"), new_code_cell("2")]
    )
    with pytest.raises(CellExecutionError, match="ZeroDivisionError"):
        execute(nb, kernel_manager_factory(), tmp_path)
    assert nb.cells[2].execution_count is None  # nothing runs after the failing cell
    nbformat.validate(nb)


#: a notebook that plots a tiny forecast with fcast: two markets, six weeks each
PLOT_CELLS = [
    """import pandas as pd
import fcast.notebook as nb

dates = pd.date_range("2026-01-05", periods=6, freq="W-MON")
table = pd.DataFrame({
    "market": ["NO"] * 6 + ["SE"] * 6,
    "date": list(dates) * 2,
    "yhat": [100.0 + i for i in range(12)],
})
table["yhat_lo_80"], table["yhat_hi_80"] = table["yhat"] - 5, table["yhat"] + 5
forecast = nb.forecast_cube(table)""",
    "forecast.fcast.plot()",
]

#: resolves once the page has loaded and bokeh has rendered every plot root (the comm manager
#: never "finishes": it is not a plot); the number of bokeh documents
RENDERED_PLOTS = """new Promise(resolve => {
  const check = () => {
    const docs = window.Bokeh ? Bokeh.documents : [];
    const roots = docs.flatMap(d => d.roots()).filter(r => !r.type.startsWith("panel.models."));
    const done = roots.length > 0 && roots.every(r => Bokeh.index[r.id]?.has_finished());
    if (document.readyState === "complete" && done) resolve(docs.length);
    else setTimeout(check, 50);  // polls for a state; WAIT_LIMIT bounds a hang
  };
  check();
})"""

#: the forecast lines as the page holds them: each renderer whose data has a `yhat` column
FORECAST_LINES = """Bokeh.documents.flatMap(d => [...d._all_models.values()])
  .filter(m => m.type === "GlyphRenderer" && "yhat" in m.data_source.data)
  .map(r => ({glyph: r.glyph.type, n: r.data_source.get_length(),
              yhat: Array.from(r.data_source.data.yhat)}))"""


@pytest.mark.timeout(600)
def test_notebook_plot_renders_offline_in_headless_chromium(kernel_manager_factory, tmp_path):
    """A notebook's fcast plot, exported to HTML, renders with the network off: BokehJS is inline."""
    import nbformat
    from nbconvert import HTMLExporter
    from nbformat.v4 import new_code_cell, new_notebook

    from tests.output.test_report import CHROMIUM, chromium, page_problems

    if CHROMIUM is None:
        pytest.skip(
            "headless Chromium not installed (Debian package `chromium`; .ci/run installs it)"
        )
    pytest.importorskip("websocket", reason="websocket-client (the k8s extra) drives Chromium")
    nb = new_notebook(cells=[new_code_cell(c) for c in PLOT_CELLS])
    execute(nb, kernel_manager_factory(), tmp_path)
    # the page around the cells is nbconvert's: its require.js and MathJax links are not fcast's
    exporter = HTMLExporter(
        template_name="lab", require_js_url="data:,", mathjax_url="data:text/javascript,"
    )
    page = tmp_path / "plot.html"
    page.write_text(exporter.from_notebook_node(nb)[0], encoding="utf-8")
    nbformat.write(nb, tmp_path / "plot.ipynb")  # for a look after a failure
    with chromium(tmp_path / "profile") as client:
        client.call(
            "Network.emulateNetworkConditions",
            offline=True,
            latency=0,
            downloadThroughput=-1,
            uploadThroughput=-1,
        )
        client.call("Page.navigate", url=page.as_uri())
        client.wait_event("Page.loadEventFired")
        assert client.evaluate(RENDERED_PLOTS) >= 1
        lines = client.evaluate(FORECAST_LINES)
        errors, remote = page_problems(client, "file://")
    assert errors == [] and remote == []
    assert [line["glyph"] for line in lines] == ["Line", "Line"]  # one forecast line per market
    assert [line["yhat"] for line in lines] == [
        [100.0 + i for i in range(6)],
        [106.0 + i for i in range(6)],
    ]
    assert [line["n"] for line in lines] == [6, 6]  # the forecast's points, nothing dropped
