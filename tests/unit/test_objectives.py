"""Objectives against hand-made measurements: every result's name, limit, figure and verdict."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.measure.loss import LossReport
from chaos.measure.phases import PhaseStats
from chaos.measure.recovery import FaultImpact, RecoverySettings
from chaos.measure.summary import FaultMark, FaultResult, Measurements
from chaos.scenario.model import Objectives
from chaos.scenario.objectives import ObjectiveResult, evaluate, incident_recoveries

T0 = 1_700_000_000.0


def impact(at: float, first_error: float | None, recover: float | None, downtime: float = 0.0
           ) -> FaultImpact:
    """A step at T0 + at: first error and recovery in seconds after it (None: none)."""
    return FaultImpact(T0 + at, first_error, recover is not None, recover, downtime, (), 0, 0, 100)


def measured(*impacts: FaultImpact, loss: LossReport | None = None, error_rate: float = 0.0,
             latency: tuple[float | None, float | None, float | None] = (None, None, None)
             ) -> Measurements:
    overall = PhaseStats("run", T0, T0 + 60, 100, round(100 * error_rate), 1.0, 1.0, error_rate,
                         *latency)
    faults = [FaultResult(FaultMark(f"step{i}", i.fault_at), i, []) for i in impacts]
    return Measurements(T0, T0 + 60, 100, 0, 2, RecoverySettings(), overall, faults, loss)


#: One missing upload acknowledged 1 s after the fault, one corrupt 3 s before it.
LOSS = LossReport(acknowledged=10, intact=8, missing_ids=("u2",), corrupt_ids=("u1",),
                  unreadable_ids=(), loss_window=(-3.0, 1.0), lost_between=(T0 + 7, T0 + 11))
#: Recovered 2 s after the fault, down 1.5 s; 25 % errors; latency 0.25 / 0.5 / 1 s.
RUN = measured(impact(10, 0.5, 2.0, 1.5), loss=LOSS, error_rate=0.25, latency=(0.25, 0.5, 1.0))
EVERY = ("rto", "max_downtime", "max_error_rate", "max_lost_writes", "max_corrupt_writes", "rpo",
         "latency_p50", "latency_p95", "latency_p99")


def objectives(**given: Any) -> Objectives:
    return Objectives.model_validate(given)


def test_figures_equal_to_their_limits_pass() -> None:
    results = evaluate(objectives(rto=2.0, max_downtime=1.5, max_error_rate=0.25, max_lost_writes=2,
                                  max_corrupt_writes=1, rpo=3.0,
                                  latency={"p50": 0.25, "p95": 0.5, "p99": 1.0}), RUN)
    assert results == [
        ObjectiveResult("rto", "2s", "2.00s", True),
        ObjectiveResult("max_downtime", "1.5s", "1.50s", True),
        ObjectiveResult("max_error_rate", "25.00%", "25.00%", True),
        ObjectiveResult("max_lost_writes", "2", "2", True),
        ObjectiveResult("max_corrupt_writes", "1", "1", True),
        # The oldest lost upload was acknowledged 3 s before the fault.
        ObjectiveResult("rpo", "3s", "3.00s", True),
        ObjectiveResult("latency_p50", "250ms", "0.25s", True),
        ObjectiveResult("latency_p95", "500ms", "0.50s", True),
        ObjectiveResult("latency_p99", "1s", "1.00s", True),
    ]


def test_figures_just_over_their_limits_fail() -> None:
    results = evaluate(objectives(rto=1.75, max_downtime=1.25, max_error_rate=0.2, max_lost_writes=1,
                                  max_corrupt_writes=0, rpo=2.5,
                                  latency={"p50": 0.125, "p95": 0.25, "p99": 0.5}), RUN)
    assert results == [
        ObjectiveResult("rto", "1.75s", "2.00s", False),
        ObjectiveResult("max_downtime", "1.25s", "1.50s", False),
        ObjectiveResult("max_error_rate", "20.00%", "25.00%", False),
        ObjectiveResult("max_lost_writes", "1", "2", False),
        ObjectiveResult("max_corrupt_writes", "0", "1", False),
        ObjectiveResult("rpo", "2.5s", "3.00s", False),
        ObjectiveResult("latency_p50", "125ms", "0.25s", False),
        ObjectiveResult("latency_p95", "250ms", "0.50s", False),
        ObjectiveResult("latency_p99", "500ms", "1.00s", False),
    ]


def test_what_was_not_measured_fails_except_what_cannot_have_happened() -> None:
    # No step, nothing read back, no request: there was no fault to recover from and no
    # downtime or error, but loss and latency cannot be shown to meet anything.
    results = evaluate(objectives(rto=30.0, max_downtime=0.0, max_error_rate=0.0, max_lost_writes=0,
                                  max_corrupt_writes=0, rpo=0.0,
                                  latency={"p50": 1.0, "p95": 1.0, "p99": 1.0}), measured())
    assert results == [
        ObjectiveResult("rto", "30s", "no fault", True),
        ObjectiveResult("max_downtime", "0s", "0.00s", True),
        ObjectiveResult("max_error_rate", "0.00%", "0.00%", True),
        ObjectiveResult("max_lost_writes", "0", "not verified", False),
        ObjectiveResult("max_corrupt_writes", "0", "not verified", False),
        ObjectiveResult("rpo", "0s", "not verified", False),
        ObjectiveResult("latency_p50", "1s", "n/a", False),
        ObjectiveResult("latency_p95", "1s", "n/a", False),
        ObjectiveResult("latency_p99", "1s", "n/a", False),
    ]


def test_a_fault_without_outage_and_loss_only_after_it_meet_rto_and_rpo_of_zero() -> None:
    # Lost uploads acknowledged 2 to 4 s after the fault are no data older than it: age 0.
    after_only = LossReport(5, 4, ("u1",), (), (), (2.0, 4.0), (T0 + 12, T0 + 14))
    results = evaluate(objectives(rto=0.0, rpo=0.0, max_downtime=0.0),
                       measured(impact(10, None, 0.0), loss=after_only))
    assert results == [ObjectiveResult("rto", "0s", "no outage", True),
                       ObjectiveResult("max_downtime", "0s", "0.00s", True),
                       ObjectiveResult("rpo", "0s", "0.00s", True)]


def test_no_loss_at_all_has_an_age_of_zero() -> None:
    nothing_lost = LossReport(5, 5, (), (), (), None, None)
    assert evaluate(objectives(rpo=0.0), measured(loss=nothing_lost)) == [
        ObjectiveResult("rpo", "0s", "0.00s", True)]


def test_an_outage_never_recovered_fails_the_rto_whatever_its_limit() -> None:
    assert evaluate(objectives(rto=600.0), measured(impact(10, 1.0, None, 50.0))) == [
        ObjectiveResult("rto", "10m", "not recovered", False)]


def test_only_the_latency_percentiles_given_are_checked() -> None:
    results = evaluate(objectives(latency={"p95": 0.5}), RUN)
    assert results == [ObjectiveResult("latency_p95", "500ms", "0.50s", True)]


def test_the_worst_incident_decides_the_rto_and_downtimes_add_up() -> None:
    run = measured(impact(10, 0.5, 2.0, 1.5), impact(30, 1.0, 4.0, 3.0))
    assert evaluate(objectives(rto=3.0, max_downtime=4.5), run) == [
        ObjectiveResult("rto", "3s", "4.00s", False),
        ObjectiveResult("max_downtime", "4.5s", "4.50s", True)]


@pytest.mark.parametrize("impacts, times, open_since", [
    # A quiet step before the outage is no incident; the outage is counted after it.
    ([impact(0, None, 0.0), impact(10, 0.5, 3.0)], [3.0], None),
    # An outage a step did not end, ended by a later step without errors of its own: from
    # the first step's fault (10) to that step's fault (20), its recovery taking no time.
    ([impact(10, 0.5, None), impact(20, None, 0.0)], [10.0], None),
    # Carried through a step that still failed, recovered 2 s into the third.
    ([impact(10, 0.5, None), impact(20, 0.25, None), impact(30, 0.5, 2.0)], [22.0], None),
    ([impact(10, 0.5, 2.0), impact(30, 1.0, 4.0)], [2.0, 4.0], None),
    ([impact(0, None, 0.0), impact(10, 0.5, None)], [], T0 + 10),
], ids=["quiet first", "ended by a quiet step", "three steps", "two incidents", "open"])
def test_incidents_run_from_the_first_failing_step_to_the_recovery(
        impacts: list[FaultImpact], times: list[float], open_since: float | None) -> None:
    assert incident_recoveries(measured(*impacts)) == (times, open_since)
