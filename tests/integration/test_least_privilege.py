"""Least privilege, read from the containers' inspect data of the bundled stack (issue 8).

No container is privileged or shares a host namespace; only the machines that
own drives get capabilities and devices, exactly those their drives need;
every published port binds 127.0.0.1; the Docker socket is mounted nowhere;
the database password is generated per run.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml

from chaos.engine import labels, objects
from chaos.engine.runstate import RunState, RunStore
from tests.conftest import ROOT, Drill, own_stack

pytestmark = pytest.mark.integration

HOSTING = ROOT / "compose" / "hosting.yml"

# The allow-list, from compose/hosting.yml (`x-drive-owner`).  A machine that
# owns drives serves each one with nbdkit, exposes it with nbdfuse (/dev/fuse),
# attaches it to a loop device (LOOP_CTL_GET_FREE on /dev/loop-control, then
# mknod of /dev/loopN: MKNOD, and block major 7 in the device cgroup), makes
# and mounts a btrfs RAID1 on them (SYS_ADMIN, /dev/btrfs-control).
DRIVE_OWNER_ROLES = {"server", "backup"}
DRIVE_OWNER_CAPS = {"SYS_ADMIN", "MKNOD"}
DRIVE_OWNER_DEVICES = {"/dev/fuse", "/dev/loop-control", "/dev/btrfs-control"}
DRIVE_OWNER_CGROUP_RULES = ["b 7:* rmw"]
DRIVE_OWNER_SECURITY_OPT = {"apparmor=unconfined", "seccomp=unconfined"}
#: The only service that publishes a port: the edge, the stack's front door.
PUBLISHING = {"edge"}
HOST_NAMESPACES = ("NetworkMode", "PidMode", "IpcMode", "UTSMode", "UsernsMode")
DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


def inspected(engine: docker.DockerClient, run_id: str) -> dict[str, dict[str, Any]]:
    """Service -> `docker inspect` of its container, for every container of the run."""
    found = {c.labels[labels.SERVICE]: engine.api.inspect_container(c.id)
             for c in objects.find_containers(engine, run_id)}
    assert set(found) == {"edge", "server-a", "server-b", "backup"}, sorted(found)
    return found


def role(data: dict[str, Any]) -> str:
    return str(data["Config"]["Labels"][labels.ROLE])


def environment(data: dict[str, Any]) -> dict[str, str]:
    return dict(item.split("=", 1) for item in data["Config"]["Env"] or [])


@pytest.fixture(scope="module")
def stack(engine: docker.DockerClient, drill: Drill) -> Iterator[RunState]:
    """A stack of this module's own, down at its end: the session's shared stack, started
    this early, would stay up through modules that expect an empty state root
    (test_lifecycle cleans with --all and checks that nothing is left)."""
    with own_stack(engine, drill) as (state, _):
        yield state


def test_the_allow_list_is_what_hosting_yml_grants() -> None:
    """The compose file grants exactly the allow-list, and only to the drive owners."""
    services = yaml.safe_load(HOSTING.read_text())["services"]
    for name, service in services.items():
        owner = service["labels"][labels.ROLE] in DRIVE_OWNER_ROLES
        assert "privileged" not in service, name
        assert set(service.get("cap_add", [])) == (DRIVE_OWNER_CAPS if owner else set()), name
        assert set(service.get("devices", [])) == (DRIVE_OWNER_DEVICES if owner else set()), name
        assert service.get("device_cgroup_rules", []) == (DRIVE_OWNER_CGROUP_RULES if owner else []), name
        assert set(service.get("security_opt", [])) == (DRIVE_OWNER_SECURITY_OPT if owner else set()), name
        # The password is the run's, with no default to fall back on.
        password = service.get("environment", {}).get("DB_PASSWORD", "${DRILL_DB_PASSWORD}")
        assert password == "${DRILL_DB_PASSWORD}", name


def test_no_container_is_privileged_or_shares_a_host_namespace(
        engine: docker.DockerClient, stack: RunState) -> None:
    for service, data in inspected(engine, stack.run_id).items():
        host = data["HostConfig"]
        assert host["Privileged"] is False, service
        for mode in HOST_NAMESPACES:
            assert host.get(mode) != "host", f"{service}: {mode}=host"


def test_only_drive_owners_get_capabilities_and_devices(
        engine: docker.DockerClient, stack: RunState) -> None:
    owners = set()
    for service, data in inspected(engine, stack.run_id).items():
        host = data["HostConfig"]
        caps = set(host.get("CapAdd") or [])
        devices = {(d["PathOnHost"], d["PathInContainer"]) for d in host.get("Devices") or []}
        rules = host.get("DeviceCgroupRules") or []
        security = set(host.get("SecurityOpt") or [])
        if role(data) in DRIVE_OWNER_ROLES:
            owners.add(service)
            assert caps == DRIVE_OWNER_CAPS, service
            assert devices == {(d, d) for d in DRIVE_OWNER_DEVICES}, service
            assert rules == DRIVE_OWNER_CGROUP_RULES, service
            assert security == DRIVE_OWNER_SECURITY_OPT, service
        else:
            assert not (caps or devices or rules or security), (service, caps, devices, rules, security)
    assert owners == {"server-a", "server-b", "backup"}


def test_every_published_port_binds_loopback(engine: docker.DockerClient, stack: RunState) -> None:
    publishing = set()
    for service, data in inspected(engine, stack.run_id).items():
        assert data["HostConfig"].get("PublishAllPorts") is False, service
        asked = data["HostConfig"].get("PortBindings") or {}
        bound = data["NetworkSettings"].get("Ports") or {}
        for port, bindings in [*asked.items(), *bound.items()]:
            for binding in bindings or []:
                assert binding["HostIp"] == "127.0.0.1", f"{service} {port}: {binding}"
                publishing.add(service)
    assert publishing == PUBLISHING


def _forbidden_sources() -> set[str]:
    """The Docker socket (by every name) and every folder above it."""
    found = set()
    for socket in DOCKER_SOCKETS:
        for path in (Path(socket), Path(os.path.realpath(socket))):
            found.add(str(path))
            found.update(str(parent) for parent in path.parents)
    return found


def test_the_docker_socket_is_mounted_in_no_container(
        engine: docker.DockerClient, stack: RunState, drill: Drill) -> None:
    forbidden = _forbidden_sources()
    run_dir = RunStore(drill.state_root).run_dir(stack.run_id).resolve()
    for service, data in inspected(engine, stack.run_id).items():
        host = data["HostConfig"]
        mounts = [(m["Type"], m.get("Source", "")) for m in data.get("Mounts") or []]
        mounts += [("bind", b.split(":", 1)[0]) for b in host.get("Binds") or []]
        mounts += [(m["Type"], m.get("Source", "")) for m in host.get("Mounts") or []]
        for kind, source in mounts:
            real = os.path.realpath(source)
            assert source not in forbidden and real not in forbidden, f"{service} mounts {source}"
            # A bind is a folder of the run's own record, nothing else of the host.
            assert kind != "bind" or Path(real).is_relative_to(run_dir), \
                f"{service} mounts {source}, outside {run_dir}"
        if role(data) in DRIVE_OWNER_ROLES:  # the one bind they have: their record folder
            assert ("bind", str(run_dir / service)) in [(k, os.path.realpath(s)) for k, s in mounts]
        assert not any(k.startswith("DOCKER_") for k in environment(data)), service


@pytest.fixture(scope="module")
def second_run(engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[RunState]:
    """Another bundled stack under a state root of its own (the session's stays current)."""
    runner = Drill(tmp_path_factory.mktemp("second-run"))
    runner.run("up")
    state = RunStore(runner.state_root).resolve(None)
    try:
        yield state
    finally:
        runner.run("down", "--run", state.run_id)


def passwords(engine: docker.DockerClient, run_id: str) -> set[str]:
    """The DB_PASSWORD of every machine of the run that has one."""
    found = {service: environment(data).get("DB_PASSWORD")
             for service, data in inspected(engine, run_id).items()}
    assert all(found[s] for s in ("server-a", "server-b", "backup")), found.keys()
    return {p for p in found.values() if p}


@pytest.mark.slow
def test_the_database_password_is_generated_per_run(
        engine: docker.DockerClient, stack: RunState, second_run: RunState) -> None:
    first, second = passwords(engine, stack.run_id), passwords(engine, second_run.run_id)
    assert len(first) == 1 and len(second) == 1, "the machines of one run share one password"
    (mine,), (theirs,) = first, second
    assert mine != theirs
    hosting = HOSTING.read_text()
    for password in (mine, theirs):
        assert len(password) >= 20 and password not in hosting  # random, not a default
