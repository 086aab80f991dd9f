"""Replication between the servers of a run, as their `replication-status` commands report it.

Each server says what it is (primary, standby of whom, or down); this module
puts the servers side by side: the roles, each standby's lag behind its
primary in WAL bytes and seconds, the last upload it holds on disk, and
whether more than one server believes it is the primary (split brain).
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import docker

from chaos.engine import labels, objects
from chaos.errors import StackError


@dataclass(frozen=True)
class UploadMark:
    """An upload as a server's database records it."""

    id: str
    created_at: float
    on_disk: bool


@dataclass(frozen=True)
class ServerReplication:
    """One server's side of replication."""

    service: str
    reachable: bool
    role: str | None  # "primary", "standby"; None when its database is down or unreachable
    timeline: int | None = None
    upstream: str | None = None
    system_identifier: str | None = None
    wal_bytes: float | None = None  # primary: current WAL position; standby: replayed position
    receiver: str | None = None  # a standby's WAL receiver: streaming, not running, ...
    uploads: int | None = None
    last_upload: UploadMark | None = None
    last_upload_on_disk: UploadMark | None = None
    file_sync_at: float | None = None  # start of a standby's last good file pass
    file_sync_error: str | None = None
    promoted_at: float | None = None
    promoted_by: str | None = None
    #: a primary's view of its standbys: name -> replay lag in seconds (None: caught up)
    replica_lag_seconds: dict[str, float | None] = field(default_factory=dict)
    error: str | None = None

    @classmethod
    def from_json(cls, service: str, data: dict[str, Any]) -> ServerReplication:
        wal = data.get("wal") or {}
        agent = data.get("agent") or {}
        good_pass = agent.get("last_good_pass") or {}
        last_pass = agent.get("last_pass") or {}
        promoted = data.get("promoted") or {}
        role = data.get("role")
        return cls(
            service=service, reachable=True, role=role, timeline=data.get("timeline"),
            upstream=data.get("upstream"), system_identifier=data.get("system_identifier"),
            wal_bytes=wal.get("current_bytes") if role == "primary" else wal.get("replay_bytes"),
            receiver=wal.get("receiver_status"), uploads=data.get("uploads"),
            last_upload=_mark(data.get("last_upload")),
            last_upload_on_disk=_mark(data.get("last_upload_on_disk")),
            file_sync_at=good_pass.get("started_at"), file_sync_error=last_pass.get("error"),
            promoted_at=promoted.get("at"), promoted_by=promoted.get("by"),
            replica_lag_seconds={str(r.get("name")): r.get("replay_lag_seconds")
                                 for r in data.get("replicas") or []},
            error=data.get("error"))


def _mark(data: dict[str, Any] | None) -> UploadMark | None:
    if not data:
        return None
    return UploadMark(str(data["id"]), float(data["created_at"]), bool(data.get("on_disk")))


@dataclass(frozen=True)
class StandbyLag:
    """How far a standby is behind its primary."""

    standby: str
    primary: str
    lag_bytes: float | None  # WAL not yet replayed
    lag_seconds: float | None  # database: PostgreSQL's replay lag (0 when caught up)
    file_lag_seconds: float | None  # files: time since the last good pull started
    streaming: bool
    last_replicated_upload: UploadMark | None


@dataclass(frozen=True)
class ReplicationStatus:
    """Every server's role, the standbys' lag, and split brain."""

    at: float
    servers: list[ServerReplication]
    lags: list[StandbyLag] = field(default_factory=list)

    @property
    def primaries(self) -> list[str]:
        return [s.service for s in self.servers if s.role == "primary"]

    @property
    def split_brain(self) -> bool:
        """More than one server takes writes as the primary."""
        return len(self.primaries) > 1

    def server(self, service: str) -> ServerReplication:
        for s in self.servers:
            if s.service == service:
                return s
        raise KeyError(service)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at, "primaries": self.primaries, "split_brain": self.split_brain,
                "servers": [asdict(s) for s in self.servers], "lags": [asdict(lag) for lag in self.lags]}


def server_containers(client: docker.DockerClient, run_id: str) -> dict[str, Any]:
    """The run's servers (role label `server`) by service name."""
    return {c.labels.get(labels.SERVICE, c.name): c for c in objects.find_containers(client, run_id)
            if c.labels.get(labels.ROLE) == "server"}


