"""The RAID state of a server, as its `raid-status` command reports it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from docker.models.containers import Container

from chaos.engine import objects
from chaos.errors import StackError

ERROR_COUNTERS = ("write_io_errs", "read_io_errs", "flush_io_errs", "corruption_errs",
                  "generation_errs")


@dataclass(frozen=True)
class RaidDevice:
    """One member of the array."""

    devid: int
    path: str
    drive: str
    missing: bool
    errors: dict[str, int]

    @property
    def error_total(self) -> int:
        return sum(self.errors.values())


@dataclass(frozen=True)
class RaidStatus:
    """A server's array: members, spares, profiles, mount state."""

    mount: str
    mounted: bool
    read_only: bool
    degraded: bool
    healthy: bool
    data_profile: str | None
    metadata_profile: str | None
    options: list[str] = field(default_factory=list)
    devices: list[RaidDevice] = field(default_factory=list)
    spares: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RaidStatus:
        devices = [RaidDevice(devid=int(d.get("devid") or 0), path=str(d.get("path") or ""),
                              drive=str(d.get("drive") or "?"), missing=bool(d.get("missing")),
                              errors={k: int((d.get("errors") or {}).get(k) or 0)
                                      for k in ERROR_COUNTERS})
                   for d in data.get("devices") or []]
        return cls(mount=str(data.get("mount") or ""), mounted=bool(data.get("mounted")),
                   read_only=bool(data.get("read_only")), degraded=bool(data.get("degraded")),
                   healthy=bool(data.get("healthy")), data_profile=data.get("data_profile"),
                   metadata_profile=data.get("metadata_profile"),
                   options=list(data.get("options") or []), devices=devices,
                   spares=[str(s.get("drive") or s.get("path")) for s in data.get("spares") or []])

    @property
    def lost(self) -> bool:
        """No member can be read any more (missing, or failing reads or checksums):
        no good copy is left.  Write errors alone leave the data readable."""
        return bool(self.devices) and all(
            d.missing or d.errors["read_io_errs"] + d.errors["corruption_errs"] > 0
            for d in self.devices)

    def summary(self) -> str:
        """One line: `RAID1 2 devices, 1 spare, healthy, rw`."""
        if not self.mounted:
            return f"{self.mount} not mounted"
        state = ("healthy" if self.healthy else "LOST" if self.lost
                 else "DEGRADED" if self.degraded else "UNHEALTHY")
        errors = sum(d.error_total for d in self.devices)
        return (f"{self.data_profile or '?'}/{self.metadata_profile or '?'} on "
                f"{len(self.devices)} device(s), {len(self.spares)} spare(s), {state}, "
                f"{'READ-ONLY' if self.read_only else 'rw'}, {errors} I/O error(s)")


def probe_raid(container: Container, *, timeout: float = 20.0) -> RaidStatus:
    """Ask a server for its RAID state (works even when its web app is down)."""
    result = objects.exec_in(container, ["raid-status"], timeout=timeout)
    try:
        return RaidStatus.from_json(json.loads(result.output))
    except (json.JSONDecodeError, TypeError, ValueError, AttributeError):
        raise StackError(f"raid-status on {container.name} gave no JSON "
                         f"(exit {result.exit_code}): {result.output.strip()[:300]}") from None
