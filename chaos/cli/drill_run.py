"""`drill run`: a scenario on the real stack, start to teardown, with a verdict and an exit code."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import click

from chaos.cli.base import cli
from chaos.errors import DrillFailed, ExitCode, HarnessError
from chaos.progress import Progress
from chaos.scenario.result import DrillResult


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
        lines.append(f"  acknowledged uploads: {loss['acknowledged']}, intact {loss['intact']}, "
                     f"lost {loss['lost']}")
    lines.append(f"  result: {result.out_dir}/result.json")
    return lines


@cli.command("run")
@click.argument("scenario_file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Print the resolved plan and do nothing.")
@click.option("--time-scale", type=click.FloatRange(0.01, 100), default=1.0, show_default=True,
              help="Multiply every time of the scenario (0.25: four times faster).")
@click.option("--keep", is_flag=True,
              help="Reuse the stack that is up (if any) and leave the stack up afterwards.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where results go. [default: results/<scenario>-<time>]")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
@click.pass_obj
def run(progress: Progress, scenario_file: Path, dry_run: bool, time_scale: float, keep: bool,
        out_dir: Path | None, as_json: bool) -> None:
    """Run SCENARIO_FILE: stack, load, steps, verification, objectives, teardown.

    \b
    Exit codes: 0 every objective met, 1 an objective, check or step failed
    (or an abort rule fired), 2 invalid input, 3 the harness or the stack broke,
    130 interrupted (faults rolled back, stack torn down, partial result written).
    """
    from chaos.scenario.check import load_scenario
    from chaos.scenario.matrix import expand
    from chaos.scenario.plan import render_plan
    from chaos.scenario.runner import DrillRunner, RunOptions, refuse_manual_without_terminal

    interactive = sys.stdin.isatty()
    loaded = load_scenario(scenario_file, interactive=interactive)
    runs = expand(loaded.scenario)
    if dry_run:
        for label, scenario in runs:
            if label:
                click.echo(f"[{label}]")
            click.echo("\n".join(render_plan(scenario, time_scale)))
        return
    for _, scenario in runs:
        refuse_manual_without_terminal(scenario, interactive)
    base = out_dir or Path("results") / f"{loaded.scenario.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    results: list[DrillResult] = []
    for index, (label, scenario) in enumerate(runs):
        folder = base / f"run-{index + 1}" if len(runs) > 1 else base
        if label:
            progress.info(f"== {scenario.name} [{label}] ({index + 1}/{len(runs)})")
        runner = DrillRunner(loaded, scenario, RunOptions(folder.resolve(), time_scale, keep,
                                                         interactive, label), progress)
        try:
            results.append(runner.run())
        except (HarnessError, KeyboardInterrupt):
            results.append(runner.result)
            _show(results, as_json, base)
            raise
    _show(results, as_json, base)
    worst = max(int(r.exit_code) for r in results)
    if worst == ExitCode.OBJECTIVE_FAILED:
        failed = [r.scenario + (f" [{r.label}]" if r.label else "") for r in results
                  if r.outcome != "passed"]
        raise DrillFailed(f"{', '.join(failed)}: see above")


def _show(results: list[DrillResult], as_json: bool, base: Path) -> None:
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2, default=str))
        return
    for result in results:
        click.echo("\n".join(render_result(result)))
    if len(results) > 1:
        base.mkdir(parents=True, exist_ok=True)
        (base / "results.json").write_text(json.dumps([r.to_json() for r in results], indent=2,
                                                      default=str))
