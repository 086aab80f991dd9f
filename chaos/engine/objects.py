"""The thin Docker layer: a run's containers, networks and volumes.

It knows compose services and labels, nothing of faults or of the hosting
stack.  Every object it creates carries the run's labels; every SDK error is
wrapped in a harness error naming what failed.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, DockerException, NotFound
from docker.models.containers import Container
from docker.models.networks import Network
from docker.models.volumes import Volume
from docker.types import IPAMConfig, IPAMPool, Ulimit
from docker.types import Mount as DockerMount

from chaos.engine import labels
from chaos.engine.compose import ComposeProject
from chaos.engine.compose_model import Ipam, Service
from chaos.errors import EngineError, InputError, StackError
from chaos.yamlsource import did_you_mean

NANOSECONDS = 1_000_000_000


def object_name(run_id: str, name: str) -> str:
    """Docker name of a run's object: `drill-<run>-<name>`."""
    return f"drill-{run_id}-{name}"


@dataclass(frozen=True)
class ContainerPlan:
    """Everything needed to create one service's container: Docker API arguments."""

    service: str
    name: str
    image: str
    labels: dict[str, str]
    environment: dict[str, str]
    #: (Docker network, aliases, endpoint options such as ipv4_address); empty: network_mode.
    networks: list[tuple[str, list[str], dict[str, Any]]]
    mounts: list[DockerMount]
    #: "80/tcp" -> [(host ip, host port or None)]
    ports: dict[str, list[tuple[str, str | None]]]
    #: Further arguments of the low-level create_host_config (restart_policy, ulimits, ...).
    host_options: dict[str, Any] = field(default_factory=dict)
    #: Further arguments of create_container (user, working_dir, healthcheck, ...).
    container_options: dict[str, Any] = field(default_factory=dict)
    stop_grace_period: float = 10.0
    #: Host folders the harness must create before the container (bind sources).
    bind_sources: list[Path] = field(default_factory=list)
    #: Files the harness writes before the container (secrets and configs given inline).
    files: dict[Path, bytes] = field(default_factory=dict)
    #: Ports exposed without publishing (`expose`), as "8000/tcp".
    exposed: list[str] = field(default_factory=list)


def plan_container(project: ComposeProject, service_name: str, run_id: str, image: str,
                   state_root: str, run_dir: Path) -> ContainerPlan:
    """Translate one compose service into a container plan for run `run_id`.

    `run_dir` holds the files the plan writes (secrets and configs given inline).
    """
    service = project.service(service_name)
    mounts, bind_sources = _mounts(project, service_name, run_id)
    files: dict[Path, bytes] = {}
    for kind, default_dir in (("secrets", "/run/secrets"), ("configs", "")):
        for ref in getattr(service, kind):
            spec = getattr(project.spec, kind)[ref.source]
            if spec.external:
                continue
            target = ref.target or ref.source
            target = target if target.startswith("/") else f"{default_dir}/{target}"
            if spec.file:
                source = Path(spec.file)
            else:
                source = run_dir / kind / ref.source
                content = spec.content if spec.content is not None else \
                    project.variables.get(spec.environment or "", "")
                files[source] = content.encode()
            mounts.append(DockerMount(target, str(source), type="bind", read_only=True))
    return ContainerPlan(
        service=service_name,
        name=object_name(run_id, service_name),
        image=image,
        labels=labels.run_labels(run_id, state_root, **service.effective_labels,
                                 **{labels.SERVICE: service_name,
                                    labels.COMPOSE_FILE: str(project.file)}),
        environment={k: v for k, v in service.environment.items() if v is not None},
        networks=_networks(project, service_name, run_id),
        mounts=mounts,
        ports=_ports(service),
        host_options=_host_options(project, service_name, run_id),
        container_options=_container_options(service),
        stop_grace_period=service.stop_grace_period,
        bind_sources=bind_sources,
        files=files,
        exposed=[f"{p}/tcp" if "/" not in p else p for e in service.expose
                 for p in _expand_range(e)],
    )


