"""What a fault did to the customer: first error, recovery, downtime, failed requests.

A request is *good* when it succeeded within `patience` seconds, *bad*
otherwise, and counts at the moment its answer arrived (its end): that is
when the customer saw it.

- The site is *down* from the last good answer before a bad one until the
  next good answer (never before the fault).  A frozen edge that answers
  nothing is down from its last answer: the stalled requests end bad (time-
  outs) or late.  A bad answer to a request sent before the last good answer
  is a straggler of an outage already counted, and opens no new one.
- It has *recovered* at the first good answer from which availability (good
  answers / all answers, over a sliding `window`) stays at or above
  `threshold` for `hold` seconds; a window with no answer while requests were
  outstanding counts as 0 %.  A recovery that does not hold is not one; an
  outage still open at the end, or one whose hold the run did not last long
  enough to see, is *not recovered* (no number).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from chaos.records import Request


@dataclass(frozen=True)
class RecoverySettings:
    """How strict recovery is."""

    #: Sliding window for availability, seconds.
    window: float = 1.0
    #: Availability (0..1) the window must keep.
    threshold: float = 0.99
    #: How long availability must hold for a recovery to count, seconds.
    hold: float = 5.0
    #: A successful answer slower than this is as bad as an error (the customer gave
    #: up), seconds.  Slowness below it is a latency matter, measured per phase.
    #: The load's own request time-out is 10 s.
    patience: float = 10.0

    def __post_init__(self) -> None:
        if self.window <= 0 or self.hold < 0 or self.patience <= 0:
            raise ValueError("window and patience must be above 0, hold at least 0")
        if not 0 < self.threshold <= 1:
            raise ValueError("threshold is a fraction between 0 (excluded) and 1")


@dataclass(frozen=True)
class Interval:
    start: float
    end: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class FaultImpact:
    """The customer's view of one fault, times in seconds after the fault."""

    fault_at: float
    #: When the first bad answer arrived; None if none did.
    time_to_first_error: float | None
    recovered: bool
    #: When the held recovery began; None when not recovered.
    time_to_recover: float | None
    #: Total time down (all down intervals, flaps included).
    downtime: float
    down_intervals: tuple[Interval, ...]
    failed_requests: int
    slow_requests: int
    #: Answers seen in the analysed span.
    requests: int
    #: Why it is not recovered, in words; None when recovered.
    not_recovered_reason: str | None = None


def is_good(request: Request, settings: RecoverySettings) -> bool:
    return request.ok and request.duration <= settings.patience


def analyse_fault(requests: Sequence[Request], fault_at: float, end_at: float,
                  settings: RecoverySettings | None = None) -> FaultImpact:
    """The impact of a fault at `fault_at`, looking at answers up to `end_at`."""
    settings = settings or RecoverySettings()
    answers = sorted((r for r in requests if fault_at <= r.end <= end_at), key=lambda r: r.end)
    first_bad = next((r for r in answers if not is_good(r, settings)), None)
    failed = sum(1 for r in answers if not r.ok)
    slow = sum(1 for r in answers if r.ok and r.duration > settings.patience)
    if first_bad is None:
        return FaultImpact(fault_at, None, True, 0.0, 0.0, (), failed, slow, len(answers))
    intervals = _down_intervals(answers, fault_at, end_at, settings)
    downtime = sum(i.length for i in intervals)
    recovery_at, reason = _held_recovery(requests, answers, first_bad.end, end_at, settings)
    return FaultImpact(
        fault_at=fault_at,
        time_to_first_error=first_bad.end - fault_at,
        recovered=recovery_at is not None,
        time_to_recover=None if recovery_at is None else recovery_at - fault_at,
        downtime=downtime,
        down_intervals=tuple(intervals),
        failed_requests=failed,
        slow_requests=slow,
        requests=len(answers),
        not_recovered_reason=reason,
    )


def _down_intervals(answers: Sequence[Request], fault_at: float, end_at: float,
                    settings: RecoverySettings) -> list[Interval]:
    intervals: list[Interval] = []
    # Downtime never starts before the fault, however long ago the last good answer came.
    last_good = fault_at
    down_since: float | None = None
    for answer in answers:
        if is_good(answer, settings):
            if down_since is not None:
                intervals.append(Interval(down_since, answer.end))
                down_since = None
            last_good = answer.end
        elif down_since is None and answer.start >= last_good:
            # A bad answer to a request sent before the last good answer is a straggler
            # of an outage already counted (a time-out arriving after the site came back).
            down_since = last_good
    if down_since is not None:
        intervals.append(Interval(down_since, end_at))
    return intervals


def _held_recovery(requests: Sequence[Request], answers: Sequence[Request], after: float,
                   end_at: float, settings: RecoverySettings) -> tuple[float | None, str | None]:
    """The first good answer after `after` from which availability holds; else (None, why)."""
    candidates = [a for a in answers if a.end >= after and is_good(a, settings)]
    index = 0
    while index < len(candidates):
        start = candidates[index].end
        if start + settings.hold > end_at:
            return None, (f"the site answered again {start - after:.3f} s after the first error, "
                          f"but the run ended before availability held for {settings.hold:g} s")
        evidence_sent = _first_failing_window(requests, answers, start, start + settings.hold,
                                              settings)
        if evidence_sent is None:
            return start, None
        # A candidate answered before that evidence was sent sees it too, and fails: skip it.
        # One answered after it is tried (it may hold: the evidence is a straggler to it).
        while index < len(candidates) and candidates[index].end <= evidence_sent:
            index += 1
    last_bad = max((a.end for a in answers if not is_good(a, settings)), default=after)
    return None, (f"still failing at the end of the run (last bad answer "
                  f"{last_bad - after:.3f} s after the first)")


def _first_failing_window(requests: Sequence[Request], answers: Sequence[Request], start: float,
                          until: float, settings: RecoverySettings) -> float | None:
    """When the evidence that availability did not hold in [start, until] was sent: the
    earliest bad request of the first window below threshold, or the latest request that
    waited through a stall; None if every window holds."""
    # Requests sent before the candidate recovery that end badly are stragglers, not evidence.
    span = [a for a in answers
            if start <= a.end <= until and (a.start >= start or is_good(a, settings))]
    good_flags = [is_good(a, settings) for a in span]
    low = 0
    good = 0
    for high, answer in enumerate(span):
        good += good_flags[high]
        while span[low].end < answer.end - settings.window:
            good -= good_flags[low]
            low += 1
        if good / (high - low + 1) < settings.threshold:
            return min(span[i].start for i in range(low, high + 1) if not good_flags[i])
    # A stall: no answer for longer than a window while a request was outstanding.
    ends = [start] + [a.end for a in span] + [until]
    for before, after in zip(ends, ends[1:], strict=False):
        if after - before > settings.window:
            sent = _waited(requests, start, before, after, settings.window)
            if sent is not None:
                return sent
    return None


def _waited(requests: Sequence[Request], sent_after: float, since: float, until: float,
            longer_than: float) -> float | None:
    """When the latest request sent after `sent_after` that waited unanswered for more than
    `longer_than` within (since, until) was sent; None if none did."""
    return max((r.start for r in requests
                if r.start >= sent_after and min(r.end, until) - max(r.start, since) > longer_than),
               default=None)
