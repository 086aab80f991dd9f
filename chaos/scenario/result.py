"""What a drill leaves: every step with its real times, the objectives, the checks, the verdict."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.errors import ExitCode
from chaos.scenario.objectives import ObjectiveResult

#: The version of result.json's layout (chaos/report/result.schema.json, docs/results.md).
#: 2 added planned_offset, parameters, stack, environment, artifacts and stack_events.
RESULT_SCHEMA = 2


@dataclass
class StepRecord:
    """One step as it happened (epoch seconds)."""

    name: str
    what: str
    trigger: str
    #: When the plan said it starts, seconds after T+0 (None: it waits for a step or a probe).
    planned_offset: float | None = None
    state: str = "pending"  # pending, waiting, running, done, failed, timed-out, skipped, error
    started_at: float | None = None
    effective_at: float | None = None
    ended_at: float | None = None
    rolled_back_at: float | None = None
    ok: bool | None = None
    detail: str = ""
    #: A manual step: how long the operator took.
    human_seconds: float | None = None
    injection: dict[str, Any] | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    detail: str


@dataclass
class DrillResult:
    """The outcome of one drill (one combination of a matrix)."""

    scenario: str
    label: str
    file: str
    run_id: str | None = None
    started_at: float = 0.0
    ended_at: float = 0.0
    #: T+0 of the steps: the end of the steady state.
    clock_started_at: float = 0.0
    #: passed, failed, aborted, interrupted, error
    outcome: str = "error"
    reason: str = ""
    time_scale: float = 1.0
    steps: list[StepRecord] = field(default_factory=list)
    objectives: list[ObjectiveResult] = field(default_factory=list)
    checks: list[CheckResult] = field(default_factory=list)
    measurements: dict[str, Any] | None = None
    out_dir: str = ""
    #: What the run was asked to do: time scale, matrix combination, overrides, load, objectives.
    parameters: dict[str, Any] = field(default_factory=dict)
    #: The stack it ran on: compose file, edge URL, services.
    stack: dict[str, Any] = field(default_factory=dict)
    #: Harness, Python, Locust, Docker engine, kernel, machine.
    environment: dict[str, Any] = field(default_factory=dict)
    #: Files next to result.json, by kind (paths relative to the run folder).
    artifacts: dict[str, Any] = field(default_factory=dict)
    #: What the machines went through (RAID, rebuild, roles, containers), changes only.
    stack_events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"passed": ExitCode.OK, "failed": ExitCode.OBJECTIVE_FAILED,
                "aborted": ExitCode.OBJECTIVE_FAILED,
                "interrupted": ExitCode.INTERRUPTED}.get(self.outcome,
                                                         ExitCode.HARNESS_OR_STACK_BROKE)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema_version"] = RESULT_SCHEMA
        data["exit_code"] = int(self.exit_code)
        data["human_seconds"] = sum(s.human_seconds or 0.0 for s in self.steps)
        return data

    def write(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "result.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=2, default=str))
        tmp.replace(path)
        return path
