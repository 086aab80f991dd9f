"""Reading a scenario file and checking all of it before anything starts.

Every problem is collected (not only the first), each with file, line and
column, what was expected and the closest valid name: the shape (pydantic),
then what depends on the registries and the stack — fault and action names,
their parameters and targets, steps named in `after`, probes and their states,
matrix keys.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from chaos.engine.compose import ComposeProject, load_compose
from chaos.errors import InputError, Problem
from chaos.faults.registry import FAULTS, fault_class
from chaos.load.http_check import StatusMatch
from chaos.load.settings import HOSTING, HOSTING_TASKS, Mix
from chaos.load.traffic import (
    Target,
    Traffic,
    bundled_stack,
    default_traffic,
    inspect_locustfile,
    mix_problem,
)
from chaos.load.verify import ReadBackSpec
from chaos.scenario.actions import ACTIONS
from chaos.scenario.conditions import PROBES
from chaos.scenario.matrix import combinations
from chaos.scenario.model import Condition, Scenario
from chaos.scenario.model import ReadBackSpec as ReadBackModel
from chaos.validation import in_file_order, problems_from, show
from chaos.yamlsource import YamlDocument, did_you_mean, format_path, load_yaml

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
#: A drive, numbered with up to 4 digits: Python will not even read one of 4,300.
DRIVE = re.compile(r"^(?P<server>[^/]+)/disk(?P<n>[0-9]{1,4})$")
#: A compose file's DRIVES (a string: `²` and `١` are digits to str.isdigit but not to int).
DRIVE_COUNT = re.compile(r"[0-9]{1,4}")


@dataclass(frozen=True)
class Topology:
    """What a scenario's targets may name: services, sites, drives per server."""

    services: tuple[str, ...]
    sites: tuple[str, ...]
    #: server -> number of drives (only servers whose compose entry says DRIVES).
    drives: dict[str, int] = field(default_factory=dict)
    #: service -> the container ports it publishes ("80/tcp"), in the compose file's order.
    published: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, project: ComposeProject, drives: int | None) -> Topology:
        sites = sorted({s.site for s in project.spec.services.values() if s.site})
        counts = {}
        for name, service in project.spec.services.items():
            declared = service.environment.get("DRIVES")
            if declared and DRIVE_COUNT.fullmatch(declared):
                counts[name] = drives if drives and service.environment.get("RAID_MEMBERS") == "2" \
                    else int(declared)
        published = {name: tuple(dict.fromkeys(f"{p.target}/{p.protocol}" for p in service.ports))
                     for name, service in project.spec.services.items()}
        return cls(tuple(project.spec.services), tuple(sites), counts, published)


@dataclass(frozen=True)
class LoadedScenario:
    """A scenario that passed every check, with where it came from."""

    path: Path
    scenario: Scenario
    compose_files: tuple[Path, ...]
    topology: Topology
    document: YamlDocument
    #: `stack.env_file`, absolute; None: the `.env` beside the first compose file.
    env_files: tuple[Path, ...] | None = None
    #: The load, the prober and the read-back, resolved (the locustfile inspected).
    traffic: Traffic = field(default_factory=lambda: default_traffic(True))

    @property
    def compose_file(self) -> Path:
        """The first compose file: the project's own."""
        return self.compose_files[0]


def compose_path(path: Path, compose: str) -> Path:
    """A file named in scenario `path`, made absolute (relative names are from its folder)."""
    given = Path(compose)
    return given if given.is_absolute() else (path.parent / given).resolve()


