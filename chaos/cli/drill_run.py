"""`drill run`: one scenario or a suite of them on the real stack, with verdicts, reports and an exit code.

Every file is checked before anything starts; then the runs go one after
another, and one that fails or breaks does not stop the others.  What is left:
a run folder per run (result.json and its evidence), and at the top folder
results.json (several runs), junit.xml, summary.md and report.html.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import tempfile
import time
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from chaos.cli.base import cli
from chaos.errors import DrillFailed, ExitCode, HarnessError, InputError, Problem
from chaos.progress import Progress
from chaos.scenario.result import DrillResult

if TYPE_CHECKING:
    from chaos.scenario.check import LoadedScenario
    from chaos.scenario.model import Scenario

SET_HINT = ("KEY is a dotted path into the scenario, as in a matrix: load.users, "
            "stack.settings.NAME, steps.STEP.duration, steps.STEP.params.NAME, objectives.rto, "
            "matrix.KEY; VALUE is YAML (20, 10s, '[1, 2]', null)")


def render_result(result: DrillResult) -> list[str]:
    """The verdict of one drill for a person: steps with real times, objectives, checks."""
    head = f"{result.scenario}" + (f" [{result.label}]" if result.label else "")
    lines = [f"{head}: {result.outcome.upper()} — {result.reason}"]
    start = result.clock_started_at or result.started_at
    for step in result.steps:
        when = f"T+{step.started_at - start:6.1f}s" if step.started_at else " " * 9
        took = ""
        if step.started_at and (step.rolled_back_at or step.ended_at):
            took = f" ({(step.rolled_back_at or step.ended_at or 0) - step.started_at:.1f} s)"
        human = f", operator {step.human_seconds:.0f} s" if step.human_seconds else ""
        lines.append(f"  {when} {step.state:<9} {step.name}: {step.what}{took}{human}"
                     + (f" — {step.detail}" if step.detail else ""))
    for objective in result.objectives:
        mark = "pass" if objective.passed else "FAIL"
        lines.append(f"  {mark} {objective.name}: {objective.measured} (limit {objective.limit})")
    for check in result.checks:
        mark = "pass" if check.passed else "FAIL"
        lines.append(f"  {mark} {check.name}" + (f" — {check.detail}" if check.detail else ""))
    loss = (result.measurements or {}).get("loss")
    if loss:
        lines.append(f"  acknowledged writes: {loss['acknowledged']}, intact {loss['intact']}, "
                     f"lost {loss['lost']}")
    lines.append(f"  result: {result.out_dir}/result.json")
    return lines


@cli.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Override a field of every scenario run (repeatable), e.g. --set load.users=20.")
@click.option("--dry-run", is_flag=True, help="Print the resolved plans and do nothing.")
@click.option("--time-scale", type=click.FloatRange(0.01, 100), default=1.0, show_default=True,
              help="Multiply every time of the scenario (0.25: four times faster).")
@click.option("--keep", is_flag=True,
              help="Reuse the stack that is up (if any) and leave the stack up afterwards.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where results go. [default: results/<scenario>-<time>, a suite "
                   "results/suite-<time>]")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.option("-f", "--compose", "compose_files", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Run on this compose project instead of each scenario's stack.compose "
                   "(repeatable: files merged in order).")
@click.option("--env-file", "env_files", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="A file of compose variables (repeatable), for every scenario.")
@click.option("--profile", "profiles", multiple=True, metavar="NAME",
              help="Enable a compose profile (repeatable), for every scenario.")
@click.option("--allow-host-access", is_flag=True,
              help="Allow the stack to reach into the host (recorded in each result).")
@click.pass_obj
def run(progress: Progress, paths: tuple[Path, ...], settings: tuple[str, ...], dry_run: bool,
        time_scale: float, keep: bool, out_dir: Path | None, as_json: bool,
        compose_files: tuple[Path, ...], env_files: tuple[Path, ...], profiles: tuple[str, ...],
        allow_host_access: bool) -> None:
    """Run scenario files (PATHS: files, or folders of *.yaml): stack, load, steps, verdict, teardown.

    \b
    Several files (or a folder) are a suite: every file is checked first (one
    invalid: exit 2, nothing started), then they run one after another; a run
    that fails or breaks does not stop the others. A suite's results go to
    results/suite-<time>/ (or --out), a folder per scenario (run-N inside for a
    matrix), with results.json, junit.xml, summary.md and report.html on top.

    \b
    --set KEY=VALUE overrides a field of every scenario before it is checked:
      --set load.users=20 --set steps.web-off.duration=10s --set stack.settings.X=1
      --set 'matrix.load.users=[5, 50]'   (a matrix key is the rest of the path)

    \b
    Exit codes, the worst run deciding:
      0   every run met every objective
      1   an objective, check or step failed, or an abort rule fired
      2   invalid input (nothing was started)
      3   the harness or the stack broke in some run; this wins over 1, as
          the suite could not be judged whole (the other verdicts are printed)
      130 interrupted: faults rolled back, stack torn down, results so far written
    """
    from chaos.scenario.plan import render_plan

    interactive = sys.stdin.isatty()
    overrides = parse_overrides(settings)
    # The stack options are overrides of every scenario's `stack:`, paths made absolute.
    if compose_files:
        overrides["stack.compose"] = [str(f.absolute()) for f in compose_files]
    if env_files:
        overrides["stack.env_file"] = [str(f.absolute()) for f in env_files]
    if profiles:
        overrides["stack.profiles"] = list(profiles)
    if allow_host_access:
        overrides["stack.allow_host_access"] = True
    scenarios = check_all(paths, overrides, interactive)
    runs = plan_runs(scenarios)
    if dry_run:
        for run_ in runs:
            if len(runs) > 1:
                click.echo(f"== {run_.title}")
            click.echo("\n".join(render_plan(run_.scenario, time_scale, traffic=run_.loaded.traffic)))
        return
    if keep:
        refuse_keep_across_stacks(runs)
    suite = len(scenarios) > 1 or any(p.is_dir() for p in paths)
    name = "suite" if suite else scenarios[0].scenario.name
    base = (out_dir or Path("results") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}").resolve()
    place_runs(runs, base, suite)
    Suite(runs, base, progress, as_json,
          Options(time_scale, keep, interactive, overrides)).run_all()


# -- the scenarios: found, overridden, checked, expanded --------------------------------


def scenario_paths(paths: Sequence[Path]) -> tuple[list[Path], list[Problem]]:
    """Files as given and every *.yaml directly in a folder (sorted), each once."""
    from chaos.scenario.check import scenario_files

    found: list[Path] = []
    seen: set[Path] = set()
    problems: list[Problem] = []
    for path in paths:
        inside = scenario_files([path])
        if path.is_dir() and not inside:
            problems.append(Problem(str(path), None, None, "", "no scenario files (*.yaml) in this folder"))
        for file in inside:
            if file.resolve() not in seen:
                seen.add(file.resolve())
                found.append(file)
    return found, problems


def check_all(paths: Sequence[Path], overrides: dict[str, Any],
              interactive: bool) -> list[LoadedScenario]:
    """Every scenario loaded, overridden and checked; InputError with the problems of all of them."""
    from chaos.scenario.check import load_scenario
    from chaos.scenario.matrix import expand
    from chaos.scenario.runner import refuse_manual_without_terminal

    files, problems = scenario_paths(paths)
    loaded: list[LoadedScenario] = []
    for file in files:
        try:
            found = load_scenario(file, interactive=interactive)
            if overrides:
                found = apply_overrides(found, overrides, interactive)
            for _, scenario in expand(found.scenario):
                refuse_manual_without_terminal(scenario, interactive)
            loaded.append(found)
        except InputError as e:
            problems += e.problems or [Problem(str(file), None, None, "",
                                               e.message.removeprefix(f"{file}: "))]
    if problems:
        files_bad = len({p.file for p in problems})
        raise InputError(problems, hint=f"{files_bad} of {len(files) or len(paths)} file(s) need "
                                        "fixing; nothing was started (`drill validate` checks alone)")
    return loaded


def parse_overrides(values: Sequence[str]) -> dict[str, Any]:
    """`--set KEY=VALUE` pairs -> {dotted key: YAML value}; InputError naming the option otherwise."""
    import yaml

    overrides: dict[str, Any] = {}
    for item in values:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key or not all(key.split(".")) or " " in key:
            raise InputError(f"--set {item!r}: write KEY=VALUE, e.g. --set load.users=20",
                             hint=SET_HINT)
        try:
            overrides[key] = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError as e:
            problem = getattr(e, "problem", None) or str(e).splitlines()[0]
            raise InputError(f"--set {item!r}: the value is not valid YAML ({problem})",
                             hint="quote it for YAML inside the shell's quotes, "
                                  "e.g. --set 'stack.settings.X=\"a: b\"'") from None
    return overrides


def apply_overrides(loaded: LoadedScenario, overrides: dict[str, Any],
                    interactive: bool) -> LoadedScenario:
    """`loaded` with `overrides` set, checked again as a whole (shape, names, targets, compose)."""
    import yaml
    from pydantic import ValidationError

    from chaos.scenario.check import compose_path, load_scenario
    from chaos.scenario.model import Scenario
    from chaos.validation import problems_from

    data = loaded.scenario.model_dump(by_alias=True)
    problems = []
    for key, value in overrides.items():
        reason = set_path(data, key, value, loaded.scenario.matrix)
        if reason:
            problems.append(Problem(str(loaded.path), None, None, f"--set {key}", reason))
    if problems:
        raise InputError(problems, hint=SET_HINT)
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as e:
        raise InputError([Problem(str(loaded.path), None, None, p.path, f"{p.message} (after --set)")
                          for p in problems_from(e, loaded.document, Scenario)],
                         hint=SET_HINT) from None
    # The names, targets and compose file depend on the whole scenario: check the result as
    # a file would be (the compose path made absolute, as it is relative to the original).
    data = scenario.model_dump(by_alias=True)
    data["stack"]["compose"] = [str(compose_path(loaded.path, f))
                                for f in scenario.stack.compose_files]
    if scenario.stack.env_file is not None:
        data["stack"]["env_file"] = [str(compose_path(loaded.path, f))
                                     for f in scenario.stack.env_file]
    with tempfile.TemporaryDirectory(prefix="drill-set-") as folder:
        copy = Path(folder) / loaded.path.name
        copy.write_text(yaml.safe_dump(data, sort_keys=False))
        try:
            checked = load_scenario(copy, interactive=interactive)
        except InputError as e:
            raise InputError([Problem(str(loaded.path), None, None, p.path, f"{p.message} (after --set)")
                              for p in e.problems] or e.message.replace(str(copy), str(loaded.path)),
                             hint=SET_HINT) from None
    return dataclasses.replace(checked, path=loaded.path, document=loaded.document)


def set_path(data: dict[str, Any], key: str, value: Any, matrix: dict[str, Any]) -> str | None:
    """Set `key` (dotted, steps by name) in a dumped scenario; why not, or None once done."""
    from chaos.yamlsource import did_you_mean

    parts: list[str] = key.split(".")
    if parts[0] == "matrix" and len(parts) > 1:  # matrix keys are dotted paths themselves
        parts = ["matrix", ".".join(parts[1:])]
    elif key in matrix:
        return (f"the matrix varies {key}: override the matrix instead, "
                f"e.g. --set 'matrix.{key}=[{', '.join(map(str, matrix[key][:1]))}]'")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        where = ".".join(parts[:depth]) or "the scenario"
        if isinstance(node, list):
            names = [str(item.get("name")) for item in node if isinstance(item, dict)]
            if part.isdigit() and int(part) < len(node):
                index = int(part)
            elif part in names:
                index = names.index(part)
            else:
                return (f"{where} has no entry '{part}'{did_you_mean(part, names)} "
                        f"(give a name: {', '.join(names)}, or an index 0..{len(node) - 1})"
                        if node else f"{where} is empty: nothing to set")
            if last:
                node[index] = value
            node = node[index]
        elif isinstance(node, dict):
            if last:
                node[part] = value
            elif not isinstance(node.get(part), dict | list):
                # An optional section not given (objectives.latency) or a map entry to add.
                if node.get(part) is not None:
                    return f"{'.'.join(parts[:depth + 1])} is a value, not a section: set it whole"
                node[part] = {}
            node = node[part]
        else:
            return f"{where} is a value, not a section: set it whole"
    return None


@dataclass(frozen=True)
class Run:
    """One run of a suite: a scenario (one matrix combination) and its folder."""

    loaded: LoadedScenario
    label: str
    matrix: dict[str, Any]
    scenario: Scenario
    folder: Path = Path()

    @property
    def title(self) -> str:
        return self.scenario.name + (f" [{self.label}]" if self.label else "")


def plan_runs(scenarios: Sequence[LoadedScenario]) -> list[Run]:
    from chaos.scenario.matrix import combinations

    return [Run(loaded, label, values, scenario) for loaded in scenarios
            for label, values, scenario in combinations(loaded.scenario)]


def refuse_keep_across_stacks(runs: Sequence[Run]) -> None:
    """--keep reuses the stack that is up: every run must want the same one."""
    stacks = {(str(r.loaded.compose_files), r.scenario.stack.drives,
               tuple(sorted((k, str(v)) for k, v in r.scenario.stack.settings.items())))
              for r in runs}
    if len(stacks) > 1:
        raise InputError("--keep reuses one stack, but these runs want different stacks (compose "
                         "file, drives or settings differ)",
                         hint="drop --keep, or run the scenarios of each stack separately")


def place_runs(runs: list[Run], base: Path, suite: bool) -> None:
    """A folder per run: base itself, base/run-N for a matrix, under base/<scenario>/ in a suite."""
    by_file: dict[Path, list[int]] = {}
    for index, run_ in enumerate(runs):
        by_file.setdefault(run_.loaded.path, []).append(index)
    taken: set[str] = set()
    for indexes in by_file.values():
        top = base
        if suite:
            name = runs[indexes[0]].loaded.scenario.name
            unique, n = name, 1
            while unique in taken:  # two files may name the same scenario
                n += 1
                unique = f"{name}-{n}"
            taken.add(unique)
            top = base / unique
        for n, index in enumerate(indexes, 1):
            runs[index] = dataclasses.replace(runs[index],
                                              folder=top / f"run-{n}" if len(indexes) > 1 else top)


# -- running them -------------------------------------------------------------------


@dataclass(frozen=True)
class Options:
    time_scale: float
    keep: bool
    interactive: bool
    overrides: dict[str, Any]


class Suite:
    """Runs one after another; each verdict recorded, the reports written even on Ctrl-C."""

    def __init__(self, runs: list[Run], base: Path, progress: Progress, as_json: bool,
                 options: Options) -> None:
        self.runs, self.base, self.progress = runs, base, progress
        self.as_json, self.options = as_json, options
        self.results: list[DrillResult] = []
        #: Runs whose harness or stack broke: the error, for the message at the end.
        self.broken: list[tuple[DrillResult, HarnessError]] = []
        self.report_problems: list[str] = []

    def run_all(self) -> None:
        """Every run, then the reports; raises what decides the exit code (see `drill run --help`)."""
        try:
            for index, run_ in enumerate(self.runs, 1):
                if len(self.runs) > 1:
                    self.progress.info(f"== [{index}/{len(self.runs)}] {run_.title}")
                result = self._one(run_)
                self.results.append(result)
                if not self.as_json:
                    click.echo("\n".join(render_result(result)))
        except KeyboardInterrupt:
            self._finish()
            raise
        self._finish()
        self._verdict()

    def _one(self, run_: Run) -> DrillResult:
        from chaos.scenario.runner import DrillRunner, RunOptions

        options = RunOptions(run_.folder, self.options.time_scale, self.options.keep,
                             self.options.interactive, run_.label, matrix=run_.matrix,
                             overrides=self.options.overrides)
        runner = DrillRunner(run_.loaded, run_.scenario, options, self.progress)
        try:
            return runner.run()
        except KeyboardInterrupt:
            self.results.append(runner.result)
            if not self.as_json:
                click.echo("\n".join(render_result(runner.result)))
            raise
        except HarnessError as e:
            self.broken.append((runner.result, e))
            if len(self.runs) > 1:  # shown now, where it happened; a single run's at the end
                click.echo(e.render(), err=True)
            return runner.result
        except Exception as e:  # a bug in one drill: it is rolled back and down; the others still run
            log = run_.folder / "traceback.txt"
            log.write_text(traceback.format_exc())
            runner.result.outcome, runner.result.reason = "error", f"internal error: {e!r} (see {log})"
            runner.result.write(run_.folder)
            self.broken.append((runner.result, HarnessError(runner.result.reason)))
            return runner.result

    def _finish(self) -> None:
        """results.json, junit.xml, summary.md, report.html; the summary table and where it is."""
        if not self.results:
            return
        data = [r.to_json() for r in self.results]
        self.base.mkdir(parents=True, exist_ok=True)
        if len(self.runs) > 1:
            (self.base / "results.json").write_text(json.dumps(data, indent=2, default=str))
        if self.as_json:
            click.echo(json.dumps(data, indent=2, default=str))
        self.report_problems = write_reports(self.base, self.results, data, self.as_json)

    def _verdict(self) -> None:
        codes = [r.exit_code for r in self.results]
        failed = [r for r in self.results if r.exit_code == ExitCode.OBJECTIVE_FAILED]
        if any(c == ExitCode.HARNESS_OR_STACK_BROKE for c in codes) or self.broken:
            if len(self.results) == 1 and len(self.broken) == 1:
                raise self.broken[0][1]  # one drill: its own error, with its hint and logs
            names = ", ".join(_title(r) for r, _ in self.broken)
            also = f"; {len(failed)} failed: {', '.join(map(_title, failed))}" if failed else ""
            raise HarnessError(f"{len(self.broken)} of {len(self.results)} runs broke: {names}{also}",
                               hint="each error is printed where it happened; the other runs' "
                                    "verdicts stand")
        if failed:
            raise DrillFailed(f"{len(failed)} of {len(self.results)} runs failed: "
                              f"{', '.join(map(_title, failed))} (see above)")
        if self.report_problems:
            raise HarnessError("every run passed, but the reports were not all written: "
                               + "; ".join(self.report_problems))


def _title(result: DrillResult) -> str:
    return result.scenario + (f" [{result.label}]" if result.label else "")


def write_reports(base: Path, results: Sequence[DrillResult], data: list[dict[str, Any]],
                  as_json: bool) -> list[str]:
    """junit.xml, report.html and summary.md in `base`; the summary printed. What failed, if any.

    A report that cannot be written must not cost the verdict of the drills: it is
    said, and the exit code says it when nothing else went wrong.
    """
    from chaos.report.junit import write_junit

    problems: list[str] = []
    write_junit(data, base / "junit.xml", base.name)
    html: Path | None = None
    try:
        from chaos.report.html import write_html_report

        html = write_html_report([Path(r.out_dir) for r in results], base / "report.html")
    except HarnessError as e:
        problems.append(f"report.html: {e.message}")
    except Exception as e:  # a bug in the report must not hide the drills' verdicts
        click.echo(traceback.format_exc(), err=True)
        problems.append(f"report.html: internal error {e!r}")
    summary = ""
    try:
        from chaos.report.markdown import render_markdown

        # summary.md sits beside report.html: it links it by name (it is read on CI pages).
        (base / "summary.md").write_text(render_markdown(data, Path(html.name) if html else None))
        summary = render_markdown(data)
    except Exception as e:  # same: say it, keep the verdicts
        click.echo(traceback.format_exc(), err=True)
        problems.append(f"summary.md: internal error {e!r}")
    # With --json, stdout is the JSON alone.
    if summary:
        click.echo("\n" + summary.rstrip(), err=as_json)
    for problem in problems:
        click.echo(f"not written: {problem}", err=True)
    click.echo(f"report: {html or base}", err=as_json)
    return problems
