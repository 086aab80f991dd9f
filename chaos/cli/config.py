"""`drill config`: the compose project as the harness will create it, resolved, as YAML."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click
import yaml

from chaos.cli.base import StackSource, cli, compose_option, parse_settings
from chaos.engine.compose import ComposeProject, load_compose
from chaos.engine.runstate import RunStore

#: What a run gives every compose file; shown as placeholders, as no run exists yet.
RUN_PLACEHOLDERS = {"DRILL_RUN": "<run>", "DRILL_DB_PASSWORD": "<generated for each run>"}


@cli.command("config")
@compose_option
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE",
              help="Set a compose variable (repeatable).")
@click.option("-q", "--quiet", "quiet_check", is_flag=True,
              help="Only check: print nothing, exit 0 when the project loads, 2 when not.")
def config(compose_files: tuple[Path, ...], env_files: tuple[Path, ...], profiles: tuple[str, ...],
           allow_host_access: bool, settings: tuple[str, ...], quiet_check: bool) -> None:
    """Print the resolved compose project (as `docker compose config` does), and what it notes.

    \b
    Variables interpolated (.env and --env-file), files merged (-f a.yml -f b.yml),
    `include`, `extends` and profiles applied, `env_file` read into `environment`,
    relative paths made absolute. Notes (keys that have no effect in a drill,
    ports bound to 127.0.0.1, container names made aliases) are comments on top.
    Exit 2 with file:line:column for every problem.
    """
    source = StackSource.of(compose_files, env_files, profiles, allow_host_access)
    variables = {**os.environ, **parse_settings(settings)}
    for key, value in RUN_PLACEHOLDERS.items():
        variables.setdefault(key, value)
    variables.setdefault("DRILL_RUN_DIR", str(RunStore().run_dir("<run>")))
    project = load_compose(source.compose_files, variables, source.env_files,
                           profiles=source.profiles, allow_host_access=source.allow_host_access)
    if not quiet_check:
        click.echo(render_config(project), nl=False)


def render_config(project: ComposeProject) -> str:
    """The project as YAML, with its notes as comments above it."""
    lines = [f"# {' + '.join(str(f) for f in project.files)}"]
    lines += [f"# note: {note}" for note in project.notes]
    if project.disabled:
        lines.append(f"# not started (no active profile): {', '.join(project.disabled)}")
    return "\n".join(lines) + "\n" + yaml.safe_dump(shown_data(project), sort_keys=False,
                                                    allow_unicode=True, width=100)


def shown_data(project: ComposeProject) -> dict[str, Any]:
    """The resolved data as the harness creates it: ports on 127.0.0.1 unless said, the
    default network, container names as aliases."""
    data = dict(project.data)
    data.pop("include", None)
    services = {}
    for name, raw in (data.get("services") or {}).items():
        service = dict(raw)
        model = project.service(name)
        if model.ports:
            service["ports"] = [{**(p if isinstance(p, dict) else {}),
                                 **port.model_dump(exclude_defaults=True),
                                 "host_ip": port.host_ip or "127.0.0.1"}
                                for p, port in zip(_as_list(raw.get("ports")), model.ports,
                                                   strict=False)] \
                if len(_as_list(raw.get("ports"))) == len(model.ports) else \
                [{**port.model_dump(exclude_defaults=True), "host_ip": port.host_ip or "127.0.0.1"}
                 for port in model.ports]
        if model.network_mode is None:
            networks = {}
            for network, attached in model.networks.items():
                entry = attached.model_dump(exclude_defaults=True)
                if model.container_name:
                    entry["aliases"] = [*entry.get("aliases", []), model.container_name]
                networks[network] = entry or None
            service["networks"] = networks
        services[name] = service
    data["services"] = services
    if project.spec.networks:
        data["networks"] = {name: network.model_dump(exclude_defaults=True) or None
                            for name, network in project.spec.networks.items()}
    return data


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
