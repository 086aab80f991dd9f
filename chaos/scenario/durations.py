"""Durations as a scenario writes them: `30s`, `2m`, `1m30s`, `500ms`, `1h`, or a number of seconds."""

from __future__ import annotations

import math
import re

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h)")
#: Checked first, from the start only: searching for parts from every digit of a long run of
#: digits without a unit takes quadratic time.
_WHOLE = re.compile(rf"(?:{_PART.pattern})+")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
#: No drill waits longer; and past ~292 years a timer's wait (threading.TIMEOUT_MAX) overflows.
MAX_SECONDS = 100 * 365 * 24 * 3600.0


def parse_duration(value: object) -> float:
    """Seconds; ValueError with what is accepted otherwise."""
    if isinstance(value, bool):
        raise ValueError("a duration such as 30s, 2m, 1m30s or 500ms, not true/false")
    if isinstance(value, (int, float)):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            raise ValueError("a duration must be finite") from None
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        if not _WHOLE.fullmatch(text):
            shown = repr(value) if len(value) <= 60 else repr(value[:57] + "...")
            raise ValueError(f"{shown} is not a duration such as 30s, 2m, 1m30s or 500ms")
        seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(text))
    else:
        raise ValueError("a duration such as 30s, 2m, 1m30s or 500ms")
    if not math.isfinite(seconds):  # YAML's .inf and .nan are floats too
        raise ValueError("a duration must be finite")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_SECONDS:
        raise ValueError("a duration must be under 100 years")
    return seconds


def format_duration(seconds: float) -> str:
    """`90.0` -> `1m30s`, `0.25` -> `250ms`."""
    if seconds < 1 and seconds > 0:
        return f"{seconds * 1000:.0f}ms"
    minutes, rest = divmod(seconds, 60)
    if minutes and rest:
        return f"{minutes:.0f}m{rest:g}s"
    return f"{minutes:.0f}m" if minutes else f"{rest:g}s"
