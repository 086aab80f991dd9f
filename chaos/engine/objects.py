"""The thin Docker layer: a run's containers, networks and volumes.

It knows compose services and labels, nothing of faults or of the hosting
stack.  Every object it creates carries the run's labels; every SDK error is
wrapped in a harness error naming what failed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume
from docker.types import Mount as DockerMount

from chaos.engine import labels
from chaos.engine.compose import ComposeProject
from chaos.errors import EngineError, InputError, StackError
from chaos.yamlsource import did_you_mean

NANOSECONDS = 1_000_000_000


def object_name(run_id: str, name: str) -> str:
    """Docker name of a run's object: `drill-<run>-<name>`."""
    return f"drill-{run_id}-{name}"


@dataclass(frozen=True)
class ContainerPlan:
    """Everything needed to create one service's container."""

    service: str
    name: str
    image: str
    labels: dict[str, str]
    environment: dict[str, str]
    networks: list[tuple[str, list[str]]]
    mounts: list[DockerMount]
    ports: dict[str, tuple[str, int | None]]
    command: list[str] | None = None
    entrypoint: list[str] | None = None
    hostname: str | None = None
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    devices: list[str] = field(default_factory=list)
    device_cgroup_rules: list[str] = field(default_factory=list)
    security_opt: list[str] = field(default_factory=list)
    healthcheck: dict[str, object] | None = None
    stop_grace_period: float = 10.0
    #: Host folders the harness must create before the container (bind sources).
    bind_sources: list[Path] = field(default_factory=list)


def plan_container(project: ComposeProject, service_name: str, run_id: str, image: str,
                   state_root: str) -> ContainerPlan:
    """Translate one compose service into a container plan for run `run_id`."""
    service = project.service(service_name)
    mounts: list[DockerMount] = []
    bind_sources: list[Path] = []
    for mount in service.volumes:
        if mount.type == "bind":
            assert mount.source is not None
            source = project.resolve(mount.source)
            bind_sources.append(source)
            propagation = mount.bind.propagation if mount.bind else None
            mounts.append(DockerMount(mount.target, str(source), type="bind",
                                      read_only=mount.read_only, propagation=propagation))
        elif mount.type == "volume":
            assert mount.source is not None
            mounts.append(DockerMount(mount.target, object_name(run_id, mount.source),
                                      type="volume", read_only=mount.read_only))
        else:
            mounts.append(DockerMount(mount.target, None, type="tmpfs"))
    healthcheck = None
    if service.healthcheck is not None and not service.healthcheck.disable:
        check = service.healthcheck
        healthcheck = {"test": check.test, "interval": int(check.interval * NANOSECONDS),
                       "timeout": int(check.timeout * NANOSECONDS), "retries": check.retries,
                       "start_period": int(check.start_period * NANOSECONDS)}
    return ContainerPlan(
        service=service_name,
        name=object_name(run_id, service_name),
        image=image,
        labels=labels.run_labels(run_id, state_root, **service.labels, **{
            labels.SERVICE: service_name, labels.COMPOSE_FILE: str(project.file)}),
        environment=dict(service.environment),
        networks=[(object_name(run_id, net), cfg.aliases) for net, cfg in service.networks.items()],
        mounts=mounts,
        ports={f"{p.target}/{p.protocol}": (p.host_ip, p.published or None) for p in service.ports},
        command=service.command,
        entrypoint=service.entrypoint,
        hostname=service.hostname,
        cap_add=list(service.cap_add),
        cap_drop=list(service.cap_drop),
        devices=[f"{d.host}:{d.container}:{d.permissions}" for d in service.devices],
        device_cgroup_rules=list(service.device_cgroup_rules),
        security_opt=list(service.security_opt),
        healthcheck=healthcheck,
        stop_grace_period=service.stop_grace_period,
        bind_sources=bind_sources,
    )


def create_network(client: docker.DockerClient, name: str, run_labels: dict[str, str],
                   *, internal: bool = False) -> Network:
    try:
        return client.networks.create(name, driver="bridge", labels=run_labels,
                                      internal=internal, check_duplicate=True)
    except DockerException as e:
        raise EngineError(f"creating network {name} failed: {e}") from e


def create_volume(client: docker.DockerClient, name: str, run_labels: dict[str, str]) -> Volume:
    try:
        return client.volumes.create(name, labels=run_labels)
    except DockerException as e:
        raise EngineError(f"creating volume {name} failed: {e}") from e


