"""Hostile input: scenario and compose files built to break the loader.

Random YAML trees, mutations of the shipped files, raw bytes, and a hand-picked
list of known attacks (alias and merge-key bombs, 5,000 levels of nesting,
`!!python/...` tags, numbers beyond any float, files that are not files). Each
one loads, or is an :class:`InputError` naming the file -- never another
exception, never a hang; through `drill validate` it is exit 2 with no
traceback, and no Docker client is ever made.

Hypothesis runs a fixed number of cases per property (profile `hostile`; with
CI=true, `hostile-ci`: derandomized, so every CI run tries the same cases).
`pytest --hypothesis-show-statistics` prints how many ran.
"""

from __future__ import annotations

import copy
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from chaos.cli import main
from chaos.engine.compose import load_compose
from chaos.errors import InputError
from chaos.scenario.check import load_scenario
from chaos.yamlsource import MAX_BYTES, MAX_DEPTH, MAX_NODES

ROOT = Path(__file__).resolve().parents[2]
RUN_VARS = {"DRILL_RUN": "hostile", "DRILL_RUN_DIR": "/nonexistent", "DRILL_DB_PASSWORD": "pw"}
#: A Docker call would go here and fail: nothing listens on the discard port.
NO_DOCKER = "tcp://127.0.0.1:9"

settings.register_profile("hostile", max_examples=300, deadline=None, database=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("hostile-ci", settings.get_profile("hostile"), derandomize=True)
HOSTILE = settings.get_profile("hostile-ci" if os.environ.get("CI") == "true" else "hostile")
#: `drill validate` costs more per case (signal handlers, click): fewer cases.
HOSTILE_CLI = settings(HOSTILE, max_examples=100)


# -- the oracle -------------------------------------------------------------------------------------

Loader = Callable[[Path], object]


def scenario_loader(path: Path) -> object:
    return load_scenario(path, interactive=False)


def compose_loader(path: Path) -> object:
    return load_compose(path, RUN_VARS)


LOADERS: dict[str, Loader] = {"scenario": scenario_loader, "compose": compose_loader}


def loads_or_refuses(load: Loader, path: Path) -> InputError | None:
    """None if `path` loads; else its InputError, checked to name the file. Anything else raises."""
    try:
        load(path)
    except InputError as e:
        shown = e.render()
        assert str(path) in shown, shown[:500]
        assert all(p.file == str(path) and p.message for p in e.problems), e.problems[:5]
        return e
    return None


def refused(load: Loader, path: Path) -> InputError:
    error = loads_or_refuses(load, path)
    assert error is not None, f"{path.name} loaded, but it should be refused"
    return error


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


@pytest.fixture(scope="module", autouse=True)
def no_docker_client() -> Iterator[list[str]]:
    """Fails the module if anything makes a Docker client (even one whose error is swallowed)."""
    made: list[str] = []
    original = docker.APIClient.__init__

    def record(self: Any, *args: Any, **kwargs: Any) -> None:
        made.append(repr((args, kwargs)))
        original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(docker.APIClient, "__init__", record)
        patch.setenv("DOCKER_HOST", NO_DOCKER)
        yield made
    assert made == [], f"Docker clients were made while reading files: {made}"


def write(workdir: Path, name: str, content: str | bytes) -> Path:
    path = workdir / name
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


# -- strategies -------------------------------------------------------------------------------------

SCENARIO_WORDS = [
    "apiVersion", "name", "summary", "stack", "compose", "drives", "settings", "load", "users",
    "spawn_rate", "duration", "mix", "upload", "upload_size", "workers", "prober_rate", "steady_state",
    "steps", "fault", "action", "target", "params", "at", "after", "delay", "when", "probe", "is",
    "timeout", "manual", "instruction", "until", "expect", "measure", "objectives", "rto", "rpo",
    "max_downtime", "max_error_rate", "max_lost_writes", "latency", "p95", "verify", "read_back",
    "checks", "server", "service_running", "command", "abort", "availability_below", "for", "matrix",
    "load.users", "steps.x.at", "<<",
]
COMPOSE_WORDS = [
    "services", "image", "build", "context", "dockerfile", "args", "command", "entrypoint", "ports",
    "networks", "volumes", "environment", "privileged", "network_mode", "pid", "cap_add", "devices",
    "device_cgroup_rules", "security_opt", "healthcheck", "test", "interval", "retries", "depends_on",
    "condition", "labels", "hostname", "stop_grace_period", "x-defaults", "host_ip", "published",
    "target", "protocol", "type", "source", "read_only", "aliases", "version", "driver", "internal",
    "edge", "server-a", "web", "wan", "<<", "extends", "include", "env_file", "profiles",
    "secrets", "configs", "file", "service", "path", "required", "ulimits", "tmpfs", "deploy",
    "resources", "limits", "expose", "extra_hosts", "container_name", "restart", "external",
]
TRICKY_TEXT = [
    "", " ", "30s", "1m30s", "-5s", "10 years", "1e309", "1.0e+309", ".inf", ".nan", "NaN", "0x1F",
    "1:2:3", "2001-13-45", "server-a", "server-a/disk1", "server-a/disk0", "server-a/disk99999", "dc-a",
    "chaos-harness/v1", "dead", "power-off", "raid", "healthy", "127.0.0.1::80", "0.0.0.0:80:80",
    "[::]:80:80", "99999999999999999999:80", "/dev/sda", "/:/host", "${DRILL_RUN}", "$", "${X:?boom}",
    "$${X}", "'", '"', "\\", "\t", "\x00", "\x07", "\x1b[31m", "\u202e", "\ufeff", "é", "²k-³k", "١٢",
    "\U0001f600", "a\u0301", "!!python/object:os.system", "*alias", "&anchor", "<<", "---", "\n",
]
HUGE_NUMBERS = [10**100, -(10**100), 2**63, -(2**63) - 1, 2**64, 10**999, 1e308, -1e308, 5e-324]


def huge_text() -> st.SearchStrategy[str]:
    """Long enough for anything quadratic to show; the known attacks go to the size limit."""
    return st.builds(lambda piece, n: piece * n, st.sampled_from(["a", "9", "é", "1m", " ", "\u202e"]),
                     st.integers(1_000, 4_000))


texts = st.one_of(st.text(st.characters(codec="utf-8"), max_size=30), st.sampled_from(TRICKY_TEXT),
                  huge_text())
numbers = st.one_of(st.integers(), st.sampled_from(HUGE_NUMBERS), st.floats())
scalars = st.one_of(st.none(), st.booleans(), numbers, texts)


def keys(words: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(words), st.text(st.characters(codec="utf-8"), max_size=12),
                     st.sampled_from(TRICKY_TEXT), huge_text(), st.integers(), st.none(), st.booleans(),
                     st.floats(allow_nan=False))


def trees(words: list[str]) -> st.SearchStrategy[Any]:
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=5)
                        | st.dictionaries(keys(words), inner, max_size=6), max_leaves=30)


