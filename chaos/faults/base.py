"""What every fault shares: its outcome as data, the context it acts in, its parameters."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import docker

from chaos.errors import InputError
from chaos.stack.machine import Machine


@dataclass
class Injection:
    """One fault injected: when it was asked for, when it took effect, the proof."""

    fault: str
    target: str
    params: dict[str, str]
    asked_at: float
    #: When the effect began (epoch seconds); None when unconfirmed.
    effective_at: float | None = None
    confirmed: bool = False
    #: What was observed: the proof, or why there is none.
    evidence: str = ""
    rolled_back_at: float | None = None
    #: What it touched, when that is more than the target (files, blocks).
    affected: list[str] = field(default_factory=list)

    @property
    def latency(self) -> float | None:
        """Seconds from being asked to taking effect."""
        return None if self.effective_at is None else self.effective_at - self.asked_at

    def to_json(self) -> dict[str, Any]:
        return {"fault": self.fault, "target": self.target, "params": self.params,
                "asked_at": self.asked_at, "effective_at": self.effective_at,
                "latency": self.latency, "confirmed": self.confirmed, "evidence": self.evidence,
                "rolled_back_at": self.rolled_back_at, "affected": self.affected}


@dataclass
class FaultContext:
    """Where faults act: one run's servers, reached through the Docker layer and the host."""

    client: docker.DockerClient
    run_id: str
    run_dir: Path
    _machines: dict[str, Machine] = field(default_factory=dict)

    def machine(self, service: str) -> Machine:
        if service not in self._machines:
            self._machines[service] = Machine(self.client, self.run_id, service)
        return self._machines[service]


class Fault(ABC):
    """A kind of fault. Subclasses declare `name`, `summary` and their parameters."""

    name: ClassVar[str]
    summary: ClassVar[str]
    #: Parameter name -> (default, help).
    parameters: ClassVar[Mapping[str, tuple[str, str]]] = {}
    #: What it is aimed at: "drive" (`server-a/disk1`), "server" (`server-a`) or
    #: "site" (`dc-a`, or one service).
    target_kind: ClassVar[str] = "drive"

    def __init__(self, params: Mapping[str, str] | None = None) -> None:
        given = dict(params or {})
        unknown = sorted(set(given) - set(self.parameters))
        if unknown:
            valid = ", ".join(self.parameters) or "none"
            raise InputError(f"fault {self.name}: unknown parameter(s) {', '.join(unknown)} "
                             f"(parameters: {valid})")
        self.params = {k: given.get(k, default) for k, (default, _) in self.parameters.items()}

    def begin(self, target: str) -> Injection:
        return Injection(self.name, target, dict(self.params), asked_at=time.time())

    @abstractmethod
    def inject(self, ctx: FaultContext, target: str) -> Injection:
        """Inject, confirm the effect, and say so; never raises for an unconfirmed effect."""

    @abstractmethod
    def rollback(self, ctx: FaultContext, target: str) -> None:
        """Undo it; safe when it is not in place."""
