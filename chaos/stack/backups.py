"""The backup host's rolling backups of server-a: take one now, list them."""

from __future__ import annotations

import json
from dataclasses import dataclass

from chaos.errors import StackError
from chaos.stack.machine import Machine


@dataclass(frozen=True)
class Backup:
    """One complete backup; `taken_at` is when it began (epoch seconds)."""

    name: str
    source: str
    taken_at: float
    finished_at: float
    #: Uploads it holds: a row in its dump and the file in its copy.
    uploads: int


def _parse(machine: Machine, *command: str) -> object:
    result = machine.run("backup-ctl", *command, timeout=600)
    if result.exit_code != 0:
        raise StackError(f"backup-ctl {' '.join(command)} on {machine.service} failed",
                         logs=result.output.strip())
    try:
        return json.loads(result.output)
    except json.JSONDecodeError:
        raise StackError(f"backup-ctl {command[0]} gave no JSON: {result.output[:300]}") from None


def take_backup(backup_host: Machine) -> Backup:
    data = _parse(backup_host, "take")
    assert isinstance(data, dict)
    return Backup(**data)


def list_backups(backup_host: Machine) -> list[Backup]:
    data = _parse(backup_host, "list")
    assert isinstance(data, list)
    return [Backup(**item) for item in data]


def backup_ids(backup_host: Machine, name: str) -> frozenset[str]:
    """The uploads backup `name` holds (a row in its dump and the file in its copy):
    exactly what a restore of it brings back."""
    data = _parse(backup_host, "ids", name)
    assert isinstance(data, list)
    return frozenset(str(i) for i in data)
