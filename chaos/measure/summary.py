"""All the measurements of one load run, around its faults (if any)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from chaos.measure.loss import LossReport, ReadBack, assess_loss
from chaos.measure.phases import PhaseStats, phases
from chaos.measure.recovery import FaultImpact, RecoverySettings, analyse_fault
from chaos.records import Ack, Request

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class FaultMark:
    """A fault as the harness recorded it: what, and when it took effect (epoch seconds)."""

    name: str
    at: float
    #: When it was rolled back, if it was.
    until: float | None = None


@dataclass(frozen=True)
class FaultResult:
    fault: FaultMark
    impact: FaultImpact
    phases: list[PhaseStats]


@dataclass(frozen=True)
class Measurements:
    started_at: float
    ended_at: float
    requests: int
    failed: int
    acknowledged_uploads: int
    settings: RecoverySettings
    #: The whole run, load traffic only (the prober excluded).
    overall: PhaseStats
    faults: list[FaultResult]
    loss: LossReport | None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["schema_version"] = SCHEMA_VERSION
        if self.loss is not None:
            data["loss"].update(missing=self.loss.missing, corrupt=self.loss.corrupt,
                                lost=self.loss.lost)
        return data


def measure(requests: Sequence[Request], acks: Sequence[Ack], started_at: float, ended_at: float,
            faults: Sequence[FaultMark] = (), reads: Mapping[str, ReadBack] | None = None,
            settings: RecoverySettings | None = None) -> Measurements:
    """Recovery and phases per fault (each looked at until the next one), and the loss check."""
    settings = settings or RecoverySettings()
    load = [r for r in requests if r.source != "probe"] or list(requests)
    ordered = sorted(faults, key=lambda f: f.at)
    results = []
    for index, fault in enumerate(ordered):
        until = ordered[index + 1].at if index + 1 < len(ordered) else ended_at
        impact = analyse_fault(requests, fault.at, until, settings)
        recovered_at = (fault.at + impact.time_to_recover
                        if impact.time_to_recover is not None else None)
        results.append(FaultResult(fault, impact, phases(load, started_at, until, fault.at,
                                                         recovered_at)))
    loss = None
    if reads is not None:
        loss = assess_loss(acks, reads, ordered[0].at if ordered else None)
    return Measurements(
        started_at=started_at, ended_at=ended_at, requests=len(requests),
        failed=sum(1 for r in requests if not r.ok), acknowledged_uploads=len(acks),
        settings=settings, overall=_overall(load, started_at, ended_at), faults=results, loss=loss)


def _overall(load: Sequence[Request], started_at: float, ended_at: float) -> PhaseStats:
    """The whole run, from the first request sent to the last answer (not Locust's start-up)."""
    if load:
        started_at = min(r.start for r in load)
        ended_at = max(max(r.end for r in load), started_at + 1e-6)
    return phases(load, started_at, ended_at)[0]
