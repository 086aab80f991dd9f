"""What counts as a good answer: the statuses a probe or a read-back expects, written as users write them.

`200`, `[200, 204]`, `"2xx"`, `"200-299"`, or a mix of them in a list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_CLASS = re.compile(r"([1-5])xx")
_RANGE = re.compile(r"([1-5][0-9]{2})-([1-5][0-9]{2})")
_ONE = re.compile(r"[1-5][0-9]{2}")


@dataclass(frozen=True)
class StatusMatch:
    """A set of HTTP statuses, kept as inclusive ranges, with the text it was written as."""

    ranges: tuple[tuple[int, int], ...]
    text: str

    @classmethod
    def parse(cls, value: Any) -> StatusMatch:
        """From `200`, `"2xx"`, `"200-299"` or a list of them; ValueError saying what to write."""
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ValueError("give at least one status, e.g. 200 or 2xx")
        ranges = []
        for item in items:
            ranges.append(_one_range(item))
        text = ", ".join(str(item) for item in items)
        return cls(tuple(ranges), text)

    def __contains__(self, status: object) -> bool:
        return isinstance(status, int) and any(low <= status <= high for low, high in self.ranges)

    def statuses(self) -> Iterable[int]:
        for low, high in self.ranges:
            yield from range(low, high + 1)

    def __str__(self) -> str:
        return self.text


def _one_range(item: Any) -> tuple[int, int]:
    wrong = (f"{item!r} is not an HTTP status: write 200, 2xx or 200-299 (statuses are "
             "100 to 599)")
    if isinstance(item, bool):
        raise ValueError(wrong)
    if isinstance(item, int):
        if not 100 <= item <= 599:
            raise ValueError(wrong)
        return item, item
    if not isinstance(item, str):
        raise ValueError(wrong)
    text = item.strip().lower()
    if _ONE.fullmatch(text):
        return int(text), int(text)
    if found := _CLASS.fullmatch(text):
        base = int(found[1]) * 100
        return base, base + 99
    if found := _RANGE.fullmatch(text):
        low, high = int(found[1]), int(found[2])
        if low > high:
            raise ValueError(f"{item!r}: the range runs from low to high, e.g. 200-299")
        return low, high
    raise ValueError(wrong)


ANY_2XX = StatusMatch(((200, 299),), "2xx")
