"""What the stack itself went through during a drill: RAID, rebuilds, roles, lag, containers.

A background thread samples every server of the run every few seconds — one
`docker exec` per server asks for the array, replication and rebuild state at
once — and appends each sample to `stack/samples.jsonl`.  Changes of state
(an array degraded or read-only, a rebuild started or failed, a standby
promoted, a container stopped, two primaries) become events for the result
and the report.  Sampling never fails a drill: a machine that does not answer
is recorded as unreachable.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import docker

from chaos.engine import labels, objects
from chaos.errors import StackError

#: Seconds between two samples.  Each costs one exec per server: cheap, but the
#: machine has few cores and the load generator needs them.
INTERVAL = 2.0
_SEPARATOR = "\x1e"
#: One exec: the array, the replication role and the rebuild (btrfs replace) state.
_PROBE = ("raid-status; printf '\\036'; replication-status; printf '\\036'; "
          "btrfs replace status -1 /srv 2>&1")


@dataclass(frozen=True)
class StackEvent:
    """A change of state seen on one machine (or across them, for split brain)."""

    at: float
    target: str
    #: raid, rebuild, role, split-brain, container
    kind: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class ServerSample:
    """One server at one moment."""

    at: float
    target: str
    #: healthy, degraded, read-only, lost, unmounted, unreachable
    raid: str
    #: primary, standby, down
    role: str
    lag_bytes: float | None = None
    lag_seconds: float | None = None
    #: none, running, finished, failed (btrfs replace)
    rebuild: str = "none"
    rebuild_percent: float | None = None


def raid_state(data: Mapping[str, Any] | None) -> str:
    """The array in one word, worst first."""
    from chaos.stack.raid import RaidStatus

    if data is None:
        return "unreachable"
    raid = RaidStatus.from_json(dict(data))
    if not raid.mounted:
        return "unmounted"
    if raid.lost:
        return "lost"
    if raid.read_only:
        return "read-only"
    if raid.degraded:
        return "degraded"
    return "healthy" if raid.healthy else "errors"


def rebuild_state(text: str) -> tuple[str, float | None]:
    """`btrfs replace status -1` in one word, with the percentage when it runs."""
    from chaos.stack.raid_ops import replace_percent

    lowered = text.lower()
    percent = replace_percent(text)
    if "never started" in lowered or not lowered.strip():
        return "none", None
    if "finished" in lowered:
        return "finished", 100.0
    if "canceled" in lowered or "cancelled" in lowered or "failed" in lowered:
        return "failed", percent
    if "started" in lowered or percent is not None:
        return "running", percent
    return "none", None


def parse_probe(target: str, at: float, output: str
                ) -> tuple[ServerSample, dict[str, Any] | None]:
    """One server's combined probe output: the sample, and its replication JSON for lags."""
    parts = output.split(_SEPARATOR)
    raid_json = _json(parts[0]) if parts else None
    replication = _json(parts[1]) if len(parts) > 1 else None
    rebuild, percent = rebuild_state(parts[2]) if len(parts) > 2 else ("none", None)
    role = str((replication or {}).get("role") or "down")
    return ServerSample(at, target, raid_state(raid_json), role, rebuild=rebuild,
                        rebuild_percent=percent), replication


def _json(text: str) -> dict[str, Any] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def with_lags(samples: list[ServerSample], replication: Mapping[str, dict[str, Any] | None]
              ) -> list[ServerSample]:
    """Each standby's lag behind its primary, from the servers' replication reports."""
    from chaos.stack.replication import ServerReplication, compute_lags

    servers = [ServerReplication.from_json(name, data) for name, data in replication.items()
               if data is not None]
    at = max((s.at for s in samples), default=time.time())
    lags = {lag.standby: lag for lag in compute_lags(servers, at)}
    out = []
    for sample in samples:
        lag = lags.get(sample.target)
        if lag is None:
            out.append(sample)
            continue
        out.append(ServerSample(sample.at, sample.target, sample.raid, sample.role,
                                lag.lag_bytes, lag.lag_seconds, sample.rebuild,
                                sample.rebuild_percent))
    return out


class ChangeTracker:
    """Turns successive samples into events: only what changed."""

    def __init__(self) -> None:
        self.last: dict[tuple[str, str], str] = {}
        self.events: list[StackEvent] = []

    def see(self, at: float, target: str, kind: str, state: str, detail: str = "") -> None:
        key = (target, kind)
        if self.last.get(key) == state:
            return
        first = key not in self.last
        self.last[key] = state
        # The first look at a healthy machine is not news; anything else is.
        if first and state in ("healthy", "none", "running", "no", "standby", "primary"):
            return
        self.events.append(StackEvent(at, target, kind, state, detail))

    def see_sample(self, sample: ServerSample) -> None:
        self.see(sample.at, sample.target, "raid", sample.raid)
        percent = f"{sample.rebuild_percent:.0f}% done" if sample.rebuild_percent is not None else ""
        self.see(sample.at, sample.target, "rebuild", sample.rebuild, percent)
        self.see(sample.at, sample.target, "role", sample.role)

    def see_primaries(self, at: float, primaries: list[str]) -> None:
        state = "yes" if len(primaries) > 1 else "no"
        self.see(at, "stack", "split-brain", state, ", ".join(primaries) if state == "yes" else "")


class StackMonitor:
    """Samples the run's machines in a thread until stopped; see `events`."""

    def __init__(self, client: docker.DockerClient, run_id: str, out_dir: Path,
                 interval: float = INTERVAL, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self.run_id = run_id
        self.path = out_dir / "stack" / "samples.jsonl"
        self.interval = interval
        self.clock = clock
        self.tracker = ChangeTracker()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def events(self) -> list[StackEvent]:
        return list(self.tracker.events)

    def start(self) -> StackMonitor:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._loop, name="stack-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        with self.path.open("a") as out:
            while not self._stop.is_set():
                try:
                    for sample in self.sample():
                        out.write(json.dumps(asdict(sample)) + "\n")
                    out.flush()
                except Exception:  # noqa: BLE001 — a look that fails must never end the drill
                    pass
                self._stop.wait(self.interval)

    def sample(self) -> list[ServerSample]:
        """One look at every container (state) and every server (array, role, rebuild)."""
        at = self.clock()
        samples: list[ServerSample] = []
        replication: dict[str, dict[str, Any] | None] = {}
        for container in objects.find_containers(self.client, self.run_id):
            service = container.labels.get(labels.SERVICE, container.name)
            status = objects.state_of(container).status
            self.tracker.see(at, service, "container", status)
            if container.labels.get(labels.ROLE) != "server":
                continue
            if status != "running":
                samples.append(ServerSample(at, service, "unreachable", "down"))
                replication[service] = None
                continue
            try:
                output = objects.exec_in(container, ["sh", "-c", _PROBE], timeout=15).output
            except StackError:
                samples.append(ServerSample(at, service, "unreachable", "down"))
                replication[service] = None
                continue
            sample, replication[service] = parse_probe(service, at, output)
            samples.append(sample)
        samples = with_lags(samples, replication)
        for sample in samples:
            self.tracker.see_sample(sample)
        if samples:
            self.tracker.see_primaries(at, [s.target for s in samples if s.role == "primary"])
        return samples
