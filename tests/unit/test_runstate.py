"""Run records: written atomically, found again, live or dead told apart."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from chaos.engine.runstate import Phase, RunStore, new_run_id, proc_stat, record_process, recorded_processes
from chaos.errors import StateError


def test_create_save_load_roundtrip(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    state = store.create("r1", Path("/x/hosting.yml"))
    state.containers.append("drill-r1-edge")
    state.phase = Phase.UP
    store.save(state)
    loaded = store.load("r1")
    assert loaded == state
    assert loaded is not None and loaded.phase is Phase.UP


def test_current_and_resolve(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(StateError, match="no stack is up"):
        store.resolve(None)
    store.create("r1", Path("/x.yml"))
    store.set_current("r1")
    assert store.resolve(None).run_id == "r1"
    store.forget("r1")
    assert store.current() is None and store.run_ids() == []


def test_a_run_of_this_process_is_live(tmp_path: Path) -> None:
    state = RunStore(tmp_path).create("r1", Path("/x.yml"))
    assert state.owner_alive() and state.is_live()


def test_a_starting_run_whose_harness_died_is_dead(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    code = ("import sys; from pathlib import Path; from chaos.engine.runstate import RunStore; "
            f"RunStore(Path({str(tmp_path)!r})).create('r2', Path('/x.yml'))")
    subprocess.run([sys.executable, "-c", code], check=True)
    state = store.load("r2")
    assert state is not None and state.owner_pid != os.getpid()
    assert not state.owner_alive() and not state.is_live()
    state.phase = Phase.UP
    assert not state.is_live()  # a `drill run` killed with its stack up: dead all the same
    state.stays_up = True
    assert state.is_live()  # `drill up` finished: the stack is meant to outlive the command


def test_a_record_from_before_stays_up_stays_up(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.create("r1", Path("/x.yml"))
    record = store.run_dir("r1") / "state.json"
    data = json.loads(record.read_text())
    del data["stays_up"]
    data["version"] = 1
    record.write_text(json.dumps(data))
    loaded = store.load("r1")
    assert loaded is not None and loaded.stays_up


def test_a_zombie_owner_is_dead(tmp_path: Path) -> None:
    code = ("from pathlib import Path; from chaos.engine.runstate import RunStore; "
            f"RunStore(Path({str(tmp_path)!r})).create('r4', Path('/x.yml'))")
    child = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 30
    while (stat := proc_stat(child.pid)) is not None and stat.alive:  # exited, not reaped yet
        assert time.monotonic() < deadline
        time.sleep(0.05)
    try:
        state = RunStore(tmp_path).load("r4")
        assert state is not None and not state.owner_alive()
    finally:
        child.wait()


def test_a_run_folder_appears_whole_with_its_record(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.create("r5", Path("/x.yml"))
    assert store.run_ids() == ["r5"] and store.unfinished() == []
    store.new_dir("r6").mkdir()  # a creation killed half-way
    assert store.run_ids() == ["r5"] and store.unfinished() == [store.new_dir("r6")]
    with pytest.raises(FileExistsError):
        store.create("r5", Path("/x.yml"))


def test_processes_are_recorded_with_their_owner(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "30"])
    try:
        record_process(tmp_path, child.pid, "sleep")
        (tmp_path / "processes.jsonl").open("a").write('{"torn": ')  # a write cut short
        [record] = recorded_processes(tmp_path)
        assert record.pid == child.pid and record.marker == "sleep"
        assert record.owner_pid == os.getpid() and record.owner_alive()
    finally:
        child.kill()
        child.wait()


def test_unreadable_record_is_a_state_error(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    store.create("r3", Path("/x.yml"))
    (store.run_dir("r3") / "state.json").write_text("{not json")
    with pytest.raises(StateError, match="unreadable"):
        store.load("r3")


def test_run_ids_are_unique_and_docker_safe() -> None:
    ids = {new_run_id() for _ in range(200)}
    assert len(ids) > 190
    assert all(i.isalnum() and i.islower() for i in ids)
