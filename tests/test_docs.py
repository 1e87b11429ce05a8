"""The documentation: the site `make docs` builds (mkdocs --strict, the API reference), and
the commands the pages tell you to run."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: modules the API reference leaves out: the command line and the web app are documented in
#: the README (their functions are commands, not a Python API)
NOT_IN_API = {"fcast.cli", "fcast.app"}


def modules() -> set[str]:
    """Every public module of the package, as a dotted name."""
    names = set()
    for path in (REPO / "fcast").rglob("*.py"):
        parts = path.relative_to(REPO).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if not any(p.startswith("_") for p in parts):
            names.add(".".join(parts))
    return names


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("mkdocstrings", reason="the docs extra is not installed")
    pytest.importorskip("mkdocstrings_handlers.python", reason="the docs extra is not installed")
    out = tmp_path_factory.mktemp("site")
    res = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(REPO / "mkdocs.yml")]
        + ["-d", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert "WARNING" not in res.stderr, res.stderr
    return out


def test_the_site_builds_strict_with_every_page(site: Path) -> None:
    pages = {p.stem for p in (REPO / "docs").glob("*.md")} - {"index"}
    for page in pages:
        assert (site / page / "index.html").exists(), page
    # a link from docs/ to a file elsewhere in the repository names that file (docs/hooks.py)
    clusters = (site / "running-on-clusters" / "index.html").read_text()
    assert "clusters/README.md" in clusters and 'href="../clusters/README.md"' not in clusters


def test_the_api_reference_covers_every_module(site: Path) -> None:
    html = (site / "api" / "index.html").read_text()
    ids = set(re.findall(r'id="(fcast[\w.]*)"', html))
    assert "fcast.core.label.label" in ids  # a stage, with its signature and docstring
    assert "Split x time roles" in html
    missing = sorted(modules() - NOT_IN_API - ids)
    assert not missing, f"add these modules to docs/api.md (or to NOT_IN_API): {missing}"


def test_the_notebook_clear_command_in_the_docs_runs(tmp_path: Path) -> None:
    """docs/notebooks.md: `.venv/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb`."""
    text = (REPO / "docs" / "notebooks.md").read_text()
    command = ".venv/bin/jupyter nbconvert --clear-output --inplace notebooks/*.ipynb"
    assert command in text
    jupyter = Path(sys.executable).with_name("jupyter")
    assert jupyter.exists(), "jupyter (nbconvert, dev extra) is not installed next to python"
    (tmp_path / "notebooks").mkdir()
    for nb in (REPO / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, tmp_path / "notebooks")
    args = command.split()[1:-1] + sorted(str(p) for p in (tmp_path / "notebooks").glob("*.ipynb"))
    res = subprocess.run([str(jupyter), *args], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    for nb in (REPO / "notebooks").glob("*.ipynb"):  # stored without outputs: nothing to clear
        assert (tmp_path / "notebooks" / nb.name).read_bytes() == nb.read_bytes(), nb.name
