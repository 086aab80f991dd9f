"""Peak memory of the harness process during a drill, and of its largest child (Locust).

    .venv/bin/python bench/memory.py [--rounds 2] [--scenario scenarios/baseline.yaml] [--time-scale 0.25]

`drill run SCENARIO --time-scale S` in a state folder of its own, the harness process's peak
resident set read with getrusage at its exit (exact, not sampled): RUSAGE_SELF for the harness
(engine, monitor, prober, measurement, reports), RUSAGE_CHILDREN for the largest process it
waited for (the Locust process).  `drill run` takes its stack down itself; whatever a broken
run leaves in the state folder is taken down too (also on Ctrl-C).  The baseline at 0.25:
about 45 s a round.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from common import (
    Rounds,
    Spread,
    arguments,
    drill_measured,
    machine,
    main_guard,
    print_disturbed,
    print_table,
    private_drill,
    render,
    result_of,
    surroundings,
)


def table(rounds: list[dict[str, Any]]) -> None:
    rows = []
    for scenario in sorted({(r["scenario"], r["time_scale"]) for r in rounds}):
        mine = [r for r in rounds if (r["scenario"], r["time_scale"]) == scenario]
        rows.append([f"{Path(scenario[0]).stem} x{scenario[1]:g}",
                     render(Spread.of(r["harness_mib"] for r in mine), "MiB", digits=0),
                     render(Spread.of(r["child_mib"] for r in mine), "MiB", digits=0),
                     render(Spread.of(r["seconds"] for r in mine), "s", digits=0),
                     ", ".join(sorted({r["outcome"] for r in mine}))])
    print_table(f"peak resident memory during `drill run` ({machine()})",
                ["drill", "harness process", "largest child (Locust)", "wall time", "outcomes"], rows)
    print_disturbed(rounds)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], "memory", rounds=2)
    parser.add_argument("--scenario", default="scenarios/baseline.yaml")
    parser.add_argument("--time-scale", type=float, default=0.25)
    args = parser.parse_args()
    rounds = Rounds(args.results)
    if not args.report:
        with private_drill("memory") as drill, tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            for i in range(args.rounds):
                around = surroundings()
                out = Path(tmp) / str(i)
                run = drill_measured(drill, "run", args.scenario, "--time-scale", str(args.time_scale),
                                     "--out", str(out), timeout=1800)
                result = result_of(out)
                outcome = str(result["outcome"]) if result else f"exit {run.done.code}"
                record = rounds.add({"scenario": args.scenario, "time_scale": args.time_scale,
                                     "harness_mib": run.harness_mib, "child_mib": run.child_mib,
                                     "seconds": run.done.seconds, "outcome": outcome, **around})
                print(f"round {i + 1}: {outcome} in {record['seconds']:.0f} s; harness peak "
                      f"{record['harness_mib'] or 0:.0f} MiB, "
                      f"largest child {record['child_mib'] or 0:.0f} MiB",
                      flush=True)
    table(rounds.all() if args.report else rounds.new)


if __name__ == "__main__":
    main_guard(main)
