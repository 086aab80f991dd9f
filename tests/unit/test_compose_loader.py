"""The compose loader: the bundled file loads; bad files get located, named errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.engine.compose import load_compose
from chaos.engine.compose_model import parse_duration
from chaos.engine.interpolation import InterpolationError, Interpolator, interpolate
from chaos.engine.objects import plan_container
from chaos.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
HOSTING = ROOT / "compose" / "hosting.yml"
RUN_VARS = {"DRILL_RUN": "rtest", "DRILL_RUN_DIR": "/tmp/rtest", "DRILL_DB_PASSWORD": "pw"}

MINIMAL = """\
services:
  web:
    image: nginx
    networks: [front]
    ports: ["127.0.0.1::80"]
networks:
  front: {}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "stack.yml"
    path.write_text(text)
    return path


def problems_of(path: Path, variables: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_compose(path, variables if variables is not None else RUN_VARS)
    return [str(p) for p in caught.value.problems]


def test_bundled_stack_loads_with_the_expected_topology() -> None:
    project = load_compose(HOSTING, RUN_VARS)
    services = project.spec.services
    assert set(services) == {"edge", "server-a", "server-b", "backup"}
    assert project.order[-1] == "edge"  # it waits for both servers to be healthy
    assert services["edge"].ports[0].host_ip == "127.0.0.1"
    assert set(services["edge"].networks) == {"wan"}
    assert set(services["server-a"].networks) == {"dc-a", "wan"}
    assert set(services["server-b"].networks) == {"dc-b", "wan"}
    assert services["server-a"].labels["chaos-harness.site"] == "dc-a"
    assert services["server-b"].labels["chaos-harness.site"] == "dc-b"
    assert all("chaos-harness.site" in s.labels for s in services.values())
    # The drive owners get exactly what their drives need (merged from an anchor).
    assert services["server-a"].cap_add == ["SYS_ADMIN", "MKNOD"]
    assert "b 7:* rmw" in services["server-a"].device_cgroup_rules
    assert services["server-a"].environment["DRIVES"] == "3"
    assert services["server-a"].environment["DB_PASSWORD"] == "pw"
    assert services["server-a"].healthcheck is not None
    assert services["server-a"].healthcheck.interval == 2.0
    assert services["edge"].depends_on["server-a"].condition == "service_healthy"


def test_variables_from_the_caller_override_defaults() -> None:
    project = load_compose(HOSTING, {**RUN_VARS, "DRILL_DRIVES": "5", "DRILL_EDGE_PORT": "18080"})
    assert project.service("server-b").environment["DRIVES"] == "5"
    assert project.service("edge").ports[0].published == "18080"


def test_unknown_key_names_file_line_service_and_suggestion(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("    image: nginx\n", "    image: nginx\n    hostnam: x\n"))
    (problem,) = problems_of(path)
    assert problem.startswith(f"{path}:4:5: services.web.hostnam:")
    assert "unknown key 'hostnam'; did you mean 'hostname'?" in problem


def test_unknown_top_level_key(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + "servces: {}\n")
    (problem,) = problems_of(path)
    assert "servces" in problem and "did you mean 'services'" in problem


def test_wrong_type_names_the_key_and_the_value(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("    networks: [front]\n",
                                           "    networks: [front]\n    cap_add: 5\n"))
    (problem,) = problems_of(path)
    assert f"{path}:5:5: services.web.cap_add:" in problem
    assert "list" in problem and "got 5" in problem


def test_bad_duration_and_bad_retries(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace(
        "    ports:", "    healthcheck: {test: [CMD, x], interval: soon, retries: lots}\n    ports:"))
    problems = problems_of(path)
    assert any("services.web.healthcheck.interval" in p and "'soon' is not a duration" in p
               for p in problems)
    assert any("services.web.healthcheck.retries" in p and "'lots'" in p for p in problems)


def test_dangling_network(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("networks: [front]", "networks: [frnt]"))
    (problem,) = problems_of(path)
    assert "services.web.networks.frnt" in problem
    assert "network 'frnt' is not declared" in problem and "did you mean 'front'" in problem


def test_depends_on_cycle(tmp_path: Path) -> None:
    text = MINIMAL.replace("networks:\n  front", """\
  a:
    image: x
    networks: [front]
    depends_on: [b]
  b:
    image: x
    networks: [front]
    depends_on: [a]
networks:
  front""")
    (problem,) = problems_of(write(tmp_path, text))
    assert "depends_on forms a cycle" in problem
    assert "a -> b -> a" in problem or "b -> a -> b" in problem


def test_depends_on_unknown_service_and_health_without_healthcheck(tmp_path: Path) -> None:
    text = MINIMAL.replace("    ports:", """\
    depends_on:
      databse: {condition: service_started}
      cache: {condition: service_healthy}
    ports:""").replace("networks:\n  front", """\
  database: {image: pg, networks: [front]}
  cache: {image: redis, networks: [front]}
networks:
  front""")
    problems = problems_of(write(tmp_path, text))
    assert any("unknown service 'databse'" in p and "did you mean 'database'" in p for p in problems)
    assert any("'cache' has no healthcheck" in p for p in problems)


def test_a_port_open_to_the_network_needs_host_access(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.replace("127.0.0.1::80", "0.0.0.0:8080:80"))
    (problem,) = problems_of(path)
    assert f"{path}:5:13: services.web.ports[0]: publishes port 80 on 0.0.0.0, open to the " \
           "network (refused: it reaches into the host; --allow-host-access allows it)" == problem
    project = load_compose(path, {}, allow_host_access=True)
    assert plan_container(project, "web", "r1", "nginx", "/s", Path("/run")).ports == {
        "80/tcp": [("0.0.0.0", "8080")]}


def test_port_without_host_ip_binds_loopback_and_says_so(tmp_path: Path) -> None:
    project = load_compose(write(tmp_path, MINIMAL.replace('"127.0.0.1::80"', '"8080:80", 443')),
                           {})
    assert plan_container(project, "web", "r1", "nginx", "/s", Path("/run")).ports == {
        "80/tcp": [("127.0.0.1", "8080")], "443/tcp": [("127.0.0.1", None)]}
    assert any("services.web.ports: published on 127.0.0.1 only (the harness's default: a "
               "drill does not open ports to the network): 8080:80, 443" in n
               for n in project.notes)


def test_privileged_is_refused_with_the_alternative(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, MINIMAL.replace("    image: nginx\n",
                                                             "    image: nginx\n    privileged: true\n")))
    assert "services.web.privileged: privileged gives the container every device" in problem
    assert "grant cap_add" in problem and "--allow-host-access allows it" in problem


