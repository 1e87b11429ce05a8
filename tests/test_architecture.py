"""The tree keeps the shape docs/architecture.md describes."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fcast"
MAX_LINES = 520  #: a module longer than this says why in its docstring ("Longer than ... because")


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.fail("import-linter is not installed (it is in the dev extra)")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:]


def test_import_fcast_loads_no_heavy_library() -> None:
    code = (
        "import sys, fcast\n"
        "heavy = [m for m in ('pandas', 'xarray', 'dask', 'distributed', 'sklearn', 'scipy',"
        " 'statsforecast') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_reading_a_config_loads_no_model_library() -> None:
    """`fcast validate`, `runs`, `selections` read a config: that must not import the fitting stack."""
    code = (
        "import sys, fcast.config\n"
        "heavy = [m for m in ('sklearn', 'statsforecast', 'distributed', 'numba') if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_top_level_names_do_not_shadow_modules() -> None:
    import importlib

    import fcast

    for name in fcast.__all__:
        if name == "__version__":
            continue
        obj = getattr(fcast, name)
        assert callable(obj), name
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"fcast.{name}")


def _long_modules() -> list[str]:
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        lines = path.read_text().count("\n")
        if lines <= MAX_LINES:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if "Longer than" not in doc:
            out.append(f"{path.relative_to(ROOT)}: {lines} lines")
    return out


def test_no_module_is_long_without_a_reason() -> None:
    assert _long_modules() == []
