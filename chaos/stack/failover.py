"""Role changes between the servers: promote a standby, fail back after a failover, switch over.

The machines do the work (`replication-ctl` in the server image: pg_promote,
pg_rewind or a fresh base backup, a clean stop); this module picks who does
what, waits for the outcome and says what it cost: how long it took, and which
uploads only the old primary had (written during a split brain, gone once it
follows the new primary).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import docker

from chaos.errors import InputError, StackError
from chaos.stack.machine import Machine
from chaos.stack.replication import ReplicationStatus, probe_replication, server_containers


@dataclass(frozen=True)
class Promotion:
    server: str
    seconds: float
    output: str


@dataclass(frozen=True)
class Failback:
    """An old primary turned into a standby of the new one (and maybe primary again)."""

    old_primary: str
    new_primary: str
    method: str  # "pg_rewind" or "base backup"
    seconds: float
    #: uploads the old primary had that the new primary lacks or holds differently
    #: (None: the old primary's database did not answer, so nobody can tell)
    diverged: list[str] | None = field(default_factory=list)
    switched_back: bool = False
    switchover_seconds: float | None = None


@dataclass(frozen=True)
class Switchover:
    """A planned swap of roles: no acknowledged write lost, writes refused for `seconds`."""

    old_primary: str
    new_primary: str
    seconds: float


def _servers(client: docker.DockerClient, run_id: str, *names: str) -> None:
    known = sorted(server_containers(client, run_id))
    for name in names:
        if name not in known:
            raise InputError(f"no server {name!r} in run {run_id}",
                             hint=f"the servers are: {', '.join(known)}")


def _ctl(machine: Machine, *args: str, timeout: float = 240.0) -> str:
    result = machine.run("replication-ctl", *args, timeout=timeout)
    if result.exit_code != 0:
        raise StackError(f"replication-ctl {' '.join(args)} on {machine.service} failed",
                         logs=result.output.strip())
    return result.output


def promote(client: docker.DockerClient, run_id: str, server: str) -> Promotion:
    """Promote standby `server` to primary now (the manual way; the watchdog is the other)."""
    _servers(client, run_id, server)
    status = probe_replication(client, run_id).server(server)
    if status.role != "standby":
        raise InputError(f"{server} is not a standby (it is {status.role or 'down'}): nothing to promote")
    started = time.monotonic()
    output = _ctl(Machine(client, run_id, server), "promote", timeout=90)
    return Promotion(server, time.monotonic() - started, output.strip())


def wait_for(client: docker.DockerClient, run_id: str, ready: Callable[[ReplicationStatus], bool],
             what: str, timeout: float = 120.0) -> ReplicationStatus:
    """Probe until `ready(status)`; StackError naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        status = probe_replication(client, run_id)
        if ready(status):
            return status
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not reached within {timeout:.0f} s",
                             logs="\n".join(f"{s.service}: {s.role or 'down'} {s.error or ''}"
                                            for s in status.servers))
        time.sleep(0.5)


def caught_up(standby: str, primary: str) -> Callable[[ReplicationStatus], bool]:
    """`standby` streams from `primary` and has replayed all of its WAL."""
    def ready(status: ReplicationStatus) -> bool:
        return any(lag.standby == standby and lag.primary == primary and lag.streaming
                   and lag.lag_bytes == 0 for lag in status.lags)
    return ready


def upload_hashes(machine: Machine) -> dict[str, str] | None:
    """Every upload a server's database records (id -> sha256); None if it does not answer."""
    result = machine.run("psql", "-X", "-qAt", "-h", "/var/run/postgresql", "-U", "postgres",
                         "-d", "hosting", "-c", "COPY (SELECT id, sha256 FROM uploads) TO STDOUT",
                         timeout=60)
    if result.exit_code != 0:
        return None
    rows = (line.split("\t") for line in result.output.splitlines() if "\t" in line)
    return {row[0]: row[1] for row in rows}


def diverged_uploads(old: Machine, new: Machine) -> list[str] | None:
    """Uploads on `old` that `new` does not have (or has with other contents), sorted."""
    theirs = upload_hashes(old)
    ours = upload_hashes(new)
    if theirs is None or ours is None:
        return None
    return sorted(i for i, digest in theirs.items() if ours.get(i) != digest)