def test_missing_image_and_build(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, MINIMAL.replace("    image: nginx\n", "")))
    assert "services.web" in problem and "needs `image` or `build`" in problem


def test_an_unset_variable_is_empty_with_a_located_note(tmp_path: Path) -> None:
    text = MINIMAL.replace("image: nginx", "image: nginx${TAG}")
    project = load_compose(write(tmp_path, text), {})
    assert project.service("web").image == "nginx"
    (note,) = [n for n in project.notes if "variable TAG" in n]
    assert f"{path_line(tmp_path, 3)}" in note and "variable TAG is not set: an empty string" in note


def test_a_bad_template_is_located(tmp_path: Path) -> None:
    (problem,) = problems_of(write(tmp_path, MINIMAL.replace("image: nginx", "image: ${IMAGE")), {})
    assert f"{path_line(tmp_path, 3)}" in problem and "'${IMAGE' without its closing '}'" in problem


def path_line(tmp_path: Path, line: int) -> str:
    return f"{tmp_path / 'stack.yml'}:{line}:"


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = MINIMAL.replace("    image: nginx\n", "    image: nginx\n    hostnam: x\n    cap_add: 5\n")
    assert len(problems_of(write(tmp_path, text))) == 2


@pytest.mark.parametrize("text, expected", [
    ("", "the file is empty"),
    ("services: [\n", "not valid YAML"),
    ("- a\n- b\n", "a compose file is a mapping"),
    ("services: {}\n", "services"),
    ("!!python/object:os.system {}\n", "unsupported YAML"),
])
def test_malformed_files_are_input_errors(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(InputError) as caught:
        load_compose(write(tmp_path, text), {})
    assert expected in caught.value.render()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        load_compose(tmp_path / "nope.yml", {})


def test_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]")
    with pytest.raises(InputError, match="alias bomb"):
        load_compose(write(tmp_path, "\n".join(lines) + "\n"), {})


