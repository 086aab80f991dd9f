"""Short forms of a compose file written out in their long form, and paths made absolute.

Done to each file on its own, before files are merged: the override rules
merge ports by address, volumes by container path, `environment` by name,
and so need one form to compare.  A value that is not a valid short form is
left as written: validation then reports it, at its place.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
from pathlib import Path
from typing import Any

from pydantic_core import PydanticCustomError

from chaos.engine.located import LDict, LList, Place, as_ldict, place_of
from chaos.yamlsource import Override

#: Keys whose value is `{K: V}` or `["K=V", ...]` (`extra_hosts` also takes `host:ip`).
MAPPINGS = ("environment", "labels", "annotations", "sysctls", "extra_hosts")
#: Keys whose value may be one string where a list is meant.
STRING_LISTS = ("dns", "dns_search", "dns_opt", "tmpfs", "label_file", "cap_add", "cap_drop",
                "security_opt", "device_cgroup_rules", "group_add", "expose", "profiles",
                "external_links", "links", "volumes_from")
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")
#: Words that may follow `SOURCE:TARGET:` in a short volume.
VOLUME_MODES = {"ro", "rw", "z", "Z", "nocopy", "consistent", "cached", "delegated",
                "shared", "rshared", "slave", "rslave", "private", "rprivate"}


def absolute(base: Path, text: str) -> str:
    """A path from a file, absolute: `~` expanded, relative to `base` otherwise."""
    expanded = os.path.expanduser(text)
    return os.path.normpath(expanded if os.path.isabs(expanded) else os.path.join(base, expanded))


def is_remote_context(text: str) -> bool:
    """Build contexts that are URLs (git repositories, tarballs), not folders."""
    return "://" in text or text.startswith(("git@", "github.com/"))


def mapping(value: Any, *, separators: str = "=") -> Any:
    """`["K=V", "K"]` -> `{K: V, K: None}` keeping places; a mapping stays as it is."""
    if not isinstance(value, list):
        return value
    out = LDict()
    for index, item in enumerate(value):
        if not isinstance(item, str):
            return value  # validation says what is wrong, at the item
        cut = min((i for i in (item.find(s) for s in separators) if i >= 0), default=-1)
        key, val = (item, None) if cut < 0 else (item[:cut], item[cut + 1:])
        out.put(key, val, place_of(value, index))
    return out


def names(value: Any) -> Any:
    """`[a, b]` -> `{a: {}, b: {}}`; entries written `a:` (null) become `{}`."""
    if isinstance(value, list):
        if not all(isinstance(item, str) for item in value):
            return value
        out = LDict()
        for index, item in enumerate(value):
            out.put(item, LDict(), place_of(value, index))
        return out
    if isinstance(value, dict):
        out = LDict()
        for key, item in value.items():
            out.put(key, LDict() if item is None else item, place_of(value, key))
        return out
    return value


def parse_port(value: Any) -> list[Any]:
    """`[[ip:]published:]target[/protocol]`, ranges too, -> long forms (one per port).

    Raises PydanticCustomError for text that is not a port.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return [{"target": value}]
    if not isinstance(value, str):
        return [value]
    spec, _, protocol = value.partition("/")
    host_ip = None
    if spec.startswith("["):  # [::1]:8080:80
        close = spec.find("]")
        host_ip, spec = spec[1:close], spec[close + 2:] if close > 0 else spec
    parts = spec.split(":")
    if len(parts) == 3 and host_ip is None:
        host_ip = parts[0]
        parts = parts[1:]
    if len(parts) > 2 or not _RANGE.fullmatch(parts[-1]) or (
            len(parts) == 2 and parts[0] and not _RANGE.fullmatch(parts[0])):
        raise PydanticCustomError(
            "port", "'{value}' is not a port; write '8080:80', '127.0.0.1:8080:80', "
            "'8000-8001:80-81' or '80'", {"value": value})
    targets = _port_range(parts[-1])
    published = parts[0] if len(parts) == 2 and parts[0] else None
    hosts: list[str | None] = [published] * len(targets)
    if published and len(_port_range(published)) == len(targets) and len(targets) > 1:
        hosts = [str(p) for p in _port_range(published)]
    out = []
    for target, host in zip(targets, hosts, strict=True):
        long: dict[str, Any] = {"target": target}
        if host is not None:
            long["published"] = host
        if host_ip is not None:
            long["host_ip"] = host_ip
        if protocol:
            long["protocol"] = protocol
        out.append(long)
    return out


