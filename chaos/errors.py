"""The root of every harness error, and how each presents itself.

Only :func:`chaos.cli.main` turns these into an exit; everything else raises.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ExitCode(enum.IntEnum):
    """What `drill` exits with; CI keys off these."""

    OK = 0
    OBJECTIVE_FAILED = 1
    INVALID_INPUT = 2
    HARNESS_OR_STACK_BROKE = 3
    INTERRUPTED = 130


class HarnessError(Exception):
    """Root of all harness errors: a message a person can act on."""

    exit_code: ExitCode = ExitCode.HARNESS_OR_STACK_BROKE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def render(self) -> str:
        """The text shown to the user (no traceback)."""
        text = f"error: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text


@dataclass(frozen=True)
class Problem:
    """One thing wrong with an input file, and where."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        inside = f" {self.path}:" if self.path else ""
        return f"{where}:{inside} {self.message}"


class InputError(HarnessError):
    """A file or argument the user gave is wrong; nothing was started."""

    exit_code = ExitCode.INVALID_INPUT

    def __init__(self, problems: list[Problem] | str, *, hint: str | None = None) -> None:
        if isinstance(problems, str):
            self.problems: list[Problem] = []
            super().__init__(problems, hint=hint)
            return
        self.problems = list(problems)
        count = len(self.problems)
        head = f"{count} problem{'s' if count != 1 else ''} found"
        super().__init__(head + ":\n" + "\n".join(f"  {p}" for p in self.problems), hint=hint)


class EngineError(HarnessError):
    """The Docker engine is missing, unreachable or refused a request."""


class StackError(HarnessError):
    """The stack did not come up, or a service of it misbehaved."""

    def __init__(self, message: str, *, hint: str | None = None, logs: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.logs = logs

    def render(self) -> str:
        text = super().render()
        if self.logs:
            text += "\n  last log lines:\n" + "\n".join(f"    | {line}" for line in self.logs.splitlines())
        return text


class StateError(HarnessError):
    """The run-state folder is missing, unreadable or names no run."""


class DrillFailed(HarnessError):
    """A drill ran to its end and an objective, a check or a step did not hold."""

    exit_code = ExitCode.OBJECTIVE_FAILED

    def render(self) -> str:
        return f"drill failed: {self.message}"
