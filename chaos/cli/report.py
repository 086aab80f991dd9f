"""`drill report`: the HTML report (and the Markdown summary) again, from run folders already written."""

from __future__ import annotations

from pathlib import Path

import click

from chaos.cli.base import cli
from chaos.errors import InputError


def run_folders(paths: tuple[Path, ...]) -> list[Path]:
    """Every run folder under `paths` (a run folder, a suite folder or a result.json), in run order."""
    from chaos.report.results import find_results

    folders: list[Path] = []
    for path in paths:
        for result in find_results(path):
            if result.parent not in folders:
                folders.append(result.parent)
    return folders


@cli.command("report")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", "out", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The HTML file to write. [default: report.html in the one folder given, "
                   "else in the current folder]")
@click.option("--markdown", is_flag=True, help="Also print the Markdown summary (for CI logs, PR comments).")
@click.option("--title", default=None, help="The report's title. [default: from the runs]")
def report(paths: tuple[Path, ...], out: Path | None, markdown: bool, title: str | None) -> None:
    """Write the HTML report of the runs in PATHS (run folders, suite folders or result.json files).

    A suite folder stands for every result.json under it. The report is one
    file that opens offline; its links to the runs' files are relative.
    """
    from chaos.report.html import write_html_report
    from chaos.report.markdown import render_markdown
    from chaos.report.results import load_result

    for path in paths:
        if not path.exists():
            raise InputError(f"{path}: no such file or folder",
                             hint="give the folder `drill run` printed (it holds result.json)")
    folders = run_folders(paths)
    if out is None:
        only = paths[0] if len(paths) == 1 else None
        out = (only if only.is_dir() else only.parent) / "report.html" if only else Path("report.html")
    written = write_html_report(folders, out, title=title)
    if markdown:
        click.echo(render_markdown([load_result(f) for f in folders], report_path=written), nl=False)
    else:
        click.echo(f"report: {written} ({len(folders)} run{'s' if len(folders) != 1 else ''})")
