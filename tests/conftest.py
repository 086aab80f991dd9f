"""Shared fixtures: a Docker engine (required in CI), a private state root, the real CLI,
stacks shared by the tests of a module (checked before each test), figures tests report."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest
import requests

from chaos.engine import objects
from chaos.engine.runstate import RunState, RunStore
from chaos.faults import active
from chaos.faults.base import FaultContext
from chaos.stack.replication import probe_replication

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
        # The stack's settings come from the tests alone (`--set`), never from the
        # environment of whoever runs them: a DRILL_DB_PASSWORD or DRILL_PROMOTE_AFTER
        # exported in a shell would change what the tests see.
        own = {k: v for k, v in os.environ.items() if not k.startswith("DRILL_")}
        return {**own, "DRILL_STATE_DIR": str(self.state_root), "PYTHONUNBUFFERED": "1"}

    def run(self, *args: str, timeout: float = 600, check: bool = True
            ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([*DRILL, *args], cwd=ROOT, env=self.env(), capture_output=True,
                                text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and result.returncode != 0:
            pytest.fail(f"drill {' '.join(args)} exited {result.returncode}:\n"
                        f"{result.stdout}\n{result.stderr}", pytrace=False)
        return result

    def popen(self, *args: str, sigint: str = "SIG_DFL") -> subprocess.Popen[str]:
        """`drill ARGS` in the background, with SIGINT as `sigint` says whatever this process
        has: SIG_DFL as a terminal gives it, SIG_IGN as a CI runner's job inherits it."""
        return subprocess.Popen([sys.executable, "-c", _LAUNCH, sigint, *args], cwd=ROOT,
                                env=self.env(), text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


#: `python -c _LAUNCH SIG_DFL|SIG_IGN ARGS`: `drill ARGS` with SIGINT so (kept across exec).
_LAUNCH = ("import os, signal, sys; signal.signal(signal.SIGINT, getattr(signal, sys.argv[1])); "
           "os.execv(sys.executable, [sys.executable, '-m', 'chaos', *sys.argv[2:]])")


@pytest.fixture(scope="session")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Drill]:
    """The CLI with a state root of its own; whatever a test leaves is cleaned at the end."""
    runner = Drill(tmp_path_factory.mktemp("drill-state"))
    yield runner
    if any((runner.state_root / "runs").glob("*")):
        runner.run("clean", "--all", check=False)


@pytest.fixture(scope="session")
def _session_stack(engine: docker.DockerClient, drill: Drill) -> Iterator[SharedStack]:
    with shared_stack(engine, drill) as shared:
        yield shared


@pytest.fixture
def stack(_session_stack: SharedStack, request: pytest.FixtureRequest) -> Iterator[RunState]:
    """One bundled stack shared by the tests that only look at it or restore what they change;
    checked before each test, and brought up anew if an earlier test left it broken."""
    with _session_stack.for_test(request) as (state, _):
        yield state


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
    stack = _up(engine, drill, up_args)
    try:
        yield stack
    finally:
        _down(drill, stack[0])


def _up(engine: docker.DockerClient, drill: Drill, up_args: tuple[str, ...]
        ) -> tuple[RunState, FaultContext]:
    drill.run("up", *up_args)
    store = RunStore(drill.state_root)
    state = store.resolve(None)
    return state, FaultContext(engine, state.run_id, store.run_dir(state.run_id))


def _down(drill: Drill, state: RunState) -> None:
    drill.run("rollback", "--all", "--run", state.run_id, check=False)
    drill.run("down", "--run", state.run_id)


