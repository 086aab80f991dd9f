"""Scenarios end to end on real stacks: the shipped library, Ctrl-C, dry runs, a user's compose file."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
import yaml

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
                                                   request: pytest.FixtureRequest,
                                                   figure: Callable[[str], None]) -> None:
    # The report test draws the same run of this one: it runs once per session.
    done: LibraryRun = (request.getfixturevalue("datacentre_shutdown_run")
                        if scenario.stem == "datacentre-shutdown"
                        else run_library_scenario(drill, scenario, tmp_path))
    ran, folder = done.ran, done.folder
    result = result_of(folder)
    # Each library scenario's objectives say what a correct stack achieves.
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert result["outcome"] == "passed"
    figure("; ".join(f"{o['name']} {o['measured']} (limit {o['limit']})" for o in result["objectives"]))
    assert all(s["state"] in ("done", "failed") for s in result["steps"]), result["steps"]
    assert_nothing_left(engine, drill, result["run_id"])
    assert_a_complete_result(folder, result)
    # The report draws what the machines went through: the monitor must have seen it.
    seen = [(e["target"], e["kind"], e["state"]) for e in result["stack_events"]]
    for chain in STACK_EVENTS[scenario.stem]:
        assert in_order(chain, seen), (chain, seen)
    if scenario.stem == "baseline":  # no fault: the machines never show trouble
        assert not [e for e in seen if e[2] in TROUBLE], seen


#: The state changes each library drill must show in its stack events: each chain in its
#: order (others may come between). The monitor looks every ~2 s, so a state that lasts
#: less (a split brain that the failback ends at once) is not required to show.
STACK_EVENTS: dict[str, list[list[tuple[str, str, str]]]] = {
    "baseline": [],
    "datacentre-shutdown": [[("server-a", "container", "exited"), ("server-b", "role", "primary"),
                             ("server-a", "container", "running"), ("server-a", "role", "standby"),
                             ("server-a", "role", "primary")]],
    "degraded-raid-keeps-serving": [[("server-a", "rebuild", "finished")]],
    "disk-write-failures-readonly": [[("server-b", "container", "exited"),
                                      ("server-a", "raid", "read-only"),
                                      ("server-a", "raid", "healthy"),
                                      ("server-a", "rebuild", "finished")],
                                     [("server-a", "raid", "read-only"),
                                      ("server-b", "container", "running")]],
    "live-array-migration": [[("server-a", "rebuild", "finished")]],
    "raid-rebuild-failure": [[("server-b", "container", "exited"), ("server-a", "raid", "lost"),
                              ("server-a", "raid", "healthy"), ("server-a", "role", "primary")]],
    "replicated-filesystem-corruption": [[("server-a", "role", "down"),  # the restore
                                          ("server-a", "role", "primary")]],
}
#: States no machine of a healthy stack under load goes through.
TROUBLE = {"degraded", "read-only", "lost", "errors", "unreachable", "unmounted", "down", "exited",
           "failed", "yes"}


def in_order(expected: list[tuple[str, str, str]], seen: list[tuple[str, str, str]]) -> bool:
    """`expected` appears in `seen` as a subsequence."""
    events = iter(seen)
    return all(any(event == wanted for event in events) for wanted in expected)


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
                                                         tmp_path: Path,
                                                         figure: Callable[[str], None]) -> None:
    ran = drill.run("run", str(TESTS / "minimal-power-off.yaml"), "--out", str(tmp_path))
    result = result_of(tmp_path)
    [step] = result["steps"]
    assert step["state"] == "done" and step["injection"]["affected"] == ["web"]
    [fault] = result["measurements"]["faults"]
    figure(f"minimal stack, web server off for 5 s: downtime {fault['impact']['downtime']:.2f} s, "
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


#: What a dry run could do to Docker objects, as the engine reports it in its event stream.
CHANGES = {"create", "start", "kill", "die", "stop", "pause", "unpause", "destroy", "connect",
           "disconnect", "remove", "mount", "unmount", "rename", "update", "tag", "import", "pull"}


@pytest.mark.parametrize("engine_at", ["the real engine", "nowhere"])
def test_dry_run_touches_no_docker_object(engine: docker.DockerClient, drill: Drill,
                                          engine_at: str) -> None:
    # With no engine to reach, a dry run that asked Docker anything would fail; with the real
    # one, anything it made, changed or removed (even briefly) shows in the engine's events.
    env = ({**drill.env(), "DOCKER_HOST": "unix:///nonexistent/docker.sock"}
           if engine_at == "nowhere" else drill.env())
    since = engine.info()["SystemTime"]
    before = {c.id for c in engine.containers.list(all=True)}
    for scenario in [*scenario_files(), TESTS / "minimal-power-off.yaml"]:
        name = yaml.safe_load(scenario.read_text())["name"]
        ran = subprocess.run([*drill_command(), "run", str(scenario), "--dry-run"], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        assert ran.stdout.startswith(f"scenario {name}: "), ran.stdout[:300]
    until = engine.info()["SystemTime"]
    changed = [(e.get("Type"), e.get("Action"), e.get("Actor", {}).get("Attributes", {}).get("name"))
               for e in engine.events(since=since, until=until, decode=True)
               if str(e.get("Action", "")).split(":")[0] in CHANGES]
    assert changed == []
    assert {c.id for c in engine.containers.list(all=True)} == before


def drill_command() -> list[str]:
    from tests.conftest import DRILL

    return list(DRILL)


def test_ctrl_c_mid_fault_rolls_back_tears_down_and_writes_a_partial_result(
        engine: docker.DockerClient, drill: Drill, tmp_path: Path, figure: Callable[[str], None]) -> None:
    step = random.choice(["slow-disk2", "dead-disk1", "frozen-backup"])
    # Started as a CI runner starts jobs, SIGINT inherited ignored: SIGINT must still stop it.
    process = drill.popen("run", str(TESTS / "interruptible.yaml"), "--out", str(tmp_path),
                          sigint="SIG_IGN")
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
    assert process.returncode == 130, output[-2000:]
    figure(f"SIGINT during {step}: exit 130, {output.count('rolled back')} rollback(s) said")
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
                                                      tmp_path: Path, figure: Callable[[str], None]) -> None:
    started = time.monotonic()
    ran = drill.run("run", str(TESTS / "minimal-abort.yaml"), "--out", str(tmp_path), check=False)
    took = time.monotonic() - started
    assert ran.returncode == 1, ran.stdout + ran.stderr
    result = result_of(tmp_path)
    assert result["outcome"] == "aborted" and "availability" in result["reason"]
    [step] = result["steps"]
    assert step["rolled_back_at"] is not None
    figure(f"abort: {result['reason']}; the whole drill took {took:.0f} s of its 2 min load")
    assert_nothing_left(engine, drill, result["run_id"])
