"""One machine (server container) of a run: commands in it, its RAID, direct I/O probes."""

from __future__ import annotations

import time
from dataclasses import dataclass

import docker

from chaos.engine import objects
from chaos.stack.raid import RaidStatus, probe_raid


@dataclass(frozen=True)
class IoProbe:
    """One direct-I/O request to a drive, bypassing every cache."""

    ok: bool
    seconds: float
    output: str


class Machine:
    """A server of a run, reached through the Docker layer."""

    def __init__(self, client: docker.DockerClient, run_id: str, service: str) -> None:
        self.service = service
        self.container = objects.service_container(client, run_id, service)

    def run(self, *command: str, timeout: float = 30.0) -> objects.ExecResult:
        return objects.exec_in(self.container, list(command), timeout=timeout)

    def raid(self) -> RaidStatus:
        return probe_raid(self.container)

    def direct_io(self, device: str, operation: str, *, size_kib: int = 4, timeout: float = 5.0
                  ) -> IoProbe:
        """Read or write `size_kib` at offset 0 of `device` with O_DIRECT.

        Offset 0 is safe to write on a btrfs member: btrfs leaves its first
        MiB unused (the superblock is at 64 KiB).
        """
        if operation == "read":
            command = ["dd", f"if={device}", "of=/dev/null", "bs=4096", f"count={size_kib // 4}",
                       "iflag=direct"]
        else:
            command = ["dd", "if=/dev/zero", f"of={device}", "bs=4096", f"count={size_kib // 4}",
                       "oflag=direct", "conv=notrunc,fsync"]
        started = time.perf_counter()
        result = self.run(*command, timeout=timeout)
        return IoProbe(result.exit_code == 0, time.perf_counter() - started, result.output.strip())