def choose_roles(status: ReplicationStatus, old: str | None, new: str | None) -> tuple[str, str]:
    """(the server to fail back, the primary it will follow): given, or read from `status`."""
    primaries = [s for s in status.servers if s.role == "primary"]
    if new is None:
        if not primaries:
            raise StackError("no server answers as the primary: promote one first "
                             "(`drill promote SERVER`)")
        # The most recent promotion started the highest timeline.
        new = max(primaries, key=lambda s: (s.timeline or 0, s.promoted_at or 0)).service
    elif status.server(new).role != "primary":
        raise InputError(f"{new} is not a primary (it is {status.server(new).role or 'down'})",
                         hint="fail back to the server that took over")
    if old is None:
        candidates = [s for s in status.servers if s.service != new
                      and not (s.role == "standby" and s.upstream == new)]
        if not candidates:
            raise InputError(f"every other server already follows {new}: nothing to fail back")
        # One that still believes it is the primary comes first (split brain).
        candidates.sort(key=lambda s: s.role != "primary")
        old = candidates[0].service
    if old == new:
        raise InputError(f"{old} cannot follow itself")
    if not status.server(old).reachable:
        raise StackError(f"{old} is not running: bring it back first (`drill rollback ...`)")
    return old, new


def failback(client: docker.DockerClient, run_id: str, *, old: str | None = None,
             new: str | None = None, switch_back: bool = False, timeout: float = 300.0) -> Failback:
    """Make `old` a standby of `new` (by default: the stale primary follows the newest one).

    With `switch_back`, once `old` has caught up the roles are swapped again in
    a planned switchover, so `old` ends as the primary with `new` following it.
    """
    _servers(client, run_id, *(n for n in (old, new) if n))
    old, new = choose_roles(probe_replication(client, run_id), old, new)
    old_machine, new_machine = Machine(client, run_id, old), Machine(client, run_id, new)
    diverged = diverged_uploads(old_machine, new_machine)
    started = time.monotonic()
    output = _ctl(old_machine, "follow", new, timeout=timeout)
    wait_for(client, run_id, caught_up(old, new), f"{old} caught up with {new}", timeout=timeout)
    seconds = time.monotonic() - started
    method = "base backup" if "base backup" in output else "pg_rewind"
    if not switch_back:
        return Failback(old, new, method, seconds, diverged)
    swap = switchover(client, run_id, to=old, timeout=timeout)
    return Failback(old, new, method, seconds, diverged, switched_back=True,
                    switchover_seconds=swap.seconds)


def lsn_bytes(lsn: str) -> int:
    """PostgreSQL's `X/Y` WAL position as a number of bytes."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def switchover(client: docker.DockerClient, run_id: str, *, to: str, timeout: float = 300.0
               ) -> Switchover:
    """Planned role swap: the primary stops cleanly, `to` replays all of it and is promoted.

    No acknowledged write is lost; writes are refused from the primary's stop
    until `to` is promoted (the returned seconds; the edge adds its rise checks).
    """
    _servers(client, run_id, to)
    status = probe_replication(client, run_id)
    target = status.server(to)
    if target.role != "standby" or not target.upstream:
        raise InputError(f"{to} is not a standby (it is {target.role or 'down'}): "
                         "a switchover promotes a standby")
    primary = target.upstream
    if status.server(primary).role != "primary":
        raise StackError(f"{to} follows {primary}, which is not a running primary")
    wait_for(client, run_id, caught_up(to, primary), f"{to} caught up with {primary}", timeout=timeout)
    old_machine, new_machine = Machine(client, run_id, primary), Machine(client, run_id, to)
    started = time.monotonic()
    stopped = _ctl(old_machine, "stop", timeout=60)
    found = re.search(r"^checkpoint (\S+)$", stopped, re.MULTILINE)
    if found is None:
        raise StackError(f"{primary} did not report its shutdown checkpoint", logs=stopped)
    checkpoint = lsn_bytes(found[1])
    wait_for(client, run_id,
             lambda st: (st.server(to).wal_bytes or 0) > checkpoint,
             f"{to} replayed {primary}'s last WAL", timeout=60)
    _ctl(new_machine, "pull-files", primary, timeout=timeout)
    _ctl(new_machine, "promote", timeout=90)
    seconds = time.monotonic() - started
    _ctl(old_machine, "follow", to, timeout=timeout)
    return Switchover(primary, to, seconds)
