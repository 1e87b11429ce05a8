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
