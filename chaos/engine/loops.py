"""The host's loop devices that belong to runs of the harness.

Loop devices are global to the machine, and one attached inside a server
container can outlive it.  Each is found by its backing file, which a server
always serves at ``/chaos-drives/<run>/<service>/<drive>/nbd`` (see the server
image), so a dead run's devices are found even when its records are lost.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass

from chaos.engine.hostcmd import run
from chaos.errors import EngineError

DRIVE_PATH = re.compile(r"/chaos-drives/(?P<run>[A-Za-z0-9_.-]+)/(?P<service>[^/]+)/(?P<drive>[^/]+)/")


@dataclass(frozen=True)
class LoopDevice:
    """A loop device attached to a run's drive."""

    device: str
    backing_file: str
    run_id: str
    service: str
    drive: str


def run_loop_devices(run_id: str | None = None) -> list[LoopDevice]:
    """Loop devices of one run (or of every run) attached on this host."""
    if not shutil.which("losetup"):
        return []
    result = run(["losetup", "--list", "--json", "--output", "NAME,BACK-FILE"])
    if result.returncode != 0 or not result.stdout.strip():
        return []
    try:
        entries = json.loads(result.stdout).get("loopdevices", [])
    except json.JSONDecodeError:
        return []
    found = []
    for entry in entries:
        backing = entry.get("back-file") or ""
        match = DRIVE_PATH.search(backing)
        if match and (run_id is None or match["run"] == run_id):
            found.append(LoopDevice(entry["name"], backing, match["run"], match["service"],
                                    match["drive"]))
    return found


def detach(device: LoopDevice) -> None:
    """Detach one loop device; one that is already gone is fine."""
    result = run(["losetup", "--detach", device.device])
    if result.returncode != 0 and "No such device" not in result.stderr:
        still_there = any(d.device == device.device for d in run_loop_devices(device.run_id))
        if still_there:
            raise EngineError(f"cannot detach {device.device} ({device.backing_file}): "
                              f"{result.stderr.strip()}")
