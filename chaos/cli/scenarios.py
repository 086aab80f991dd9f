"""Scenario verbs that start nothing: validate (every problem, located) and list (the library)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from chaos.cli.base import cli
from chaos.errors import InputError
from chaos.scenario.check import LoadedScenario, load_scenario, scenario_files
from chaos.scenario.durations import format_duration


def _shown(path: Path) -> Path:
    """`path` relative to the working folder when it is inside it: shorter problem lines."""
    try:
        return Path(os.path.relpath(path)) if path.resolve().is_relative_to(Path.cwd()) else path
    except ValueError:  # another drive (Windows): keep it as given
        return path


def _files(paths: tuple[Path, ...]) -> list[Path]:
    found = [_shown(p) for p in scenario_files(paths)]
    if not found:
        raise InputError(f"no scenario files (*.yaml) in {', '.join(str(p) for p in paths)}")
    return found


def _check(path: Path) -> LoadedScenario:
    # Without a terminal (CI) a manual step needs an automated equivalent: judged as `run` would.
    return load_scenario(path, interactive=sys.stdin.isatty())


def _problem_lines(error: InputError) -> list[str]:
    """One line per problem; an error without located problems (no such file) as its message."""
    return [str(p) for p in error.problems] or [error.message]


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES (or folders) without starting anything. [default: scenarios/]

    Prints `ok  FILE`, or every problem with its file, line and column; exits 2
    if any file is invalid.
    """
    paths = _files(files)
    invalid = problems = 0
    for path in paths:
        try:
            _check(path)
        except InputError as e:
            invalid += 1
            lines = _problem_lines(e)
            problems += len(lines)
            for line in lines:
                click.echo(line)
        else:
            click.echo(f"ok  {path}")
    if invalid:
        raise InputError(f"{invalid} of {len(paths)} scenario file{'s' if len(paths) != 1 else ''} "
                         f"invalid ({problems} problem{'s' if problems != 1 else ''})")


@cli.command("list")
@click.argument("folder", required=False, type=click.Path(path_type=Path, file_okay=False))
def list_scenarios(folder: Path | None) -> None:
    """The scenarios in FOLDER (default: scenarios/): name, load duration, steps, summary."""
    paths = _files((folder,) if folder else ())
    rows: list[tuple[str, str, str, str]] = []
    for path in paths:
        try:
            found = _check(path).scenario
        except InputError as e:
            # The file is named on the row already: its first problem from the line on.
            first = str(e.problems[0]).removeprefix(f"{path}:") if e.problems else e.message
            rows.append((path.stem, "-", "INVALID", first))
            continue
        steps = f"{len(found.steps)} step{'s' if len(found.steps) != 1 else ''}"
        runs = 1
        for values in found.matrix.values():
            runs *= len(values)
        if runs > 1:
            steps += f", {runs} runs"
        rows.append((found.name, format_duration(found.load.duration), steps, found.summary))
    name_width = max(len(r[0]) for r in rows)
    steps_width = max(len(r[2]) for r in rows)
    for name, duration, steps, summary in rows:
        click.echo(f"{name:<{name_width}}  {duration:>5}  {steps:<{steps_width}}  {summary}")
