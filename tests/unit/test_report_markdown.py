"""The Markdown summary: one row per run, then what failed, then where the report is."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from chaos.report.markdown import recovery_text, render_markdown, summary_row

DATA = Path(__file__).resolve().parents[1] / "data" / "report"


def fixture(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((DATA / name).read_text())
    return data


def test_one_row_per_run_with_rto_loss_errors_and_p95() -> None:
    text = render_markdown([fixture("result-v1.json"), fixture("result-v2-failed.json")])
    lines = text.splitlines()
    assert lines[0] == "| scenario | verdict | RTO | RPO / lost writes | error rate | p95 |"
    assert lines[1] == "|---|---|---|---|---|---|"
    assert lines[2] == ("| datacentre-shutdown | ✅ passed | 10.00s | 0.00s / 0 of 40 "
                        "| 15.0% (90 of 600) | 50 ms |")
    assert lines[3] == ("| datacentre-shutdown | ❌ FAILED | 10.00s | 1.50s / 20 of 40 "
                        "| 15.0% (90 of 600) | 50 ms |")
    assert "**1 of 2 passed.**" in text


def test_each_failed_objective_with_measured_and_required() -> None:
    text = render_markdown([fixture("result-v2-failed.json")], report_path=Path("results/x/report.html"))
    assert "- **datacentre-shutdown** — objective `max_lost_writes`: measured 20, required ≤ 0" in text
    assert "rto" not in text.split("Failed:")[1].split("Report:")[0]  # it passed
    assert text.rstrip().endswith("Report: results/x/report.html")


def test_a_run_without_measurements_reads_na_and_says_why_it_failed() -> None:
    text = render_markdown([fixture("result-error.json")])
    assert "| datacentre-shutdown | 💥 ERROR | n/a | n/a / not verified | n/a | n/a |" in text
    assert "— error: the stack did not come up: server-b never answered /readyz" in text


def test_labels_and_pipes_do_not_break_the_table() -> None:
    result = fixture("result-v1.json")
    result["label"] = "users=3|5"
    row = render_markdown([result]).splitlines()[2]
    assert row.startswith("| datacentre-shutdown [users=3\\|5] |")


def test_rto_without_an_objective_follows_incidents_across_steps() -> None:
    result = fixture("result-v1.json")
    result["objectives"] = []
    measured = result["measurements"]
    assert summary_row(result).rto == "10.00s"
    # An outage a step did not end runs into the next step, which recovers 4 s after it began.
    first = measured["faults"][0]
    first["impact"].update(recovered=False, time_to_recover=None)
    second = copy.deepcopy(first)
    second["fault"]["name"] = "dc-a-on"
    second["impact"].update(fault_at=first["impact"]["fault_at"] + 30, recovered=True, time_to_recover=4.0)
    measured["faults"].append(second)
    assert recovery_text(measured) == "34.00s"
    measured["faults"].pop()
    assert recovery_text(measured) == "not recovered"
    first["impact"]["time_to_first_error"] = None
    assert recovery_text(measured) == "no outage"
    assert recovery_text(None) == "n/a"
