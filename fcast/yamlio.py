"""YAML reading and validation-error text shared by every file fcast reads.

One reader (`read_yaml`, `load_yaml_text`) with bounds — file size, alias count, and the
size a document expands to through aliases (a "billion laughs" file is refused before it
is built) — and one formatter (`format_errors`) that turns a pydantic `ValidationError`
into one short line per problem: dotted key, what was expected, what was given.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from fcast.errors import ConfigError

MAX_BYTES = 5_000_000  #: largest YAML file read (configs, spaces, events, adjustments, specs)
MAX_ALIASES = 100  #: most `*alias` references in one document
MAX_NODES = 200_000  #: most nodes a document may expand to once its aliases are resolved
MAX_SHOWN = 80  #: longest value quoted back in an error message


class _BoundedLoader(yaml.SafeLoader):
    """SafeLoader that counts alias references while composing."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: ANN401
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise ConfigError(f"more than {MAX_ALIASES} YAML aliases")
        return super().compose_node(parent, index)


def _expanded_size(node: yaml.Node, memo: dict[int, int]) -> int:
    """How many nodes `node` stands for once every alias is expanded."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a cycle counts once; SafeLoader builds it as a recursive object
    if isinstance(node, yaml.SequenceNode):
        size = 1 + sum(_expanded_size(n, memo) for n in node.value)
    elif isinstance(node, yaml.MappingNode):
        size = 1 + sum(_expanded_size(k, memo) + _expanded_size(v, memo) for k, v in node.value)
    else:
        size = 1
    memo[key] = size
    if size > MAX_NODES:
        raise ConfigError(f"the document expands to more than {MAX_NODES:,} nodes through aliases")
    return size


def load_yaml_text(text: str, source: str) -> Any:
    """Parse YAML text with the bounds above; errors name `source`."""
    loader = _BoundedLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except ConfigError as exc:
            raise ConfigError(f"invalid YAML in {source}: {exc}") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML in {source}: {shorten(str(exc), 400)}") from None
        if node is None:
            return None
        try:
            _expanded_size(node, {})
        except ConfigError as exc:
            raise ConfigError(f"invalid YAML in {source}: {exc}") from None
        try:
            return loader.construct_document(node)
        except yaml.YAMLError as exc:
            raise ConfigError(f"invalid YAML in {source}: {shorten(str(exc), 400)}") from None
    finally:
        loader.dispose()


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """Read a local YAML file with clear errors: missing, a folder, too big, or invalid."""
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"{what} not found: {p}")
    if p.is_dir():
        raise ConfigError(f"{what} {p} is a folder, expected a YAML file")
    size = p.stat().st_size
    if size > MAX_BYTES:
        raise ConfigError(f"{what} {p} is {size:,} bytes; at most {MAX_BYTES:,} are read")
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} {p}: {exc}") from None
    return load_yaml_text(text, str(p))


def shorten(text: str, limit: int = MAX_SHOWN) -> str:
    """`text` cut to `limit` characters with a marker of what was left out."""
    return (
        text if len(text) <= limit else f"{text[:limit]}... ({len(text) - limit:,} more characters)"
    )


def format_errors(exc: ValidationError, title: str, prefix: tuple[str, ...] = ()) -> str:
    """One line per problem under `title`: dotted key, message, the given value (short)."""
    lines = [title]
    for err in exc.errors():
        key = ".".join([*prefix, *(str(p) for p in err["loc"])]) or "<top level>"
        msg = (
            "unknown key"
            if err["type"] == "extra_forbidden"
            else str(err["msg"]).removeprefix("Value error, ")
        )
        given = err.get("input")
        shown = "" if isinstance(given, dict | date) else f" (got {shorten(repr(given))})"
        if isinstance(given, bool) and "boolean" not in msg:  # YAML reads NO (Norway) as false
            msg += "; quote codes that YAML reads as booleans, e.g. market: 'NO'"
        lines.append(f"  {key}: {msg}{shown}")
    return "\n".join(lines)
