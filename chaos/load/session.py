"""A load session: the prober and Locust together, always both stopped, records collected."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from chaos.engine.runstate import record_process
from chaos.load.prober import Prober, ProbeSpec
from chaos.load.runner import LoadPlan, LocustProcess
from chaos.records import Ack, Request, read_ledger, read_timeline


@dataclass(frozen=True)
class LoadRecords:
    """What a session left: every request and every acknowledged upload."""

    out_dir: Path
    started_at: float
    ended_at: float
    requests: list[Request]
    acks: list[Ack]


class LoadSession:
    """`with LoadSession(plan) as session: ...; session.wait()` then `session.records()`."""

    def __init__(self, plan: LoadPlan, *, prober_rate: float | None = None,
                 prober_timeout: float | None = None, probe: ProbeSpec | None = None,
                 probe_url: str | None = None, with_load: bool = True,
                 record_in: Path | None = None) -> None:
        """`probe`: what the prober asks (default: GET / at 10 a second), at `probe_url`
        (default: the load's host); `prober_rate`/`prober_timeout` override its own.
        `record_in`: the run's folder, where Locust's pid is noted the moment it starts, so
        `drill clean` stops it if this process dies without stopping it (SIGKILL, OOM)."""
        self.plan = plan
        self._record_in = record_in
        self.out_dir = plan.settings.out_dir
        self.out_dir.mkdir(parents=True, exist_ok=True)
        spec = probe or ProbeSpec()
        rate = spec.rate if prober_rate is None else prober_rate
        self._prober = Prober(probe_url or plan.host, self.out_dir / "timeline-probe.csv", spec,
                              rate=rate, timeout=prober_timeout) if rate > 0 else None
        self._with_load = with_load
        self.locust: LocustProcess | None = None
        self.started_at = 0.0
        self.ended_at = 0.0

    def __enter__(self) -> LoadSession:
        self.started_at = time.time()
        if self._prober is not None:
            self._prober.start()
        try:
            if self._with_load:
                self.locust = LocustProcess(self.plan)
                if self._record_in is not None:
                    record_process(self._record_in, self.locust.process.pid, "locust")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def wait(self) -> None:
        """Until Locust ends its run (or, without load, for the planned duration)."""
        if self.locust is not None:
            self.locust.wait()
        else:
            time.sleep(max(0.0, self.started_at + self.plan.duration - time.time()))

    def stop(self) -> None:
        """Stop whatever still runs; safe to call twice."""
        if self.locust is not None:
            self.locust.stop()
        if self._prober is not None:
            self._prober.stop()
            self._prober = None
        if not self.ended_at:
            self.ended_at = time.time()

    def records(self) -> LoadRecords:
        return LoadRecords(self.out_dir, self.started_at, self.ended_at or time.time(),
                           read_timeline(sorted(self.out_dir.glob("timeline-*.csv"))),
                           read_ledger(sorted(self.out_dir.glob("ledger-*.csv"))))
