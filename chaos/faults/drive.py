"""Drive faults: nbdkit's own filters (error, rate, pause), driven from the host.

Each injector flips the drive's control (a trigger file of the error filter,
the rate filter's rate file, the pause filter's socket), then proves the
effect with a direct-I/O request to the drive's loop device inside the server,
and records when the effect began.  Addressed as ``server/drive``.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import tempfile
import time
from pathlib import Path

from chaos.engine import loops
from chaos.errors import InputError, StackError
from chaos.faults.base import Fault, FaultContext, Injection
from chaos.stack.drives import Drive, resolve_drive

#: How long a slowed drive may take to show it (nbdkit re-reads its rate file every second).
SLOW_CONFIRM_WITHIN = 3.0
PAUSE_TIMEOUT = 30.0


def run_drive(ctx: FaultContext, target: str) -> Drive:
    """The drive `target` of this run, once its loop device is shown to be that drive.

    A drive record names a loop device, and loop devices are global to the host:
    a stale or forged record could name another run's drive, or a device that
    is no drive at all.  Before a fault touches it, the device's backing file
    must be this run's drive (``/chaos-drives/<run>/<server>/<drive>/nbd``);
    anything else is refused.
    """
    drive = resolve_drive(ctx.run_dir, target)
    found = next((d for d in loops.run_loop_devices(ctx.run_id) if d.device == drive.loop), None)
    if found is None or (found.service, found.drive) != (drive.server, drive.name):
        raise InputError(f"{drive.address}: its record names {drive.loop}, which is not attached "
                         f"to that drive of run {ctx.run_id}; refusing to touch it",
                         hint=f"is {drive.server} up? see `drill status`")
    return drive


def _touch(path: Path) -> float:
    """Create a trigger file; returns when it exists (the filter stats it on every request)."""
    path.touch()
    return time.time()


def _confirm_failing(ctx: FaultContext, drive: Drive, operation: str, injection: Injection,
                     effective_at: float) -> Injection:
    probe = ctx.machine(drive.server).direct_io(drive.loop, operation)
    if probe.ok:
        injection.evidence = (f"a direct {operation} of {drive.loop} still succeeded after the "
                              f"trigger was set: not confirmed")
        return injection
    injection.confirmed = True
    injection.effective_at = effective_at
    injection.evidence = f"direct {operation} of {drive.loop} failed: {_error_line(probe.output)}"
    return injection


def _error_line(text: str) -> str:
    """dd's complaint ("error writing ...: Input/output error"), else its last line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    return (errors or lines or ["(no output)"])[0][:160]


class _ErrorFault(Fault):
    """Trigger files of nbdkit's error filter: every matching request fails with EIO."""

    triggers: tuple[str, ...] = ()
    probe: str = "write"

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        drive = run_drive(ctx, target)
        injection = self.begin(drive.address)
        effective_at = max(_touch(getattr(drive, trigger)) for trigger in self.triggers)
        return _confirm_failing(ctx, drive, self.probe, injection, effective_at)

    def rollback(self, ctx: FaultContext, target: str) -> None:
        # Only the run's own control files are touched: no check, so a rollback
        # works on a server that is down.
        drive = resolve_drive(ctx.run_dir, target)
        for trigger in self.triggers:
            getattr(drive, trigger).unlink(missing_ok=True)


class WriteError(_ErrorFault):
    name = "write-error"
    summary = "every write (and zero, trim) to the drive fails with EIO"
    triggers = ("fail_write",)
    probe = "write"


class ReadError(_ErrorFault):
    name = "read-error"
    summary = "every read from the drive fails with EIO"
    triggers = ("fail_read",)
    probe = "read"


class Dead(_ErrorFault):
    name = "dead"
    summary = "every request to the drive fails with EIO: the drive is gone"
    triggers = ("fail_read", "fail_write")
    probe = "read"


_RATE = re.compile(r"^(\d+(?:\.\d+)?)([KMG]?)(B|bit)?/?s?$", re.IGNORECASE)


def parse_rate(text: str) -> int:
    """`1M`, `1MB/s`, `800K` (bytes per second) -> bits per second for nbdkit."""
    match = _RATE.match(text.strip())
    if not match:
        raise InputError(f"rate {text!r}: write e.g. 1M (bytes per second) or 8Mbit")
    value = float(match[1]) * {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}[match[2].upper()]
    bits = value if (match[3] or "").lower() == "bit" else value * 8
    if bits < 8 * 1024:
        raise InputError(f"rate {text!r}: at least 1K per second")
    return int(bits)


class Slow(Fault):
    name = "slow"
    summary = "the drive's bandwidth is capped (nbdkit's rate filter)"
    parameters = {"rate": ("1M", "bytes per second, e.g. 1M, 512K")}

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        drive = run_drive(ctx, target)
        bits = parse_rate(self.params["rate"])
        injection = self.begin(drive.address)
        drive.rate.write_text(f"{bits}\n")
        # 256 KiB at the capped rate takes this long; a healthy drive, milliseconds.
        expected = 256 * 1024 * 8 / bits
        machine = ctx.machine(drive.server)
        deadline = time.time() + SLOW_CONFIRM_WITHIN + expected
        while time.time() < deadline:
            started = time.time()
            probe = machine.direct_io(drive.loop, "read", size_kib=256, timeout=expected * 4 + 5)
            if probe.ok and probe.seconds >= expected * 0.5:
                injection.confirmed = True
                injection.effective_at = started
                injection.evidence = (f"256 KiB direct read took {probe.seconds:.2f} s "
                                      f"(cap {bits / 8 / 1024:.0f} KiB/s)")
                return injection
        injection.evidence = f"reads were not slower after {SLOW_CONFIRM_WITHIN:.0f} s: not confirmed"
        return injection

    def rollback(self, ctx: FaultContext, target: str) -> None:
        resolve_drive(ctx.run_dir, target).rate.write_text("0\n")


def _pause_command(path: Path, command: bytes) -> None:
    """Send p/r to nbdkit's pause filter; it answers P/R once in effect."""
    # A Unix socket path is limited to 107 bytes: reach a long one through a short link.
    with contextlib.ExitStack() as stack:
        target = str(path)
        if len(target) > 100:
            link_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="drill-"))
            os.symlink(target, f"{link_dir}/s")
            target = f"{link_dir}/s"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(PAUSE_TIMEOUT)
            try:
                sock.connect(target)
                sock.sendall(command)
                answer = sock.recv(1)
            except OSError as e:
                raise StackError(f"pause control {path}: {e}") from e
    if answer != command.upper():
        raise StackError(f"pause control {path} answered {answer!r} to {command!r}")


class Hang(Fault):
    name = "hang"
    summary = "every request to the drive stalls until the fault is rolled back (nbdkit's pause filter)"

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        drive = run_drive(ctx, target)
        injection = self.begin(drive.address)
        _pause_command(drive.pause_socket, b"p")
        # nbdkit answers once requests in flight have finished and new ones are held.
        injection.effective_at = time.time()
        injection.confirmed = True
        injection.evidence = "nbdkit's pause filter acknowledged: new requests are held"
        return injection

    def rollback(self, ctx: FaultContext, target: str) -> None:
        _pause_command(resolve_drive(ctx.run_dir, target).pause_socket, b"r")
