"""The scenario format (`apiVersion: chaos-harness/v1`), as pydantic models.

Shape only: names that depend on the registries or the stack (faults,
actions, targets, steps named in `after`) are checked by `chaos.scenario.check`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from chaos.scenario.durations import parse_duration

API_VERSION = "chaos-harness/v1"
BUNDLED_COMPOSE = Path(__file__).resolve().parents[2] / "compose" / "hosting.yml"

Duration = Annotated[float, BeforeValidator(parse_duration)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]
ParamValue = str | int | float | bool


class Strict(BaseModel):
    #: YAML's .inf and .nan are floats too: no rate, share or setting is infinite.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, allow_inf_nan=False)


class StackSpec(Strict):
    """Which stack, and what to change in it."""

    #: A compose file, or several merged in order (`-f a.yml -f b.yml`), relative to the
    #: scenario file (or absolute). Not given: the harness's own compose/hosting.yml.
    compose: str | list[str] = str(BUNDLED_COMPOSE)
    #: Files of compose variables instead of the `.env` beside the (first) compose file.
    env_file: list[str] | None = None
    #: Compose profiles to enable (services with `profiles:` start only in one of them).
    profiles: list[str] = Field(default_factory=list)
    #: Allow what reaches into the host (Docker socket, `/`, host namespaces); recorded.
    allow_host_access: bool = False
    drives: Annotated[int, Field(ge=2, le=16)] | None = None
    #: Compose variables (DRILL_PROMOTE_AFTER, DRILL_BACKUP_INTERVAL, ...).
    settings: dict[str, str | int | float] = Field(default_factory=dict)

    @field_validator("compose", "env_file", mode="before")
    @classmethod
    def _paths(cls, value: Any) -> Any:
        if isinstance(value, list) and not value:
            raise ValueError("give at least one file")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and "\0" in item:
                raise ValueError("a path cannot contain a NUL character")
        return value

    @field_validator("env_file", mode="before")
    @classmethod
    def _one_env_file(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def compose_files(self) -> list[str]:
        return [self.compose] if isinstance(self.compose, str) else list(self.compose)


class LoadSpec(Strict):
    """The customers: Locust's hosting mix."""

    users: Annotated[int, Field(ge=0, le=10000)] = 10
    spawn_rate: Annotated[float, Field(gt=0)] = 10.0
    duration: Duration = 60.0
    #: Weights by name: browse_static, browse_db, upload, read. Locust repeats a task
    #: once per unit of weight: a weight of 10**9 would never start.
    mix: dict[str, Annotated[int, Field(ge=0, le=1000)]] = Field(default_factory=dict)
    upload_size: str = "1k-64k"
    workers: Annotated[int, Field(ge=0, le=64)] = 0
    prober_rate: Annotated[float, Field(ge=0, le=100)] = 10.0
    #: Load before the steps' clock starts: the steady state they are measured against.
    steady_state: Duration = 5.0


class Condition(Strict):
    """A probe that must say `is` (on `target`) within `timeout`."""

    probe: str
    target: str | None = None
    is_: str = Field(alias="is")
    timeout: Duration = 120.0


class ManualSpec(Strict):
    """Game-day: the operator does it; the drill waits for a confirmation or `until`."""

    instruction: str
    until: Condition | None = None


class Step(Strict):
    """A fault or an action, when it starts, and how long a fault stays."""

    name: Name
    fault: str | None = None
    action: str | None = None
    target: str | None = None
    params: dict[str, ParamValue] = Field(default_factory=dict)
    at: Duration | None = None
    after: str | None = None
    delay: Duration = 0.0
    when: Condition | None = None
    #: A fault is rolled back this long after it took effect.
    duration: Duration | None = None
    manual: ManualSpec | None = None
    #: What a correct stack's step does: succeed, or fail (a rebuild whose mirror dies).
    expect: Literal["success", "failure"] = "success"
    #: False for a step that only sets the stage (the standby's site shut down first):
    #: no recovery analysis of its own, and RPO is not counted from it.
    measure: bool = True

    @model_validator(mode="after")
    def _one_kind_one_schedule(self) -> Step:
        if self.fault is not None and self.action is not None:
            raise ValueError("a step is a `fault` or an `action`, not both")
        if self.fault is None and self.action is None and self.manual is None:
            raise ValueError("a step needs a `fault`, an `action` or `manual`")
        if self.at is not None and self.after is not None:
            raise ValueError("a step starts `at` a time or `after` another step, not both "
                             "(`when` may be added to either: it is watched from then on)")
        if self.delay and self.after is None:
            raise ValueError("`delay` is for a step that starts `after` another")
        if self.duration is not None and self.fault is None:
            raise ValueError("`duration` (when to roll back) is for a fault")
        return self


class LatencySpec(Strict):
    p50: Duration | None = None
    p95: Duration | None = None
    p99: Duration | None = None


class Objectives(Strict):
    """What a correct stack achieves; each one passes or fails."""

    #: Time to recover after every fault (the customer's RTO).
    rto: Duration | None = None
    #: Acknowledged uploads lost (missing or corrupt): at most this many.
    max_lost_writes: Annotated[int, Field(ge=0)] | None = None
    #: Acknowledged uploads that read back with other bytes: at most this many.
    max_corrupt_writes: Annotated[int, Field(ge=0)] | None = None
    #: The loss must be exactly what the last `restore` step's backup did not hold: every
    #: upload acknowledged after it began and before the restore rebooted the server lost,
    #: every other intact.
    lost_writes: Literal["since-restored-backup"] | None = None
    #: The oldest lost acknowledged upload: at most this long before its fault (RPO).
    rpo: Duration | None = None
    max_downtime: Duration | None = None
    max_error_rate: Annotated[float, Field(ge=0, le=1)] | None = None
    #: Latency SLO over the whole run.
    latency: LatencySpec | None = None


class Check(Strict):
    """A testinfra check on a server at the end."""

    server: str
    service_running: str | None = None
    file_exists: str | None = None
    command: str | None = None

    @model_validator(mode="after")
    def _one_check(self) -> Check:
        given = [k for k in ("service_running", "file_exists", "command") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("a check is one of `service_running`, `file_exists` or `command`")
        return self


class Verify(Strict):
    #: Read every acknowledged upload back through the edge.
    read_back: bool = True
    checks: list[Check] = Field(default_factory=list)
    #: Probe conditions that must hold at the end.
    expect: list[Condition] = Field(default_factory=list)


class AbortRule(Strict):
    """Stop the drill when availability stays below `availability_below` for `for`."""

    availability_below: Annotated[float, Field(gt=0, le=1)]
    for_: Duration = Field(alias="for")


class Scenario(Strict):
    """One drill."""

    api_version: Literal["chaos-harness/v1"] = Field(alias="apiVersion")
    name: Name
    summary: str
    stack: StackSpec = Field(default_factory=StackSpec)
    load: LoadSpec = Field(default_factory=LoadSpec)
    steps: list[Step] = Field(default_factory=list)
    objectives: Objectives = Field(default_factory=Objectives)
    verify: Verify = Field(default_factory=Verify)
    abort: list[AbortRule] = Field(default_factory=list)
    #: Dotted paths (`load.users`, `steps.<name>.at`) -> values; one run per combination.
    matrix: dict[str, list[Any]] = Field(default_factory=dict)
