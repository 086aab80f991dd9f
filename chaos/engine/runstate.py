"""The run-state folder: what each run made, so `down` and `clean` can undo it.

Layout under the state root (``$DRILL_STATE_DIR``, else
``$XDG_STATE_HOME/chaos-harness``, else ``~/.local/state/chaos-harness``)::

    runs/<run-id>/state.json      this module's record (written atomically)
    runs/<run-id>/<service>/      bind-mounted into the service at /run/drill;
                                  the machine writes its drive records there
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

STATE_VERSION = 1


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


def _process_start_time(pid: int) -> int | None:
    """Kernel start time of `pid` (field 22 of /proc/PID/stat), None if gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


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
    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    version: int = STATE_VERSION

    def owner_alive(self) -> bool:
        """Whether the harness process that made this run still lives."""
        started = _process_start_time(self.owner_pid)
        return started is not None and started == self.owner_started

    def is_live(self) -> bool:
        """A run that is up, or still being worked on by a living harness."""
        return self.phase == Phase.UP or self.owner_alive()


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
        """Make the run's folder and its first record."""
        self.run_dir(run_id).mkdir(parents=True, exist_ok=False)
        state = RunState(run_id=run_id, compose_file=str(compose_file))
        self.save(state)
        return state

    def save(self, state: RunState) -> None:
        """Write the record atomically (a crash never leaves half a file)."""
        path = self.run_dir(state.run_id) / "state.json"
        tmp = path.with_suffix(".tmp")
        data = asdict(state)
        data["phase"] = state.phase.value
        tmp.write_text(json.dumps(data, indent=2))
        os.replace(tmp, path)

    def load(self, run_id: str) -> RunState | None:
        """The record of `run_id`, or None if the folder has none (died very early)."""
        path = self.run_dir(run_id) / "state.json"
        try:
            data = json.loads(path.read_text())
            data["phase"] = Phase(data["phase"])
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
        return sorted(p.name for p in self.runs_dir.iterdir() if p.is_dir())

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