def _port_range(text: str) -> list[int]:
    match = _RANGE.fullmatch(text)
    assert match is not None
    first = int(match.group(1))
    last = int(match.group(2)) if match.group(2) else first
    return list(range(first, last + 1)) if 0 < last - first < 65536 else [first]


def parse_volume(value: Any) -> Any:
    """`SOURCE:TARGET[:MODES]` or `TARGET` (anonymous) -> long form.

    Raises PydanticCustomError for text that is not a volume.
    """
    if not isinstance(value, str):
        return value
    parts = value.split(":")
    if len(parts) == 1:
        return {"type": "volume", "target": value}
    if len(parts) > 3 or not parts[0] or not parts[1]:
        raise PydanticCustomError(
            "volume", "'{value}' is not a volume; write 'SOURCE:TARGET', 'SOURCE:TARGET:ro' "
            "or 'TARGET'", {"value": value})
    modes = parts[2].split(",") if len(parts) == 3 else []
    unknown = [m for m in modes if m not in VOLUME_MODES]
    if unknown:
        raise PydanticCustomError(
            "volume", "'{value}': unknown volume option '{option}' (options: ro, rw, z, Z, "
            "nocopy, shared, slave, private and their r- forms)",
            {"value": value, "option": unknown[0]})
    source, target = parts[0], parts[1]
    is_path = source.startswith(("/", "./", "../", "~")) or source in (".", "..")
    long: dict[str, Any] = {"type": "bind" if is_path else "volume", "source": source,
                            "target": target}
    if "ro" in modes:
        long["read_only"] = True
    propagation = [m for m in modes if m.endswith(("shared", "slave", "private"))]
    if is_path and (propagation or "z" in modes or "Z" in modes):
        long["bind"] = {**({"propagation": propagation[-1]} if propagation else {}),
                        **({"selinux": "z" if "z" in modes else "Z"}
                           if {"z", "Z"} & set(modes) else {})}
    if not is_path and "nocopy" in modes:
        long["volume"] = {"nocopy": True}
    return long


def parse_device(value: Any) -> Any:
    """`/dev/x[:/dev/y[:rwm]]` -> long form; raises PydanticCustomError otherwise."""
    if not isinstance(value, str):
        return value
    parts = value.split(":")
    if len(parts) > 3 or not parts[0].startswith("/dev/"):
        raise PydanticCustomError(
            "device", "'{value}' is not a device; write '/dev/fuse' or '/dev/a:/dev/b:rwm'",
            {"value": value})
    container = parts[1] if len(parts) > 1 else parts[0]
    if len(parts) == 2 and set(parts[1]) <= set("rwm"):
        container, permissions = parts[0], parts[1]  # /dev/x:rwm
    else:
        permissions = parts[2] if len(parts) > 2 else "rwm"
    return {"source": parts[0], "target": container, "permissions": permissions}


def expanded(value: Any, parse: Any) -> Any:
    """Apply a short-form parser to each item of a list; bad items stay as written."""
    if not isinstance(value, list):
        return value
    out = LList()
    for index, item in enumerate(value):
        try:
            parsed = parse(item)
        except PydanticCustomError:
            out.add(item, place_of(value, index))
            continue
        for one in parsed if isinstance(parsed, list) else [parsed]:
            out.add(_wrap(one, place_of(value, index)), place_of(value, index))
    return out


def _wrap(value: Any, place: Place | None) -> Any:
    """A plain dict made by a parser, placed where the short form was written."""
    if isinstance(value, dict) and not isinstance(value, LDict):
        out = LDict()
        for key, item in value.items():
            out.put(key, _wrap(item, place), place)
        return out
    return value


def _file_refs(value: Any, base: Path, key: str) -> Any:
    """`env_file`: a string, a list of strings or of `{path, required, format}` -> long forms."""
    if isinstance(value, str):
        value = LList([value])
    if not isinstance(value, list):
        return value
    out = LList()
    for index, item in enumerate(value):
        place = place_of(value, index)
        if isinstance(item, str):
            item = LDict([(key, item)], {key: place} if place else {})
        if isinstance(item, dict) and isinstance(item.get(key), str):
            item = as_ldict(item)
            item[key] = absolute(base, item[key])
        out.add(item, place)
    return out


