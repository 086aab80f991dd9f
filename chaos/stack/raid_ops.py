"""Operations on a server's array (run inside the server by its `raid-ctl`)."""

from __future__ import annotations

from chaos.errors import StackError
from chaos.stack.machine import Machine


def remount(machine: Machine, *, timeout: float = 120.0) -> str:
    """Bring a read-only /srv back read-write: services stopped, unmount, mount, services started."""
    result = machine.run("raid-ctl", "remount", timeout=timeout)
    if result.exit_code != 0:
        raise StackError(f"remount on {machine.service} failed (exit {result.exit_code})",
                         logs=result.output.strip())
    return result.output
