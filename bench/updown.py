"""Warm `drill up` and `drill down`: seconds of each, over N rounds (images already built).

    .venv/bin/python bench/updown.py [--rounds 3]

`up` counts until every service is healthy and the edge answers (the command returns);
`down` until every container, network, volume and loop device is gone.  Each round is
appended to results/bench/updown.jsonl; `--report` prints the table of every round there.
About 15 s a round.
"""

from __future__ import annotations

from typing import Any

from common import (
    Rounds,
    Spread,
    arguments,
    machine,
    main_guard,
    print_table,
    private_drill,
    render,
    surroundings,
)


def table(rounds: list[dict[str, Any]]) -> None:
    rows = [[step, render(Spread.of(r[step] for r in rounds))] for step in ("up", "down")]
    print_table(f"warm up/down ({machine()})", ["step", "median (min-max, n)"], rows)
    disturbed = [r for r in rounds if r["other_containers"]]
    print(f"rounds with other runs' containers up: {len(disturbed)} of {len(rounds)}")


def main() -> None:
    args = arguments(__doc__.splitlines()[0], "updown", rounds=3).parse_args()
    rounds = Rounds(args.results)
    if not args.report:
        with private_drill("updown") as drill:
            drill.run("images").check()
            for i in range(args.rounds):
                around = surroundings()
                up = drill.run("up").check()
                down = drill.run("down").check()
                rounds.add({"up": up.seconds, "down": down.seconds, **around})
                print(f"round {i + 1}: up {up.seconds:.1f} s, down {down.seconds:.1f} s "
                      f"(load {around['load_1m']:.1f}, {around['other_containers']} other containers)",
                      flush=True)
    table(rounds.all() if args.report else rounds.new)


if __name__ == "__main__":
    main_guard(main)
