"""Commands run on the host (apt-get, debootstrap, losetup), with their output kept."""

from __future__ import annotations

import subprocess
from collections.abc import Mapping

from chaos.errors import EngineError, HarnessError
from chaos.progress import Progress


def run_streaming(command: list[str], progress: Progress, *, env: Mapping[str, str] | None = None,
                  error: type[HarnessError] = EngineError) -> list[str]:
    """Run a command, showing its latest output line now and then; return its lines."""
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=dict(env) if env else None,
                                   text=True, errors="replace")
    except OSError as e:
        raise error(f"cannot run `{command[0]}`: {e.strerror}") from None
    lines: list[str] = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line.rstrip())
        progress.detail(line)
    if process.wait() != 0:
        tail = "\n".join(lines[-15:])
        raise error(f"`{' '.join(command)}` failed (exit {process.returncode}):\n{tail}")
    return lines


def run(command: list[str], *, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    """Run a short host command and capture its output (never raises on exit status)."""
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, check=False)
