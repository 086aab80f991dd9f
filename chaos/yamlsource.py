"""YAML files read safely, remembering where every value came from.

Validation errors must name the file, line and column of the offending key;
PyYAML's node tree has the marks, so we walk it once beside the data.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from chaos.errors import InputError, Problem

YamlPath = tuple[str | int, ...]

#: Cap on nodes visited: a billion-laughs alias bomb fails here, fast.
MAX_NODES = 200_000
MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class YamlDocument:
    """A parsed YAML file: its data and the position of every path in it."""

    file: str
    data: Any
    positions: dict[YamlPath, tuple[int, int]] = field(repr=False)

    def where(self, path: Sequence[str | int]) -> tuple[int | None, int | None]:
        """1-based (line, column) of `path`, or of its nearest known parent."""
        probe: YamlPath = tuple(path)
        while probe not in self.positions and probe:
            probe = probe[:-1]
        if probe in self.positions:
            return self.positions[probe]
        return None, None

    def problem(self, path: Sequence[str | int], message: str) -> Problem:
        """A :class:`Problem` located at `path` in this document."""
        line, column = self.where(path)
        return Problem(self.file, line, column, format_path(path), message)


def format_path(path: Iterable[str | int]) -> str:
    """`('services', 'edge', 'ports', 0)` -> `services.edge.ports[0]`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A '; did you mean ...?' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{close[0]}'?" if close else ""


def load_yaml(path: Path, *, display_name: str | None = None) -> YamlDocument:
    """Read one YAML document with the safe loader; errors become InputError."""
    name = display_name or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read: {e.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: file is {len(raw)} bytes; the limit is {MAX_BYTES}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: not UTF-8 text (byte {e.start})") from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> YamlDocument:
    """Parse YAML text; syntax errors and unsafe tags become InputError."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark
        line = mark.line + 1 if mark else None
        col = mark.column + 1 if mark else None
        raise InputError([Problem(name, line, col, "", f"not valid YAML: {e.problem}")]) from None
    except yaml.YAMLError as e:
        raise InputError(f"{name}: not valid YAML: {e}") from None
    if node is None:
        raise InputError([Problem(name, 1, 1, "", "the file is empty")])
    positions: dict[YamlPath, tuple[int, int]] = {}
    _walk(node, (), positions, [0])
    try:
        data = yaml.SafeLoader(text).get_single_data()
    except yaml.constructor.ConstructorError as e:
        mark = e.problem_mark
        raise InputError([Problem(name, mark.line + 1 if mark else None,
                                  mark.column + 1 if mark else None, "",
                                  f"unsupported YAML: {e.problem}")]) from None
    except yaml.YAMLError as e:
        raise InputError(f"{name}: not valid YAML: {e}") from None
    return YamlDocument(name, data, positions)


def _walk(node: yaml.Node, path: YamlPath, out: dict[YamlPath, tuple[int, int]],
          visited: list[int]) -> None:
    visited[0] += 1
    if visited[0] > MAX_NODES:
        raise InputError(f"more than {MAX_NODES} YAML nodes (an alias bomb?); refusing to read it")
    out.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
    if isinstance(node, yaml.MappingNode):
        merged: list[yaml.Node] = []
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                merged.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
                continue
            if isinstance(key, yaml.ScalarNode):
                child = (*path, key.value)
                out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                _walk(value, child, out, visited)
        # Keys from `<<: *anchor` point at the anchor, unless given here too.
        for source in merged:
            if isinstance(source, yaml.MappingNode):
                for key, value in source.value:
                    if isinstance(key, yaml.ScalarNode) and (*path, key.value) not in out:
                        _walk(value, (*path, key.value), out, visited)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), out, visited)
