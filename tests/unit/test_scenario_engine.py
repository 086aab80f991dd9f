"""The engine's pure parts: the plan, matrices, objectives against measurements."""

from __future__ import annotations

from typing import Any

from chaos.measure.loss import ReadBack
from chaos.measure.summary import FaultMark, measure
from chaos.records import Ack, Request
from chaos.scenario.matrix import expand
from chaos.scenario.model import Objectives, Scenario
from chaos.scenario.objectives import evaluate, incident_recoveries
from chaos.scenario.plan import plan, render_plan


def scenario(**extra: Any) -> Scenario:
    return Scenario.model_validate({"apiVersion": "chaos-harness/v1", "name": "s", "summary": "t",
                                    **extra})


STEPS = [
    {"name": "off", "fault": "power-off", "target": "dc-a", "at": "20s", "duration": "40s"},
    {"name": "back", "action": "failback", "after": "off", "delay": "10s"},
    {"name": "lost", "action": "wait", "when": {"probe": "raid", "target": "server-a", "is": "lost"}},
]


def test_the_plan_knows_what_it_can_before_the_run() -> None:
    planned = {p.step.name: p for p in plan(scenario(steps=STEPS), time_scale=0.5)}
    assert (planned["off"].starts, planned["off"].ends) == (10.0, 30.0)
    assert planned["back"].starts == 35.0  # after the rollback, plus the scaled delay
    assert planned["lost"].starts is None and "when raid server-a is lost" in planned["lost"].trigger


def test_the_dry_run_shows_every_step_with_its_time() -> None:
    lines = render_plan(scenario(steps=STEPS, load={"steady_state": "4s"}), time_scale=1.0)
    assert any(line.strip().startswith("T+24s") and "off: power-off dc-a" in line for line in lines)
    assert any("T+?" in line and "lost: wait" in line for line in lines)


def test_a_matrix_expands_into_every_combination() -> None:
    runs = expand(scenario(steps=STEPS[:1], matrix={"load.users": [10, 50],
                                                    "steps.off.at": ["10s", "30s"]}))
    assert [label for label, _ in runs] == [
        "load.users=10, steps.off.at=10s", "load.users=10, steps.off.at=30s",
        "load.users=50, steps.off.at=10s", "load.users=50, steps.off.at=30s"]
    assert runs[3][1].load.users == 50 and runs[3][1].steps[0].at == 30.0
    assert not runs[0][1].matrix


def requests_with_outage(start: float, outage: tuple[float, float], end: float) -> list[Request]:
    """A request every 0.1 s; those sent during `outage` fail."""
    out, t = [], start
    while t < end:
        bad = outage[0] <= t < outage[1]
        out.append(Request(t, 0.02, "static", 503 if bad else 200, not bad))
        t += 0.1
    return out


def test_objectives_pass_and_fail_on_the_measured_figures() -> None:
    requests = requests_with_outage(1000.0, (1010.0, 1014.0), 1040.0)
    acks = [Ack("u1", "x", 10, 1005.0)]
    measured = measure(requests, acks, 1000.0, 1040.0, faults=[FaultMark("off", 1010.0)],
                       reads={"u1": ReadBack(404, None)})
    results = {r.name: r for r in evaluate(Objectives.model_validate(
        {"rto": "10s", "max_downtime": "2s", "max_error_rate": 0.5, "max_lost_writes": 0,
         "latency": {"p95": "1s"}}), measured)}
    assert results["rto"].passed
    assert not results["max_downtime"].passed and results["max_downtime"].measured.startswith("4.")
    assert results["max_error_rate"].passed
    assert not results["max_lost_writes"].passed and results["max_lost_writes"].measured == "1"
    assert results["latency_p95"].passed


def test_an_outage_carried_through_later_steps_is_one_incident() -> None:
    # Down from 1010 to 1030; steps at 1010 (the fault) and 1020 (the restore).
    requests = requests_with_outage(1000.0, (1010.0, 1030.0), 1060.0)
    measured = measure(requests, [], 1000.0, 1060.0,
                       faults=[FaultMark("array-lost", 1010.0), FaultMark("restore", 1020.0)])
    times, open_since = incident_recoveries(measured)
    assert open_since is None and len(times) == 1 and 19.5 < times[0] < 21.0
    [rto] = evaluate(Objectives.model_validate({"rto": "15s"}), measured)
    assert not rto.passed and rto.measured.startswith("20.")


def test_an_outage_still_on_at_the_end_fails_the_rto() -> None:
    requests = requests_with_outage(1000.0, (1010.0, 1100.0), 1040.0)
    measured = measure(requests, [], 1000.0, 1040.0, faults=[FaultMark("off", 1010.0)])
    [rto] = evaluate(Objectives.model_validate({"rto": "5m"}), measured)
    assert not rto.passed and rto.measured == "not recovered"
