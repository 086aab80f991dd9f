"""The pytest plugin without Docker: which files are collected, ids, -k, clean errors, the failure shown.

Runs themselves need the stack (tests/integration/test_suites.py); here the
engine's `run` is replaced inside the inner pytest only.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

#: The inner pytest runs in this process, where `chaos` is imported already: its rewrite warning is noise.
INNER = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning")
MINIMAL = Path(__file__).resolve().parents[1] / "compose" / "minimal.yml"


def scenario(name: str, extra: str = "") -> str:
    return f"""apiVersion: chaos-harness/v1
name: {name}
summary: a power-off of the minimal stack
stack:
  compose: {MINIMAL}
load:
  users: 1
  duration: 10s
steps:
  - name: web-off
    fault: power-off
    target: web
    at: 2s
    duration: 2s
objectives:
  rto: 30s
{extra}"""


@pytest.fixture
def drills(pytester: pytest.Pytester) -> pytest.Pytester:
    """drills/alpha.yaml, drills/beta.yaml (2-run matrix), drills/notes.yaml (not a scenario),
    drills/deeper/gamma.yaml, and a plain test module."""
    pytester.mkdir("drills")
    pytester.mkdir("drills/deeper")
    (pytester.path / "drills" / "alpha.yaml").write_text(scenario("alpha"))
    (pytester.path / "drills" / "beta.yaml").write_text(
        scenario("beta", "matrix:\n  steps.web-off.duration: [2s, 3s]\n"))
    (pytester.path / "drills" / "notes.yaml").write_text("owner: ops\nnext-game-day: friday\n")
    (pytester.path / "drills" / "deeper" / "gamma.yaml").write_text(scenario("gamma"))
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    return pytester


def collected(pytester: pytest.Pytester, *args: str) -> list[str]:
    result = pytester.runpytest("--collect-only", "-q", *INNER, *args)
    return [line for line in result.outlines if "::" in line]


def test_a_named_folder_gives_its_own_scenarios_not_its_subfolders_or_other_yaml(
        drills: pytest.Pytester) -> None:
    assert collected(drills, "drills") == [
        "drills/alpha.yaml::alpha",
        "drills/beta.yaml::beta[steps.web-off.duration=2s]",
        "drills/beta.yaml::beta[steps.web-off.duration=3s]"]


def test_a_file_named_directly_is_collected_wherever_it_is(drills: pytest.Pytester) -> None:
    assert collected(drills, "drills/deeper/gamma.yaml") == ["drills/deeper/gamma.yaml::gamma"]


def test_scenarios_in_folders_not_named_are_data(drills: pytest.Pytester) -> None:
    assert collected(drills) == ["test_plain.py::test_plain"]
    assert collected(drills, ".") == ["test_plain.py::test_plain"]


def test_the_ini_globs_collect_scenarios_anywhere_the_walk_goes(drills: pytest.Pytester) -> None:
    drills.makeini("[pytest]\nchaos_scenarios = drills/deeper/*.yaml\n")
    assert collected(drills) == ["drills/deeper/gamma.yaml::gamma", "test_plain.py::test_plain"]


def test_k_selects_scenarios_and_matrix_runs(drills: pytest.Pytester) -> None:
    assert collected(drills, "drills", "-k", "alpha") == ["drills/alpha.yaml::alpha"]
    assert collected(drills, "drills", "-k", "beta and 3s") == \
        ["drills/beta.yaml::beta[steps.web-off.duration=3s]"]
    assert collected(drills, "drills", "test_plain.py", "-m", "not chaos") == \
        ["test_plain.py::test_plain"]


def test_an_invalid_scenario_is_a_collection_error_with_its_located_problems(
        drills: pytest.Pytester) -> None:
    (drills.path / "drills" / "broken.yaml").write_text(
        scenario("broken").replace("power-off", "power-of"))
    result = drills.runpytest(*INNER, "drills/broken.yaml")
    assert result.ret == pytest.ExitCode.INTERRUPTED
    output = result.stdout.str()
    assert "ERROR collecting drills/broken.yaml" in output
    assert ("invalid scenario:\n  drills/broken.yaml:11:5: steps[0].fault: unknown fault "
            "'power-of'; did you mean 'power-off'?") in output
    assert "Traceback" not in output


FAKE_ENGINE = """
import pytest

from chaos.errors import StackError
from chaos.scenario import runner
from chaos.scenario.objectives import ObjectiveResult

_patch = pytest.MonkeyPatch()


def fake_run(self):
    if self.scenario.name == "broken":
        self.result.reason = "the stack did not come up"
        raise StackError("the stack did not come up", hint="see its logs")
    rto = 45.2 if self.scenario.name == "slow" else 3.1
    self.result.objectives = [ObjectiveResult("rto", "30s", f"{rto:.2f}s", rto <= 30)]
    self.result.outcome = "passed" if rto <= 30 else "failed"
    self.result.reason = "every objective met" if rto <= 30 else "objectives/checks not met: rto"
    self.result.write(self.options.out_dir)
    return self.result


def pytest_configure(config):
    _patch.setattr(runner.DrillRunner, "run", fake_run)


def pytest_unconfigure(config):
    _patch.undo()
"""


def test_a_run_fails_with_each_missed_objective_and_junit_gets_its_figures(
        pytester: pytest.Pytester) -> None:
    pytester.makeconftest(FAKE_ENGINE)
    for name in ("fast", "slow", "broken"):
        (pytester.path / f"{name}.yaml").write_text(scenario(name))
    junit = pytester.path / "junit.xml"
    out = pytester.path / "runs"
    result = pytester.runpytest(*INNER, "fast.yaml", "slow.yaml", "broken.yaml",
                                f"--junitxml={junit}", f"--chaos-out={out}", "--chaos-time-scale=0.5")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*_ scenario slow _*", "slow: FAILED — objectives/checks not met: rto",
                                 "  rto: measured 45.20s, required <= 30s",
                                 f"  run folder: {out / 'slow'}"])
    result.stdout.fnmatch_lines(["*_ scenario broken _*", "error: the stack did not come up",
                                 "  hint: see its logs"])
    assert "Traceback" not in result.stdout.str()
    assert (out / "fast" / "result.json").exists()
    cases = {c.get("name"): c for c in ET.parse(junit).getroot().iter("testcase")}
    properties = {p.get("name"): p.get("value") for p in cases["slow"].iter("property")}
    assert properties["outcome"] == "failed" and properties["rto"] == "45.20s"
    assert properties["run_folder"] == str(out / "slow")
    assert cases["fast"].find("failure") is None
