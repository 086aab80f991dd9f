"""Fault verbs: faults (the registry), inject, rollback, raid (probe and operations)."""

from __future__ import annotations

import json

import click

from chaos.cli.base import cli, parse_settings
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
def list_faults() -> None:
    """List the faults that can be injected, with their parameters."""
    for name in FAULTS:
        fault = fault_class(name)
        params = ", ".join(f"{k}={d} ({h})" for k, (d, h) in fault.parameters.items())
        click.echo(f"{name:<12} {fault.summary}" + (f"\n{'':<13}parameters: {params}" if params else ""))


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
    for name, where in pairs:
        make_fault(name).rollback(ctx, where)
        active.remove(ctx.run_dir, name, where)
        click.echo(f"rolled back {name} on {where}")
    if not pairs:
        click.echo("no faults in place")


@cli.command()
@click.argument("server")
@click.argument("operation", required=False, type=click.Choice(["status", "remount"]),
                default="status")
@click.option("--run", "run_id", default=None, help="The run. [default: the current one]")
@click.option("--json", "as_json", is_flag=True, help="Print the probe as JSON.")
@click.pass_obj
def raid(progress: Progress, server: str, operation: str, run_id: str | None, as_json: bool) -> None:
    """Probe a server's array, or operate on it (remount)."""
    from dataclasses import asdict

    from chaos.stack.raid_ops import remount

    ctx = _context(run_id, progress)
    machine = ctx.machine(server)
    if operation == "remount":
        with progress.step(f"remounting {server}:/srv"):
            remount(machine)
    status = machine.raid()
    click.echo(json.dumps(asdict(status), indent=2) if as_json else f"{server}: {status.summary()}")
