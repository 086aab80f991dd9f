"""What the harness's recording costs: plain Locust vs the harness's load, same users, same stack.

    .venv/bin/python bench/load_overhead.py [--rounds 3] [--users 20] [--seconds 10] [--own]

Both runs use the same locustfile and users (no think time, so the client is the bottleneck,
browsing only: uploads fsync on the RAID and make the stack's speed drift); the plain run is
plain Locust on that file (no listener, no timeline, no ledger).  --own: a user's own
locustfile (bench/locustfiles/notes_flat_out.py: readers, and writers recording each
acknowledged note with `ledger.acknowledge`) against a user's own stack (examples/notes,
notes kept in memory and written every 5 s), instead of the hosting mix on the bundled stack.
Rounds alternate the two to spread the machine's noise.  A stack of its own is brought up
and taken down (also on Ctrl-C).  Also times one timeline row in this process.  About
2 x --seconds + 5 s a round, plus 15 s of up and down.
"""

from __future__ import annotations

import statistics
import tempfile
import time
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

HERE = Path(__file__).resolve().parent
OWN_LOCUSTFILE = HERE / "locustfiles" / "notes_flat_out.py"
OWN_STACK = HERE.parent / "examples" / "notes" / "compose.yaml"


def recording_cost(samples: int = 200_000) -> float:
    """Seconds one timeline row costs a Locust process: the listener's work alone, through the
    recorder as the listener calls it (the process's files found again for every request)."""
    import os

    from chaos.load.recorder import OUT_VARIABLE, Recorder

    with tempfile.TemporaryDirectory(prefix="bench-row-") as tmp:
        previous = os.environ.get(OUT_VARIABLE)
        os.environ[OUT_VARIABLE] = tmp
        recorder = Recorder()
        try:
            started = time.perf_counter()
            for _ in range(samples):
                timeline = recorder.timeline()
                assert timeline is not None
                timeline.add(time.time(), 0.0012345, "GET static", 200, True, "", 1234)
            elapsed = time.perf_counter() - started
        finally:
            recorder.close()
            if previous is None:
                os.environ.pop(OUT_VARIABLE, None)
            else:
                os.environ[OUT_VARIABLE] = previous
        return elapsed / samples


def table(rounds: list[dict[str, Any]]) -> None:
    plain = [r["plain"]["rps"] for r in rounds]
    harness = [r["harness"]["rps"] for r in rounds]
    ratios = [h / p for p, h in zip(plain, harness, strict=True)]
    cost = statistics.median(r["row_us"] for r in rounds)
    users = sorted({r["users"] for r in rounds})
    rows = [["plain Locust", render(Spread.of(plain), "req/s", digits=0),
             render(Spread.of(r["plain"]["p95_ms"] for r in rounds), "ms", digits=0)],
            ["harness's load", render(Spread.of(harness), "req/s", digits=0),
             render(Spread.of(r["harness"]["p95_ms"] for r in rounds), "ms", digits=0)],
            ["ratio harness/plain, per round", render(Spread.of(ratios), "", digits=3), ""],
            ["one timeline row", f"{cost:.2f} us", ""]]
    what = ("a user's locustfile on examples/notes" if any(r.get("own") for r in rounds)
            else "hosting mix, browsing")
    print_table(f"plain Locust vs the harness's load, {what}, {'/'.join(map(str, users))} users, "
                f"no think time ({machine()})", ["", "median (min-max, n)", "p95"], rows)
    print_disturbed(rounds)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], "load_overhead", rounds=3)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--own", action="store_true",
                        help="a user's locustfile against examples/notes, not the hosting mix")
    args = parser.parse_args()
    rounds = Rounds(args.results)
    locustfile = OWN_LOCUSTFILE if args.own else None
    compose = OWN_STACK if args.own else None
    settings = ("NOTES_FLUSH_EVERY=5",) if args.own else ()
    if not args.report:
        with stack_up("load", *settings, compose=compose) as stack, \
                tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            locust_run(stack.edge_url, Path(tmp) / "warm-up", args.users, 5, record=True,
                       locustfile=locustfile)
            for i in range(args.rounds):
                around = surroundings(stack.run_id)
                runs = {}
                for record in (False, True):
                    name = "harness" if record else "plain"
                    runs[name] = locust_run(stack.edge_url, Path(tmp) / f"{i}-{name}", args.users,
                                            args.seconds, record=record, locustfile=locustfile)
                    print(f"round {i + 1} {name:<7}: {runs[name]['rps']:.0f} req/s, "
                          f"p95 {runs[name]['p95_ms']} ms, Locust CPU {runs[name]['locust_cpu'] or 0:.0%}",
                          flush=True)
                rounds.add({"users": args.users, "seconds": args.seconds, "own": args.own, **runs,
                            "row_us": recording_cost(50_000) * 1e6, **around})
    table([r for r in (rounds.all() if args.report else rounds.new)
           if bool(r.get("own")) == args.own])


if __name__ == "__main__":
    main_guard(main)
