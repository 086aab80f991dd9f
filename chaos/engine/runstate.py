"""The run-state folder: what each run made, so `down` and `clean` can undo it.

Layout under the state root (``$DRILL_STATE_DIR``, else
``$XDG_STATE_HOME/chaos-harness``, else ``~/.local/state/chaos-harness``)::

    runs/<run-id>/state.json      this module's record (written atomically)
    runs/<run-id>/processes.jsonl host processes the run started outside Docker
                                  (Locust), so a dead run's orphans are found
    runs/<run-id>/<service>/      bind-mounted into the service at /run/drill;
                                  the machine writes its drive records there
    runs/.<run-id>.new/           a run's folder while it is being created (it
                                  appears under its name whole, record inside)
    current                       the id of the run `drill up` made last
"""

from __future__ import annotations

import enum
import json
import os
import secrets
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from chaos.errors import StateError

#: 2: `stays_up` recorded (a version-1 record that reached `up` stays up).
STATE_VERSION = 2
PROCESSES = "processes.jsonl"
NEW_SUFFIX = ".new"


class Phase(enum.StrEnum):
    """Where a run is in its life."""

    STARTING = "starting"
    UP = "up"
    STOPPING = "stopping"


def state_root() -> Path:
    """The folder holding every run's state (created on demand)."""
    if os.environ.get("DRILL_STATE_DIR"):
        return Path(os.environ["DRILL_STATE_DIR"]).expanduser()
    base = os.environ.get("XDG_STATE_HOME") or Path.home() / ".local" / "state"
    return Path(base) / "chaos-harness"


def new_run_id() -> str:
    """A short id, unique on this machine, safe in Docker names and paths."""
    return "r" + time.strftime("%m%d%H%M") + secrets.token_hex(2)


@dataclass(frozen=True)
class ProcStat:
    """The fields of /proc/PID/stat the harness needs."""

    pid: int
    state: str
    session: int
    #: Kernel start time (clock ticks since boot): with the pid, a process's identity.
    started: int

    @property
    def alive(self) -> bool:
        """Running or sleeping; a zombie (exited, not yet reaped) or a dying task is not."""
        return self.state not in ("Z", "X", "x")


def proc_stat(pid: int) -> ProcStat | None:
    """/proc/PID/stat of `pid`, None if there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return ProcStat(pid, fields[0], int(fields[3]), int(fields[19]))


def _process_start_time(pid: int) -> int | None:
    """Kernel start time of `pid` (field 22 of /proc/PID/stat), None if gone or a zombie."""
    found = proc_stat(pid)
    return found.started if found is not None and found.alive else None


@dataclass
class RunState:
    """One run's record. Mutated only through :class:`RunStore`."""

    run_id: str
    compose_file: str
    phase: Phase = Phase.STARTING
    created_at: float = field(default_factory=time.time)
    owner_pid: int = field(default_factory=os.getpid)
    owner_started: int | None = field(default_factory=lambda: _process_start_time(os.getpid()))
    edge_url: str | None = None
    #: service -> {container port ("80/tcp") -> URL on the host}, in the compose file's
    #: order; kept from `up` (a stopped container shows no port).
    published: dict[str, dict[str, str]] = field(default_factory=dict)
    #: The compose files the run was made from, in order.
    compose_files: list[str] = field(default_factory=list)
    #: The stack is meant to stay up after the process that made it ends (`drill up`,
    #: `drill run --keep`). Any other run is dead once its owner is, whatever its phase.
    stays_up: bool = False
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    version: int = STATE_VERSION

    def owner_alive(self) -> bool:
        """Whether the harness process that made this run still lives."""
        started = _process_start_time(self.owner_pid)
        return started is not None and started == self.owner_started

    def is_live(self) -> bool:
        """A run still worked on by a living harness, or a stack up to stay up."""
        return (self.phase == Phase.UP and self.stays_up) or self.owner_alive()


@dataclass(frozen=True)
class ProcessRecord:
    """A host process a run started outside Docker (Locust), and who started it."""

    pid: int
    #: Its kernel start time: a pid reused since then is someone else's.
    started: int
    #: A word its command line holds (`locust`): one more check before a kill.
    marker: str
    owner_pid: int
    owner_started: int | None

    def owner_alive(self) -> bool:
        """Whether the harness process that started it still lives."""
        started = _process_start_time(self.owner_pid)
        return started is not None and started == self.owner_started


