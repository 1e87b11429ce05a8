"""One registry type for everything that plugs in: model families, QA and QC checks, channels.

A `Registry` maps names to records; a name not registered yet is looked up once among the
installed packages' entry points of the registry's group (``fcast.models``,
``fcast.qa_checks``, ``fcast.qc_checks``, ``fcast.channels``), so an extension plugs in by
being installed, without editing fcast.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import entry_points
from typing import Generic, TypeVar

T = TypeVar("T")


class RegistryError(KeyError):
    """An unknown name, or a name registered twice without replace=True."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class Registry(Generic[T]):
    """Name -> record, with entry points of `group` loaded on first miss."""

    def __init__(
        self, kind: str, group: str, load: Callable[[object, str], T] | None = None
    ) -> None:
        self.kind, self.group = kind, group
        self._load = load  # turns a loaded entry point target into a record
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        """Add `item` under `name` (an existing name needs replace=True)."""
        if name in self._items and not replace:
            raise RegistryError(
                f"{self.kind} {name!r} is already registered; pass replace=True to replace it"
            )
        self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        """Remove `name` if present."""
        self._items.pop(name, None)

    def _from_entry_point(self, name: str) -> T | None:
        ep = next(iter(entry_points(group=self.group, name=name)), None)
        if ep is None:
            return None
        target = ep.load()
        item = self._load(target, name) if self._load else target
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """The record called `name`, loading the entry point of that name on first miss."""
        if name in self._items:
            return self._items[name]
        item = self._from_entry_point(name)
        if item is None:
            known = ", ".join(sorted(self.names())) or "none"
            raise RegistryError(f"unknown {self.kind} {name!r}; known: {known}")
        return item

    def names(self) -> list[str]:
        """Registered names and the names installed entry points offer."""
        return sorted(set(self._items) | {ep.name for ep in entry_points(group=self.group)})

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(dict(self._items))

    def items(self) -> list[tuple[str, T]]:
        """Registered (name, record) pairs, in registration order."""
        return list(self._items.items())

    def __len__(self) -> int:
        return len(self._items)
