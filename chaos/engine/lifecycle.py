"""Bring a compose project up as a run, and take a run down again.

`up` validates everything before it creates anything, records every object in
the run-state folder as it is made, and undoes all of it if anything fails or
the user interrupts.  `down` removes everything labelled with the run.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.models.containers import Container

from chaos.engine import labels, loops, objects
from chaos.engine.client import connect
from chaos.engine.compose import ComposeProject, load_compose, starts_after
from chaos.engine.images import ensure_images
from chaos.engine.runstate import Phase, RunState, RunStore, new_run_id
from chaos.errors import HarnessError, InputError, StackError
from chaos.progress import Progress

DEFAULT_COMPOSE = Path(__file__).resolve().parents[2] / "compose" / "hosting.yml"
POLL = 0.5


@dataclass(frozen=True)
class UpOptions:
    """What `drill up` was asked for."""

    #: The compose files, merged in order (the first one's folder is the project's).
    compose_files: tuple[Path, ...] = (DEFAULT_COMPOSE,)
    #: Extra compose variables (e.g. DRILL_DRIVES), on top of the environment.
    variables: Mapping[str, str] = field(default_factory=dict)
    #: Files of compose variables; None: the `.env` in the project folder.
    env_files: tuple[Path, ...] | None = None
    #: Compose profiles to enable.
    profiles: tuple[str, ...] = ()
    #: Allow what reaches into the host (Docker socket, `/`, host namespaces).
    allow_host_access: bool = False
    #: Seconds to wait for every service to be healthy.
    health_timeout: float = 300.0
    #: Leave a failed stack up for inspection instead of removing it.
    keep_on_failure: bool = False


class Cancelled(HarnessError):
    """Start-up was interrupted; what was made is being removed."""


def run_variables(run_id: str, run_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
    """Compose variables for a run: the environment, the caller's, then the run's own."""
    variables = dict(os.environ)
    variables.update(extra)
    variables.update({
        "DRILL_RUN": run_id,
        "DRILL_RUN_DIR": str(run_dir),
        "DRILL_DB_PASSWORD": variables.get("DRILL_DB_PASSWORD") or secrets.token_urlsafe(18),
        # A port fixed now, not Docker's pick: a container restarted by a
        # fault (power-on) gets the same one back, and the load finds it again.
        "DRILL_EDGE_PORT": variables.get("DRILL_EDGE_PORT") or str(free_port()),
    })
    return variables


def pinned(plan: objects.ContainerPlan) -> objects.ContainerPlan:
    """The plan with a free host port chosen now for each TCP port the file leaves to Docker.

    Docker picks another port each time a container starts: a service powered off
    and on by a fault would come back elsewhere, and the load would lose it.
    """
    ports = {target: [(ip, host if host or not target.endswith("/tcp") else str(free_port()))
                      for ip, host in bindings]
             for target, bindings in plan.ports.items()}
    return dataclasses.replace(plan, ports=ports)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def prepare(options: UpOptions, store: RunStore) -> tuple[str, ComposeProject]:
    """Pick a run id and validate the compose file for it; creates nothing."""
    run_id = new_run_id()
    variables = run_variables(run_id, store.run_dir(run_id), options.variables)
    return run_id, load_compose(options.compose_files, variables, options.env_files,
                                profiles=options.profiles,
                                allow_host_access=options.allow_host_access)


def up(options: UpOptions, progress: Progress, store: RunStore | None = None,
       client: docker.DockerClient | None = None) -> RunState:
    """Validate, make images, create and start every service, wait for health."""
    store = store or RunStore()
    run_id, project = prepare(options, store)
    for note in project.notes:
        progress.info(f"note: {note}")
    missing_files(project)
    client = client or connect(progress, log_dir=store.root / "engine")
    images = ensure_images(client, project, progress, work_dir=store.root / "build")
    state = store.create(run_id, project.file)
    store.set_current(run_id)
    progress.info(f"run {run_id}: state in {store.run_dir(run_id)}")
    cancel = threading.Event()
    try:
        _create_shared_objects(client, project, state, store, progress)
        plans = {name: pinned(objects.plan_container(project, name, run_id, images[name].tag,
                                                     str(store.root), store.run_dir(run_id)))
                 for name in project.order}
        deadline = time.monotonic() + options.health_timeout
        with progress.step(f"starting {len(plans)} services and waiting for them to be healthy"):
            _start_all(client, project, plans, state, store, progress, cancel, deadline)
        state.published = published_urls(client, run_id, list(project.spec.services))
        state.compose_files = [str(Path(f).resolve()) for f in project.files]
        edges = [name for name, service in project.spec.services.items()
                 if service.effective_labels.get(labels.ROLE) == "edge"]
        edge = state.edge_url = edge_url(state.published, edges)
        state.phase = Phase.UP
        store.save(state)
        progress.info(f"stack is up: {edge or 'no published port'}")
        return state
    except BaseException as error:
        cancel.set()
        if options.keep_on_failure and not isinstance(error, KeyboardInterrupt):
            state.phase = Phase.UP
            store.save(state)
            progress.info(f"left the failed stack up for inspection (`drill down --run {run_id}`)")
        else:
            progress.info("removing everything this run made")
            teardown(client, store, run_id, progress)
        raise


def missing_files(project: ComposeProject) -> None:
    """InputError naming every secret or config file the services mount that is not there
    (checked at `up`, not at load, as compose does: `config` must work without them)."""
    missing = []
    for name in project.order:
        for kind in ("secrets", "configs"):
            for ref in getattr(project.service(name), kind):
                spec = getattr(project.spec, kind)[ref.source]
                if spec.file and not Path(spec.file).exists():
                    missing.append(f"services.{name}.{kind}: {kind[:-1]} '{ref.source}' reads "
                                   f"{spec.file}, which does not exist")
    if missing:
        raise InputError(f"{project.file}: " + "; ".join(missing),
                         hint="create the file, or point the secret at another with `file:`")


def _create_shared_objects(client: docker.DockerClient, project: ComposeProject, state: RunState,
                           store: RunStore, progress: Progress) -> None:
    count = len(project.spec.networks)
    with progress.step(f"creating {count} network{'s' if count != 1 else ''}"):
        for name, spec in project.spec.networks.items():
            docker_name = objects.object_name(state.run_id, name)
            # Recorded before creation: a crash in between still leaves a record.
            state.networks.append(docker_name)
            store.save(state)
            objects.create_network(client, docker_name, labels.run_labels(
                state.run_id, str(store.root), **spec.labels, **{labels.NETWORK: name}),
                internal=spec.internal, enable_ipv6=bool(spec.enable_ipv6),
                ipam=spec.ipam)
    volumes = {name: (spec.labels, spec.driver_opts)
               for name, spec in project.spec.volumes.items()}
    for service_name in project.order:
        for index, mount in enumerate(project.service(service_name).volumes):
            if mount.type == "volume" and not mount.source:
                volumes[objects.anonymous_volume(service_name, index)] = ({}, {})
    for name, (volume_labels, driver_opts) in volumes.items():
        docker_name = objects.object_name(state.run_id, name)
        state.volumes.append(docker_name)
        store.save(state)
        objects.create_volume(client, docker_name, labels.run_labels(
            state.run_id, str(store.root), **volume_labels, **{labels.VOLUME: name}),
            driver_opts=driver_opts)


def _start_all(client: docker.DockerClient, project: ComposeProject,
               plans: dict[str, objects.ContainerPlan], state: RunState, store: RunStore,
               progress: Progress, cancel: threading.Event, deadline: float) -> None:
    """Start services in dependency order, independent ones at the same time."""
    lock = threading.Lock()

    def bring_up(name: str, deps: Mapping[str, tuple[Future[Container], str]]) -> Container:
        for future, condition in deps.values():
            container = future.result()
            if condition == "service_healthy":
                wait_healthy(container, deadline, cancel)
            elif condition == "service_completed_successfully":
                wait_completed(container, deadline, cancel)
        if cancel.is_set():
            raise Cancelled("start-up cancelled")
        plan = plans[name]
        with lock:
            state.containers.append(plan.name)
            store.save(state)
        container = objects.create_container(client, plan)
        objects.start(container)
        progress.info(f"   started {name} ({plan.image})")
        return container

    futures: dict[str, Future[Container]] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(plans)), thread_name_prefix="up") as pool:
        for name in project.order:
            deps = {dep: (futures[dep], cond)
                    for dep, cond in starts_after(project.service(name)).items() if dep in futures}
            futures[name] = pool.submit(bring_up, name, deps)
        try:
            for name, future in futures.items():
                if wait_healthy(future.result(), deadline, cancel, done_is_fine=True):
                    check = project.service(name).healthcheck
                    healthy = check is not None and not check.disabled
                    progress.info(f"   {name} is {'healthy' if healthy else 'running'}")
                else:
                    progress.info(f"   {name} ran and exited 0")
        except BaseException:
            cancel.set()
            raise


def wait_healthy(container: Container, deadline: float, cancel: threading.Event | None = None,
                 *, done_is_fine: bool = False) -> bool:
    """Wait until the container is healthy (or running, without a healthcheck).

    With `done_is_fine`, a container that has exited 0 (a one-shot job) is fine too:
    False is returned for it, True for one that runs.
    """
    service = container.labels.get(labels.SERVICE, container.name)
    while True:
        current = objects.state_of(container)
        if done_is_fine and current.status == "exited" and current.exit_code == 0:
            return False
        if current.status in ("exited", "dead", "removed"):
            raise StackError(f"service {service} stopped during start-up "
                             f"(status {current.status}, exit code {current.exit_code})",
                             logs=objects.logs_tail(container))
        if current.health == "healthy" or (current.health is None and current.status == "running"):
            return True
        if current.health == "unhealthy":
            raise StackError(f"service {service} is unhealthy: its healthcheck "
                             f"{objects.last_health_check(container)}",
                             logs=objects.logs_tail(container))
        if time.monotonic() > deadline:
            raise StackError(f"service {service} did not become healthy in time "
                             f"(status {current.status}, health {current.health})",
                             hint="raise the limit with --health-timeout, or read its logs below",
                             logs=objects.logs_tail(container))
        if cancel is not None and cancel.is_set():
            raise Cancelled("start-up cancelled")
        time.sleep(POLL)


def wait_completed(container: Container, deadline: float, cancel: threading.Event) -> None:
    """Wait until a one-shot container has exited 0 (`service_completed_successfully`)."""
    service = container.labels.get(labels.SERVICE, container.name)
    while True:
        current = objects.state_of(container)
        if current.status in ("exited", "dead", "removed"):
            if current.exit_code == 0:
                return
            raise StackError(f"service {service} exited {current.exit_code}; services wait for "
                             "it to complete successfully", logs=objects.logs_tail(container))
        if time.monotonic() > deadline:
            raise StackError(f"service {service} did not complete in time (status "
                             f"{current.status})", hint="raise the limit with --health-timeout",
                             logs=objects.logs_tail(container))
        if cancel.is_set():
            raise Cancelled("start-up cancelled")
        time.sleep(POLL)


def published_urls(client: docker.DockerClient, run_id: str,
                   order: list[str]) -> dict[str, dict[str, str]]:
    """Every published port of the run: service -> {"80/tcp": "http://127.0.0.1:P"}, services
    in `order` (the compose file's), ports in the order Docker lists them."""
    found: dict[str, dict[str, str]] = {}
    for container in objects.find_containers(client, run_id):
        service = container.labels.get(labels.SERVICE, container.name)
        for target in (container.attrs.get("NetworkSettings", {}).get("Ports") or {}):
            published = objects.published_port(container, target)
            if published:
                found.setdefault(service, {})[target] = f"http://{published[0]}:{published[1]}"
    rank = {name: index for index, name in enumerate(order)}
    return {name: found[name] for name in sorted(found, key=lambda n: (rank.get(n, len(rank)), n))}


def edge_url(published: dict[str, dict[str, str]], edges: Sequence[str] = ()) -> str | None:
    """Where customers come in: an edge's first published port (the service `edge`, or
    one whose role is edge), or else the first port published in the compose file."""
    for service in sorted(published, key=lambda name: name != "edge" and name not in edges):
        for url in published[service].values():
            return url
    return None


@dataclass
class TeardownReport:
    """What a teardown removed."""

    containers: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    volumes: list[str] = field(default_factory=list)
    loop_devices: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.containers)} containers, {len(self.networks)} networks, "
                f"{len(self.volumes)} volumes, {len(self.loop_devices)} loop devices")


