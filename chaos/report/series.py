"""Time series a report draws: traffic per time bucket from the timelines, stack states from samples.

Pure functions over records (the readers at the bottom are the only I/O).  Times
come in as epoch seconds and go out as seconds after an origin the caller
chooses (the drill's T+0), because a person reads "T+12 s", not an epoch.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chaos.measure.stats import percentile
from chaos.records import Request, read_timeline

#: Runs up to this long are drawn per second; longer ones in wider buckets (at most ~MAX_POINTS).
ONE_SECOND_UP_TO = 300.0
MAX_POINTS = 900


@dataclass(frozen=True)
class TrafficSeries:
    """Per-bucket figures of a run's traffic; None where a bucket had no request to judge."""

    bucket: float
    #: Start of each bucket, seconds after the origin.
    t: tuple[float, ...]
    #: Load requests sent per second (the prober's are not traffic).
    request_rate: tuple[float, ...]
    #: Share of load requests that failed, 0..1.
    error_rate: tuple[float | None, ...]
    #: 95th percentile of load request durations, seconds.
    p95: tuple[float | None, ...]
    #: Share of the availability prober's requests answered well, 0..1.
    availability: tuple[float | None, ...]

    def __len__(self) -> int:
        return len(self.t)


def bucket_seconds(span: float) -> float:
    """Bucket width for a run of `span` seconds: 1 s, then 2 s, then wider so a chart stays light."""
    if span <= ONE_SECOND_UP_TO:
        return 1.0
    if span <= 2 * MAX_POINTS:
        return 2.0
    return float(math.ceil(span / MAX_POINTS))


def traffic_series(requests: Sequence[Request], origin: float, *, start: float | None = None,
                   end: float | None = None, bucket: float | None = None) -> TrafficSeries:
    """Bucket `requests` by the time they were sent, from `start` to `end` (default: the requests')."""
    if not requests and (start is None or end is None):
        return TrafficSeries(bucket or 1.0, (), (), (), (), ())
    first = start if start is not None else min(r.start for r in requests)
    last = end if end is not None else max(r.start for r in requests)
    width = bucket or bucket_seconds(last - first)
    # Buckets aligned on the origin, so T+0 starts a bucket whatever the first request was.
    low = math.floor((first - origin) / width)
    high = math.floor((last - origin) / width)
    count = max(0, high - low + 1)
    load: list[list[Request]] = [[] for _ in range(count)]
    probe: list[list[Request]] = [[] for _ in range(count)]
    for request in requests:
        index = math.floor((request.start - origin) / width) - low
        if 0 <= index < count:
            (probe if request.source == "probe" else load)[index].append(request)
    return TrafficSeries(
        bucket=width,
        t=tuple((low + i) * width for i in range(count)),
        request_rate=tuple(len(b) / width for b in load),
        error_rate=tuple(_share(b, good=False) for b in load),
        p95=tuple(percentile([r.duration for r in b], 95) for b in load),
        availability=tuple(_share(b, good=True) for b in probe),
    )


def _share(requests: Sequence[Request], *, good: bool) -> float | None:
    if not requests:
        return None
    return sum(1 for r in requests if r.ok == good) / len(requests)


def merge_intervals(intervals: Iterable[tuple[float, float]], gap: float = 0.0
                    ) -> list[tuple[float, float]]:
    """Overlapping intervals (or ones at most `gap` apart) joined, in time order."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted((min(a, b), max(a, b)) for a, b in intervals):
        if merged and start <= merged[-1][1] + gap:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass(frozen=True)
class StackSample:
    """One look at one server (stack/samples.jsonl)."""

    at: float
    target: str
    raid: str
    role: str
    lag_bytes: int | None = None
    lag_seconds: float | None = None
    #: btrfs replace: none, running, finished, failed
    rebuild: str = "none"
    rebuild_percent: float | None = None


@dataclass(frozen=True)
class Span:
    """`target`'s `field` was `state` from `start` to `end` (seconds after the origin)."""

    target: str
    field: str
    state: str
    start: float
    end: float


@dataclass(frozen=True)
class StatePoint:
    """`target`'s `field` seen as `state` at `at` (epoch): a sample's value or an event."""

    at: float
    target: str
    field: str
    state: str


