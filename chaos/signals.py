"""SIGTERM and SIGHUP treated like Ctrl-C, only inside a block, restored after.

So `kill` on a running `drill` still runs its clean-up, as Ctrl-C does.  SIGINT
itself interrupts even where it was inherited ignored (a process started with
`&` by a shell without job control, as CI runners start jobs): a drill asked to
stop must roll back and tear down, never carry on with its faults in place.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM/SIGHUP)."""


@contextmanager
def exit_signals() -> Iterator[None]:
    """Turn SIGTERM/SIGHUP into :class:`Terminated`, and SIGINT into KeyboardInterrupt, in the block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGHUP)}
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        previous[signal.SIGINT] = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
