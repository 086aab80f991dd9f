"""Parameters of a load run, passed to Locust processes through the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from chaos.errors import InputError

ENV_PREFIX = "DRILL_LOAD_"


@dataclass(frozen=True)
class Mix:
    """Relative weights of what a visitor does."""

    browse_static: int = 4
    browse_db: int = 3
    upload: int = 2
    read: int = 1

    @classmethod
    def parse(cls, text: str) -> Mix:
        """`browse_static=4,browse_db=3,upload=2,read=1` (missing names keep their default)."""
        known = {f.name for f in fields(cls)}
        weights: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, sep, value = part.partition("=")
            if not sep or name not in known:
                raise InputError(f"mix {text!r}: {part!r} is not NAME=WEIGHT with NAME one of "
                                 f"{', '.join(sorted(known))}")
            try:
                weights[name] = int(value)
            except ValueError:
                raise InputError(f"mix {text!r}: weight of {name} must be a whole number") from None
            if weights[name] < 0:
                raise InputError(f"mix {text!r}: weight of {name} cannot be negative")
        mix = cls(**weights)
        if not any(getattr(mix, n) for n in known):
            raise InputError(f"mix {text!r}: at least one weight must be above 0")
        return mix

    def __str__(self) -> str:
        return ",".join(f"{f.name}={getattr(self, f.name)}" for f in fields(self))


@dataclass(frozen=True)
class LoadSettings:
    """What each Locust process needs to know."""

    out_dir: Path
    mix: Mix = field(default_factory=Mix)
    upload_min: int = 1024
    upload_max: int = 64 * 1024
    wait_min: float = 0.1
    wait_max: float = 0.5
    timeout: float = 10.0
    #: Write the timeline and ledger (off only to measure what recording costs).
    record: bool = True

    def to_environment(self) -> dict[str, str]:
        return {f"{ENV_PREFIX}OUT": str(self.out_dir), f"{ENV_PREFIX}MIX": str(self.mix),
                f"{ENV_PREFIX}UPLOAD": f"{self.upload_min},{self.upload_max}",
                f"{ENV_PREFIX}WAIT": f"{self.wait_min},{self.wait_max}",
                f"{ENV_PREFIX}TIMEOUT": str(self.timeout),
                f"{ENV_PREFIX}RECORD": "1" if self.record else "0"}

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> LoadSettings:
        upload = env.get(f"{ENV_PREFIX}UPLOAD", "1024,65536").split(",")
        wait = env.get(f"{ENV_PREFIX}WAIT", "0.1,0.5").split(",")
        return cls(out_dir=Path(env.get(f"{ENV_PREFIX}OUT", os.getcwd())),
                   mix=Mix.parse(env.get(f"{ENV_PREFIX}MIX", "")),
                   upload_min=int(upload[0]), upload_max=int(upload[1]),
                   wait_min=float(wait[0]), wait_max=float(wait[1]),
                   timeout=float(env.get(f"{ENV_PREFIX}TIMEOUT", "10")),
                   record=env.get(f"{ENV_PREFIX}RECORD", "1") != "0")
