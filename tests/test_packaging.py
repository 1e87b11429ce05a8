"""Packaging: declared dependencies, one version, what the wheel ships, the pinned version files."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions, version
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
#: the extras the image installs (clusters/kubernetes/Dockerfile)
IMAGE_EXTRAS = ("viz", "sql", "k8s", "cloud")


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def req_name(req: str) -> str:
    return norm(re.match(r"[A-Za-z0-9_.\-]+", req).group(0))


def third_party_imports() -> dict[str, set[str]]:
    """Top-level names the package imports that are neither stdlib nor fcast -> files."""
    found: dict[str, set[str]] = {}
    for path in (REPO / "fcast").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top != "fcast":
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_import_is_a_declared_dependency():
    runtime = {req_name(r) for r in PROJECT["dependencies"]}
    extras = {
        req_name(r)
        for name, reqs in PROJECT["optional-dependencies"].items()
        if name not in ("dev", "docs", "bench")
        for r in reqs
    }
    dists = packages_distributions()
    undeclared = {}
    for module, files in third_party_imports().items():
        names = {norm(d) for d in dists.get(module, [module])}
        if not names & (runtime | extras):
            undeclared[module] = sorted(files)
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"


def test_test_only_tools_stay_out_of_the_runtime_extras():
    runtime_extras = {
        req_name(r)
        for name, reqs in PROJECT["optional-dependencies"].items()
        if name not in ("dev", "docs", "bench")
        for r in reqs
    }
    dev = {req_name(r) for r in PROJECT["optional-dependencies"]["dev"]}
    for tool in ("kubernetes-validate", "pytest", "selenium", "nbconvert"):
        assert tool in dev and tool not in runtime_extras, tool


def test_the_version_is_written_only_in_pyproject():
    import fcast

    assert fcast.__version__ == version("fcast") == PROJECT["version"]
    literal = re.compile(r"""__version__\s*=\s*["']\d+\.\d+""")  # not "0+unknown"
    assert not [p for p in (REPO / "fcast").rglob("*.py") if literal.search(p.read_text())]
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert "## [Unreleased]" in changelog
    assert re.search(
        rf"^## \[{re.escape(PROJECT['version'])}\] - \d{{4}}-\d\d-\d\d$", changelog, re.M
    )


def test_the_wheel_ships_types_license_and_metadata(tmp_path):
    pytest.importorskip("hatchling", reason="hatchling (dev extra) builds the wheel")
    res = subprocess.run(
        [sys.executable, "-m", "hatchling", "build", "-t", "wheel", "-d", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr
    (wheel,) = tmp_path.glob("fcast-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        info = f"fcast-{PROJECT['version']}.dist-info"
        metadata = zf.read(f"{info}/METADATA").decode()
        license_text = zf.read(f"{info}/licenses/LICENSE").decode()
    assert "fcast/py.typed" in names
    # the built-in parameter spaces are package data (a config without `space:` needs them)
    assert {f"fcast/spaces/{n}.yaml" for n in ("daily", "weekly", "monthly", "quarterly")} <= names
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert "License-Expression: Apache-2.0" in metadata
    assert "Classifier: Typing :: Typed" in metadata
    assert re.search(r"^Requires-Dist: statsforecast<3,>=2\.0$", metadata, re.M)
    assert not any(n.startswith(("tests/", "docs/", "clusters/")) for n in names)


def test_min_versions_file_matches_the_lower_bounds():
    sys.path.insert(0, str(REPO / "ci"))
    try:
        import min_versions
    finally:
        sys.path.pop(0)
    assert (REPO / "ci" / "min-versions.txt").read_text() == min_versions.main([]), (
        "ci/min-versions.txt is stale: make ci/min-versions.txt"
    )
    pins = dict(
        line.split("==")
        for line in (REPO / "ci" / "min-versions.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert pins["pandas"] == "2.2" and pins["xarray"] == "2024.10"  # QE alias; zarr_format=


def test_the_image_constraints_pin_everything_it_installs():
    from packaging.requirements import Requirement

    lines = (REPO / "clusters" / "constraints.txt").read_text().splitlines()
    assert lines[0].startswith("#") and any("make constraints" in line for line in lines[:5])
    pins = {}
    for line in lines:
        if line and not line.startswith("#"):
            assert re.fullmatch(r"[A-Za-z0-9_.\-]+==[^\s;@]+", line), line  # no editable, no URL
            name, ver = line.split("==")
            pins[norm(name)] = ver
    assert "fcast" not in pins
    wanted = PROJECT["dependencies"] + [
        r for extra in IMAGE_EXTRAS for r in PROJECT["optional-dependencies"][extra]
    ]
    for raw in wanted:
        req = Requirement(raw)
        name = norm(req.name)
        assert name in pins, f"{name} is not pinned: make constraints"
        assert req.specifier.contains(pins[name], prereleases=True), (
            f"{name}=={pins[name]} violates {req}: make constraints"
        )


def test_project_urls_point_somewhere_true_or_are_left_out():
    """No public home exists (docs/development.md says so); a URL must never be a placeholder."""
    urls = PROJECT.get("urls", {})
    placeholder = re.compile(r"example\.|localhost|127\.0\.0\.1|TODO|your-org|\.invalid", re.I)
    assert not [u for u in urls.values() if placeholder.search(u) or not u.startswith("https://")]
    if not urls:
        docs = (REPO / "docs" / "development.md").read_text()
        assert "no `[project.urls]`" in docs