def load_scenario(path: Path, *, interactive: bool = False) -> LoadedScenario:
    """Read and check `path`; InputError with every problem found."""
    document = load_yaml(path)
    if not isinstance(document.data, dict):
        raise InputError([document.problem((), "a scenario is a mapping (apiVersion, name, "
                                                "summary, stack, load, steps, ...)")])
    try:
        scenario = Scenario.model_validate(document.data)
    except ValidationError as e:
        raise InputError(in_file_order(problems_from(e, document, Scenario))) from None
    problems: list[Problem] = []
    stack = scenario.stack
    compose_files = tuple(compose_path(path, f) for f in stack.compose_files)
    env_files = None if stack.env_file is None else tuple(compose_path(path, f)
                                                           for f in stack.env_file)
    topology = Topology((), ())
    try:
        project = load_compose(compose_files, _check_variables(scenario), env_files,
                               profiles=stack.profiles,
                               allow_host_access=stack.allow_host_access)
        topology = Topology.of(project, scenario.stack.drives)
    except InputError as e:
        named = ", ".join(str(f) for f in compose_files)
        problems.append(document.problem(("stack", "compose"),
                                         f"the compose file {named} does not load: "
                                         + (str(e.problems[0]) if e.problems else str(e))))
    if topology.services:
        problems += _semantic_problems(scenario, document, topology, interactive)
    traffic, traffic_problems = resolve_traffic(scenario, path, document,
                                                bundled_stack(compose_files), topology)
    problems += _load_problems(scenario, document) + traffic_problems
    if problems:
        raise InputError(in_file_order(problems))
    return LoadedScenario(path, scenario, compose_files, topology, document, env_files, traffic)


def _check_variables(scenario: Scenario) -> dict[str, str]:
    """What `up` would give the compose file, with placeholders for the run's own values."""
    variables = {"DRILL_RUN": "validate", "DRILL_RUN_DIR": "/nonexistent",
                 "DRILL_DB_PASSWORD": "validate"}
    variables.update({k: str(v) for k, v in scenario.stack.settings.items()})
    if scenario.stack.drives:
        variables["DRILL_DRIVES"] = str(scenario.stack.drives)
    return variables


def _load_problems(scenario: Scenario, document: YamlDocument) -> list[Problem]:
    from chaos.cli.load import parse_size_range

    problems = []
    if scenario.load.prober_rate is not None and scenario.probe.rate is not None:
        problems.append(document.problem(("probe", "rate"), "`load.prober_rate` says the same: "
                                         "keep this one and remove that"))
    if scenario.load.mix and not any(scenario.load.mix.values()):
        problems.append(document.problem(("load", "mix"), "at least one weight must be above 0"))
    try:
        parse_size_range(scenario.load.upload_size)
    except InputError as e:
        problems.append(document.problem(("load", "upload_size"), str(e)))
    return problems


def resolve_traffic(scenario: Scenario, path: Path, document: YamlDocument, bundled: bool,
                    topology: Topology) -> tuple[Traffic, list[Problem]]:
    """The scenario's load, probe and read-back on its stack, with what is wrong with them.

    A user's locustfile is imported in a process of its own (it must import, offer a User
    class, and have every class the mix names); targets must be ports the stack publishes.
    """
    problems: list[Problem] = []
    own = default_traffic(bundled)
    load, probe_spec = scenario.load, scenario.probe
    locustfile, offered = own.locustfile, None
    if load.locustfile is not None:
        locustfile = compose_path(path, load.locustfile)
        try:
            offered = inspect_locustfile(locustfile)
        except InputError as e:
            problems.append(document.problem(("load", "locustfile"), e.message))
    mix = None
    if load.mix and any(load.mix.values()):
        try:
            mix = Mix.of(load.mix)
        except InputError as e:
            problems.append(document.problem(("load", "mix"), e.message))
        reason = mix_problem(mix, locustfile, offered) if mix is not None else None
        if reason and mix is not None:
            name = mix.unknown(offered.names() if offered else
                               HOSTING_TASKS if locustfile == HOSTING else ["Visitor"])[0]
            problems.append(document.problem(("load", "mix", name), reason))
    probe = dataclasses.replace(
        own.probe, path=probe_spec.path or own.probe.path, method=probe_spec.method,
        expect_status=StatusMatch.parse(probe_spec.expect_status),
        expect_body=probe_spec.expect_body, timeout=probe_spec.timeout,
        headers=tuple(probe_spec.headers.items()),
        rate=probe_spec.rate if probe_spec.rate is not None else
        load.prober_rate if load.prober_rate is not None else own.probe.rate)
    read_back, unknown = own.read_back, own.read_back_unknown
    given = scenario.verify.read_back
    if given is False:
        read_back, unknown = None, False
    elif isinstance(given, ReadBackModel):
        read_back, unknown = ReadBackSpec(given.path, StatusMatch.parse(given.expect_status),
                                          given.compare, tuple(given.headers.items())), False
    targets = {}
    for where, spec in (("load", load), ("probe", probe_spec),
                        ("verify", given if isinstance(given, ReadBackModel) else None)):
        target = Target(spec.service, spec.port) if spec is not None else Target()
        targets[where] = target
        reason = target.problem(topology.published) if topology.services else None
        if reason:
            at = (where, "read_back") if where == "verify" else (where,)
            problems.append(document.problem((*at, "port" if spec and spec.port and
                                              spec.service in topology.published else "service"),
                                             reason))
    asks = {"load": load.users > 0, "probe": probe.rate > 0, "read-back": read_back is not None}
    if topology.services and not any(topology.published.values()):
        for what in [w for w, needed in asks.items() if needed][:1]:
            problems.append(document.problem(
                ("stack", "compose"), f"{what} needs a way in, but the stack publishes no port: "
                "publish one with `ports:` in the compose file, or set `load.users: 0`, "
                "`probe.rate: 0` and `verify.read_back: false`"))
    if unknown and (scenario.objectives.max_lost_writes is not None
                    or scenario.objectives.max_corrupt_writes is not None
                    or scenario.objectives.rpo is not None):
        problems.append(document.problem(("objectives",), "judges lost writes, but this stack has "
                                         "no way to read them back: add `verify.read_back: "
                                         "{path: /items/{id}}` (where the app gives a write back)"))
    traffic = Traffic(locustfile, mix, probe, read_back, targets["load"], targets["probe"],
                      targets["verify"], offered, unknown)
    return traffic, problems