def _expand_range(text: str) -> list[str]:
    port, _, protocol = text.partition("/")
    first, _, last = port.partition("-")
    if last.isdigit() and first.isdigit() and 0 < int(last) - int(first) < 65536:
        return [f"{p}/{protocol}" if protocol else str(p) for p in range(int(first), int(last) + 1)]
    return [text]


def _mounts(project: ComposeProject, service_name: str, run_id: str
            ) -> tuple[list[DockerMount], list[Path]]:
    service = project.service(service_name)
    mounts: list[DockerMount] = []
    bind_sources: list[Path] = []
    for index, mount in enumerate(service.volumes):
        if mount.type == "bind":
            assert mount.source is not None
            source = project.resolve(mount.source)
            if not mount.bind or mount.bind.create_host_path:
                bind_sources.append(source)
            propagation = mount.bind.propagation if mount.bind else None
            mounts.append(DockerMount(mount.target, str(source), type="bind",
                                      read_only=mount.read_only, propagation=propagation))
        elif mount.type == "volume":
            # An anonymous volume is made a volume of the run too, so `down` removes it.
            name = mount.source or anonymous_volume(service_name, index)
            mounts.append(DockerMount(mount.target, object_name(run_id, name), type="volume",
                                      read_only=mount.read_only,
                                      no_copy=bool(mount.volume and mount.volume.nocopy)))
        else:
            size = mount.tmpfs.size if mount.tmpfs else None
            mode = mount.tmpfs.mode if mount.tmpfs else None
            mounts.append(DockerMount(mount.target, None, type="tmpfs", tmpfs_size=size,
                                      tmpfs_mode=mode))
    return mounts, bind_sources


def anonymous_volume(service: str, index: int) -> str:
    """The run-scoped name of a service's anonymous volume (`volumes: [/data]`)."""
    return f"{service}-anon-{index}"


def _networks(project: ComposeProject, service_name: str, run_id: str
              ) -> list[tuple[str, list[str], dict[str, Any]]]:
    service = project.service(service_name)
    if service.network_mode == "none" or (service.network_mode or "").startswith("service:"):
        return []
    # Others' links name this service by another name: an alias, as compose's links are.
    link_aliases = [alias for other in project.spec.services.values() for link in other.links
                    for target, _, alias in [link.partition(":")]
                    if target == service_name and alias]
    networks = []
    for network, attached in service.networks.items():
        # As compose: every service answers to its own name on each of its networks.
        aliases = [service_name, *attached.aliases, *link_aliases]
        if service.container_name:
            aliases.append(service.container_name)
        endpoint: dict[str, Any] = {}
        if attached.ipv4_address:
            endpoint["ipv4_address"] = attached.ipv4_address
        if attached.ipv6_address:
            endpoint["ipv6_address"] = attached.ipv6_address
        if attached.link_local_ips:
            endpoint["link_local_ips"] = attached.link_local_ips
        networks.append((object_name(run_id, network), list(dict.fromkeys(aliases)), endpoint))
    return networks


def _ports(service: Service) -> dict[str, list[tuple[str, str | None]]]:
    ports: dict[str, list[tuple[str, str | None]]] = {}
    for port in service.ports:
        # Loopback unless the file says otherwise: a drill opens nothing to the network.
        ports.setdefault(f"{port.target}/{port.protocol}", []).append(
            (port.host_ip or "127.0.0.1", port.published))
    return ports


def _restart_policy(service: Service) -> dict[str, Any] | None:
    if service.restart:
        name, _, count = service.restart.partition(":")
        if name == "no":
            return None
        return {"Name": name, "MaximumRetryCount": int(count)} if count else {"Name": name}
    policy = service.deploy.restart_policy if service.deploy else None
    if policy is None or policy.condition == "none":
        return None
    # deploy.restart_policy, as compose applies it outside Swarm.
    name = "on-failure" if policy.condition == "on-failure" else "always"
    return {"Name": name, "MaximumRetryCount": policy.max_attempts or 0}


