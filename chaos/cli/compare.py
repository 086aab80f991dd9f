"""`drill compare A B`: the before/after load report of a migration, in text, JSON and HTML."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chaos.cli.base import cli
from chaos.errors import ExitCode, HarnessError, InputError


class Regression(HarnessError):
    """B is slower than A by more than `--fail-on-regression` allows."""

    exit_code = ExitCode.OBJECTIVE_FAILED

    def render(self) -> str:
        return f"regression: {self.message}"


@cli.command("compare")
@click.argument("before", type=click.Path(path_type=Path))
@click.argument("after", type=click.Path(path_type=Path))
@click.option("--html", "html_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Also write the comparison as one self-contained HTML file (charts, opens offline).")
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as JSON instead of a table.")
@click.option("--fail-on-regression", "percent", type=click.FloatRange(min=0), default=None,
              metavar="PCT", help="Exit 1 when B's throughput is more than PCT % below A's or its "
                                  "p95 latency more than PCT % above (a gate for migration CI).")
def compare_cmd(before: Path, after: Path, html_file: Path | None, as_json: bool,
                percent: float | None) -> None:
    """Compare run A (BEFORE) with run B (AFTER): throughput, latency, errors, recovery, data loss.

    \b
    A and B are each a result.json or a run folder; two suite folders (or
    their results.json) compare run by run, paired by scenario and label.
    Parameters that differ (users, overrides, time scale, stack, harness)
    are listed first. Exit codes: 0 a comparison was made (it is a report,
    not a verdict), 1 with --fail-on-regression and a regression beyond PCT,
    2 invalid input.
    """
    from chaos.report.compare import (
        Comparison,
        SuiteComparison,
        compare,
        compare_suites,
        load_side,
        regressions,
    )
    from chaos.report.compare_render import render_text, write_html

    a, b = load_side(before), load_side(after)
    result: Comparison | SuiteComparison
    if len(a) == 1 and len(b) == 1:
        result = compare(a[0], b[0])
    elif len(a) > 1 and len(b) > 1:
        result = compare_suites(a, b)
    else:
        raise InputError(f"{before} holds {len(a)} run(s) and {after} {len(b)}: compare a run with a "
                         "run, or a suite with a suite",
                         hint="give the run folder (or result.json) of one run on both sides")
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(render_text(result))
    if html_file is not None:
        # On stderr with --json: stdout stays one JSON document.
        click.echo(f"html: {write_html(result, html_file)}", err=as_json)
    if percent is not None:
        found = regressions(result, percent)
        if found:
            raise Regression("; ".join(found))
