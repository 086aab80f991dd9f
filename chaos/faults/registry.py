"""Faults by name, imported only when used; `drill faults` lists them."""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from chaos.errors import InputError
from chaos.faults.base import Fault
from chaos.yamlsource import did_you_mean

#: Fault name -> "module:Class".
FAULTS: Mapping[str, str] = {
    "write-error": "chaos.faults.drive:WriteError",
    "read-error": "chaos.faults.drive:ReadError",
    "dead": "chaos.faults.drive:Dead",
    "slow": "chaos.faults.drive:Slow",
    "hang": "chaos.faults.drive:Hang",
    "full": "chaos.faults.space:Full",
    "bitrot": "chaos.faults.corruption:Bitrot",
    "fs-corruption": "chaos.faults.corruption:FsCorruption",
    "power-off": "chaos.faults.site:PowerOff",
    "shutdown": "chaos.faults.site:Shutdown",
    "pause": "chaos.faults.site:Pause",
    "isolate": "chaos.faults.site:Isolate",
}


def fault_class(name: str) -> type[Fault]:
    """The class of fault `name`; InputError listing the valid names otherwise."""
    if name not in FAULTS:
        raise InputError(f"unknown fault {name!r}{did_you_mean(name, FAULTS)} "
                         f"(faults: {', '.join(FAULTS)})")
    module, _, attribute = FAULTS[name].partition(":")
    found: type[Fault] = getattr(importlib.import_module(module), attribute)
    return found


def make_fault(name: str, params: Mapping[str, str] | None = None) -> Fault:
    return fault_class(name)(params)
