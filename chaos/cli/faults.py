"""Fault verbs: faults (the registry), inject, rollback; raid (probe and operations), backup, restore."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chaos.cli.base import cli, parse_settings
from chaos.engine.labels import SITE
from chaos.engine.runstate import RunStore
from chaos.errors import InputError, StackError
from chaos.faults import active
from chaos.faults.base import FaultContext, Injection
from chaos.faults.registry import FAULTS, fault_class, make_fault
from chaos.progress import Progress


def _context(run_id: str | None, progress: Progress) -> FaultContext:
    from chaos.engine.client import connect

    store = RunStore()
    state = store.resolve(run_id)
    return FaultContext(connect(progress, may_install=False), state.run_id,
                        store.run_dir(state.run_id))


def _describe(injection: Injection) -> str:
    if injection.confirmed:
        latency = injection.latency if injection.latency is not None else 0.0
        return (f"{injection.fault} on {injection.target}: in effect {latency * 1000:.0f} ms after "
                f"being asked; {injection.evidence}")
    return f"{injection.fault} on {injection.target}: UNCONFIRMED: {injection.evidence}"


@cli.command("faults")
@click.option("-f", "--compose", "compose_files", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="Also list the targets this compose project has (repeatable: merged).")
@click.option("--env-file", "env_files", multiple=True,
              type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
              help="A file of compose variables for --compose (repeatable).")
@click.option("--profile", "profiles", multiple=True, metavar="NAME",
              help="Enable a compose profile of --compose (repeatable).")
def list_faults(compose_files: tuple[Path, ...], env_files: tuple[Path, ...],
                profiles: tuple[str, ...]) -> None:
    """List the faults and a scenario's actions, with their targets and parameters.

    With --compose FILE, also the targets that project offers: its sites (a
    service's `chaos-harness.site` label or `x-chaos-harness: {site: ...}`),
    services and drives.
    """
    from chaos.scenario.actions import ACTIONS

    click.echo("faults (`drill inject FAULT TARGET`; in a scenario `fault:`), target kind:")
    for name in FAULTS:
        fault = fault_class(name)
        params = ", ".join(f"{k}={d} ({h})" for k, (d, h) in fault.parameters.items())
        click.echo(f"  {name:<14} {fault.target_kind:<7}{fault.summary}"
                   + (f"\n{'':<24}parameters: {params}" if params else ""))
    click.echo("actions (in a scenario `action:`), target kind:")
    for name, found in ACTIONS.items():
        params = ", ".join(_action_parameter(k, d, h) for k, (d, h) in found.parameters.items())
        kind = "-" if found.target_kind == "none" else found.target_kind
        click.echo(f"  {name:<14} {kind:<7}{found.summary}"
                   + (f"\n{'':<24}parameters: {params}" if params else ""))
    if compose_files:
        _list_targets(compose_files, env_files, profiles)


def _list_targets(compose_files: tuple[Path, ...], env_files: tuple[Path, ...],
                  profiles: tuple[str, ...]) -> None:
    import os

    from chaos.engine.compose import load_compose
    from chaos.scenario.check import Topology

    project = load_compose(compose_files, dict(os.environ), env_files or None,
                           profiles=profiles, allow_host_access=True)
    topology = Topology.of(project, None)
    kinds: dict[str, list[str]] = {}
    for fault in FAULTS:
        kinds.setdefault(fault_class(fault).target_kind, []).append(fault)
    on_site = ", ".join(kinds.get("site", []))
    on_drive = ", ".join(kinds.get("drive", []) + kinds.get("server", []))
    click.echo(f"targets in {' + '.join(str(f) for f in compose_files)}:")
    for site in topology.sites:
        members = [name for name, service in project.spec.services.items()
                   if service.site == site]
        click.echo(f"  site {site:<15} {', '.join(members)}  ({on_site})")
    if not topology.sites:
        click.echo("  no sites: mark services with `x-chaos-harness: {site: dc-a}` (or the label "
                   f"{SITE}) to power off, isolate or shut down a whole site")
    for name in topology.services:
        service = project.service(name)
        where = f" (site {service.site})" if service.site else ""
        click.echo(f"  service {name:<12}{where}  ({on_site}: a site target names a service too)")
    for server, count in topology.drives.items():
        click.echo(f"  drives {server}/disk1..disk{count}  ({on_drive}; server faults on {server})")


def _action_parameter(key: str, default: str | None, help_text: str) -> str:
    if default is None:
        return f"{key} (required: {help_text})"
    return f"{key} ({help_text})" if default == "" else f"{key}={default} ({help_text})"


@cli.command()
@click.argument("fault")
@click.argument("target")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="A fault parameter.")
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.option("--json", "as_json", is_flag=True, help="Print the injection as JSON.")
@click.pass_obj
def inject(progress: Progress, fault: str, target: str, settings: tuple[str, ...],
           run_id: str | None, as_json: bool) -> None:
    """Inject FAULT on TARGET (e.g. `drill inject write-error server-a/disk1`)."""
    instance = make_fault(fault, parse_settings(settings, option="--set"))
    ctx = _context(run_id, progress)
    injection = instance.inject(ctx, target)
    active.add(ctx.run_dir, injection)
    click.echo(json.dumps(injection.to_json(), indent=2) if as_json else _describe(injection))
    if not injection.confirmed:
        raise StackError(f"{fault} on {target} could not be confirmed",
                         hint=f"it is recorded; `drill rollback {fault} {target}` undoes it")


@cli.command()
@click.argument("fault", required=False)
@click.argument("target", required=False)
@click.option("--all", "everything", is_flag=True, help="Roll back every fault in place.")
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.pass_obj
def rollback(progress: Progress, fault: str | None, target: str | None, everything: bool,
             run_id: str | None) -> None:
    """Roll back FAULT on TARGET, or --all faults in place."""
    if everything == bool(fault or target) or (fault and not target):
        raise InputError("give FAULT and TARGET, or --all")
    ctx = _context(run_id, progress)
    pairs = ([(i.fault, i.target) for i in active.active(ctx.run_dir)] if everything
             else [(fault or "", target or "")])
    _roll_back(ctx, progress, pairs)
    if not pairs:
        click.echo("no faults in place")


def _roll_back(ctx: FaultContext, progress: Progress, pairs: list[tuple[str, str]]) -> None:
    for name, where in pairs:
        active.roll_back(ctx, name, where)
        click.echo(f"rolled back {name} on {where}")
    if any(name in SITE_FAULTS for name, _ in pairs):
        _report_roles(ctx, progress)


def _site_returns(progress: Progress, target: str, run_id: str | None, faults: tuple[str, ...]
                  ) -> None:
    """Roll back the site faults `faults` in place on `target` (the default one if none is)."""
    ctx = _context(run_id, progress)
    _roll_back(ctx, progress, [(name, target) for name in active.returning(ctx.run_dir, target, faults)])


@cli.command("power-on")
@click.argument("target")
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.pass_obj
def power_on(progress: Progress, target: str, run_id: str | None) -> None:
    """Power TARGET (a site or a server) on again after `power-off` or `shutdown`."""
    _site_returns(progress, target, run_id, ("power-off", "shutdown"))


@cli.command()
@click.argument("target")
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.pass_obj
def reconnect(progress: Progress, target: str, run_id: str | None) -> None:
    """Connect TARGET (a site or a server) to `wan` again after `isolate`."""
    _site_returns(progress, target, run_id, ("isolate",))


#: Faults after which a server returns with whatever role it had: maybe two primaries.
SITE_FAULTS = {"power-off", "shutdown", "pause", "isolate"}


def _report_roles(ctx: FaultContext, progress: Progress) -> None:
    """Who is primary now that a site is back; a split brain said loudly, never hidden.

    Only on a stack with replicated servers (the bundled one): a user's stack has no roles.
    """
    from chaos.stack.replication import render, server_containers, wait_answering

    if not server_containers(ctx.client, ctx.run_id):
        return
    with progress.step("waiting for the servers to answer"):
        status = wait_answering(ctx.client, ctx.run_id)
    for line in render(status):
        click.echo(line)


@cli.command()
@click.argument("server")
@click.argument("operation", required=False, default="status",
                type=click.Choice(["status", "remount", "replace", "scrub", "fail", "add", "remove"]))
@click.argument("drives", nargs=-1)
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.option("--json", "as_json", is_flag=True, help="Print the probe as JSON.")
@click.pass_obj
def raid(progress: Progress, server: str, operation: str, drives: tuple[str, ...],
         run_id: str | None, as_json: bool) -> None:
    """Probe SERVER's array, or operate on it.

    \b
    drill raid server-a                       members, error counters, degraded, read-only
    drill raid server-a remount               a read-only /srv back read-write
    drill raid server-a replace disk1 disk3   rebuild member disk1 onto drive disk3
    drill raid server-a scrub                 check every block; repair from the mirror
    drill raid server-a fail disk1            the member dies (the `dead` fault, recorded)
    drill raid server-a add disk3             a spare joins the array
    drill raid server-a remove disk1          a member leaves (its data moved first)
    """
    from dataclasses import asdict

    from chaos.stack import raid_ops
    from chaos.stack.drives import resolve_drive

    ctx = _context(run_id, progress)
    machine = ctx.machine(server)
    if operation == "remount":
        with progress.step(f"remounting {server}:/srv"):
            raid_ops.remount(machine)
    elif operation == "replace":
        if len(drives) != 2:
            raise InputError("replace needs SOURCE and TARGET drives, e.g. `replace disk1 disk3`")
        target = resolve_drive(ctx.run_dir, f"{server}/{drives[1]}")
        with progress.step(f"rebuilding {server}/{drives[0]} onto {target.name}"):
            result = raid_ops.replace(machine, drives[0], target,
                                      on_progress=lambda p: progress.detail(f"{p:.1f}% done"))
        click.echo(f"replace {result.state} after {result.seconds:.1f} s: {result.status}")
        if not result.finished:
            raise StackError(f"the rebuild of {server}/{drives[0]} failed")
    elif operation == "scrub":
        with progress.step(f"scrubbing {server}:/srv"):
            found = raid_ops.scrub(machine)
        click.echo(f"scrub: {found.errors} error(s), {found.corrected} corrected, "
                   f"{found.uncorrectable} uncorrectable")
    elif operation in ("fail", "add", "remove"):
        if len(drives) != 1:
            raise InputError(f"{operation} needs one drive, e.g. `{operation} disk1`")
        drive = resolve_drive(ctx.run_dir, f"{server}/{drives[0]}")
        if operation == "fail":
            injection = make_fault("dead").inject(ctx, drive.address)
            active.add(ctx.run_dir, injection)
            click.echo(_describe(injection))
        elif operation == "add":
            with progress.step(f"adding {drive.address} to the array"):
                raid_ops.add(machine, drive)
        else:
            with progress.step(f"removing {drive.address} from the array"):
                raid_ops.remove(machine, drive.name)
    status = machine.raid()
    busy = raid_ops.activity(machine)
    if as_json:
        click.echo(json.dumps({**asdict(status), "lost": status.lost, "activity": asdict(busy)},
                              indent=2))
    else:
        click.echo(f"{server}: {status.summary()}\n  rebuild: {busy.rebuild}\n  scrub: {busy.scrub}")


@cli.command()
@click.argument("operation", type=click.Choice(["take", "list"]), default="list", required=False)
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.pass_obj
def backup(progress: Progress, operation: str, run_id: str | None) -> None:
    """Take a backup of server-a now, or list the backup host's backups."""
    from chaos.stack.backups import list_backups, take_backup

    host = _context(run_id, progress).machine("backup")
    backups = [take_backup(host)] if operation == "take" else list_backups(host)
    for item in backups:
        click.echo(f"{item.name}  of {item.source}, {item.uploads} uploads, "
                   f"taken in {item.finished_at - item.taken_at:.1f} s")
    if not backups:
        click.echo("no backups yet")


@cli.command()
@click.argument("server")
@click.option("--backup", "name", default=None, help="The backup to restore. [default: the latest]")
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.pass_obj
def restore(progress: Progress, server: str, name: str | None, run_id: str | None) -> None:
    """Rebuild SERVER's array from scratch and restore a backup onto it."""
    from chaos.stack import raid_ops
    from chaos.stack.backups import list_backups
    from chaos.stack.edge import wait_served_by

    ctx = _context(run_id, progress)
    backups = list_backups(ctx.machine("backup"))
    names = [b.name for b in backups]
    if not backups:
        raise StackError("the backup host has no backup yet", hint="take one: `drill backup take`")
    chosen = name or names[-1]
    if chosen not in names:
        raise InputError(f"no backup {chosen!r} (backups: {', '.join(names)})")
    with progress.step(f"restoring {server} from {chosen}"):
        seconds = raid_ops.restore(ctx.machine(server), "backup", chosen).seconds
    click.echo(f"{server} restored from {chosen} and healthy after {seconds:.1f} s")
    state = RunStore().resolve(run_id)
    if state.edge_url and server.startswith("server"):
        with progress.step(f"waiting for the edge to route to {server} again"):
            wait_served_by(state.edge_url, server)