def _host_options(project: ComposeProject, service_name: str, run_id: str) -> dict[str, Any]:
    service = project.service(service_name)
    limits = service.deploy.resources.limits if service.deploy and service.deploy.resources \
        else None
    reservations = service.deploy.resources.reservations \
        if service.deploy and service.deploy.resources else None
    cpus = service.cpus if service.cpus is not None else (
        float(limits.cpus) if limits and limits.cpus is not None else None)
    options: dict[str, Any] = {
        "cap_add": service.cap_add or None,
        "cap_drop": service.cap_drop or None,
        "devices": [f"{d.source}:{d.target}:{d.permissions}" for d in service.devices] or None,
        "device_cgroup_rules": service.device_cgroup_rules or None,
        "security_opt": service.security_opt or None,
        "restart_policy": _restart_policy(service),
        "init": service.init,
        "shm_size": service.shm_size,
        "tmpfs": {t.split(":")[0]: t.partition(":")[2] for t in service.tmpfs} or None,
        "ulimits": [Ulimit(name=k, soft=v.soft, hard=v.hard)
                    for k, v in service.ulimits.items()] or None,
        "sysctls": service.sysctls or None,
        "extra_hosts": {h: (a if isinstance(a, str) else a[0]) for h, a in
                        service.extra_hosts.items()} or None,
        "dns": service.dns or None,
        "dns_search": service.dns_search or None,
        "dns_opt": service.dns_opt or None,
        "mem_limit": service.mem_limit or (limits.memory if limits else None),
        "mem_reservation": service.mem_reservation or (
            reservations.memory if reservations else None),
        "memswap_limit": service.memswap_limit,
        "mem_swappiness": service.mem_swappiness,
        "nano_cpus": int(cpus * NANOSECONDS) if cpus else None,
        "cpu_shares": service.cpu_shares,
        "cpu_quota": service.cpu_quota,
        "cpu_period": service.cpu_period,
        "cpuset_cpus": service.cpuset,
        "pids_limit": service.pids_limit or (limits.pids if limits else None),
        "oom_score_adj": service.oom_score_adj,
        "oom_kill_disable": service.oom_kill_disable,
        "read_only": service.read_only or None,
        "group_add": [str(g) for g in service.group_add] or None,
        "volumes_from": [object_name(run_id, v.split(":")[0]) + (
            ":" + v.split(":")[1] if ":" in v else "") for v in service.volumes_from] or None,
        "ipc_mode": service.ipc if service.ipc in ("private", "shareable") else (
            "host" if service.ipc == "host" and project.allow_host_access else
            _shared(service.ipc, run_id)),
        "pid_mode": "host" if service.pid == "host" and project.allow_host_access else
        _shared(service.pid, run_id),
        # `network_mode: service:X`: the network of X's container (joined at start).
        "network_mode": _shared(service.network_mode, run_id),
        "userns_mode": "host" if service.userns_mode == "host" and project.allow_host_access
        else None,
        "uts_mode": "host" if service.uts == "host" and project.allow_host_access else None,
        "cgroupns": service.cgroup if service.cgroup == "private" or project.allow_host_access
        else None,
        "cgroup_parent": service.cgroup_parent if project.allow_host_access else None,
        "privileged": service.privileged and project.allow_host_access or None,
    }
    return {k: v for k, v in options.items() if v is not None}


def _shared(mode: str | None, run_id: str) -> str | None:
    """`service:X` -> `container:drill-<run>-X`: a namespace of another service of the run."""
    if mode and mode.startswith("service:"):
        return f"container:{object_name(run_id, mode.removeprefix('service:'))}"
    return None


