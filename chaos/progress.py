"""Progress a person can follow: one line per step, with elapsed times.

Long steps call :meth:`Progress.detail` with their latest output; it is shown
at most every few seconds so a build or a debootstrap never looks hung.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO


class Progress:
    """Writes steps to a stream (stderr by default), thread-safe."""

    def __init__(self, stream: TextIO | None = None, *, quiet: bool = False,
                 detail_every: float = 5.0) -> None:
        self._stream = stream or sys.stderr
        self._quiet = quiet
        self._detail_every = detail_every
        self._last_detail = 0.0
        self._started = time.monotonic()
        self._lock = threading.Lock()

    def info(self, message: str) -> None:
        """A line of its own."""
        self._write(message)

    def detail(self, message: str, *, force: bool = False) -> None:
        """Latest output of a long step, throttled."""
        now = time.monotonic()
        if force or now - self._last_detail >= self._detail_every:
            self._last_detail = now
            self._write(f"    {message.strip()[:150]}")

    @contextmanager
    def step(self, message: str) -> Iterator[None]:
        """`-> message ...` then `ok (1.2 s)` or `FAILED (1.2 s)`."""
        self._write(f"-> {message}")
        started = time.monotonic()
        try:
            yield
        except BaseException:
            self._write(f"   {message}: FAILED after {time.monotonic() - started:.1f} s")
            raise
        self._write(f"   {message}: ok ({time.monotonic() - started:.1f} s)")

    def _write(self, line: str) -> None:
        if self._quiet:
            return
        stamp = time.monotonic() - self._started
        with self._lock:
            self._stream.write(f"[{stamp:6.1f}s] {line}\n")
            self._stream.flush()


def silent() -> Progress:
    """A Progress that prints nothing (for library use and tests)."""
    return Progress(quiet=True)
