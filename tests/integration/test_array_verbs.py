"""The array and backup verbs of the CLI, as an operator types them, and the rolling backups.

`drill raid` (probe, fail, replace, scrub, add, remove, remount), `drill backup` (take,
list), `drill restore`; the backup host's rolling backups: one every interval, the
last N kept, files hard-linked to the previous backup.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable, Iterator

import docker
import pytest
import requests

from chaos.engine.runstate import RunState
from chaos.faults import active
from chaos.faults.base import FaultContext
from chaos.load.verify import read_back
from chaos.measure.loss import assess_loss
from chaos.records import Ack
from chaos.stack.backups import list_backups
from tests.conftest import Drill, SharedStack, own_stack, shared_stack, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.slow]


@pytest.fixture(scope="module")
def _verbs(engine: docker.DockerClient, drill: Drill) -> Iterator[SharedStack]:
    with shared_stack(engine, drill, "--set", "DRILL_BACKUP_INTERVAL=3600") as shared:
        yield shared


@pytest.fixture
def verbs(_verbs: SharedStack, request: pytest.FixtureRequest) -> Iterator[tuple[RunState, FaultContext]]:
    """A stack of its own, sound before each test; backups only when asked for."""
    with _verbs.for_test(request) as stack:
        yield stack


def uploads(url: str, count: int) -> list[Ack]:
    acks = []
    for _ in range(count):
        answer = requests.post(f"{url}/upload", data=os.urandom(16 * 1024), timeout=20)
        assert answer.status_code == 201, answer.text
        data = answer.json()
        acks.append(Ack(data["id"], data["sha256"], data["size"], time.time()))
    return acks


def raid_json(drill: Drill, run_id: str, *args: str) -> dict:
    return json.loads(drill.run("raid", "server-a", *args, "--run", run_id, "--json").stdout)


def members(probe: dict) -> list[str]:
    return sorted(d["drive"] for d in probe["devices"])


def test_drill_raid_takes_an_array_through_a_drive_failure_as_an_operator_would(
        verbs: tuple[RunState, FaultContext], drill: Drill) -> None:
    state, ctx = verbs
    run = state.run_id
    acks = uploads(state.edge_url or "", 10)
    probe = raid_json(drill, run)
    assert probe["healthy"] and members(probe) == ["disk1", "disk2"] and probe["spares"] == ["disk3"]

    failed = drill.run("raid", "server-a", "fail", "disk1", "--run", run)
    assert failed.stdout.startswith("dead on server-a/disk1: in effect "), failed.stdout
    assert [(i.fault, i.target) for i in active.active(ctx.run_dir)] == [("dead", "server-a/disk1")]

    replaced = drill.run("raid", "server-a", "replace", "disk1", "disk3", "--run", run)
    assert re.search(r"replace finished after [0-9.]+ s", replaced.stdout), replaced.stdout
    probe = raid_json(drill, run)
    assert members(probe) == ["disk2", "disk3"] and probe["healthy"] and not probe["degraded"]

    scrubbed = drill.run("raid", "server-a", "scrub", "--run", run)
    assert "scrub: 0 error(s), 0 corrected, 0 uncorrectable" in scrubbed.stdout, scrubbed.stdout

    drill.run("rollback", "dead", "server-a/disk1", "--run", run)  # the technician's new drive
    assert active.active(ctx.run_dir) == []
    drill.run("raid", "server-a", "add", "disk1", "--run", run)
    assert members(raid_json(drill, run)) == ["disk1", "disk2", "disk3"]
    drill.run("raid", "server-a", "remove", "disk2", "--run", run)
    assert members(raid_json(drill, run)) == ["disk1", "disk3"]
    remounted = drill.run("raid", "server-a", "remount", "--run", run)
    assert "rw" in remounted.stdout and "healthy" in remounted.stdout, remounted.stdout

    loss = assess_loss(acks, read_back(state.edge_url or "", acks))
    assert loss.intact == len(acks), loss


@pytest.mark.parametrize("args, expected", [
    (["replace", "{member}"], "replace needs SOURCE and TARGET drives"),
    (["add"], "add needs one drive"),
    (["fail", "disk9"], "drives: disk1, disk2, disk3"),
    (["replace", "{spare}", "{member}"], "{spare} is not a member of the array"),
])
def test_drill_raid_refuses_bad_input_with_exit_2(verbs: tuple[RunState, FaultContext], drill: Drill,
                                                  args: list[str], expected: str) -> None:
    state, ctx = verbs
    raid = ctx.machine("server-a").raid()
    names = {"member": raid.devices[0].drive, "spare": raid.spares[0]}
    ran = drill.run("raid", "server-a", *(a.format(**names) for a in args), "--run", state.run_id,
                    check=False)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert expected.format(**names) in ran.stderr and "Traceback" not in ran.stderr


def test_drill_backup_and_restore_bring_back_exactly_what_the_backup_held(
        verbs: tuple[RunState, FaultContext], drill: Drill, figure: Callable[[str], None]) -> None:
    state, _ = verbs
    url, run = state.edge_url or "", state.run_id
    before = uploads(url, 8)
    taken = drill.run("backup", "take", "--run", run)
    found = re.match(r"(b-\S+)  of server-a, (\d+) uploads, taken in ([0-9.]+) s", taken.stdout)
    assert found is not None, taken.stdout
    name = found[1]
    assert int(found[2]) >= len(before)
    assert name in drill.run("backup", "list", "--run", run).stdout
    after = uploads(url, 5)

    restored = drill.run("restore", "server-a", "--backup", name, "--run", run, timeout=900)
    seconds = re.search(r"restored from (\S+) and healthy after ([0-9.]+) s", restored.stdout)
    assert seconds is not None and seconds[1] == name, restored.stdout
    figure(f"drill restore server-a --backup {name}: healthy after {seconds[2]} s")
    every = before + after
    loss = assess_loss(every, read_back(url, every))
    assert set(loss.missing_ids) == {a.id for a in after}, loss
    assert loss.intact == len(before) and loss.corrupt == 0, loss

    refused = drill.run("restore", "server-a", "--backup", "b-nope", "--run", run, check=False)
    assert refused.returncode == 2 and "no backup 'b-nope' (backups: " in refused.stderr


def backups_taken(engine: docker.DockerClient, state: RunState) -> int:
    from chaos.engine import objects

    logs = objects.service_container(engine, state.run_id, "backup").logs().decode(errors="replace")
    return logs.count("backup-ctl: took ")


def test_rolling_backups_come_every_interval_keep_the_last_n_and_share_unchanged_files(
        engine: docker.DockerClient, drill: Drill, figure: Callable[[str], None]) -> None:
    interval, keep = 3, 3
    with own_stack(engine, drill, "--set", f"DRILL_BACKUP_INTERVAL={interval}",
                   "--set", f"DRILL_BACKUP_KEEP={keep}") as (state, ctx):
        url = state.edge_url or ""
        [old] = uploads(url, 1)
        wait_until(lambda: backups_taken(engine, state) >= keep + 2,
                   f"{keep + 2} rolling backups", timeout=interval * (keep + 2) * 4 + 30, interval=1)
        [new] = uploads(url, 1)
        marked = time.time()
        wait_until(lambda: any(b.taken_at > marked for b in list_backups(ctx.machine("backup"))),
                   "a backup after the second upload", timeout=interval * 6 + 30, interval=0.5)
        backups = list_backups(ctx.machine("backup"))
        names = [b.name for b in backups]
        assert len(backups) == keep, names  # older ones removed
        assert names == sorted(names)
        gaps = [b.taken_at - a.taken_at for a, b in zip(backups, backups[1:], strict=False)]
        figure(f"rolling backups every {interval} s, keep {keep}: {backups_taken(engine, state)} "
               f"taken, gaps {', '.join(f'{g:.1f}' for g in gaps)} s")
        assert all(interval - 0.5 <= g <= interval + 10 for g in gaps), gaps

        host = ctx.machine("backup")
        inodes = []
        for backup in backups:
            path = f"/backup/{backup.name}/files/uploads"
            stat = host.run("stat", "-c", "%i %h", f"{path}/{old.id}").output.split()
            inodes.append(stat[0])
            assert int(stat[1]) >= 2, f"{old.id} in {backup.name} is not hard-linked: {stat}"
            has_new = host.run("test", "-e", f"{path}/{new.id}").exit_code == 0
            assert has_new == (backup.taken_at > new.acknowledged_at), (backup.name, has_new)
        assert len(set(inodes)) == 1, inodes  # one file on disk, linked into every backup
        listed = drill.run("backup", "list", "--run", state.run_id).stdout
        assert [line.split()[0] for line in listed.splitlines()] == names
