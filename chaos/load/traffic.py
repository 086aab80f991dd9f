"""Which traffic a drill sends: the bundled app's hosting mix, one-page visitors, or a user's locustfile.

A user's locustfile is checked before anything starts, in a process of its own (Locust's
import patches the process with gevent): it must import, offer at least one User class,
and the mix may only name its classes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chaos.errors import InputError, StackError
from chaos.load.prober import BUNDLED_PATH as BUNDLED_PROBE_PATH
from chaos.load.prober import DEFAULT_PATH as DEFAULT_PROBE_PATH
from chaos.load.prober import ProbeSpec
from chaos.load.settings import HOSTING, HOSTING_MIX, HOSTING_TASKS, VISIT, Mix
from chaos.load.verify import ReadBackSpec
from chaos.yamlsource import did_you_mean

BUNDLED_COMPOSE = Path(__file__).resolve().parents[2] / "compose" / "hosting.yml"

#: Importing a locustfile (and Locust) takes about a second; one that hangs is an error.
INSPECT_TIMEOUT = 60.0


@dataclass(frozen=True)
class UserClass:
    """A User class of a locustfile, as Locust sees it."""

    name: str
    weight: int = 1
    fixed_count: int = 0
    host: str | None = None
    tasks: int = 0


@dataclass(frozen=True)
class Locustfile:
    """What a locustfile offers."""

    path: Path
    classes: tuple[UserClass, ...]
    shapes: tuple[str, ...] = field(default=())

    def names(self) -> list[str]:
        return [c.name for c in self.classes]

    def notes(self) -> list[str]:
        """What the harness does differently from plain `locust` with this file."""
        notes = [f"{self.path}: class {c.name} sets host {c.host}; the drill sends it to the run's "
                 "URL instead (a drill never sends traffic outside its run)"
                 for c in self.classes if c.host]
        notes += [f"{self.path}: the load shape {shape} sets the users over time "
                  "(load.users and load.spawn_rate are not used)" for shape in self.shapes[:1]]
        return notes


def inspect_locustfile(path: Path) -> Locustfile:
    """Import `path` in a Locust process of its own; InputError naming the file and the reason."""
    problem = _path_problem(path)
    if problem:
        raise InputError(f"locustfile {path}: {problem}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("DRILL_LOAD_OUT", None)  # importing it must record nothing
    try:
        # -P: its folder first on sys.path would let a user's locust.py hide Locust; Locust
        # adds the folder itself, as it does when it runs the file.
        done = subprocess.run([sys.executable, "-P", "-m", "chaos.load.locustfile_inspect", str(path)],
                              capture_output=True, text=True, timeout=INSPECT_TIMEOUT, env=env,
                              stdin=subprocess.DEVNULL, cwd=path.parent, start_new_session=True)
    except subprocess.TimeoutExpired:
        raise InputError(f"locustfile {path}: importing it did not finish within "
                         f"{INSPECT_TIMEOUT:.0f} s (does it wait for something at import time?)") from None
    last = done.stdout.strip().splitlines()[-1:] or [""]
    try:
        found = json.loads(last[0])
        if not isinstance(found, dict) or not ("error" in found or "classes" in found):
            raise ValueError("not the inspection's answer")
    except ValueError:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise InputError(f"locustfile {path}: could not be inspected (exit {done.returncode}): "
                         + " / ".join(tail)) from None
    if "error" in found:
        where = f"{path}:{found['line']}" if found.get("line") else str(path)
        raise InputError(f"locustfile {where}: does not import: {found['error']}",
                         hint="run `python " + str(path) + "` to see the whole error")
    classes = tuple(UserClass(**c) for c in found["classes"])
    if not classes:
        raise InputError(f"locustfile {path}: has no User class (a subclass of locust's User, "
                         "HttpUser or FastHttpUser that is not abstract)")
    return Locustfile(path, classes, tuple(found["shapes"]))


def _path_problem(path: Path) -> str | None:
    if not path.exists():
        return "no such file"
    if not path.is_file():
        return "is not a file"
    if path.suffix != ".py":
        return "is not a Python file (.py)"
    if "," in str(path):
        return "its path has a comma, which Locust's -f takes as a list: rename or move it"
    return None


def mix_problem(mix: Mix | None, locustfile: Path, offered: Locustfile | None = None) -> str | None:
    """Why `mix` does not fit the traffic of `locustfile`, or None."""
    if mix is None:
        return None
    if locustfile == HOSTING:
        known, kind = list(HOSTING_TASKS), "part of the hosting mix"
    elif locustfile == VISIT:
        known, kind = ["Visitor"], "User class"
    elif offered is not None:
        known, kind = offered.names(), f"User class of {locustfile.name}"
    else:
        return None
    unknown = mix.unknown(known)
    if not unknown:
        return None
    problem = (f"unknown {kind} '{unknown[0]}'{did_you_mean(unknown[0], known)} "
               f"(it has: {', '.join(known)})")
    if locustfile == VISIT and set(unknown) & set(HOSTING_TASKS):
        problem += ("; the hosting mix is the bundled app's traffic: on this stack give your "
                    "own with `load.locustfile`, or leave `load.mix` out")
    return problem


@dataclass(frozen=True)
class Target:
    """A published port requests go to: (service, container port); None: the default."""

    service: str | None = None
    port: str | None = None

    def problem(self, published: Mapping[str, Sequence[str]]) -> str | None:
        """Why the stack (service -> container ports it publishes) has no such port, or None."""
        if self.service is None:
            return None
        if self.service not in published:
            services = [name for name, ports in published.items() if ports]
            return (f"service '{self.service}' publishes no port{did_you_mean(self.service, services)} "
                    f"(services that do: {', '.join(services) or 'none'})")
        ports = list(published[self.service])
        if not ports:
            return f"service '{self.service}' publishes no port (add `ports:` to it in the compose file)"
        if self.port is not None and _port_key(self.port) not in ports:
            return (f"service '{self.service}' publishes no container port {self.port} "
                    f"(it publishes: {', '.join(ports)})")
        return None

    def url(self, published: Mapping[str, Mapping[str, str]], default: str | None) -> str:
        """The URL on the host; StackError when the run does not publish it."""
        if self.service is None:
            if default is None:
                raise StackError("the stack publishes no port: nothing to send requests to",
                                 hint="publish one with `ports:` in the compose file")
            return default
        urls = published.get(self.service) or {}
        if self.port is None and urls:
            return next(iter(urls.values()))
        if self.port is not None and _port_key(self.port) in urls:
            return urls[_port_key(self.port)]
        raise StackError(f"service {self.service} publishes no port {self.port or ''}".rstrip()
                         + f" in this run (it publishes: {', '.join(urls) or 'none'})")

    def __str__(self) -> str:
        if self.service is None:
            return "the edge or first published port"
        return self.service + (f" port {self.port}" if self.port else "")


def _port_key(port: str) -> str:
    return port if "/" in port else f"{port}/tcp"


def bundled_stack(compose_files: Sequence[Path | str]) -> bool:
    """Whether the project is the harness's own stack (its first file is compose/hosting.yml)."""
    return bool(compose_files) and Path(compose_files[0]).resolve() == BUNDLED_COMPOSE


