"""Replication verbs: replication (the probe), promote, failback, switchover."""

from __future__ import annotations

import json
from dataclasses import asdict

import click
import docker

from chaos.cli.base import cli
from chaos.engine.runstate import RunStore
from chaos.errors import StackError
from chaos.progress import Progress
from chaos.stack import failover
from chaos.stack.replication import ReplicationStatus, probe_replication, render

RUN_OPTION = click.option("--run", "run_id", default=None,
                          help="The run. [default: the current one]")


def _client_and_run(run_id: str | None, progress: Progress) -> tuple[docker.DockerClient, str]:
    from chaos.engine.client import connect

    state = RunStore().resolve(run_id)
    return connect(progress, may_install=False), state.run_id


def _show(status: ReplicationStatus, as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(status.to_json(), indent=2))
    else:
        click.echo("\n".join(render(status)))


@cli.command("replication")
@RUN_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--check", is_flag=True,
              help="Exit 1 on split brain, or when a standby does not stream from its primary.")
@click.pass_obj
def replication(progress: Progress, run_id: str | None, as_json: bool, check: bool) -> None:
    """Roles of the servers, each standby's lag, the last replicated upload, split brain."""
    client, run = _client_and_run(run_id, progress)
    status = probe_replication(client, run)
    _show(status, as_json)
    if check:
        if status.split_brain:
            raise StackError(f"split brain: {', '.join(status.primaries)} are all primaries")
        stalled = [lag.standby for lag in status.lags if not lag.streaming]
        if stalled:
            raise StackError(f"not streaming from their primary: {', '.join(stalled)}")


@cli.command()
@click.argument("server")
@RUN_OPTION
@click.pass_obj
def promote(progress: Progress, server: str, run_id: str | None) -> None:
    """Promote standby SERVER to primary now (the watchdog does it after its grace time)."""
    client, run = _client_and_run(run_id, progress)
    with progress.step(f"promoting {server}"):
        done = failover.promote(client, run, server)
    click.echo(f"{server} is the primary ({done.seconds:.1f} s)")


@cli.command()
@click.argument("server", required=False)
@click.option("--to", "new", default=None, help="The primary to follow. [default: the newest one]")
@click.option("--switch-back", is_flag=True,
              help="Then swap roles again: SERVER primary, the other following it.")
@RUN_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def failback(progress: Progress, server: str | None, new: str | None, switch_back: bool,
             run_id: str | None, as_json: bool) -> None:
    """Make SERVER (default: the stale primary) a standby of the new primary.

    \b
    pg_rewind, or a fresh base backup where that fails; uploads only SERVER
    had (a split brain's) are listed: following the new primary drops them.
    """
    client, run = _client_and_run(run_id, progress)
    with progress.step("failing back" + (f" {server}" if server else "")):
        done = failover.failback(client, run, old=server, new=new,
                                 switch_back=switch_back)
    if as_json:
        click.echo(json.dumps(asdict(done), indent=2))
        return
    click.echo(f"{done.old_primary} follows {done.new_primary} ({done.method}, {done.seconds:.1f} s)")
    if done.diverged is None:
        click.echo(f"  {done.old_primary}'s database did not answer: uploads only it had are unknown")
    elif done.diverged:
        click.echo(f"  {len(done.diverged)} upload(s) only {done.old_primary} had, now dropped: "
                   + ", ".join(done.diverged[:20]) + (" ..." if len(done.diverged) > 20 else ""))
    if done.switched_back:
        click.echo(f"  switched back: {done.old_primary} is the primary again "
                   f"(writes refused for {done.switchover_seconds:.1f} s)")


@cli.command()
@click.option("--to", "target", required=True, help="The standby to become the primary.")
@RUN_OPTION
@click.pass_obj
def switchover(progress: Progress, target: str, run_id: str | None) -> None:
    """Planned swap of roles: no write lost, writes refused for a few seconds."""
    client, run = _client_and_run(run_id, progress)
    with progress.step(f"switching over to {target}"):
        done = failover.switchover(client, run, to=target)
    click.echo(f"{done.new_primary} is the primary, {done.old_primary} follows it "
               f"(writes refused for {done.seconds:.1f} s)")
