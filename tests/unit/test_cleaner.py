"""The cleaner without Docker: orphaned load processes, unfinished run folders, dead or live."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.engine.cleaner import clean, is_live, kill_processes
from chaos.engine.runstate import PROCESSES, Phase, RunStore, proc_stat, recorded_processes
from chaos.progress import silent

#: A stand-in for Locust: a session leader with a worker, both named in their command line.
LOAD = ("import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)', 'fake-locust']); "
        "time.sleep(60)")


@pytest.fixture
def load_process() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", LOAD, "fake-locust"], start_new_session=True)
    deadline = time.monotonic() + 10
    while len(session_members(process.pid)) < 2:  # its worker is up
        assert time.monotonic() < deadline
        time.sleep(0.05)
    yield process
    members = session_members(process.pid)
    for pid in members:
        subprocess.run(["kill", "-9", str(pid)], check=False)
    process.wait()


def session_members(session: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        stat = proc_stat(int(entry.name)) if entry.name.isdigit() else None
        if stat is not None and stat.session == session and stat.alive:
            members.append(stat.pid)
    return members


def record_for(run_dir: Path, pid: int, *, owner_pid: int, marker: str = "fake-locust") -> None:
    """A record as a harness (`owner_pid`) would have written it."""
    stat = proc_stat(pid)
    owner = proc_stat(owner_pid)
    assert stat is not None
    line = {"pid": pid, "started": stat.started, "marker": marker, "owner_pid": owner_pid,
            "owner_started": owner.started if owner else 12345}
    run_dir.mkdir(parents=True, exist_ok=True)
    with (run_dir / PROCESSES).open("a") as out:
        out.write(json.dumps(line) + "\n")


def dead_pid() -> int:
    """The pid of a process that has ended (and was reaped)."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_the_orphans_of_a_dead_harness_are_killed_with_their_workers(
        tmp_path: Path, load_process: subprocess.Popen[bytes]) -> None:
    record_for(tmp_path, load_process.pid, owner_pid=dead_pid())
    members = session_members(load_process.pid)

    killed = kill_processes(tmp_path, orphans_only=True)

    assert sorted(killed) == sorted(members) and len(killed) == 2
    assert session_members(load_process.pid) == []


def test_a_living_harness_keeps_its_load_unless_the_run_is_removed(
        tmp_path: Path, load_process: subprocess.Popen[bytes]) -> None:
    record_for(tmp_path, load_process.pid, owner_pid=os.getpid())
    assert recorded_processes(tmp_path)[0].owner_alive()
    assert kill_processes(tmp_path, orphans_only=True) == []
    assert len(session_members(load_process.pid)) == 2
    assert len(kill_processes(tmp_path)) == 2


def test_a_reused_pid_or_another_program_is_never_killed(
        tmp_path: Path, load_process: subprocess.Popen[bytes]) -> None:
    record_for(tmp_path, load_process.pid, owner_pid=dead_pid(), marker="locust-not-this")
    assert kill_processes(tmp_path) == []
    [record] = [json.loads(line) for line in (tmp_path / PROCESSES).read_text().splitlines()]
    record.update(marker="fake-locust", started=record["started"] - 1)  # the pid is reused now
    (tmp_path / PROCESSES).write_text(json.dumps(record) + "\n")
    assert kill_processes(tmp_path) == []
    assert len(session_members(load_process.pid)) == 2


def test_clean_removes_a_killed_drill_run_and_keeps_a_stack_up(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    owner = dead_pid()
    for run_id, stays_up in (("rdrill", False), ("rup", True)):
        state = store.create(run_id, Path("/x.yml"))
        state = dataclasses.replace(state, phase=Phase.UP, stays_up=stays_up, owner_pid=owner)
        store.save(state)
    half = store.new_dir("rhalf")
    half.mkdir()  # killed while its folder was made, long ago
    os.utime(half, (time.time() - 3600, time.time() - 3600))

    assert not is_live("rdrill", None, store)
    assert is_live("rup", None, store)  # no engine to ask: never remove what may be in use
    report = clean(None, silent(), store, strays=False)  # never the machine's other runs

    assert set(report.removed) == {"rdrill"} and report.kept_live == ["rup"]
    assert store.run_ids() == ["rup"] and not half.exists()
