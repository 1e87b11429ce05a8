"""safe_name: one collision-free spelling of market names for file names and HTML ids."""

from __future__ import annotations

import re

from fcast.names import MAX_LENGTH, safe_name

AWKWARD = ["東京", "大阪", "a/b", "a_2f_b", "..", ".", "", "SE", "se", "Se", "sE", "CON", "x" * 300]
SAFE = re.compile(r"[A-Za-z0-9_~-]+")


def test_plain_codes_are_kept():
    assert [safe_name(m) for m in ("SE", "DK", "US-CA", "TOTAL", "2026")] == [
        "SE",
        "DK",
        "US-CA",
        "TOTAL",
        "2026",
    ]


def test_awkward_names_are_distinct_even_when_case_is_folded():
    names = [safe_name(m) for m in AWKWARD]
    assert len({n.casefold() for n in names}) == len(AWKWARD)
    assert safe_name("東京") != safe_name("大阪")
    assert safe_name("se") != safe_name("SE") and safe_name("Se").lower() != safe_name("sE").lower()


def test_safe_names_hold_no_path_separator_dot_or_special_character():
    for market in AWKWARD:
        name = safe_name(market)
        assert SAFE.fullmatch(name), (market, name)
        assert "/" not in name and "." not in name and len(name) <= MAX_LENGTH
    assert safe_name("a/b") == "_a_2f_b" and safe_name("..") == "__2e__2e_"
    assert safe_name("CON") != "CON"  # a name Windows refuses as a file


def test_long_names_stay_distinct():
    a, b = "market " * 40 + "one", "market " * 40 + "two"
    assert safe_name(a) != safe_name(b) and max(len(safe_name(a)), len(safe_name(b))) <= MAX_LENGTH
