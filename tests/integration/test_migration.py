"""The live array migration on the real stack: /srv moves onto new drives under a stream of uploads."""

from __future__ import annotations

import hashlib
import json
import random
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker
import pytest
import requests

from chaos.engine import objects
from chaos.engine.runstate import RunState
from chaos.faults.base import FaultContext
from chaos.faults.registry import make_fault
from chaos.load.verify import read_back
from chaos.measure.loss import assess_loss
from chaos.records import Ack
from chaos.stack.drives import server_drives
from chaos.stack.migration import Method, MigrationEvent, describe, members_of, mib, migrate
from tests.conftest import Drill, SharedStack, shared_stack

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.slow]

#: One upload every this many seconds, one at a time: a blocked write shows as a gap.
CADENCE = 0.05
#: The new drives' bandwidth during the migration: long enough to see, the 24 hours in miniature.
TARGET_RATE = "32M"


@pytest.fixture(scope="module")
def _array(engine: docker.DockerClient, drill: Drill) -> Iterator[SharedStack]:
    # One server's array: server-b must not take over while server-a reboots.
    # 4 GB drives (sparse): the second migration runs over chunks the first
    # allocated, and on 2 GB drives a `device remove` once ran out of space
    # and turned the array read-only.
    with shared_stack(engine, drill, "--drives", "4", "--set", "DRILL_BACKUP_INTERVAL=3600",
                      "--set", "DRILL_PROMOTE_AFTER=0", "--set", "DRILL_DRIVE_SIZE_MB=4096") as shared:
        yield shared


@pytest.fixture
def array(_array: SharedStack, request: pytest.FixtureRequest) -> Iterator[tuple[RunState, FaultContext]]:
    """Two members and two spares, sound before each test; backups only when asked for
    (they would read the array)."""
    with _array.for_test(request) as stack:
        yield stack


@dataclass(frozen=True)
class Attempt:
    """One upload as the customer saw it."""

    id: str
    start: float
    end: float
    status: int
    sha256: str
    size: int
    served_by: str

    @property
    def ok(self) -> bool:
        return self.status == 201


