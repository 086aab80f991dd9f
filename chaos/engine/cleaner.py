"""Find and remove what dead runs left behind.

A run is *dead* when no harness process works on it any more and it is not a
stack meant to stay up (`drill up`, `drill run --keep`) that is still up.  A
`drill run` killed at any point — even with its stack up — is dead.  Runs are
found three ways, so a lost record still gets cleaned: run-state folders,
Docker labels, and loop devices' backing files.

What a dead run leaves outside Docker is removed too: the host processes it
started (Locust, in a session of its own, orphaned when the harness is killed),
its loop devices, and a run folder whose creation never finished.  The
faults in place die with the run: their controls live in the containers and in
the run's folder, both removed.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import docker

from chaos.engine import labels, loops, objects
from chaos.engine.lifecycle import TeardownReport, teardown
from chaos.engine.runstate import Phase, ProcessRecord, ProcStat, RunStore, proc_stat, recorded_processes
from chaos.errors import HarnessError, StateError
from chaos.progress import Progress

#: How long killed processes get to disappear.
KILL_WAIT = 10.0


@dataclass
class CleanReport:
    """What `clean` removed, and which live runs it left alone."""

    removed: dict[str, TeardownReport] = field(default_factory=dict)
    #: Host processes killed, per run (orphans of a dead harness).
    processes: dict[str, list[int]] = field(default_factory=dict)
    kept_live: list[str] = field(default_factory=list)
    #: Runs that could not be removed whole, and why.
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def anything(self) -> bool:
        return bool(self.removed or self.processes or self.failed)

    def totals(self) -> dict[str, int]:
        """Counts over every run: containers, networks, volumes, loop devices, processes."""
        reports = list(self.removed.values())
        return {"containers": sum(len(r.containers) for r in reports),
                "networks": sum(len(r.networks) for r in reports),
                "volumes": sum(len(r.volumes) for r in reports),
                "loop devices": sum(len(r.loop_devices) for r in reports),
                "processes": sum(len(p) for p in self.processes.values())}

    def summary(self) -> str:
        counts = ", ".join(f"{n} {what}" for what, n in self.totals().items())
        if self.removed:
            text = f"removed {len(self.removed)} dead run(s): {counts}"
        elif self.processes:
            text = f"stopped {self.totals()['processes']} orphaned load process(es)"
        else:
            text = "nothing to clean"
        if self.failed:
            text += "; could not remove " + "; ".join(f"{r}: {why}" for r, why in self.failed.items())
        if self.kept_live:
            text += f"; kept live run(s) {', '.join(self.kept_live)} (`drill down` or `clean --all`)"
        return text


def known_runs(client: docker.DockerClient | None, store: RunStore, *,
               strays: bool = True) -> set[str]:
    """Every run id of this state root with a folder, a Docker object or a loop device.

    Runs recorded under another state root (another user's, a test's), or
    labelled with none (not made by the harness), are left alone while their
    containers exist; a loop device whose run has no container left is garbage
    whoever made it — known only with an engine to ask (a loop device's live
    path means a container holds it), and only with `strays`: without, just
    the runs with a folder here or objects labelled with this root count (what
    a `drill run` cleans by itself before it starts).
    """
    runs = set(store.run_ids())
    foreign: set[str] = set()
    if client is not None:
        for found in (objects.find_containers(client), objects.find_networks(client),
                      objects.find_volumes(client)):
            for obj in found:
                run_labels = _labels_of(obj.attrs)
                run_id = run_labels.get(labels.RUN, "")
                # An object without the state-root label is not the harness's (it labels all
                # it makes): whatever its run label says, never this root's to remove.
                if run_labels.get(labels.STATE_ROOT) == str(store.root):
                    runs.add(run_id)
                else:
                    foreign.add(run_id)
    if strays and client is not None:
        # Without an engine to ask whose containers hold them, strays are nobody's to judge.
        runs.update(d.run_id for d in loops.run_loop_devices() if d.run_id not in foreign)
    runs.discard("")
    return runs - foreign


def _labels_of(attrs: dict[str, object]) -> dict[str, str]:
    """The labels in a container's, network's or volume's inspect data."""
    found = attrs.get("Labels")
    if not isinstance(found, dict):
        config = attrs.get("Config")
        found = config.get("Labels") if isinstance(config, dict) else None
    return found if isinstance(found, dict) else {}


