"""result.json against its schema (chaos/report/result.schema.json), and reading results back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chaos.errors import InputError
from chaos.measure.loss import ReadBack
from chaos.measure.summary import FaultMark, measure
from chaos.records import Ack, Request
from chaos.report.results import find_results, load_result, result_schema, schema_problems
from chaos.scenario.monitor import StackEvent
from chaos.scenario.objectives import ObjectiveResult
from chaos.scenario.result import RESULT_SCHEMA, CheckResult, DrillResult, StepRecord

T0 = 1_800_000_000.0


def full_result() -> DrillResult:
    """A drill as the engine leaves it: a fault with an outage, a lost upload, every section."""
    requests = [Request(T0 + i / 10, 0.01, "GET /", 200 if not 100 <= i < 130 else 503,
                        not 100 <= i < 130) for i in range(400)]
    acks = [Ack(f"u{i}", "a" * 64, 100, T0 + i) for i in range(30)]
    reads = {f"u{i}": ReadBack(200 if i != 12 else 404, "a" * 64 if i != 12 else None)
             for i in range(30)}
    measured = measure(requests, acks, T0, T0 + 40, faults=[FaultMark("off", T0 + 10)], reads=reads)
    step = StepRecord("off", "power-off dc-a", "at 10s", 10.0, "done", T0 + 10, T0 + 10.2,
                      T0 + 10.3, None, True, "powered off: server-a",
                      injection={"fault": "power-off", "target": "dc-a", "params": {},
                                 "asked_at": T0 + 10, "effective_at": T0 + 10.2, "latency": 0.2,
                                 "confirmed": True, "evidence": "powered off", "rolled_back_at": None,
                                 "affected": ["server-a"]})
    waiting = StepRecord("failover", "wait", "after off, then when ...", None)
    result = DrillResult("datacentre-shutdown", "", "scenarios/x.yaml", run_id="r1", started_at=T0 - 5,
                         ended_at=T0 + 45, clock_started_at=T0, outcome="failed", reason="rto",
                         time_scale=0.25, steps=[step, waiting],
                         objectives=[ObjectiveResult("rto", "30s", "13.00s", True),
                                     ObjectiveResult("max_lost_writes", "0", "1", False)],
                         checks=[CheckResult("raid server-a is healthy", True, "")],
                         measurements=measured.to_json(), out_dir="/tmp/x",
                         parameters={"time_scale": 0.25, "matrix": {}, "overrides": {"load.users": 5},
                                     "load": {"users": 5}, "objectives": {"rto": 30.0}},
                         stack={"compose_file": "compose/hosting.yml", "edge_url": "http://127.0.0.1:1",
                                "services": [{"name": "edge", "site": "dc-a", "role": "edge",
                                              "image": "chaos-harness/edge:1"}]},
                         environment={"harness": "0.1", "cpus": 2, "memory_bytes": 1},
                         artifacts={"timelines": ["load/timeline-probe.csv"], "ledgers": [],
                                    "samples": "stack/samples.jsonl", "logs": {"edge": "logs/edge.log"}},
                         stack_events=[vars(StackEvent(T0 + 12, "server-b", "role", "primary"))])
    return result


def as_written(result: DrillResult) -> object:
    """What a reader of result.json gets (tuples are lists, and so on)."""
    return json.loads(json.dumps(result.to_json(), default=str))


def test_the_schema_is_itself_valid_json_schema() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(result_schema())
    assert result_schema()["properties"]["schema_version"]["const"] == RESULT_SCHEMA


def test_a_full_result_validates() -> None:
    assert schema_problems(as_written(full_result())) == []


def test_a_result_that_never_got_a_stack_validates() -> None:
    """A drill that failed before `up` finished still writes a valid result."""
    bare = DrillResult("s", "", "s.yaml", started_at=T0, ended_at=T0 + 1)
    assert schema_problems(as_written(bare)) == []


def test_problems_are_located() -> None:
    data = as_written(full_result())
    assert isinstance(data, dict)
    data["outcome"] = "maybe"
    data["steps"][0]["state"] = "sleeping"
    del data["measurements"]["overall"]
    problems = schema_problems(data)
    assert any(p.startswith("outcome:") for p in problems)
    assert any(p.startswith("steps/0/state:") for p in problems)
    assert any("overall" in p for p in problems)


def test_load_result_reads_a_folder_and_a_file(tmp_path: Path) -> None:
    written = full_result().write(tmp_path / "run")
    assert load_result(tmp_path / "run")["scenario"] == "datacentre-shutdown"
    assert load_result(written)["schema_version"] == RESULT_SCHEMA


@pytest.mark.parametrize("content, words", [
    (None, "no such result"),
    ("{not json", "not a readable JSON file"),
    ('[{"scenario": "x"}]', "not a drill result"),
    ('{"scenario": "x", "outcome": "passed", "schema_version": 99}', "version 99"),
])
def test_load_result_names_the_file_and_the_fix(tmp_path: Path, content: str | None,
                                                 words: str) -> None:
    file = tmp_path / "result.json"
    if content is not None:
        file.write_text(content)
    with pytest.raises(InputError) as caught:
        load_result(file)
    assert str(file) in caught.value.message and words in caught.value.message
    assert caught.value.hint


def test_find_results_in_a_suite_folder_in_run_order(tmp_path: Path) -> None:
    late, early = full_result(), full_result()
    late.started_at, early.started_at = T0 + 100, T0
    late.write(tmp_path / "suite" / "a")
    early.write(tmp_path / "suite" / "b")
    found = find_results(tmp_path / "suite")
    assert [p.parent.name for p in found] == ["b", "a"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="holds no result.json"):
        find_results(tmp_path / "empty")