@pytest.mark.parametrize("text, variables, expected", [
    ("${A}", {"A": "1"}, "1"),
    ("$A", {"A": "1"}, "1"),
    ("x$A/y", {"A": "1"}, "x1/y"),
    ("${A}", {"A": ""}, ""),
    ("${A:-d}", {}, "d"),
    ("${A:-d}", {"A": ""}, "d"),
    ("${A:-d}", {"A": "v"}, "v"),
    ("${A-d}", {}, "d"),
    ("${A-d}", {"A": ""}, ""),
    ("${A-d}", {"A": "v"}, "v"),
    ("${A:+alt}", {"A": "v"}, "alt"),
    ("${A:+alt}", {"A": ""}, ""),
    ("${A:+alt}", {}, ""),
    ("${A+alt}", {"A": ""}, "alt"),
    ("${A+alt}", {}, ""),
    ("${A:?e}", {"A": "v"}, "v"),
    ("${A?e}", {"A": ""}, ""),
    ("${UNSET:-${HOME}}", {"HOME": "/root"}, "/root"),
    ("${A:-${B:-${C:-deep}}}", {}, "deep"),
    ("${A:-${B}-x}", {"B": "b"}, "b-x"),
    ("${A:+${B}}", {"A": "1", "B": "b"}, "b"),
    ("$$A", {}, "$A"),
    ("$${A}", {}, "${A}"),
    ("$$$A", {"A": "1"}, "$1"),
    ("a$$b", {}, "a$b"),
    ("${A:-a}b}", {}, "ab}"),
    ("${A:-{x}}", {}, "{x}"),
    ("${A:-:-}", {}, ":-"),
    ("${A_1}", {"A_1": "u"}, "u"),
    ("$A.b", {"A": "1"}, "1.b"),
    ("no variables", {}, "no variables"),
])
def test_interpolation(text: str, variables: dict[str, str], expected: str) -> None:
    assert interpolate(text, variables) == expected


@pytest.mark.parametrize("text, variables, unset", [
    ("${A}$B", {}, ["A", "B"]),
    ("${A}${A}", {}, ["A"]),
    ("${A:-${B}}", {"A": "set"}, []),  # the default is not taken: B is not used
    ("${A:-${B}}", {}, ["B"]),
    ("${A:+${B}}", {}, []),
    ("${A:+${B}}", {"A": "1"}, ["B"]),
    ("${A-x}", {}, []),
])
def test_unset_variables_are_remembered_where_used(text: str, variables: dict[str, str],
                                                   unset: list[str]) -> None:
    substitute = Interpolator(variables)
    substitute(text)
    assert substitute.unset == unset


OPERATORS_SAID = "after a variable's name comes '}' or one of ':-', ':?', ':+', '-', '?', '+'"


@pytest.mark.parametrize("text, variables, message", [
    ("${B:?give it}", {}, "variable B is required (is not set): give it"),
    ("${B:?give it}", {"B": ""}, "variable B is required (is empty): give it"),
    ("${B?}", {}, "variable B is required (is not set): give it a value"),
    ("${B:?need ${C}}", {"C": "c"}, "variable B is required (is not set): need c"),
    ("${A", {}, "'${A' without its closing '}'"),
    ("${A:-x", {}, "a '${' without its closing '}'"),
    ("}${}", {}, "'${}': the variable's name is missing"),
    ("}${1A}x}", {}, "'${1A}': a variable name starts with a letter or '_'"),
    ("${1A", {}, "'${1A}': a variable name starts with a letter or '_'"),
    ("}${A:x} y}", {}, f"'${{A:x}}': {OPERATORS_SAID}"),
    ("ab${A!x", {}, f"'${{A!x': {OPERATORS_SAID}"),
    ("cost $5", {}, "a lone '$' before '5': a '$' not starting a variable must be written '$$'"),
    ("end$", {}, "a lone '$' at the end: a '$' not starting a variable must be written '$$'"),
    ("${A:-${B:?inner}}", {}, "variable B is required (is not set): inner"),
])
def test_interpolation_errors_say_why(text: str, variables: dict[str, str], message: str) -> None:
    with pytest.raises(InterpolationError) as caught:
        interpolate(text, variables)
    assert str(caught.value) == message


@pytest.mark.parametrize("text, seconds", [("2s", 2.0), ("500ms", 0.5), ("1m30s", 90.0), (3, 3.0)])
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds
