"""A Markdown summary of runs for CI logs and pull-request comments, and the one-line figures of a run.

The HTML report's suite overview uses the same figures (:func:`summary_row`), so
a run reads the same wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VERDICTS = {"passed": "✅ passed", "failed": "❌ FAILED", "aborted": "❌ ABORTED",
            "interrupted": "⚠️ INTERRUPTED", "error": "💥 ERROR"}


@dataclass(frozen=True)
class FailedObjective:
    name: str
    measured: str
    limit: str


@dataclass(frozen=True)
class SummaryRow:
    """What one run comes to, as text: the columns of the summary table."""

    name: str
    outcome: str
    reason: str
    rto: str
    rpo: str
    lost: str
    error_rate: str
    p95: str
    failed_objectives: tuple[FailedObjective, ...]

    @property
    def verdict(self) -> str:
        return VERDICTS.get(self.outcome, self.outcome.upper())


def run_name(result: Mapping[str, Any]) -> str:
    """The scenario, with its matrix combination when it has one."""
    label = result.get("label") or ""
    return str(result.get("scenario") or "?") + (f" [{label}]" if label else "")


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _objective(result: Mapping[str, Any], name: str) -> str | None:
    for objective in result.get("objectives") or []:
        if objective.get("name") == name:
            return str(objective.get("measured"))
    return None


def recovery_text(measurements: Mapping[str, Any] | None) -> str:
    """The longest outage from first error to held recovery, as the rto objective counts it.

    An outage that a step did not end runs on into the next step (one incident).
    """
    if not measurements:
        return "n/a"
    faults = sorted(measurements.get("faults") or [],
                    key=lambda f: _num((f.get("fault") or {}).get("at")) or 0.0)
    if not faults:
        return "no fault"
    times: list[float] = []
    start: float | None = None
    for fault in faults:
        impact = fault.get("impact") or {}
        at = _num(impact.get("fault_at")) or 0.0
        if start is None:
            if impact.get("time_to_first_error") is None:
                continue
            start = at
        if impact.get("recovered"):
            times.append(at + (_num(impact.get("time_to_recover")) or 0.0) - start)
            start = None
    if start is not None:
        return "not recovered"
    return f"{max(times):.2f}s" if times else "no outage"


def summary_row(result: Mapping[str, Any]) -> SummaryRow:
    """The summary figures of one result (v1 or v2; missing measurements read as n/a)."""
    measurements = result.get("measurements") or None
    loss = (measurements or {}).get("loss")
    overall = (measurements or {}).get("overall") or {}
    rpo = _objective(result, "rpo")
    if rpo is None:
        window = (loss or {}).get("loss_window")
        rpo = "n/a" if loss is None else ("0.00s" if not window else f"{max(0.0, -window[0]):.2f}s")
    lost = "not verified" if not loss else f"{loss.get('lost', 0)} of {loss.get('acknowledged', 0)}"
    rate, requests = _num(overall.get("error_rate")), overall.get("requests")
    error_rate = "n/a" if rate is None else f"{rate:.1%} ({overall.get('failed', 0)} of {requests})"
    p95 = _num(overall.get("p95"))
    failed = tuple(FailedObjective(str(o.get("name")), str(o.get("measured")), str(o.get("limit")))
                   for o in result.get("objectives") or [] if not o.get("passed"))
    return SummaryRow(
        name=run_name(result), outcome=str(result.get("outcome") or "error"),
        reason=str(result.get("reason") or ""),
        rto=_objective(result, "rto") or recovery_text(measurements), rpo=rpo, lost=lost,
        error_rate=error_rate, p95="n/a" if p95 is None else f"{p95 * 1000:.0f} ms",
        failed_objectives=failed)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_markdown(results: Sequence[Mapping[str, Any]], report_path: Path | None = None) -> str:
    """A GitHub-flavoured table, one row per run; then what failed; then where the report is."""
    rows = [summary_row(r) for r in results]
    lines = ["| scenario | verdict | RTO | RPO / lost writes | error rate | p95 |",
             "|---|---|---|---|---|---|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(c) for c in (
            row.name, row.verdict, row.rto, f"{row.rpo} / {row.lost}", row.error_rate, row.p95)) + " |")
    passed = sum(1 for r in rows if r.outcome == "passed")
    lines += ["", f"**{passed} of {len(rows)} passed.**"]
    problems: list[str] = []
    for row in rows:
        for objective in row.failed_objectives:
            problems.append(f"- **{_cell(row.name)}** — objective `{objective.name}`: measured "
                            f"{objective.measured}, required ≤ {objective.limit}")
        if row.outcome != "passed" and not row.failed_objectives:
            reason = _cell(row.reason) or "no reason given"
            problems.append(f"- **{_cell(row.name)}** — {row.outcome}: {reason}")
    if problems:
        lines += ["", "Failed:", *problems]
    if report_path is not None:
        lines += ["", f"Report: {report_path}"]
    return "\n".join(lines) + "\n"
