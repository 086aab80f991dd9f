"""Drive faults on the real stack: one failing member, all members failing, slow and hung drives,
a full array."""

from __future__ import annotations

import hashlib
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator

import docker
import pytest
import requests

from chaos.engine.runstate import RunState
from chaos.faults.base import FaultContext
from chaos.faults.registry import make_fault
from chaos.stack.edge import wait_served_by
from chaos.stack.raid_ops import remount, scrub
from tests.conftest import Drill, SharedStack, shared_stack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.slow]


@pytest.fixture(scope="module")
def _disks(engine: docker.DockerClient, drill: Drill) -> Iterator[SharedStack]:
    with shared_stack(engine, drill) as shared:
        yield shared


@pytest.fixture
def disks(_disks: SharedStack, request: pytest.FixtureRequest) -> Iterator[tuple[RunState, FaultContext]]:
    """A stack of its own, sound before each test: these tests break its drives."""
    with _disks.for_test(request) as stack:
        yield stack


def upload(url: str, size: int = 16 * 1024, timeout: float = 10) -> requests.Response:
    return requests.post(f"{url}/upload", data=os.urandom(size), timeout=timeout)


def write_errors(ctx: FaultContext, drive: str) -> int:
    raid = ctx.machine("server-a").raid()
    return next(d.errors["write_io_errs"] for d in raid.devices if d.drive == drive)


def test_write_error_on_one_member_keeps_the_site_writable(disks: tuple[RunState, FaultContext],
                                                           figure: Callable[[str], None]) -> None:
    state, ctx = disks
    fault = make_fault("write-error")
    injection = fault.inject(ctx, "server-a/disk1")
    try:
        assert injection.confirmed, injection.evidence
        assert injection.latency is not None and injection.latency < 0.1
        counts = []
        for _ in range(3):
            answer = upload(state.edge_url or "")
            assert answer.status_code == 201 and answer.headers["X-Served-By"] == "server-a"
            ctx.machine("server-a").run("sync")
            counts.append(write_errors(ctx, "disk1"))
        assert counts[0] > 0 and counts[-1] > counts[0], counts  # rising
        assert write_errors(ctx, "disk2") == 0
        assert not ctx.machine("server-a").raid().read_only
    finally:
        fault.rollback(ctx, "server-a/disk1")
    before = write_errors(ctx, "disk1")
    for _ in range(3):
        assert upload(state.edge_url or "").status_code == 201
    ctx.machine("server-a").run("sync")
    assert write_errors(ctx, "disk1") == before  # rollback stopped the errors
    # disk1 missed the writes made while it failed: RAID1 does not resync it by
    # itself, a scrub does (copying from disk2), as an operator would run it.
    repaired = scrub(ctx.machine("server-a"))
    figure(f"scrub after the write errors on disk1: {repaired.errors} error(s), "
           f"{repaired.corrected} corrected, {repaired.uncorrectable} uncorrectable")
    assert repaired.corrected > 0 and repaired.uncorrectable == 0


