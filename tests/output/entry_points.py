"""A temporary installed distribution: entry points that importlib.metadata finds on sys.path."""

from __future__ import annotations

import importlib
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def declared(group: str) -> dict[str, str]:
    """The entry points fcast's own pyproject.toml declares in `group` (name -> object reference)."""
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    return dict(project.get("entry-points", {}).get(group, {}))


@contextmanager
def installed(folder: Path, entry_points: dict[str, dict[str, str]]) -> Iterator[Path]:
    """A dist-info under `folder`, on sys.path while the block runs, declaring `entry_points` by group."""
    info = folder / "fcast_test_plugin-0.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fcast-test-plugin\nVersion: 0.0\n")
    text = "".join(
        f"[{group}]\n" + "".join(f"{name} = {ref}\n" for name, ref in refs.items())
        for group, refs in entry_points.items()
    )
    (info / "entry_points.txt").write_text(text)
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()
    try:
        yield info
    finally:
        sys.path.remove(str(folder))
        importlib.invalidate_caches()
