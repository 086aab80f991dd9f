"""Data that remembers where each value was written: file, line and column.

A compose project is read from several files (`-f a.yml -f b.yml`, `include`,
`extends`) and merged; a problem found afterwards must still name the file
and line the offending value came from. So mappings and lists carry, beside
their items, the place of each item, and every merge moves the two together.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from chaos.errors import Problem
from chaos.yamlsource import Override, Reset, YamlDocument, YamlPath, format_path

#: (file, line, column); line and column are None when not known.
Place = tuple[str, int | None, int | None]


class LDict(dict[Any, Any]):
    """A mapping that knows where each of its values was written."""

    __slots__ = ("places",)

    def __init__(self, items: Iterable[tuple[Any, Any]] = (), places: dict[Any, Place] | None = None
                 ) -> None:
        super().__init__(items)
        self.places: dict[Any, Place] = dict(places or {})

    def put(self, key: Any, value: Any, place: Place | None) -> None:
        self[key] = value
        if place is not None:
            self.places[key] = place

    def copy(self) -> LDict:  # type: ignore[override]
        return LDict(self.items(), self.places)

    def without(self, *keys: Any) -> LDict:
        return LDict(((k, v) for k, v in self.items() if k not in keys), self.places)


class LList(list[Any]):
    """A list that knows where each of its items was written."""

    __slots__ = ("places",)

    def __init__(self, items: Iterable[Any] = (), places: Iterable[Place | None] = ()) -> None:
        super().__init__(items)
        self.places: list[Place | None] = list(places)
        self.places += [None] * (len(self) - len(self.places))

    def add(self, value: Any, place: Place | None) -> None:
        self.append(value)
        self.places.append(place)


def place_of(container: Any, key: Any) -> Place | None:
    """Where `container[key]` was written, if known (None for plain containers)."""
    if isinstance(container, LDict):
        return container.places.get(key)
    if isinstance(container, LList) and isinstance(key, int) and 0 <= key < len(container.places):
        return container.places[key]
    return None


def as_ldict(value: dict[Any, Any]) -> LDict:
    """`value` as an LDict (a copy; a plain dict's places are unknown)."""
    return value.copy() if isinstance(value, LDict) else LDict(value.items())


def from_document(document: YamlDocument) -> Any:
    """The document's data with the place of every value attached."""
    root: Place = (document.file, *document.where(()))

    def wrap(value: Any, path: YamlPath, here: Place) -> Any:
        if isinstance(value, Override):
            return Override(wrap(value.value, path, here))
        if isinstance(value, dict):
            out = LDict()
            for key, item in value.items():
                child = (*path, key)
                place = _place(document, child, here)
                out.put(key, wrap(item, child, place), place)
            return out
        if isinstance(value, list):
            listed = LList()
            for index, item in enumerate(value):
                child = (*path, index)
                place = _place(document, child, here)
                listed.add(wrap(item, child, place), place)
            return listed
        return value

    return wrap(document.data, (), root)


def _place(document: YamlDocument, path: YamlPath, parent: Place) -> Place:
    if path in document.positions:
        line, column = document.positions[path]
        return (document.file, line, column)
    return parent


def untagged(value: Any) -> Any:
    """Merging done: `!override` values unwrapped, keys set to `!reset` removed."""
    if isinstance(value, Override):
        return untagged(value.value)
    if isinstance(value, dict):
        out = LDict()
        for key, item in value.items():
            if not isinstance(item, Reset):
                out.put(key, untagged(item), place_of(value, key))
        return out
    if isinstance(value, list):
        return LList([untagged(v) for v in value if not isinstance(v, Reset)],
                     [p for v, p in zip(value, value.places if isinstance(value, LList)
                                        else [None] * len(value), strict=True)
                      if not isinstance(v, Reset)])
    return value


def plain(value: Any) -> Any:
    """The same data as ordinary dicts and lists (for YAML output, equality in tests)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


@dataclass(frozen=True)
class LocatedData:
    """Merged data and where its root came from; makes located problems."""

    data: Any
    root: Place

    def where(self, path: Sequence[str | int]) -> Place:
        """The place of `path`, or of its nearest parent whose place is known."""
        found = self.root
        node = self.data
        for part in path:
            if not isinstance(node, (LDict, LList)):
                break
            place = place_of(node, part)
            if place is None:
                break
            found = place
            node = node[part]  # type: ignore[index]
        return found

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        file, line, column = self.where(path)
        return Problem(file, line, column, format_path(path), message)
