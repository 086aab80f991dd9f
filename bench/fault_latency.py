"""Fault-injection latency: from being asked to taking effect, per fault kind of the registry.

    .venv/bin/python bench/fault_latency.py [--rounds 3] [--faults drive,server | site | NAME,...]

One stack is brought up (DRILL_PROMOTE_AFTER=0: server-b never promotes itself, so taking dc-a
away and back does not fail over), a few uploads are made for the corruption faults, then
every fault is injected N times on its natural target (drives: server-a/disk1, servers:
server-a, sites: dc-a), each time recorded as the harness records it (`Injection.latency`:
asked -> effective) next to how long the call took including its proof, then rolled back;
after a site fault the next round waits until every service is healthy and the edge serves
from server-a again.  The stack is idle (no load) while faults are injected.  The stack is
taken down at the end, also on Ctrl-C.  About 1 min for the drive and server faults at 3
rounds; 2-3 min for the site faults (power-off and shutdown each reboot server-a).
"""

from __future__ import annotations

import time
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
    sigint_deferred,
    stack_up,
    surroundings,
)

from chaos.engine import objects
from chaos.engine.client import connect
from chaos.errors import HarnessError
from chaos.faults.base import FaultContext
from chaos.faults.registry import FAULTS, fault_class, make_fault
from chaos.progress import Progress
from chaos.stack.edge import served_by

#: The natural target of each kind of target.
TARGETS = {"drive": "server-a/disk1", "server": "server-a", "site": "dc-a"}
#: Site faults whose rollback boots the machines again.
REBOOTING = ("shutdown", "power-off")
#: How long a machine may take to be back after a site fault's rollback (a boot takes ~5 s).
SETTLE_WITHIN = 60.0
#: Faults that need uploaded files on the target.
NEED_UPLOADS = {"bitrot", "fs-corruption"}


def chosen_faults(text: str) -> list[str]:
    """`drive,server`, `site`, `pause,hang` or `all` -> fault names: the registry's order, but the
    faults that reboot a machine last (a machine that fails to come back spoils fewer rounds)."""
    wanted = {w.strip() for w in text.split(",") if w.strip()}
    names = [n for n in FAULTS if "all" in wanted or n in wanted or fault_class(n).target_kind in wanted]
    names.sort(key=lambda n: REBOOTING.index(n) + 1 if n in REBOOTING else 0)
    unknown = wanted - set(FAULTS) - set(TARGETS) - {"all"}
    if unknown or not names:
        raise SystemExit(f"--faults: unknown {', '.join(sorted(unknown)) or text!r} "
                         f"(faults: {', '.join(FAULTS)}; or drive, server, site, all)")
    return names


def settle(ctx: FaultContext, stack: Stack) -> tuple[float, str]:
    """After a site fault: every service healthy and the edge serving from server-a (a real answer
    of server-a's app: Docker's health status can still be the one from before the fault).
    Seconds it took, and what went wrong if it did not (the next fault is injected anyway)."""
    started = time.monotonic()
    deadline = started + SETTLE_WITHIN
    containers = objects.find_containers(ctx.client, ctx.run_id)
    while True:
        states = {c.name: objects.state_of(c) for c in containers}
        waiting = [f"{name} {s.status}/{s.health}" for name, s in states.items()
                   if s.status != "running" or s.health not in (None, "healthy")]
        if not waiting and served_by(stack.edge_url) == "server-a":
            return time.monotonic() - started, ""
        if time.monotonic() > deadline:
            why = ", ".join(waiting) or "the edge does not serve from server-a"
            return time.monotonic() - started, f"after {SETTLE_WITHIN:.0f} s: {why}"
        time.sleep(0.2)


