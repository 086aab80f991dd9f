"""Per-bucket traffic series, merged intervals and stack state runs for the report's charts."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.records import Request
from chaos.report.series import (
    StackSample,
    StatePoint,
    bucket_seconds,
    event_points,
    lag_series,
    merge_intervals,
    read_requests,
    read_samples,
    rebuild_series,
    sample_points,
    state_spans,
    traffic_series,
)

ORIGIN = 1000.0


def load(start: float, duration: float = 0.01, ok: bool = True) -> Request:
    return Request(ORIGIN + start, duration, "GET /", 200 if ok else 503, ok, source="load")


def probe(start: float, ok: bool = True) -> Request:
    return Request(ORIGIN + start, 0.005, "probe /healthz", 200 if ok else 0, ok, source="probe")


@pytest.mark.parametrize(("span", "bucket"), [(0, 1.0), (60, 1.0), (300, 1.0), (301, 2.0),
                                              (1800, 2.0), (3600, 4.0)])
def test_long_runs_get_wider_buckets(span: float, bucket: float) -> None:
    assert bucket_seconds(span) == bucket


def test_traffic_per_second_counts_load_only_and_judges_errors_latency_and_availability() -> None:
    requests = [load(0.1), load(0.2), load(0.3, duration=0.5), load(0.9, ok=False),
                load(2.5, duration=0.2), probe(0.0), probe(0.5, ok=False), probe(2.0)]
    series = traffic_series(sorted(requests, key=lambda r: r.start), ORIGIN)
    assert series.bucket == 1.0
    assert series.t == (0.0, 1.0, 2.0)
    assert series.request_rate == (4.0, 0.0, 1.0)
    assert series.error_rate == (0.25, None, 0.0)  # no request in the second bucket: no rate
    assert series.p95 is not None and series.p95[0] == pytest.approx(0.4265)
    assert series.p95[1:] == (None, 0.2)
    assert series.availability == (0.5, None, 1.0)


def test_buckets_align_on_t0_and_cover_the_asked_range() -> None:
    series = traffic_series([load(-1.5), load(0.5)], ORIGIN, start=ORIGIN - 2.5, end=ORIGIN + 2.2)
    assert series.t == (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0)
    assert series.request_rate == (0.0, 1.0, 0.0, 1.0, 0.0, 0.0)  # T-1.5 s is in [-2, -1)
    assert len(series) == 6


def test_two_second_buckets_give_rates_per_second() -> None:
    series = traffic_series([load(0.1), load(1.1), load(1.5), load(3.0)], ORIGIN, bucket=2.0)
    assert series.t == (0.0, 2.0)
    assert series.request_rate == (1.5, 0.5)


def test_no_request_no_series() -> None:
    assert len(traffic_series([], ORIGIN)) == 0


def test_intervals_merge_when_they_overlap_touch_or_lie_within_the_gap() -> None:
    assert merge_intervals([(5, 6), (1, 2), (2, 3), (2.5, 2.8), (3.1, 4)]) == [(1, 3), (3.1, 4), (5, 6)]
    assert merge_intervals([(1, 2), (2.15, 3), (3.5, 4)], gap=0.2) == [(1, 3), (3.5, 4)]
    assert merge_intervals([]) == []


def test_state_runs_per_server_and_field_last_until_the_end() -> None:
    points = [StatePoint(ORIGIN + t, "server-a", "raid", state)
              for t, state in ((0, "healthy"), (2, "healthy"), (4, "degraded"), (6, "degraded"),
                               (8, "healthy"))]
    points.append(StatePoint(ORIGIN + 1, "server-b", "role", "standby"))
    spans = state_spans(points, ORIGIN, ORIGIN + 10)
    raid = [(s.state, s.start, s.end) for s in spans if s.target == "server-a"]
    assert raid == [("healthy", 0, 4), ("degraded", 4, 8), ("healthy", 8, 10)]
    [standby] = [s for s in spans if s.target == "server-b"]
    assert (standby.field, standby.state, standby.start, standby.end) == ("role", "standby", 1, 10)


def test_samples_read_from_json_lines_a_cut_line_counted_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "samples.jsonl"
    rows = [{"at": 1001.0, "target": "server-a", "raid": "healthy", "role": "primary",
             "lag_bytes": None, "lag_seconds": None, "rebuild": "none", "rebuild_percent": None},
            {"at": 1001.0, "target": "server-b", "raid": "healthy", "role": "standby",
             "lag_bytes": 816.0, "lag_seconds": 0.0005, "rebuild": "running", "rebuild_percent": 12.5}]
    path.write_text("\n".join(json.dumps(r) for r in rows) + '\n{"at": 1003.0, "targ\n\n')
    samples, bad = read_samples(path)
    assert bad == 1
    assert samples[1] == StackSample(1001.0, "server-b", "healthy", "standby", 816, 0.0005, "running", 12.5)
    assert read_samples(tmp_path / "missing.jsonl") == ([], 0)


def test_lag_and_rebuild_series_only_for_servers_that_report_them() -> None:
    samples = [StackSample(1000.0, "server-a", "healthy", "primary"),
               StackSample(1000.0, "server-b", "healthy", "standby", lag_bytes=0),
               StackSample(1002.0, "server-b", "healthy", "down"),
               StackSample(1002.0, "server-a", "degraded", "primary", rebuild="running",
                           rebuild_percent=40.0)]
    assert lag_series(samples, ORIGIN) == {"server-b": ([0.0, 2.0], [0.0, None])}
    assert rebuild_series(samples, ORIGIN) == {"server-a": ([0.0, 2.0], [None, 40.0])}
    fields = {(p.target, p.field) for p in sample_points(samples)}
    assert ("server-a", "rebuild") in fields and ("server-b", "rebuild") not in fields


def test_events_become_points_and_malformed_ones_are_left_out() -> None:
    events = [{"at": 1005.0, "target": "server-a", "kind": "raid", "state": "degraded"},
              {"at": "soon", "target": "server-a", "kind": "raid", "state": "lost"},
              {"at": 1006.0, "kind": "role", "state": "primary"}]
    assert event_points(events) == [StatePoint(1005.0, "server-a", "raid", "degraded")]


def test_a_run_without_timelines_has_no_requests(tmp_path: Path) -> None:
    assert read_requests(tmp_path) == []