def scenario_shaped() -> st.SearchStrategy[dict[str, Any]]:
    """Past the first checks often enough to reach the deeper ones."""
    tree = trees(SCENARIO_WORDS)
    step = st.fixed_dictionaries({"name": st.sampled_from(["a", "b", "Bad", ""]) | texts},
                                 optional={k: tree | scalars for k in
                                           ("fault", "action", "target", "params", "at", "after",
                                            "delay", "when", "duration", "manual", "expect")})
    return st.fixed_dictionaries(
        {"apiVersion": st.just("chaos-harness/v1") | texts, "name": st.just("hostile") | texts,
         "summary": st.just("s") | texts},
        optional={"stack": tree, "load": st.dictionaries(st.sampled_from(SCENARIO_WORDS), scalars | tree),
                  "steps": st.lists(step | tree, max_size=4), "objectives": tree, "verify": tree,
                  "abort": tree, "matrix": tree})


def compose_shaped() -> st.SearchStrategy[dict[str, Any]]:
    tree = trees(COMPOSE_WORDS)
    service = st.fixed_dictionaries(
        {"image": st.just("nginx") | scalars},
        optional={k: tree | scalars for k in ("ports", "networks", "volumes", "environment", "privileged",
                                               "devices", "healthcheck", "depends_on", "command",
                                               "labels", "stop_grace_period", "cap_add", "build")})
    return st.fixed_dictionaries(
        {"services": st.dictionaries(st.sampled_from(["web", "edge", "db"]) | texts, service | tree,
                                     max_size=3)},
        optional={"networks": tree, "volumes": tree, "name": scalars, "x-extra": tree})


DUMP_STYLES = [{}, {"default_flow_style": True}, {"default_flow_style": False},
               {"allow_unicode": True, "width": 20}, {"explicit_start": True, "explicit_end": True},
               {"canonical": True}]


def dumped(data: st.SearchStrategy[Any]) -> st.SearchStrategy[str]:
    return st.builds(lambda tree, style: yaml.safe_dump(tree, sort_keys=False, **style), data,
                     st.sampled_from(DUMP_STYLES))


