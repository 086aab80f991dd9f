"""Shared fixtures: a Docker engine (required in CI), a private state root, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from chaos.engine.runstate import RunState, RunStore
from chaos.faults.base import FaultContext

ROOT = Path(__file__).resolve().parents[1]
DRILL = [sys.executable, "-m", "chaos"]


@pytest.fixture(scope="session")
def engine() -> docker.DockerClient:
    """A Docker client; skips without an engine, except in CI where that is a failure."""
    from chaos.engine.client import try_connect

    client = try_connect()
    if client is None:
        message = "no Docker engine answers (run `make test`, which sets one up)"
        if os.environ.get("CI"):
            pytest.fail(f"{message}; in CI a missing engine is a failure", pytrace=False)
        pytest.skip(message)
    return client


@dataclass
class Drill:
    """Runs `drill` as a user would, against a private state root."""

    state_root: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, "DRILL_STATE_DIR": str(self.state_root), "PYTHONUNBUFFERED": "1"}

    def run(self, *args: str, timeout: float = 600, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*DRILL, *args], cwd=ROOT, env=self.env(), capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            pytest.fail(f"drill {' '.join(args)} exited {result.returncode}:\n"
                        f"{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen([*DRILL, *args], cwd=ROOT, env=self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    """The CLI with a state root of its own; whatever a test leaves is cleaned at the end."""
    runner = Drill(tmp_path_factory.mktemp("drill-state"))
    yield runner
    if any((runner.state_root / "runs").glob("*")):
        runner.run("clean", "--all", check=False)


@pytest.fixture(scope="session")
def stack(engine: docker.DockerClient, drill: Drill) -> Iterator[RunState]:
    """One bundled stack shared by the tests that only look at it or restore what they change."""
    drill.run("up")
    state = RunStore(drill.state_root).resolve(None)
    yield state
    drill.run("down", "--run", state.run_id)


@dataclass(frozen=True)
class LibraryRun:
    """One run of a shipped scenario through the CLI: its folder and what the CLI said."""

    folder: Path
    ran: subprocess.CompletedProcess[str]


#: The library's drills in tests run four times faster (waits for probes are not scaled).
LIBRARY_TIME_SCALE = "0.25"


def run_library_scenario(drill: Drill, scenario: Path, folder: Path) -> LibraryRun:
    ran = drill.run("run", str(scenario), "--time-scale", LIBRARY_TIME_SCALE, "--out", str(folder),
                    check=False, timeout=1200)
    return LibraryRun(folder, ran)


@pytest.fixture(scope="session")
def datacentre_shutdown_run(engine: docker.DockerClient, drill: Drill,
                            tmp_path_factory: pytest.TempPathFactory) -> LibraryRun:
    """datacentre-shutdown once per session: the library test judges it, the report test draws it."""
    return run_library_scenario(drill, ROOT / "scenarios" / "datacentre-shutdown.yaml",
                                tmp_path_factory.mktemp("datacentre-shutdown"))


def wait_until(check: Callable[[], bool], what: str, timeout: float = 30.0,
               interval: float = 0.1) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what}: not within {timeout:.0f} s"
        time.sleep(interval)


@contextmanager
def own_stack(engine: docker.DockerClient, drill: Drill, *up_args: str
              ) -> Iterator[tuple[RunState, FaultContext]]:
    """A stack for tests that break it: up, then every fault rolled back and the stack down."""
    drill.run("up", *up_args)
    store = RunStore(drill.state_root)
    state = store.resolve(None)
    try:
        yield state, FaultContext(engine, state.run_id, store.run_dir(state.run_id))
    finally:
        drill.run("rollback", "--all", "--run", state.run_id, check=False)
        drill.run("down", "--run", state.run_id)