class Uploader(threading.Thread):
    """POSTs /upload through the edge every CADENCE seconds, one at a time, and keeps every answer."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(name=f"uploader-{prefix}", daemon=True)
        self.url, self.prefix = url, prefix
        self.attempts: list[Attempt] = []
        self.stopping = threading.Event()
        self.random = random.Random(prefix)

    def run(self) -> None:
        session = requests.Session()
        due = time.monotonic()
        while not self.stopping.is_set():
            body = self.random.randbytes(self.random.randint(16 << 10, 256 << 10))
            upload_id = f"{self.prefix}-{len(self.attempts):05d}"
            start = time.time()
            try:
                answer = session.post(f"{self.url}/upload", data=body, timeout=30,
                                      headers={"X-Upload-Id": upload_id})
                status, served_by = answer.status_code, answer.headers.get("X-Served-By", "")
            except requests.RequestException:
                status, served_by = 0, ""
            self.attempts.append(Attempt(upload_id, start, time.time(), status,
                                         hashlib.sha256(body).hexdigest(), len(body), served_by))
            due += CADENCE
            time.sleep(max(0.0, due - time.monotonic()))
            due = max(due, time.monotonic())

    def stop(self) -> list[Attempt]:
        self.stopping.set()
        self.join(60)
        return self.attempts


@dataclass(frozen=True)
class WritesBlocked:
    """What the upload stream felt while the array moved."""

    uploads: int
    failed: int
    failed_seconds: float
    #: The longest time without an acknowledgement (an upload normally lands every CADENCE s).
    longest_gap: float
    longest_upload: float
    median_upload: float
    #: The median upload before the migration began, for comparison.
    median_before: float


def writes_blocked(attempts: list[Attempt], start: float, end: float) -> WritesBlocked:
    during = [a for a in attempts if a.end >= start and a.start <= end]
    acked = sorted(a.end for a in attempts if a.ok)
    # Gaps between acknowledgements around the window: the one before it starts counts too.
    inside = [t for t in acked if start <= t <= end]
    before = [t for t in acked if t < start][-1:]
    after = [t for t in acked if t > end][:1]
    edges = before + inside + after
    gaps = [b - a for a, b in zip(edges, edges[1:], strict=False)]
    failed = [a for a in during if not a.ok]
    latencies = [a.end - a.start for a in during] or [0.0]
    baseline = [a.end - a.start for a in attempts if a.end < start] or [0.0]
    return WritesBlocked(len(during), len(failed), sum(a.end - a.start for a in failed),
                         max(gaps, default=end - start), max(latencies), statistics.median(latencies),
                         statistics.median(baseline))


def seed(url: str, count: int) -> list[Ack]:
    """`count` uploads of 64 KiB-1 MiB, so the migration has data to move."""
    rng = random.Random(count)
    bodies = [rng.randbytes(rng.randint(64 << 10, 1 << 20)) for _ in range(count)]

    def one(body: bytes) -> Ack:
        answer = requests.post(f"{url}/upload", data=body, timeout=30)
        assert answer.status_code == 201, answer.text
        data = answer.json()
        return Ack(data["id"], data["sha256"], data["size"], time.time())

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, bodies))


@pytest.mark.parametrize("method", [Method.REPLACE, Method.ADD_REMOVE])
def test_live_migration_under_uploads_keeps_every_upload(array: tuple[RunState, FaultContext],
                                                         method: Method,
                                                         figure: Callable[[str], None]) -> None:
    state, ctx = array
    url = state.edge_url or ""
    server = ctx.machine("server-a")
    drives = server_drives(ctx.run_dir, "server-a")
    before = server.raid()
    assert before.healthy and len(before.devices) == 2 and len(before.spares) == 2
    seeded = seed(url, 300)
    slow = make_fault("slow", {"rate": TARGET_RATE})
    for spare in before.spares:
        assert slow.inject(ctx, f"server-a/{spare}").confirmed
    events: list[MigrationEvent] = []
    uploader = Uploader(url, f"mig-{method}")
    uploader.start()
    try:
        time.sleep(2)  # a baseline of the stream before the move
        result = migrate(server, None, drives=drives, method=method, cutover=True,
                         on_event=events.append)
        time.sleep(2)
    finally:
        attempts = uploader.stop()
        for spare in before.spares:
            slow.rollback(ctx, f"server-a/{spare}")

    blocked = writes_blocked(attempts, result.started_at, result.ended_at)
    acks = seeded + [Ack(a.id, a.sha256, a.size, a.end) for a in attempts if a.ok]
    loss = assess_loss(acks, read_back(url, acks))
    figure(describe(result))
    figure(f"migration ({method}, new drives capped at {TARGET_RATE}B/s): {result.seconds:.1f} s, "
           f"{mib(result.bytes_moved)} moved ({mib(result.bytes_written)} written to the new drives), "
           f"writes frozen at the cut-over {(result.cutover_seconds or 0) * 1000:.0f} ms")
    figure(f"uploads during it: {blocked.uploads}, failed {blocked.failed} "
           f"({blocked.failed_seconds:.2f} s), longest gap between acknowledgements "
           f"{blocked.longest_gap * 1000:.0f} ms (cadence {CADENCE * 1000:.0f} ms), longest upload "
           f"{blocked.longest_upload * 1000:.0f} ms, median {blocked.median_upload * 1000:.0f} ms "
           f"(before: {blocked.median_before * 1000:.0f} ms)")
    figure(f"read back: {loss.intact} of {loss.acknowledged} intact "
           f"({len(seeded)} seeded, {loss.acknowledged - len(seeded)} during)")

    after = server.raid()
    assert members_of(after) == sorted(before.spares) == result.new_drives
    assert sorted(after.spares) == sorted(d.drive for d in before.devices)  # the old ones are free
    assert after.healthy and not after.degraded and after.data_profile == "RAID1"
    assert result.bytes_moved > 2 * 100 * 2**20  # both copies of >100 MiB of uploads
    assert result.cutover is not None and result.cutover.seconds < 2.0
    assert [s.name for s in result.steps][-1] == "cut-over"
    assert any(e.percent is not None and 0 < e.percent < 100 for e in events), events
    assert blocked.uploads >= 20, "the stream did not flow during the migration"
    assert blocked.failed == 0, [a for a in attempts if not a.ok][:5]
    assert {a.served_by for a in attempts} == {"server-a"}  # no failover: the site stayed up
    assert loss.intact == len(acks), loss


def test_drill_migrate_moves_the_array_and_refuses_bad_input(array: tuple[RunState, FaultContext],
                                                             drill: Drill,
                                                             figure: Callable[[str], None]) -> None:
    state, ctx = array
    run = ("--run", state.run_id)
    unknown = drill.run("migrate", *run, "--server", "server-c", check=False)
    assert unknown.returncode == 2 and "servers: backup, server-a, server-b" in unknown.stderr
    members = members_of(ctx.machine("server-a").raid())
    bad = drill.run("migrate", *run, "--to", f"disk9,{members[0]}", check=False)
    assert bad.returncode == 2 and "drives: disk1, disk2, disk3, disk4" in bad.stderr
    taken = drill.run("migrate", *run, "--to", ",".join(members), check=False)
    assert taken.returncode == 2 and "already a member" in taken.stderr and "spares:" in taken.stderr
    assert "Traceback" not in unknown.stderr + bad.stderr + taken.stderr

    moved = drill.run("migrate", *run, "--method", "add-remove", "--cutover", "--json")
    data = json.loads(moved.stdout)
    figure(f"drill migrate: {data['seconds']:.1f} s, {data['bytes_moved'] / 2**20:.1f} MiB moved, "
           f"cut-over {data['cutover_seconds'] * 1000:.0f} ms; steps: "
           + ", ".join(f"{s['name']} {s['seconds']:.2f} s" for s in data["steps"]))
    assert data["old_drives"] == members and data["new_drives"] != members
    assert data["raid_after"]["members"] == data["new_drives"] and data["raid_after"]["healthy"]
    assert members_of(ctx.machine("server-a").raid()) == data["new_drives"]


def test_a_migrated_server_boots_again_from_its_new_drives(array: tuple[RunState, FaultContext]
                                                          ) -> None:
    """The array lives on other drives than at the first boot: a restart must find them."""
    _, ctx = array
    before = members_of(ctx.machine("server-a").raid())
    make_fault("power-off").inject(ctx, "server-a")
    make_fault("power-off").rollback(ctx, "server-a")
    deadline = time.monotonic() + 180
    while objects.state_of(ctx.machine("server-a").container).health != "healthy":
        assert time.monotonic() < deadline, "server-a did not come back after the power-off"
        time.sleep(0.5)
    after = ctx.machine("server-a").raid()
    assert members_of(after) == before and after.mounted and not after.read_only