def record_process(run_dir: Path, pid: int, marker: str) -> None:
    """Note a process this harness process started for the run (one line, appended).

    A harness killed without warning cannot stop its children; `drill clean`
    finds them here.
    """
    stat = proc_stat(pid)
    if stat is None:
        return  # ended already
    record = ProcessRecord(pid, stat.started, marker, os.getpid(), _process_start_time(os.getpid()))
    with (run_dir / PROCESSES).open("a") as out:
        out.write(json.dumps(asdict(record)) + "\n")
        out.flush()


def recorded_processes(run_dir: Path) -> list[ProcessRecord]:
    """The processes the run recorded; lines that do not read (a torn last one) are skipped."""
    try:
        lines = (run_dir / PROCESSES).read_text(errors="replace").splitlines()
    except OSError:
        return []
    records = []
    for line in lines:
        try:
            records.append(ProcessRecord(**json.loads(line)))
        except (ValueError, TypeError):
            continue
    return records


class RunStore:
    """Reads and writes run records under one state root."""

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or state_root()

    @property
    def runs_dir(self) -> Path:
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def create(self, run_id: str, compose_file: Path) -> RunState:
        """Make the run's folder with its first record inside.

        The folder is made under a hidden name and renamed once the record is
        in it: a `clean` running meanwhile never sees a run folder without a
        record and takes it for the remains of a dead run.
        """
        final = self.run_dir(run_id)
        if final.exists():
            raise FileExistsError(final)
        making = self.new_dir(run_id)
        making.mkdir(parents=True, exist_ok=False)
        state = RunState(run_id=run_id, compose_file=str(compose_file))
        self._write(making, state)
        os.rename(making, final)
        return state

    def new_dir(self, run_id: str) -> Path:
        """Where a run's folder is made before it appears under its name."""
        return self.runs_dir / f".{run_id}{NEW_SUFFIX}"

    def unfinished(self) -> list[Path]:
        """Folders of runs whose creation never finished, or is under way now."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(p for p in self.runs_dir.glob(f".*{NEW_SUFFIX}") if p.is_dir())

    def save(self, state: RunState) -> None:
        """Write the record atomically (a crash never leaves half a file)."""
        self._write(self.run_dir(state.run_id), state)

    @staticmethod
    def _write(folder: Path, state: RunState) -> None:
        path = folder / "state.json"
        tmp = path.with_suffix(".tmp")
        data = asdict(state)
        data["phase"] = state.phase.value
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)

    def load(self, run_id: str) -> RunState | None:
        """The record of `run_id`, or None if the folder has none (died very early)."""
        return self.load_from(self.run_dir(run_id))

    @staticmethod
    def load_from(folder: Path) -> RunState | None:
        """The record in `folder` (a run's folder, or one being made)."""
        path = folder / "state.json"
        try:
            data = json.loads(path.read_text())
            data["phase"] = Phase(data["phase"])
            # Before version 2 every stack that reached `up` was meant to stay up.
            data.setdefault("stays_up", data.get("version", 1) < 2)
            return RunState(**data)
        except FileNotFoundError:
            return None
        except (ValueError, TypeError, KeyError) as e:
            raise StateError(f"run record {path} is unreadable ({e})",
                             hint="run `drill clean` to remove what that run left") from None

    def run_ids(self) -> list[str]:
        """Every run with a folder, oldest first."""
        if not self.runs_dir.is_dir():
            return []
        return sorted(p.name for p in self.runs_dir.iterdir()
                      if p.is_dir() and not p.name.startswith("."))

    def forget(self, run_id: str) -> None:
        """Remove the run's folder (after everything it made is gone)."""
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        if self.current() == run_id:
            (self.root / "current").unlink(missing_ok=True)

    def set_current(self, run_id: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / "current").write_text(run_id + "\n")

    def current(self) -> str | None:
        """The run `drill up` made last, if it still has a folder."""
        try:
            run_id = (self.root / "current").read_text().strip()
        except FileNotFoundError:
            return None
        return run_id if run_id and self.run_dir(run_id).is_dir() else None

    def resolve(self, run_id: str | None) -> RunState:
        """The named run, else the current one; StateError when there is none."""
        chosen = run_id or self.current()
        if not chosen:
            live = [r for r in self.run_ids() if (s := self.load(r)) and s.phase == Phase.UP]
            if len(live) == 1:
                chosen = live[0]
        if not chosen:
            raise StateError("no stack is up", hint="start one with `drill up`")
        state = self.load(chosen)
        if state is None:
            raise StateError(f"run {chosen} has no record in {self.run_dir(chosen)}",
                             hint="run `drill clean` to remove its leftovers")
        return state
