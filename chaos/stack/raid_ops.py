"""Operations on a server's array: remount, replace (rebuild), scrub, restore from backup."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass

from chaos.engine import objects
from chaos.errors import InputError, StackError
from chaos.stack.drives import Drive
from chaos.stack.machine import Machine
from chaos.stack.raid import RaidStatus


def remount(machine: Machine, *, timeout: float = 120.0) -> str:
    """Bring a read-only /srv back read-write: services stopped, unmount, mount, services started."""
    result = machine.run("raid-ctl", "remount", timeout=timeout)
    if result.exit_code != 0:
        raise StackError(f"remount on {machine.service} failed (exit {result.exit_code})",
                         logs=result.output.strip())
    return result.output


@dataclass(frozen=True)
class ReplaceResult:
    """How a rebuild ended: `finished`, or `failed` with btrfs's words."""

    state: str
    seconds: float
    status: str

    @property
    def finished(self) -> bool:
        return self.state == "finished"


def _devid(raid: RaidStatus, drive: str) -> int:
    for device in raid.devices:
        if device.drive == drive:
            return device.devid
    members = ", ".join(d.drive for d in raid.devices)
    raise InputError(f"{drive} is not a member of the array (members: {members})")


#: Seconds a rebuild may still show as "never started" after its start was accepted.
NOT_STARTED_GRACE = 5.0


def replace(machine: Machine, source: str, target: Drive, *, timeout: float = 600.0,
            on_progress: Callable[[float], None] | None = None,
            during: Callable[[], None] | None = None) -> ReplaceResult:
    """Rebuild member `source` (a drive name) onto drive `target`, polling its progress.

    `during` runs once the rebuild has started (to inject a fault mid-rebuild).
    """
    raid = machine.raid()
    devid = _devid(raid, source)
    if any(d.drive == target.name for d in raid.devices):
        raise InputError(f"{target.name} is already a member of the array")
    started = time.monotonic()
    result = machine.run("btrfs", "replace", "start", "-f", "-r", str(devid), target.loop, "/srv")
    if result.exit_code != 0:
        return ReplaceResult("failed", time.monotonic() - started, result.output.strip())
    if during is not None:
        during()
    deadline = started + timeout
    status = ""
    while time.monotonic() < deadline:
        status = machine.run("btrfs", "replace", "status", "-1", "/srv", timeout=30).output.strip()
        percent = re.search(r"([\d.]+)% done", status)
        if percent and on_progress:
            on_progress(float(percent[1]))
        lowered = status.lower()
        if lowered.startswith("started") and "finished" in lowered or lowered.startswith("finished"):
            return ReplaceResult("finished", time.monotonic() - started, status)
        if any(word in lowered for word in ("failed", "canceled", "cancelled")):
            return ReplaceResult("failed", time.monotonic() - started, status)
        # Just after the start, the status may still be the old one (seen on slow drives).
        if "never started" in lowered and time.monotonic() - started > NOT_STARTED_GRACE:
            return ReplaceResult("failed", time.monotonic() - started, status)
        time.sleep(0.5)
    return ReplaceResult("failed", time.monotonic() - started, f"timed out: {status}")


@dataclass(frozen=True)
class ScrubResult:
    """What a scrub found: errors per kind, and how many it corrected or could not."""

    errors: int
    corrected: int
    uncorrectable: int
    output: str


def scrub(machine: Machine, *, timeout: float = 600.0) -> ScrubResult:
    """Read every block of the array and check it against its checksum; repair from the mirror."""
    result = machine.run("btrfs", "scrub", "start", "-B", "-R", "/srv", timeout=timeout)
    output = result.output

    def counter(name: str) -> int:
        found = re.search(rf"\b{name}:\s*(\d+)", output)
        return int(found[1]) if found else 0

    errors = sum(counter(k) for k in ("read_errors", "csum_errors", "verify_errors",
                                      "super_errors", "malloc_errors"))
    if result.exit_code not in (0, 3) and "read_errors" not in output:
        raise StackError(f"scrub on {machine.service} failed (exit {result.exit_code})",
                         logs=output.strip())
    return ScrubResult(errors, counter("corrected_errors"), counter("uncorrectable_errors"), output)


