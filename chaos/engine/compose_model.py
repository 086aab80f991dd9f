"""The compose specification as typed models: every key it defines has a field.

Short forms (`"127.0.0.1::80"`, `["wan"]`, `"K=V"`) are normalised to the long
form *before* validation (chaos.engine.compose_normalize), so each field has
exactly one type and an error names one thing.  A key the specification does
not define is refused with the closest valid name.  Which keys are applied,
which only noted and which refused is decided after validation
(chaos.engine.compose_policy), so an error here is always about the value.
"""

from __future__ import annotations

import ipaddress
import math
import re
import shlex
import types
import typing
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from chaos.engine.compose_normalize import expanded, mapping, names, parse_device, parse_port, parse_volume
from chaos.engine.labels import ROLE, SITE

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(us|ms|s|m|h)")
#: Checked first, from the start only: `findall` alone tries every digit of a long run of
#: digits without a unit, in quadratic time.
_WHOLE_DURATION = re.compile(rf"(?:{_DURATION.pattern})+")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
#: Docker counts nanoseconds in 64 bits (~292 years); anything close is a mistake.
_MAX_SECONDS = 100 * 365 * 24 * 3600.0


def parse_duration(value: Any) -> float:
    """Compose durations (`1m30s`, `500ms`, `2s`) or plain numbers -> seconds."""
    if isinstance(value, bool):
        raise PydanticCustomError("duration", "expected a duration such as '2s' or '1m30s'")
    if isinstance(value, (int, float)):
        seconds = float(value) if abs(value) < 1e300 else math.inf  # nan too; no OverflowError
    elif not isinstance(value, str) or not value.strip():
        raise PydanticCustomError("duration", "expected a duration such as '2s' or '1m30s'")
    else:
        text = value.strip()
        if not _WHOLE_DURATION.fullmatch(text):
            raise PydanticCustomError(
                "duration", "'{value}' is not a duration; write e.g. '2s', '500ms' or '1m30s'",
                {"value": text[:60]})
        seconds = sum(float(n) * _UNIT_SECONDS[u] for n, u in _DURATION.findall(text))
    if not math.isfinite(seconds):  # YAML's .inf and .nan, or more digits than a float holds
        raise PydanticCustomError("duration", "a duration must be finite")
    if seconds < 0:
        raise PydanticCustomError("duration", "a duration cannot be negative")
    if seconds > _MAX_SECONDS:
        raise PydanticCustomError("duration", "a duration must be under 100 years")
    return seconds


class Strict(BaseModel):
    """A frozen model that refuses unknown keys (reported by the loader with a suggestion)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False)

    #: Whether `x-...` extension keys are allowed (and ignored) here.
    allow_extensions: ClassVar[bool] = False

    @model_validator(mode="before")
    @classmethod
    def _drop_extensions(cls, data: Any) -> Any:
        if cls.allow_extensions and isinstance(data, dict):
            aliases = {f.alias for f in cls.model_fields.values() if f.alias}
            return {k: v for k, v in data.items()
                    if not (isinstance(k, str) and k.startswith("x-") and k not in aliases)}
        return data


def known_keys(model: type[BaseModel]) -> list[str]:
    """The keys a model accepts, as written in YAML."""
    return sorted(f.alias or name for name, f in model.model_fields.items())


def model_at(root: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model class that validates the mapping at `loc` (for error messages)."""
    current: Any = root
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part) if isinstance(part, str) else None
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (list, dict):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """`X | None` -> X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _names(value: Any) -> Any:
    """Compose allows `[a, b]` where it means `{a: {}, b: {}}`."""
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise PydanticCustomError("names", "expected a list of names, got {item}",
                                          {"item": repr(item)[:60]})
    return names(value)


def _string_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


def _mapping(value: Any) -> Any:
    """Compose allows `["K=V", "K"]` where it means `{K: V, K: None}`."""
    if isinstance(value, list):
        for item in value:
            if not isinstance(item, str):
                raise PydanticCustomError("mapping", "expected 'KEY=VALUE' strings, got {item}",
                                          {"item": repr(item)[:60]})
    return mapping(value)


def _scalars_to_strings(value: Any, *, keep_none: bool = False) -> Any:
    """Values written as compose writes them: numbers as text, booleans lower case, and a
    missing value "" (or None, `keep_none`, for what the loader fills in later)."""
    if isinstance(value, dict):
        return {k: (None if keep_none else "") if v is None else str(v).lower()
                if isinstance(v, bool) else str(v) if isinstance(v, (int, float, str)) else v
                for k, v in value.items()}
    return value


#: `{K: V}` or `["K=V"]`, numbers and booleans written as compose writes them.
StringMap = Annotated[dict[str, str], BeforeValidator(lambda v: _scalars_to_strings(_mapping(v)))]




_BYTES = re.compile(r"(\d+(?:\.\d+)?)\s*([kmgt]?)b?", re.IGNORECASE)
_BYTE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def parse_bytes(value: Any) -> int:
    """Compose byte sizes (`512m`, `1gb`, `2G`, 1048576) -> bytes."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    match = _BYTES.fullmatch(value.strip()) if isinstance(value, str) else None
    if match is None:
        raise PydanticCustomError("bytes", "'{value}' is not a size; write e.g. '512m', '1g' or "
                                  "a number of bytes", {"value": str(value)[:60]})
    return int(float(match.group(1)) * _BYTE_UNITS[match.group(2).lower()])


