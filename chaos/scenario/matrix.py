"""A scenario's matrix: every combination of the values it declares, as scenarios of their own."""

from __future__ import annotations

import itertools
from typing import Any

from chaos.scenario.model import Scenario


def expand(scenario: Scenario) -> list[tuple[str, Scenario]]:
    """(label, scenario) per combination; one unlabelled scenario without a matrix."""
    return [(label, run) for label, _, run in combinations(scenario)]


def combinations(scenario: Scenario) -> list[tuple[str, dict[str, Any], Scenario]]:
    """(label, {key: value}, scenario) per combination; one unlabelled, empty one without a matrix."""
    if not scenario.matrix:
        return [("", {}, scenario)]
    keys = list(scenario.matrix)
    runs = []
    for values in itertools.product(*(scenario.matrix[k] for k in keys)):
        data = scenario.model_dump(by_alias=True)
        data["matrix"] = {}
        for key, value in zip(keys, values, strict=True):
            _set(data, key, value)
        label = ", ".join(f"{k}={v}" for k, v in zip(keys, values, strict=True))
        runs.append((label, dict(zip(keys, values, strict=True)), Scenario.model_validate(data)))
    return runs


def _set(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    if parts[0] == "steps":
        step = next(s for s in data["steps"] if s["name"] == parts[1])
        step[parts[2]] = value
        return
    node = data
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value