def add(machine: Machine, drive: Drive) -> str:
    """Add `drive` to the array (a spare becomes a member; data moves only on balance or remove)."""
    raid = machine.raid()
    if any(d.drive == drive.name for d in raid.devices):
        raise InputError(f"{drive.name} is already a member of the array")
    # A drive that was a member once (a dead one rolled back, one replaced out) still
    # carries the array's superblock, so btrfs takes it for part of the mounted
    # filesystem ("is mounted"). A drive added is a technician's new one: blank.
    wiped = machine.run("wipefs", "-a", drive.loop, timeout=60)
    if wiped.exit_code != 0:
        raise StackError(f"wiping {drive.address} before adding it failed", logs=wiped.output.strip())
    result = machine.run("btrfs", "device", "add", "-f", drive.loop, "/srv", timeout=120)
    if result.exit_code != 0:
        raise StackError(f"adding {drive.address} to the array failed", logs=result.output.strip())
    return result.output


def remove(machine: Machine, drive: str, *, timeout: float = 3600.0) -> float:
    """Remove member `drive`: btrfs moves its data to the others first. Returns seconds taken."""
    devid = _devid(machine.raid(), drive)
    started = time.monotonic()
    result = machine.run("btrfs", "device", "remove", str(devid), "/srv", timeout=timeout)
    if result.exit_code != 0:
        raise StackError(f"removing {machine.service}/{drive} from the array failed",
                         logs=result.output.strip())
    return time.monotonic() - started


@dataclass(frozen=True)
class Activity:
    """What the array is busy with, as btrfs reports it: a rebuild and the last scrub."""

    rebuild: str
    rebuild_percent: float | None
    scrub: str


def replace_percent(status: str) -> float | None:
    """How far a rebuild is, from `btrfs replace status -1` ("12.3% done"), if it says."""
    found = re.search(r"([\d.]+)% done", status)
    return float(found[1]) if found else None


def activity(machine: Machine) -> Activity:
    """The rebuild in progress (or the last one) and the last scrub's result."""
    rebuild = machine.run("btrfs", "replace", "status", "-1", "/srv", timeout=30).output.strip()
    scrub_status = machine.run("btrfs", "scrub", "status", "/srv", timeout=30).output.strip()
    summary = [line.strip() for line in scrub_status.splitlines()
               if line.strip().lower().startswith(("status", "error summary", "scrub started"))]
    return Activity(rebuild or "none", replace_percent(rebuild),
                    "; ".join(summary) or scrub_status or "none")


@dataclass(frozen=True)
class Restored:
    """A restore done: how long it took, and when the machine booted onto its new array."""

    seconds: float
    #: Epoch seconds between the old array's end (the machine stopped) and the new one's
    #: start: an upload acknowledged before it was written to the old array, one after it
    #: to the restored one.
    rebooted_at: float


def restore(server: Machine, backup_host: str, backup: str, *, health_timeout: float = 180.0
            ) -> Restored:
    """New drives, a new array, the backup copied back, services on."""
    started = time.monotonic()
    planned = server.run("raid-ctl", "plan-restore", backup_host, backup, timeout=60)
    if planned.exit_code != 0:
        raise StackError(f"planning the restore of {server.service} failed", logs=planned.output)
    # The machine is reinstalled: stopped (killed if its array hangs it) and booted again.
    objects.stop(server.container, grace=15)
    rebooted_at = time.time()
    objects.restart(server.container)
    deadline = time.monotonic() + health_timeout
    while True:
        current = objects.state_of(server.container)
        if current.health == "healthy":
            return Restored(time.monotonic() - started, rebooted_at)
        if current.status not in ("running", "restarting") or time.monotonic() > deadline:
            raise StackError(f"{server.service} did not come back healthy after the restore "
                             f"(status {current.status}, health {current.health})",
                             logs=objects.logs_tail(server.container))
        time.sleep(0.5)