def _target_problem(kind: str, target: str | None, topology: Topology) -> str | None:
    """Why `target` is not a valid target of `kind`, or None."""
    services = ", ".join(topology.services)
    if kind == "none":
        return None if target is None or target in topology.services else \
            f"unknown target '{target}'{did_you_mean(target, topology.services)} (servers: {services})"
    if target is None:
        wanted = {"drive": "a drive, e.g. server-a/disk1", "server": "a server, e.g. server-a",
                  "site": "a site, e.g. dc-a", "any": "a drive, a server or a site"}[kind]
        return f"`target` is required: {wanted}"
    if kind == "any":  # where a fault can be: a drive, or else a server or a site
        kind = "drive" if "/" in target else "site"
    if kind == "drive":
        found = DRIVE.match(target)
        if not found:
            return f"'{target}' is not a drive: write SERVER/diskN, e.g. server-a/disk1"
        server, n = found["server"], int(found["n"])
        if server not in topology.drives:
            with_drives = ", ".join(topology.drives) or "none in this stack"
            return f"'{server}' has no drives{did_you_mean(server, topology.drives)} " \
                   f"(servers with drives: {with_drives})"
        if not 1 <= n <= topology.drives[server]:
            return f"{server} has drives disk1..disk{topology.drives[server]}, not disk{n}"
        return None
    if kind == "server":
        return None if target in topology.services else \
            f"unknown server '{target}'{did_you_mean(target, topology.services)} (servers: {services})"
    choices = (*topology.sites, *topology.services)
    return None if target in choices else \
        f"unknown site or service '{target}'{did_you_mean(target, choices)} " \
        f"(sites: {', '.join(topology.sites) or 'none'}; services: {services})"


def _condition_problems(condition: Condition, where: tuple[Any, ...], document: YamlDocument,
                        topology: Topology) -> list[Problem]:
    if condition.probe not in PROBES:
        return [document.problem((*where, "probe"), f"unknown probe '{condition.probe}'"
                                 f"{did_you_mean(condition.probe, PROBES)} (probes: {', '.join(PROBES)})")]
    kind, with_target, without = PROBES[condition.probe]
    states = (*with_target, *without)
    if condition.is_ not in states:
        return [document.problem((*where, "is"), f"probe {condition.probe} has no state "
                                 f"'{condition.is_}'{did_you_mean(condition.is_, states)} "
                                 f"(states: {', '.join(states)})")]
    if condition.is_ in with_target:
        reason = _target_problem(kind, condition.target, topology)
        if reason:
            return [document.problem((*where, "target"), reason)]
    return []


