"""`drill`: the command line. Verbs live in modules by topic; `main` is the only place that exits.

Verbs: images, up, status, down, clean, smoke (stack); load; faults, inject, rollback, raid,
backup, restore (faults); replication, promote, failback, switchover (replication); migrate;
validate, list (scenarios); config (the compose project, resolved).
"""

from chaos.cli import compare, config, drill_run, faults, load, migrate, replication, report, scenarios, stack  # noqa: F401  (registers the verbs)
from chaos.cli.base import cli, main

__all__ = ["cli", "main"]
