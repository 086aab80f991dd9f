"""What a run can leave on the machine: labelled Docker objects, loop devices, mounts, processes."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import NotFound

from chaos.engine import loops, objects
from chaos.engine.runstate import proc_stat


@dataclass(frozen=True)
class Footprint:
    """What a run's containers hold on the host, seen while they exist.

    Once they are removed, nothing names the run any more: their ids (the
    cgroups of every process inside), their overlay root and network
    namespace mounts are looked for by these.
    """

    container_ids: frozenset[str] = frozenset()
    mounts: frozenset[str] = frozenset()

    def __or__(self, other: Footprint) -> Footprint:
        return Footprint(self.container_ids | other.container_ids, self.mounts | other.mounts)


def footprint(client: docker.DockerClient, run_id: str) -> Footprint:
    ids: set[str] = set()
    mounts: set[str] = set()
    for container in objects.find_containers(client, run_id):
        try:
            container.reload()
        except NotFound:
            continue
        attrs = container.attrs
        ids.add(container.id or "")
        merged = ((attrs.get("GraphDriver") or {}).get("Data") or {}).get("MergedDir")
        sandbox = (attrs.get("NetworkSettings") or {}).get("SandboxKey")
        # As /proc/mounts shows them (/var/run is a link to /run).
        mounts.update(os.path.realpath(m) for m in (merged, sandbox) if m)
    ids.discard("")
    return Footprint(frozenset(ids), frozenset(mounts))


@dataclass(frozen=True)
class Leftovers:
    containers: list[str]
    networks: list[str]
    volumes: list[str]
    loop_devices: list[str]
    mounts: list[str]
    processes: list[str] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.containers or self.networks or self.volumes or self.loop_devices
                    or self.mounts or self.processes)


def leftovers(client: docker.DockerClient, run_id: str, run_dir: Path | None = None, *,
              seen: Footprint = Footprint(), markers: Iterable[str] = ()) -> Leftovers:
    """Everything of `run_id` still on this machine (checked the way a person would).

    `run_dir`: the run's folder (or a copy of its drive records) for loop devices
    whose mounts are gone; `seen`: what its containers held while they existed;
    `markers`: more words that name the run in a command line (its result folder).
    """
    words = [f"/chaos-drives/{run_id}/", f"drill-{run_id}", *markers]
    if run_dir is not None:
        words.append(str(run_dir))
    mounts = [line for line in Path("/proc/mounts").read_text().splitlines()
              if any(w in line for w in words) or any(m in line.split()[1:2] for m in seen.mounts)]
    return Leftovers(
        containers=[c.name for c in objects.find_containers(client, run_id)],
        networks=[n.name for n in objects.find_networks(client, run_id)],
        volumes=[v.name for v in objects.find_volumes(client, run_id)],
        loop_devices=[d.device for d in loops.run_loop_devices(run_id, run_dir)],
        mounts=mounts,
        processes=run_processes([run_id, *words], seen.container_ids),
    )


def run_processes(words: Iterable[str], container_ids: Iterable[str] = ()) -> list[str]:
    """Living processes (zombies are dead) whose command line holds one of `words`, or
    that live in the cgroup of one of `container_ids`: `pid command`."""
    words = [w for w in words if w]
    ids = [i for i in container_ids if i]
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        stat = proc_stat(int(entry.name))
        if stat is None or not stat.alive:
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cgroups = (entry / "cgroup").read_text() if ids else ""
        except OSError:
            continue  # ended meanwhile
        if any(w in command for w in words) or any(i in cgroups for i in ids):
            found.append(f"{entry.name} {command.strip()[:200]}")
    return found
