"""Measurement accuracy: a calibrated outage (the edge frozen for exactly X s) vs what the harness measures.

    .venv/bin/python bench/accuracy.py [--rounds 3] [--outages 2,5]

The calibration of tests/integration/test_measurement.py, repeated: under load (20 users, the
hosting mix, the 20 Hz prober), the edge container is paused for X s and unpaused; the true
outage runs from the middle of the pause call to the middle of the unpause call (each call's
length is its uncertainty).  The harness's own measurement (chaos.measure, default recovery
settings as in a drill) gives the downtime and the time to recover; the table shows measured
minus true.  One stack for every round, taken down at the end (also on Ctrl-C).  About X + 20 s
a round; 3 rounds of 2 s and 5 s: about 2.5 min with the stack's up and down.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from common import (
    Rounds,
    Spread,
    Stack,
    arguments,
    machine,
    main_guard,
    print_disturbed,
    print_table,
    render,
    stack_up,
    surroundings,
)

from chaos.engine import objects
from chaos.engine.client import connect
from chaos.load.prober import BUNDLED_PATH, ProbeSpec
from chaos.load.runner import LoadPlan
from chaos.load.session import LoadSession
from chaos.load.settings import LoadSettings
from chaos.measure.recovery import RecoverySettings
from chaos.measure.summary import FaultMark, measure
from chaos.progress import Progress

SETTINGS = RecoverySettings()
BEFORE = 5.0


def one(stack: Stack, outage: float, out: Path) -> dict[str, Any]:
    engine = connect(Progress(quiet=True), may_install=False)
    edge = objects.service_container(engine, stack.run_id, "edge")
    plan = LoadPlan(stack.edge_url, LoadSettings(out), users=20, spawn_rate=20,
                    duration=BEFORE + outage + SETTINGS.hold + 4)
    with LoadSession(plan, probe=ProbeSpec(path=BUNDLED_PATH), prober_rate=20) as session:
        time.sleep(BEFORE)
        try:
            before_pause = time.time()
            objects.pause(edge)
            paused = time.time()
            time.sleep(max(0.0, outage - (paused - before_pause)))
        finally:
            before_unpause = time.time()
            objects.unpause(edge)
            unpaused = time.time()
        session.wait()
    records = session.records()
    frozen_at, thawed_at = (before_pause + paused) / 2, (before_unpause + unpaused) / 2
    truth = thawed_at - frozen_at
    result = measure(records.requests, records.acks, records.started_at, records.ended_at,
                     [FaultMark("edge paused", frozen_at, thawed_at)], settings=SETTINGS)
    impact = result.faults[0].impact
    return {"outage": outage, "truth": truth, "downtime": impact.downtime,
            "time_to_recover": impact.time_to_recover, "recovered": impact.recovered,
            "uncertainty": max(paused - before_pause, unpaused - before_unpause) / 2,
            "requests": len(records.requests)}


def table(rounds: list[dict[str, Any]]) -> None:
    rows = []
    for outage in sorted({r["outage"] for r in rounds}):
        mine = [r for r in rounds if r["outage"] == outage]
        rows.append([f"{outage:g} s",
                     render(Spread.of(r["downtime"] - r["truth"] for r in mine), "ms", 1000, 0),
                     render(Spread.of(r["time_to_recover"] - r["truth"] for r in mine
                                      if r["time_to_recover"] is not None), "ms", 1000, 0),
                     f"{max(r['uncertainty'] for r in mine) * 1000:.0f} ms",
                     str(sum(1 for r in mine if not r["recovered"]) or "")])
    print_table(f"measured minus true outage, frozen edge under 20 users ({machine()})",
                ["outage", "downtime error", "time-to-recover error", "truth +/-", "not recovered"], rows)
    print_disturbed(rounds)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], "accuracy", rounds=3)
    parser.add_argument("--outages", default="2,5", help="outage lengths in seconds, comma-separated")
    args = parser.parse_args()
    rounds = Rounds(args.results)
    if not args.report:
        outages = [float(x) for x in args.outages.split(",")]
        with stack_up("accuracy") as stack, tempfile.TemporaryDirectory(prefix="bench-accuracy-") as tmp:
            for i in range(args.rounds):
                for outage in outages:
                    around = surroundings(stack.run_id)
                    record = rounds.add({**one(stack, outage, Path(tmp) / f"{i}-{outage:g}"), **around})
                    ttr = record["time_to_recover"]
                    print(f"round {i + 1}, {outage:g} s: true {record['truth']:.3f} s, measured downtime "
                          f"{record['downtime']:.3f} s, recovered after "
                          f"{'-' if ttr is None else f'{ttr:.3f} s'} ({record['requests']} requests)",
                          flush=True)
    table(rounds.all() if args.report else rounds.new)


if __name__ == "__main__":
    main_guard(main)
