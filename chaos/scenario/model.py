"""The scenario format (`apiVersion: chaos-harness/v1`), as pydantic models.

Shape only: names that depend on the registries or the stack (faults,
actions, targets, steps named in `after`) are checked by `chaos.scenario.check`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

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


def _url_path(value: Any) -> Any:
    if isinstance(value, str) and (not value.startswith("/") or any(c.isspace() or c in "#\0"
                                                                    for c in value)):
        raise ValueError(f"{value!r} is not a URL path: write it from the first slash, without "
                         "spaces, e.g. /healthz")
    return value


UrlPath = Annotated[str, BeforeValidator(_url_path), Field(max_length=2000)]
#: A container port as the compose file's `ports:` names it: 80, or "80/tcp".
ContainerPort = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int)
                                               and not isinstance(v, bool) else v),
                          Field(pattern=r"^[0-9]{1,5}(/(tcp|udp|sctp))?$")]


_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,100}")


def check_headers(value: Any) -> Any:
    """HTTP headers as a mapping of names to one-line values (numbers made text)."""
    if isinstance(value, dict):
        for name, text in value.items():
            if not isinstance(name, str) or not _HEADER_NAME.fullmatch(name):
                raise ValueError(f"{name!r} is not an HTTP header name")
            if not isinstance(text, str | int) or isinstance(text, bool) \
                    or any(c in str(text) for c in "\r\n\0"):
                raise ValueError(f"header {name}: give its value as one line of text")
        return {name: str(text) for name, text in value.items()}
    return value


#: HTTP headers sent with each request: `{Host: shop.example, Authorization: "Bearer x"}`.
Headers = Annotated[dict[str, str], BeforeValidator(check_headers)]


class Target(Strict):
    """Which published port requests go to: a service's, in a stack with no edge."""

    #: Not given: the edge's port (the service `edge`, or one whose role is edge), or else
    #: the first port published in the compose file.
    service: str | None = None
    #: The container port as `ports:` publishes it (80, or "80/tcp"); not given: the
    #: service's first published port.
    port: ContainerPort | None = None

    @model_validator(mode="after")
    def _port_of_a_service(self) -> Target:
        if self.port is not None and self.service is None:
            raise ValueError("`port` is a port of `service`: name the service too")
        return self


class LoadSpec(Target):
    """The customers: Locust users, from the traffic's locustfile."""

    #: A locustfile of the user's own (relative to the scenario file); not given: the
    #: hosting mix on the bundled stack, visitors of the probe's path on any other.
    locustfile: str | None = Field(default=None, min_length=1)
    users: Annotated[int, Field(ge=0, le=10000)] = 10
    spawn_rate: Annotated[float, Field(gt=0)] = 10.0
    duration: Duration = 60.0
    #: Weights by name: the hosting mix's tasks (browse_static, browse_db, upload, read) or a
    #: locustfile's User classes. Names left out weigh 0. Locust repeats a task once per
    #: unit of weight: a weight of 10**9 would never start.
    mix: dict[str, Annotated[int, Field(ge=0, le=1000)]] = Field(default_factory=dict)
    upload_size: str = "1k-64k"
    workers: Annotated[int, Field(ge=0, le=64)] = 0
    #: Probes a second (the older place of `probe.rate`).
    prober_rate: Annotated[float, Field(ge=0, le=100)] | None = None
    #: Load before the steps' clock starts: the steady state they are measured against.
    steady_state: Duration = 5.0


class ProbeSpec(Target):
    """The independent prober: what it asks, what answer counts as up."""

    #: Not given: /healthz on the bundled stack, / on any other.
    path: UrlPath | None = None
    method: Literal["GET", "HEAD", "POST", "PUT", "OPTIONS"] = "GET"
    #: 200, "2xx", "200-299" or a list of them.
    expect_status: int | str | list[int | str] = "2xx"
    #: A substring the body must hold.
    expect_body: str | None = Field(default=None, min_length=1, max_length=1000)
    #: Probes a second (0: no prober); not given: load.prober_rate, or 10.
    rate: Annotated[float, Field(ge=0, le=100)] | None = None
    timeout: Annotated[float, BeforeValidator(parse_duration), Field(gt=0, le=60)] = 1.0
    headers: Headers = Field(default_factory=dict)

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: Any) -> Any:
        from chaos.load.http_check import StatusMatch

        StatusMatch.parse(value)
        return value

    @model_validator(mode="after")
    def _a_body_to_look_in(self) -> ProbeSpec:
        if self.method == "HEAD" and self.expect_body is not None:
            raise ValueError("a HEAD answer has no body: drop `expect_body` or ask with GET")
        return self


class ReadBackSpec(Target):
    """How each acknowledged write is read back after the drill."""

    #: With `{id}` where the acknowledged id goes, e.g. /items/{id}.
    path: UrlPath
    #: The answer that means "still there": 200, "2xx", ... (below 400).
    expect_status: int | str | list[int | str] = 200
    #: sha256: the body must be the acknowledged content; status: only its presence counts.
    compare: Literal["sha256", "status"] = "sha256"
    headers: Headers = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _one_id(cls, value: str) -> str:
        if value.count("{id}") != 1 or re.sub(r"\{id\}", "", value).count("{") \
                or "}" in value.replace("{id}", ""):
            raise ValueError(f"{value!r}: write the path with `{{id}}` once where the write's id "
                             "goes, e.g. /items/{id}")
        return value

    @field_validator("expect_status")
    @classmethod
    def _statuses(cls, value: Any) -> Any:
        from chaos.load.http_check import StatusMatch

        match = StatusMatch.parse(value)
        if any(high >= 400 for _, high in match.ranges):
            raise ValueError(f"{match}: a write read back is there when the answer is below 400 "
                             "(404 and 410 say it is missing)")
        return value


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
    #: Read every acknowledged write back: true (the bundled app's way, or the stack's
    #: own defaults), false, or how (`path: /items/{id}`, `expect_status`, `compare`).
    read_back: Annotated[Annotated[bool, Tag("<yes or no>")] | Annotated[ReadBackSpec, Tag("<how>")],
                         Discriminator(lambda v: "<how>" if isinstance(v, dict | ReadBackSpec)
                                       else "<yes or no>")] = True
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
    probe: ProbeSpec = Field(default_factory=ProbeSpec)
    steps: list[Step] = Field(default_factory=list)
    objectives: Objectives = Field(default_factory=Objectives)
    verify: Verify = Field(default_factory=Verify)
    abort: list[AbortRule] = Field(default_factory=list)
    #: Dotted paths (`load.users`, `steps.<name>.at`) -> values; one run per combination.
    matrix: dict[str, list[Any]] = Field(default_factory=dict)
