"""Suites and the pytest plugin end to end: several scenarios, one verdict, JUnit, reports.

The runs use the minimal stack (tests/compose/minimal.yml, seconds to start)
except the plugin's acceptance run, which is the library's baseline.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from tests.conftest import DRILL, Drill
from tests.integration.leftovers import leftovers

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests" / "scenarios"
PASSES = TESTS / "minimal-power-off.yaml"
#: A 2 s power-off against rto 30s (met) and max_downtime 0s (impossible).
FAILS = TESTS / "suite-impossible-objective.yaml"


def assert_nothing_left(engine: docker.DockerClient, drill: Drill, run_id: str) -> None:
    left = leftovers(engine, run_id, drill.state_root / "runs" / run_id)
    assert left.empty(), left


def offline(drill: Drill) -> dict[str, str]:
    """The CLI's environment with no engine to reach: whatever is refused, nothing was started."""
    return {**drill.env(), "DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_a_suite_with_an_impossible_objective_fails_once_and_runs_the_rest(
        engine: docker.DockerClient, drill: Drill, tmp_path: Path, figure: Callable[[str], None]) -> None:
    started = time.monotonic()
    ran = drill.run("run", str(PASSES), str(FAILS), "--time-scale", "0.5", "--out", str(tmp_path),
                    "--set", "load.users=2", check=False, timeout=900)
    took = time.monotonic() - started
    assert ran.returncode == 1, ran.stdout[-2000:] + ran.stderr[-3000:]
    figure(f"suite of 2 on the minimal stack: {took:.0f} s")
    assert "== [1/2] minimal-power-off" in ran.stderr and "== [2/2] suite-impossible-objective" \
        in ran.stderr

    results = json.loads((tmp_path / "results.json").read_text())
    assert [(r["scenario"], r["outcome"]) for r in results] == [
        ("minimal-power-off", "passed"), ("suite-impossible-objective", "failed")]
    assert all(r["parameters"]["overrides"] == {"load.users": 2} for r in results)
    for result, folder in zip(results, ("minimal-power-off", "suite-impossible-objective"),
                              strict=True):
        assert result["out_dir"] == str(tmp_path / folder)
        assert (tmp_path / folder / "result.json").exists()

    suite = ET.parse(tmp_path / "junit.xml").getroot()
    cases = {c.get("name"): c for c in suite.iter("testcase")}
    assert set(cases) == {"minimal-power-off", "suite-impossible-objective"}
    [failure] = suite.iter("failure")
    assert (failure.get("message") or "").startswith("max_downtime: measured ")
    assert (failure.get("message") or "").endswith(", required <= 0s")
    assert cases["suite-impossible-objective"].find("failure") is failure
    assert suite.find("testsuite/testcase/error") is None

    for name in ("report.html", "summary.md"):
        assert (tmp_path / name).stat().st_size > 0, name
    assert "| minimal-power-off |" in ran.stdout and "max_downtime" in ran.stdout
    assert f"report: {tmp_path / 'report.html'}" in ran.stdout
    for result in results:
        assert_nothing_left(engine, drill, result["run_id"])


def test_ctrl_c_stops_the_suite_and_writes_what_ran(engine: docker.DockerClient, drill: Drill,
                                                     tmp_path: Path) -> None:
    # Ctrl-C at a terminal: SIGINT at its default, whatever the test runner inherited.
    process = drill.popen("run", str(PASSES), str(FAILS), "--out", str(tmp_path), sigint="SIG_DFL")
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stdout:
        seen.append(line)
        if "] web-off: power-off web" in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=300)
    output = "".join(seen) + rest
    assert process.returncode == 130, output[-3000:]
    assert "[2/2]" not in output
    [result] = json.loads((tmp_path / "results.json").read_text())
    assert result["scenario"] == "minimal-power-off" and result["outcome"] == "interrupted"
    [error] = ET.parse(tmp_path / "junit.xml").getroot().iter("error")
    assert error.get("type") == "interrupted"
    assert (tmp_path / "report.html").exists() and (tmp_path / "summary.md").exists()
    assert_nothing_left(engine, drill, result["run_id"])


def test_the_plugin_runs_the_baseline_and_passes(engine: docker.DockerClient, drill: Drill,
                                                 tmp_path: Path, figure: Callable[[str], None]) -> None:
    junit = tmp_path / "junit.xml"
    started = time.monotonic()
    ran = subprocess.run([sys.executable, "-m", "pytest", "scenarios/baseline.yaml",
                          "--chaos-time-scale", "0.25", "-p", "no:cacheprovider",
                          f"--junitxml={junit}", f"--chaos-out={tmp_path / 'runs'}"],
                         cwd=ROOT, env=drill.env(), capture_output=True, text=True, timeout=1200,
                         stdin=subprocess.DEVNULL)
    assert ran.returncode == 0, ran.stdout[-4000:] + ran.stderr[-2000:]
    figure(f"pytest scenarios/baseline.yaml: {time.monotonic() - started:.0f} s")
    [case] = ET.parse(junit).getroot().iter("testcase")
    assert case.get("name") == "baseline"
    assert case.find("failure") is None and case.find("error") is None
    properties = {p.get("name"): p.get("value") for p in case.iter("property")}
    assert properties["outcome"] == "passed" and properties["lost"] == "0"
    result = json.loads((tmp_path / "runs" / "baseline" / "result.json").read_text())
    assert result["outcome"] == "passed"
    assert_nothing_left(engine, drill, result["run_id"])


# -- refused before anything starts (no engine needed) ----------------------------------


def test_one_invalid_file_stops_the_suite_before_anything_starts(drill: Drill,
                                                                 tmp_path: Path) -> None:
    broken = TESTS / "broken" / "unknown-fault.yaml"
    ran = subprocess.run([*DRILL, "run", str(PASSES), str(broken), str(tmp_path / "none.yaml"),
                          "--out", str(tmp_path / "out")], cwd=ROOT, env=offline(drill),
                         capture_output=True, text=True, timeout=60)
    assert ran.returncode == 2, ran.stderr
    assert "unknown fault 'write-eror'" in ran.stderr and "none.yaml: no such file" in ran.stderr
    assert "nothing was started" in ran.stderr and "Traceback" not in ran.stderr
    assert not (tmp_path / "out").exists()


def test_set_overrides_every_scenario_and_a_bad_one_is_refused(drill: Drill) -> None:
    def dry(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*DRILL, "run", str(PASSES), str(FAILS), "--dry-run", *args],
                              cwd=ROOT, env=offline(drill), capture_output=True, text=True,
                              timeout=60)

    ran = dry("--set", "load.users=7", "--set", "steps.web-off.duration=1s")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.count("load: 7 users") == 2
    assert ran.stdout.count("(rolled back after 1s)") == 2
    ran = dry("--set", "steps.web-of.duration=1s")
    assert ran.returncode == 2
    assert "--set steps.web-of.duration: steps has no entry 'web-of'; did you mean 'web-off'?" \
        in ran.stderr
    ran = dry("--set", "load.users=many")
    assert ran.returncode == 2 and "load.users: Input should be a valid integer" in ran.stderr
    assert "Traceback" not in ran.stderr