def unsound(ctx: FaultContext, state: RunState) -> str | None:
    """Why the bundled stack is not as `drill up` leaves it, or None: no fault in place,
    every container running and healthy, server-a the one primary with a sound array,
    server-b following it, the edge serving writes from server-a."""
    if active.active(ctx.run_dir):
        return "faults still in place: " + ", ".join(f"{i.fault} {i.target}"
                                                      for i in active.active(ctx.run_dir))
    for container in objects.find_containers(ctx.client, state.run_id):
        seen = objects.state_of(container)
        if seen.status != "running" or seen.health not in (None, "", "healthy"):
            return f"{container.name} is {seen.status} ({seen.health or 'no health check'})"
    server_a = ctx.machine("server-a")
    raid = server_a.raid()
    sound = (raid.mounted and not raid.read_only and not raid.degraded and not raid.lost
             and len(raid.devices) == 2 and (raid.data_profile, raid.metadata_profile) == ("RAID1",) * 2)
    if not sound:
        return f"server-a's array: {raid.summary()}"
    if not raid.healthy and sum(d.error_total for d in raid.devices):
        # Errors a test caused and dealt with (a scrub repaired them): acknowledged, as an
        # operator does once the array is whole, so that the next test starts at zero.
        server_a.run("btrfs", "device", "stats", "-z", "/srv")
        raid = server_a.raid()
    if not raid.healthy:
        return f"server-a's array: {raid.summary()}"
    roles = probe_replication(ctx.client, state.run_id)
    if roles.primaries != ["server-a"] or roles.server("server-b").upstream != "server-a":
        return f"roles: primaries {roles.primaries}, server-b follows {roles.server('server-b').upstream}"
    try:
        answer = requests.get(f"{state.edge_url}/healthz", timeout=5)
    except requests.RequestException as e:
        return f"the edge does not answer: {e}"
    if answer.status_code != 200 or answer.headers.get("X-Served-By") != "server-a":
        return f"the edge answers /healthz {answer.status_code} from {answer.headers.get('X-Served-By')}"
    return None


@dataclass
class SharedStack:
    """A stack the tests of a module share: checked before each test, rebuilt when broken,
    so one failing test does not fail the ones after it for its own reason."""

    engine: docker.DockerClient
    drill: Drill
    up_args: tuple[str, ...]
    current: tuple[RunState, FaultContext] | None = None
    rebuilt: list[str] = field(default_factory=list)

    #: Set when a test using the stack failed: whatever it left, the next test gets a new one.
    spoiled: str | None = None

    def sound(self) -> tuple[RunState, FaultContext]:
        if self.current is None:
            self.current = _up(self.engine, self.drill, self.up_args)
            return self.current
        state, ctx = self.current
        reason, self.spoiled = self.spoiled or _settled(lambda: unsound(ctx, state)), None
        if reason is not None:
            warnings.warn(f"the shared stack {state.run_id} was left broken ({reason}): "
                          "brought up anew", stacklevel=2)
            self.rebuilt.append(reason)
            _down(self.drill, state)
            self.current = _up(self.engine, self.drill, self.up_args)
        return self.current

    @contextmanager
    def for_test(self, request: pytest.FixtureRequest) -> Iterator[tuple[RunState, FaultContext]]:
        """The stack, sound, for one test; spoiled if that test fails."""
        yield self.sound()
        if request.node.stash.get(FAILED, False):
            self.spoiled = f"{request.node.name} failed on it"

    def close(self) -> None:
        if self.current is not None:
            _down(self.drill, self.current[0])
            self.current = None


def _settled(check: Callable[[], str | None], timeout: float = 30.0) -> str | None:
    """None once `check` passes; its last reason if it still fails after `timeout` seconds
    (a test's last step, a rollback, may need a moment to show: the edge's rise checks)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            reason = check()
        except Exception as e:  # noqa: BLE001 — a probe that fails is a reason too
            reason = f"{type(e).__name__}: {e}"
        if reason is None or time.monotonic() > deadline:
            return reason
        time.sleep(1.0)


@contextmanager
def shared_stack(engine: docker.DockerClient, drill: Drill, *up_args: str) -> Iterator[SharedStack]:
    """A module's stack, up on first use; `.sound()` before each test."""
    shared = SharedStack(engine, drill, up_args)
    try:
        yield shared
    finally:
        shared.close()


FIGURES = pytest.StashKey[list[str]]()
FAILED = pytest.StashKey[bool]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.failed:
        item.stash[FAILED] = True
    return report


@pytest.fixture
def figure(request: pytest.FixtureRequest, record_property: Callable[[str, object], None]
           ) -> Callable[[str], None]:
    """Report a measured figure: kept in JUnit XML and listed after the run. Never a check:
    what a figure must satisfy is asserted beside it."""
    def note(text: str) -> None:
        record_property("figure", text)
        request.config.stash.setdefault(FIGURES, []).append(f"{request.node.nodeid}:\n  "
                                                            + text.strip().replace("\n", "\n  "))
    return note


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, exitstatus: int,
                            config: pytest.Config) -> None:
    lines = config.stash.get(FIGURES, [])
    if lines:
        terminalreporter.section("figures measured")
        for line in lines:
            terminalreporter.write_line(line)
