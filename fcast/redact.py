"""Redaction: credentials never reach a message, a log line or a manifest.

`redact(text)` masks, in any text or URL:

- the password of a URL's userinfo (`scheme://user:***@host`), found up to the last '@' so an
  unescaped `p@ss:w0rd` leaves no fragment; a user name alone is kept;
- the value of every `key=value` pair (URL query or DSN keyword) whose key contains `pass`,
  `pwd`, `secret`, `token` or `key` (`?sslpassword=***`, `api_key=***`, `password='***'`), and
  of presigned-URL signatures (`sig`, `X-Amz-Signature`, `X-Amz-Credential`); `Bearer` tokens;
- with `host_only=True` (webhooks, whose token is the path), every URL down to scheme and host;
- with `secrets=...`, each known secret and each piece of it between URL delimiters
  (4 characters or more), as drivers print fragments of a URL they failed to parse.

`${NAME}` placeholders are not secrets and stay. `redact_tree` applies the same to every string
of a JSON-like object and masks values under secret-looking keys (for manifests).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import unquote

MASK = "***"
_WORDS = "pass|pwd|secret|token|key"
_PAIR_WORDS = (
    f"{_WORDS}|sig|credential"  # also presigned URLs: X-Amz-Signature, sig=, X-Amz-Credential
)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>`]*")
_PAIR = re.compile(
    rf"(?i)(?<![\w.-])([\w.-]*(?:{_PAIR_WORDS})[\w.-]*)=('[^']*'|\"[^\"]*\"|[^&;\s'\"<>`#]+)"
)
_BEARER = re.compile(r"(?i)\b(bearer)\s+[\w.~+/-]+=*")
_SECRET_KEY = re.compile(rf"(?i)(?:{_WORDS})")
_PLACEHOLDER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_DELIMS = re.compile(r"[@:/?#&=;]")


def _is_placeholder(value: str) -> bool:
    """Whether a value is a `${NAME}` placeholder (quotes allowed), not a secret."""
    return bool(_PLACEHOLDER.fullmatch(value.strip("'\"")))


def _split_userinfo(rest: str) -> tuple[str, str]:
    """(userinfo, host and the rest) of what follows '://'; userinfo '' when there is none."""
    userinfo, at, tail = rest.rpartition("@")
    if not at or re.search(r"[/?#]", userinfo.partition(":")[0]):
        return "", rest  # no '@', or the '@' is in the path or query
    return userinfo, tail


def _url(url: str, host_only: bool) -> str:
    """One URL with its password masked (or reduced to scheme and host)."""
    scheme, _, rest = url.partition("://")
    userinfo, tail = _split_userinfo(rest)
    if host_only:
        return f"{scheme}://{re.match(r'[^/?#]*', tail)[0]}"
    if not userinfo:
        return url
    user, colon, password = userinfo.partition(":")
    if colon and password and not _is_placeholder(password):
        userinfo = f"{user}:{MASK}"
    return f"{scheme}://{userinfo}@{tail}"


def _pair(m: re.Match[str]) -> str:
    """A secret-looking key=value pair with its value masked."""
    return m[0] if _is_placeholder(m[2]) else f"{m[1]}={MASK}"


def fragments(secret: str) -> list[str]:
    """The secret and its pieces between URL delimiters (4+ characters), longest first, also unquoted."""
    cuts = sorted({0, len(secret), *(m.start() for m in _DELIMS.finditer(secret))})
    cuts += [m.end() for m in _DELIMS.finditer(secret)]
    pieces = {secret[a:b] for a in cuts for b in cuts if b - a >= 4}
    pieces = {p.strip("@:/?#&=;") for p in pieces} | {secret}
    pieces |= {unquote(p) for p in pieces}
    return sorted((p for p in pieces if len(p) >= 4 or p == secret), key=len, reverse=True)


def secrets_in(text: str) -> list[str]:
    """The secret values `redact` would mask in `text`: URL passwords and secret-looking pair values."""
    found = []
    for m in _URL.finditer(str(text)):
        password = _split_userinfo(m[0].partition("://")[2])[0].partition(":")[2]
        found.append(password)
    found += [m[2].strip("'\"") for m in _PAIR.finditer(str(text))]
    return [s for s in found if s and not _is_placeholder(s)]


def redact(text: str, *, host_only: bool = False, secrets: Iterable[str] = ()) -> str:
    """`text` (a URL or any message) with every credential-bearing part masked as ***."""
    text = _URL.sub(lambda m: _url(m[0], host_only), str(text))
    text = _PAIR.sub(_pair, text)
    text = _BEARER.sub(lambda m: f"{m[1]} {MASK}", text)
    for secret in {s for s in secrets if s and not _is_placeholder(s)}:
        for piece in fragments(secret):
            text = text.replace(piece, MASK)
    return text


def redact_tree(obj: Any, secrets: Iterable[str] = ()) -> Any:
    """A JSON-like object with every string redacted and values under secret-looking keys masked."""
    secrets = tuple(secrets)
    if isinstance(obj, dict):
        return {
            k: MASK
            if _SECRET_KEY.search(str(k)) and isinstance(v, str) and v and not _is_placeholder(v)
            else redact_tree(v, secrets)
            for k, v in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [redact_tree(v, secrets) for v in obj]
    return redact(obj, secrets=secrets) if isinstance(obj, str) else obj
