"""The one name rule for everything that becomes a path part in the store or a file name.

Run ids, vintage names, adjustment ids and lock names are 1 to 100 ASCII letters, digits,
'.', '_' or '-', starting with a letter or digit, matched in full (`re.fullmatch`, so a
trailing newline is refused), with no '/' or '\\', no control characters, no '..' and no
'.tmp' (the infix of files written aside, see `fcast.atomic.is_aside`).
"""

from __future__ import annotations

import re

from fcast.errors import ConfigError, StoreError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
RULE = "1-100 letters, digits, '.', '_' or '-', starting with a letter or digit"


class NameRuleError(StoreError, ConfigError):
    """A name that breaks the name rule (a StoreError and a ConfigError, so either handler catches it)."""


def name_problem(value: object) -> str | None:
    """Why `value` is not a valid name, or None when it is."""
    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    if not _NAME.fullmatch(value):
        return f"use {RULE}"
    if ".." in value or ".tmp" in value.lower():
        return "'..' and '.tmp' are not allowed in a name"
    return None


def check_name(kind: str, value: object) -> str:
    """`value` when it follows the name rule, else a NameRuleError naming the kind ('run id', ...)."""
    problem = name_problem(value)
    if problem:
        raise NameRuleError(f"invalid {kind} {value!r}: {problem}")
    return value  # type: ignore[return-value]


def is_name(value: object) -> bool:
    """Whether `value` follows the name rule."""
    return name_problem(value) is None
