"""Compose's override rules on long-form data, and where each merged value came from."""

from __future__ import annotations

from typing import Any

from chaos.engine.compose_merge import merge_files, merge_mappings, merge_service
from chaos.engine.located import LDict, LList, LocatedData, place_of, plain, untagged
from chaos.yamlsource import RESET, Override

A = ("a.yml", 1, 1)
B = ("b.yml", 2, 2)


def located(value: Any, place: tuple[str, int, int]) -> Any:
    """`value` as located data, every item placed at `place`."""
    if isinstance(value, dict):
        return LDict(((k, located(v, place)) for k, v in value.items()),
                     {k: place for k in value})
    if isinstance(value, list):
        return LList([located(v, place) for v in value], [place] * len(value))
    return value


def service(base: dict[str, Any], later: dict[str, Any]) -> Any:
    return merge_service(located(base, A), located(later, B))


def test_healthcheck_test_is_replaced_and_the_rest_merged() -> None:
    merged = service({"healthcheck": {"test": ["CMD", "a", "x"], "interval": "1s"}},
                     {"healthcheck": {"test": ["CMD", "b"], "retries": 3}})
    assert plain(merged["healthcheck"]) == {"test": ["CMD", "b"], "interval": "1s", "retries": 3}
    assert place_of(merged["healthcheck"], "test") == B
    assert place_of(merged["healthcheck"], "interval") == A


def test_logging_options_merge_for_one_driver_and_go_with_another() -> None:
    base = {"logging": {"driver": "json-file", "options": {"max-size": "1m"}}}
    same = service(base, {"logging": {"driver": "json-file", "options": {"max-file": "3"}}})
    assert plain(same["logging"]) == {"driver": "json-file",
                                      "options": {"max-size": "1m", "max-file": "3"}}
    other = service(base, {"logging": {"driver": "syslog"}})
    assert plain(other["logging"]) == {"driver": "syslog"}
    kept = service(base, {"logging": {"options": {"max-file": "3"}}})
    assert plain(kept["logging"]["options"]) == {"max-size": "1m", "max-file": "3"}


def test_ports_are_one_resource_per_address_target_and_protocol() -> None:
    merged = service(
        {"ports": [{"target": 80, "published": "8080"}, {"target": 53, "protocol": "udp"}]},
        {"ports": [{"target": 80, "published": "8080", "name": "web"},
                   {"target": 80, "published": "9090"},
                   {"target": 53, "protocol": "tcp"},
                   {"target": 80, "published": "8080", "host_ip": "127.0.0.2"}]})
    assert plain(merged["ports"]) == [
        {"target": 80, "published": "8080", "name": "web"}, {"target": 53, "protocol": "udp"},
        {"target": 80, "published": "9090"}, {"target": 53, "protocol": "tcp"},
        {"target": 80, "published": "8080", "host_ip": "127.0.0.2"}]
    assert merged["ports"].places == [B, A, B, B, B]


def test_volumes_are_replaced_by_container_path_and_placed_there() -> None:
    merged = service({"volumes": [{"type": "bind", "source": "/a", "target": "/d",
                                   "read_only": True}, {"type": "volume", "target": "/v"}]},
                     {"volumes": [{"type": "bind", "source": "/b", "target": "/d"}]})
    assert plain(merged["volumes"]) == [{"type": "bind", "source": "/b", "target": "/d"},
                                        {"type": "volume", "target": "/v"}]
    assert merged["volumes"].places == [B, A]
    assert place_of(merged, "volumes") == B


def test_lists_append_without_repeats_and_scalars_are_replaced() -> None:
    merged = service({"cap_add": ["NET_ADMIN"], "image": "a", "command": ["x", "y"]},
                     {"cap_add": ["NET_ADMIN", "SYS_TIME"], "image": "b", "command": ["z"],
                      "user": "1"})
    assert plain(merged) == {"cap_add": ["NET_ADMIN", "SYS_TIME"], "image": "b",
                             "command": ["z"], "user": "1"}
    assert merged["cap_add"].places == [A, B]
    assert (place_of(merged, "image"), place_of(merged, "user")) == (B, B)


def test_mappings_merge_deeply() -> None:
    merged = merge_mappings(located({"a": {"b": 1, "c": [1]}}, A),
                            located({"a": {"d": 2, "c": [2]}}, B))
    assert plain(merged) == {"a": {"b": 1, "c": [1, 2], "d": 2}}
    assert place_of(merged["a"], "b") == A and place_of(merged["a"], "d") == B
    assert merge_mappings(1, located({"x": 1}, B)) == {"x": 1}


def test_files_merge_services_and_sections() -> None:
    merged = merge_files(
        located({"services": {"web": {"image": "a"}, "db": {"image": "pg"}},
                 "networks": {"front": {}}}, A),
        located({"services": {"web": {"user": "1"}, "cache": {"image": "redis"}},
                 "networks": {"back": {}}, "volumes": {"data": {}}}, B))
    assert plain(merged) == {"services": {"web": {"image": "a", "user": "1"},
                                          "db": {"image": "pg"}, "cache": {"image": "redis"}},
                             "networks": {"front": {}, "back": {}}, "volumes": {"data": {}}}
    assert place_of(merged["services"], "db") == A
    assert place_of(merged["services"], "cache") == B
    assert place_of(merged, "volumes") == B


def test_reset_and_override_at_every_level() -> None:
    base = located({"services": {"web": {"image": "a", "ports": [{"target": 80}],
                                         "environment": {"A": "1"}},
                                 "db": {"image": "pg"}},
                    "volumes": {"data": {}}}, A)
    later = LDict([("services", LDict([
        ("web", LDict([("ports", Override(located([{"target": 81}], B))),
                       ("environment", RESET)], {"ports": B, "environment": B})),
        ("db", RESET)], {"web": B, "db": B})), ("volumes", RESET)],
        {"services": B, "volumes": B})
    merged = untagged(merge_files(base, later))
    assert plain(merged) == {"services": {"web": {"image": "a", "ports": [{"target": 81}]}}}
    assert "environment" not in merged["services"]["web"].places
    assert place_of(merged["services"]["web"], "ports") == B


def test_untagged_drops_reset_items_with_their_places() -> None:
    value = LList(["a", RESET, "b"], [A, B, B])
    cleaned = untagged(value)
    assert cleaned == ["a", "b"] and cleaned.places == [A, B]
    assert untagged(["x", RESET]) == ["x"]
    assert untagged(Override(located({"k": "v"}, A))) == {"k": "v"}


def test_where_is_the_nearest_placed_parent() -> None:
    data = LDict([("services", LDict([("web", LList(["x"], [B]))], {"web": A}))],
                 {"services": A})
    found = LocatedData(data, ("root.yml", 1, 1))
    assert found.where(("services", "web", 0)) == B
    assert found.where(("services", "web", 1)) == A  # no such item: its list's place
    assert found.where(("services", "nothing", "deeper")) == A
    assert found.where(()) == ("root.yml", 1, 1)
    assert found.where(("other",)) == ("root.yml", 1, 1)
    problem = found.problem(("services", "web", 0), "bad")
    assert str(problem) == "b.yml:2:2: services.web[0]: bad"
    assert place_of(LList(["x"], [A]), 1) is None and place_of({"a": 1}, "a") is None


def test_without_keeps_the_places_of_what_stays() -> None:
    data = LDict([("a", 1), ("b", 2)], {"a": A, "b": B})
    kept = data.without("a")
    assert kept == {"b": 2} and kept.places["b"] == B
    assert data.copy().places == {"a": A, "b": B}
