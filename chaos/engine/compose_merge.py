"""How a later compose file overrides an earlier one, as `docker compose` merges them.

Mappings merge key by key; lists are appended; the exceptions are those of
the compose specification: `command`, `entrypoint` and `healthcheck.test`
are replaced whole, and ports, volumes, devices, secrets and configs are
merged by the resource they name (a later entry for the same container path
replaces the earlier one whole).  `extends` uses the same rules, the service that
extends playing the later file.  In a later file, `!reset` removes a value
and `!override` replaces one whole, as compose's tags do.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chaos.engine.located import LDict, LList, as_ldict, place_of
from chaos.yamlsource import Override, Reset

#: Replaced whole by a later value.
REPLACED = {"command", "entrypoint"}


def _port_key(item: Any) -> Any:
    if not isinstance(item, dict):
        return repr(item)
    return (item.get("host_ip"), str(item.get("published")), str(item.get("target")),
            item.get("protocol", "tcp"))


def _target_key(item: Any) -> Any:
    if not isinstance(item, dict):
        return repr(item)
    return item.get("target") or item.get("source")


#: Lists whose items are merged by the resource they name.
KEYED_LISTS: dict[str, Callable[[Any], Any]] = {
    "ports": _port_key,
    "volumes": _target_key,
    "devices": _target_key,
    "secrets": _target_key,
    "configs": _target_key,
}


def merge_service(base: Any, later: Any) -> Any:
    """`later` over `base`, both one service in long form."""
    if not (isinstance(base, dict) and isinstance(later, dict)):
        return later
    out = as_ldict(base)
    for key, value in later.items():
        place = place_of(later, key)
        if key not in out or key in REPLACED:
            out.put(key, value, place)
        elif key in KEYED_LISTS and isinstance(out[key], list) and isinstance(value, list):
            out.put(key, _merge_keyed(out[key], value, KEYED_LISTS[key]), place)
        elif key == "healthcheck":
            merged = merge_mappings(out[key], value)
            if isinstance(merged, LDict) and isinstance(value, dict) and "test" in value:
                merged.put("test", value["test"], place_of(value, "test"))
            out.put(key, merged, place)
        elif key == "logging" and isinstance(out[key], dict) and isinstance(value, dict) \
                and value.get("driver", out[key].get("driver")) != out[key].get("driver"):
            out.put(key, value, place)  # another driver: the old options mean nothing to it
        else:
            out.put(key, merge_mappings(out[key], value), place)
    return out


def merge_mappings(base: Any, later: Any) -> Any:
    """Mappings key by key (recursively), lists appended without repeats, else `later`."""
    if isinstance(base, dict) and isinstance(later, dict):
        out = as_ldict(base)
        for key, value in later.items():
            place = place_of(later, key)
            if isinstance(value, (Reset, Override)):
                _tagged(out, key, value, place)
            else:
                out.put(key, merge_mappings(out[key], value) if key in out else value, place)
        return out
    if isinstance(base, list) and isinstance(later, list):
        out_list = _as_llist(base)
        for index, item in enumerate(later):
            if item not in out_list:
                out_list.add(item, place_of(later, index))
        return out_list
    return later


def _tagged(out: LDict, key: Any, value: Reset | Override, place: Any) -> None:
    """`!reset` removes the earlier value; `!override` replaces it instead of merging."""
    if isinstance(value, Reset):
        out.pop(key, None)
        out.places.pop(key, None)
    else:
        out.put(key, value, place)  # unwrapped once every file is merged


def _merge_keyed(base: list[Any], later: list[Any], key: Callable[[Any], Any]) -> LList:
    out = _as_llist(base)
    index_of = {key(item): i for i, item in enumerate(out)}
    for index, item in enumerate(later):
        place = place_of(later, index)
        found = index_of.get(key(item))
        if found is None:
            index_of[key(item)] = len(out)
            out.add(item, place)
        else:  # the same resource: the later entry replaces it whole
            out[found] = item
            out.places[found] = place
    return out


def merge_files(base: LDict, later: LDict) -> LDict:
    """A whole later file over an earlier one (`-f a.yml -f b.yml`)."""
    out = base.copy()
    for key, value in later.items():
        place = later.places.get(key)
        if isinstance(value, (Reset, Override)):
            _tagged(out, key, value, place)
        elif key == "services" and isinstance(out.get(key), dict) and isinstance(value, dict):
            services = as_ldict(out[key])
            for name, service in value.items():
                service_place = place_of(value, name)
                if isinstance(service, Reset):
                    services.pop(name, None)
                else:
                    services.put(name, merge_service(services[name], service)
                                 if name in services else service, service_place)
            out.put(key, services, place)
        elif key in out:
            out.put(key, merge_mappings(out[key], value), place)
        else:
            out.put(key, value, place)
    return out


def _as_llist(value: list[Any]) -> LList:
    return LList(value, value.places) if isinstance(value, LList) else LList(value)
