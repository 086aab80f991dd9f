"""JUnit XML of drill results, parsed back as a CI server would read it."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from chaos.report.junit import write_junit


def result(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "scenario": "datacentre-shutdown", "label": "", "run_id": "r1", "outcome": "passed",
        "reason": "every objective met", "started_at": 1000.0, "ended_at": 1082.5,
        "out_dir": "/results/dc",
        "steps": [{"name": "dc-a-off", "what": "power-off dc-a", "state": "done", "ok": True,
                   "detail": "powered off: server-a"}],
        "objectives": [{"name": "rto", "limit": "30s", "measured": "10.43s", "passed": True},
                       {"name": "rpo", "limit": "5s", "measured": "0.00s", "passed": True}],
        "checks": [{"name": "replication is one-primary", "passed": True, "detail": ""}],
        "measurements": {"loss": {"acknowledged": 10, "intact": 10, "lost": 0}}}
    base.update(changes)
    return base


def parse(tmp_path: Path, *results: dict[str, Any], suite: str = "suite") -> ET.Element:
    out = write_junit(list(results), tmp_path / "junit.xml", suite)
    assert out == tmp_path / "junit.xml"
    return ET.parse(out).getroot()


def test_a_passing_run_is_one_testcase_without_failure(tmp_path: Path) -> None:
    root = parse(tmp_path, result())
    [suite] = root.findall("testsuite")
    assert suite.get("name") == "suite" and suite.get("tests") == "1"
    assert suite.get("failures") == "0" and suite.get("errors") == "0"
    [case] = suite.findall("testcase")
    assert case.get("classname") == "chaos-harness.datacentre-shutdown"
    assert case.get("name") == "datacentre-shutdown"
    assert float(case.get("time") or 0) == 82.5
    assert case.find("failure") is None and case.find("error") is None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties == {"outcome": "passed", "run_folder": "/results/dc", "run_id": "r1",
                          "rto": "10.43s", "lost": "0"}
    assert "/results/dc" in (case.findtext("system-out") or "")


def test_one_failed_objective_is_exactly_one_failure_naming_it(tmp_path: Path) -> None:
    failed = result(outcome="failed", reason="objectives/checks not met: rto",
                    objectives=[{"name": "rto", "limit": "30s", "measured": "45.20s", "passed": False},
                                {"name": "rpo", "limit": "5s", "measured": "0.00s", "passed": True}])
    root = parse(tmp_path, result(scenario="baseline"), failed)
    [suite] = root.findall("testsuite")
    assert suite.get("tests") == "2" and suite.get("failures") == "1"
    [failure] = root.iter("failure")
    assert failure.get("message") == "rto: measured 45.20s, required <= 30s"
    assert failure.get("type") == "objective"
    names = [c.get("name") for c in root.iter("testcase") if c.find("failure") is not None]
    assert names == ["datacentre-shutdown"]


def test_failed_checks_and_steps_not_as_expected_are_failures_too(tmp_path: Path) -> None:
    failed = result(
        outcome="failed",
        reason="objectives/checks not met: raid server-a is healthy; steps not as expected: dc-a-off",
        checks=[{"name": "raid server-a is healthy", "passed": False, "detail": "not at the end"}],
        steps=[{"name": "dc-a-off", "what": "power-off dc-a", "state": "timed-out", "ok": False,
                "detail": "container never said stopped within 60 s"}])
    messages = [f.get("message") for f in parse(tmp_path, failed).iter("failure")]
    assert messages == ["check failed: raid server-a is healthy (not at the end)",
                        "step dc-a-off not as expected: timed-out "
                        "(container never said stopped within 60 s)"]


def test_an_abort_is_a_failure_and_a_broken_or_interrupted_run_an_error(tmp_path: Path) -> None:
    root = parse(tmp_path,
                 result(label="load.users=5", outcome="aborted", reason="availability 10% below 50%",
                        objectives=[]),
                 result(outcome="error", reason="the stack did not come up\x1b[0m"),
                 result(outcome="interrupted", reason="interrupted (Ctrl-C or SIGTERM)"))
    [suite] = root.findall("testsuite")
    assert (suite.get("failures"), suite.get("errors")) == ("1", "2")
    aborted, broken, interrupted = root.iter("testcase")
    assert aborted.get("name") == "datacentre-shutdown [load.users=5]"
    failure = aborted.find("failure")
    assert failure is not None and failure.get("message") == "aborted: availability 10% below 50%"
    error = broken.find("error")
    assert error is not None and error.get("type") == "error"
    assert error.get("message") == "the stack did not come up?[0m"  # no control bytes in XML
    error = interrupted.find("error")
    assert error is not None and error.get("type") == "interrupted"


def test_special_characters_are_escaped(tmp_path: Path) -> None:
    failed = result(outcome="failed", reason="x",
                    objectives=[{"name": "latency_p95", "limit": "1s", "measured": "<&\"'>",
                                 "passed": False}])
    [failure] = parse(tmp_path, failed, suite="a & <b>").iter("failure")
    assert failure.get("message") == "latency_p95: measured <&\"'>, required <= 1s"


def test_an_empty_suite_is_valid_xml(tmp_path: Path) -> None:
    [suite] = parse(tmp_path).findall("testsuite")
    assert suite.get("tests") == "0"

