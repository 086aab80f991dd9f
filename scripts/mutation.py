"""`make mutation`: mutation testing of the pure measurement logic, and its verdict.

Runs mutmut (configured in pyproject.toml, [tool.mutmut]) from a fresh `mutants/`
folder, then the hand-written mutants below, and prints the score.  Exits 1 when a
mutant survives that tests/mutation-equivalents.md does not list as equivalent, when
an entry there no longer matches a surviving mutant (the list must stay exact), or
when a hand-written mutant is not killed.

Usage: .venv/bin/python scripts/mutation.py [--keep]   (--keep: reuse mutants/ and its verdicts)
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
EQUIVALENTS = ROOT / "tests" / "mutation-equivalents.md"
LOG = ROOT / "mutants" / "mutmut-run.log"
#: A timed-out mutant made the tests hang (an endless loop): they did not pass, so it is caught.
CAUGHT = {"killed", "timeout"}


@dataclass(frozen=True)
class HandMutant:
    """A mutant mutmut's operators do not make (max -> min, a shifted constant), applied by text."""

    name: str
    path: str
    old: str
    new: str


# Mistakes a reviewer found surviving the tests once; each must stay killed.
HAND_MUTANTS = (
    HandMutant("downtime may start before the fault", "chaos/measure/recovery.py",
               "    last_good = fault_at\n", "    last_good = fault_at - settings.window\n"),
    HandMutant("recovery threshold lowered by 0.05", "chaos/measure/recovery.py",
               "< settings.threshold:", "< settings.threshold - 0.05:"),
    HandMutant("HTTP 410 no longer counted as missing", "chaos/measure/loss.py",
               "if read.status in (404, 410):", "if read.status in (404,):"),
    HandMutant("an upload never read back counted as intact", "chaos/measure/loss.py",
               'reads.get(ack.id, ReadBack(0, None, "not read back"))',
               'reads.get(ack.id, ReadBack(200, ack.sha256, "not read back"))'),
    HandMutant("corrupt uploads left out of the loss window", "chaos/measure/loss.py",
               "if v in (Verdict.MISSING, Verdict.CORRUPT)]", "if v in (Verdict.MISSING,)]"),
)


@dataclass(frozen=True)
class Equivalent:
    mutant: str
    changed: str


def say(text: str) -> None:
    print(f"[mutation] {text}", flush=True)


def mutmut(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / "mutmut"), *args], cwd=ROOT, capture_output=True, text=True)


def run_mutmut(keep: bool) -> None:
    if not keep:
        # Verdicts cached in mutants/ would otherwise stand for code or tests changed since.
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    say("mutmut: generating the mutants and running the unit tests against each (1-2 min)")
    done = mutmut("run")
    LOG.parent.mkdir(exist_ok=True)
    LOG.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:], sep="\n")
        sys.exit(f"[mutation] mutmut run failed (exit {done.returncode}); its output: {LOG}")


def statuses() -> dict[str, str]:
    listed = mutmut("results", "--all", "true")
    if listed.returncode != 0:
        sys.exit(f"[mutation] mutmut results failed:\n{listed.stderr}")
    found = {}
    for line in listed.stdout.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        if sep:
            found[name] = status
    if not found:
        sys.exit("[mutation] mutmut made no mutant: check [tool.mutmut] in pyproject.toml")
    return found


def changed_lines(mutant: str) -> list[str]:
    """The lines the mutant adds, as `mutmut show` prints its diff."""
    diff = mutmut("show", mutant).stdout
    return [line[1:].strip() for line in diff.splitlines()
            if line.startswith("+") and not line.startswith("+++")]


def read_equivalents() -> list[Equivalent]:
    """Entries of the file: a `## `mutant id`` heading, then a `- changed: `line`` item."""
    entries: list[Equivalent] = []
    mutant: str | None = None
    for line in EQUIVALENTS.read_text().splitlines():
        if heading := re.match(r"^## `([^`]+)`", line):
            mutant = heading.group(1)
        elif (changed := re.match(r"^- changed: `(.+)`\s*$", line)) and mutant is not None:
            entries.append(Equivalent(mutant, changed.group(1).strip()))
            mutant = None
    return entries


