"""The migrate verb: a server's array moved onto new drives while the site stays up."""

from __future__ import annotations

import json

import click

from chaos.cli.base import cli
from chaos.engine.runstate import RunStore
from chaos.errors import InputError
from chaos.progress import Progress
from chaos.stack.migration import EventKind, Method, MigrationEvent


def _target_names(server: str, value: str | None) -> list[str] | None:
    """`disk3,disk4` (or `server-a/disk3,...`) -> drive names; None when not given."""
    if value is None:
        return None
    names = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        owner, sep, name = item.rpartition("/")
        if sep and owner != server:
            raise InputError(f"--to {item}: a drive of {server} is needed, not of {owner}")
        names.append(name)
    if not names:
        raise InputError("--to: give drive names, e.g. --to disk3,disk4")
    return names


@cli.command()
@click.option("--server", default="server-a", show_default=True, help="The server whose array moves.")
@click.option("--to", "to", default=None, metavar="DRIVE,...",
              help="The new drives. [default: the spares, one per member]")
@click.option("--method", type=click.Choice([m.value for m in Method]), default=Method.REPLACE.value,
              show_default=True,
              help="replace: member by member (btrfs replace); add-remove: add the new drives, "
                   "then remove the old ones (btrfs relocates the data).")
@click.option("--cutover", is_flag=True,
              help="End with a short cut-over: writes to /srv frozen (fsfreeze) while the array "
                   "is checked on the new drives alone; the window is measured.")
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def migrate(progress: Progress, server: str, to: str | None, method: str, cutover: bool,
            run_id: str | None, as_json: bool) -> None:
    """Move a server's /srv onto new drives while it serves (the live array migration).

    \b
    drill migrate                                 server-a onto its spares, by replace
    drill migrate --to disk3,disk4 --cutover      chosen drives, then a measured cut-over
    drill migrate --method add-remove --json      add the new drives, remove the old ones
    """
    from chaos.engine.client import connect
    from chaos.faults.base import FaultContext
    from chaos.stack.drives import server_drives
    from chaos.stack.migration import describe
    from chaos.stack.migration import migrate as run_migration
    from chaos.yamlsource import did_you_mean

    store = RunStore()
    state = store.resolve(run_id)
    run_dir = store.run_dir(state.run_id)
    servers = sorted(p.parent.parent.name for p in run_dir.glob("*/drives/drives.json"))
    if server not in servers:
        raise InputError(f"no server {server!r} with drives in run {state.run_id}"
                         f"{did_you_mean(server, servers)} (servers: {', '.join(servers) or 'none'})")
    drives = server_drives(run_dir, server)
    names = _target_names(server, to)
    by_name = {d.name: d for d in drives}
    unknown = [n for n in names or [] if n not in by_name]
    if unknown:
        raise InputError(f"{server} has no drive {', '.join(unknown)}"
                         f"{did_you_mean(unknown[0], list(by_name))} (drives: {', '.join(by_name)})")
    ctx = FaultContext(connect(progress, may_install=False), state.run_id, run_dir)

    def show(event: MigrationEvent) -> None:
        if event.kind is EventKind.STARTED:
            progress.info(f"-> {event.step}")
        elif event.kind is EventKind.PROGRESS and event.percent is not None:
            progress.detail(f"{event.step}: {event.percent:.1f}% done")
        elif event.kind is EventKind.FINISHED:
            progress.info(f"   {event.step}: ok ({event.seconds or 0:.2f} s)")

    progress.info(f"migrating {server}:/srv ({method}{', then a cut-over' if cutover else ''})")
    result = run_migration(ctx.machine(server), None if names is None else [by_name[n] for n in names],
                           drives=drives, method=method, cutover=cutover, on_event=show)
    click.echo(json.dumps(result.to_json(), indent=2) if as_json else describe(result))
