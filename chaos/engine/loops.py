"""The host's loop devices that belong to runs of the harness, and their removal.

Loop devices are global to the machine.  A server attaches its drives with
autoclear and holds them, so they normally vanish with it; this module finds
any that did not, two ways:

- alive: the backing file is ``/chaos-drives/<run>/<service>/<drive>/nbd``
  (sysfs shows the path while the server's mounts exist);
- dead: the server recorded ``<drive> /dev/loopN`` in the run's folder
  (``<run dir>/<service>/loops``) and the device's backing file is now just
  ``/nbd`` (its mount namespace is gone).

Nothing here runs `losetup -a` or the loop status ioctl: both stat the backing
file, and one whose FUSE server is wedged hangs them for good.  Sysfs does not
touch it.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.engine.hostcmd import run
from chaos.errors import EngineError

DRIVE_PATH = re.compile(r"^/chaos-drives/(?P<run>[A-Za-z0-9_.-]+)/(?P<service>[^/]+)/(?P<drive>[^/]+)/nbd")
#: What a drive's backing file shows once the server's mounts are gone.
ORPHAN_PATH = "/nbd"
SYS_BLOCK = Path("/sys/block")
FUSECTL = Path("/sys/fs/fuse/connections")


@dataclass(frozen=True)
class LoopDevice:
    """A loop device attached to a run's drive."""

    device: str
    backing_file: str
    run_id: str
    service: str
    drive: str
    #: The FUSE connection (major, minor) behind the drive, when recorded.
    fuse_dev: tuple[int, int] | None = None


@dataclass(frozen=True)
class DriveRecord:
    """What a server wrote about one drive: its loop device and FUSE connection."""

    service: str
    drive: str
    device: str | None
    fuse_dev: tuple[int, int] | None


def read_records(run_dir: Path) -> list[DriveRecord]:
    """The drives the run's servers recorded (the latest boot's entry wins)."""
    records = []
    for loops_file in sorted(run_dir.glob("*/loops")):
        devices: dict[str, str] = {}
        fuse: dict[str, tuple[int, int]] = {}
        try:
            lines = loops_file.read_text(errors="replace").splitlines()
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and parts[1].startswith("/dev/loop"):
                devices[parts[0]] = parts[1]
            elif len(parts) == 3 and parts[0] == "fuse" and ":" in parts[2]:
                major, _, minor = parts[2].partition(":")
                if major.isdigit() and minor.isdigit():
                    fuse[parts[1]] = (int(major), int(minor))
        service = loops_file.parent.name
        for drive in sorted(set(devices) | set(fuse)):
            records.append(DriveRecord(service, drive, devices.get(drive), fuse.get(drive)))
    return records


def _backing_files() -> dict[str, str]:
    """/dev/loopN -> backing file, for every attached loop device."""
    found = {}
    for backing in SYS_BLOCK.glob("loop*/loop/backing_file"):
        try:
            found[f"/dev/{backing.parent.parent.name}"] = backing.read_text().strip()
        except OSError:
            continue  # detached meanwhile
    return found


def run_loop_devices(run_id: str | None = None, run_dir: Path | None = None) -> list[LoopDevice]:
    """Loop devices of one run (or of every live-path run) attached on this host.

    With `run_dir`, devices the run recorded and whose mounts are gone count too.
    """
    attached = _backing_files()
    records = read_records(run_dir) if run_dir is not None and run_id is not None else []
    fuse_of = {(r.service, r.drive): r.fuse_dev for r in records}
    found: dict[str, LoopDevice] = {}
    for device, backing in attached.items():
        match = DRIVE_PATH.match(backing)
        if match and (run_id is None or match["run"] == run_id):
            found[device] = LoopDevice(device, backing, match["run"], match["service"],
                                       match["drive"], fuse_of.get((match["service"], match["drive"])))
    for record in records:
        if record.device and attached.get(record.device) == ORPHAN_PATH and record.device not in found:
            assert run_id is not None
            found[record.device] = LoopDevice(record.device, ORPHAN_PATH, run_id, record.service,
                                              record.drive, record.fuse_dev)
    return sorted(found.values(), key=lambda d: d.device)


def detach(device: LoopDevice, *, timeout: float = 15.0) -> None:
    """Detach one loop device; one that is already gone is fine.

    A device whose FUSE server died mid-write can keep its last writes pending
    for ever; aborting that (recorded) FUSE connection fails them, and the
    device is released.
    """
    if _try_detach(device, timeout):
        return
    aborted = device.fuse_dev is not None and _abort_fuse_connection(device.fuse_dev)
    if aborted and _try_detach(device, timeout):
        return
    raise EngineError(f"cannot detach {device.device} ({device.backing_file}) of run "
                      f"{device.run_id}", hint=f"try `losetup -d {device.device}` as root")


def _try_detach(device: LoopDevice, timeout: float) -> bool:
    try:
        # A busy device is only marked autoclear by this; it goes when released.
        run(["losetup", "--detach", device.device], timeout=timeout)
    except subprocess.TimeoutExpired:
        return False
    return _gone(device)


def _gone(device: LoopDevice, wait: float = 3.0) -> bool:
    """Whether the device is detached (the kernel may finish a moment later)."""
    backing = SYS_BLOCK / Path(device.device).name / "loop" / "backing_file"
    deadline = time.monotonic() + wait
    while True:
        try:
            if backing.read_text().strip() != device.backing_file:
                return True  # detached, or already someone else's
        except OSError:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _abort_fuse_connection(fuse_dev: tuple[int, int]) -> bool:
    """Abort the FUSE connection (major, minor), mounting fusectl if needed.

    Safe only while our loop device still holds the FUSE file: then the
    connection cannot have been reused by anyone else.
    """
    major, minor = fuse_dev
    if major != 0:
        return False
    mounted_here = " fusectl " not in Path("/proc/mounts").read_text()
    if mounted_here:
        run(["mount", "-t", "fusectl", "fusectl", str(FUSECTL)])
    try:
        (FUSECTL / str(os.makedev(major, minor)) / "abort").write_text("1")
        return True
    except OSError:
        return False
    finally:
        if mounted_here:  # leave no mount of ours behind
            run(["umount", str(FUSECTL)])
