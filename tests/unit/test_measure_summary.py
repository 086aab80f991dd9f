"""Phases, percentiles and a whole run's measurements, with every figure worked out by hand.

Times are multiples of 1/8 s, so sums and differences are exact in floating point.
"""

from __future__ import annotations

import pytest

from chaos.measure.loss import LossReport, ReadBack
from chaos.measure.phases import PhaseStats, phase_stats
from chaos.measure.recovery import FaultImpact, Interval, RecoverySettings
from chaos.measure.stats import percentile
from chaos.measure.summary import FaultMark, FaultResult, Measurements, measure
from chaos.records import Ack, Request

T0 = 1_700_000_000.0
#: Holds for 1 s only: the run below is too short for the default 5 s.
SETTINGS = RecoverySettings(window=1.0, threshold=0.99, hold=1.0, patience=2.0)


def test_percentiles_at_the_ends_of_their_range() -> None:
    values = [3.0, 1.0, 2.0]
    assert percentile(values, 0) == 1.0 and percentile(values, 100) == 3.0
    assert percentile(values, 75) == 2.5  # rank 1.5: half-way between 2 and 3


@pytest.mark.parametrize("q", [-0.5, 100.5])
def test_a_percentile_outside_0_to_100_is_refused_by_name(q: float) -> None:
    with pytest.raises(ValueError, match=rf"^percentile {q} is not between 0 and 100$"):
        percentile([1.0], q)


def test_a_phase_counts_requests_started_in_it_and_its_latency_percentiles() -> None:
    # 101 requests started in [0, 0.5), durations 0/1024 .. 100/1024 s; every tenth failed.
    requests = [Request(i / 256, i / 1024, "GET /", 200 if i % 10 else 503, i % 10 != 0)
                for i in range(101)]
    requests += [Request(0.5, 1.0, "GET /", 200, True), Request(-0.125, 1.0, "GET /", 200, True)]
    stats = phase_stats("during", requests, 0.0, 0.5)
    assert stats == PhaseStats(
        name="during", start=0.0, end=0.5, requests=101, failed=11,
        throughput=101 / 0.5, good_throughput=90 / 0.5, error_rate=11 / 101,
        p50=50 / 1024, p95=95 / 1024, p99=99 / 1024)
    assert stats.duration == 0.5


def test_an_empty_phase_of_no_length_has_zero_rates_and_no_latency() -> None:
    requests = [Request(T0 + 1, 0.5, "GET /", 200, True)]
    assert phase_stats("during", requests, T0 + 1.5, T0 + 1.5) == PhaseStats(
        "during", T0 + 1.5, T0 + 1.5, 0, 0, 0.0, 0.0, 0.0, None, None, None)


def run_requests() -> list[Request]:
    """8 s of load (every 1/4 s, 1/4 s each) and probes (every 1/2 s, 1/8 s each);
    both fail when sent in [2, 3)."""
    load = [Request(T0 + k / 4, 0.25, "GET /", 503 if 8 <= k < 12 else 200, not 8 <= k < 12)
            for k in range(32)]
    probes = [Request(T0 + k / 2, 0.125, "probe /healthz", 0 if 4 <= k < 6 else 200,
                      not 4 <= k < 6, "ReadTimeout" if 4 <= k < 6 else "", source="probe")
              for k in range(16)]
    return load + probes


def load_phase(name: str, start: float, end: float, requests: int, failed: int) -> PhaseStats:
    """A phase of the load above: every request took 0.25 s."""
    length = end - start
    return PhaseStats(name, T0 + start, T0 + end, requests, failed,
                      requests / length if length else 0.0,
                      (requests - failed) / length if length else 0.0,
                      failed / requests if requests else 0.0,
                      *((0.25, 0.25, 0.25) if requests else (None, None, None)))


