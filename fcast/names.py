"""One safe encoding of a market name for file names and HTML ids (chart files, report anchors).

`safe_name` is injective and stays injective under case folding, so two markets never share
a file, not even on a case-insensitive filesystem, nor an HTML id. A plain code (ASCII
upper-case letters, digits and ``-``, not starting with ``-``, as ``SE`` or ``US-CA``) is kept as it is. Any
other name starts with ``_`` (which a plain code never does) and spells each character
outside ``a-z 0-9 -`` as ``_<hex code point>_``: ``se`` -> ``_se``, ``a/b`` -> ``_a_2f_b``,
``東京`` -> ``__6771__4eac_``. The result never holds ``/``, ``.`` or a character a
filesystem or a URL fragment treats specially. An encoding longer than `MAX_LENGTH` keeps its
first characters and ends with ``~`` and 16 hex digits of its SHA-256.
"""

from __future__ import annotations

import hashlib
import re

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
