"""`drill`: the command line. The only place that exits.

Verbs: images, up, status, down, clean, load, smoke.
"""

from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from chaos import __version__
from chaos.engine import lifecycle
from chaos.engine.runstate import RunStore
from chaos.errors import ExitCode, HarnessError, InputError
from chaos.progress import Progress
from chaos.signals import exit_signals

F = TypeVar("F", bound=Callable[..., Any])


def compose_option(func: F) -> F:
    return click.option(
        "--compose", "compose_file", type=click.Path(path_type=Path, dir_okay=False),
        default=lifecycle.DEFAULT_COMPOSE, show_default="compose/hosting.yml",
        help="The compose file describing the stack.")(func)


def parse_settings(values: tuple[str, ...]) -> dict[str, str]:
    """`--set KEY=VALUE` pairs -> compose variables."""
    settings = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.isidentifier():
            raise InputError(f"--set {value!r}: write KEY=VALUE, e.g. --set DRILL_DRIVE_SIZE_MB=256")
        settings[key] = val
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drill")
@click.option("-q", "--quiet", is_flag=True, help="Print results only, no progress.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool) -> None:
    """Rehearse hosting disasters on a real containerised stack."""
    ctx.obj = Progress(quiet=quiet)


@cli.command()
@compose_option
@click.option("--rebuild", is_flag=True, help="Build even when an image with the same hash exists.")
@click.pass_obj
def images(progress: Progress, compose_file: Path, rebuild: bool) -> None:
    """Make sure a Docker engine answers and the stack's images are built."""
    from chaos.engine.client import connect
    from chaos.engine.images import ensure_images

    store = RunStore()
    _, project = lifecycle.prepare(lifecycle.UpOptions(compose_file=compose_file), store)
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
def up(progress: Progress, compose_file: Path, drives: int | None, edge_port: int | None,
       settings: tuple[str, ...], health_timeout: float, keep_on_failure: bool) -> None:
    """Bring the stack up and wait until every service is healthy."""
    variables = parse_settings(settings)
    if drives is not None:
        variables["DRILL_DRIVES"] = str(drives)
    if edge_port is not None:
        variables["DRILL_EDGE_PORT"] = str(edge_port)
    state = lifecycle.up(lifecycle.UpOptions(compose_file=compose_file, variables=variables,
                                             health_timeout=health_timeout,
                                             keep_on_failure=keep_on_failure), progress)
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
    from chaos.errors import StateError

    try:
        lifecycle.down(run_id, progress)
    except StateError as e:
        if run_id is not None:
            raise
        click.echo(f"nothing to take down ({e.message})")


@cli.command()
@click.option("--all", "include_live", is_flag=True, help="Also remove stacks that are up.")
@click.pass_obj
def clean(progress: Progress, include_live: bool) -> None:
    """Remove what dead runs left behind: containers, networks, volumes, loop devices."""
    from chaos.engine.cleaner import clean as clean_runs
    from chaos.engine.client import try_connect

    client = try_connect()
    if client is None:
        progress.info("no Docker engine answers: cleaning loop devices and run records only")
    report = clean_runs(client, progress, include_live=include_live)
    click.echo(report.summary())


def parse_seconds(value: str, option: str) -> float:
    """`30`, `30s`, `2m`, `1m30s` -> seconds, or an InputError naming the option."""
    from chaos.engine.compose_model import parse_duration

    try:
        seconds = parse_duration(float(value) if value.replace(".", "", 1).isdigit() else value)
    except Exception:
        raise InputError(f"{option} {value!r}: write a duration such as 30s, 2m or 1m30s") from None
    if seconds <= 0:
        raise InputError(f"{option} {value!r}: must be above 0")
    return seconds


def parse_size_range(value: str) -> tuple[int, int]:
    """`1k-256k` -> (1024, 262144)."""
    units = {"": 1, "k": 1024, "m": 1024 * 1024}

    def size(text: str) -> int:
        text = text.strip().lower().removesuffix("b")
        unit = text[-1] if text and text[-1] in "km" else ""
        number = text[: len(text) - len(unit)]
        if not number.isdigit():
            raise InputError(f"--upload-size {value!r}: write MIN-MAX, e.g. 1k-256k")
        return int(number) * units[unit]

    low, sep, high = value.partition("-")
    smallest, largest = size(low), size(high if sep else low)
    if not 0 < smallest <= largest <= 20 * 1024 * 1024:
        raise InputError(f"--upload-size {value!r}: need 0 < MIN <= MAX <= 20m")
    return smallest, largest


@cli.command()
@click.option("--run", "run_id", default=None, help="The stack to load. [default: the current one]")
@click.option("--duration", default="30s", show_default=True, help="How long, e.g. 30s or 2m.")
@click.option("--users", type=click.IntRange(1, 10000), default=10, show_default=True,
              help="Concurrent Locust users.")
@click.option("--spawn-rate", type=click.FloatRange(0.1, 10000), default=10.0, show_default=True,
              help="Users started per second.")
@click.option("--mix", default="", metavar="NAME=W,...",
              help="Weights of browse_static, browse_db, upload, read. [default: 4,3,2,1]")
@click.option("--upload-size", default="1k-64k", show_default=True, help="Upload sizes, MIN-MAX.")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Locust's distributed mode: a master and this many worker processes.")
@click.option("--prober-rate", type=click.FloatRange(0, 100), default=10.0, show_default=True,
              help="Probes of /healthz per second (0: none).")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Read every acknowledged upload back afterwards.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the timeline, ledger and measurements go. [default: results/load-...]")
@click.pass_obj
def load(progress: Progress, run_id: str | None, duration: str, users: int, spawn_rate: float,
         mix: str, upload_size: str, workers: int, prober_rate: float, verify: bool,
         out_dir: Path | None) -> None:
    """Run Locust's hosting mix against the stack and print what the customer saw."""
    import time as clock

    from chaos.load.runner import LoadPlan
    from chaos.load.session import LoadSession
    from chaos.load.settings import LoadSettings, Mix
    from chaos.load.verify import read_back
    from chaos.measure.summary import measure
    from chaos.report.text import render

    seconds = parse_seconds(duration, "--duration")
    smallest, largest = parse_size_range(upload_size)
    settings_mix = Mix.parse(mix)
    state = RunStore().resolve(run_id)
    if not state.edge_url:
        raise InputError(f"run {state.run_id} has no edge URL", hint="is it up? see `drill status`")
    out = out_dir or Path("results") / f"load-{state.run_id}-{clock.strftime('%Y%m%d-%H%M%S')}"
    plan = LoadPlan(state.edge_url, LoadSettings(out.resolve(), settings_mix, smallest, largest),
                    users=users, spawn_rate=spawn_rate, duration=seconds, workers=workers)
    with progress.step(f"{users} users for {seconds:g} s against {state.edge_url} "
                       f"({'1 process' if not workers else f'{workers} workers'})"):
        with LoadSession(plan, prober_rate=prober_rate) as session:
            session.wait()
        records = session.records()
    reads = None
    if verify:
        with progress.step(f"reading back {len(records.acks)} acknowledged uploads"):
            reads = read_back(state.edge_url, records.acks)
    result = measure(records.requests, records.acks, records.started_at, records.ended_at,
                     reads=reads)
    (out / "measurements.json").write_text(json.dumps(result.to_json(), indent=2))
    click.echo(render(result))
    click.echo(f"records and measurements.json in {out}")


@cli.command()
@compose_option
@click.option("--keep", is_flag=True, help="Leave the stack up afterwards.")
@click.pass_obj
def smoke(progress: Progress, compose_file: Path, keep: bool) -> None:
    """Up, status, one page and one upload through the edge, down."""
    from chaos.engine.client import connect
    from chaos.stack.smoke import smoke as smoke_test
    from chaos.stack.status import format_status, stack_status

    store = RunStore()
    state = lifecycle.up(lifecycle.UpOptions(compose_file=compose_file), progress, store)
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


def main(argv: list[str] | None = None) -> None:
    """Entry point of `drill`: run a verb, turn errors into messages and exit codes."""
    try:
        with exit_signals():
            cli.main(args=argv, prog_name="drill", standalone_mode=False)
    except HarnessError as e:
        click.echo(e.render(), err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("interrupted", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except KeyboardInterrupt:
        click.echo("interrupted; what was started has been removed", err=True)
        sys.exit(ExitCode.INTERRUPTED)
    except click.ClickException as e:
        e.show()
        sys.exit(ExitCode.INVALID_INPUT)
    except Exception:  # a bug in the harness: keep the traceback, show a short message
        log = RunStore().root / "last-error.log"
        try:
            log.parent.mkdir(parents=True, exist_ok=True)
            log.write_text(traceback.format_exc())
            where = f" (traceback in {log})"
        except OSError:
            where = ""
            traceback.print_exc()
        click.echo(f"internal error: {sys.exc_info()[1]!r}{where}", err=True)
        sys.exit(ExitCode.HARNESS_OR_STACK_BROKE)
    sys.exit(ExitCode.OK)