def _optional_bytes(value: Any) -> Any:
    return None if value is None else -1 if value in (-1, "-1") else parse_bytes(value)


Bytes = Annotated[int, BeforeValidator(parse_bytes)]
#: A size, or -1 for unlimited (memswap_limit).
SwapBytes = Annotated[int, BeforeValidator(_optional_bytes)]
Seconds = Annotated[float, BeforeValidator(parse_duration)]
#: `expose`: ports as numbers or strings (`8000`, "8000-8010", "53/udp").
PortList = Annotated[list[str], BeforeValidator(
    lambda v: [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in v]
    if isinstance(v, list) else _string_list(v))]
StringList = Annotated[list[str], BeforeValidator(_string_list)]
#: `environment`: a value of None means "take it from the host" until the loader resolves it.
OptionalStringMap = Annotated[dict[str, str | None], BeforeValidator(
    lambda v: _scalars_to_strings(_mapping(v), keep_none=True))]


class Node(Strict):
    """A part of a compose file: `x-` extension keys are allowed in it, as compose allows."""

    allow_extensions: ClassVar[bool] = True


class Build(Node):
    context: str
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    args: StringMap = Field(default_factory=dict)
    target: str | None = None
    labels: StringMap = Field(default_factory=dict)
    cache_from: StringList = Field(default_factory=list)
    cache_to: StringList = Field(default_factory=list)
    no_cache: bool = False
    pull: bool = False
    network: str | None = None
    shm_size: Bytes | None = None
    extra_hosts: Any = None
    isolation: str | None = None
    privileged: bool = False
    secrets: list[Any] = Field(default_factory=list)
    ssh: Any = None
    additional_contexts: dict[str, str] = Field(default_factory=dict)
    entitlements: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    platforms: list[str] = Field(default_factory=list)
    ulimits: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_dockerfile(self) -> Build:
        if self.dockerfile and self.dockerfile_inline:
            raise PydanticCustomError("build", "give `dockerfile` or `dockerfile_inline`, not both")
        return self


class Port(Node):
    target: int = Field(ge=1, le=65535)
    #: A port, a range (`8000-8010`) or None: Docker picks a free one.
    published: str | None = None
    #: None: the harness publishes on 127.0.0.1 (see compose_policy).
    host_ip: str | None = None
    protocol: Literal["tcp", "udp", "sctp"] = "tcp"
    mode: Literal["host", "ingress"] = "host"
    name: str | None = None
    app_protocol: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return parse_port(value)[0] if isinstance(value, (str, int)) else value

    @field_validator("published", mode="before")
    @classmethod
    def _published(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str):
            if value == "" or value == "0":
                return None
            if not re.fullmatch(r"\d{1,5}(-\d{1,5})?", value) or \
                    any(int(p) > 65535 for p in value.split("-")):
                raise PydanticCustomError("port", "'{value}' is not a host port (1-65535) "
                                          "or range such as '8000-8010'", {"value": value})
        return value

    @field_validator("host_ip")
    @classmethod
    def _an_address(cls, value: str | None) -> str | None:
        if value is None:
            return value
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise PydanticCustomError("host_ip", "'{value}' is not an IP address",
                                      {"value": value}) from None
        return value

    @field_validator("target", mode="before")
    @classmethod
    def _target(cls, value: Any) -> Any:
        return int(value) if isinstance(value, str) and value.isdigit() else value


class ServiceNetwork(Node):
    aliases: list[str] = Field(default_factory=list)
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: list[str] = Field(default_factory=list)
    mac_address: str | None = None
    driver_opts: dict[str, Any] = Field(default_factory=dict)
    priority: int | None = None
    gw_priority: int | None = None
    interface_name: str | None = None


