"""Repeatability: the same drill N times gives the same verdict; the spread of what it measures.

    .venv/bin/python bench/repeatability.py [--rounds 5] [--time-scale 0.5]
        [--scenarios degraded-raid-keeps-serving,datacentre-shutdown]

Each round is one `drill run scenarios/NAME.yaml --time-scale S` per scenario, in a state folder
of its own (its run folder kept under results/bench/runs/), appended to
results/bench/repeatability.jsonl as soon as it ends: so a person can run one round at a time
(`--rounds 1 --scenarios NAME`, e.g. each under `flock` on a shared machine) and print the
whole table afterwards with `--report`.  From each result.json: the verdict, every measured
fault's time to recover and downtime, the objectives as measured, the seconds of actions that
report them (a rebuild, a failback), how long each `when` condition took after the step before
it (a failover seen), lost uploads, the run's wall time, and the harness process's peak memory.
At 0.5: degraded-raid-keeps-serving about 50 s, datacentre-shutdown about 2.5 min a round.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from common import (
    RESULTS,
    Rounds,
    Spread,
    arguments,
    drill_measured,
    machine,
    main_guard,
    print_table,
    private_drill,
    result_of,
    surroundings,
)

DEFAULT = "degraded-raid-keeps-serving,datacentre-shutdown"


def summarise(result: dict[str, Any]) -> dict[str, Any]:
    """The figures of one result.json that a repeat should reproduce."""
    measurements = result.get("measurements") or {}
    faults = {f["fault"]["name"]: {"time_to_recover": f["impact"]["time_to_recover"],
                                   "downtime": f["impact"]["downtime"], "recovered": f["impact"]["recovered"]}
              for f in measurements.get("faults", [])}
    objectives = {o["name"]: {"measured": o["measured"], "passed": o["passed"]}
                  for o in result.get("objectives", [])}
    actions: dict[str, float] = {}
    waits: dict[str, float] = {}
    previous: dict[str, Any] | None = None
    for step in result.get("steps", []):
        seconds = (step.get("data") or {}).get("seconds")
        if isinstance(seconds, int | float):
            actions[step["name"]] = float(seconds)
        if "when" in (step.get("trigger") or "") and previous and step.get("started_at"):
            since = previous.get("effective_at") or previous.get("ended_at")
            if since:
                waits[step["name"]] = step["started_at"] - since
        previous = step
    loss = measurements.get("loss") or {}
    return {"outcome": result.get("outcome"), "reason": result.get("reason"), "faults": faults,
            "objectives": objectives, "actions": actions, "waits": waits, "lost": loss.get("lost"),
            "checks_failed": [c["name"] for c in result.get("checks", []) if not c["passed"]]}


def seconds_of(text: str) -> float | None:
    """`14.76s` -> 14.76; a figure that is not seconds -> None."""
    match = re.fullmatch(r"(-?\d+(?:\.\d+)?)s", text.strip())
    return float(match[1]) if match else None


def _row_adder(rows: list[list[object]]) -> Callable[..., None]:
    """A function adding one figure's row (n, min, median, max, spread) to `rows`."""
    def row(name: str, values: list[float | None], unit: str = "s", digits: int = 2) -> None:
        spread = Spread.of(values)
        if spread is not None:
            rows.append([name, spread.n, f"{spread.low:.{digits}f}", f"{spread.median:.{digits}f}",
                         f"{spread.high:.{digits}f}", f"{spread.width:.{digits}f}", unit])
    return row


def table(rounds: list[dict[str, Any]]) -> None:
    for scenario in sorted({r["scenario"] for r in rounds}):
        mine = [r for r in rounds if r["scenario"] == scenario]
        verdicts: dict[str, int] = {}
        for r in mine:
            verdicts[r["outcome"]] = verdicts.get(r["outcome"], 0) + 1
        rows: list[list[object]] = []
        row = _row_adder(rows)
        for fault in sorted({f for r in mine for f in r["faults"]}):
            row(f"{fault}: time to recover",
                [r["faults"].get(fault, {}).get("time_to_recover") for r in mine])
            row(f"{fault}: downtime", [r["faults"].get(fault, {}).get("downtime") for r in mine])
        for objective in sorted({o for r in mine for o in r["objectives"]}):
            values = [seconds_of(r["objectives"][objective]["measured"]) for r in mine
                      if objective in r["objectives"]]
            if any(v is not None for v in values):
                row(f"objective {objective} (measured)", values)
        for action in sorted({a for r in mine for a in r["actions"]}):
            row(f"{action}: seconds it reported", [r["actions"].get(action) for r in mine])
        for wait in sorted({w for r in mine for w in r["waits"]}):
            row(f"{wait}: condition met after", [r["waits"].get(wait) for r in mine])
        row("lost uploads", [r["lost"] for r in mine], "", 0)
        row("wall time of the run", [r["seconds"] for r in mine], "s", 0)
        row("harness peak memory", [r["harness_mib"] for r in mine], "MiB", 0)
        scales = "/".join(f"{s:g}" for s in sorted({r["time_scale"] for r in mine}))
        print_table(f"{scenario} x{scales}: verdicts "
                    + ", ".join(f"{k} {v}" for k, v in sorted(verdicts.items())) + f" of {len(mine)}",
                    ["figure", "n", "min", "median", "max", "spread", ""], rows)
        failed = [f"{r['at']}: {r['outcome']} ({r['reason']})" for r in mine if r["outcome"] != "passed"]
        for line in failed:
            print(f"  not passed: {line}")
        disturbed = sum(1 for r in mine if r["other_containers"])
        print(f"  rounds with other runs' containers up: {disturbed} of {len(mine)}; load average at "
              f"the start {min(r['load_1m'] for r in mine):.1f}-{max(r['load_1m'] for r in mine):.1f}")
    print(f"\n({machine()})")


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], "repeatability", rounds=5)
    parser.add_argument("--scenarios", default=DEFAULT,
                        help="scenario names (scenarios/NAME.yaml), comma-separated")
    parser.add_argument("--time-scale", type=float, default=0.5)
    args = parser.parse_args()
    rounds = Rounds(args.results)
    if not args.report:
        names = [n.strip() for n in args.scenarios.split(",") if n.strip()]
        with private_drill("repeat") as drill:
            for i in range(args.rounds):
                for name in names:
                    around = surroundings()
                    out = RESULTS / "runs" / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"
                    run = drill_measured(drill, "run", f"scenarios/{name}.yaml", "--time-scale",
                                         str(args.time_scale), "--out", str(out), timeout=1800)
                    result = result_of(out)
                    figures = summarise(result) if result else {
                        "outcome": f"no result (exit {run.done.code})", "reason": run.done.stderr[-300:],
                        "faults": {}, "objectives": {}, "actions": {}, "waits": {}, "lost": None,
                        "checks_failed": []}
                    record = rounds.add({"scenario": name, "time_scale": args.time_scale,
                                         "exit_code": run.done.code, **figures, "seconds": run.done.seconds,
                                         "harness_mib": run.harness_mib, "child_mib": run.child_mib,
                                         "out": str(out), **around})
                    recover = ", ".join(f"{f} recovered after {v['time_to_recover']}" for f, v in
                                        record["faults"].items())
                    print(f"round {i + 1} {name}: {record['outcome']} in {record['seconds']:.0f} s; "
                          f"{recover}", flush=True)
    table(rounds.all() if args.report else rounds.new)


if __name__ == "__main__":
    main_guard(main)