def is_live(run_id: str, client: docker.DockerClient | None, store: RunStore) -> bool:
    """Whether a run is in use: worked on by a living harness, or a stack up to stay up."""
    try:
        state = store.load(run_id)
    except StateError:
        return False  # records are written atomically: only a damaged one reads so
    if state is None:
        return False
    if state.owner_alive():
        return True
    if state.phase != Phase.UP or not state.stays_up:
        return False
    if client is None:
        return True  # cannot tell; never remove what may be in use
    return any(c.status == "running" for c in objects.find_containers(client, run_id))


def clean(client: docker.DockerClient | None, progress: Progress, store: RunStore | None = None,
          *, include_live: bool = False, strays: bool = True) -> CleanReport:
    """Remove every dead run (and every live one too with `include_live`).

    Orphaned processes are killed in every run, live ones included: a Locust
    whose harness is gone is no one's (a stack kept up must not stay under
    load). `strays=False` keeps to this state root's own runs (see
    :func:`known_runs`). A run that cannot be removed is reported, and the
    others are still cleaned.
    """
    store = store or RunStore()
    report = CleanReport()
    _forget_unfinished(store)
    for run_id in sorted(known_runs(client, store, strays=strays)):
        live = is_live(run_id, client, store)
        killed = kill_processes(store.run_dir(run_id), orphans_only=live and not include_live)
        if killed:
            report.processes[run_id] = killed
        if live and not include_live:
            report.kept_live.append(run_id)
            continue
        with progress.step(f"removing run {run_id}"):
            try:
                _set_aside_unreadable(store, run_id)
                report.removed[run_id] = teardown(client, store, run_id, progress)
            except HarnessError as e:
                report.failed[run_id] = e.message
    return report


def _set_aside_unreadable(store: RunStore, run_id: str) -> None:
    """A damaged record must not stop its run's removal: keep it aside, as the folder goes."""
    try:
        store.load(run_id)
    except StateError:
        record = store.run_dir(run_id) / "state.json"
        record.replace(record.with_name("state.json.unreadable"))


def _forget_unfinished(store: RunStore) -> None:
    """Folders of runs killed while their folder was being made (nothing else exists yet)."""
    for folder in store.unfinished():
        try:
            state = store.load_from(folder)
        except StateError:
            state = None
        if state is None and time.time() - _mtime(folder) < 60:
            continue  # being made right now: its record comes next
        if state is not None and state.owner_alive():
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


# -- processes ------------------------------------------------------------------------


def kill_processes(run_dir: Path, *, orphans_only: bool = False) -> list[int]:
    """SIGKILL the host processes the run recorded, still running; returns their pids.

    A recorded process started a session of its own: every process of that
    session is its (Locust's workers too), even once the leader is gone. A pid
    counts only while its start time is not earlier than the recorded one and
    its command line holds the recorded marker: never someone else's process
    that got a reused pid. `orphans_only`: only those whose harness is gone.
    """
    records = [r for r in recorded_processes(run_dir)
               if not (orphans_only and r.owner_alive()) and not _pid_reused(r)]
    if not records:
        return []
    targets = sorted({stat.pid for stat in _all_processes() for record in records
                      if _belongs(stat, record)})
    for pid in targets:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            continue
    _wait_gone(targets, time.monotonic() + KILL_WAIT)
    return targets


def _pid_reused(record: ProcessRecord) -> bool:
    """The recorded pid is another process now: its session is someone else's."""
    now = proc_stat(record.pid)
    return now is not None and now.started != record.started


def _belongs(stat: ProcStat, record: ProcessRecord) -> bool:
    if not stat.alive or stat.session != record.pid or stat.started < record.started:
        return False
    return record.marker in _cmdline(stat.pid)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _all_processes() -> Iterable[ProcStat]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = proc_stat(int(entry.name))
            if stat is not None:
                yield stat


def _wait_gone(pids: list[int], deadline: float) -> None:
    """Until every pid is gone or a zombie (its parent reaps it, not us)."""
    while pids and time.monotonic() < deadline:
        pids = [p for p in pids if (s := proc_stat(p)) is not None and s.alive]
        if pids:
            time.sleep(0.05)
