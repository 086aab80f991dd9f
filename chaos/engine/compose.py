"""Load a compose project as `docker compose` does: files, includes, extends, profiles.

Each file is interpolated, written in long form and its paths made absolute;
`include` and `extends` are resolved; the files given are merged in order;
services outside the active profiles are dropped; `env_file` and host values
fill in `environment`.  Then the whole project is validated and checked.
Every problem found is reported at once, each with the file, line and column
it came from (also after merging), before anything is created.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.engine import compose_policy
from chaos.engine.compose_merge import merge_files, merge_service
from chaos.engine.compose_model import ComposeSpec, Service
from chaos.engine.compose_normalize import normalise_top
from chaos.engine.dotenv import read_env_file
from chaos.engine.interpolation import InterpolationError, Interpolator
from chaos.engine.located import (
    LDict,
    LList,
    LocatedData,
    Place,
    as_ldict,
    from_document,
    place_of,
    plain,
    untagged,
)
from chaos.errors import InputError, Problem
from chaos.validation import in_file_order, problems_from
from chaos.yamlsource import Override, did_you_mean, load_yaml

#: Sections whose entries an included file adds to the project.
RESOURCES = ("services", "networks", "volumes", "secrets", "configs")


@dataclass(frozen=True)
class ComposeProject:
    """A validated compose project, ready to create."""

    files: tuple[Path, ...]
    spec: ComposeSpec
    #: Services in an order where every dependency comes first.
    order: tuple[str, ...]
    #: What loaded but deserves a word: unset variables, keys noted, ports bound to loopback.
    notes: tuple[str, ...] = ()
    #: The resolved project as plain data (what `drill config` prints).
    data: dict[str, Any] = field(default_factory=dict, repr=False)
    #: Services left out because none of their profiles is active.
    disabled: tuple[str, ...] = ()
    #: Whether the user allowed what reaches into the host (--allow-host-access).
    allow_host_access: bool = False
    #: The variables interpolation used (secrets from `environment:` read them too).
    variables: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def file(self) -> Path:
        """The first file: the project's own (its folder is the project folder)."""
        return self.files[0]

    @property
    def directory(self) -> Path:
        """Relative paths in the project are resolved from here."""
        return self.file.parent

    def service(self, name: str) -> Service:
        return self.spec.services[name]

    def resolve(self, path: str) -> Path:
        """A path from the project, made absolute relative to the project folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else (self.directory / candidate).resolve()


@dataclass
class _Loading:
    """What one load collects while it reads files."""

    variables: Mapping[str, str]
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    #: Files read for `extends: {file: ...}`, by absolute path.
    extended: dict[str, Any] = field(default_factory=dict)
    #: `extends` loops reported (each once, whichever service it is met from).
    loops: set[frozenset[tuple[str, str]]] = field(default_factory=set)


def load_compose(paths: Path | Sequence[Path], variables: Mapping[str, str],
                 env_files: Sequence[Path] | None = None, *, profiles: Sequence[str] = (),
                 allow_host_access: bool = False) -> ComposeProject:
    """Read, merge, interpolate and validate a compose project; InputError lists every problem.

    Interpolation takes `variables` first, then the `env_files` (later ones win), by
    default the `.env` in the project folder (the first file's) when there is one.
    `profiles` (else COMPOSE_PROFILES) choose the services that have `profiles`.
    """
    files = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    if not files:
        raise InputError("no compose file given")
    project_dir = Path(files[0]).absolute().parent
    variables = with_env_files(project_dir, variables, env_files)
    loading = _Loading(variables)
    merged: LDict | None = None
    for path in files:
        data = _read_file(path, project_dir, loading, chain=())
        if data is not None:
            merged = data if merged is None else merge_files(merged, data)
    if merged is None or loading.problems:
        raise InputError(in_file_order(loading.problems))
    merged = untagged(merged)
    located = LocatedData(merged, (str(files[0]), 1, 1))
    active = _active_profiles(profiles, variables)
    disabled = _apply_profiles(located, active, loading)
    _fill_environment(located, loading)
    try:
        spec = ComposeSpec.model_validate(merged)
    except ValidationError as e:
        loading.problems.extend(problems_from(e, located, ComposeSpec))
        raise InputError(in_file_order(loading.problems)) from None
    loading.problems.extend(_topology_problems(spec, located, disabled))
    order: tuple[str, ...] = ()
    try:
        graph = {name: set(starts_after(s)) & set(spec.services)
                 for name, s in spec.services.items()}
        order = tuple(TopologicalSorter(graph).static_order())
    except CycleError as e:
        cycle = " -> ".join(reversed(e.args[1]))
        loading.problems.append(located.problem(("services", e.args[1][0], "depends_on"),
                                                f"depends_on forms a cycle: {cycle}"))
    policy = compose_policy.review(spec, located, allow_host_access=allow_host_access)
    loading.problems.extend(policy.refused)
    if loading.problems:
        raise InputError(in_file_order(loading.problems),
                         hint=compose_policy.HOST_ACCESS_HINT if policy.host_access else None)
    return ComposeProject(files=tuple(p.absolute() for p in files), spec=spec, order=order,
                          notes=tuple(loading.notes + policy.notes), data=plain(merged),
                          disabled=disabled, allow_host_access=allow_host_access,
                          variables=variables)


def starts_after(service: Service) -> dict[str, str]:
    """The services `service` waits for, and how: its `depends_on`, and (started) the
    services it takes volumes from or links to, as compose orders them."""
    named = [*service.volumes_from, *service.links]
    waits = {entry.split(":")[0]: "service_started" for entry in named}
    for mode in (service.network_mode, service.ipc, service.pid):
        if mode and mode.startswith("service:"):
            waits[mode.removeprefix("service:")] = "service_started"
    waits.update({name: how.condition for name, how in service.depends_on.items()})
    return waits


def with_env_files(project_dir: Path, variables: Mapping[str, str],
                   env_files: Sequence[Path] | None) -> dict[str, str]:
    """`variables` over the env files' (later files win); by default the project's `.env`."""
    if env_files is None:
        env_files = [project_dir / ".env"] if (project_dir / ".env").is_file() else []
    from_files: dict[str, str] = {}
    for env_file in env_files:
        from_files.update(read_env_file(Path(env_file), {**variables, **from_files}))
    return {**from_files, **variables}


def _read_file(path: Path, base: Path, loading: _Loading, chain: tuple[str, ...]) -> LDict | None:
    """One file interpolated, in long form, its includes and extends resolved."""
    raw = from_document(load_yaml(path))
    data = _interpolate(raw, (), loading.variables, LocatedData(raw, (str(path), 1, 1)), loading)
    if not isinstance(data, dict):
        loading.problems.append(Problem(str(path), 1, 1, "",
                                        "a compose file is a mapping with `services:`"))
        return None
    data = normalise_top(as_ldict(data), base)
    located = LocatedData(data, (str(path), 1, 1))
    if "include" in data:
        data = _include(data, path, located, loading, (*chain, str(Path(path).absolute())))
    if isinstance(data.get("services"), dict):
        data.put("services", _extend_all(data["services"], path, located, loading),
                 data.places.get("services"))
    return data


def _interpolate(value: Any, path: tuple[str | int, ...], variables: Mapping[str, str],
                 located: LocatedData, loading: _Loading) -> Any:
    if isinstance(value, str):
        substitute = Interpolator(variables)
        try:
            result = substitute(value)
        except InterpolationError as e:
            loading.problems.append(located.problem(path, str(e)))
            return value
        for name in substitute.unset:
            loading.notes.append(str(located.problem(
                path, f"variable {name} is not set: an empty string is used, as docker compose "
                      f"does (set it, or give a default: ${{{name}:-default}})")))
        return result
    if isinstance(value, LDict):
        out = LDict()
        for key, item in value.items():
            out.put(key, _interpolate(item, (*path, key), variables, located, loading),
                    value.places.get(key))
        return out
    if isinstance(value, LList):
        return LList([_interpolate(item, (*path, i), variables, located, loading)
                      for i, item in enumerate(value)], value.places)
    if isinstance(value, Override):
        return Override(_interpolate(value.value, path, variables, located, loading))
    return value


def _include(data: LDict, path: Path, located: LocatedData, loading: _Loading,
             chain: tuple[str, ...]) -> LDict:
    """Add the resources of each included project; a name defined twice is a problem."""
    entries = data["include"]
    if not isinstance(entries, list):
        loading.problems.append(located.problem(("include",), "`include` is a list of files"))
        return data
    out = data.without("include")
    for index, entry in enumerate(entries):
        where = ("include", index)
        if isinstance(entry, str):
            entry = {"path": entry}
        if not isinstance(entry, dict) or not isinstance(entry.get("path"), (str, list)):
            loading.problems.append(located.problem(
                where, "an include is a file name, or a mapping with `path` (and optionally "
                       "`project_directory`, `env_file`)"))
            continue
        unknown = set(entry) - {"path", "project_directory", "env_file"}
        if unknown:
            key = sorted(unknown)[0]
            loading.problems.append(located.problem(
                (*where, key), f"unknown key '{key}'"
                f"{did_you_mean(key, ['path', 'project_directory', 'env_file'])} "
                "(valid keys: env_file, path, project_directory)"))
            continue
        here = Path(path).absolute().parent
        named = [entry["path"]] if isinstance(entry["path"], str) else list(entry["path"])
        files = [here / str(f) for f in named]
        for file in files:
            if str(file.absolute()) in chain:
                loop = " -> ".join(Path(c).name for c in (*chain, str(file)))
                loading.problems.append(located.problem(where, f"include loop: {loop}"))
                return out
            if not file.is_file():
                loading.problems.append(located.problem(
                    where, f"included file {file} does not exist"))
                return out
        project_dir = here / entry["project_directory"] if entry.get("project_directory") \
            else files[0].parent
        env_files = entry.get("env_file")
        env_list = None if env_files is None else [here / e for e in (
            [env_files] if isinstance(env_files, str) else env_files)]
        sub = _Loading({**with_env_files(project_dir, {}, env_list), **loading.variables},
                       loading.problems, loading.notes, loading.extended, loading.loops)
        included: LDict | None = None
        for file in files:
            read = _read_file(file, project_dir, sub, chain)
            if read is not None:
                included = read if included is None else merge_files(included, read)
        if included is None:
            continue
        for section in RESOURCES:
            theirs = included.get(section)
            if not isinstance(theirs, dict):
                continue
            ours = out.get(section)
            ours = ours.copy() if isinstance(ours, LDict) else LDict()
            for name, value in theirs.items():
                if name in ours:
                    loading.problems.append(located.problem(
                        (section, name), f"{section[:-1]} '{name}' is defined here and in the "
                        f"included file {files[0]}: rename one (an include does not override)"))
                    continue
                ours.put(name, value, place_of(theirs, name))
            out.put(section, ours, out.places.get(section) or data.places.get("include"))
    return out


def _extend_all(services: LDict, path: Path, located: LocatedData, loading: _Loading) -> LDict:
    out = LDict()
    for name in services:
        resolved = _extended(services, name, path, located, loading, chain=())
        out.put(name, resolved, services.places.get(name))
    return out


def _extended(services: LDict, name: str, path: Path, located: LocatedData, loading: _Loading,
              chain: tuple[tuple[str, str], ...]) -> Any:
    """Service `name` with what it extends merged under it (recursively)."""
    if not isinstance(services[name], dict) or not isinstance(services[name].get("extends"), dict):
        return services[name]
    service = as_ldict(services[name])
    extends = service["extends"]
    where = ("services", name, "extends")
    key = (str(Path(path).absolute()), name)
    if key in chain:
        loop = " -> ".join(n for _, n in (*chain, key))
        if frozenset(chain) not in loading.loops:  # the same loop seen from another service
            loading.loops.add(frozenset(chain))
            loading.problems.append(located.problem(where, f"extends loop: {loop}"))
        return service.without("extends")
    target = extends.get("service")
    if not isinstance(target, str):
        return service  # validation reports it
    other_path, other_services, other_located = path, services, located
    if isinstance(extends.get("file"), str):
        other_path = Path(extends["file"])
        if not other_path.is_file():
            loading.problems.append(located.problem(
                (*where, "file"), f"extends a file that does not exist: {other_path}"))
            return service.without("extends")
        cached = loading.extended.get(str(other_path))
        if cached is None:
            cached = _read_extended_file(other_path, loading)
            loading.extended[str(other_path)] = cached
        found = cached.get("services")
        other_services = as_ldict(found) if isinstance(found, dict) else LDict()
        other_located = LocatedData(cached, (str(other_path), 1, 1))
    if target not in other_services:
        loading.problems.append(located.problem(
            (*where, "service"), f"extends service '{target}', which {other_path} does not "
            f"define{did_you_mean(target, other_services)}"))
        return service.without("extends")
    base = _extended(other_services, target, other_path, other_located, loading, (*chain, key))
    if not isinstance(base, dict):
        return service.without("extends")
    base = as_ldict(base)
    # As documented for compose: dependencies are never inherited, only stated locally.
    return untagged(merge_service(base.without("extends", "depends_on", "volumes_from"),
                                  service.without("extends")))


def _read_extended_file(path: Path, loading: _Loading) -> LDict:
    """A file named by `extends`: read like any other, but its own services are not added."""
    raw = from_document(load_yaml(path))
    data = _interpolate(raw, (), loading.variables, LocatedData(raw, (str(path), 1, 1)), loading)
    return normalise_top(data, path.absolute().parent) if isinstance(data, LDict) else LDict()


def _active_profiles(profiles: Sequence[str], variables: Mapping[str, str]) -> set[str]:
    if profiles:
        return set(profiles)
    return {p.strip() for p in variables.get("COMPOSE_PROFILES", "").split(",") if p.strip()}


def _apply_profiles(located: LocatedData, active: set[str], loading: _Loading) -> tuple[str, ...]:
    """Drop services none of whose profiles is active; a dependency on one is a problem."""
    services = located.data.get("services")
    if not isinstance(services, LDict):
        return ()
    disabled = {}
    for name, service in services.items():
        wanted = service.get("profiles") if isinstance(service, dict) else None
        if isinstance(wanted, list) and wanted and "*" not in active \
                and not active.intersection(str(p) for p in wanted):
            disabled[name] = [str(p) for p in wanted]
    for name, service in services.items():
        if name in disabled or not isinstance(service, dict):
            continue
        dependencies = service.get("depends_on")
        for dependency, how in (dependencies.items() if isinstance(dependencies, dict) else ()):
            required = not (isinstance(how, dict) and how.get("required") is False)
            if dependency in disabled and required:
                needed = ", ".join(disabled[dependency])
                loading.problems.append(located.problem(
                    ("services", name, "depends_on", dependency),
                    f"depends on '{dependency}', which is only in profile(s) {needed}: "
                    f"enable one with --profile {disabled[dependency][0]}"))
    for name in disabled:
        del services[name]
    return tuple(disabled)


def _fill_environment(located: LocatedData, loading: _Loading) -> None:
    """`env_file` under `environment`, and entries without a value taken from the host.

    As compose: `environment` wins over `env_file`; later env files win over
    earlier ones; `KEY` alone takes the host's value, or is left out when unset.
    """
    services = located.data.get("services")
    if not isinstance(services, LDict):
        return
    for name, service in services.items():
        if not isinstance(service, LDict):
            continue
        environment: dict[str, Any] = {}
        env_places: dict[str, Place] = {}
        refs = service.get("env_file")
        for index, ref in enumerate(refs if isinstance(refs, list) else []):
            if not isinstance(ref, dict) or not isinstance(ref.get("path"), str):
                continue
            file = Path(ref["path"])
            where = ("services", name, "env_file", index)
            if not file.is_file():
                if ref.get("required", True) is not False:
                    loading.problems.append(located.problem(
                        where, f"env file {file} does not exist (create it, or mark it "
                               "optional: `- path: FILE` with `required: false`)"))
                continue
            try:
                if ref.get("format") == "raw":
                    values = _read_raw(file)
                else:
                    values = read_env_file(file, loading.variables)
            except InputError as e:
                loading.problems.append(located.problem(where, e.message.replace("\n", " ")))
                continue
            place: Place = located.where(where)
            for key, value in values.items():
                environment[key] = value
                env_places[key] = place
        given = service.get("environment")
        if isinstance(given, dict):
            for key, value in given.items():
                if value is None:
                    if key in loading.variables:
                        environment[key] = loading.variables[key]
                    elif key not in environment:
                        continue
                else:
                    environment[key] = value
                given_place = place_of(given, key)
                if given_place is not None:
                    env_places[key] = given_place
        elif given is not None:
            continue  # not a mapping: validation reports it
        if environment or "environment" in service:
            service.put("environment", LDict(environment.items(), env_places),
                        service.places.get("environment") or service.places.get("env_file"))


def _read_raw(path: Path) -> dict[str, str]:
    """`format: raw`: each `KEY=VALUE` line taken as written, no quotes or variables."""
    values = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.strip() and not line.lstrip().startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value
    return values


def _topology_problems(spec: ComposeSpec, located: LocatedData, disabled: tuple[str, ...]
                       ) -> list[Problem]:
    problems = []
    for name, service in spec.services.items():
        for network in service.networks:
            if network not in spec.networks:
                problems.append(located.problem(
                    ("services", name, "networks", network),
                    f"network '{network}' is not declared under the top-level `networks`"
                    f"{did_you_mean(network, spec.networks)}"))
        for dependency, how in service.depends_on.items():
            where = ("services", name, "depends_on", dependency)
            if dependency not in spec.services:
                if how.required and dependency not in disabled:  # that one is said already
                    problems.append(located.problem(
                        where, f"depends on unknown service '{dependency}'"
                               f"{did_you_mean(dependency, spec.services)}"))
            elif dependency == name:
                problems.append(located.problem(where, "a service cannot depend on itself"))
            elif how.condition == "service_healthy" and (
                    spec.services[dependency].healthcheck is None
                    or spec.services[dependency].healthcheck.disabled):  # type: ignore[union-attr]
                problems.append(located.problem(
                    where, f"waits for '{dependency}' to be healthy, but '{dependency}' has no "
                           "healthcheck"))
        for index, mount in enumerate(service.volumes):
            if mount.type == "volume" and mount.source and mount.source not in spec.volumes:
                problems.append(located.problem(
                    ("services", name, "volumes", index),
                    f"volume '{mount.source}' is not declared under the top-level `volumes`"
                    f"{did_you_mean(mount.source, spec.volumes)}"))
        for kind in ("secrets", "configs"):
            declared = getattr(spec, kind)
            for index, ref in enumerate(getattr(service, kind)):
                if ref.source not in declared:
                    problems.append(located.problem(
                        ("services", name, kind, index),
                        f"{kind[:-1]} '{ref.source}' is not declared under the top-level "
                        f"`{kind}`{did_you_mean(ref.source, declared)}"))
    return problems
