"""Rebuilds, scrubs and restores on the real stack: the storage stories, end to end."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import docker
import pytest
import requests

from chaos.engine.runstate import RunState
from chaos.errors import StackError
from chaos.faults.base import FaultContext
from chaos.faults.registry import make_fault
from chaos.load.verify import read_back
from chaos.measure.loss import assess_loss
from chaos.records import Ack
from chaos.stack import raid_ops
from chaos.stack.backups import take_backup
from chaos.stack.drives import resolve_drive
from chaos.stack.edge import wait_served_by
from tests.conftest import Drill, SharedStack, shared_stack

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.slow]


@pytest.fixture(scope="module")
def _array(engine: docker.DockerClient, drill: Drill) -> Iterator[SharedStack]:
    with shared_stack(engine, drill, "--set", "DRILL_BACKUP_INTERVAL=3600") as shared:
        yield shared


#: Every upload the tests of this module had acknowledged, by run: what the stack must hold.
LEDGER: dict[str, list[Ack]] = {}


@pytest.fixture
def array(_array: SharedStack, request: pytest.FixtureRequest) -> Iterator[tuple[RunState, FaultContext]]:
    """A stack of its own, sound before each test, backups only when asked for."""
    with _array.for_test(request) as stack:
        yield stack


def uploads(url: str, count: int, size: int = 24 * 1024, *, run_id: str = "") -> list[Ack]:
    """`count` uploads acknowledged through the edge (and kept in the run's LEDGER)."""
    acks = []
    for _ in range(count):
        answer = requests.post(f"{url}/upload", data=os.urandom(size), timeout=20)
        assert answer.status_code == 201, answer.text
        data = answer.json()
        acks.append(Ack(data["id"], data["sha256"], data["size"], 0.0))
    LEDGER.setdefault(run_id, []).extend(acks)
    return acks


def test_dead_member_replaced_onto_the_spare(array: tuple[RunState, FaultContext]) -> None:
    state, ctx = array
    url = state.edge_url or ""
    acks = uploads(url, 20, run_id=state.run_id)
    server = ctx.machine("server-a")
    dead = make_fault("dead")
    assert dead.inject(ctx, "server-a/disk1").confirmed
    progress: list[float] = []
    result = raid_ops.replace(server, "disk1", resolve_drive(ctx.run_dir, "server-a/disk3"),
                              on_progress=progress.append)
    assert result.finished, result.status
    raid = server.raid()
    assert sorted(d.drive for d in raid.devices) == ["disk2", "disk3"]
    assert raid.healthy and not raid.degraded and raid.data_profile == "RAID1"
    loss = assess_loss(acks, read_back(url, acks))
    assert loss.intact == len(acks), loss
    dead.rollback(ctx, "server-a/disk1")  # the technician pulls the dead drive: disk1 is the spare now


def test_bitrot_on_one_member_is_repaired_by_scrub(array: tuple[RunState, FaultContext],
                                                   figure: Callable[[str], None]) -> None:
    state, ctx = array
    url = state.edge_url or ""
    acks = uploads(url, 20, run_id=state.run_id)
    injection = make_fault("bitrot", {"blocks": "4"}).inject(ctx, "server-a/disk2")
    assert injection.confirmed, injection.evidence
    found = raid_ops.scrub(ctx.machine("server-a"))
    figure(f"bitrot: {injection.evidence}; scrub found {found.errors}, corrected {found.corrected}")
    assert found.errors >= len(injection.affected) and found.corrected >= len(injection.affected)
    assert found.uncorrectable == 0
    loss = assess_loss(acks, read_back(url, acks))
    assert loss.intact == len(acks)


def test_fs_corruption_passes_scrub_and_is_repaired_by_a_restore(
        array: tuple[RunState, FaultContext]) -> None:
    state, ctx = array
    url = state.edge_url or ""
    uploads(url, 10, run_id=state.run_id)
    every = list(LEDGER[state.run_id])  # this module's uploads on this stack, all of them
    backup = take_backup(ctx.machine("backup"))
    damage = make_fault("fs-corruption", {"files": "4"}).inject(ctx, "server-a")
    assert damage.confirmed and len(set(damage.affected)) == 4, damage.affected
    assert set(damage.affected) <= {a.id for a in every}  # uploads, never another file of /srv
    assert raid_ops.scrub(ctx.machine("server-a")).errors == 0  # every mirror agrees on the damage
    # Read back as a customer would: exactly the files the fault overwrote are corrupt.
    before = assess_loss(every, read_back(url, every))
    assert set(before.corrupt_ids) == set(damage.affected), (before.corrupt_ids, damage.affected)
    assert before.missing == 0 and before.intact == len(every) - 4, before
    raid_ops.restore(ctx.machine("server-a"), "backup", backup.name)
    wait_served_by(url, "server-a")
    after = assess_loss(every, read_back(url, every))
    assert after.intact == len(every), after


def test_spare_added_then_member_removed_keeps_every_upload(array: tuple[RunState, FaultContext],
                                                            figure: Callable[[str], None]) -> None:
    state, ctx = array
    url = state.edge_url or ""
    acks = uploads(url, 15, run_id=state.run_id)
    server = ctx.machine("server-a")
    members = sorted(d.drive for d in server.raid().devices)
    spare = next(d for d in ("disk1", "disk2", "disk3") if d not in members)
    with pytest.raises(StackError, match="failed"):
        raid_ops.remove(server, members[0])  # RAID1 cannot go below two devices
    raid_ops.add(server, resolve_drive(ctx.run_dir, f"server-a/{spare}"))
    seconds = raid_ops.remove(server, members[0])
    raid = server.raid()
    figure(f"member {members[0]} removed (its data moved) in {seconds:.2f} s")
    assert sorted(d.drive for d in raid.devices) == sorted([members[1], spare])
    assert raid.healthy and raid.data_profile == "RAID1"
    assert assess_loss(acks, read_back(url, acks)).intact == len(acks)


def test_failed_rebuild_loses_the_array_and_a_restore_loses_what_came_after_the_backup(
        array: tuple[RunState, FaultContext], figure: Callable[[str], None]) -> None:
    state, ctx = array
    url = state.edge_url or ""
    server = ctx.machine("server-a")
    uploads(url, 15, run_id=state.run_id)
    before_backup = list(LEDGER[state.run_id])
    backup = take_backup(ctx.machine("backup"))
    after_backup = uploads(url, 15, run_id=state.run_id)
    members = sorted(d.drive for d in server.raid().devices)
    spares = [d for d in ("disk1", "disk2", "disk3") if d not in members]
    source, mirror = members
    dead, unreadable, slow = make_fault("dead"), make_fault("read-error"), make_fault("slow", {"rate": "2M"})
    assert dead.inject(ctx, f"server-a/{source}").confirmed
    assert slow.inject(ctx, f"server-a/{spares[0]}").confirmed  # a rebuild long enough to break
    result = raid_ops.replace(
        server, source, resolve_drive(ctx.run_dir, f"server-a/{spares[0]}"),
        during=lambda: unreadable.inject(ctx, f"server-a/{mirror}"))
    figure(f"rebuild with the mirror failing: {result.state} after {result.seconds:.1f} s: "
           f"{result.status}")
    assert not result.finished
    assert server.raid().lost
    for fault, drive in ((dead, source), (unreadable, mirror), (slow, spares[0])):
        fault.rollback(ctx, f"server-a/{drive}")
    seconds = raid_ops.restore(server, "backup", backup.name).seconds
    seconds += wait_served_by(url, "server-a")
    figure(f"restore from {backup.name}: healthy after {seconds:.1f} s")
    # Story 000: exactly what was acknowledged after the backup is gone, nothing before it.
    every = before_backup + after_backup
    loss = assess_loss(every, read_back(url, every))
    assert set(loss.missing_ids) == {a.id for a in after_backup}, loss
    assert loss.intact == len(before_backup) and loss.corrupt == 0, loss
