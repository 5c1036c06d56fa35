"""The one registry type: named entries of one family (attacks, attribution methods,
generative methods, shipped models, job kinds), so tests, suites and benchmarks cover every
entry automatically (timm's pattern). A duplicate name is an error; an unknown one is an
``UnknownNameError`` (a ``KeyError``) that lists the names there are.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from typing import Generic, TypeVar

from zoo.errors import UnknownNameError

E = TypeVar("E")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Registry(Generic[E]):
    """Entries of one ``family`` by name, in registration order."""

    def __init__(self, family: str) -> None:
        self.family = family
        self._entries: dict[str, E] = {}

    def add(self, name: str, entry: E) -> E:
        """Add ``entry`` under ``name`` (lower case, digits and ``_``); returns it."""
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError(f"{self.family} name must be lower case letters, digits and '_', "
                             f"starting with a letter; got {name!r}")
        if name in self._entries:
            raise ValueError(f"{self.family} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def remove(self, name: str) -> E:
        """Take ``name`` out again (a test's own entry, say); ``KeyError`` when absent."""
        entry = self.get(name)
        del self._entries[name]
        return entry

    def get(self, name: object) -> E:
        if not isinstance(name, str) or name not in self._entries:
            raise UnknownNameError(unknown_name(self.family, name, self.names()))
        return self._entries[name]

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[E]:
        """The entries in registration order."""
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)


def unknown_name(family: str, name: object, names: list[str]) -> str:
    """The message for an unknown ``name`` of ``family``: the closest name there is, if one
    is close, and every name there is."""
    close = difflib.get_close_matches(name, names, n=1) if isinstance(name, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return f"unknown {family} {name!r}{hint}; available: {', '.join(names)}"
