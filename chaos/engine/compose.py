"""Load a compose file: interpolate variables, validate, check the topology.

Every problem found is reported at once, each with file, line, column,
service and key, before anything is created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.engine.compose_model import REFUSED_KEYS, ComposeSpec, Service
from chaos.engine.dotenv import read_env_file
from chaos.engine.interpolation import InterpolationError, Interpolator
from chaos.errors import InputError, Problem
from chaos.validation import in_file_order, problems_from
from chaos.yamlsource import YamlDocument, did_you_mean, load_yaml


@dataclass(frozen=True)
class ComposeProject:
    """A validated compose file, ready to create."""

    file: Path
    spec: ComposeSpec
    #: Services in an order where every dependency comes first.
    order: tuple[str, ...]
    #: What loaded but deserves a word (a variable used unset, as `docker compose` warns).
    notes: tuple[str, ...] = ()

    @property
    def directory(self) -> Path:
        """Relative build contexts and bind sources are resolved from here."""
        return self.file.parent

    def service(self, name: str) -> Service:
        return self.spec.services[name]

    def resolve(self, path: str) -> Path:
        """A path from the file, made absolute relative to the file's folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.directory / candidate).resolve()


def load_compose(path: Path, variables: Mapping[str, str],
                 env_files: Sequence[Path] | None = None) -> ComposeProject:
    """Read, interpolate and validate a compose file; raise InputError listing every problem.

    Interpolation takes `variables` first, then the `env_files` (later ones win), by
    default the `.env` beside the file when there is one, as `docker compose` does.
    """
    document = load_yaml(path)
    if env_files is None:
        env_files = [path.parent / ".env"] if (path.parent / ".env").is_file() else []
    from_files: dict[str, str] = {}
    for env_file in env_files:
        from_files.update(read_env_file(env_file, {**variables, **from_files}))
    variables = {**from_files, **variables}
    problems: list[Problem] = []
    notes: list[str] = []
    data = _interpolate(document.data, (), variables, document, problems, notes)
    if not isinstance(data, dict):
        raise InputError([document.problem((), "a compose file is a mapping with `services:`")])
    try:
        spec = ComposeSpec.model_validate(data)
    except ValidationError as e:
        problems.extend(problems_from(e, document, ComposeSpec, REFUSED_KEYS))
        raise InputError(in_file_order(problems)) from None
    problems.extend(_topology_problems(spec, document))
    order: tuple[str, ...] = ()
    try:
        graph = {name: set(s.depends_on) & set(spec.services) for name, s in spec.services.items()}
        order = tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        cycle = " -> ".join(reversed(e.args[1]))
        problems.append(document.problem(("services", e.args[1][0], "depends_on"),
                                         f"depends_on forms a cycle: {cycle}"))
    if problems:
        raise InputError(in_file_order(problems))
    return ComposeProject(file=path.resolve(), spec=spec, order=order, notes=tuple(notes))


def _interpolate(value: Any, path: tuple[str | int, ...], variables: Mapping[str, str],
                 document: YamlDocument, problems: list[Problem], notes: list[str]) -> Any:
    if isinstance(value, str):
        substitute = Interpolator(variables)
        try:
            result = substitute(value)
        except InterpolationError as e:
            problems.append(document.problem(path, str(e)))
            return value
        for name in substitute.unset:
            notes.append(str(document.problem(
                path, f"variable {name} is not set: an empty string is used, as docker compose "
                      f"does (set it, or give a default: ${{{name}:-default}})")))
        return result
    if isinstance(value, dict):
        return {k: _interpolate(v, (*path, k), variables, document, problems, notes)
                for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, (*path, i), variables, document, problems, notes)
                for i, v in enumerate(value)]
    return value


def _topology_problems(spec: ComposeSpec, document: YamlDocument) -> list[Problem]:
    problems = []
    for name, service in spec.services.items():
        for network in service.networks:
            if network not in spec.networks:
                problems.append(document.problem(
                    ("services", name, "networks", network),
                    f"network '{network}' is not declared under the top-level `networks`"
                    f"{did_you_mean(network, spec.networks)}"))
        for dependency in service.depends_on:
            if dependency not in spec.services:
                problems.append(document.problem(
                    ("services", name, "depends_on", dependency),
                    f"depends on unknown service '{dependency}'"
                    f"{did_you_mean(dependency, spec.services)}"))
            elif dependency == name:
                problems.append(document.problem(
                    ("services", name, "depends_on", dependency), "a service cannot depend on itself"))
            elif (service.depends_on[dependency].condition == "service_healthy"
                  and spec.services[dependency].healthcheck is None):
                problems.append(document.problem(
                    ("services", name, "depends_on", dependency),
                    f"waits for '{dependency}' to be healthy, but '{dependency}' has no healthcheck"))
        for index, mount in enumerate(service.volumes):
            if mount.type == "volume" and mount.source not in spec.volumes:
                problems.append(document.problem(
                    ("services", name, "volumes", index),
                    f"volume '{mount.source}' is not declared under the top-level `volumes`"
                    f"{did_you_mean(mount.source or '', spec.volumes)}"))
    return problems
