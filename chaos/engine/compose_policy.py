"""What the harness does with each compose key: applied, applied with a note, or refused.

Every key of the compose specification validates (chaos.engine.compose_model);
this module then says, for the keys a project uses, which have no meaning in
a drill (a one-line note: the stack still runs) and which cannot be honoured
(a located refusal with the reason).  Keys that reach into the host machine
(its Docker socket, `/`, its namespaces, its devices) are refused unless the
user allows them with --allow-host-access: a chaos tool kills and cuts off
containers, and must not be able to harm the machine it runs on.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from chaos.engine.compose_model import ComposeSpec, Port, Service
from chaos.engine.located import LocatedData
from chaos.errors import Problem
from chaos.validation import in_file_order
from chaos.yamlsource import did_you_mean

#: Records a note or a refusal at a path of the project.
Say = Callable[[tuple[str | int, ...], str], None]

HOST_ACCESS_HINT = ("a drill kills, pauses and cuts off containers; what reaches into the host "
                    "is refused unless you allow it: --allow-host-access (recorded in the result)")

#: Host paths a container must not see (nor anything under them), unless allowed.
HOST_PATHS = ("/proc", "/sys", "/dev", "/etc", "/boot", "/var/lib/docker", "/var/lib/containerd",
              "/run/containerd", "/var/run/docker.sock", "/run/docker.sock")
#: Read-only binds of these are harmless and in half the compose files there are.
HARMLESS_READ_ONLY = ("/etc/localtime", "/etc/timezone")
#: Devices a drive owner (the bundled servers: loop devices, FUSE, btrfs) may have.
DEVICE_ALLOW_LIST = ("/dev/fuse", "/dev/loop-control", "/dev/btrfs-control")
_LOOP_DEVICE = re.compile(r"/dev/loop\d+")
#: Device cgroup rules of the same: block loop devices, FUSE, btrfs-control, loop-control.
_ALLOWED_RULES = re.compile(r"(b 7:(\*|\d+)|c 10:(229|234|237)) [rwm]+")
#: Capabilities that act on the whole machine, not the container.
HOST_CAPABILITIES = {
    "ALL": "grants every capability, the host's kernel modules and clock included",
    "SYS_MODULE": "loads kernel modules into the host's kernel",
    "SYS_BOOT": "can reboot the host",
    "SYS_TIME": "sets the host's clock",
    "SYS_RAWIO": "reads and writes the host's memory and I/O ports",
}

#: Service keys that have no effect in a drill: the note said when a project uses them.
NOTED_SERVICE_KEYS = {
    "logging": "not applied: containers keep Docker's json-file log, which the harness reads "
               "for its reports",
    "platform": "not applied: images run on this machine's platform",
    "annotations": "not applied: annotations need Docker API 1.43",
    "cpu_count": "not applied: Windows containers only",
    "cpu_percent": "not applied: Windows containers only",
    "isolation": "not applied: Windows containers only",
    "credential_spec": "not applied: Windows containers only",
    "cpu_rt_runtime": "not applied: needs a real-time kernel",
    "cpu_rt_period": "not applied: needs a real-time kernel",
    "blkio_config": "not applied: block I/O weights need the host's device numbers",
    "storage_opt": "not applied: needs overlay on xfs with project quotas",
    "attach": "no effect: the harness does not attach to container output",
    "develop": "no effect: `develop` (watch) is for development, not drills",
    "post_start": "not run: lifecycle hooks are not supported",
    "pre_stop": "not run: lifecycle hooks are not supported",
}
#: Keys under deploy that only Swarm reads.
SWARM_DEPLOY_KEYS = ("mode", "labels", "update_config", "rollback_config", "placement",
                     "endpoint_mode")
NOTED_BUILD_KEYS = ("cache_to", "ssh", "secrets", "entitlements", "tags", "platforms",
                    "isolation", "ulimits")


@dataclass
class Review:
    """The notes and refusals for one project."""

    notes: list[str] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)
    #: Whether a refusal is one --allow-host-access would lift.
    host_access: bool = False


def review(spec: ComposeSpec, located: LocatedData, *, allow_host_access: bool) -> Review:
    """Notes and refusals for every key `spec` uses."""
    found = Review()

    noted: list[Problem] = []

    def note(path: tuple[str | int, ...], text: str) -> None:
        noted.append(located.problem(path, text))

    def refuse(path: tuple[str | int, ...], text: str) -> None:
        found.refused.append(located.problem(path, text))

    def host(path: tuple[str | int, ...], text: str) -> None:
        if not allow_host_access:
            found.host_access = True
            refuse(path, f"{text} (refused: it reaches into the host; --allow-host-access "
                         "allows it)")

    for name, service in spec.services.items():
        _review_service(name, service, spec, note, refuse, host)
    for name, network in spec.networks.items():
        where = ("networks", name)
        if network.external:
            note((*where, "external"), f"external network '{network.name or name}' is not "
                 "joined: the run gets a network of its own in its place")
        if network.driver in ("macvlan", "ipvlan", "host"):
            host((*where, "driver"), f"driver '{network.driver}' puts containers on the host's "
                 "own network interfaces")
        elif network.driver == "overlay":
            note((*where, "driver"), "overlay is Swarm's multi-host network: the run makes a "
                 "bridge on this machine in its place")
        elif network.driver not in ("bridge", "default", "none"):
            refuse((*where, "driver"), f"network driver '{network.driver}' is not installed "
                   "here; a drill's networks are bridges")
        for key in ("driver_opts", "enable_ipv4", "attachable", "name"):
            if getattr(network, key) not in (None, {}, False) and not (key == "name"
                                                                       and network.external):
                note((*where, key), f"{key} is not applied: each run makes its own bridge, "
                     "named after the run")
        if network.ipam and any(pool.subnet for pool in network.ipam.config):
            note((*where, "ipam"), "a fixed subnet is applied: two runs of this project at "
                 "once would collide")
    for name, volume in spec.volumes.items():
        where = ("volumes", name)
        if volume.external:
            note((*where, "external"), f"external volume '{volume.name or name}' is not used: "
                 "a new, empty volume of the run stands in for it")
        elif volume.name:
            note((*where, "name"), "name is not applied: volumes are named after the run")
        if volume.driver != "local":
            refuse((*where, "driver"), f"volume driver '{volume.driver}' is not installed here; "
                   "only `local` volumes are supported")
        if volume.driver_opts.get("o", "") and "bind" in volume.driver_opts.get("o", "").split(","):
            device = volume.driver_opts.get("device", "")
            why = _host_path_reason(device, read_only=False)
            if why:
                host((*where, "driver_opts", "device"), f"binds {device}: {why}")
    for kind in ("secrets", "configs"):
        for name, spec_file in getattr(spec, kind).items():
            where = (kind, name)
            if spec_file.external:
                note((*where, "external"), f"external {kind} exist only in Swarm: "
                     f"'{name}' is not mounted")
            for key in ("name", "labels", "driver", "driver_opts", "template_driver"):
                if getattr(spec_file, key) not in (None, {}):
                    note((*where, key), f"{key} is not applied (Swarm only)")
            if spec_file.file:
                why = _host_path_reason(spec_file.file, read_only=True)
                if why:
                    host((*where, "file"), f"mounts {spec_file.file}: {why}")
    if spec.models:
        refuse(("models",), "models need Docker Model Runner, which a drill does not have")
    found.notes = [str(p) for p in in_file_order(noted)]
    return found


def _review_service(name: str, service: Service, spec: ComposeSpec, note: Say, refuse: Say,
                    host: Say) -> None:
    where = ("services", name)
    for key, text in NOTED_SERVICE_KEYS.items():
        if getattr(service, key) not in (None, {}, []):
            note((*where, key), text)
    # -- what reaches into the host ------------------------------------------------
    if service.privileged:
        host((*where, "privileged"), "privileged gives the container every device and "
             "capability of the host; grant cap_add, devices and device_cgroup_rules instead")
    for key, text in (("pid", "shares the host's process table: a fault could signal any "
                              "process of the machine"),
                      ("ipc", "shares the host's IPC namespace"),
                      ("uts", "shares the host's hostname namespace"),
                      ("userns_mode", "runs in the host's user namespace"),
                      ("cgroup", "runs in the host's cgroup namespace"),
                      ("network_mode", "uses the host's network: faults that cut a site off "
                                       "would cut off the machine, and its ports are the host's")):
        value = getattr(service, key)
        if value == "host":
            host((*where, key), f"{key}: host {text}")
        elif isinstance(value, str) and value.startswith("container:"):
            refuse((*where, key), f"{key}: {value} shares the namespace of a container outside "
                   "the run")
        elif isinstance(value, str) and value.startswith("service:"):
            other = value.removeprefix("service:")
            if other not in spec.services:
                refuse((*where, key), f"{key}: {value}: no such service"
                       f"{did_you_mean(other, spec.services)}")
            elif key in ("network_mode", "ipc", "pid"):
                note((*where, key), f"shares {other}'s {key.split('_')[0]} namespace: a fault "
                     f"on {other} reaches this service too")
            else:
                refuse((*where, key), f"{key}: {value} is not supported; only network_mode, "
                       "ipc and pid can share another service's namespace")
    if service.network_mode not in (None, "host", "none", "bridge", "default") and not \
            service.network_mode.startswith(("service:", "container:")):
        refuse((*where, "network_mode"), f"network_mode '{service.network_mode}' is not "
               "supported; use `networks`")
    if service.network_mode and service.network_mode.startswith("service:") and service.ports:
        refuse((*where, "ports"), "a service that shares another's network cannot publish "
               "ports; publish them on the service whose network it shares")
    if service.network_mode in ("bridge", "default"):
        note((*where, "network_mode"), f"network_mode: {service.network_mode}: the service "
             "joins the run's default network")
    if service.pid not in (None, "host") and not service.pid.startswith(("service:", "container:")):
        refuse((*where, "pid"), f"pid '{service.pid}' is not a pid mode; write host")
    if service.ipc not in (None, "host", "private", "shareable") and not \
            service.ipc.startswith(("service:", "container:")):
        refuse((*where, "ipc"), f"ipc '{service.ipc}' is not an ipc mode; write private or "
               "shareable")
    if service.cgroup_parent:
        host((*where, "cgroup_parent"), "cgroup_parent places the container in a cgroup of "
             "the host")
    if service.use_api_socket:
        host((*where, "use_api_socket"), "use_api_socket gives the container the Docker "
             "engine's socket: it could remove any container, the harness's own included")
    for index, capability in enumerate(service.cap_add):
        bare = capability.upper().removeprefix("CAP_")
        if bare in HOST_CAPABILITIES:
            host((*where, "cap_add", index), f"cap_add {capability}: "
                 f"{HOST_CAPABILITIES[bare]}")
    for index, device in enumerate(service.devices):
        if device.source not in DEVICE_ALLOW_LIST and not _LOOP_DEVICE.fullmatch(device.source):
            host((*where, "devices", index), f"device {device.source} is outside the drive "
                 f"owners' allow-list ({', '.join(DEVICE_ALLOW_LIST)}, /dev/loopN)")
    for index, rule in enumerate(service.device_cgroup_rules):
        if not _ALLOWED_RULES.fullmatch(rule.strip()):
            host((*where, "device_cgroup_rules", index), f"device rule '{rule}' reaches devices "
                 "outside the drive owners' allow-list (loop devices, FUSE, btrfs-control)")
    for index, mount in enumerate(service.volumes):
        mount_where = (*where, "volumes", index)
        if mount.type == "bind" and mount.source:
            why = _host_path_reason(mount.source, read_only=mount.read_only)
            if why:
                host(mount_where, f"binds {mount.source}: {why}")
            if mount.bind and mount.bind.selinux:
                note(mount_where, "SELinux relabelling (z/Z) is not applied: it would relabel "
                     "the host's files")
        elif mount.type == "npipe":
            refuse(mount_where, "npipe mounts are for Windows hosts")
        elif mount.type == "cluster":
            refuse(mount_where, "cluster volumes need Swarm")
        elif mount.type == "image":
            refuse(mount_where, "image mounts need Docker 28; this engine cannot make them")
        if mount.consistency:
            note(mount_where, "consistency has no effect on Linux")
        if mount.volume and mount.volume.subpath:
            refuse(mount_where, "volume subpath needs Docker API 1.45; mount the volume whole")
    for index, port in enumerate(service.ports):
        if port.host_ip is not None:
            try:
                loopback = ipaddress.ip_address(port.host_ip).is_loopback
            except ValueError:
                loopback = False
            if not loopback:
                host((*where, "ports", index), f"publishes port {port.target} on {port.host_ip}, "
                     "open to the network")
        if port.mode == "ingress" and index == 0:
            note((*where, "ports"), "mode ingress is Swarm's routing mesh: ports are published "
                 "on this host")
    unbound = [_port_text(p) for p in service.ports if p.host_ip is None]
    if unbound:
        note((*where, "ports"), f"published on 127.0.0.1 only (the harness's default: a drill "
             f"does not open ports to the network): {', '.join(unbound)}")
    if any(p.published is None and p.protocol == "tcp" for p in service.ports):
        note((*where, "ports"), "a host port left to Docker is chosen at `up` and kept, so "
             "the service comes back on it after a power-off")
    if service.container_name:
        note((*where, "container_name"), f"container_name '{service.container_name}' becomes a "
             "network alias on each of the service's networks; the container itself is named "
             f"drill-<run>-{name}, so two runs at once do not collide")
    for index, link in enumerate(service.external_links):
        refuse((*where, "external_links", index), f"external link '{link}' reaches a container "
               "outside the run; a drill's services only reach each other")
    for index, source in enumerate(service.volumes_from):
        owner = source.split(":")[0]
        if source.startswith("container:"):
            refuse((*where, "volumes_from", index), f"volumes_from '{source}' takes volumes of a "
                   "container outside the run")
        elif owner not in spec.services:
            refuse((*where, "volumes_from", index), f"volumes_from '{owner}': no such service")
    if service.runtime not in (None, "runc"):
        note((*where, "runtime"), f"runtime '{service.runtime}' is not applied: only the "
             "default runtime (runc) is installed here, and the image must run on it")
    if service.gpus:
        refuse((*where, "gpus"), "GPUs are not available to a drill")
    if service.provider:
        refuse((*where, "provider"), "a provider service is made by a plugin, not a container; "
               "a drill cannot fault it")
    if service.models:
        refuse((*where, "models"), "models need Docker Model Runner, which a drill does not have")
    _review_deploy(where, service, note, refuse)
    if service.scale is not None and service.scale != 1:
        note((*where, "scale"), f"scale {service.scale}: one container runs (replicas are not "
             "supported in a drill)")
    if service.healthcheck and service.healthcheck.start_interval != 5.0:
        note((*where, "healthcheck", "start_interval"), "not applied: needs Docker API 1.44")
    for dependency, how in service.depends_on.items():
        if how.restart:
            note((*where, "depends_on", dependency, "restart"), f"not applied: a restart of "
                 f"'{dependency}' does not restart '{name}' in a drill")
    for network, attached in service.networks.items():
        for key in ("mac_address", "driver_opts", "priority", "gw_priority", "interface_name"):
            if getattr(attached, key) not in (None, {}):
                note((*where, "networks", network, key), f"{key} is not applied")
    for kind in ("secrets", "configs"):
        for index, ref in enumerate(getattr(service, kind)):
            if ref.uid or ref.gid or ref.mode is not None:
                note((*where, kind, index), "uid, gid and mode are not applied: the file is "
                     "mounted read-only as it is on the host")
    if service.build:
        build_where = (*where, "build")
        for key in NOTED_BUILD_KEYS:
            if getattr(service.build, key) not in (None, [], {}):
                note((*build_where, key), "not applied: needs BuildKit; images are built with "
                     "the engine's classic builder")
        if service.build.additional_contexts:
            refuse((*build_where, "additional_contexts"), "a build with several contexts needs "
                   "BuildKit; images are built with the engine's classic builder")
        if service.build.privileged:
            host((*build_where, "privileged"), "a privileged build step has every device and "
                 "capability of the host")


def _review_deploy(where: tuple[str | int, ...], service: Service, note: Say, refuse: Say) -> None:
    deploy = service.deploy
    if deploy is None:
        return
    for key in SWARM_DEPLOY_KEYS:
        if getattr(deploy, key) not in (None, {}):
            note((*where, "deploy", key), f"not applied: deploy.{key} is for Swarm")
    if deploy.replicas is not None and deploy.replicas != 1:
        note((*where, "deploy", "replicas"), f"replicas {deploy.replicas}: one container runs "
             "(replicas are not supported in a drill)")
    resources = deploy.resources
    if resources and resources.reservations:
        if resources.reservations.devices or resources.reservations.generic_resources:
            refuse((*where, "deploy", "resources", "reservations"), "reserved devices (GPUs) "
                   "are not available to a drill")
        if resources.reservations.cpus is not None:
            note((*where, "deploy", "resources", "reservations", "cpus"), "not applied: Docker "
                 "reserves memory, not CPUs, outside Swarm")
    if resources and resources.limits and resources.limits.devices:
        refuse((*where, "deploy", "resources", "limits", "devices"), "device limits are not "
               "supported")


def _port_text(port: Port) -> str:
    published = f"{port.published}:" if port.published else ""
    return f"{published}{port.target}" + (f"/{port.protocol}" if port.protocol != "tcp" else "")


def _host_path_reason(source: str, *, read_only: bool) -> str | None:
    """Why binding the host path `source` reaches into the host, or None when it does not."""
    candidates = {os.path.normpath(source)}
    with contextlib.suppress(OSError, ValueError):  # /var/run -> /run, a link to the socket
        candidates.add(os.path.realpath(source))
    for path in candidates:
        if read_only and path in HARMLESS_READ_ONLY:
            return None
    for path in candidates:
        if path == "/":
            return "the host's whole file system"
        if path.endswith("docker.sock") or path.endswith("containerd.sock"):
            return "the Docker engine's socket: the container could remove any container"
        for root in HOST_PATHS:
            if path == root or path.startswith(root + "/"):
                return f"{root} of the host"
    return None
