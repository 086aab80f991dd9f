"""Scenarios end to end on real stacks: the shipped library, Ctrl-C, dry runs, a user's compose file."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path

import docker
import pytest

from chaos.engine import objects
from chaos.scenario.check import scenario_files
from tests.conftest import Drill, LibraryRun, run_library_scenario
from tests.integration.leftovers import leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "scenarios"


def result_of(folder: Path) -> dict:
    return json.loads((folder / "result.json").read_text())


def assert_nothing_left(engine: docker.DockerClient, drill: Drill, run_id: str) -> None:
    left = leftovers(engine, run_id, drill.state_root / "runs" / run_id)
    assert left.empty(), left


@pytest.mark.parametrize("scenario", scenario_files(), ids=lambda p: p.stem)
def test_shipped_scenario_runs_as_its_comment_says(scenario: Path, engine: docker.DockerClient,
                                                   drill: Drill, tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    # The report test draws the same run of this one: it runs once per session.
    done: LibraryRun = (request.getfixturevalue("datacentre_shutdown_run")
                        if scenario.stem == "datacentre-shutdown"
                        else run_library_scenario(drill, scenario, tmp_path))
    ran, folder = done.ran, done.folder
    print(f"\n{ran.stdout[-3000:]}")
    result = result_of(folder)
    # Each library scenario's objectives say what a correct stack achieves.
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert result["outcome"] == "passed"
    assert all(s["state"] in ("done", "failed") for s in result["steps"]), result["steps"]
    assert_nothing_left(engine, drill, result["run_id"])
    assert_a_complete_result(folder, result)
    # The report draws what the machines went through: the monitor must have seen it.
    seen = [(e["target"], e["kind"], e["state"]) for e in result["stack_events"]]
    for target, kind, state in STACK_EVENTS.get(scenario.stem, ()):
        assert any(t == target and k == kind and state in ("*", s) for t, k, s in seen), seen


#: A state change each library drill must show in its stack events ("*": any state).
STACK_EVENTS: dict[str, set[tuple[str, str, str]]] = {
    "datacentre-shutdown": {("server-b", "role", "primary"), ("server-a", "container", "exited")},
    "disk-write-failures-readonly": {("server-a", "raid", "read-only")},
    "degraded-raid-keeps-serving": {("server-a", "rebuild", "*")},
}


def assert_a_complete_result(folder: Path, result: dict) -> None:
    """A real result validates against the schema, and every artifact it links is there."""
    from chaos.report.results import schema_problems

    assert schema_problems(result) == []
    artifacts = result["artifacts"]
    linked = [*artifacts["timelines"], *artifacts["ledgers"], artifacts["samples"],
              *artifacts["logs"].values()]
    assert all((folder / path).is_file() for path in linked), linked
    assert {"edge", "server-a", "server-b"} <= set(artifacts["logs"])
    assert result["environment"]["docker_engine"] not in ("unknown", "unreachable")


def test_a_users_own_compose_file_gets_a_power_off_drill(engine: docker.DockerClient, drill: Drill,
                                                         tmp_path: Path) -> None:
    ran = drill.run("run", str(TESTS / "minimal-power-off.yaml"), "--out", str(tmp_path))
    result = result_of(tmp_path)
    [step] = result["steps"]
    assert step["state"] == "done" and step["injection"]["affected"] == ["web"]
    [fault] = result["measurements"]["faults"]
    print(f"\nminimal stack, web server off for 5 s: downtime {fault['impact']['downtime']:.2f} s, "
          f"recovered after {fault['impact']['time_to_recover']:.2f} s")
    assert fault["impact"]["downtime"] > 3  # the customers did notice
    assert "PASSED" in ran.stdout
    assert_nothing_left(engine, drill, result["run_id"])


def test_a_failed_objective_exits_1_for_every_matrix_run(engine: docker.DockerClient, drill: Drill,
                                                         tmp_path: Path) -> None:
    ran = drill.run("run", str(TESTS / "minimal-objective-fails.yaml"), "--out", str(tmp_path),
                    check=False)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    runs = json.loads((tmp_path / "results.json").read_text())
    assert [r["label"] for r in runs] == ["steps.web-off.duration=2s", "steps.web-off.duration=3s"]
    assert all(r["outcome"] == "failed" and not r["objectives"][0]["passed"] for r in runs)
    for run in runs:
        assert_nothing_left(engine, drill, run["run_id"])


def test_dry_run_touches_no_docker_object(engine: docker.DockerClient, drill: Drill) -> None:
    before = {c.id for c in engine.containers.list(all=True)}
    networks = {n.id for n in engine.networks.list()}
    env = {**drill.env(), "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
    for scenario in [*scenario_files(), TESTS / "minimal-power-off.yaml"]:
        ran = subprocess.run([*drill_command(), "run", str(scenario), "--dry-run"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        assert f"scenario {scenario.stem}" in ran.stdout or "scenario " in ran.stdout
    assert {c.id for c in engine.containers.list(all=True)} == before
    assert {n.id for n in engine.networks.list()} == networks


def drill_command() -> list[str]:
    from tests.conftest import DRILL

    return list(DRILL)


def test_ctrl_c_mid_fault_rolls_back_tears_down_and_writes_a_partial_result(
        engine: docker.DockerClient, drill: Drill, tmp_path: Path) -> None:
    step = random.choice(["slow-disk2", "dead-disk1", "frozen-backup"])
    process = subprocess.Popen(
        [*drill_command(), "run", str(TESTS / "interruptible.yaml"), "--out", str(tmp_path)],
        cwd=ROOT, env=drill.env(), text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL)
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stdout:
        seen.append(line)
        if f"] {step}: " in line and not line.rstrip().endswith(": rolled back"):
            break
        assert time.monotonic() < deadline, "".join(seen)
    time.sleep(1.0)  # the fault is in place
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=300)
    output = "".join(seen) + rest
    print(f"\nSIGINT during {step}:\n{output[-1500:]}")
    assert process.returncode == 130, output[-2000:]
    result = result_of(tmp_path)
    assert result["outcome"] == "interrupted"
    record = next(s for s in result["steps"] if s["name"] == step)
    assert record["started_at"] and record["rolled_back_at"], record
    run_id = result["run_id"]
    assert_nothing_left(engine, drill, run_id)
    assert not objects.find_containers(engine, run_id)
    assert not os.path.exists(drill.state_root / "runs" / run_id / "faults.json") or \
        json.loads((drill.state_root / "runs" / run_id / "faults.json").read_text()) in ([], {})


def test_an_abort_rule_stops_the_drill_and_rolls_back(engine: docker.DockerClient, drill: Drill,
                                                      tmp_path: Path) -> None:
    started = time.monotonic()
    ran = drill.run("run", str(TESTS / "minimal-abort.yaml"), "--out", str(tmp_path), check=False)
    took = time.monotonic() - started
    assert ran.returncode == 1, ran.stdout + ran.stderr
    result = result_of(tmp_path)
    assert result["outcome"] == "aborted" and "availability" in result["reason"]
    [step] = result["steps"]
    assert step["rolled_back_at"] is not None
    print(f"\nabort: {result['reason']}; the whole drill took {took:.0f} s of its 2 min load")
    assert_nothing_left(engine, drill, result["run_id"])