def create_container(client: docker.DockerClient, plan: ContainerPlan) -> Container:
    """Create (not start) the container and join all its networks."""
    for source in plan.bind_sources:
        # As docker does for a missing bind source: a folder (a file is used as it is).
        if not source.exists():
            source.mkdir(parents=True, exist_ok=True)
    first_network, first_aliases = plan.networks[0]
    networking = client.api.create_networking_config(
        {first_network: client.api.create_endpoint_config(aliases=first_aliases or None)})
    try:
        # The low-level call: containers.run would try to pull a missing image.
        host_config = client.api.create_host_config(
            port_bindings=plan.ports or None, mounts=plan.mounts or None,
            cap_add=plan.cap_add or None, cap_drop=plan.cap_drop or None,
            devices=plan.devices or None, device_cgroup_rules=plan.device_cgroup_rules or None,
            security_opt=plan.security_opt or None, network_mode=first_network)
        created = client.api.create_container(
            plan.image, command=plan.command, entrypoint=plan.entrypoint, name=plan.name,
            hostname=plan.hostname, environment=plan.environment, labels=plan.labels,
            ports=[(int(k.split('/')[0]), k.split('/')[1]) for k in plan.ports] or None,
            host_config=host_config,
            networking_config=networking, healthcheck=plan.healthcheck,
            stop_timeout=int(plan.stop_grace_period), detach=True)
        container = client.containers.get(created["Id"])
        for network, aliases in plan.networks[1:]:
            client.networks.get(network).connect(container, aliases=aliases or None)
        return container
    except DockerException as e:
        raise EngineError(f"creating container {plan.name} for service {plan.service} failed: {e}"
                          ) from e


def start(container: Container) -> None:
    try:
        container.start()
    except DockerException as e:
        raise StackError(f"starting {container.name} failed: {e}",
                         logs=logs_tail(container, 20)) from e


@dataclass(frozen=True)
class ContainerState:
    """What Docker says of a container now."""

    status: str  # created, running, exited, dead, ...
    health: str | None  # starting, healthy, unhealthy; None when it has no healthcheck
    exit_code: int | None


def state_of(container: Container) -> ContainerState:
    """Reload and return the container's status and health."""
    try:
        container.reload()
    except NotFound:
        return ContainerState("removed", None, None)
    except DockerException as e:
        raise EngineError(f"inspecting {container.name} failed: {e}") from e
    attrs = container.attrs.get("State", {})
    health = attrs.get("Health", {}).get("Status") if attrs.get("Health") else None
    return ContainerState(attrs.get("Status", "unknown"), health, attrs.get("ExitCode"))


def last_health_check(container: Container) -> str:
    """The container's last healthcheck: its command, exit code and output."""
    log = (container.attrs.get("State", {}).get("Health") or {}).get("Log") or []
    test = (container.attrs.get("Config", {}).get("Healthcheck") or {}).get("Test") or []
    command = " ".join(test[1:]) if test[:1] in (["CMD"], ["CMD-SHELL"]) else " ".join(test)
    if not log:
        return f"`{command}` has not run yet"
    output = str(log[-1].get("Output", "")).strip()
    return f"`{command}` exited {log[-1].get('ExitCode')}" + (f": {output[:300]}" if output else "")


def logs_tail(container: Container, lines: int = 30) -> str:
    try:
        return container.logs(tail=lines, timestamps=False).decode(errors="replace").rstrip()
    except DockerException:
        return "(logs unavailable)"


@dataclass(frozen=True)
class ExecResult:
    exit_code: int
    output: str


def exec_in(container: Container, command: list[str], *, timeout: float = 20.0) -> ExecResult:
    """Run a command in a container; `timeout` bounds it (coreutils' timeout inside)."""
    try:
        code, output = container.exec_run(["timeout", "-k", "2", str(int(timeout)), *command],
                                          demux=False)
    except DockerException as e:
        raise EngineError(f"running {command[0]} in {container.name} failed: {e}") from e
    return ExecResult(int(code if code is not None else -1), (output or b"").decode(errors="replace"))


def _act(container: Container, doing: str, action: Callable[[], object]) -> None:
    try:
        action()
    except DockerException as e:
        raise EngineError(f"{doing} {container.name} failed: {e}") from e


def pause(container: Container) -> None:
    """Freeze every process of the container (the cgroup freezer)."""
    _act(container, "pausing", container.pause)


def unpause(container: Container) -> None:
    _act(container, "unpausing", container.unpause)


def stop(container: Container, *, grace: float = 10.0) -> None:
    """An orderly stop (SIGTERM, then SIGKILL after `grace`)."""
    _act(container, "stopping", lambda: container.stop(timeout=int(grace)))


