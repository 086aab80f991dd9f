"""The subset of the compose specification the harness supports, as typed models.

Short forms (`"127.0.0.1::80"`, `["wan"]`, `"K=V"`) are normalised to the long
form *before* validation, so each field has exactly one type and an error
names one thing.  Unknown keys are refused with the closest valid name.
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

#: Keys that a person may reasonably try, with why they are not offered.
REFUSED_KEYS = {
    "privileged": "privileged containers are not allowed (and fail on this kind of host); "
    "grant cap_add, devices and device_cgroup_rules instead",
    "network_mode": "only the run's own networks are supported; use `networks`",
    "pid": "sharing the host's PID namespace is not allowed",
    "ipc": "sharing the host's IPC namespace is not allowed",
    "userns_mode": "host user namespace mode is not allowed",
}

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
            return {k: v for k, v in data.items() if not (isinstance(k, str) and k.startswith("x-"))}
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
        return {name: {} for name in value}
    return value


def _string_list(value: Any) -> Any:
    if isinstance(value, str):
        return [value]
    return value


def _mapping(value: Any) -> Any:
    """Compose allows `["K=V", ...]` where it means `{K: V}`."""
    if isinstance(value, list):
        result: dict[str, Any] = {}
        for item in value:
            if not isinstance(item, str):
                raise PydanticCustomError("mapping", "expected 'KEY=VALUE' strings, got {item}",
                                          {"item": repr(item)[:60]})
            key, _, val = item.partition("=")
            result[key] = val
        return result
    return value


def _scalars_to_strings(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("" if v is None else str(v).lower() if isinstance(v, bool) else str(v)
                    if isinstance(v, (int, float, str)) else v) for k, v in value.items()}
    return value


#: `{K: V}` or `["K=V"]`, numbers and booleans written as compose writes them.
StringMap = Annotated[dict[str, str], BeforeValidator(lambda v: _scalars_to_strings(_mapping(v)))]


class Build(Strict):
    context: str
    dockerfile: str = "Dockerfile"
    args: StringMap = Field(default_factory=dict)


class Port(Strict):
    target: int = Field(ge=1, le=65535)
    published: int | None = Field(default=None, ge=0, le=65535)
    host_ip: str = "127.0.0.1"
    protocol: Literal["tcp", "udp"] = "tcp"

    @field_validator("host_ip")
    @classmethod
    def _loopback_only(cls, value: str) -> str:
        try:
            loopback = ipaddress.ip_address(value).is_loopback
        except ValueError:
            raise PydanticCustomError("host_ip", "'{value}' is not an IP address",
                                      {"value": value}) from None
        if not loopback:
            raise PydanticCustomError(
                "host_ip", "published ports must bind a loopback address such as 127.0.0.1, "
                "not '{value}'", {"value": value})
        return value

    @classmethod
    def parse_short(cls, value: Any) -> Any:
        """`[[host_ip:]published:]target[/protocol]` -> long form."""
        if isinstance(value, int) and not isinstance(value, bool):
            return {"target": value}
        if not isinstance(value, str):
            return value
        spec, _, protocol = value.partition("/")
        parts = spec.split(":")
        if len(parts) > 3 or not all(p.isdigit() or p == "" for p in parts[-2:]):
            raise PydanticCustomError(
                "port", "'{value}' is not a port; write '127.0.0.1:8080:80', '127.0.0.1::80' or '80'",
                {"value": value})
        long: dict[str, Any] = {"target": parts[-1]}
        if len(parts) >= 2 and parts[-2]:
            long["published"] = parts[-2]
        if len(parts) == 3:
            long["host_ip"] = parts[0]
        if protocol:
            long["protocol"] = protocol
        return long


class ServiceNetwork(Strict):
    aliases: list[str] = Field(default_factory=list)


class BindOptions(Strict):
    propagation: Literal["private", "rprivate", "shared", "rshared", "slave", "rslave"] = "rprivate"


class Mount(Strict):
    type: Literal["bind", "volume", "tmpfs"]
    source: str | None = None
    target: str
    read_only: bool = False
    bind: BindOptions | None = None

    @field_validator("target")
    @classmethod
    def _absolute_target(cls, value: str) -> str:
        if not value.startswith("/"):
            raise PydanticCustomError("target", "the container path '{value}' must be absolute",
                                      {"value": value})
        return value

    @model_validator(mode="after")
    def _source_fits_type(self) -> Mount:
        if self.type in ("bind", "volume") and not self.source:
            raise PydanticCustomError("source", "a {type} mount needs a source", {"type": self.type})
        return self

    @classmethod
    def parse_short(cls, value: Any) -> Any:
        """`SOURCE:TARGET[:ro|rw]` or `TARGET` -> long form."""
        if not isinstance(value, str):
            return value
        parts = value.split(":")
        if len(parts) == 1:
            raise PydanticCustomError(
                "volume", "anonymous volume '{value}' is not supported; declare a named volume "
                "under the top-level `volumes` and write 'NAME:{value}'", {"value": value})
        if len(parts) > 3 or (len(parts) == 3 and parts[2] not in ("ro", "rw")):
            raise PydanticCustomError(
                "volume", "'{value}' is not a volume; write 'SOURCE:TARGET' or 'SOURCE:TARGET:ro'",
                {"value": value})
        source, target = parts[0], parts[1]
        is_path = source.startswith(("/", "./", "../", "~")) or source in (".", "..")
        return {"type": "bind" if is_path else "volume", "source": source, "target": target,
                "read_only": len(parts) == 3 and parts[2] == "ro"}


class Device(Strict):
    host: str
    container: str
    permissions: str = "rwm"

    @classmethod
    def parse_short(cls, value: Any) -> Any:
        """`/dev/x[:/dev/y[:rwm]]` -> long form."""
        if not isinstance(value, str):
            return value
        parts = value.split(":")
        if len(parts) > 3 or not parts[0].startswith("/dev/"):
            raise PydanticCustomError(
                "device", "'{value}' is not a device; write '/dev/fuse' or '/dev/a:/dev/b:rwm'",
                {"value": value})
        host = parts[0]
        container = parts[1] if len(parts) > 1 else host
        permissions = parts[2] if len(parts) > 2 else "rwm"
        return {"host": host, "container": container, "permissions": permissions}


class Healthcheck(Strict):
    test: list[str] = Field(min_length=1)
    interval: float = 30.0
    timeout: float = 30.0
    retries: int = Field(default=3, ge=1, le=2**31 - 1)  # Docker's field is 32 bits
    start_period: float = 0.0
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

    @field_validator("interval", "timeout", "start_period", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> float:
        return parse_duration(value)


class Dependency(Strict):
    condition: Literal["service_started", "service_healthy"] = "service_started"


class Service(Strict):
    allow_extensions: ClassVar[bool] = True

    image: str | None = None
    build: Build | None = None
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    environment: StringMap = Field(default_factory=dict)
    ports: list[Port] = Field(default_factory=list)
    networks: dict[str, ServiceNetwork] = Field(default_factory=dict)
    volumes: list[Mount] = Field(default_factory=list)
    cap_add: list[str] = Field(default_factory=list)
    cap_drop: list[str] = Field(default_factory=list)
    devices: list[Device] = Field(default_factory=list)
    device_cgroup_rules: list[str] = Field(default_factory=list)
    security_opt: list[str] = Field(default_factory=list)
    healthcheck: Healthcheck | None = None
    labels: StringMap = Field(default_factory=dict)
    depends_on: dict[str, Dependency] = Field(default_factory=dict)
    hostname: str | None = None
    stop_grace_period: float = 10.0

    @field_validator("build", mode="before")
    @classmethod
    def _build(cls, value: Any) -> Any:
        return {"context": value} if isinstance(value, str) else value

    @field_validator("command", "entrypoint", mode="before")
    @classmethod
    def _command(cls, value: Any) -> Any:
        return shlex.split(value) if isinstance(value, str) else value

    @field_validator("ports", mode="before")
    @classmethod
    def _ports(cls, value: Any) -> Any:
        return [Port.parse_short(v) for v in value] if isinstance(value, list) else value

    @field_validator("networks", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        if isinstance(value, list):
            return _names(value)
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @field_validator("volumes", mode="before")
    @classmethod
    def _volumes(cls, value: Any) -> Any:
        return [Mount.parse_short(v) for v in value] if isinstance(value, list) else value

    @field_validator("devices", mode="before")
    @classmethod
    def _devices(cls, value: Any) -> Any:
        return [Device.parse_short(v) for v in value] if isinstance(value, list) else value

    @field_validator("cap_add", "cap_drop", "security_opt", "device_cgroup_rules", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _string_list(value)

    @field_validator("depends_on", mode="before")
    @classmethod
    def _depends_on(cls, value: Any) -> Any:
        return _names(value)

    @field_validator("stop_grace_period", mode="before")
    @classmethod
    def _grace(cls, value: Any) -> float:
        return parse_duration(value)

    @model_validator(mode="after")
    def _image_or_build(self) -> Service:
        if not self.image and not self.build:
            raise PydanticCustomError("image", "a service needs `image` or `build`")
        return self


class NetworkSpec(Strict):
    driver: Literal["bridge"] = "bridge"
    internal: bool = False
    labels: StringMap = Field(default_factory=dict)


class VolumeSpec(Strict):
    labels: StringMap = Field(default_factory=dict)


class ComposeSpec(Strict):
    """A whole compose file, as written (after variable interpolation)."""

    allow_extensions: ClassVar[bool] = True

    version: str | None = None  # obsolete in the spec; accepted and ignored
    name: str | None = None
    services: dict[str, Service] = Field(min_length=1)
    networks: dict[str, NetworkSpec] = Field(default_factory=dict)
    volumes: dict[str, VolumeSpec] = Field(default_factory=dict)

    @field_validator("networks", "volumes", mode="before")
    @classmethod
    def _nullable_entries(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: ({} if v is None else v) for k, v in value.items()}
        return value

    @model_validator(mode="after")
    def _default_network(self) -> ComposeSpec:
        """As compose does: services that name no network join one called `default`."""
        loose = [s for s in self.services.values() if not s.networks]
        if loose:
            self.networks.setdefault("default", NetworkSpec())
            for service in loose:
                service.networks["default"] = ServiceNetwork()
        return self