def _container_options(service: Service) -> dict[str, Any]:
    healthcheck = None
    if service.healthcheck is not None:
        check = service.healthcheck
        healthcheck = {"test": ["NONE"]} if check.disabled else {
            "test": check.test, "interval": int(check.interval * NANOSECONDS),
            "timeout": int(check.timeout * NANOSECONDS), "retries": check.retries,
            "start_period": int(check.start_period * NANOSECONDS)}
    options: dict[str, Any] = {
        "command": service.command,
        "entrypoint": service.entrypoint,
        "hostname": service.hostname,
        "domainname": service.domainname,
        "user": service.user,
        "working_dir": service.working_dir,
        "stop_signal": service.stop_signal,
        "tty": service.tty or None,
        "stdin_open": service.stdin_open or None,
        "mac_address": service.mac_address,
        "healthcheck": healthcheck,
    }
    return {k: v for k, v in options.items() if v is not None}


def create_network(client: docker.DockerClient, name: str, run_labels: dict[str, str],
                   *, internal: bool = False, enable_ipv6: bool = False,
                   ipam: Ipam | None = None) -> Network:
    pools = [IPAMPool(subnet=p.subnet, iprange=p.ip_range, gateway=p.gateway,
                      aux_addresses=p.aux_addresses or None)
             for p in (ipam.config if ipam else [])]
    try:
        return client.networks.create(name, driver="bridge", labels=run_labels,
                                      internal=internal, enable_ipv6=enable_ipv6,
                                      ipam=IPAMConfig(pool_configs=pools) if pools else None,
                                      check_duplicate=True)
    except DockerException as e:
        raise EngineError(f"creating network {name} failed: {e}") from e


def create_volume(client: docker.DockerClient, name: str, run_labels: dict[str, str],
                  *, driver_opts: dict[str, str] | None = None) -> Volume:
    try:
        return client.volumes.create(name, labels=run_labels, driver_opts=driver_opts or None)
    except DockerException as e:
        raise EngineError(f"creating volume {name} failed: {e}") from e


def create_container(client: docker.DockerClient, plan: ContainerPlan) -> Container:
    """Create (not start) the container and join all its networks."""
    for source in plan.bind_sources:
        # As docker does for a missing bind source: a folder (a file is used as it is).
        if not source.exists():
            source.mkdir(parents=True, exist_ok=True)
    for path, content in plan.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        path.chmod(0o444)  # read by the container's user, whoever it is
    networking = None
    host_options = dict(plan.host_options)
    network_mode = host_options.pop("network_mode", "none")
    if plan.networks:
        network_mode, aliases, endpoint = plan.networks[0]
        networking = client.api.create_networking_config(
            {network_mode: client.api.create_endpoint_config(aliases=aliases or None, **endpoint)})
    ports = [(int(k.split("/")[0]), k.split("/")[1]) for k in plan.ports]
    ports += [(int(k.split("/")[0]), k.split("/")[1]) for k in plan.exposed
              if k not in plan.ports and k.split("/")[0].isdigit()]
    try:
        # The low-level call: containers.run would try to pull a missing image.
        host_config = client.api.create_host_config(
            port_bindings=plan.ports or None, mounts=plan.mounts or None,
            network_mode=network_mode, **host_options)
        created = client.api.create_container(
            plan.image, name=plan.name, environment=plan.environment, labels=plan.labels,
            ports=ports or None, host_config=host_config, networking_config=networking,
            stop_timeout=int(plan.stop_grace_period), detach=True, **plan.container_options)
        container = client.containers.get(created["Id"])
        for network, aliases, endpoint in plan.networks[1:]:
            client.networks.get(network).connect(container, aliases=aliases or None, **endpoint)
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


def finished_at(container: Container) -> float | None:
    """When the container's process last ended, as Docker recorded it (epoch seconds), from
    the attributes as last loaded; None when it never ended or the time does not parse."""
    text = (container.attrs.get("State") or {}).get("FinishedAt") or ""
    found = _DOCKER_TIME.match(text)
    if not found or text.startswith("0001-"):
        return None
    whole = datetime.datetime.strptime(found["whole"], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.UTC)
    return whole.timestamp() + float("0." + (found["fraction"] or "0"))


#: Docker's times: RFC 3339 in UTC with up to nanoseconds, `2026-11-30T23:11:10.146123456Z`.
_DOCKER_TIME = re.compile(r"(?P<whole>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d{1,9}))?Z$")


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
