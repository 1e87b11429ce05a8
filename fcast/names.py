"""Names that become file names, path parts or HTML ids: one rule for ids, one encoding for markets.

**The name rule** (`check_name`, `name_problem`, `is_name`): run ids, vintage names, adjustment
ids and lock names are 1 to 100 ASCII letters, digits, '.', '_' or '-', starting with a letter
or digit, matched in full (`re.fullmatch`, so a trailing newline is refused), with no '/' or
'\\', no control characters, no '..' and no '.tmp' (the infix of files written aside, see
`fcast.atomic.is_aside`).

**Markets** are data, not chosen names, so they are encoded instead (`safe_name`): the
encoding is injective and stays injective under case folding, so two markets never share
a file, not even on a case-insensitive filesystem, nor an HTML id. A plain code (ASCII
upper-case letters, digits and ``-``, not starting with ``-``, as ``SE`` or ``US-CA``) is kept
as it is. Any other name starts with ``_`` (which a plain code never does) and spells each
character outside ``a-z 0-9 -`` as ``_<hex code point>_``: ``se`` -> ``_se``, ``a/b`` ->
``_a_2f_b``, ``東京`` -> ``__6771__4eac_``. The result never holds ``/``, ``.`` or a character
a filesystem or a URL fragment treats specially. An encoding longer than `MAX_LENGTH` keeps
its first characters and ends with ``~`` and 16 hex digits of its SHA-256.

**Free text** written by people or taken from data (adjustment and override reasons, notes,
authors, market names) goes into insights.md, the report and webhook payloads through
`quote_text`: one line (control characters, newlines and other line or paragraph separators
become spaces, runs of spaces collapse), at most `TEXT_LIMIT` characters (then ``…``), and
every Markdown or HTML special character backslash-escaped (CommonMark escapes any ASCII
punctuation; ``_`` only where it could start or end emphasis, not inside a word such as
``US_CA``), so a reason can neither start a heading nor a list, nor bold, link or tag
anything. `one_line` does the first two steps only, for plain-text labels (chart hovers).
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

from fcast.errors import ConfigError, StoreError

MAX_LENGTH = 120
_PLAIN = re.compile(r"[A-Z0-9][A-Z0-9-]*")
_KEPT = re.compile(r"[a-z0-9-]")
#: names Windows refuses as file names whatever the extension
_RESERVED = {"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(10))} | {
    f"LPT{i}" for i in range(10)
}


def _escaped(name: str) -> str:
    """Each character outside a-z, 0-9 and - as _<hex>_ ."""
    return "".join(c if _KEPT.fullmatch(c) else f"_{ord(c):x}_" for c in name)


def safe_name(market: str) -> str:
    """A file-name- and HTML-id-safe, collision-free spelling of a market name."""
    market = str(market)
    if _PLAIN.fullmatch(market) and market not in _RESERVED and len(market) <= MAX_LENGTH:
        return market
    out = "_" + _escaped(market)
    if len(out) <= MAX_LENGTH:
        return out
    digest = hashlib.sha256(market.encode("utf-8")).hexdigest()[:16]
    return f"{out[: MAX_LENGTH - 17]}~{digest}"


# --- the name rule -----------------------------------------------------------------------

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


# --- free text -------------------------------------------------------------------------

TEXT_LIMIT = 300
#: Markdown and HTML specials inside a line: escaped with a backslash (CommonMark escapes)
_SPECIAL = re.compile(r"([\\`*\[\]#|~<>&]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9]))")
#: what starts a list, a quote or a setext heading at the start of a line
_LEADING = re.compile(r"^(\d*)([-+=>.)])")
#: bidirectional overrides and isolates, which can make text read differently than it is
_BIDI = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def one_line(value: object, limit: int = TEXT_LIMIT) -> str:
    """Free text as one line of at most `limit` characters: no control characters, no newlines."""
    if value is None:
        return ""
    text = str(value).translate(_BIDI)
    text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def quote_text(value: object, limit: int = TEXT_LIMIT) -> str:
    """Free text made safe inside a Markdown line (and so in the HTML rendered from it)."""
    text = _SPECIAL.sub(r"\\\1", one_line(value, limit))
    return _LEADING.sub(r"\1\\\2", text)
