"""`drill`'s command group, shared option helpers, and `main`: the only place that exits."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
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
    """`-f/--compose FILE` (repeatable), `--env-file`, `--profile`, `--allow-host-access`.

    The command receives them as one `stack: StackSource`.
    """
    options = [
        click.option("-f", "--compose", "compose_files", multiple=True,
                     type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                     help="A compose file describing the stack; several are merged in order, "
                          "as `docker compose -f a.yml -f b.yml`. [default: compose/hosting.yml]"),
        click.option("--env-file", "env_files", multiple=True,
                     type=click.Path(path_type=Path, dir_okay=False), metavar="FILE",
                     help="A file of compose variables (repeatable). [default: the .env beside "
                          "the first compose file]"),
        click.option("--profile", "profiles", multiple=True, metavar="NAME",
                     help="Enable a compose profile (repeatable; default: COMPOSE_PROFILES)."),
        click.option("--allow-host-access", is_flag=True,
                     help="Allow what reaches into the host: Docker socket and system binds, "
                          "host namespaces, privileged, devices, ports on every address."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass(frozen=True)
class StackSource:
    """Which compose project, from the command line."""

    compose_files: tuple[Path, ...]
    env_files: tuple[Path, ...] | None
    profiles: tuple[str, ...]
    allow_host_access: bool

    @classmethod
    def of(cls, compose_files: tuple[Path, ...], env_files: tuple[Path, ...],
           profiles: tuple[str, ...], allow_host_access: bool) -> StackSource:
        return cls(compose_files or (lifecycle.DEFAULT_COMPOSE,), env_files or None, profiles,
                   allow_host_access)

    def up_options(self, **more: Any) -> lifecycle.UpOptions:
        return lifecycle.UpOptions(compose_files=self.compose_files, env_files=self.env_files,
                                   profiles=self.profiles,
                                   allow_host_access=self.allow_host_access, **more)


def parse_settings(values: tuple[str, ...], option: str = "--set") -> dict[str, str]:
    """`KEY=VALUE` pairs -> a dict; InputError naming the option otherwise."""
    settings = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not sep or not key.replace("-", "_").isidentifier():
            raise InputError(f"{option} {value!r}: write KEY=VALUE, e.g. {option} DRILL_DRIVE_SIZE_MB=256")
        settings[key] = val
    return settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="drill")
@click.option("-q", "--quiet", is_flag=True, help="Print results only, no progress.")
@click.pass_context
def cli(ctx: click.Context, quiet: bool) -> None:
    """Rehearse hosting disasters on a real containerised stack."""
    ctx.obj = Progress(quiet=quiet)


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