def normalise_service(service: Any, base: Path) -> Any:
    """One service in long form, its paths absolute (relative ones are from `base`)."""
    if not isinstance(service, dict):
        return service
    out = as_ldict(service)
    # `!override VALUE` is normalised as VALUE, and stays marked for the merge.
    overridden = [key for key, value in out.items() if isinstance(value, Override)]
    for key in overridden:
        out[key] = out[key].value
    out = _normalised(out, base)
    for key in overridden:
        out[key] = Override(out[key])
    return out


def _normalised(out: LDict, base: Path) -> LDict:
    for key in STRING_LISTS:
        if isinstance(out.get(key), str):
            out[key] = LList([out[key]], [out.places.get(key)])
    for key in MAPPINGS:
        if key in out:
            out[key] = mapping(out[key], separators="=:" if key == "extra_hosts" else "=")
    for key in ("depends_on", "networks"):
        if key in out:
            out[key] = names(out[key])
    if "ports" in out:
        out["ports"] = expanded(out["ports"], parse_port)
    if "volumes" in out:
        out["volumes"] = expanded(out["volumes"], parse_volume)
        for mount in out["volumes"] if isinstance(out["volumes"], list) else []:
            if isinstance(mount, dict) and mount.get("type") == "bind" \
                    and isinstance(mount.get("source"), str):
                mount["source"] = absolute(base, mount["source"])
    if "devices" in out:
        out["devices"] = expanded(out["devices"], parse_device)
    for key in ("secrets", "configs"):
        if isinstance(out.get(key), list):
            out[key] = expanded(out[key], lambda v: {"source": v} if isinstance(v, str) else v)
    if "env_file" in out:
        out["env_file"] = _file_refs(out["env_file"], base, "path")
    if isinstance(out.get("label_file"), list):
        out["label_file"] = LList([absolute(base, p) if isinstance(p, str) else p
                                   for p in out["label_file"]], out["label_file"].places
                                  if isinstance(out["label_file"], LList) else ())
    if isinstance(out.get("build"), str):
        place = out.places.get("build")
        out["build"] = LDict([("context", out["build"])], {"context": place} if place else {})
    if isinstance(out.get("build"), dict):
        build = as_ldict(out["build"])
        if isinstance(build.get("context"), str) and not is_remote_context(build["context"]):
            build["context"] = absolute(base, build["context"])
        elif "context" not in build:
            build["context"] = str(base)
        for key in ("args", "labels"):
            if key in build:
                build[key] = mapping(build[key])
        out["build"] = build
    if isinstance(out.get("extends"), str):
        place = out.places.get("extends")
        out["extends"] = LDict([("service", out["extends"])], {"service": place} if place else {})
    if isinstance(out.get("extends"), dict) and isinstance(out["extends"].get("file"), str):
        extends = as_ldict(out["extends"])
        extends["file"] = absolute(base, extends["file"])
        out["extends"] = extends
    for key in ("command", "entrypoint"):
        if isinstance(out.get(key), str):
            with contextlib.suppress(ValueError):  # an unclosed quote: validation says so
                out[key] = LList(shlex.split(out[key]))
    return out


def normalise_top(data: LDict, base: Path) -> LDict:
    """A whole file: each service, and top-level entries written as null made `{}`."""
    out = data.copy()
    if isinstance(out.get("services"), dict):
        services = LDict()
        for name, service in out["services"].items():
            services.put(name, normalise_service(service, base), place_of(out["services"], name))
        out["services"] = services
    for key in ("networks", "volumes", "secrets", "configs"):
        if isinstance(out.get(key), dict):
            section = LDict()
            for name, entry in out[key].items():
                entry = LDict() if entry is None else entry
                if key in ("secrets", "configs") and isinstance(entry, dict) \
                        and isinstance(entry.get("file"), str):
                    entry = as_ldict(entry)
                    entry["file"] = absolute(base, entry["file"])
                section.put(name, entry, place_of(out[key], name))
            out[key] = section
    return out