def _semantic_problems(scenario: Scenario, document: YamlDocument, topology: Topology,
                       interactive: bool) -> list[Problem]:
    problems: list[Problem] = []
    names = [step.name for step in scenario.steps]
    seen: set[str] = set()
    for index, step in enumerate(scenario.steps):
        at = ("steps", index)
        if step.name in seen:
            problems.append(document.problem((*at, "name"), f"a second step named '{step.name}'"))
        seen.add(step.name)
        if step.fault is not None:
            if step.fault not in FAULTS:
                problems.append(document.problem((*at, "fault"),
                                                 unknown("fault", step.fault, FAULTS)))
            else:
                fault = fault_class(step.fault)
                reason = _target_problem(fault.target_kind, step.target, topology)
                if reason:
                    problems.append(document.problem((*at, "target"), reason))
                problems += _param_problems(step.params, fault.parameters, f"fault {step.fault}",
                                            at, document)
        elif step.action is not None:
            if step.action not in ACTIONS:
                problems.append(document.problem((*at, "action"),
                                                 unknown("action", step.action, ACTIONS)))
            else:
                action = ACTIONS[step.action]
                reason = _target_problem(action.target_kind, step.target, topology)
                if reason:
                    problems.append(document.problem((*at, "target"), reason))
                problems += _param_problems(step.params, action.parameters, f"action {step.action}",
                                            at, document, required=True)
                named = step.params.get("fault")
                if step.action == "rollback" and named is not None and str(named) not in FAULTS:
                    problems.append(document.problem((*at, "params", "fault"),
                                                     unknown("fault", str(named), FAULTS)))
        elif not interactive:
            problems.append(document.problem((*at, "manual"), "a manual step without a `fault` or "
                                             "`action` to run in its place cannot run without a "
                                             "terminal (CI): add one, or run it from a terminal"))
        if step.after is not None and step.after not in names:
            problems.append(document.problem((*at, "after"), f"no step named '{step.after}'"
                                             f"{did_you_mean(step.after, names)} "
                                             f"(steps: {', '.join(names)})"))
        if step.after == step.name:
            problems.append(document.problem((*at, "after"), "a step cannot start after itself"))
        if step.when is not None:
            problems += _condition_problems(step.when, (*at, "when"), document, topology)
        if step.manual is not None and step.manual.until is not None:
            problems += _condition_problems(step.manual.until, (*at, "manual", "until"), document,
                                            topology)
    graph = {s.name: {s.after} for s in scenario.steps if s.after in names and s.after != s.name}
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as e:
        cycle = " -> ".join(e.args[1])
        problems.append(document.problem(("steps", names.index(e.args[1][0]), "after"),
                                         f"steps wait for each other in a circle: {cycle}"))
    for index, check in enumerate(scenario.verify.checks):
        if check.server not in topology.services:
            problems.append(document.problem(("verify", "checks", index, "server"),
                                             f"unknown server '{check.server}'"
                                             f"{did_you_mean(check.server, topology.services)}"))
    for index, condition in enumerate(scenario.verify.expect):
        problems += _condition_problems(condition, ("verify", "expect", index), document, topology)
    if scenario.objectives.lost_writes is not None:
        if not any(s.action == "restore" for s in scenario.steps):
            problems.append(document.problem(("objectives", "lost_writes"), "is judged against the "
                                             "backup a `restore` step brings back: add one"))
        if not scenario.verify.read_back:
            problems.append(document.problem(("objectives", "lost_writes"), "needs the uploads "
                                             "read back: set `verify.read_back: true`"))
    matrix_problems = []
    for key in scenario.matrix:
        reason = matrix_key_problem(key, names)
        if reason:
            matrix_problems.append(document.problem(("matrix", key), reason))
        elif not scenario.matrix[key]:
            matrix_problems.append(document.problem(("matrix", key), "give at least one value"))
    return problems + (matrix_problems or _matrix_run_problems(scenario, document))


#: A matrix asks for every combination of its values: past this many, a typo (or a file
#: built to) would keep `drill run` going for ever.
MAX_RUNS = 1000


