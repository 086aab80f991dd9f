"""Durations as a scenario writes them: `30s`, `2m`, `1m30s`, `500ms`, `1h`, or a number of seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


def parse_duration(value: object) -> float:
    """Seconds; ValueError with what is accepted otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 2m, 1m30s or 500ms, not true/false")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not text or _PART.sub("", text) != "":
            raise ValueError(f"{value!r} is not a duration such as 30s, 2m, 1m30s or 500ms")
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    else:
        raise ValueError("a duration such as 30s, 2m, 1m30s or 500ms")
    if not math.isfinite(seconds):  # YAML's .inf and .nan are floats too
        raise ValueError("a duration must be finite")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    return seconds


def format_duration(seconds: float) -> str:
    """`90.0` -> `1m30s`, `0.25` -> `250ms`."""
    if seconds < 1 and seconds > 0:
        return f"{seconds * 1000:.0f}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes and rest:
        return f"{minutes:.0f}m{rest:g}s"
    return f"{minutes:.0f}m" if minutes else f"{rest:g}s"
