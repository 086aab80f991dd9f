"""The faults in place on a run, recorded in its folder so any later command can roll them back."""

from __future__ import annotations

import json
import os
from pathlib import Path

from chaos.faults.base import FaultContext, Injection
from chaos.faults.registry import make_fault

FILE = "faults.json"


def _path(run_dir: Path) -> Path:
    return run_dir / FILE


def active(run_dir: Path) -> list[Injection]:
    """Injections not rolled back yet, oldest first."""
    try:
        data = json.loads(_path(run_dir).read_text())
    except FileNotFoundError:
        return []
    return [Injection(**{k: v for k, v in item.items() if k != "latency"}) for item in data]


def _save(run_dir: Path, injections: list[Injection]) -> None:
    tmp = _path(run_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps([i.to_json() for i in injections], indent=2))
    os.replace(tmp, _path(run_dir))


def add(run_dir: Path, injection: Injection) -> None:
    _save(run_dir, [*active(run_dir), injection])


def remove(run_dir: Path, fault: str, target: str) -> list[Injection]:
    """Forget the injections of `fault` on `target`; returns them."""
    kept: list[Injection] = []
    removed: list[Injection] = []
    for injection in active(run_dir):
        (removed if injection.fault == fault and injection.target == target else kept).append(injection)
    _save(run_dir, kept)
    return removed


def roll_back(ctx: FaultContext, fault: str, target: str) -> None:
    """Undo `fault` on `target` (safe when it is not in place) and forget it."""
    make_fault(fault).rollback(ctx, target)
    remove(ctx.run_dir, fault, target)


def returning(run_dir: Path, target: str, faults: tuple[str, ...]) -> list[str]:
    """Which of `faults` (site faults a return ends) are in place on `target`; the first if none."""
    in_place = [i.fault for i in active(run_dir) if i.fault in faults and i.target == target]
    return in_place or [faults[0]]