def test_write_error_on_every_member_flips_read_only_until_remounted(disks: tuple[RunState, FaultContext],
                                                                     figure: Callable[[str], None]) -> None:
    state, ctx = disks
    url = state.edge_url or ""
    server_a = ctx.machine("server-a")
    earlier = upload(url)
    assert earlier.status_code == 201
    server_a.run("sync")  # committed: on disk in the filesystem's trees
    recent = upload(url)  # fsynced only: in btrfs's tree log
    assert recent.status_code == 201
    no_failover = make_fault("shutdown")  # the story of a single main server
    assert no_failover.inject(ctx, "dc-b").confirmed
    fault = make_fault("write-error")
    try:
        for drive in ("server-a/disk1", "server-a/disk2"):
            assert fault.inject(ctx, drive).confirmed
        flipped = time.monotonic()

        def read_only() -> bool:
            upload(url)  # writes make btrfs notice
            return server_a.raid().read_only
        wait_until(read_only, "the filesystem going read-only", interval=0.3)
        figure(f"read-only {time.monotonic() - flipped:.1f} s after the write errors began")
        # Refused with a 503 in the app's shape, never a 502: by the app (storage, database),
        # or while the machine mounts its array again read-only (its services restart).
        refused = upload(url)
        assert refused.status_code == 503, (refused.status_code, refused.text[:300])
        assert refused.json()["kind"] in ("storage", "database", "unavailable"), refused.text
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 503
        # The machine mounts the array again read-only from its last commit
        # (storage-watch), and the edge routes reads to it again.
        wait_until(lambda: server_a.run("test", "-e", "/run/machine/srv-readonly").exit_code == 0,
                   "the read-only fallback", interval=0.3)
        wait_until(lambda: requests.get(f"{url}/", timeout=10).status_code == 200,
                   "the edge serving pages from the read-only server-a", interval=0.3)
        # Steadily, for longer than the edge takes a failing server out (2 checks, 1 s
        # apart): the machine brings its services back in an order its health checks
        # never see half up (nginx serving pages while the app fails /readyz would be
        # taken out again a second later).
        steady_until = time.monotonic() + 3
        while time.monotonic() < steady_until:
            page = requests.get(f"{url}/", timeout=10)
            assert page.status_code == 200, ("/", page.status_code, page.text[:200])
            time.sleep(0.1)
        for path in ("/", "/about.html", "/static/style.css"):
            page = requests.get(f"{url}{path}", timeout=10)
            assert page.status_code == 200, (path, page.status_code, page.text[:200])
            assert page.headers["X-Served-By"] == "server-a"
        again = requests.get(f"{url}/upload/{earlier.json()['id']}", timeout=10)
        assert again.status_code == 200, again.text
        assert hashlib.sha256(again.content).hexdigest() == earlier.json()["sha256"]
        assert again.headers["X-Sha256"] == earlier.json()["sha256"]
        # PostgreSQL cannot run on a read-only array: what it renders is refused, and
        # the upload fsynced after the last commit (in the tree log, replayed only by
        # a read-write mount) is not there yet.
        rendered = requests.get(f"{url}/page/2", timeout=10)
        assert rendered.status_code == 503 and rendered.json()["kind"] == "database", rendered.text
        latest = requests.get(f"{url}/upload/{recent.json()['id']}", timeout=10)
        assert latest.status_code == 503, (latest.status_code, latest.text[:200])
        assert again.headers["X-Served-From"] == "disk"  # the file and its xattr, no database
        for drive in ("server-a/disk1", "server-a/disk2"):
            fault.rollback(ctx, drive)
        remount(server_a)
        assert not server_a.raid().read_only
        wait_served_by(url, "server-a")  # the edge's health checks rise again
        assert upload(url).status_code == 201
        assert requests.get(f"{url}/healthz", timeout=10).status_code == 200
        for acked in (earlier, recent):  # the tree log is replayed: nothing acknowledged lost
            read = requests.get(f"{url}/upload/{acked.json()['id']}", timeout=10)
            assert read.status_code == 200
            assert hashlib.sha256(read.content).hexdigest() == acked.json()["sha256"]
    finally:
        # Each undone on its own: a remount that fails must not leave dc-b off.
        for drive in ("server-a/disk1", "server-a/disk2"):
            fault.rollback(ctx, drive)
        try:
            if server_a.raid().read_only:
                remount(server_a)
        finally:
            no_failover.rollback(ctx, "dc-b")