def probe_server(container: Any, service: str) -> ServerReplication:
    """One server's `replication-status`; unreachable when it is not running or does not answer."""
    if objects.state_of(container).status != "running":
        return ServerReplication(service, reachable=False, role=None, error="not running")
    try:
        result = objects.exec_in(container, ["replication-status"], timeout=15)
    except StackError as e:
        return ServerReplication(service, reachable=False, role=None, error=str(e))
    try:
        data = json.loads(result.output)
    except ValueError:
        return ServerReplication(service, reachable=False, role=None,
                                 error=f"replication-status printed no JSON: {result.output[:200]}")
    return ServerReplication.from_json(service, data)


def compute_lags(servers: list[ServerReplication], at: float) -> list[StandbyLag]:
    """Each standby against the server it follows (when that one answers as a primary)."""
    by_name = {s.service: s for s in servers}
    lags = []
    for standby in servers:
        if standby.role != "standby" or not standby.upstream:
            continue
        primary = by_name.get(standby.upstream)
        lag_bytes = None
        lag_seconds = None
        if primary is not None and primary.role == "primary" and primary.wal_bytes is not None \
                and standby.wal_bytes is not None:
            lag_bytes = max(0.0, primary.wal_bytes - standby.wal_bytes)
            # PostgreSQL forgets the replay lag once a standby is caught up.
            lag_seconds = primary.replica_lag_seconds.get(standby.service) or 0.0
        file_lag = None if standby.file_sync_at is None else max(0.0, at - standby.file_sync_at)
        lags.append(StandbyLag(standby.service, standby.upstream, lag_bytes, lag_seconds, file_lag,
                               standby.receiver == "streaming", standby.last_upload_on_disk))
    return lags


def probe_replication(client: docker.DockerClient, run_id: str) -> ReplicationStatus:
    """The replication state of every server of the run."""
    at = time.time()
    servers = [probe_server(container, service)
               for service, container in sorted(server_containers(client, run_id).items())]
    if not servers:
        raise StackError(f"run {run_id} has no servers")
    return ReplicationStatus(at, servers, compute_lags(servers, at))


def wait_answering(client: docker.DockerClient, run_id: str, timeout: float = 120.0
                   ) -> ReplicationStatus:
    """Probe until every server answers with a role (one that has just booted takes a while)."""
    deadline = time.monotonic() + timeout
    while True:
        status = probe_replication(client, run_id)
        if all(s.role is not None for s in status.servers) or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


def render(status: ReplicationStatus) -> list[str]:
    """Lines for a person: one per server, one per standby's lag, split brain loudly."""
    lines = []
    for s in status.servers:
        if not s.reachable or s.role is None:
            lines.append(f"{s.service:<10} {'down':<8} {s.error or ''}".rstrip())
            continue
        detail = f"timeline {s.timeline}"
        if s.role == "standby":
            detail += f", follows {s.upstream} ({s.receiver})"
        if s.promoted_at:
            when = time.strftime("%H:%M:%S", time.localtime(s.promoted_at))
            detail += f", promoted {when} ({s.promoted_by})"
        detail += f", {s.uploads} uploads"
        lines.append(f"{s.service:<10} {s.role:<8} {detail}")
    for lag in status.lags:
        parts = [f"{lag.standby} behind {lag.primary}:"]
        parts.append("WAL ?" if lag.lag_bytes is None else f"WAL {lag.lag_bytes:.0f} bytes")
        if lag.lag_seconds is not None:
            parts.append(f"{lag.lag_seconds:.2f} s")
        if lag.file_lag_seconds is not None:
            parts.append(f"files pulled {lag.file_lag_seconds:.1f} s ago")
        if lag.last_replicated_upload is not None:
            parts.append(f"last replicated upload {lag.last_replicated_upload.id}")
        lines.append(" ".join(parts[:1]) + " " + ", ".join(parts[1:]))
    if status.split_brain:
        lines.append(f"SPLIT BRAIN: {len(status.primaries)} primaries ({', '.join(status.primaries)}) "
                     "take writes independently; `drill failback` makes one follow the other")
    return lines
