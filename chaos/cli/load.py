"""`drill load`: Locust's hosting mix against the stack, measured."""

from __future__ import annotations

import json
from pathlib import Path

import click

from chaos.cli.base import cli
from chaos.engine.runstate import RunStore
from chaos.errors import InputError
from chaos.progress import Progress


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
        if not (number.isascii() and number.isdigit()):  # '²' is a digit to isdigit, not to int
            raise InputError(f"--upload-size {value!r}: write MIN-MAX, e.g. 1k-256k")
        if len(number) > 9:  # far above the limit; and int() refuses 4300 digits
            raise InputError(f"--upload-size {value!r}: need 0 < MIN <= MAX <= 20m")
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
