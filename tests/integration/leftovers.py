"""What a run can leave on the machine: labelled Docker objects, loop devices, mounts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import docker

from chaos.engine import loops, objects


@dataclass(frozen=True)
class Leftovers:
    containers: list[str]
    networks: list[str]
    volumes: list[str]
    loop_devices: list[str]
    mounts: list[str]

    def empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes or self.loop_devices
                    or self.mounts)


def leftovers(client: docker.DockerClient, run_id: str, run_dir: Path | None = None) -> Leftovers:
    """Everything of `run_id` still on this machine (checked the way a person would)."""
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines()
              if f"/chaos-drives/{run_id}/" in line or f"drill-{run_id}" in line]
    return Leftovers(
        containers=[c.name for c in objects.find_containers(client, run_id)],
        networks=[n.name for n in objects.find_networks(client, run_id)],
        volumes=[v.name for v in objects.find_volumes(client, run_id)],
        loop_devices=[d.device for d in loops.run_loop_devices(run_id, run_dir)],
        mounts=mounts,
    )