def restart(container: Container) -> None:
    """Start a stopped container again."""
    _act(container, "starting", container.start)


def kill(container: Container) -> None:
    """SIGKILL every process at once: the power is cut."""
    _act(container, "killing", lambda: container.kill(signal="SIGKILL"))


def networks_of(container: Container) -> dict[str, list[str]]:
    """Docker network name -> the container's aliases on it (its own id excluded)."""
    container.reload()
    attached = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
    short_id = container.id[:12] if container.id else ""
    return {name: [a for a in (cfg.get("Aliases") or []) if a != short_id]
            for name, cfg in attached.items()}


def disconnect(client: docker.DockerClient, network: str, container: Container) -> None:
    _act(container, f"disconnecting {network} from",
         lambda: client.networks.get(network).disconnect(container, force=True))


def connect(client: docker.DockerClient, network: str, container: Container, aliases: list[str]) -> None:
    _act(container, f"connecting {network} to",
         lambda: client.networks.get(network).connect(container, aliases=aliases or None))


def site_containers(client: docker.DockerClient, run_id: str, target: str) -> list[Container]:
    """The containers of a site (by its label) or of one service, of one run."""
    containers = find_containers(client, run_id)
    chosen = [c for c in containers
              if target in (c.labels.get(labels.SITE), c.labels.get(labels.SERVICE))]
    if not chosen:
        sites = sorted({c.labels.get(labels.SITE, "") for c in containers} - {""})
        services = sorted(c.labels.get(labels.SERVICE, c.name) for c in containers)
        raise InputError(f"run {run_id} has no site or service {target!r}"
                         f"{did_you_mean(target, sites + services)} (sites: {', '.join(sites)}; "
                         f"services: {', '.join(services)})")
    return chosen


def service_container(client: docker.DockerClient, run_id: str, service: str) -> Container:
    """The container of one service of a run."""
    containers = find_containers(client, run_id)
    for container in containers:
        if container.labels.get(labels.SERVICE) == service:
            return container
    names = sorted(c.labels.get(labels.SERVICE, c.name) for c in containers)
    raise InputError(f"run {run_id} has no service {service!r}{did_you_mean(service, names)} "
                     f"(services: {', '.join(names) or 'none'})")


def published_port(container: Container, target: str) -> tuple[str, int] | None:
    """The host (ip, port) a container port is published on, if any."""
    container.reload()
    bindings = (container.attrs.get("NetworkSettings", {}).get("Ports") or {}).get(target)
    if not bindings:
        return None
    return bindings[0]["HostIp"], int(bindings[0]["HostPort"])


def find_containers(client: docker.DockerClient, run_id: str | None = None) -> list[Container]:
    """Containers of one run (or of every run), running or not."""
    try:
        return client.containers.list(all=True, filters=labels.run_filter(run_id))
    except DockerException as e:
        raise EngineError(f"listing containers failed: {e}") from e


def find_networks(client: docker.DockerClient, run_id: str | None = None) -> list[Network]:
    try:
        return client.networks.list(filters=labels.run_filter(run_id))
    except DockerException as e:
        raise EngineError(f"listing networks failed: {e}") from e


def find_volumes(client: docker.DockerClient, run_id: str | None = None) -> list[Volume]:
    try:
        return client.volumes.list(filters=labels.run_filter(run_id))
    except DockerException as e:
        raise EngineError(f"listing volumes failed: {e}") from e


def stop_and_remove(container: Container, *, grace: float | None = None) -> None:
    """Stop (SIGTERM, then SIGKILL after `grace`) and remove; gone already is fine."""
    try:
        container.reload()
        if container.status in ("running", "restarting", "paused"):
            if container.status == "paused":
                container.unpause()
            timeout = int(grace if grace is not None else
                          container.attrs.get("Config", {}).get("StopTimeout") or 10)
            container.stop(timeout=timeout)
        container.remove(force=True, v=True)
    except NotFound:
        return
    except APIError as e:
        if e.status_code == 409 and "already in progress" in str(e):
            return
        raise EngineError(f"removing {container.name} failed: {e}") from e


def remove_network(network: Network) -> None:
    try:
        network.reload()
        for container in network.containers:
            network.disconnect(container, force=True)
        network.remove()
    except NotFound:
        return
    except DockerException as e:
        raise EngineError(f"removing network {network.name} failed: {e}") from e


def remove_volume(volume: Volume) -> None:
    try:
        volume.remove(force=True)
    except NotFound:
        return
    except DockerException as e:
        raise EngineError(f"removing volume {volume.name} failed: {e}") from e