def paths_of(tree: Any, at: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield at
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from paths_of(value, (*at, key))
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from paths_of(value, (*at, index))


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any], words: list[str]) -> Any:
    """A valid file with 1-3 nodes replaced, keys deleted or keys added."""
    tree = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(list(paths_of(tree))))
        if not path:
            tree = draw(trees(words))
            continue
        parent = tree
        for part in path[:-1]:
            parent = parent[part]
        operation = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
        if operation == "replace":
            parent[path[-1]] = draw(scalars | trees(words))
        elif operation == "delete":
            del parent[path[-1]]
        elif isinstance(parent[path[-1]], dict):
            parent[path[-1]][draw(keys(words))] = draw(scalars | trees(words))
        elif isinstance(parent[path[-1]], list):
            parent[path[-1]].insert(draw(st.integers(0, len(parent[path[-1]]))),
                                    draw(scalars | trees(words)))
        else:
            parent[path[-1]] = draw(st.lists(scalars, max_size=3))
    return tree


def loaded(path: Path) -> Any:
    with path.open() as file:
        return yaml.safe_load(file)


SCENARIO_BASES = [loaded(ROOT / "scenarios" / "baseline.yaml"),
                  loaded(ROOT / "scenarios" / "datacentre-shutdown.yaml")]
COMPOSE_BASES = [loaded(ROOT / "compose" / "hosting.yml"),
                 loaded(ROOT / "tests" / "compose" / "minimal.yml")]
VALID_TEXTS = [(ROOT / p).read_bytes() for p in ("scenarios/baseline.yaml",
                                                  "scenarios/datacentre-shutdown.yaml",
                                                  "compose/hosting.yml", "tests/compose/minimal.yml")]
YAML_TOKENS = ["[", "]", "{", "}", ":", ": ", "- ", "-", ",", "?", "? ", "&a ", "*a", "&b ", "*b", "<<: ",
               "<<: *a", "!!python/object/apply:os.system ", "!!python/name:os.system", "!Ref ", "!!binary ",
               "!!int ", "!!float ", "!!timestamp ", "!!set ", "!!omap ", "!!map ", "!!seq ", "!!str ",
               "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "---\n", "...\n", "|\n", ">\n", "#", "'", '"', "\\",
               "\t", "\n", "  ", "    ", "\r", "\x00", "\x07", "\x85", "\u2028", "\ufeff", "é", "\U0001f600",
               "services", "steps", "name", "apiVersion: chaos-harness/v1\n", "x", "1", "1e309", "0x",
               "1:2", "2001-13-45", ".nan", "~", "null", "yes", "${", "$"]


