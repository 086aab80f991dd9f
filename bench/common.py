"""What the bench scripts share: `drill` in a state folder of its own, a stack that is always torn
down (also on Ctrl-C), rounds appended to a JSON-lines file, and figures printed as a table.

Not a test: nothing here asserts on a time.  The machine is shared; every round records the
load average and the containers of other runs next to its figures, so a disturbed round can be
told from a quiet one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results" / "bench"
#: Records an interrupted round gets, so `--report` can leave it out.
INTERRUPTED = "interrupted"


# --- figures ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Spread:
    """Median, range and count of one figure over rounds."""

    n: int
    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Spread | None:
        found = [v for v in values if v is not None]
        if not found:
            return None
        return cls(len(found), statistics.median(found), min(found), max(found))

    @property
    def width(self) -> float:
        return self.high - self.low

    def render(self, unit: str = "s", scale: float = 1.0, digits: int = 1) -> str:
        """`10.3 s (10.1-10.7, n=3)`; one value: `10.3 s (n=1)`."""
        med, low, high = (f"{v * scale:.{digits}f}" for v in (self.median, self.low, self.high))
        space = "" if unit in ("", "%") else " "
        if self.n == 1:
            return f"{med}{space}{unit} (n=1)"
        return f"{med}{space}{unit} ({low}-{high}, n={self.n})"


def render(spread: Spread | None, unit: str = "s", scale: float = 1.0, digits: int = 1) -> str:
    return "-" if spread is None else spread.render(unit, scale, digits)


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    """A plain-text table, the first column left-aligned, the others right-aligned."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")

    def line(row: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths,
                                                                                            strict=True)))
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


# --- the machine -----------------------------------------------------------------------------

def print_disturbed(rounds: Sequence[dict[str, Any]]) -> None:
    """How many rounds ran while another run's containers were up (their figures are suspect)."""
    print(f"rounds with other runs' containers up: {sum(1 for r in rounds if r['other_containers'])} "
          f"of {len(rounds)}")


def machine() -> str:
    """`2 cores, 24 GB, Linux 6.18` for a table's footer."""
    mem_kib = 0
    with contextlib.suppress(OSError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    return f"{os.cpu_count()} cores, {mem_kib / 1024**2:.0f} GB, Linux {os.uname().release}"


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def other_runs(own_run: str | None = None) -> list[str]:
    """Running containers of harness runs other than `own_run` (other engineers' stacks)."""
    import docker

    try:
        client = docker.from_env(timeout=10)
        containers = client.containers.list(filters={"label": "chaos-harness.run"})
    except docker.errors.DockerException:
        return []
    return sorted(c.name for c in containers if c.labels.get("chaos-harness.run") != own_run)


def surroundings(own_run: str | None = None) -> dict[str, Any]:
    """What else the machine was doing: its load average and other runs' containers."""
    return {"load_1m": load_average(), "other_containers": len(other_runs(own_run))}


# --- rounds on file --------------------------------------------------------------------------

class Rounds:
    """Rounds of one bench, appended to a JSON-lines file as they finish (a crash keeps the others)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.new: list[dict[str, Any]] = []

    def add(self, record: dict[str, Any]) -> dict[str, Any]:
        record = {"at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **record}
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        self.new.append(record)
        return record

    def all(self) -> list[dict[str, Any]]:
        """Every round on file, this invocation's too."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


def arguments(description: str, name: str, rounds: int) -> argparse.ArgumentParser:
    """The options every bench takes: --rounds, --results, --report."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rounds", type=int, default=rounds, help=f"rounds to run (default {rounds})")
    parser.add_argument("--results", type=Path, default=RESULTS / f"{name}.jsonl",
                        help="JSON-lines file the rounds are appended to (default %(default)s)")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: print the table of every round in --results")
    return parser


# --- drill, with a state folder of its own --------------------------------------------------

@dataclass(frozen=True)
class Done:
    """A finished `drill` command."""

    args: tuple[str, ...]
    code: int
    stdout: str
    stderr: str
    seconds: float

    def check(self) -> Done:
        if self.code != 0:
            raise BenchError(f"drill {' '.join(self.args)} exited {self.code}:\n"
                             f"{self.stdout[-2000:]}\n{self.stderr[-3000:]}")
        return self


class BenchError(Exception):
    """A step of a bench failed; the message says which and shows its output."""


@contextlib.contextmanager
def sigint_deferred() -> Iterator[None]:
    """Ctrl-C is ignored inside (a teardown must finish); the handler is restored after."""
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_politely(command: list[str], env: dict[str, str], timeout: float | None) -> tuple[int, str, str]:
    """Run a command in its own session; on Ctrl-C (or a time-out) ask it to stop with SIGTERM
    (`drill` then cleans up as on Ctrl-C), wait until it has, and only then give up on it."""
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except (KeyboardInterrupt, subprocess.TimeoutExpired):
        with sigint_deferred():
            process.terminate()
            try:
                process.communicate(timeout=600)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
        raise
    return process.returncode, stdout, stderr


class Drill:
    """`drill` as a person runs it, under a state folder of its own: `down` and the faults it
    injects can only ever reach the runs it made, never another engineer's stack."""

    def __init__(self, state_dir: Path, *, quiet: bool = True) -> None:
        self.state_dir = state_dir
        self.env = {**os.environ, "DRILL_STATE_DIR": str(state_dir)}
        self.quiet = quiet

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "chaos", *(["-q"] if self.quiet else []), *args]

    def run(self, *args: str, timeout: float | None = None) -> Done:
        started = time.monotonic()
        code, stdout, stderr = run_politely(self.command(*args), self.env, timeout)
        return Done(tuple(args), code, stdout, stderr, time.monotonic() - started)

    def runs(self) -> list[str]:
        """Run ids that have a record under this state folder."""
        folder = self.state_dir / "runs"
        return sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []

    def current(self) -> str | None:
        path = self.state_dir / "current"
        return path.read_text().strip() or None if path.exists() else None

    def tear_down(self) -> list[str]:
        """`drill down` every run of this state folder; immune to Ctrl-C.  Returns the problems."""
        problems: list[str] = []
        with sigint_deferred():
            for run_id in self.runs():
                done = self.run("down", "--run", run_id, timeout=600)
                if done.code != 0:
                    problems.append(f"drill down --run {run_id} exited {done.code}: {done.stderr[-500:]}")
        for problem in problems:
            print(f"TEARDOWN: {problem}", file=sys.stderr)
        return problems


