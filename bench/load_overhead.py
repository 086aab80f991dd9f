"""What the harness's recording costs: plain Locust vs the harness's load, same users, same stack.

Both runs use the same locustfile and users (no think time, so the client is
the bottleneck); the plain run has the per-request timeline and the ledger
switched off.  Rounds alternate to spread the machine's noise.

    .venv/bin/python bench/load_overhead.py [--users 20] [--seconds 20] [--rounds 2]

Needs a stack that is up (`drill up`); prints requests/s of each and the ratio.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

from chaos.engine.runstate import RunStore
from chaos.load.runner import LoadPlan, LocustProcess
from chaos.load.settings import LoadSettings, Mix
from chaos.records import TimelineWriter

#: Uploads fsync on the RAID and make the stack's speed drift; browsing keeps it steady.
MIX = Mix(browse_static=4, browse_db=3, upload=0, read=0)


def one_run(host: str, out: Path, users: int, seconds: float, record: bool) -> float:
    """Locust's own aggregated requests/s for one headless run."""
    settings = LoadSettings(out, mix=MIX, wait_min=0.0, wait_max=0.0, record=record)
    plan = LoadPlan(host, settings, users=users, spawn_rate=users, duration=seconds,
                    extra_args=("--csv", str(out / "stats")))
    LocustProcess(plan).wait()
    with (out / "stats_stats.csv").open() as f:
        for row in csv.DictReader(f):
            if row["Name"] == "Aggregated":
                return float(row["Requests/s"])
    raise SystemExit(f"no aggregated row in {out / 'stats_stats.csv'}")


def recording_cost(samples: int = 200_000) -> float:
    """Seconds one timeline row costs the recording process (the listener's work alone)."""
    with tempfile.TemporaryDirectory(prefix="bench-row-") as tmp:
        writer = TimelineWriter(Path(tmp) / "timeline.csv", source="load")
        started = time.perf_counter()
        for _ in range(samples):
            writer.add(time.time(), 0.0012345, "GET static", 200, True, "", 1234)
        writer.close()
        return (time.perf_counter() - started) / samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    state = RunStore().resolve(None)
    if not state.edge_url:
        sys.exit("no stack is up: run `drill up` first")
    plain: list[float] = []
    harness: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
        one_run(state.edge_url, Path(tmp) / "warm-up", args.users, 5, True)
        for round_ in range(args.rounds):
            for record, into in ((False, plain), (True, harness)):
                out = Path(tmp) / f"{round_}-{'harness' if record else 'plain'}"
                into.append(one_run(state.edge_url, out, args.users, args.seconds, record))
                print(f"round {round_ + 1} {'harness' if record else 'plain  '}: "
                      f"{into[-1]:.1f} req/s", flush=True)
    p, h = statistics.median(plain), statistics.median(harness)
    print(f"\n{args.users} users, no think time, {args.seconds:g} s x {args.rounds} rounds "
          f"against {state.edge_url}")
    print(f"plain Locust      {p:8.1f} req/s")
    print(f"harness's load    {h:8.1f} req/s")
    print(f"ratio             {h / p:8.3f}  (recording costs {1 - h / p:+.1%} of throughput; "
          f"spread of plain runs {min(plain):.0f}-{max(plain):.0f})")
    cost = recording_cost()
    print(f"one timeline row  {cost * 1e6:8.2f} us  (= {cost * p:.1%} of one core at the plain rate)")


if __name__ == "__main__":
    main()
