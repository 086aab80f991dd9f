"""`drill load`: Locust's hosting mix against the stack, measured."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from chaos.cli.base import cli
from chaos.engine.runstate import RunStore
from chaos.errors import InputError
from chaos.progress import Progress

if TYPE_CHECKING:
    from chaos.load.traffic import Traffic


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
@click.option("--locustfile", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Your own Locust User classes instead of the harness's traffic (the hosting "
                   "mix on the bundled stack, visitors of --probe-path on any other).")
@click.option("--mix", default="", metavar="NAME=W,...",
              help="Weights: of the hosting mix's browse_static, browse_db, upload, read "
                   "[default: 4,3,2,1], or of your locustfile's User classes. Names left out weigh 0.")
@click.option("--upload-size", default="1k-64k", show_default=True,
              help="Upload sizes of the hosting mix, MIN-MAX.")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Locust's distributed mode: a master and this many worker processes.")
@click.option("--service", default=None, help="Send the load and probes to this service's "
              "published port. [default: the edge, or the first port published]")
@click.option("--port", default=None, help="Which container port of --service (e.g. 80). "
              "[default: its first published]")
@click.option("--probe-path", default=None, help="What the prober asks. [default: /healthz on "
              "the bundled stack, / on any other]")
@click.option("--probe-method", type=click.Choice(["GET", "HEAD", "POST", "PUT", "OPTIONS"]),
              default="GET", show_default=True)
@click.option("--probe-status", default="2xx", show_default=True,
              help="The statuses that count as up: 200, 2xx, 200-299 or a comma-separated list.")
@click.option("--probe-body", default=None, help="A substring a good answer's body holds.")
@click.option("--header", "headers", multiple=True, metavar="'NAME: VALUE'",
              help="Sent with every probe, read-back and visitor request (repeatable), e.g. "
                   "--header 'Host: shop.example'.")
@click.option("--prober-rate", type=click.FloatRange(0, 100), default=10.0, show_default=True,
              help="Probes per second (0: none).")
@click.option("--probe-timeout", type=click.FloatRange(0.01, 60), default=1.0, show_default=True,
              help="Seconds a probe may take before it counts as down.")
@click.option("--read-back", "read_back_path", default=None, metavar="PATH",
              help="How an acknowledged write is read back, with {id}, e.g. /items/{id}. "
                   "[default: /upload/{id} on the bundled stack]")
@click.option("--read-back-status", default="200", show_default=True,
              help="The statuses that mean a write is there.")
@click.option("--compare", type=click.Choice(["sha256", "status"]), default="sha256",
              show_default=True, help="Compare the body read back with the acknowledged "
              "content, or only that it is there.")
@click.option("--verify/--no-verify", default=True, show_default=True,
              help="Read every acknowledged write back afterwards.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              help="Where the timeline, ledger and measurements go. [default: results/load-...]")
@click.pass_obj
def load(progress: Progress, run_id: str | None, duration: str, users: int, spawn_rate: float,
         locustfile: Path | None, mix: str, upload_size: str, workers: int, service: str | None,
         port: str | None, probe_path: str | None, probe_method: str, probe_status: str,
         probe_body: str | None, headers: tuple[str, ...], prober_rate: float,
         probe_timeout: float, read_back_path: str | None, read_back_status: str, compare: str,
         verify: bool, out_dir: Path | None) -> None:
    """Send load to the stack (the harness's traffic or your locustfile) and print what the
    customer saw."""
    import time as clock

    from chaos.load.runner import LoadPlan
    from chaos.load.session import LoadSession
    from chaos.load.settings import LoadSettings
    from chaos.load.traffic import bundled_stack
    from chaos.load.verify import read_back
    from chaos.measure.summary import measure
    from chaos.report.text import render

    seconds = parse_seconds(duration, "--duration")
    smallest, largest = parse_size_range(upload_size)
    state = RunStore().resolve(run_id)
    traffic = traffic_from_options(
        bundled_stack(state.compose_files or [state.compose_file]), locustfile=locustfile,
        mix=mix, service=service, port=port, probe_path=probe_path, probe_method=probe_method,
        probe_status=probe_status, probe_body=probe_body, headers=headers, prober_rate=prober_rate,
        probe_timeout=probe_timeout, read_back_path=read_back_path,
        read_back_status=read_back_status, compare=compare,
        published={name: list(ports) for name, ports in state.published.items()})
    host = traffic.load_target.url(state.published, state.edge_url)
    out = out_dir or Path("results") / f"load-{state.run_id}-{clock.strftime('%Y%m%d-%H%M%S')}"
    settings = LoadSettings(out.resolve(), traffic.mix, smallest, largest,
                            locustfile=traffic.locustfile, visit_path=traffic.probe.path,
                            visit_headers=traffic.probe.headers)
    plan = LoadPlan(host, settings, users=users, spawn_rate=spawn_rate, duration=seconds,
                    workers=workers)
    for note in traffic.offered.notes() if traffic.offered else []:
        progress.info(f"note: {note}")
    with progress.step(f"{users} users of {traffic.describe()} for {seconds:g} s against {host} "
                       f"({'1 process' if not workers else f'{workers} workers'}); probes "
                       f"{traffic.probe.method} {traffic.probe.path}"):
        with LoadSession(plan, probe=traffic.probe, probe_url=host) as session:
            if traffic.offered and traffic.offered.shapes:
                # A load shape ignores --run-time: the load ends when --duration says.
                clock.sleep(seconds)
            else:
                session.wait()
        records = session.records()
    reads = None
    if verify and traffic.read_back is not None:
        with progress.step(f"reading back {len(records.acks)} acknowledged writes "
                           f"({traffic.read_back.path})"):
            reads = read_back(host, records.acks, traffic.read_back)
    elif verify and records.acks:
        progress.info(f"{len(records.acks)} acknowledged writes were not read back: say how "
                      "with --read-back /items/{id}")
    result = measure(records.requests, records.acks, records.started_at, records.ended_at,
                     reads=reads)
    (out / "measurements.json").write_text(json.dumps(result.to_json(), indent=2))
    click.echo(render(result))
    click.echo(f"records and measurements.json in {out}; Locust's own report: "
               f"{out / 'locust.html'}")


def traffic_from_options(bundled: bool, *, locustfile: Path | None, mix: str,
                         service: str | None, port: str | None, probe_path: str | None,
                         probe_method: str, probe_status: str, probe_body: str | None,
                         headers: tuple[str, ...] = (), prober_rate: float = 10.0,
                         probe_timeout: float, read_back_path: str | None,
                         read_back_status: str, compare: str,
                         published: dict[str, list[str]]) -> Traffic:
    """`drill load`'s options as the traffic a scenario would give; InputError naming the option."""
    import dataclasses

    from chaos.load.http_check import StatusMatch
    from chaos.load.settings import Mix
    from chaos.load.traffic import (
        Target,
        Traffic,
        default_traffic,
        inspect_locustfile,
        mix_problem,
    )
    from chaos.load.verify import ReadBackSpec
    from chaos.scenario.model import ReadBackSpec as ReadBackModel
    from chaos.scenario.model import UrlPath, check_headers

    own = default_traffic(bundled)
    chosen = own.locustfile
    offered = None
    if locustfile is not None:
        chosen = locustfile.resolve()
        offered = inspect_locustfile(chosen)
    weights = Mix.parse(mix) if mix.strip() else None
    reason = mix_problem(weights, chosen, offered)
    if reason:
        raise InputError(f"--mix {mix!r}: {reason}")

    def statuses(option: str, text: str) -> StatusMatch:
        try:
            return StatusMatch.parse([part.strip() for part in text.split(",")])
        except ValueError as e:
            raise InputError(f"{option} {text!r}: {e}") from None

    def path(option: str, text: str) -> str:
        from pydantic import TypeAdapter, ValidationError

        try:
            return TypeAdapter(UrlPath).validate_python(text)
        except ValidationError as e:
            raise InputError(f"{option} {text!r}: "
                             f"{e.errors()[0]['msg'].removeprefix('Value error, ')}") from None

    sent = []
    for header in headers:
        name, sep, value = header.partition(":")
        try:
            sent += list(check_headers({name.strip(): value.strip()}).items()) if sep else []
        except ValueError as e:
            raise InputError(f"--header {header!r}: {e}") from None
        if not sep:
            raise InputError(f"--header {header!r}: write it as 'NAME: VALUE'")
    if probe_method == "HEAD" and probe_body:
        raise InputError("--probe-body: a HEAD answer has no body; ask with GET")
    target = Target(service, port)
    problem = target.problem(published) if published else None
    if port is not None and service is None:
        problem = "--port is a port of --service: name the service too"
    if problem:
        raise InputError(f"--service/--port: {problem}")
    probe = dataclasses.replace(own.probe, path=path("--probe-path", probe_path) if probe_path
                                else own.probe.path, method=probe_method,
                                expect_status=statuses("--probe-status", probe_status),
                                expect_body=probe_body or None, rate=prober_rate,
                                timeout=probe_timeout, headers=tuple(sent))
    read_back, unknown = own.read_back, own.read_back_unknown
    if read_back_path is None and (read_back_status != "200" or compare != "sha256"):
        if own.read_back is None:
            raise InputError("--read-back-status and --compare say how writes are read back: "
                             "give --read-back PATH too (e.g. --read-back '/items/{id}')")
        read_back_path = own.read_back.path
    if read_back_path is not None:
        from pydantic import ValidationError

        try:
            status: list[int | str] = [part.strip() for part in read_back_status.split(",")]
            given = ReadBackModel(path=read_back_path, expect_status=status,
                                  compare=compare)  # type: ignore[arg-type]
        except ValidationError as e:
            raise InputError(f"--read-back {read_back_path!r} --read-back-status "
                             f"{read_back_status!r}: "
                             f"{e.errors()[0]['msg'].removeprefix('Value error, ')}") from None
        read_back, unknown = ReadBackSpec(given.path, StatusMatch.parse(given.expect_status),
                                          given.compare, tuple(sent)), False
    elif read_back is not None and sent:
        read_back = dataclasses.replace(read_back, headers=tuple(sent))
    return Traffic(chosen, weights, probe, read_back, target, target, target, offered, unknown)
