"""Load capacity of one Locust process against the stack: req/s and p95 at increasing users.

    .venv/bin/python bench/capacity.py [--rounds 1] [--users 1,5,10,20,40,80] [--seconds 12]

One Locust process (the harness's locustfile, recording on, no think time, browsing only)
against a stack of its own, each step of users for --seconds; the ladder stops early once more
than 1 % of the requests fail.  For each step: Locust's requests/s, p50 and p95, failures,
the Locust process's CPU (1.00 = one core saturated) and the whole machine's (the stack
shares it).  The stack is taken down at the end (also on Ctrl-C).  About 6 x (--seconds + 3 s)
a round, plus 15 s of up and down.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from common import (
    Rounds,
    Spread,
    arguments,
    locust_run,
    machine,
    main_guard,
    print_disturbed,
    print_table,
    render,
    stack_up,
    surroundings,
)

#: A step failing more than this ends the ladder.
MAX_FAILED = 0.01


def table(rounds: list[dict[str, Any]]) -> None:
    steps = [s for r in rounds for s in r["steps"]]
    rows = []
    for users in sorted({s["users"] for s in steps}):
        mine = [s for s in steps if s["users"] == users]
        failed = sum(s["failures"] for s in mine) / max(1, sum(s["requests"] for s in mine))
        rows.append([users, render(Spread.of(s["rps"] for s in mine), "req/s", digits=0),
                     render(Spread.of(s["p50_ms"] for s in mine), "ms", digits=0),
                     render(Spread.of(s["p95_ms"] for s in mine), "ms", digits=0),
                     f"{failed:.2%}",
                     render(Spread.of(s["locust_cpu"] for s in mine), "", digits=2),
                     render(Spread.of(s["machine_cpu"] for s in mine), "", digits=2)])
    print_table(f"one Locust process, no think time, browsing ({machine()})",
                ["users", "req/s", "p50", "p95", "failed", "Locust CPU (cores)", "machine CPU (of all)"],
                rows)
    print_disturbed(rounds)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], "capacity", rounds=1)
    parser.add_argument("--users", default="1,5,10,20,40,80", help="the ladder, comma-separated")
    parser.add_argument("--seconds", type=float, default=12)
    args = parser.parse_args()
    rounds = Rounds(args.results)
    if not args.report:
        ladder = [int(u) for u in args.users.split(",")]
        with stack_up("capacity") as stack, tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
            locust_run(stack.edge_url, Path(tmp) / "warm-up", 5, 5, record=True)
            for i in range(args.rounds):
                around = surroundings(stack.run_id)
                steps = []
                for users in ladder:
                    step = locust_run(stack.edge_url, Path(tmp) / f"{i}-{users}", users, args.seconds,
                                      record=True)
                    steps.append(step)
                    print(f"round {i + 1}, {users:>3} users: {step['rps']:.0f} req/s, "
                          f"p95 {step['p95_ms']} ms, {step['failures']} failed, "
                          f"Locust CPU {step['locust_cpu'] or 0:.2f}, machine {step['machine_cpu'] or 0:.0%}",
                          flush=True)
                    if step["failures"] > MAX_FAILED * max(1, step["requests"]):
                        break
                rounds.add({"seconds": args.seconds, "steps": steps, **around})
    table(rounds.all() if args.report else rounds.new)


if __name__ == "__main__":
    main_guard(main)