def one(ctx: FaultContext, stack: Stack, name: str) -> dict[str, Any]:
    fault = make_fault(name)
    target = TARGETS[fault.target_kind]
    started = time.monotonic()
    try:
        injection = fault.inject(ctx, target)
        call = time.monotonic() - started
    except HarnessError as e:
        return {"fault": name, "target": target, "latency": None, "call": None, "confirmed": False,
                "evidence": "", "settle": 0.0, "settle_error": "", "error": e.message[:300]}
    finally:
        with sigint_deferred():
            fault.rollback(ctx, target)  # safe when it is not in place
    settled, problem = settle(ctx, stack) if fault.target_kind == "site" else (0.0, "")
    return {"fault": name, "target": target, "latency": injection.latency, "call": call,
            "confirmed": injection.confirmed, "evidence": injection.evidence[:200], "settle": settled,
            "settle_error": problem}


def seed_uploads(stack: Stack) -> None:
    """A short load, so server-a holds uploaded files to rot and corrupt."""
    done = stack.drill.run("load", "--run", stack.run_id, "--duration", "8s", "--users", "5",
                           "--mix", "browse_static=1,browse_db=0,upload=4,read=0", "--no-verify",
                           "--prober-rate", "0", "--out", str(stack.run_dir / "seed"))
    print(f"seeded uploads ({done.seconds:.1f} s, exit {done.code})", flush=True)


def table(rounds: list[dict[str, Any]]) -> None:
    rows = []
    for name in FAULTS:
        mine = [r for r in rounds if r["fault"] == name]
        if not mine:
            continue
        unconfirmed = sum(1 for r in mine if not r["confirmed"] and not r.get("error"))
        failed = sum(1 for r in mine if r.get("error"))
        unsettled = sum(1 for r in mine if r.get("settle_error"))
        rows.append([name, mine[0]["target"], render(Spread.of(r["latency"] for r in mine), "ms", 1000, 1),
                     render(Spread.of(r["call"] for r in mine), "s", digits=2),
                     render(Spread.of(r["settle"] for r in mine if r["settle"] and not r.get("settle_error")),
                            "s", digits=1) if mine[0]["settle"] else "",
                     str(unconfirmed) if unconfirmed else "", str(unsettled) if unsettled else "",
                     str(failed) if failed else ""])
    print_table(f"fault injection, idle stack ({machine()})",
                ["fault", "target", "asked -> effective", "call incl. proof", "back after rollback",
                 "unconfirmed", "not back", "failed"], rows)
    for r in rounds:
        if r.get("settle_error"):
            print(f"  {r['at']} {r['fault']}: not back after its rollback: {r['settle_error']}")
        if r.get("error"):
            print(f"  {r['at']} {r['fault']}: injection failed: {r['error']}")
    print_disturbed(rounds)


def main() -> None:
    parser = arguments(__doc__.splitlines()[0], "fault_latency", rounds=3)
    parser.add_argument("--faults", default="all", help="fault names or target kinds, comma-separated")
    args = parser.parse_args()
    rounds = Rounds(args.results)
    if not args.report:
        names = chosen_faults(args.faults)
        with stack_up("faults", "DRILL_PROMOTE_AFTER=0") as stack:
            ctx = FaultContext(connect(Progress(quiet=True), may_install=False), stack.run_id, stack.run_dir)
            if NEED_UPLOADS & set(names):
                seed_uploads(stack)
            for name in names:
                for i in range(args.rounds):
                    around = surroundings(stack.run_id)
                    record = rounds.add({**one(ctx, stack, name), **around})
                    if record.get("error"):
                        print(f"{name:<14} round {i + 1}: FAILED: {record['error']}", flush=True)
                        continue
                    latency = record["latency"]
                    print(f"{name:<14} round {i + 1}: "
                          f"{'-' if latency is None else f'{latency * 1000:.0f} ms'} to effect, "
                          f"call {record['call']:.2f} s"
                          + (f", back after {record['settle']:.1f} s" if record["settle"] else "")
                          + (f"  NOT BACK: {record['settle_error']}" if record["settle_error"] else "")
                          + ("" if record["confirmed"] else f"  UNCONFIRMED: {record['evidence']}"),
                          flush=True)
    table(rounds.all() if args.report else rounds.new)


if __name__ == "__main__":
    main_guard(main)
