"""SIGKILL the harness anywhere in a drill: what the dead run made is all removed afterwards.

A short drill (tests/scenarios/killable.yaml: its start before it has a run
record — cleaning what earlier dead runs left, checking images —, up, load, a
write-error fault on a RAID member and its rollback, the end of the load,
teardown) is killed with
SIGKILL — the harness process alone, as a crash would: the Locust it started
lives on, orphaned — at random points spread over its phases. After each kill,
by turns, `drill clean` or the next `drill run` (which cleans dead runs by
itself before it starts, and is then the next point's drill) must leave nothing
of the dead run: no container, network, volume, loop device, mount, process,
run folder or fault control. The points are drawn from a seed printed first
(`KILL_SEED=N` repeats a draw; `KILL_POINTS=N` asks for more or fewer).
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
import pytest

from chaos.engine import labels, objects
from chaos.engine.runstate import RunStore
from tests.conftest import DRILL, ROOT, Drill
from tests.integration.leftovers import Footprint, footprint, leftovers, run_processes

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCENARIO = ROOT / "tests" / "scenarios" / "killable.yaml"
STEP = "write-disk1"
PHASES = ("start", "up", "load", "fault", "rollback", "teardown")
#: The line of the harness's output each phase begins with (up: once the run has a record;
#: start: the process's start, before it has one).
BEGINS = {
    "up": re.compile(r"run (?P<run>r[a-z0-9]+): state in "),
    "load": re.compile(r"-> load: "),
    "fault": re.compile(rf"\] {STEP}: (?!rolled back)"),
    "rollback": re.compile(rf"\] {STEP}: rolled back"),
    "teardown": re.compile(r"-> tearing down run "),
}
#: How many points each phase gets, at least 20 in all (phases that last longer cost more).
SHARE = {"start": 3, "up": 6, "load": 4, "fault": 4, "rollback": 3, "teardown": 3}
#: First guesses of each phase's length in seconds, replaced by what the runs show.
GUESS = {"start": 1.5, "up": 10.5, "load": 3.0, "fault": 5.0, "rollback": 11.0, "teardown": 3.0}
CLEANED = re.compile(r"removed (?P<runs>\d+) dead run\(s\): (?P<containers>\d+) containers, "
                     r"(?P<networks>\d+) networks, (?P<volumes>\d+) volumes, "
                     r"(?P<loops>\d+) loop devices, (?P<processes>\d+) processes")
COUNTED = ("containers", "networks", "volumes", "loops", "processes")
PHASE_TIMEOUT = 180.0


class Harness:
    """One `drill run` of the scenario, its output read as it comes, each phase's start noted."""

    def __init__(self, drill: Drill, out: Path, *options: str) -> None:
        self.out = out
        self.process = subprocess.Popen(
            [*DRILL, "run", str(SCENARIO), "--out", str(out), *options], cwd=ROOT, env=drill.env(),
            text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        self.started = time.monotonic()
        self.lines: list[str] = []
        self.begun: dict[str, float] = {"start": self.started}
        self.run_id: str | None = None
        self.ended = False
        self.ended_at = 0.0
        self.killed_at = 0.0
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                for phase, begins in BEGINS.items():
                    found = begins.search(line)
                    if found and phase not in self.begun:
                        self.begun[phase] = time.monotonic()
                        if phase == "up":
                            self.run_id = found["run"]
                self._changed.notify_all()
        with self._changed:
            self.ended, self.ended_at = True, time.monotonic()
            self._changed.notify_all()

    def wait_for(self, phase: str, timeout: float = PHASE_TIMEOUT) -> None:
        with self._changed:
            if not self._changed.wait_for(lambda: phase in self.begun or self.ended, timeout):
                pytest.fail(f"no {phase} phase within {timeout:.0f} s:\n{self.output()}")
            if phase not in self.begun:
                pytest.fail(f"the drill ended before its {phase} phase:\n{self.output()}")

    def kill_in(self, phase: str, after: float) -> bool:
        """SIGKILL `after` s into `phase`, or at once when the next phase begins first.

        False when the drill ended by itself first (teardown was quicker than that).
        """
        self.wait_for(phase)
        later = PHASES[PHASES.index(phase) + 1:]
        at = self.begun[phase] + after
        with self._changed:
            self._changed.wait_for(lambda: any(p in self.begun for p in later) or self.ended,
                                   max(0.0, at - time.monotonic()))
            if not self.ended:
                os.kill(self.process.pid, signal.SIGKILL)  # the harness alone, not its children
                self.killed_at = time.monotonic()
        code = self.process.wait(timeout=300)  # reaped: its pid is no living owner any more
        self._reader.join(timeout=30)
        if code != -signal.SIGKILL:
            assert code == 0, f"the drill failed (exit {code}):\n{self.output()}"
            return False
        return True

    def phase(self) -> str:
        """The phase it was in when it died: the last one its output began."""
        return max(self.begun, key=PHASES.index)

    def into_phase(self) -> float:
        """How far into that phase it died, in seconds."""
        return self.killed_at - self.begun[self.phase()]

    def output(self) -> str:
        return "".join(self.lines[-60:])

    def stop(self) -> None:
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


@dataclass
class Dead:
    """A killed drill, with what it held seen before anyone cleaned."""

    #: None: killed before it made a run record.
    run_id: str | None
    phase: str
    out: Path
    records: Path
    seen: Footprint
    locust: list[str]
    #: Seconds into its phase it was killed.
    into: float


@dataclass
class Tally:
    kills: Counter[str] = field(default_factory=Counter)
    by_clean: Counter[str] = field(default_factory=Counter)
    by_next_run: Counter[str] = field(default_factory=Counter)
    removed: Counter[str] = field(default_factory=Counter)
    orphaned_locust: int = 0
    #: Drills that ended by themselves before their kill (the point is drawn again).
    finished: int = 0
    learned: dict[str, list[float]] = field(default_factory=lambda: {p: [] for p in PHASES})

    def length(self, phase: str) -> float:
        """How long `phase` lasts, by the shortest seen (the first guess until then)."""
        seen = self.learned[phase]
        return min(seen) * 0.9 if seen else GUESS[phase]

    def learn(self, harness: Harness, *, finished: bool) -> None:
        for phase, following in zip(PHASES, PHASES[1:], strict=False):
            if phase in harness.begun and following in harness.begun:
                self.learned[phase].append(harness.begun[following] - harness.begun[phase])
        if finished:
            self.learned["teardown"].append(harness.ended_at - harness.begun["teardown"])

    def count(self, output: str) -> None:
        for found in CLEANED.finditer(output):
            self.removed.update({k: int(found[k]) for k in ("runs", *COUNTED)})


def after_the_kill(engine: docker.DockerClient, drill: Drill, harness: Harness, keep: Path,
                   known: set[str]) -> Dead:
    """What the dead run holds now, seen before it is cleaned (its records are about to go).

    Killed at its start, it may have made its record without saying so yet: a run id the
    state root did not hold before (`known`) is then the dead run's."""
    run_id = harness.run_id
    time.sleep(0.3)  # requests the engine took before the kill complete
    if run_id is None:
        new = set(RunStore(drill.state_root).run_ids()) - known
        assert len(new) <= 1, new
        run_id = next(iter(new), None)
    records = keep / (run_id or "no-record")
    for loops_file in (drill.state_root / "runs" / (run_id or "-")).glob("*/loops"):
        copy = records / loops_file.parent.name / "loops"
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(loops_file, copy)
    locust = [p for p in run_processes([f"{harness.out}/"]) if "locust" in p]
    seen = footprint(engine, run_id) if run_id else Footprint()
    return Dead(run_id, harness.phase(), harness.out, records, seen, locust, harness.into_phase())


def assert_all_gone(engine: docker.DockerClient, drill: Drill, dead: Dead, live: str | None = None
                    ) -> None:
    """Nothing of the dead run is left; `live`: the run that cleaned it, which may stay."""
    if dead.run_id is not None:
        left = leftovers(engine, dead.run_id, dead.records, seen=dead.seen, markers=[f"{dead.out}/"])
        assert left.empty(), f"killed in {dead.phase}, run {dead.run_id} left {left}"
        assert not (drill.state_root / "runs" / dead.run_id).exists(), \
            f"killed in {dead.phase}: the run's folder (its fault controls) is still there"
    assert set(RunStore(drill.state_root).run_ids()) <= {live}, \
        f"killed in {dead.phase}: runs left {RunStore(drill.state_root).run_ids()}"
    mine = [c.name for c in objects.find_containers(engine)
            if c.labels.get(labels.STATE_ROOT) == str(drill.state_root)
            and c.labels.get(labels.RUN) != live]
    assert not mine, f"killed in {dead.phase}: containers left {mine}"
    assert not run_processes([f"{dead.out}/"]), f"killed in {dead.phase}: processes left"
    assert not RunStore(drill.state_root).unfinished()


def test_sigkill_anywhere_then_clean_or_the_next_run_leaves_nothing(
        engine: docker.DockerClient, tmp_path: Path, record_property: Callable[[str, object], None],
        figure: Callable[[str], None]) -> None:
    seed = int(os.environ.get("KILL_SEED") or time.time_ns() % 1_000_000)
    rng = random.Random(seed)
    total = int(os.environ.get("KILL_POINTS") or sum(SHARE.values()))
    points = [phase for phase in PHASES for _ in range(SHARE[phase])]
    points = (points * (total // len(points) + 1))[:total]
    rng.shuffle(points)
    figure(f"kill anywhere: seed {seed} (KILL_SEED={seed} repeats it), {len(points)} points: "
           f"{', '.join(points)}")
    drill = Drill(tmp_path / "state")
    tally = Tally()
    started = time.monotonic()
    harness = Harness(drill, tmp_path / "out-00")
    pending: Dead | None = None
    index = 0
    try:
        while index < len(points):
            phase = points[index]
            if pending is not None and phase != "start":
                # The next run cleans the dead one before it makes its own record.
                harness.wait_for("up")
                tally.count("".join(harness.lines))
                assert_all_gone(engine, drill, pending, live=harness.run_id)
                tally.by_next_run[pending.phase] += 1
                pending = None
            after = rng.random() * tally.length(phase)
            known = set(RunStore(drill.state_root).run_ids())
            killed = harness.kill_in(phase, after)
            tally.learn(harness, finished=not killed)
            last = index == len(points) - 1
            if not killed:
                # Torn down by itself before the kill: that point is drawn again.
                assert harness.run_id is not None
                tally.finished += 1
                figure(f"  {index + 1:2}. aimed {after:4.1f} s into {phase:<8} -> the drill ended "
                       f"{harness.ended_at - harness.begun['teardown']:.1f} s into teardown by "
                       "itself: drawn again")
                assert leftovers(engine, harness.run_id).empty()
                assert tally.finished <= 3, "teardown is always quicker than the kills drawn"
            else:
                dead = after_the_kill(engine, drill, harness, tmp_path / "records", known)
                tally.kills[dead.phase] += 1
                tally.orphaned_locust += len(dead.locust)
                figure(f"  {index + 1:2}. aimed {after:4.1f} s into {phase:<8} -> killed "
                       f"{dead.into:4.1f} s into {dead.phase:<8} run {dead.run_id or '(none yet)'}: "
                       f"{len(dead.seen.container_ids)} containers, {len(dead.locust)} Locust "
                       "processes orphaned")
                # Each phase's kills are cleaned by turns: `drill clean`, then the next run.
                # A run killed at its start may not have cleaned the one before it yet:
                # `drill clean` then removes both.
                if pending is not None or tally.kills[dead.phase] % 2 == 0 or last:
                    cleaned = drill.run("clean", timeout=300)
                    tally.count(cleaned.stdout)
                    figure(f"      drill clean: {cleaned.stdout.strip()}")
                    for gone in (pending, dead):
                        if gone is not None:
                            assert_all_gone(engine, drill, gone)
                            tally.by_clean[gone.phase] += 1
                    pending = None
                else:
                    pending = dead
                index += 1
            if index < len(points):
                harness = Harness(drill, tmp_path / f"out-{index:02}-{tally.finished}")
    finally:
        harness.stop()
        drill.run("clean", "--all", check=False, timeout=300)
    took = time.monotonic() - started

    assert RunStore(drill.state_root).run_ids() == []
    assert not [c.name for c in objects.find_containers(engine)
                if c.labels.get(labels.STATE_ROOT) == str(drill.state_root)]
    lines = [f"killed {sum(tally.kills.values())} times in {took:.0f} s (seed {seed}):"]
    for phase in PHASES:
        lines.append(f"  {phase:<9} {tally.kills[phase]:2} kills: {tally.by_clean[phase]} cleaned by "
                     f"`drill clean`, {tally.by_next_run[phase]} by the next `drill run`"
                     + (f"; the phase lasted {statistics.median(tally.learned[phase]):.1f} s"
                        if tally.learned[phase] else ""))
    lines.append("  removed: " + ", ".join(f"{tally.removed[k]} {k}" for k in ("runs", *COUNTED))
                 + f"; {tally.orphaned_locust} orphaned Locust processes were seen before cleaning")
    figure("\n".join(lines))
    record_property("kills", dict(tally.kills))
    record_property("removed", dict(tally.removed))
    record_property("seconds", round(took))
    assert set(tally.kills) >= set(PHASES), tally.kills
    assert tally.orphaned_locust > 0  # the load's processes were really orphaned, and then gone


def test_a_stack_kept_up_survives_clean_but_a_killed_drills_load_on_it_does_not(
        engine: docker.DockerClient, tmp_path: Path, figure: Callable[[str], None]) -> None:
    drill = Drill(tmp_path / "state")
    drill.run("up")
    store = RunStore(drill.state_root)
    run_id = store.current()
    assert run_id is not None
    try:
        harness = Harness(drill, tmp_path / "out-keep", "--keep")
        harness.wait_for("load")
        assert harness.kill_in("load", 1.0)
        assert f"reusing run {run_id}" in "".join(harness.lines)
        [locust] = [p for p in run_processes([f"{harness.out}/"]) if "locust" in p]

        cleaned = drill.run("clean")

        figure(f"`drill clean` after a `drill run --keep` killed under load: {cleaned.stdout.strip()}")
        assert f"kept live run(s) {run_id}" in cleaned.stdout
        assert run_processes([f"{harness.out}/"]) == [], locust
        assert len(objects.find_containers(engine, run_id)) == 4
        assert [c.status for c in objects.find_containers(engine, run_id)] == ["running"] * 4
    finally:
        drill.run("down", "--run", run_id)
    assert leftovers(engine, run_id).empty()