@contextlib.contextmanager
def private_drill(prefix: str, *, quiet: bool = True) -> Iterator[Drill]:
    """A Drill with a temporary state folder; every run made under it is taken down at the end."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{prefix}-") as state:
        drill = Drill(Path(state), quiet=quiet)
        try:
            yield drill
        finally:
            drill.tear_down()


@dataclass(frozen=True)
class Stack:
    """A stack that is up: its run id, its edge, its state folder."""

    drill: Drill
    run_id: str
    edge_url: str
    up_seconds: float

    @property
    def run_dir(self) -> Path:
        return self.drill.state_dir / "runs" / self.run_id


@contextlib.contextmanager
def stack_up(prefix: str, *settings: str, compose: Path | None = None) -> Iterator[Stack]:
    """`drill up` (--set KEY=VALUE for each of `settings`; `-f compose`, default the bundled
    stack) in a private state folder; always down."""
    with private_drill(prefix) as drill:
        print("bringing a stack up ...", flush=True)
        done = drill.run("up", *(a for s in settings for a in ("--set", s)),
                         *(("-f", str(compose)) if compose else ())).check()
        run_id = drill.current()
        record = json.loads((drill.state_dir / "runs" / str(run_id) / "state.json").read_text())
        if not run_id or not record.get("edge_url"):
            raise BenchError(f"drill up said it is up but recorded no run or edge: {done.stdout}")
        print(f"run {run_id} up in {done.seconds:.1f} s; edge {record['edge_url']}", flush=True)
        yield Stack(drill, run_id, record["edge_url"], done.seconds)
        print(f"taking run {run_id} down ...", flush=True)


def main_guard(body: Any) -> None:
    """Run a bench's main: a BenchError is one clean message and exit 1; Ctrl-C exit 130."""
    from chaos.errors import HarnessError

    try:
        body()
    except BenchError as e:
        sys.exit(f"bench failed: {e}")
    except HarnessError as e:
        sys.exit(f"bench failed: {e.render()}")
    except KeyboardInterrupt:
        print("\ninterrupted: everything this bench made has been taken down", file=sys.stderr)
        sys.exit(130)


# --- one plain Locust run --------------------------------------------------------------------

def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of every CPU since boot."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


