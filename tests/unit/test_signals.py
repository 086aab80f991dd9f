"""A drill asked to stop stops: SIGTERM, SIGHUP and SIGINT, even SIGINT inherited ignored."""

from __future__ import annotations

import os
import signal

import pytest

from chaos.signals import Terminated, exit_signals


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_kill_is_an_interrupt_inside_the_block_only(sig: signal.Signals) -> None:
    before = signal.getsignal(sig)
    with pytest.raises(Terminated), exit_signals():
        os.kill(os.getpid(), sig)
    assert signal.getsignal(sig) == before


def test_sigint_inherited_ignored_still_interrupts_and_is_ignored_again_after() -> None:
    # How CI runners start jobs: SIGINT ignored, inherited by every child.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with pytest.raises(KeyboardInterrupt), exit_signals():
            os.kill(os.getpid(), signal.SIGINT)
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGINT, previous)