def test_a_run_with_three_steps_is_measured_step_by_step() -> None:
    faults = [FaultMark("restore", T0 + 5), FaultMark("kill", T0 + 2), FaultMark("check", T0 + 6.5)]
    acks = [Ack("u1", "sha1", 10, T0 + 1), Ack("u2", "sha2", 10, T0 + 1.5)]
    reads = {"u1": ReadBack(200, "sha1"), "u2": ReadBack(404, None)}
    measured = measure(run_requests(), acks, T0, T0 + 8, faults, reads, SETTINGS)
    # kill, analysed to 5 (the next step): the first probe fails at 2.125; the site is down
    # from the fault to the first good answer, the probe sent at 3 (answered 3.125), from
    # which everything holds for 1 s. Answers from 2 to 5: 13 of the load, 6 probes.
    kill = FaultImpact(T0 + 2, 0.125, True, 1.125, 1.125, (Interval(T0 + 2, T0 + 3.125),), 6, 0, 19)
    # restore, to 6.5, and check, to 8: nothing failed. 7 + 3 answers each.
    restore = FaultImpact(T0 + 5, None, True, 0.0, 0.0, (), 0, 0, 10)
    check = FaultImpact(T0 + 6.5, None, True, 0.0, 0.0, (), 0, 0, 10)
    assert measured == Measurements(
        started_at=T0, ended_at=T0 + 8, requests=48, failed=6, acknowledged_uploads=2,
        settings=SETTINGS, overall=load_phase("run", 0, 8, 32, 4),
        faults=[
            FaultResult(FaultMark("kill", T0 + 2), kill, [
                load_phase("before", 0, 2, 8, 0), load_phase("during", 2, 3.125, 5, 4),
                load_phase("after", 3.125, 5, 7, 0)]),
            FaultResult(FaultMark("restore", T0 + 5), restore, [
                load_phase("before", 0, 5, 20, 4), load_phase("during", 5, 5, 0, 0),
                load_phase("after", 5, 6.5, 6, 0)]),
            FaultResult(FaultMark("check", T0 + 6.5), check, [
                load_phase("before", 0, 6.5, 26, 4), load_phase("during", 6.5, 6.5, 0, 0),
                load_phase("after", 6.5, 8, 6, 0)]),
        ],
        # u2 was acknowledged at 1.5, half a second before the first step.
        loss=LossReport(2, 1, ("u2",), (), (), (-0.5, -0.5), (T0 + 1.5, T0 + 1.5)))


def test_an_outage_open_at_the_end_has_a_during_phase_to_the_end() -> None:
    requests = [r for r in run_requests() if r.start < T0 + 2 or not r.ok]
    measured = measure(requests, [], T0, T0 + 3, [FaultMark("kill", T0 + 2)], None, SETTINGS)
    [result] = measured.faults
    assert not result.impact.recovered
    assert result.phases == [load_phase("before", 0, 2, 8, 0), load_phase("during", 2, 3, 4, 4)]
    assert measured.loss is None  # nothing read back: no loss report


def test_a_run_of_probes_only_is_measured_on_the_probes() -> None:
    probes = [r for r in run_requests() if r.source == "probe"]
    measured = measure(probes, [], T0, T0 + 8)
    assert (measured.requests, measured.failed) == (16, 2)
    assert (measured.overall.requests, measured.overall.failed) == (16, 2)
    assert measured.settings == RecoverySettings()


def test_a_run_without_requests_is_measured_over_its_own_times() -> None:
    reads = {"u1": ReadBack(404, None)}
    measured = measure([], [Ack("u1", "sha1", 10, T0 + 1)], T0, T0 + 8, reads=reads)
    assert measured == Measurements(
        started_at=T0, ended_at=T0 + 8, requests=0, failed=0, acknowledged_uploads=1,
        settings=RecoverySettings(),
        overall=PhaseStats("run", T0, T0 + 8, 0, 0, 0.0, 0.0, 0.0, None, None, None), faults=[],
        loss=LossReport(1, 0, ("u1",), (), (), None, (T0 + 1, T0 + 1)))  # no fault: no window


def test_the_overall_phase_runs_from_the_first_request_to_the_last_answer() -> None:
    # Not from Locust's start-up (0) to the harness's end (10); at least a microsecond long.
    measured = measure([Request(2.0, 0.0, "GET /", 200, True)], [], 0.0, 10.0)
    assert measured.overall == PhaseStats("run", 2.0, 2.0 + 1e-6, 1, 0, 1 / (2.0 + 1e-6 - 2.0),
                                          1 / (2.0 + 1e-6 - 2.0), 0.0, 0.0, 0.0, 0.0)


def test_the_json_form_adds_the_schema_version_and_the_loss_counts() -> None:
    acks = [Ack("u1", "sha1", 10, T0 + 1), Ack("u2", "sha2", 10, T0 + 1.5)]
    reads = {"u1": ReadBack(200, "other"), "u2": ReadBack(404, None)}
    data = measure([], acks, T0, T0 + 8, [FaultMark("kill", T0 + 2)], reads).to_json()
    assert data["schema_version"] == 1
    assert data["loss"] == {"acknowledged": 2, "intact": 0, "missing_ids": ("u2",),
                            "corrupt_ids": ("u1",), "unreadable_ids": (),
                            "loss_window": (-1.0, -0.5), "lost_between": (T0 + 1, T0 + 1.5),
                            "missing": 1, "corrupt": 1, "lost": 2}
    assert data["started_at"] == T0 and data["faults"][0]["fault"]["name"] == "kill"
    without = measure([], [], T0, T0 + 8).to_json()
    assert without["loss"] is None and without["schema_version"] == 1
