"""The state of a run's stack: every service's container, health and RAID."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import docker

from chaos.engine import labels, objects
from chaos.engine.runstate import RunState
from chaos.errors import HarnessError
from chaos.stack.raid import RaidStatus, probe_raid

#: Roles whose containers own drives and answer `raid-status`.
DRIVE_OWNERS = ("server", "backup")


@dataclass(frozen=True)
class ServiceStatus:
    name: str
    site: str
    role: str
    status: str
    health: str | None
    raid: RaidStatus | None
    raid_error: str | None = None


@dataclass(frozen=True)
class StackStatus:
    run_id: str
    phase: str
    edge_url: str | None
    services: list[ServiceStatus]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def stack_status(client: docker.DockerClient, state: RunState) -> StackStatus:
    """Inspect every container of the run and probe the RAID of drive owners."""
    services = []
    for container in sorted(objects.find_containers(client, state.run_id), key=lambda c: c.name):
        current = objects.state_of(container)
        role = container.labels.get(labels.ROLE, "")
        raid, raid_error = None, None
        if role in DRIVE_OWNERS and current.status == "running":
            try:
                raid = probe_raid(container)
            except HarnessError as e:
                raid_error = e.message
        services.append(ServiceStatus(
            name=container.labels.get(labels.SERVICE, container.name),
            site=container.labels.get(labels.SITE, "-"), role=role or "-",
            status=current.status, health=current.health, raid=raid, raid_error=raid_error))
    return StackStatus(state.run_id, state.phase.value, state.edge_url, services)


def format_status(status: StackStatus) -> str:
    """A table a person reads in a terminal."""
    lines = [f"run {status.run_id} ({status.phase}); edge: {status.edge_url or '-'}"]
    width = max((len(s.name) for s in status.services), default=8)
    for service in status.services:
        health = f"{service.status}/{service.health}" if service.health else service.status
        raid = service.raid.summary() if service.raid else (service.raid_error or "")
        lines.append(f"  {service.name:<{width}}  {service.site:<6} {service.role:<7} "
                     f"{health:<18} {raid}")
        if service.raid:
            for device in service.raid.devices:
                errors = ", ".join(f"{k}={v}" for k, v in device.errors.items() if v) or "no errors"
                missing = " MISSING" if device.missing else ""
                lines.append(f"  {'':<{width}}    devid {device.devid} {device.drive} "
                             f"{device.path}{missing}: {errors}")
            for spare in service.raid.spares:
                lines.append(f"  {'':<{width}}    spare {spare}")
    if not status.services:
        lines.append("  no containers")
    return "\n".join(lines)
