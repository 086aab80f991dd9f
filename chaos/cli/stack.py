"""Stack verbs: images, up, status, down, clean, smoke."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chaos.cli.base import StackSource, cli, compose_option, parse_settings
from chaos.engine import lifecycle
from chaos.engine.runstate import RunStore
from chaos.errors import HarnessError
from chaos.progress import Progress


@cli.command()
@compose_option
@click.option("--rebuild", is_flag=True, help="Build even when an image with the same hash exists.")
@click.pass_obj
def images(progress: Progress, compose_files: tuple[Path, ...], env_files: tuple[Path, ...],
           profiles: tuple[str, ...], allow_host_access: bool, rebuild: bool) -> None:
    """Make sure a Docker engine answers and the stack's images are built (or pulled)."""
    from chaos.engine.client import connect
    from chaos.engine.images import ensure_images

    store = RunStore()
    source = StackSource.of(compose_files, env_files, profiles, allow_host_access)
    _, project = lifecycle.prepare(source.up_options(), store)
    for note in project.notes:
        progress.info(f"note: {note}")
    client = connect(progress, log_dir=store.root / "engine")
    built = ensure_images(client, project, progress, work_dir=store.root / "build", force=rebuild)
    for service, image in built.items():
        click.echo(f"{service:<12} {image.tag}{'  (built now)' if image.built else ''}")


@cli.command()
@compose_option
@click.option("--drives", type=click.IntRange(2, 16), default=None,
              help="Drives per server (two RAID1 members, the rest hot spares). [default: 3]")
@click.option("--edge-port", type=click.IntRange(1, 65535), default=None,
              help="Port of the edge on 127.0.0.1. [default: a free one]")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Set a compose variable (repeatable).")
@click.option("--health-timeout", type=click.FloatRange(1, 3600), default=300.0, show_default=True,
              help="Seconds to wait for every service to be healthy.")
@click.option("--keep-on-failure", is_flag=True, help="Leave a stack that failed to start up.")
@click.pass_obj
def up(progress: Progress, compose_files: tuple[Path, ...], env_files: tuple[Path, ...],
       profiles: tuple[str, ...], allow_host_access: bool, drives: int | None,
       edge_port: int | None, settings: tuple[str, ...], health_timeout: float,
       keep_on_failure: bool) -> None:
    """Bring the stack up and wait until every service is healthy."""
    variables = parse_settings(settings)
    if drives is not None:
        variables["DRILL_DRIVES"] = str(drives)
    if edge_port is not None:
        variables["DRILL_EDGE_PORT"] = str(edge_port)
    store = RunStore()
    source = StackSource.of(compose_files, env_files, profiles, allow_host_access)
    state = lifecycle.up(source.up_options(variables=variables, health_timeout=health_timeout,
                                           keep_on_failure=keep_on_failure), progress, store)
    # Up to stay up: this process ending does not make the run dead (`drill clean` keeps it).
    state.stays_up = True
    store.save(state)
    click.echo(f"run {state.run_id} is up; edge: {state.edge_url}")


@cli.command()
@click.option("--run", "run_id", default=None, help="The run to show. [default: the current one]")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def status(progress: Progress, run_id: str | None, as_json: bool) -> None:
    """Show every service of the stack: state, health, RAID."""
    from chaos.engine.client import connect
    from chaos.stack.status import format_status, stack_status

    state = RunStore().resolve(run_id)
    report = stack_status(connect(progress, may_install=False), state)
    click.echo(json.dumps(report.to_json(), indent=2) if as_json else format_status(report))


@cli.command()
@click.option("--run", "run_id", default=None, help="The run to take down. [default: the current one]")
@click.pass_obj
def down(progress: Progress, run_id: str | None) -> None:
    """Remove every container, network, volume and loop device of the stack."""
    from chaos.engine.cleaner import kill_processes
    from chaos.errors import StateError

    store = RunStore()
    try:
        state = store.resolve(run_id)
        # A drill killed on this stack may have left its load running against it.
        kill_processes(store.run_dir(state.run_id))
        lifecycle.down(state.run_id, progress, store)
    except StateError as e:
        if run_id is not None:
            raise
        click.echo(f"nothing to take down ({e.message})")


@cli.command()
@click.option("--all", "include_live", is_flag=True, help="Also remove stacks that are up.")
@click.pass_obj
def clean(progress: Progress, include_live: bool) -> None:
    """Remove what dead runs left behind: containers, networks, volumes, loop devices, processes.

    A run is dead when the harness that worked on it is gone (killed, crashed)
    and it is not a stack `drill up` (or `drill run --keep`) left up. Load
    processes a killed harness left running are stopped, also on stacks kept up.
    """
    from chaos.engine.cleaner import clean as clean_runs
    from chaos.engine.client import try_connect
    from chaos.errors import EngineError

    client = try_connect()
    if client is None:
        progress.info("no Docker engine answers: cleaning loop devices, processes and run "
                      "records only")
    report = clean_runs(client, progress, include_live=include_live)
    for run_id, removed in report.removed.items():
        progress.info(f"   {run_id}: {removed.summary()}"
                      + (f", {len(report.processes[run_id])} processes"
                         if run_id in report.processes else ""))
    click.echo(report.summary())
    if report.failed:
        raise EngineError(f"{len(report.failed)} dead run(s) could not be removed whole",
                          hint="see above; `drill clean` again once the cause is fixed")


@cli.command()
@compose_option
@click.option("--keep", is_flag=True, help="Leave the stack up afterwards.")
@click.pass_obj
def smoke(progress: Progress, compose_files: tuple[Path, ...], env_files: tuple[Path, ...],
          profiles: tuple[str, ...], allow_host_access: bool, keep: bool) -> None:
    """Up, status, one page and one upload through the edge, down."""
    from chaos.engine.client import connect
    from chaos.stack.smoke import smoke as smoke_test
    from chaos.stack.status import format_status, stack_status

    store = RunStore()
    source = StackSource.of(compose_files, env_files, profiles, allow_host_access)
    state = lifecycle.up(source.up_options(), progress, store)
    try:
        client = connect(progress, may_install=False)
        click.echo(format_status(stack_status(client, state)))
        assert state.edge_url is not None
        with progress.step("a page, an upload and its read-back through the edge"):
            result = smoke_test(state.edge_url)
        click.echo(f"page: HTTP {result.page_status}; upload {result.upload_id} "
                   f"({result.upload_bytes} bytes) acknowledged in {result.upload_seconds:.3f} s; "
                   f"read back {'intact' if result.read_back_intact else 'DIFFERENT'}; "
                   f"RAID {'healthy' if result.raid_healthy else 'NOT healthy'}")
        if not (result.page_status == 200 and result.read_back_intact and result.raid_healthy):
            raise HarnessError("the smoke check failed (see above)")
    finally:
        if not keep:
            lifecycle.down(state.run_id, progress, store)
