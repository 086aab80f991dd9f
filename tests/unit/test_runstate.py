"""Run records: written atomically, found again, live or dead told apart."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.engine.runstate import Phase, RunStore, new_run_id
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
    assert state.is_live()  # `up` finished: the stack is meant to outlive the command


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