class BindOptions(Node):
    propagation: Literal["private", "rprivate", "shared", "rshared", "slave", "rslave"] | None = None
    create_host_path: bool = True
    selinux: Literal["z", "Z"] | None = None


class VolumeOptions(Node):
    nocopy: bool = False
    subpath: str | None = None


class TmpfsOptions(Node):
    size: Bytes | None = None
    mode: int | None = None


class Mount(Node):
    type: Literal["bind", "volume", "tmpfs", "npipe", "cluster", "image"]
    #: None for an anonymous volume and for tmpfs.
    source: str | None = None
    target: str
    read_only: bool = False
    consistency: str | None = None
    bind: BindOptions | None = None
    volume: VolumeOptions | None = None
    tmpfs: TmpfsOptions | None = None
    image: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return parse_volume(value)

    @field_validator("target")
    @classmethod
    def _absolute_target(cls, value: str) -> str:
        if not value.startswith("/"):
            raise PydanticCustomError("target", "the container path '{value}' must be absolute",
                                      {"value": value})
        return value

    @model_validator(mode="after")
    def _source_fits_type(self) -> Mount:
        if self.type == "bind" and not self.source:
            raise PydanticCustomError("source", "a bind mount needs a source (a host path)")
        return self


class Device(Node):
    source: str
    target: str
    permissions: str = "rwm"

    @model_validator(mode="before")
    @classmethod
    def _short(cls, value: Any) -> Any:
        return parse_device(value)


class Healthcheck(Node):
    test: list[str] = Field(default_factory=list)
    interval: Seconds = 30.0
    timeout: Seconds = 30.0
    retries: int = Field(default=3, ge=0, le=2**31 - 1)  # Docker's field is 32 bits
    start_period: Seconds = 0.0
    start_interval: Seconds = 5.0
    disable: bool = False

    @field_validator("test", mode="before")
    @classmethod
    def _test(cls, value: Any) -> Any:
        if isinstance(value, str):
            return ["CMD-SHELL", value]
        if isinstance(value, list) and value and value[0] not in ("CMD", "CMD-SHELL", "NONE"):
            raise PydanticCustomError(
                "healthcheck", "a healthcheck test list starts with CMD, CMD-SHELL or NONE")
        return value

    @model_validator(mode="after")
    def _a_test(self) -> Healthcheck:
        if not self.disable and not self.test:
            raise PydanticCustomError("healthcheck", "a healthcheck needs a `test` "
                                      "(or `disable: true`)")
        return self

    @property
    def disabled(self) -> bool:
        return self.disable or self.test[:1] == ["NONE"]


class Dependency(Node):
    condition: Literal["service_started", "service_healthy",
                       "service_completed_successfully"] = "service_started"
    restart: bool = False
    required: bool = True


class EnvFile(Node):
    path: str
    required: bool = True
    format: Literal["raw"] | None = None


class FileRef(Node):
    """A service's use of a secret or config: which one, and where it appears."""

    source: str
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: int | str | None = None


class Ulimit(Node):
    soft: int
    hard: int


class Resources(Node):
    cpus: float | str | None = None
    memory: Bytes | None = None
    pids: int | None = None
    devices: list[Any] = Field(default_factory=list)
    generic_resources: list[Any] = Field(default_factory=list)


class ResourceSpec(Node):
    limits: Resources | None = None
    reservations: Resources | None = None


class RestartPolicy(Node):
    condition: Literal["none", "on-failure", "any"] = "any"
    delay: Seconds | None = None
    max_attempts: int | None = None
    window: Seconds | None = None


class Deploy(Node):
    mode: str | None = None
    replicas: int | None = Field(default=None, ge=0)
    labels: StringMap = Field(default_factory=dict)
    update_config: dict[str, Any] | None = None
    rollback_config: dict[str, Any] | None = None
    resources: ResourceSpec | None = None
    restart_policy: RestartPolicy | None = None
    placement: dict[str, Any] | None = None
    endpoint_mode: str | None = None


class Logging(Node):
    driver: str | None = None
    options: dict[str, Any] | None = None


class Extends(Node):
    service: str
    file: str | None = None


class Harness(Node):
    """`x-chaos-harness` on a service: where it stands for the faults."""

    site: str | None = None
    role: str | None = None


_RESTART = re.compile(r"no|always|unless-stopped|on-failure(:\d+)?")


