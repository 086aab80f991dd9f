"""YAML files read safely, remembering where every value came from.

Validation errors must name the file, line and column of the offending key;
PyYAML's node tree has the marks, so we walk it once beside the data.

A file is hostile input: its size, its nesting, what its aliases and merge keys
expand to and the digits of its integers are bounded, so that no file makes the
loader (or what reads the data after it) crash, recurse too deep or run for ever.
"""

from __future__ import annotations

import difflib
import stat
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
#: Cap on the text of every value once aliases are expanded: one big string
#: repeated by aliases would otherwise be scanned, copied and printed over and over.
MAX_CHARS = MAX_BYTES
#: Cap on nesting (mappings in lists in mappings...): PyYAML's composer and
#: everything that walks the data after it recurse once per level.
MAX_DEPTH = 64
#: Cap on the digits of an integer: Python refuses to print one of over 4300,
#: and a base-60 one (`1:2:3:...`) takes quadratic time to build.
MAX_INT_CHARS = 1000


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
        found = path.stat()
        if stat.S_ISDIR(found.st_mode):
            raise InputError(f"{name}: is a folder, not a file")
        if not stat.S_ISREG(found.st_mode):  # a FIFO would block, /dev/zero would never end
            raise InputError(f"{name}: not a regular file")
        if found.st_size > MAX_BYTES:
            raise InputError(f"{name}: file is {found.st_size} bytes; the limit is {MAX_BYTES}")
        with path.open("rb") as file:
            raw = file.read(MAX_BYTES + 1)  # it may have grown since
    except FileNotFoundError:
        raise InputError(f"{name}: no such file") from None
    except OSError as e:
        raise InputError(f"{name}: cannot read: {e.strerror}") from None
    except ValueError as e:  # a NUL byte in the path
        raise InputError(f"{name!r}: not a usable path: {e}") from None
    if len(raw) > MAX_BYTES:
        raise InputError(f"{name}: file is over {MAX_BYTES} bytes, the limit")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InputError(f"{name}: not UTF-8 text (byte {e.start})") from None
    return parse_yaml(text, name)


def parse_yaml(text: str, name: str) -> YamlDocument:
    """Parse YAML text; syntax errors, unsafe tags and bombs become InputError."""
    loader = None
    try:
        loader = _BoundedLoader(text)  # reading starts here: a NUL or a control character fails now
        node = loader.get_single_node()
        if node is None:
            raise InputError([Problem(name, 1, 1, "", "the file is empty")])
        positions = _positions(node, name)
        data = loader.construct_document(node)
    except _Refused as e:
        raise InputError([_problem_at(name, e.problem_mark, str(e.problem))]) from None
    except yaml.constructor.ConstructorError as e:
        raise InputError([_problem_at(name, e.problem_mark, f"unsupported YAML: {e.problem}")]) from None
    except yaml.MarkedYAMLError as e:
        # "expected a single document in the stream, but found another document"
        what = f"{e.context}, {e.problem}" if e.context else str(e.problem)
        raise InputError([_problem_at(name, e.problem_mark, f"not valid YAML: {what}")]) from None
    except yaml.YAMLError as e:
        raise InputError(f"{name}: not valid YAML: {e}") from None
    finally:
        if loader is not None:
            loader.dispose()
    return YamlDocument(name, data, positions)


def _problem_at(name: str, mark: yaml.Mark | None, message: str) -> Problem:
    return Problem(name, mark.line + 1 if mark else None, mark.column + 1 if mark else None, "", message)


class _Refused(yaml.MarkedYAMLError):
    """Valid YAML the harness will not read: too deep, too big once expanded."""


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, bounded: nesting depth, merge-key expansion, integer size;
    and a scalar its tag cannot read (`!!int abc`, a 13th month) is a located error."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._merged = 0  # entries copied by merge keys, in the whole document

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(problem=f"nested more than {MAX_DEPTH} levels deep; refusing to read it",
                               problem_mark=self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, LookupError, AttributeError, OverflowError) as e:
            # PyYAML's scalar constructors trust the resolver's patterns; an explicit tag skips them.
            tag = node.tag.removeprefix("tag:yaml.org,2002:")
            why = f" ({e})" if isinstance(e, ValueError | OverflowError) else ""
            raise yaml.constructor.ConstructorError(
                problem=f"{_short(node)} is not a valid {tag}{why}",
                problem_mark=node.start_mark) from None

    def construct_yaml_int(self, node: yaml.ScalarNode) -> int:
        if len(node.value) > MAX_INT_CHARS:
            raise _Refused(problem=f"an integer of more than {MAX_INT_CHARS} digits; refusing to read it",
                           problem_mark=node.start_mark)
        return super().construct_yaml_int(node)  # type: ignore[no-untyped-call,no-any-return]

    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        """PyYAML's merge (`<<: *anchor`), with a budget for the whole document: merges of
        merges double at every level with no alias left to count, and each merge copies."""
        merge: list[tuple[yaml.Node, yaml.Node]] = []
        index = 0
        while index < len(node.value):
            key_node, value_node = node.value[index]
            if key_node.tag != "tag:yaml.org,2002:merge":
                if key_node.tag == "tag:yaml.org,2002:value":
                    key_node.tag = "tag:yaml.org,2002:str"
                index += 1
                continue
            del node.value[index]
            sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
            for source in reversed(sources):  # the first source named wins: its keys go last
                if not isinstance(source, yaml.MappingNode):
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping", node.start_mark,
                        f"expected a mapping or list of mappings for merging, but found {source.id}",
                        source.start_mark)
                self.flatten_mapping(source)
                self._merged += len(source.value)
                if self._merged > MAX_NODES:
                    raise _Refused(problem=f"merge keys (<<) copy more than {MAX_NODES} entries "
                                           "(a merge-key bomb?); refusing to read it",
                                   problem_mark=key_node.start_mark)
                merge.extend(source.value)
        if merge:
            node.value = merge + node.value


_BoundedLoader.add_constructor("tag:yaml.org,2002:int", _BoundedLoader.construct_yaml_int)


class Reset:
    """Compose's `!reset`: in a later file, removes what an earlier one set."""

    def __repr__(self) -> str:
        return "!reset"


RESET = Reset()


@dataclass(frozen=True)
class Override:
    """Compose's `!override VALUE`: in a later file, replaces instead of merging."""

    value: Any


def _construct_reset(loader: _BoundedLoader, node: yaml.Node) -> Reset:
    return RESET


def _construct_override(loader: _BoundedLoader, node: yaml.Node) -> Override:
    if isinstance(node, yaml.MappingNode):
        return Override(loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return Override(loader.construct_sequence(node, deep=True))
    return Override(loader.construct_scalar(node))  # type: ignore[arg-type]


_BoundedLoader.add_constructor("!reset", _construct_reset)
_BoundedLoader.add_constructor("!override", _construct_override)


def _short(node: yaml.Node) -> str:
    if not isinstance(node, yaml.ScalarNode):
        return "a mapping" if isinstance(node, yaml.MappingNode) else "a sequence"
    return repr(node.value if len(node.value) <= 60 else node.value[:57] + "...")


def _positions(root: yaml.Node, name: str) -> dict[YamlPath, tuple[int, int]]:
    """Where every path starts, walking aliases as the data will have them, within the caps."""
    out: dict[YamlPath, tuple[int, int]] = {}
    nodes = chars = 0
    inside: set[int] = set()  # ids of the nodes on the way to this one

    def refuse(node: yaml.Node, path: YamlPath, message: str) -> InputError:
        return InputError([Problem(name, node.start_mark.line + 1, node.start_mark.column + 1,
                                   format_path(path), message)])

    def count_text(node: yaml.Node, path: YamlPath) -> None:
        nonlocal chars
        chars += len(node.value)
        if chars > MAX_CHARS:
            raise refuse(node, path, f"more than {MAX_CHARS} characters of keys and values once "
                                     "aliases are expanded (an alias bomb?); refusing to read it")

    def walk(node: yaml.Node, path: YamlPath) -> None:
        nonlocal nodes
        nodes += 1
        if nodes > MAX_NODES:
            raise refuse(node, path, f"more than {MAX_NODES} YAML nodes once aliases are expanded "
                                     "(an alias bomb?); refusing to read it")
        if id(node) in inside:
            raise refuse(node, path, "an alias inside its own anchor (a structure that contains "
                                     "itself); refusing to read it")
        if len(inside) >= MAX_DEPTH:
            raise refuse(node, path, f"nested more than {MAX_DEPTH} levels deep once aliases are "
                                     "expanded; refusing to read it")
        out.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.ScalarNode):
            count_text(node, path)
            return
        inside.add(id(node))
        if isinstance(node, yaml.MappingNode):
            merged: list[yaml.Node] = []
            for key, value in node.value:
                if key.tag == "tag:yaml.org,2002:merge":
                    merged.extend(value.value if isinstance(value, yaml.SequenceNode) else [value])
                    continue
                if isinstance(key, yaml.ScalarNode):
                    child = (*path, key.value)
                    count_text(key, child)
                    out[child] = (key.start_mark.line + 1, key.start_mark.column + 1)
                    walk(value, child)
                else:  # a list or mapping as a key: the constructor refuses it; counted till then
                    walk(key, path)
                    walk(value, path)
            # Keys from `<<: *anchor` point at the anchor, unless given here too.
            for source in merged:
                if isinstance(source, yaml.MappingNode):
                    for key, value in source.value:
                        if isinstance(key, yaml.ScalarNode) and (*path, key.value) not in out:
                            walk(value, (*path, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))
        inside.discard(id(node))

    walk(root, ())
    return out
