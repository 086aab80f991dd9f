"""pytest plugin (entry point `pytest11`): scenario files as test items.

`pytest scenarios/` or `pytest scenarios/baseline.yaml` collects each
scenario (one item per matrix combination), runs it on the real stack with
the engine `drill run` uses, and fails with the objectives, checks and steps
it missed.  Works with `-k` and `--junitxml` (outcome, rto, lost writes and
the run folder become test-case properties).

Which YAML files are scenarios: those with `apiVersion: chaos-harness/...` at
top level, named on the command line or directly inside a folder named there
(not in its sub-folders), or matching a glob of the ini option
`chaos_scenarios`.  So `pytest tests` never runs the scenario files that
tests keep as data.  This module imports only pytest and the standard
library: the engine loads when an item is collected.
"""

from __future__ import annotations

import fnmatch
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from chaos.scenario.check import LoadedScenario
    from chaos.scenario.model import Scenario
    from chaos.scenario.result import DrillResult

#: A scenario says so on a line of its own (cheap to test, and true of a file too broken to parse).
_API_VERSION = re.compile(r"^apiVersion:\s*[\"']?chaos-harness/", re.MULTILINE)
_SUFFIXES = (".yaml", ".yml")
_out_key = pytest.StashKey[Path]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("chaos-harness", "chaos-harness scenarios as tests")
    group.addoption("--chaos-time-scale", type=float, default=1.0, metavar="FACTOR",
                    help="Multiply every time of the scenarios (0.25: four times faster). [1.0]")
    group.addoption("--chaos-out", type=Path, default=None, metavar="DIR",
                    help="Where run folders go, one per item. [results/pytest-<time>]")
    group.addoption("--chaos-keep", action="store_true",
                    help="Reuse the stack that is up (if any) and leave it up afterwards.")
    parser.addini("chaos_scenarios", type="args", default=[],
                  help="Globs (relative to rootdir) of YAML files to collect as scenarios "
                       "wherever the collection walks, besides those named on the command line.")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: a chaos-harness scenario run on the real stack "
                                       "(added to every scenario item)")
    out = config.getoption("chaos_out") or \
        Path("results") / f"pytest-{time.strftime('%Y%m%d-%H%M%S')}"
    config.stash[_out_key] = (config.invocation_params.dir / out).resolve()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> ScenarioFile | None:
    if file_path.suffix not in _SUFFIXES or not is_scenario_file(file_path):
        return None
    if not (named_on_command_line(file_path, parent.config) or in_ini_globs(file_path, parent.config)):
        return None
    scenario_file: ScenarioFile = ScenarioFile.from_parent(parent, path=file_path)
    return scenario_file


def is_scenario_file(path: Path) -> bool:
    try:
        return bool(_API_VERSION.search(path.read_text(errors="replace")))
    except OSError:
        return False


def named_on_command_line(path: Path, config: pytest.Config) -> bool:
    """`path` itself, or the folder it sits directly in, was an argument of this pytest run."""
    here = config.invocation_params.dir
    for arg in config.args:
        named = (here / arg.split("::")[0]).resolve()
        if named in (path.resolve(), path.resolve().parent):
            return True
    return False


def in_ini_globs(path: Path, config: pytest.Config) -> bool:
    globs: list[str] = config.getini("chaos_scenarios")
    try:
        relative = path.resolve().relative_to(config.rootpath.resolve()).as_posix()
    except ValueError:
        return False
    return any(fnmatch.fnmatch(relative, pattern) for pattern in globs)


class ScenarioFile(pytest.File):
    """A scenario file: checked whole at collection, one item per matrix combination."""

    def collect(self) -> Iterator[ScenarioItem]:
        from chaos.errors import InputError
        from chaos.scenario.check import load_scenario
        from chaos.scenario.matrix import combinations

        try:
            loaded = load_scenario(_shown(self.path, self.config), interactive=False)
        except InputError as e:
            # Collector.repr_failure shows a CollectError's message alone: no traceback.
            lines = [str(p) for p in e.problems] or [e.message]
            raise self.CollectError("invalid scenario:\n" + "\n".join(f"  {line}" for line in lines)
                                    + (f"\n  hint: {e.hint}" if e.hint else "")) from None
        for label, values, scenario in combinations(loaded.scenario):
            name = scenario.name + (f"[{item_id(values)}]" if values else "")
            yield ScenarioItem.from_parent(self, name=name, loaded=loaded, scenario=scenario,
                                           label=label, matrix=values)


def _shown(path: Path, config: pytest.Config) -> Path:
    """`path` relative to where pytest was started, when inside it: shorter problem lines."""
    try:
        return path.relative_to(config.invocation_params.dir)
    except ValueError:
        return path


def item_id(values: dict[str, Any]) -> str:
    """A matrix combination as a parametrize-like id: `load.users=5-steps.x.at=3s`."""
    return "-".join(f"{key}={value}" for key, value in values.items()).replace(" ", "")


class ScenarioFailed(Exception):
    """The drill ran and missed an objective, a check or a step; or it aborted."""

    def __init__(self, result: DrillResult) -> None:
        super().__init__(result.reason)
        self.result = result


class ScenarioItem(pytest.Item):
    """One run of a scenario (one matrix combination) on the real stack."""

    def __init__(self, *, loaded: LoadedScenario, scenario: Scenario, label: str,
                 matrix: dict[str, Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.loaded, self.scenario, self.label, self.matrix = loaded, scenario, label, matrix
        self.add_marker("chaos")  # `-m "not chaos"` leaves the drills out

    def runtest(self) -> None:
        from chaos.errors import HarnessError
        from chaos.progress import Progress
        from chaos.scenario.runner import DrillRunner, RunOptions
        from chaos.signals import exit_signals

        config = self.config
        folder = config.stash[_out_key] / re.sub(r"[^A-Za-z0-9_.=-]+", "_", self.name)
        options = RunOptions(folder, config.getoption("chaos_time_scale"),
                             config.getoption("chaos_keep"), False, self.label, matrix=self.matrix)
        runner = DrillRunner(self.loaded, self.scenario, options, Progress())
        try:
            # SIGTERM (a CI job cancelled) rolls back and tears down, as Ctrl-C does.
            with exit_signals():
                result = runner.run()
        except HarnessError:
            self._record(runner.result)
            raise
        self._record(result)
        if result.outcome != "passed":
            raise ScenarioFailed(result)

    def _record(self, result: DrillResult) -> None:
        """Figures for `--junitxml` (test-case properties)."""
        from chaos.report.junit import case_properties

        self.user_properties.extend(case_properties(result.to_json()).items())

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException],
                     style: Any = None) -> str | Any:
        from chaos.errors import HarnessError

        if isinstance(excinfo.value, ScenarioFailed):
            return "\n".join(failure_lines(excinfo.value.result))
        if isinstance(excinfo.value, HarnessError):
            return excinfo.value.render()
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.name}"


def failure_lines(result: DrillResult) -> list[str]:
    """What the drill missed: each objective measured vs required, checks, steps, the run folder."""
    from chaos.report.junit import failures

    lines = [f"{result.scenario}" + (f" [{result.label}]" if result.label else "")
             + f": {result.outcome.upper()} — {result.reason}"]
    lines += [f"  {message}" for _, message, _ in failures(result.to_json())]
    lines.append(f"  run folder: {result.out_dir}")
    return lines