class Service(Node):
    image: str | None = None
    build: Build | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: OptionalStringMap = Field(default_factory=dict)
    env_file: list[EnvFile] = Field(default_factory=list)
    ports: list[Port] = Field(default_factory=list)
    expose: PortList = Field(default_factory=list)
    networks: dict[str, ServiceNetwork] = Field(default_factory=dict)
    network_mode: str | None = None
    volumes: list[Mount] = Field(default_factory=list)
    volumes_from: StringList = Field(default_factory=list)
    tmpfs: StringList = Field(default_factory=list)
    cap_add: StringList = Field(default_factory=list)
    cap_drop: StringList = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    device_cgroup_rules: StringList = Field(default_factory=list)
    security_opt: StringList = Field(default_factory=list)
    healthcheck: Healthcheck | None = None
    labels: StringMap = Field(default_factory=dict)
    label_file: StringList = Field(default_factory=list)
    annotations: StringMap = Field(default_factory=dict)
    depends_on: dict[str, Dependency] = Field(default_factory=dict)
    links: StringList = Field(default_factory=list)
    external_links: StringList = Field(default_factory=list)
    hostname: str | None = None
    domainname: str | None = None
    container_name: str | None = None
    stop_grace_period: Seconds = 10.0
    stop_signal: str | None = None
    restart: str | None = None
    init: bool | None = None
    user: str | None = None
    working_dir: str | None = None
    shm_size: Bytes | None = None
    ulimits: dict[str, Ulimit] = Field(default_factory=dict)
    sysctls: StringMap = Field(default_factory=dict)
    extra_hosts: dict[str, str | list[str]] = Field(default_factory=dict)
    dns: StringList = Field(default_factory=list)
    dns_search: StringList = Field(default_factory=list)
    dns_opt: StringList = Field(default_factory=list)
    mem_limit: Bytes | None = None
    mem_reservation: Bytes | None = None
    memswap_limit: SwapBytes | None = None
    mem_swappiness: int | None = Field(default=None, ge=0, le=100)
    cpus: float | None = Field(default=None, ge=0)
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpuset: str | None = None
    cpu_count: int | None = None
    cpu_percent: int | None = None
    cpu_rt_runtime: Any = None
    cpu_rt_period: Any = None
    pids_limit: int | None = None
    oom_score_adj: int | None = Field(default=None, ge=-1000, le=1000)
    oom_kill_disable: bool | None = None
    read_only: bool = False
    tty: bool = False
    stdin_open: bool = False
    group_add: list[str | int] = Field(default_factory=list)
    mac_address: str | None = None
    secrets: list[FileRef] = Field(default_factory=list)
    configs: list[FileRef] = Field(default_factory=list)
    profiles: StringList = Field(default_factory=list)
    pull_policy: str | None = None
    platform: str | None = None
    deploy: Deploy | None = None
    logging: Logging | None = None
    scale: int | None = Field(default=None, ge=0)
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    userns_mode: str | None = None
    cgroup: Literal["host", "private"] | None = None
    cgroup_parent: str | None = None
    privileged: bool = False
    runtime: str | None = None
    isolation: str | None = None
    credential_spec: Any = None
    storage_opt: dict[str, Any] = Field(default_factory=dict)
    blkio_config: Any = None
    attach: bool | None = None
    develop: Any = None
    post_start: Any = None
    pre_stop: Any = None
    gpus: Any = None
    use_api_socket: bool = False
    provider: Any = None
    models: Any = None
    extends: Extends | None = None
    harness: Harness | None = Field(default=None, alias="x-chaos-harness")

    @property
    def effective_labels(self) -> dict[str, str]:
        """Its labels, with the site and role its `x-chaos-harness` names (which win)."""
        found = dict(self.labels)
        if self.harness and self.harness.site:
            found[SITE] = self.harness.site
        if self.harness and self.harness.role:
            found[ROLE] = self.harness.role
        return found

    @property
    def site(self) -> str | None:
        """The site (data centre) it stands in, if it says."""
        return self.effective_labels.get(SITE)

    @field_validator("command", "entrypoint", mode="before")
    @classmethod
    def _command(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return shlex.split(value)
            except ValueError as e:
                raise PydanticCustomError("command", "cannot split '{value}' into words: {why}",
                                          {"value": value[:60], "why": str(e)}) from None
        return value

    @field_validator("ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        return expanded(value, parse_port)

    @field_validator("networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return _names(value)

    @field_validator("volumes", mode="before")
    @classmethod
    def _volumes(cls, value: Any) -> Any:
        return expanded(value, parse_volume)

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, value: Any) -> Any:
        return expanded(value, parse_device)

    @field_validator("secrets", "configs", mode="before")
    @classmethod
    def _refs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"source": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("env_file", mode="before")
    @classmethod
    def _env_files(cls, value: Any) -> Any:
        value = [value] if isinstance(value, str) else value
        if isinstance(value, list):
            return [{"path": v} if isinstance(v, str) else v for v in value]
        return value

    @field_validator("depends_on", mode="before")
    @classmethod
    def _depends_on(cls, value: Any) -> Any:
        return _names(value)

    @field_validator("extra_hosts", mode="before")
    @classmethod
    def _extra_hosts(cls, value: Any) -> Any:
        return mapping(value, separators="=:")

    @field_validator("ulimits", mode="before")
    @classmethod
    def _ulimits(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({"soft": v, "hard": v} if isinstance(v, int) and not isinstance(v, bool)
                        else v) for k, v in value.items()}
        return value

    @field_validator("build", mode="before")
    @classmethod
    def _build(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("extends", mode="before")
    @classmethod
    def _extends(cls, value: Any) -> Any:
        return {"service": value} if isinstance(value, str) else value

    @field_validator("restart")
    @classmethod
    def _restart(cls, value: str | None) -> str | None:
        if value is not None and not _RESTART.fullmatch(value):
            raise PydanticCustomError("restart", "'{value}' is not a restart policy; write no, "
                                      "always, unless-stopped, on-failure or on-failure:N",
                                      {"value": value})
        return value

    @field_validator("cpus", mode="before")
    @classmethod
    def _cpus(cls, value: Any) -> Any:
        return float(value) if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value) \
            else value

    @model_validator(mode="after")
    def _image_or_build(self) -> Service:
        if not self.image and not self.build and not self.provider:
            raise PydanticCustomError("image", "a service needs `image` or `build`")
        return self


class IpamPool(Node):
    subnet: str | None = None
    ip_range: str | None = None
    gateway: str | None = None
    aux_addresses: dict[str, str] = Field(default_factory=dict)


class Ipam(Node):
    driver: str | None = None
    config: list[IpamPool] = Field(default_factory=list)
    options: dict[str, str] = Field(default_factory=dict)


class NetworkSpec(Node):
    driver: str = "bridge"
    driver_opts: dict[str, Any] = Field(default_factory=dict)
    ipam: Ipam | None = None
    external: bool | dict[str, Any] = False
    internal: bool = False
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    attachable: bool | None = None
    labels: StringMap = Field(default_factory=dict)
    name: str | None = None


class VolumeSpec(Node):
    driver: str = "local"
    driver_opts: StringMap = Field(default_factory=dict)
    external: bool | dict[str, Any] = False
    labels: StringMap = Field(default_factory=dict)
    name: str | None = None


class FileSpec(Node):
    """A top-level secret or config: where its content comes from."""

    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool | dict[str, Any] = False
    name: str | None = None
    labels: StringMap = Field(default_factory=dict)
    driver: str | None = None
    driver_opts: dict[str, Any] = Field(default_factory=dict)
    template_driver: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> FileSpec:
        given = [k for k in ("file", "environment", "content") if getattr(self, k) is not None]
        if len(given) > 1:
            raise PydanticCustomError("source", "give one of `file`, `environment` or `content`, "
                                      "not {given}", {"given": " and ".join(given)})
        if not given and not self.external:
            raise PydanticCustomError("source", "say where it comes from: `file`, `environment` "
                                      "or `content` (configs), or `external: true`")
        return self


class ComposeSpec(Node):
    """A whole compose project, as written (after interpolation, includes, extends and merging)."""

    version: str | None = None  # obsolete in the spec; accepted and ignored
    name: str | None = None
    include: list[Any] = Field(default_factory=list)
    services: dict[str, Service] = Field(min_length=1)
    networks: dict[str, NetworkSpec] = Field(default_factory=dict)
    volumes: dict[str, VolumeSpec] = Field(default_factory=dict)
    secrets: dict[str, FileSpec] = Field(default_factory=dict)
    configs: dict[str, FileSpec] = Field(default_factory=dict)
    models: dict[str, Any] = Field(default_factory=dict)

    @field_validator("version", mode="before")
    @classmethod
    def _version(cls, value: Any) -> Any:
        return str(value) if isinstance(value, (int, float)) else value

    @field_validator("networks", "volumes", "secrets", "configs", mode="before")
    @classmethod
    def _nullable_entries(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _default_network(self) -> ComposeSpec:
        """As compose does: services that name no network (and no network_mode) join `default`."""
        loose = [s for s in self.services.values() if not s.networks and not s.network_mode]
        if loose:
            self.networks.setdefault("default", NetworkSpec())
            for service in loose:
                service.networks["default"] = ServiceNetwork()
        return self