def sample_points(samples: Sequence[StackSample]) -> list[StatePoint]:
    """The RAID state and the role of every sample as points; the rebuild of servers that had one."""
    rebuilt = {s.target for s in samples if s.rebuild != "none"}
    points = []
    for s in samples:
        points.append(StatePoint(s.at, s.target, "raid", s.raid))
        points.append(StatePoint(s.at, s.target, "role", s.role))
        if s.target in rebuilt:
            points.append(StatePoint(s.at, s.target, "rebuild", s.rebuild))
    return points


def event_points(events: Iterable[Mapping[str, Any]]) -> list[StatePoint]:
    """result.json's stack_events as points; an event missing its time or target is left out."""
    points = []
    for event in events:
        at, target = event.get("at"), event.get("target")
        if isinstance(at, int | float) and isinstance(target, str):
            points.append(StatePoint(float(at), target, str(event.get("kind") or "event"),
                                     str(event.get("state") or "")))
    return points


def state_spans(points: Iterable[StatePoint], origin: float, end: float) -> list[Span]:
    """Each target's field as runs of one state; the last run lasts until `end` (epoch)."""
    by_lane: dict[tuple[str, str], list[StatePoint]] = {}
    for point in sorted(points, key=lambda p: p.at):
        by_lane.setdefault((point.target, point.field), []).append(point)
    spans: list[Span] = []
    for (target, field), lane in sorted(by_lane.items()):
        run_start = lane[0]
        for previous, point in zip(lane, lane[1:], strict=False):
            if point.state != previous.state:
                spans.append(Span(target, field, run_start.state, run_start.at - origin,
                                  point.at - origin))
                run_start = point
        spans.append(Span(target, field, run_start.state, run_start.at - origin,
                          max(end, lane[-1].at) - origin))
    return spans


def lag_series(samples: Iterable[StackSample], origin: float
               ) -> dict[str, tuple[list[float], list[float | None]]]:
    """Replication lag in bytes per server that ever reported one: (T+ seconds, bytes or None)."""
    return _per_target(samples, origin, lambda s: None if s.lag_bytes is None else float(s.lag_bytes))


def rebuild_series(samples: Iterable[StackSample], origin: float
                   ) -> dict[str, tuple[list[float], list[float | None]]]:
    """Rebuild progress in percent per server that ever reported one: (T+ seconds, % or None)."""
    return _per_target(samples, origin, lambda s: s.rebuild_percent)


def _per_target(samples: Iterable[StackSample], origin: float,
                value: Callable[[StackSample], float | None]
                ) -> dict[str, tuple[list[float], list[float | None]]]:
    series: dict[str, tuple[list[float], list[float | None]]] = {}
    ordered = sorted(samples, key=lambda s: s.at)
    reporting = {s.target for s in ordered if value(s) is not None}
    for sample in ordered:
        if sample.target in reporting:
            t, values = series.setdefault(sample.target, ([], []))
            t.append(sample.at - origin)
            values.append(value(sample))
    return series


def read_requests(run_dir: Path) -> list[Request]:
    """Every request of the run's timelines (load and prober); none when the run left no timeline."""
    return read_timeline(sorted((run_dir / "load").glob("timeline-*.csv")))


def read_samples(path: Path) -> tuple[list[StackSample], int]:
    """The samples in a samples.jsonl file, and how many lines were not readable samples.

    A report shows what it can: a line cut short by a killed harness is counted, not fatal.
    """
    samples: list[StackSample] = []
    bad = 0
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return [], 0
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            samples.append(StackSample(float(data["at"]), str(data["target"]),
                                       str(data.get("raid") or "none"),
                                       str(data.get("role") or "unknown"),
                                       _int_or_none(data.get("lag_bytes")),
                                       _float_or_none(data.get("lag_seconds")),
                                       str(data.get("rebuild") or "none"),
                                       _float_or_none(data.get("rebuild_percent"))))
        except (ValueError, TypeError, KeyError, AttributeError):
            bad += 1
    return samples, bad


def _int_or_none(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _float_or_none(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
