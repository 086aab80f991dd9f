"""Scenario validation without Docker: each broken file of the corpus is refused at its line and
column with a message that says what is wrong (and the closest valid name); the library validates."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from chaos.cli import cli
from chaos.errors import InputError, Problem
from chaos.scenario.check import load_scenario, scenario_files
from chaos.scenario.durations import format_duration, parse_duration

ROOT = Path(__file__).resolve().parents[2]
BROKEN = ROOT / "tests" / "scenarios" / "broken"

#: Broken file (tests/scenarios/broken/NAME.yaml) -> (line, column, phrases of its one problem).
CASES: dict[str, tuple[int, int, tuple[str, ...]]] = {
    "malformed-yaml": (4, 6, ("not valid YAML", "expected ',' or ']'")),
    "not-a-mapping": (1, 1, ("a scenario is a mapping",)),
    "missing-summary": (1, 1, ("`summary` is required",)),
    "wrong-api-version": (1, 1, ("'chaos-harness/v1'", "got 'chaos-harness/v2'")),
    "wrong-type": (5, 3, ("valid integer", "got 'many'")),
    "unknown-key": (4, 1, ("unknown key 'stpes'; did you mean 'steps'?",)),
    "unknown-fault": (6, 5, ("unknown fault 'write-eror'; did you mean 'write-error'?",)),
    "unknown-action": (6, 5, ("unknown action 'remout'; did you mean 'remount'?",)),
    "unknown-server": (7, 5, ("unknown server 'server-c'; did you mean 'server-",
                              "(servers: edge, server-a, server-b, backup)")),
    "drive-out-of-range": (7, 5, ("server-a has drives disk1..disk3, not disk9",)),
    "not-a-drive": (7, 5, ("'server-a' is not a drive", "server-a/disk1")),
    "unknown-fault-parameter": (8, 14, ("fault slow has no parameter 'rat'; did you mean 'rate'?",)),
    "missing-action-parameter": (5, 5, ("action replace needs the parameter 'to'",)),
    "after-missing-step": (12, 5, ("no step named 'kill-disk'; did you mean 'kill-disk1'?",)),
    "after-cycle": (8, 5, ("in a circle", "first -> second -> first")),
    "duplicate-step-names": (8, 5, ("a second step named 'kill'",)),
    "two-schedules": (9, 5, ("`at` a time or `after` another step, not both",)),
    "duration-on-action": (5, 5, ("`duration` (when to roll back) is for a fault",)),
    "unknown-probe": (8, 12, ("unknown probe 'raidd'; did you mean 'raid'?",)),
    "unknown-probe-state": (11, 7, ("probe raid has no state 'rebuildin'; "
                                    "did you mean 'rebuilding'?",)),
    "bad-duration": (8, 5, ("'10 parsecs' is not a duration",)),
    "unknown-matrix-key": (6, 3, ("'load.userz' cannot vary; did you mean 'load.users'?",)),
    "locustfile-missing": (7, 3, ("locustfile /", "nowhere.py: no such file")),
    "mix-unknown-class": (8, 20, ("unknown User class of notes.py 'Raeder'; did you mean 'Reader'? "
                                  "(it has: Reader, Writer)",)),
    "hosting-mix-on-a-users-stack": (7, 9, ("unknown User class 'browse_static' (it has: Visitor)",
                                            "give your own with `load.locustfile`")),
    "probe-bad-status": (6, 3, ("'2xy' is not an HTTP status: write 200, 2xx or 200-299",)),
    "probe-bad-path": (5, 3, ("'healthz' is not a URL path",)),
    "probe-unknown-service": (7, 3, ("service 'wbe' publishes no port; did you mean 'web'? "
                                     "(services that do: web)",)),
    "probe-unpublished-port": (8, 3, ("service 'web' publishes no container port 8080 "
                                      "(it publishes: 80/tcp)",)),
    "read-back-without-id": (6, 5, ("write the path with `{id}` once",)),
    "read-back-error-status": (7, 5, ("4xx: a write read back is there when the answer is below 400",)),
    "loss-objective-without-read-back": (6, 1, ("no way to read them back",
                                                 "verify.read_back: {path: /items/{id}}")),
    "two-probe-rates": (7, 3, ("`load.prober_rate` says the same",)),
    "no-published-port": (5, 3, ("load needs a way in, but the stack publishes no port",
                                 "set `load.users: 0`, `probe.rate: 0`")),
    "mix-bad-name": (5, 3, ("'browse-static' is not a task or User class name",)),
    "probe-bad-header": (5, 3, ("'X Y' is not an HTTP header name",)),
    "probe-head-with-body": (4, 1, ("a HEAD answer has no body",)),
    "unknown-mix-part": (5, 27, ("unknown part of the hosting mix 'uplod'; did you mean 'upload'?",)),
    "manual-without-automation": (6, 5, ("cannot run without a terminal",)),
    "missing-compose-file": (5, 3, ("no-such-stack.yml does not load", "no such file")),
    "rollback-unknown-fault": (8, 14, ("unknown fault 'daed'; did you mean 'dead'?",)),
    "lost-writes-without-restore": (8, 3, ("judged against the backup a `restore` step",)),
}


def problems_of(path: Path, *, interactive: bool = False) -> list[Problem]:
    with pytest.raises(InputError) as caught:
        load_scenario(path, interactive=interactive)
    return caught.value.problems


def test_every_broken_file_has_a_case_and_every_case_a_file() -> None:
    assert sorted(p.stem for p in BROKEN.glob("*.yaml")) == sorted(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_broken_file_is_refused_at_its_line_and_column(name: str) -> None:
    line, column, phrases = CASES[name]
    path = BROKEN / f"{name}.yaml"
    problems = problems_of(path)
    assert [(p.file, p.line, p.column) for p in problems] == [(str(path), line, column)], problems
    for phrase in phrases:
        assert phrase in problems[0].message


def test_a_manual_step_alone_is_fine_at_a_terminal() -> None:
    loaded = load_scenario(BROKEN / "manual-without-automation.yaml", interactive=True)
    assert loaded.scenario.steps[0].manual is not None


@pytest.mark.parametrize("path", scenario_files(), ids=lambda p: p.stem)
def test_every_shipped_scenario_validates(path: Path) -> None:
    loaded = load_scenario(path, interactive=False)
    assert loaded.scenario.name == path.stem
    assert loaded.compose_file == ROOT / "compose" / "hosting.yml"


def test_the_library_has_one_scenario_per_story() -> None:
    names = {p.stem for p in scenario_files()}
    assert {"baseline", "raid-rebuild-failure", "disk-write-failures-readonly",
            "replicated-filesystem-corruption", "datacentre-shutdown", "live-array-migration",
            "degraded-raid-keeps-serving"} <= names


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "drill.yaml"
    path.write_text(text)
    return path


def test_several_problems_of_names_and_targets_are_all_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, """\
apiVersion: chaos-harness/v1
name: many-problems
summary: one of each, out of order in the checks
verify:
  checks:
    - {server: server-z, service_running: postgres}