def upload_latencies(url: str, count: int, size: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        assert upload(url, size, timeout=60).status_code == 201
        times.append(time.perf_counter() - started)
    return times


def test_slow_drive_raises_upload_latency(disks: tuple[RunState, FaultContext],
                                          figure: Callable[[str], None]) -> None:
    state, ctx = disks
    url = state.edge_url or ""
    before = upload_latencies(url, 10, 256 * 1024)
    fault = make_fault("slow", {"rate": "1M"})
    injection = fault.inject(ctx, "server-a/disk1")
    try:
        assert injection.confirmed, injection.evidence
        during = upload_latencies(url, 10, 256 * 1024)
    finally:
        fault.rollback(ctx, "server-a/disk1")
    figure(f"256 KiB uploads: median {statistics.median(before) * 1000:.0f} ms before, "
           f"{statistics.median(during) * 1000:.0f} ms with server-a/disk1 capped at 1 MB/s "
           f"({injection.evidence}; in effect {injection.latency:.2f} s after being asked)")
    assert statistics.median(during) > 2 * statistics.median(before)


def test_hang_stalls_writes_until_released(disks: tuple[RunState, FaultContext],
                                           figure: Callable[[str], None]) -> None:
    state, ctx = disks
    url = state.edge_url or ""
    fault = make_fault("hang")
    injection = fault.inject(ctx, "server-a/disk1")
    result: dict[str, object] = {}

    def write() -> None:
        started = time.perf_counter()
        result["status"] = upload(url, timeout=60).status_code
        result["seconds"] = time.perf_counter() - started

    writer = threading.Thread(target=write)
    try:
        assert injection.confirmed
        writer.start()
        writer.join(timeout=3)
        assert writer.is_alive(), f"the upload finished on a hung drive: {result}"
    finally:
        released = time.perf_counter()
        fault.rollback(ctx, "server-a/disk1")
    writer.join(timeout=30)
    assert result.get("status") == 201
    figure(f"upload held by a hung drive completed {time.perf_counter() - released:.2f} s "
           f"after release, {result.get('seconds', 0):.1f} s in all")


def free_bytes(ctx: FaultContext) -> int:
    out = ctx.machine("server-a").run("stat", "-f", "-c", "%a %S", "/srv").output.split()
    return int(out[0]) * int(out[1])


def test_a_full_array_refuses_uploads_until_the_space_is_freed(disks: tuple[RunState, FaultContext],
                                                               figure: Callable[[str], None]) -> None:
    state, ctx = disks
    url = state.edge_url or ""
    kept = upload(url)
    assert kept.status_code == 201
    free_before = free_bytes(ctx)
    fault = make_fault("full")
    injection = fault.inject(ctx, "server-a")
    try:
        assert injection.confirmed, injection.evidence
        assert free_bytes(ctx) < 2 * 2**20  # not a MiB or two left
        refused = upload(url, 256 * 1024)
        assert refused.status_code == 503, refused.text[:200]
        assert refused.json()["kind"] in ("storage", "database"), refused.text
        assert "ENOSPC" in refused.text or "space" in refused.text, refused.text
    finally:
        fault.rollback(ctx, "server-a")
    freed = free_bytes(ctx)
    figure(f"full: {free_before / 2**20:.0f} MiB free before, "
           f"{freed / 2**20:.0f} MiB after the rollback")
    assert freed > free_before * 0.9  # the ballast is gone
    wait_until(lambda: upload(url).status_code == 201, "uploads taken again after the rollback",
               timeout=60, interval=0.5)
    read = requests.get(f"{url}/upload/{kept.json()['id']}", timeout=10)
    assert hashlib.sha256(read.content).hexdigest() == kept.json()["sha256"]


@pytest.mark.parametrize("args, expected", [
    (["inject", "wirte-error", "server-a/disk1"], "did you mean 'write-error'"),
    (["inject", "write-error", "server-z/disk1"], "servers: backup, server-a, server-b"),
    (["inject", "write-error", "server-a/disk9"], "drives: disk1, disk2, disk3"),
    (["inject", "write-error", "server-a"], "write SERVER/DRIVE"),
    (["inject", "slow", "server-a/disk1", "--set", "speed=1M"], "parameters: rate"),
])
def test_unknown_fault_or_target_is_a_clear_error(disks: tuple[RunState, FaultContext],
                                                  drill: Drill, args: list[str], expected: str) -> None:
    state, _ = disks
    result = drill.run(*args, "--run", state.run_id, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert expected in result.stderr and "Traceback" not in result.stderr
