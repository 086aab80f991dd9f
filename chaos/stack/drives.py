"""A server's drives as the harness sees them from the host.

Each server writes `drives.json` into its record folder (bind-mounted at
/run/drill); the drives' fault controls (nbdkit's error, rate and pause
filters) live there too, so the harness reaches them without entering the
container: a fault takes effect the moment a file is created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from chaos.errors import InputError, StackError
from chaos.yamlsource import did_you_mean

#: Where the record folder is mounted inside a server.
RECORD_IN_CONTAINER = PurePosixPath("/run/drill")


@dataclass(frozen=True)
class Drive:
    """One drive of one server of a run."""

    server: str
    name: str
    #: The loop device it is attached to (inside the server).
    loop: str
    #: Member of the array when the server booted.
    in_array: bool
    fail_read: Path
    fail_write: Path
    rate: Path
    pause_socket: Path

    @property
    def address(self) -> str:
        return f"{self.server}/{self.name}"


def _on_host(container_path: str, record_dir: Path) -> Path:
    relative = PurePosixPath(container_path).relative_to(RECORD_IN_CONTAINER)
    return record_dir / relative


def server_drives(run_dir: Path, server: str) -> list[Drive]:
    """The drives a server recorded; StackError if it recorded none."""
    record_dir = run_dir / server
    path = record_dir / "drives" / "drives.json"
    try:
        data = json.loads(path.read_text())
        return [Drive(server=server, name=d["name"], loop=d["loop"], in_array=bool(d["in_array"]),
                      fail_read=_on_host(d["controls"]["fail_read"], record_dir),
                      fail_write=_on_host(d["controls"]["fail_write"], record_dir),
                      rate=_on_host(d["controls"]["rate"], record_dir),
                      pause_socket=_on_host(d["controls"]["pause_socket"], record_dir))
                for d in data["drives"]]
    except FileNotFoundError:
        raise StackError(f"{server} has recorded no drives ({path} is missing)",
                         hint="is it a server of this run, and up? see `drill status`") from None
    except (ValueError, KeyError, TypeError) as e:
        raise StackError(f"{path} is not a drive record ({e})") from None


def resolve_drive(run_dir: Path, address: str) -> Drive:
    """`server-a/disk1` -> that Drive; InputError naming the valid ones otherwise."""
    servers = sorted(p.parent.parent.name for p in run_dir.glob("*/drives/drives.json"))
    server, sep, name = address.partition("/")
    if not sep or not server or not name:
        raise InputError(f"drive {address!r}: write SERVER/DRIVE, e.g. "
                         f"{servers[0] if servers else 'server-a'}/disk1")
    if server not in servers:
        raise InputError(f"no server {server!r} with drives in this run{did_you_mean(server, servers)}"
                         f" (servers: {', '.join(servers) or 'none'})")
    drives = server_drives(run_dir, server)
    for drive in drives:
        if drive.name == name:
            return drive
    names = [d.name for d in drives]
    raise InputError(f"{server} has no drive {name!r}{did_you_mean(name, names)} "
                     f"(drives: {', '.join(names)})")