def teardown(client: docker.DockerClient | None, store: RunStore, run_id: str,
             progress: Progress) -> TeardownReport:
    """Remove every container, network, volume and loop device of `run_id`, then its record."""
    report = TeardownReport()
    state = store.load(run_id)
    if state is not None:
        state.phase = Phase.STOPPING
        store.save(state)
    if client is not None:
        containers = objects.find_containers(client, run_id)
        _in_parallel(objects.stop_and_remove, containers)
        report.containers = [c.name for c in containers]
        for network in objects.find_networks(client, run_id):
            objects.remove_network(network)
            report.networks.append(network.name)
        for volume in objects.find_volumes(client, run_id):
            objects.remove_volume(volume)
            report.volumes.append(volume.name)
    for device in loops.run_loop_devices(run_id, store.run_dir(run_id)):
        loops.detach(device)
        report.loop_devices.append(device.device)
    store.forget(run_id)
    return report


def down(run_id: str | None, progress: Progress, store: RunStore | None = None,
         client: docker.DockerClient | None = None) -> TeardownReport:
    """Take the named (or current) run down."""
    store = store or RunStore()
    state = store.resolve(run_id)
    client = client or connect(progress, may_install=False)
    with progress.step(f"taking run {state.run_id} down"):
        report = teardown(client, store, state.run_id, progress)
    progress.info(f"removed {report.summary()}")
    return report


def _in_parallel(action: Callable[[Container], None], items: list[Container]) -> None:
    if not items:
        return
    with ThreadPoolExecutor(max_workers=len(items), thread_name_prefix="down") as pool:
        for future in [pool.submit(action, item) for item in items]:
            future.result()