def run_hand_mutants(tests: list[str]) -> list[str]:
    """The names of the hand-written mutants that the tests did not kill."""
    alive = []
    for hand in HAND_MUTANTS:
        with tempfile.TemporaryDirectory(prefix="mutation-") as tmp:
            copy = Path(tmp)
            shutil.copytree(ROOT / "chaos", copy / "chaos")
            shutil.copytree(ROOT / "tests", copy / "tests")
            shutil.copy(ROOT / "pyproject.toml", copy)
            target = copy / hand.path
            source = target.read_text()
            if source.count(hand.old) != 1:
                sys.exit(f"[mutation] hand-written mutant {hand.name!r}: {hand.old!r} is not found "
                         f"exactly once in {hand.path}; update HAND_MUTANTS in {Path(__file__).name}")
            target.write_text(source.replace(hand.old, hand.new))
            # The copy comes first on the path, before the editable install of the work tree.
            env = {**os.environ, "PYTHONPATH": str(copy)}
            done = subprocess.run([str(BIN / "python"), "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                                   "-m", "not integration", *tests], cwd=copy, env=env,
                                  capture_output=True, text=True)
        killed = done.returncode == 1
        if done.returncode not in (0, 1):
            sys.exit(f"[mutation] pytest could not run for {hand.name!r} (exit {done.returncode}):\n"
                     f"{done.stdout[-3000:]}")
        print(f"    {'killed  ' if killed else 'SURVIVED'} {hand.path}: {hand.name}")
        if not killed:
            alive.append(hand.name)
    return alive


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse mutants/ and its cached verdicts")
    args = parser.parse_args()
    os.chdir(ROOT)
    started = time.monotonic()
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]

    run_mutmut(args.keep)
    found = statuses()
    equivalents = read_equivalents()

    stale = [e for e in equivalents if e.mutant not in found or found[e.mutant] in CAUGHT
             or e.changed not in changed_lines(e.mutant)]
    accepted = {e.mutant for e in equivalents} - {e.mutant for e in stale}
    survivors = sorted(m for m, s in found.items() if s not in CAUGHT and m not in accepted)

    counts: dict[str, int] = {}
    for status in found.values():
        counts[status] = counts.get(status, 0) + 1
    caught = sum(counts.get(s, 0) for s in CAUGHT)
    judged = len(found) - len(accepted)
    print()
    say(f"mutated: {', '.join(config['only_mutate'])}")
    say(f"tests:   {' '.join(config['pytest_add_cli_args_test_selection'])}")
    say("by status: " + ", ".join(f"{s} {n}" for s, n in sorted(counts.items())))
    say(f"score: {caught} killed / {len(found)} mutants ({counts.get('timeout', 0)} of them by a "
        f"time-out); {len(accepted)} equivalent (listed in {EQUIVALENTS.relative_to(ROOT)}); "
        f"{len(survivors)} survived: {100 * caught / max(judged, 1):.1f}% of the non-equivalent")
    for mutant in survivors:
        print(f"    SURVIVED ({found[mutant]}) {mutant}")
        for line in changed_lines(mutant):
            print(f"        + {line}")
    for entry in stale:
        now = found.get(entry.mutant, "no such mutant")
        print(f"    STALE equivalent {entry.mutant} (now {now}; listed as changing "
              f"`{entry.changed}`): update {EQUIVALENTS.relative_to(ROOT)}")

    say(f"hand-written mutants ({len(HAND_MUTANTS)}):")
    alive = run_hand_mutants(config["pytest_add_cli_args_test_selection"])

    took = time.monotonic() - started
    if survivors or stale or alive:
        say(f"FAILED after {took:.0f} s: {len(survivors)} mutmut mutant(s) survived, "
            f"{len(stale)} listed equivalent(s) stale, {len(alive)} hand-written mutant(s) survived")
        return 1
    say(f"clean after {took:.0f} s: every mutant is killed or listed as equivalent")
    return 0


if __name__ == "__main__":
    sys.exit(main())