def locust_run(host: str, out: Path, users: int, seconds: float, *, record: bool,
               mix: str = "browse_static=4,browse_db=3,upload=0,read=0",
               locustfile: Path | None = None) -> dict[str, Any]:
    """One headless Locust run, no think time: Locust's aggregated figures, its CPU and the machine's.

    `record` False runs plain Locust: no listener, no timeline, no ledger. `locustfile`: a
    user's own (its own think time, weights and mix), instead of the hosting mix.
    """
    import csv
    import threading

    from chaos.load.runner import LoadPlan, LocustProcess
    from chaos.load.settings import HOSTING, LoadSettings, Mix

    settings = LoadSettings(out, mix=None if locustfile else Mix.parse(mix), wait_min=0.0,
                            wait_max=0.0, record=record, locustfile=locustfile or HOSTING)
    plan = LoadPlan(host, settings, users=users, spawn_rate=users, duration=seconds,
                    extra_args=("--csv", str(out / "stats")))
    samples: list[tuple[float, float, float, float]] = []  # wall, locust cpu, machine busy, total
    locust = LocustProcess(plan)
    stop = threading.Event()

    def sample() -> None:
        stop.wait(min(2.0, seconds / 4))  # after the users are spawned
        while not stop.is_set():
            cpu = _cpu_seconds(locust.process.pid)
            if cpu is None:
                return
            samples.append((time.monotonic(), cpu, *_machine_busy()))
            stop.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        locust.wait()
    finally:
        stop.set()
        locust.stop()
        sampler.join()
    with (out / "stats_stats.csv").open() as f:
        row = next((r for r in csv.DictReader(f) if r["Name"] == "Aggregated"), None)
    if row is None:
        raise BenchError(f"no aggregated row in {out / 'stats_stats.csv'}")
    usable = samples[:-1] if len(samples) > 2 else samples  # the last one may be Locust's shutdown
    locust_cpu = machine_cpu = None
    if len(usable) >= 2:
        (t0, c0, b0, a0), (t1, c1, b1, a1) = usable[0], usable[-1]
        locust_cpu = (c1 - c0) / (t1 - t0)
        machine_cpu = (b1 - b0) / (a1 - a0) if a1 > a0 else None
    requests = int(row["Request Count"])
    return {"users": users, "rps": float(row["Requests/s"]), "requests": requests,
            "failures": int(row["Failure Count"]), "p50_ms": _number(row.get("50%")),
            "p95_ms": _number(row.get("95%")), "locust_cpu": locust_cpu, "machine_cpu": machine_cpu}


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


# --- a drill run, its peak memory measured --------------------------------------------------

#: Runs `drill` in this process and, at its exit, writes the peak resident memory of the
#: process itself and of its largest waited-for child (Locust) to the file named first.
_MEASURED = """
import atexit, json, resource, runpy, sys
out = sys.argv.pop(1)
def _peak():
    with open(out, "w") as f:
        json.dump({"self_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                   "children_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}, f)
atexit.register(_peak)
sys.argv[0] = "drill"
runpy.run_module("chaos", run_name="__main__", alter_sys=True)
"""


@dataclass(frozen=True)
class MeasuredRun:
    """A `drill` command with the peak memory of the harness process and of its largest child."""

    done: Done
    harness_mib: float | None
    child_mib: float | None


def drill_measured(drill: Drill, *args: str, timeout: float | None = None) -> MeasuredRun:
    """`drill ARGS` with its peak RSS (getrusage at its exit: exact, not sampled)."""
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        peak_file = Path(tmp) / "peak.json"
        command = [sys.executable, "-c", _MEASURED, str(peak_file), *(["-q"] if drill.quiet else []), *args]
        started = time.monotonic()
        code, stdout, stderr = run_politely(command, drill.env, timeout)
        done = Done(tuple(args), code, stdout, stderr, time.monotonic() - started)
        try:
            peak = json.loads(peak_file.read_text())
        except (OSError, ValueError):
            return MeasuredRun(done, None, None)
    return MeasuredRun(done, peak["self_kib"] / 1024, peak["children_kib"] / 1024)


def result_of(out: Path) -> dict[str, Any] | None:
    """The result.json a `drill run --out OUT` of one scenario wrote, if any."""
    found = sorted(out.rglob("result.json"))
    try:
        return dict(json.loads(found[0].read_text())) if found else None
    except (OSError, ValueError):
        return None