@dataclass(frozen=True)
class Traffic:
    """Everything a drill sends and asks: the load, the prober, the read-back of writes."""

    locustfile: Path
    mix: Mix | None
    probe: ProbeSpec
    #: None: writes are not read back (no way to ask for them, or the scenario said no).
    read_back: ReadBackSpec | None
    load_target: Target = Target()
    probe_target: Target = Target()
    read_back_target: Target = Target()
    #: What a user's locustfile offers (None for the harness's own traffic).
    offered: Locustfile | None = None
    #: The stack brings no way to read its writes back (not: the scenario switched it off).
    read_back_unknown: bool = False

    @property
    def builtin(self) -> bool:
        return self.locustfile in (HOSTING, VISIT)

    def describe(self) -> str:
        """One line: which traffic, for the progress and the result."""
        if self.locustfile == HOSTING:
            what = f"the hosting mix ({self.mix or HOSTING_MIX})"
        elif self.locustfile == VISIT:
            what = f"visitors of {self.probe.path}"
        else:
            classes = str(self.mix) if self.mix else ", ".join(self.offered.names() if self.offered else [])
            what = f"{self.locustfile.name} ({classes})"
        return what


def default_traffic(bundled: bool) -> Traffic:
    """The bundled stack's own traffic, or the one-page visitors of any other."""
    if bundled:
        return Traffic(HOSTING, None, ProbeSpec(path=BUNDLED_PROBE_PATH), ReadBackSpec())
    return Traffic(VISIT, None, ProbeSpec(path=DEFAULT_PROBE_PATH), None, read_back_unknown=True)