steps:
  - name: kill
    fault: dead
    target: server-a/disk7
  - name: fix
    action: remount
    target: server-a
    after: kil
  - name: break
    fault: bitrott
    target: server-a/disk1
    when: {probe: rade, target: server-a, is: lost}
load:
  mix: {reed: 1}
""")
    problems = problems_of(path)
    assert [(p.line, p.column) for p in problems] == [(6, 8), (10, 5), (14, 5), (16, 5), (18, 12),
                                                       (20, 9)]
    assert [p.path for p in problems] == ["verify.checks[0].server", "steps[0].target",
                                          "steps[1].after", "steps[2].fault", "steps[2].when.probe",
                                          "load.mix.reed"]
    assert "did you mean 'kill'?" in problems[2].message
    assert "did you mean 'bitrot'?" in problems[3].message


def test_several_problems_of_shape_are_all_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, """\
apiVersion: chaos-harness/v1
name: shape-problems
summary: three problems pydantic finds
load:
  users: many
  duration: 2 fortnights
stpes: []
objectives:
  max_error_rate: 2
""")
    problems = problems_of(path)
    assert [(p.line, p.column) for p in problems] == [(5, 3), (6, 3), (7, 1), (9, 3)]
    assert "got 'many'" in problems[0].message
    assert "'2 fortnights' is not a duration" in problems[1].message
    assert "did you mean 'steps'?" in problems[2].message
    assert "less than or equal to 1" in problems[3].message


def test_a_scenario_outside_the_library_uses_the_bundled_stack(tmp_path: Path) -> None:
    loaded = load_scenario(write(tmp_path, "apiVersion: chaos-harness/v1\nname: elsewhere\n"
                                           "summary: no stack given\nstack: {drives: 4}\n"))
    assert loaded.compose_file == ROOT / "compose" / "hosting.yml"
    assert loaded.topology.drives["server-a"] == 4 and "dc-a" in loaded.topology.sites


def test_rollback_is_aimed_at_a_drive_a_server_or_a_site(tmp_path: Path) -> None:
    steps = "".join(f"  - {{name: r{i}, action: rollback, target: {target}}}\n"
                    for i, target in enumerate(("server-a/disk1", "server-a", "dc-a", "server-a/disk8")))
    path = write(tmp_path, f"apiVersion: chaos-harness/v1\nname: rollbacks\nsummary: s\nsteps:\n{steps}")
    [problem] = problems_of(path)
    assert problem.path == "steps[3].target" and "not disk8" in problem.message


def test_the_documented_example_validates_and_expands(tmp_path: Path) -> None:
    from chaos.scenario.matrix import expand

    text = (ROOT / "docs" / "scenarios.md").read_text().split("## A complete example", 1)[1]
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    # Where the library's files are: `../compose/hosting.yml` from a scenarios/ folder.
    (tmp_path / "compose").symlink_to(ROOT / "compose")
    (tmp_path / "scenarios").mkdir()
    path = tmp_path / "scenarios" / "dc-a-game-day.yaml"
    path.write_text(example)
    loaded = load_scenario(path, interactive=False)
    assert [s.name for s in loaded.scenario.steps] == ["dc-a-off", "promote-dc-b", "dc-a-on",
                                                        "failback"]
    assert len(expand(loaded.scenario)) == 4


@pytest.mark.parametrize(("text", "seconds"), [
    ("30s", 30.0), ("2m", 120.0), ("1m30s", 90.0), ("500ms", 0.5), ("1h", 3600.0),
    ("1h2m3s", 3723.0), ("1m 30s", 90.0), ("0.5s", 0.5), (45, 45.0), (2.5, 2.5), (0, 0.0),
])
def test_durations_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 parsecs", "", "s", "30x", "-5s", "1m-30s", -1, True,
                                  math.inf, math.nan, None, [30]])
def test_bad_durations_are_rejected(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@pytest.mark.parametrize("seconds", [0.25, 1.0, 30.0, 90.0, 120.0, 3600.0])
def test_durations_print_as_they_are_written(seconds: float) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


def drill(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent"}
    return subprocess.run([sys.executable, "-m", "chaos", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def test_drill_validate_passes_the_library() -> None:
    result = drill("validate")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [f"ok  scenarios/{p.name}" for p in scenario_files()]


def test_drill_validate_prints_every_problem_and_exits_2() -> None:
    result = drill("validate", "tests/scenarios/broken", "scenarios/baseline.yaml")
    assert result.returncode == 2
    assert "ok  scenarios/baseline.yaml" in result.stdout
    assert ("tests/scenarios/broken/unknown-fault.yaml:6:5: steps[0].fault: unknown fault "
            "'write-eror'; did you mean 'write-error'?") in result.stdout
    assert f"{len(CASES)} of {len(CASES) + 1} scenario files invalid ({len(CASES)} problems)" \
        in result.stderr
    assert "Traceback" not in result.stderr


def test_drill_list_shows_the_library_and_marks_invalid_files() -> None:
    listed = drill("list")
    assert listed.returncode == 0
    line = next(x for x in listed.stdout.splitlines() if x.startswith("degraded-raid-keeps-serving "))
    assert "1m" in line and "2 steps" in line and "the site does not notice" in line
    broken = drill("list", "tests/scenarios/broken")
    assert broken.returncode == 0
    line = next(x for x in broken.stdout.splitlines() if x.startswith("unknown-fault "))
    assert "INVALID" in line and "did you mean 'write-error'?" in line


def test_drill_faults_lists_target_kinds_and_the_actions() -> None:
    result = CliRunner().invoke(cli, ["faults"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(x.split()[:2] == ["power-off", "site"] for x in lines)
    assert any(x.split()[:2] == ["write-error", "drive"] for x in lines)
    assert any(x.split()[:2] == ["replace", "drive"] for x in lines)
    assert "to (required: the drive to rebuild onto, e.g. disk3)" in result.output
    assert any(x.split()[:2] == ["rollback", "any"] for x in lines)


def test_a_stack_that_publishes_no_port_can_still_be_drilled_without_load_or_probes(
        tmp_path: Path) -> None:
    scenario = tmp_path / "checks-only.yaml"
    scenario.write_text("apiVersion: chaos-harness/v1\nname: checks-only\nsummary: s\nstack:\n"
                        f"  compose: {ROOT / 'tests' / 'compose' / 'no-ports.yml'}\n"
                        "load: {users: 0}\nprobe: {rate: 0}\nverify: {read_back: false}\n")
    loaded = load_scenario(scenario)
    assert loaded.traffic.read_back is None and loaded.traffic.probe.rate == 0
