"""Parameters of a load run: which traffic (a locustfile), its mix, and how it is paced.

The harness builds them; Locust processes read the part they need from the
environment (`DRILL_LOAD_*`), so one file serves one process or a master and
its workers.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import InputError
from chaos.load.recorder import OUT_VARIABLE, RECORD_VARIABLE

ENV_PREFIX = "DRILL_LOAD_"
HERE = Path(__file__).resolve().parent
#: Loaded by Locust before the traffic's own file: every request into the timeline.
LISTENER = HERE / "chaos_harness_listener.py"
#: The bundled app's traffic; its mix names its tasks.
HOSTING = HERE / "hosting_mix.py"
#: A stack without a locustfile of its own: visitors who GET one page.
VISIT = HERE / "visit_mix.py"
HOSTING_TASKS = ("browse_static", "browse_db", "upload", "read")
MIX_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
#: Locust repeats a task once per unit of weight: a weight of 10**9 would never start.
MAX_WEIGHT = 1000


@dataclass(frozen=True)
class Mix:
    """Relative weights by name: a task of the hosting mix, or a User class of a locustfile.

    A name not given weighs 0: a mix replaces the traffic's own weights, never adds to them.
    """

    weights: tuple[tuple[str, int], ...]

    @classmethod
    def of(cls, weights: Mapping[str, int] | Iterable[tuple[str, int]]) -> Mix:
        """From NAME -> weight; InputError when a weight is not 0..1000 or all are 0."""
        pairs = tuple(weights.items() if isinstance(weights, Mapping) else weights)
        shown = ",".join(f"{n}={w}" for n, w in pairs)
        seen: set[str] = set()
        for name, weight in pairs:
            if not isinstance(name, str) or not MIX_NAME.fullmatch(name):
                raise InputError(f"mix {shown!r}: {name!r} is not a task or User class name")
            if name in seen:
                raise InputError(f"mix {shown!r}: {name} is given twice")
            seen.add(name)
            if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= MAX_WEIGHT:
                raise InputError(f"mix {shown!r}: weight of {name} must be a whole number "
                                 f"from 0 to {MAX_WEIGHT}")
        if not any(weight for _, weight in pairs):
            raise InputError(f"mix {shown!r}: at least one weight must be above 0")
        return cls(pairs)

    @classmethod
    def parse(cls, text: str) -> Mix:
        """`browse_static=4,upload=1` (names not given weigh 0)."""
        pairs = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            name, value = name.strip(), value.strip()
            if not sep or not name:
                raise InputError(f"mix {text!r}: {part!r} is not NAME=WEIGHT")
            if not (value.isascii() and value.isdigit()) or len(value) > 6:
                raise InputError(f"mix {text!r}: weight of {name} must be a whole number "
                                 f"from 0 to {MAX_WEIGHT}")
            pairs.append((name, int(value)))
        if not pairs:
            raise InputError("mix '': give NAME=WEIGHT,... (e.g. browse_static=1)")
        return cls.of(pairs)

    def weight(self, name: str) -> int:
        return dict(self.weights).get(name, 0)

    def names(self) -> list[str]:
        return [name for name, _ in self.weights]

    def unknown(self, known: Iterable[str]) -> list[str]:
        """Names of the mix that `known` does not have."""
        have = set(known)
        return [name for name in self.names() if name not in have]

    def __str__(self) -> str:
        return ",".join(f"{name}={weight}" for name, weight in self.weights)


#: The hosting mix's own weights, when no mix is given.
HOSTING_MIX = Mix((("browse_static", 4), ("browse_db", 3), ("upload", 2), ("read", 1)))


@dataclass(frozen=True)
class LoadSettings:
    """What the Locust processes run and how."""

    out_dir: Path
    #: None: the traffic's own weights (the hosting mix's 4,3,2,1; a locustfile's classes').
    mix: Mix | None = None
    upload_min: int = 1024
    upload_max: int = 64 * 1024
    wait_min: float = 0.1
    wait_max: float = 0.5
    timeout: float = 10.0
    #: Write the timeline and ledger (off only to measure what recording costs).
    record: bool = True
    #: The traffic: the hosting mix, the one-page visitors, or a user's own locustfile.
    locustfile: Path = HOSTING
    #: The page `visit_mix.py` asks for, and the headers it sends (the probe's).
    visit_path: str = "/"
    visit_headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        # Locust runs from the locustfile's folder: every path it is given is absolute.
        object.__setattr__(self, "out_dir", self.out_dir.absolute())
        object.__setattr__(self, "locustfile", self.locustfile.absolute())

    @property
    def weighs_tasks(self) -> bool:
        """The hosting mix's mix names its tasks; any other locustfile's, its User classes."""
        return self.locustfile == HOSTING

    def weight(self, task: str) -> int:
        """A task's weight in the hosting mix."""
        return (self.mix or HOSTING_MIX).weight(task)

    def to_environment(self) -> dict[str, str]:
        env = {OUT_VARIABLE: str(self.out_dir), RECORD_VARIABLE: "1" if self.record else "0",
               f"{ENV_PREFIX}UPLOAD": f"{self.upload_min},{self.upload_max}",
               f"{ENV_PREFIX}WAIT": f"{self.wait_min},{self.wait_max}",
               f"{ENV_PREFIX}TIMEOUT": str(self.timeout),
               f"{ENV_PREFIX}VISIT": self.visit_path,
               f"{ENV_PREFIX}VISIT_HEADERS": json.dumps(dict(self.visit_headers))}
        if self.mix is not None and self.weighs_tasks:
            env[f"{ENV_PREFIX}MIX"] = str(self.mix)
        return env

    def locust_arguments(self) -> list[str]:
        """`-f LISTENER,FILE`, and with a mix of classes, which classes run and their weights."""
        # Without recording, no listener at all: plain Locust on the same file (the bench's
        # baseline); `ledger.acknowledge` then records nothing.
        arguments = ["-f", f"{LISTENER},{self.locustfile}" if self.record else str(self.locustfile)]
        if self.mix is not None and not self.weighs_tasks:
            weighted = [(name, weight) for name, weight in self.mix.weights if weight > 0]
            # Only the weighted classes run (Locust's positional names): it drops weight-0
            # classes before it applies --config-users, and a class the mix left out must
            # not run at its own weight. Options must follow: --config-users takes a list.
            arguments += [name for name, _ in weighted]
            arguments += ["--config-users", json.dumps([{"user_class_name": name, "weight": weight}
                                                        for name, weight in weighted])]
        return arguments

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> LoadSettings:
        upload = env.get(f"{ENV_PREFIX}UPLOAD", "1024,65536").split(",")
        wait = env.get(f"{ENV_PREFIX}WAIT", "0.1,0.5").split(",")
        mix = env.get(f"{ENV_PREFIX}MIX")
        return cls(out_dir=Path(env.get(OUT_VARIABLE, os.getcwd())),
                   mix=Mix.parse(mix) if mix else None,
                   upload_min=int(upload[0]), upload_max=int(upload[1]),
                   wait_min=float(wait[0]), wait_max=float(wait[1]),
                   timeout=float(env.get(f"{ENV_PREFIX}TIMEOUT", "10")),
                   record=env.get(RECORD_VARIABLE, "1") != "0",
                   visit_path=env.get(f"{ENV_PREFIX}VISIT", "/"),
                   visit_headers=tuple(json.loads(env.get(f"{ENV_PREFIX}VISIT_HEADERS") or "{}").items()))