def _matrix_run_problems(scenario: Scenario, document: YamlDocument) -> list[Problem]:
    """The first combination of the matrix's values that is not a valid scenario, as `run` would
    build it; or too many combinations. The keys are known to be valid."""
    runs = 1
    for choices in scenario.matrix.values():
        runs *= len(choices)
        if runs > MAX_RUNS:
            return [document.problem(("matrix",), f"more than {MAX_RUNS} runs (one per combination "
                                                  "of the values); split the matrix")]
    keys = list(scenario.matrix)
    names = [step.name for step in scenario.steps]
    for values in itertools.product(*scenario.matrix.values()):
        try:
            combinations(scenario.model_copy(update={"matrix": {k: [v] for k, v in zip(keys, values,
                                                                                     strict=True)}}))
        except ValidationError as e:
            error = e.errors(include_url=False)[0]
            loc = tuple(error["loc"])
            key = (f"steps.{names[loc[1]]}.{loc[2]}" if loc[:1] == ("steps",) and len(loc) > 2
                   and isinstance(loc[1], int) and loc[1] < len(names)
                   else ".".join(map(str, loc[:3] if loc[:2] == ("stack", "settings") else loc[:2])))
            given = ", ".join(f"{k}={show(v)}" for k, v in zip(keys, values, strict=True))
            given = given if len(given) <= 120 else given[:117] + "..."
            message = error["msg"].removeprefix("Value error, ")
            return [document.problem(("matrix", key) if key in scenario.matrix else ("matrix",),
                                     f"the run with {given} is not valid: {format_path(loc)}: {message}")]
    return []


def unknown(kind: str, name: str, choices: Iterable[str]) -> str:
    """`unknown fault 'x'; did you mean 'y'? (faults: ...)`."""
    listed = list(choices)
    return f"unknown {kind} '{name}'{did_you_mean(name, listed)} ({kind}s: {', '.join(listed)})"


def _param_problems(given: dict[str, Any], known: Any, what: str, at: tuple[Any, ...],
                    document: YamlDocument, required: bool = False) -> list[Problem]:
    problems = []
    for key in given:
        if key not in known:
            problems.append(document.problem((*at, "params", key), f"{what} has no parameter "
                                             f"'{key}'{did_you_mean(key, known)} "
                                             f"(parameters: {', '.join(known) or 'none'})"))
    if required:
        for key, (default, _) in known.items():
            if default is None and key not in given:
                problems.append(document.problem((*at, "params"),
                                                 f"{what} needs the parameter '{key}'"))
    return problems


MATRIX_LOAD = ("users", "duration", "workers", "spawn_rate", "upload_size")
MATRIX_STEP = ("at", "delay", "duration", "target")


def matrix_key_problem(key: str, steps: Iterable[str]) -> str | None:
    """Why a matrix key names nothing a run can vary, or None."""
    parts = key.split(".")
    if parts[0] == "load" and len(parts) == 2 and parts[1] in MATRIX_LOAD:
        return None
    if parts[:2] == ["stack", "drives"] and len(parts) == 2:
        return None
    if parts[:2] == ["stack", "settings"] and len(parts) == 3:
        return None
    step_names = list(steps)
    if parts[0] == "steps" and len(parts) == 3 and parts[2] in MATRIX_STEP:
        if parts[1] in step_names:
            return None
        return f"no step named '{parts[1]}'{did_you_mean(parts[1], step_names)}"
    candidates = [f"load.{k}" for k in MATRIX_LOAD] + ["stack.drives"] + \
        [f"steps.{name}.{k}" for name in step_names for k in MATRIX_STEP]
    return (f"'{key}' cannot vary{did_you_mean(key, candidates)} (what can: "
            f"load.{{{','.join(MATRIX_LOAD)}}}, stack.drives, stack.settings.NAME, "
            f"steps.NAME.{{{','.join(MATRIX_STEP)}}})")


def scenario_files(paths: Iterable[Path] = ()) -> list[Path]:
    """The scenarios named (files or folders), or the shipped library."""
    found: list[Path] = []
    for path in list(paths) or [SCENARIO_DIR]:
        found += sorted(path.glob("*.yaml")) if path.is_dir() else [path]
    return found
