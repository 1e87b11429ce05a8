"""The suite's own rules: strict skips in CI."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.mark.parametrize(("env", "outcome"), [("1", "failed"), ("0", "skipped")])
def test_a_skip_fails_in_strict_mode(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, env: str, outcome: str
) -> None:
    monkeypatch.setenv("FCAST_STRICT_SKIPS", env)
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        "import pytest\n\ndef test_needs_a_browser():\n    pytest.skip('chromium is not installed')\n"
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**{outcome: 1})
    if outcome == "failed":
        result.stdout.fnmatch_lines(["*skipped in strict mode (CI): *chromium is not installed*"])


def test_the_longest_files_run_first_and_exist() -> None:
    """`LONGEST_FIRST` names real files; a listed file's tests come first, in their own order."""
    from tests.conftest import LONGEST_FIRST, longest_first

    root = Path(__file__).resolve().parents[1]
    assert [p for p in LONGEST_FIRST if not (root / p).is_file()] == []

    class Item:  # what longest_first reads of a pytest item
        def __init__(self, nodeid: str) -> None:
            self.nodeid = nodeid

    ids = ["tests/a.py::x", "tests/jobs/test_faults.py::b", "tests/test_cli.py::y"]
    ids += ["tests/jobs/test_faults.py::a", "tests/a.py::w"]
    got = [i.nodeid for i in longest_first([Item(n) for n in ids])]  # type: ignore[misc]
    assert got == [
        "tests/test_cli.py::y",
        "tests/jobs/test_faults.py::b",
        "tests/jobs/test_faults.py::a",
        "tests/a.py::x",
        "tests/a.py::w",
    ]