@st.composite
def byte_edits(draw: st.DrawFn) -> bytes:
    """A valid file with a few bytes inserted, deleted or replaced."""
    data = bytearray(draw(st.sampled_from(VALID_TEXTS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        edit = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.binary(min_size=1, max_size=8) | st.sampled_from(YAML_TOKENS).map(str.encode))
        if edit == "insert":
            data[at:at] = piece
        elif edit == "delete":
            del data[at:at + draw(st.integers(1, 40))]
        else:
            data[at:at + len(piece)] = piece
    return bytes(data)


raw_files = st.one_of(
    st.binary(max_size=600),
    st.lists(st.sampled_from(YAML_TOKENS), max_size=60).map(lambda parts: "".join(parts).encode()),
    st.text(st.characters(codec="utf-8"), max_size=300).map(str.encode),
    byte_edits(),
)


# -- properties -------------------------------------------------------------------------------------

@HOSTILE
@given(text=dumped(st.one_of(trees(SCENARIO_WORDS), scenario_shaped())))
@example(text="apiVersion: chaos-harness/v1\nname: x\nsummary: s\nload: {duration: 1" + "0" * 400 + "}\n")
@example(text="apiVersion: chaos-harness/v1\nname: x\nsummary: s\nload: {spawn_rate: .inf}\n")
@example(text="apiVersion: chaos-harness/v1\nname: x\nsummary: s\nstack: {compose: \"a\\0b\"}\n")
def test_random_scenario_trees_load_or_are_refused(workdir: Path, text: str) -> None:
    loads_or_refuses(scenario_loader, write(workdir, "tree.yaml", text))


@HOSTILE
@given(text=dumped(st.one_of(trees(COMPOSE_WORDS), compose_shaped())))
@example(text="services: {web: {image: x, networks: [{a: b}]}}\n")
@example(text="services: {web: {image: x, depends_on: [[a]]}}\n")
@example(text="services: {web: {image: x, stop_grace_period: 1" + "0" * 400 + "}}\n")
@example(text="'<<': null\n")  # a key like a union's tag: once dropped from the place
def test_random_compose_trees_load_or_are_refused(workdir: Path, text: str) -> None:
    loads_or_refuses(compose_loader, write(workdir, "tree.yml", text))


@HOSTILE
@given(first=dumped(compose_shaped()), later=dumped(st.one_of(trees(COMPOSE_WORDS),
                                                             compose_shaped())))
def test_random_files_merged_load_or_are_refused(workdir: Path, first: str, later: str) -> None:
    """`-f a.yml -f b.yml`: whatever the later file holds, a clean answer naming a file."""
    files = [write(workdir, "first.yml", first), write(workdir, "later.yml", later)]
    try:
        load_compose(files, RUN_VARS)
    except InputError as e:
        assert all(p.file in {str(f) for f in files} and p.message for p in e.problems), \
            e.problems[:5]


@HOSTILE
@given(tree=mutated(SCENARIO_BASES, SCENARIO_WORDS), style=st.sampled_from(DUMP_STYLES))
def test_mutated_scenarios_load_or_are_refused(workdir: Path, tree: Any, style: dict[str, Any]) -> None:
    loads_or_refuses(scenario_loader, write(workdir, "mutated.yaml", yaml.safe_dump(tree, **style)))


@HOSTILE
@given(tree=mutated(COMPOSE_BASES, COMPOSE_WORDS), style=st.sampled_from(DUMP_STYLES))
def test_mutated_compose_files_load_or_are_refused(workdir: Path, tree: Any, style: dict[str, Any]) -> None:
    loads_or_refuses(compose_loader, write(workdir, "mutated.yml", yaml.safe_dump(tree, **style)))


@HOSTILE
@given(content=raw_files, kind=st.sampled_from(sorted(LOADERS)))
@example(content=b"a: !!timestamp 2001-13-45\n", kind="scenario")
@example(content=b"a: !!bool maybe\n", kind="compose")
@example(content=b"!!int", kind="compose")
@example(content=b"a: &a [*a]\n", kind="scenario")
@example(content=b"[" * 5000 + b"]" * 5000, kind="compose")
def test_raw_bytes_load_or_are_refused(workdir: Path, content: bytes, kind: str) -> None:
    loads_or_refuses(LOADERS[kind], write(workdir, f"raw-{kind}.yaml", content))


# -- known attacks ----------------------------------------------------------------------------------

HEAD = "apiVersion: chaos-harness/v1\nname: hostile\nsummary: s\n"
SERVICE = "services:\n  web:\n    image: nginx\n"


def laughs(levels: int = 9, width: int = 9) -> str:
    lines = ['l0: &l0 "lol"']
    for level in range(1, levels + 1):
        lines.append(f"l{level}: &l{level} [{', '.join([f'*l{level - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def merge_bomb(levels: int = 7, width: int = 9) -> str:
    lines = ["m0: &m0 {x: 1}"]
    for level in range(1, levels + 1):
        lines.append(f"m{level}: &m{level} {{<<: [{', '.join([f'*m{level - 1}'] * width)}]}}")
    return "\n".join(lines) + "\n"


def alias_chain(levels: int = MAX_DEPTH + 10) -> str:
    lines = ["c0: &c0 [x]"] + [f"c{n}: &c{n} [*c{n - 1}]" for n in range(1, levels + 1)]
    return "\n".join(lines) + "\n"


def deep_block_mappings(levels: int) -> str:
    return "".join("  " * n + f"k{n}:\n" for n in range(levels)) + "  " * levels + "x\n"


#: (id, file text, a phrase of the message). For either kind of file: the shape fails first.
ANY_FILE: list[tuple[str, str | bytes, str]] = [
    ("billion-laughs", laughs(), "alias bomb"),
    ("billion-laughs-as-a-key", laughs(5) + "? [*l5, *l5, *l5]\n: x\n", "alias bomb"),
    ("merge-key-bomb", merge_bomb(), "merge-key bomb"),
    ("merge-key-bomb-deep", merge_bomb(14), "bomb"),
    ("recursive-list", "a: &a [*a]\n", "contains itself"),
    ("recursive-mapping", "a: &a {b: *a}\n", "contains itself"),
    ("recursive-merge", "a: &a {<<: *a}\n", "contains itself"),
    ("alias-chain-deeper-than-the-cap", alias_chain(), "levels deep once aliases are expanded"),
    ("big-string-repeated-by-aliases", "a: &a " + "x" * (MAX_BYTES // 4) + "\nb: [*a, *a, *a, *a, *a]\n",
     "characters"),
    ("5000-nested-flow-lists", "[" * 5000 + "]" * 5000, "levels deep"),
    ("5000-nested-flow-mappings", "{a: " * 5000 + "}" * 5000, "levels deep"),
    ("5000-nested-block-lists", "- " * 5000 + "x\n", "levels deep"),
    ("1000-nested-block-mappings", deep_block_mappings(1000), "levels deep"),
    ("python-object-apply", 'a: !!python/object/apply:os.system ["touch {pwned}"]\n',
     "could not determine a constructor"),
    ("python-name", "a: !!python/name:os.system\n", "could not determine a constructor"),
    ("python-object", "a: !!python/object:collections.OrderedDict {}\n", "could not determine a constructor"),
    ("custom-tag", "a: !Ref other\n", "could not determine a constructor"),
    ("bad-timestamp", "a: 2001-13-45\n", "month must be in 1..12"),
    ("explicit-timestamp", "a: !!timestamp yesterday\n", "not a valid timestamp"),
    ("explicit-int", "a: !!int twelve\n", "not a valid int"),
    ("explicit-empty-int", "a: !!int\n", "not a valid int"),
    ("explicit-float", "a: !!float pi\n", "not a valid float"),
    ("explicit-bool", "a: !!bool maybe\n", "not a valid bool"),
    ("explicit-binary", "a: !!binary 'é'\n", "unsupported YAML"),
    ("set-of-a-scalar", "a: !!set 5\n", "unsupported YAML"),
    ("merge-a-scalar", "a: {<<: 5}\n", "expected a mapping"),
    ("merge-a-list-of-scalars", "a: {<<: [1, 2]}\n", "expected a mapping"),
    ("unhashable-key", "? [a, b]\n: c\n", "unhashable key"),
    ("integer-of-5000-digits", "a: " + "9" * 5000 + "\n", "more than 1000 digits"),
    ("hex-integer-of-5000-digits", "a: 0x" + "f" * 5000 + "\n", "more than 1000 digits"),
    ("base-60-integer-of-300000-parts", "a: 1" + ":1" * 300_000 + "\n", "more than 1000 digits"),
    ("two-documents", "a: 1\n---\nb: 2\n", "expected a single document"),
    ("tab-indentation", "a:\n\tb: 1\n", "not valid YAML"),
    ("unclosed-quote", 'a: "open\n', "not valid YAML"),
    ("unclosed-flow", "a: [1, 2\n", "not valid YAML"),
    ("undefined-alias", "a: *nowhere\n", "undefined alias"),
    ("control-character", "a: b\x07\n", "not valid YAML"),
    ("nul-byte", "a: b\x00\n", "not valid YAML"),
    ("not-utf-8", b"a: \xff\xfe\n", "not UTF-8"),
    ("utf-16", "a: b\n".encode("utf-16"), "not UTF-8"),
    ("empty", "", "the file is empty"),
    ("comments-only", "# nothing\n\n", "the file is empty"),
    ("a-list", "- a\n- b\n", "is a mapping"),
    ("a-string", "hello\n", "is a mapping"),
    ("over-the-size-limit", "a: " + "x" * MAX_BYTES + "\n", "the limit"),
]

#: Scenario files whose YAML is fine but whose values are not. (id, file text, phrase).
SCENARIO_FILES: list[tuple[str, str, str]] = [
    ("users-1e309", HEAD + "load: {users: 1.0e+309}\n", "load.users"),
    ("users-nan", HEAD + "load: {users: .nan}\n", "load.users"),
    ("users-10**100", HEAD + f"load: {{users: {10**100}}}\n", "less than or equal to 10000"),
    ("drives-1e309", HEAD + "stack: {drives: 1.0e+309}\n", "stack.drives"),
    ("drives-10**100", HEAD + f"stack: {{drives: {10**100}}}\n", "less than or equal to 16"),
    ("duration-1e309", HEAD + "load: {duration: 1.0e+309}\n", "finite"),
    ("duration-1e309-as-text", HEAD + "load: {duration: 1e309}\n", "not a duration"),
    ("duration-10**400", HEAD + f"load: {{duration: {10**400}}}\n", "finite"),
    ("duration-inf", HEAD + "objectives: {rto: .inf}\n", "finite"),
    ("duration-nan", HEAD + "load: {steady_state: .nan}\n", "finite"),
    ("duration-negative", HEAD + "load: {duration: -5}\n", "negative"),
    ("duration-negative-text", HEAD + "load: {duration: -5s}\n", "not a duration"),
    ("duration-10-years", HEAD + "load: {duration: 10 years}\n", "'10 years' is not a duration"),
    ("duration-a-million-digits", HEAD + "load: {duration: '" + "1" * 1_000_000 + "'}\n", "not a duration"),
    ("duration-true", HEAD + "load: {duration: true}\n", "not true/false"),
    ("duration-1e300", HEAD + "steps: [{name: s, fault: dead, target: server-a/disk1, at: 1.0e+300}]\n",
     "under 100 years"),
    ("mix-weight-10**9", HEAD + "load: {mix: {upload: 1000000000}}\n", "less than or equal to 1000"),
    ("spawn-rate-inf", HEAD + "load: {spawn_rate: .inf}\n", "finite number"),
    ("error-rate-nan", HEAD + "objectives: {max_error_rate: .nan}\n", "finite number"),
    ("abort-for-inf", HEAD + "abort: [{availability_below: .inf, for: .inf}]\n", "finite"),
    ("setting-inf", HEAD + "stack: {settings: {DRILL_PROMOTE_AFTER: .inf}}\n", "stack.settings"),
    ("param-nan", HEAD + "steps: [{name: s, fault: slow, target: server-a/disk1, at: 1s, "
     "params: {rate: .nan}}]\n", "params"),
    ("disk-number-of-5000-digits", HEAD + "steps: [{name: s, fault: dead, target: server-a/disk"
     + "9" * 5000 + ", at: 1s}]\n", "is not a drive"),
    ("upload-size-superscripts", HEAD + "load: {upload_size: '²k-³k'}\n", "write MIN-MAX"),
    ("upload-size-5000-digits", HEAD + "load: {upload_size: '" + "9" * 5000 + "k'}\n", "20m"),
    ("drives-superscript-setting", HEAD + "stack: {settings: {DRILL_DRIVES: '²'}}\nsteps: [{name: s, "
     "fault: dead, target: server-a/disk1, at: 1s}]\n", "has no drives"),
    ("compose-path-with-nul", HEAD + 'stack: {compose: "a\\0b"}\n', "NUL"),
    ("compose-path-a-folder", HEAD + "stack: {compose: /tmp}\n", "is a folder"),
    ("compose-path-dev-zero", HEAD + "stack: {compose: /dev/zero}\n", "not a regular file"),
    ("compose-path-empty", HEAD + "stack: {compose: ''}\n", "is a folder"),
    ("name-unicode", HEAD.replace("hostile", "h\u00f8stile") + "\n", "name"),
    ("name-rtl-override", HEAD.replace("hostile", "\u202eelitsoh") + "\n", "name"),
    ("steps-a-mapping", HEAD + "steps: {a: 1}\n", "steps"),
    ("step-anchors-and-bad-merge", HEAD + "steps:\n  - &s {name: a, fault: dead, target: server-a/disk1, "
     "at: 1s}\n  - {<<: [*s, 5], name: b}\n", "expected a mapping"),
    ("integer-keys", HEAD + "load: {1: 2}\n", "load"),
    ("null-key", HEAD + "~: 1\n", "Keys should be strings"),
    ("matrix-of-nothing", HEAD + "matrix: {load.users: []}\n", "give at least one value"),
    ("matrix-value-inf", HEAD + "matrix: {load.users: [5, .inf]}\n",
     "the run with load.users=inf is not valid"),
    ("matrix-duration-10-years", HEAD + "steps: [{name: s, fault: dead, target: server-a/disk1, at: 1s}]\n"
     "matrix: {steps.s.at: [10 years]}\n", "'10 years' is not a duration"),
    ("matrix-at-and-after", HEAD + "steps: [{name: a, action: wait, at: 1s}, {name: b, action: wait, "
     "after: a}]\nmatrix: {steps.b.at: [1s]}\n", "not both"),
    ("matrix-of-a-million-runs", HEAD + "matrix: {load.users: [" + ", ".join(map(str, range(1000)))
     + "], load.workers: [0, 1]}\n", "more than 1000 runs"),
]

#: Compose files whose YAML is fine but whose values are not. (id, file text, phrase).
COMPOSE_FILES: list[tuple[str, str, str]] = [
    ("privileged", SERVICE + "    privileged: true\n", "every device and capability of the host"),
    ("network-mode-host", SERVICE + "    network_mode: host\n", "uses the host's network"),
    ("pid-host", SERVICE + "    pid: host\n", "shares the host's process table"),
    ("port-on-every-address", SERVICE + '    ports: ["0.0.0.0:8080:80"]\n', "on 0.0.0.0, open to"),
    ("port-on-every-ipv6-address", SERVICE + "    ports: [{target: 80, host_ip: '::'}]\n", "on ::, open"),
    ("port-on-a-name", SERVICE + "    ports: [{target: 80, host_ip: localhost}]\n", "not an IP address"),
    ("port-10**100", SERVICE + f"    ports: [{10**100}]\n", "less than or equal to 65535"),
    ("published-10**100", SERVICE + f'    ports: ["127.0.0.1:{10**100}:80"]\n', "65535"),
    ("port-negative", SERVICE + "    ports: [-1]\n", "greater than or equal to 1"),
    ("port-inf", SERVICE + "    ports: [{target: .inf}]\n", "ports[0].target"),
    ("port-a-list", SERVICE + "    ports: [[80]]\n", "ports[0]"),
    ("port-superscript", SERVICE + '    ports: ["127.0.0.1:²:80"]\n', "ports[0]"),
    ("networks-of-mappings", SERVICE + "    networks: [{a: b}]\n", "expected a list of names"),
    ("depends-on-lists", SERVICE + "    depends_on: [[a]]\n", "expected a list of names"),
    ("depends-on-itself", SERVICE + "    depends_on: [web]\n", "cannot depend on itself"),
    ("interval-10**100", SERVICE + f"    healthcheck: {{test: 'true', interval: {10**100}}}\n",
     "under 100 years"),
    ("interval-1e100", SERVICE + "    healthcheck: {test: 'true', interval: 1.0e+100}\n", "under 100 years"),
    ("retries-10**100", SERVICE + f"    healthcheck: {{test: 'true', retries: {10**100}}}\n", "retries"),
    ("interval-nan", SERVICE + "    healthcheck: {test: 'true', interval: .nan}\n", "finite"),
    ("interval-negative", SERVICE + "    healthcheck: {test: 'true', interval: -1}\n", "negative"),
    ("interval-a-million-digits", SERVICE + "    healthcheck: {test: 'true', interval: '" + "1" * 1_000_000
     + "'}\n", "not a duration"),
    ("retries-inf", SERVICE + "    healthcheck: {test: 'true', retries: .inf}\n", "retries"),
    ("grace-1e309", SERVICE + "    stop_grace_period: 1.0e+309\n", "finite"),
    ("environment-of-numbers", SERVICE + "    environment: [1, 2]\n", "KEY=VALUE"),
    ("environment-nested", SERVICE + "    environment: {A: [1]}\n", "environment.A"),
    ("command-unclosed-quote", SERVICE + "    command: \"echo 'open\"\n", "No closing quotation"),
    ("device-not-a-device", SERVICE + "    devices: [/etc/passwd]\n", "is not a device"),
    ("no-services", "services: {}\n", "services"),
    ("services-null", "services:\n", "services"),
    ("unset-required-variable", SERVICE + "    hostname: ${NOPE:?is needed}\n", "NOPE is required"),
    ("lone-dollar", SERVICE + "    hostname: a$\n", "a lone '$'"),
    ("unknown-network", SERVICE + "    networks: [lan]\n", "is not declared"),
    ("merge-of-bad-defaults", "x-d: &d {privileged: true}\nservices:\n  web:\n    <<: *d\n    image: x\n",
     "privileged"),
]

CASES = [pytest.param(kind, text, phrase, id=f"{kind}-{name}")
         for name, text, phrase in ANY_FILE for kind in sorted(LOADERS)]
CASES += [pytest.param("scenario", text, phrase, id=f"scenario-{name}")
          for name, text, phrase in SCENARIO_FILES]
CASES += [pytest.param("compose", text, phrase, id=f"compose-{name}")
          for name, text, phrase in COMPOSE_FILES]


@pytest.mark.parametrize(("kind", "text", "phrase"), CASES)
def test_known_attack_is_refused_with_a_located_message(workdir: Path, kind: str, text: str | bytes,
                                                         phrase: str) -> None:
    pwned = workdir / "pwned"
    if isinstance(text, str):
        text = text.replace("{pwned}", str(pwned))
    error = refused(LOADERS[kind], write(workdir, f"attack.{kind}.yaml", text))
    assert phrase in error.render(), error.render()[:1000]
    assert not pwned.exists()


def test_anchors_and_merge_keys_used_well_still_load(workdir: Path) -> None:
    path = write(workdir, "merged.yaml", HEAD + """\
steps:
  - &kill {name: kill, fault: dead, target: server-a/disk1, at: 10s}
  - {<<: *kill, name: kill-again, at: 20s}
  - {<<: [*kill], name: kill-b, target: server-b/disk1}
""")
    steps = load_scenario(path).scenario.steps
    assert [(s.name, s.target, s.at) for s in steps] == [
        ("kill", "server-a/disk1", 10.0), ("kill-again", "server-a/disk1", 20.0),
        ("kill-b", "server-b/disk1", 10.0)]


def test_the_first_merge_source_wins(workdir: Path) -> None:
    path = write(workdir, "order.yml", """\
x-a: &a {image: a, hostname: from-a}
x-b: &b {image: b, hostname: from-b, command: [b]}
services:
  web:
    <<: [*a, *b]
    hostname: own
""")
    web = load_compose(path, RUN_VARS).service("web")
    assert (web.image, web.hostname, web.command) == ("a", "own", ["b"])


def test_nesting_at_the_cap_loads_and_one_more_level_is_refused(workdir: Path) -> None:
    inside = "[" * (MAX_DEPTH - 2) + "]" * (MAX_DEPTH - 2)  # the root mapping and `x-deep`: 2 levels
    load_compose(write(workdir, "deep.yml", SERVICE + f"x-deep: [{inside}]\n"), RUN_VARS)
    path = write(workdir, "deep.yml", SERVICE + f"x-deep: [[{inside}]]\n")
    assert "levels deep" in refused(compose_loader, path).render()


def test_an_alias_bomb_at_the_node_cap_names_the_file_and_line(workdir: Path) -> None:
    error = refused(scenario_loader, write(workdir, "bomb.yaml", HEAD + laughs()))
    (problem,) = error.problems
    assert problem.line is not None and f"{MAX_NODES}" in problem.message


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_files_that_are_not_files(workdir: Path, kind: str) -> None:
    load = LOADERS[kind]
    assert "no such file" in refused(load, workdir / "missing.yaml").render()
    folder = workdir / "a-folder.yaml"
    folder.mkdir(exist_ok=True)
    assert "is a folder" in refused(load, folder).render()
    fifo = workdir / "a-fifo.yaml"
    if not fifo.exists():
        os.mkfifo(fifo)
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert "not a regular file" in refused(load, fifo).render()  # and not waiting for a writer
    if Path("/dev/zero").exists():
        assert "not a regular file" in refused(load, Path("/dev/zero")).render()
    # A regular file that no one reads, root included (CI runs as root): reading it is EIO.
    assert "cannot read: Input/output error" in refused(load, Path("/proc/self/mem")).render()
    if os.geteuid() != 0:  # root reads a file whatever its mode: this one only as a user
        unreadable = write(workdir, "unreadable.yaml", HEAD)
        unreadable.chmod(0)
        try:
            assert "cannot read: Permission denied" in refused(load, unreadable).render()
        finally:
            unreadable.chmod(0o600)


# -- `drill validate` -------------------------------------------------------------------------------

def drill_validate(workdir: Path, path: Path) -> tuple[int, str]:
    """`drill validate PATH` through `main`, as a user runs it; (exit code, stdout + stderr)."""
    env = {"DOCKER_HOST": NO_DOCKER, "DRILL_STATE_DIR": str(workdir / "state")}
    with CliRunner().isolation(env=env) as (out, err, _), pytest.raises(SystemExit) as exited:
        main(["validate", str(path)])
    code = exited.value.code
    return int(code) if isinstance(code, int) else 0, out.getvalue().decode() + err.getvalue().decode()


def assert_clean_refusal(workdir: Path, path: Path, code: int, output: str) -> None:
    assert code == 2, output[:1000]  # not 3: no Docker call was tried, none could succeed
    assert "Traceback" not in output and "internal error" not in output, output[:1000]
    assert str(path) in output, output[:1000]
    assert not (workdir / "state" / "last-error.log").exists()


@HOSTILE_CLI
@given(content=st.one_of(raw_files, dumped(scenario_shaped()).map(str.encode),
                         dumped(mutated(SCENARIO_BASES, SCENARIO_WORDS)).map(str.encode)))
def test_drill_validate_refuses_generated_files_with_exit_2(workdir: Path, content: bytes) -> None:
    path = write(workdir, "cli.yaml", content)
    bad = loads_or_refuses(scenario_loader, path) is not None
    code, output = drill_validate(workdir, path)
    if bad:
        assert_clean_refusal(workdir, path, code, output)
    else:
        assert code == 0 and f"ok  {path}" in output, output[:1000]


@pytest.mark.parametrize(("kind", "text", "phrase"), [c for c in CASES if c.values[0] == "scenario"])
def test_drill_validate_refuses_known_attacks_with_exit_2(workdir: Path, kind: str, text: str | bytes,
                                                          phrase: str) -> None:
    if isinstance(text, str):
        text = text.replace("{pwned}", str(workdir / "pwned"))
    path = write(workdir, "cli-attack.yaml", text)
    code, output = drill_validate(workdir, path)
    assert_clean_refusal(workdir, path, code, output)
    assert phrase in output
