"""JUnit XML of drill results: one test case per run, a failure per objective, check or step missed.

CI systems (GitLab, Jenkins, GitHub test reporters) show JUnit natively, so a
failed drill reads there as "rto: measured 45.20s, required <= 30s" next to
the scenario's name.  The XML is built with ElementTree (escaping is its job),
and the results are read as plain mappings so files of older schema versions
still convert.
"""

from __future__ import annotations

import re
import socket
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

#: Test cases' class names: `chaos-harness.<scenario>`.
CLASS_PREFIX = "chaos-harness"
#: Characters XML 1.0 cannot carry at all (ElementTree would write them and break the file).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: How the engine words, in `reason`, the steps that did not go as the scenario expects.
_STEPS_NOT_AS_EXPECTED = "steps not as expected: "


def write_junit(results: Sequence[Mapping[str, Any]], out: Path, suite: str) -> Path:
    """Write `results` (result.json mappings) as one JUnit <testsuite> named `suite` to `out`."""
    tree = ET.ElementTree(junit_element(results, suite))
    ET.indent(tree)
    out.parent.mkdir(parents=True, exist_ok=True)
    tree.write(out, encoding="utf-8", xml_declaration=True)
    return out


def junit_element(results: Sequence[Mapping[str, Any]], suite: str) -> ET.Element:
    """<testsuites> holding one <testsuite> with a <testcase> per result."""
    cases = [testcase(result) for result in results]
    failures = sum(1 for c in cases if c.find("failure") is not None)
    errors = sum(1 for c in cases if c.find("error") is not None)
    seconds = sum(_duration(r) for r in results)
    counts = {"tests": str(len(cases)), "failures": str(failures), "errors": str(errors),
              "skipped": "0", "time": f"{seconds:.3f}"}
    root = ET.Element("testsuites", {"name": _text(suite), **counts})
    started = min((float(r.get("started_at") or 0.0) for r in results), default=0.0)
    attributes = {"name": _text(suite), **counts, "hostname": _hostname(results)}
    if started:
        attributes["timestamp"] = datetime.fromtimestamp(started, UTC).isoformat(timespec="seconds")
    testsuite = ET.SubElement(root, "testsuite", attributes)
    testsuite.extend(cases)
    return root


def testcase(result: Mapping[str, Any]) -> ET.Element:
    """One run as a <testcase>: failures for what it missed, an error if it never got a verdict."""
    scenario = str(result.get("scenario", "?"))
    label = str(result.get("label") or "")
    case = ET.Element("testcase", {
        "classname": f"{CLASS_PREFIX}.{scenario}",
        "name": _text(f"{scenario} [{label}]" if label else scenario),
        "time": f"{_duration(result):.3f}"})
    properties = ET.SubElement(case, "properties")
    for name, value in case_properties(result).items():
        ET.SubElement(properties, "property", {"name": name, "value": _text(value)})
    outcome = str(result.get("outcome", "error"))
    reason = str(result.get("reason") or "")
    if outcome in ("error", "interrupted"):
        ET.SubElement(case, "error", {"type": outcome, "message": _text(reason or outcome)}).text = \
            _text(reason)
    elif outcome != "passed":
        found = failures(result)
        if not found:  # failed with nothing itemised (an abort rule): still a failure, with its reason
            found = [(outcome, reason or outcome, "")]
        for kind, message, detail in found:
            ET.SubElement(case, "failure", {"type": kind, "message": _text(message)}).text = \
                _text(detail) or None
    ET.SubElement(case, "system-out").text = _text(
        f"{outcome}: {reason}\nrun folder: {result.get('out_dir', '')}\n")
    return case


def failures(result: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(type, message, detail) per failed objective, failed check and step not as expected."""
    found: list[tuple[str, str, str]] = []
    for objective in result.get("objectives") or []:
        if not objective.get("passed"):
            found.append(("objective", objective_message(objective), ""))
    for check in result.get("checks") or []:
        if not check.get("passed"):
            detail = str(check.get("detail") or "")
            found.append(("check", f"check failed: {check.get('name')}"
                          + (f" ({detail})" if detail else ""), detail))
    steps = {str(s.get("name")): s for s in result.get("steps") or []}
    for name in steps_not_as_expected(result):
        step = steps.get(name, {})
        state, detail = step.get("state", "?"), str(step.get("detail") or "")
        found.append(("step", f"step {name} not as expected: {state}"
                      + (f" ({detail})" if detail else ""), str(step.get("what") or "")))
    if result.get("outcome") == "aborted":
        found.append(("aborted", f"aborted: {result.get('reason') or 'an abort rule fired'}", ""))
    return found


def objective_message(objective: Mapping[str, Any]) -> str:
    """`rto: measured 45.20s, required <= 30s` (every objective is an upper limit)."""
    return (f"{objective.get('name')}: measured {objective.get('measured')}, "
            f"required <= {objective.get('limit')}")


def steps_not_as_expected(result: Mapping[str, Any]) -> list[str]:
    """The step names the engine's verdict lists (a step may be expected to fail: only it knows)."""
    for part in str(result.get("reason") or "").split("; "):
        if part.startswith(_STEPS_NOT_AS_EXPECTED):
            return [n for n in part.removeprefix(_STEPS_NOT_AS_EXPECTED).split(", ") if n]
    return []


def case_properties(result: Mapping[str, Any]) -> dict[str, str]:
    """Figures CI dashboards can chart: outcome, worst recovery, lost writes, the run folder."""
    properties = {"outcome": str(result.get("outcome", "")),
                  "run_folder": str(result.get("out_dir", ""))}
    if result.get("run_id"):
        properties["run_id"] = str(result["run_id"])
    for objective in result.get("objectives") or []:
        if objective.get("name") == "rto":
            properties["rto"] = str(objective.get("measured"))
    loss = (result.get("measurements") or {}).get("loss")
    if loss:
        properties["lost"] = str(loss.get("lost"))
    return properties


def _duration(result: Mapping[str, Any]) -> float:
    started, ended = float(result.get("started_at") or 0.0), float(result.get("ended_at") or 0.0)
    return max(0.0, ended - started) if started and ended else 0.0


def _hostname(results: Sequence[Mapping[str, Any]]) -> str:
    for result in results:
        name = (result.get("environment") or {}).get("hostname")
        if name:
            return str(name)
    return socket.gethostname()


def _text(value: object) -> str:
    return _NOT_XML.sub("?", str(value))
