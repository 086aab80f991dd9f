"""Throughput, errors and latency before, during and after a fault."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.measure.stats import percentile
from chaos.records import Request


@dataclass(frozen=True)
class PhaseStats:
    """Requests that *started* in [start, end)."""

    name: str
    start: float
    end: float
    requests: int
    failed: int
    #: Requests per second over the phase, and successful ones per second.
    throughput: float
    good_throughput: float
    error_rate: float
    #: Latency of every request (failures included: the customer waited for them), seconds.
    p50: float | None
    p95: float | None
    p99: float | None

    @property
    def duration(self) -> float:
        return self.end - self.start


def phase_stats(name: str, requests: Sequence[Request], start: float, end: float) -> PhaseStats:
    """Statistics of the requests that started in [start, end)."""
    inside = [r for r in requests if start <= r.start < end]
    failed = sum(1 for r in inside if not r.ok)
    length = end - start
    durations = [r.duration for r in inside]
    return PhaseStats(
        name=name, start=start, end=end, requests=len(inside), failed=failed,
        throughput=len(inside) / length if length > 0 else 0.0,
        good_throughput=(len(inside) - failed) / length if length > 0 else 0.0,
        error_rate=failed / len(inside) if inside else 0.0,
        p50=percentile(durations, 50), p95=percentile(durations, 95), p99=percentile(durations, 99))


def phases(requests: Sequence[Request], run_start: float, run_end: float,
           fault_at: float | None = None, recovered_at: float | None = None) -> list[PhaseStats]:
    """`before`/`during`/`after` around a fault (`during` lasts to the recovery, or the end);
    the whole run as `run` when there was no fault."""
    if fault_at is None:
        return [phase_stats("run", requests, run_start, run_end)]
    during_end = recovered_at if recovered_at is not None else run_end
    result = [phase_stats("before", requests, run_start, fault_at),
              phase_stats("during", requests, fault_at, during_end)]
    if recovered_at is not None:
        result.append(phase_stats("after", requests, recovered_at, run_end))
    return result
