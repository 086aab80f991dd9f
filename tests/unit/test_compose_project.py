"""A compose project as docker compose reads it: merged files, extends, include, profiles,
env files, host values; and how each service becomes Docker API arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.engine.compose import ComposeProject, load_compose
from chaos.engine.objects import anonymous_volume, plan_container
from chaos.errors import InputError


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def problems(paths: Path | list[Path], **kwargs: object) -> list[str]:
    with pytest.raises(InputError) as caught:
        load_compose(paths, {}, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def plan(project: ComposeProject, service: str, run_dir: Path = Path("/runs/r1")):  # type: ignore[no-untyped-def]
    return plan_container(project, service, "r1", "img", "/state", run_dir)


BASE = """\
services:
  web:
    image: nginx
    command: ["nginx", "-g", "daemon off;"]
    environment: {A: "1", B: "2"}
    labels: [x=1]
    ports: ["8080:80", "9090:90"]
    volumes: ["./site:/usr/share/nginx/html:ro", "cache:/var/cache"]
volumes:
  cache: {}
"""

OVERRIDE = """\
services:
  web:
    image: nginx:1.27
    command: nginx-debug
    environment: [B=override, C=3]
    labels: {y: "2"}
    ports: ["8080:80", "7070:70"]
    volumes: ["./other:/usr/share/nginx/html"]
"""


def test_later_files_override_as_compose_merges(tmp_path: Path) -> None:
    project = load_compose([write(tmp_path, "compose.yml", BASE),
                            write(tmp_path / "sub", "override.yml", OVERRIDE)], {})
    web = project.service("web")
    assert web.image == "nginx:1.27"
    assert web.command == ["nginx-debug"]  # replaced whole, not appended
    assert web.environment == {"A": "1", "B": "override", "C": "3"}
    assert web.labels == {"x": "1", "y": "2"}
    assert [(p.published, p.target) for p in web.ports] == [("8080", 80), ("9090", 90),
                                                            ("7070", 70)]
    # Merged by container path; relative paths are from the first file's folder, as compose.
    assert [(m.source, m.target, m.read_only) for m in web.volumes] == [
        (str(tmp_path / "other"), "/usr/share/nginx/html", False), ("cache", "/var/cache", False)]


def test_a_problem_in_an_override_names_the_override_file(tmp_path: Path) -> None:
    override = write(tmp_path, "override.yml", "services:\n  web:\n    init: true\n"
                                               "    restart: sometimes\n")
    (found,) = problems([write(tmp_path, "compose.yml", BASE), override])
    assert found == (f"{override}:4:5: services.web.restart: 'sometimes' is not a restart policy; "
                     "write no, always, unless-stopped, on-failure or on-failure:N")


def test_extends_from_this_file_and_another(tmp_path: Path) -> None:
    write(tmp_path / "common", "base.yml", """\
services:
  app:
    build: ./app
    environment: {LEVEL: base, KEEP: "yes"}
    depends_on: [db]
  db:
    image: postgres
""")
    project = load_compose(write(tmp_path, "compose.yml", """\
services:
  web:
    extends: {file: common/base.yml, service: app}
    environment: {LEVEL: web}
  worker:
    extends: web
    command: work
"""), {})
    web, worker = project.service("web"), project.service("worker")
    assert web.environment == {"LEVEL": "web", "KEEP": "yes"}
    # Paths of the extended file are from its own folder; dependencies are never inherited.
    assert web.build is not None and web.build.context == str(tmp_path / "common" / "app")
    assert web.depends_on == {}
    assert worker.environment == web.environment and worker.command == ["work"]
    assert set(project.spec.services) == {"web", "worker"}


def test_include_adds_services_resolved_in_their_own_folder(tmp_path: Path) -> None:
    write(tmp_path / "db", "compose.yml", "services:\n  db:\n    build: .\n"
                                          "    environment: {PASS: '${DB_PASS}'}\n")
    write(tmp_path / "db", ".env", "DB_PASS=from-db-env\n")
    project = load_compose(write(tmp_path, "compose.yml", """\
include:
  - db/compose.yml
services:
  web:
    image: nginx
    depends_on: [db]
"""), {})
    db = project.service("db")
    assert db.build is not None and db.build.context == str(tmp_path / "db")
    assert db.environment == {"PASS": "from-db-env"}
    assert project.order.index("db") < project.order.index("web")


def test_an_include_cannot_redefine_a_service(tmp_path: Path) -> None:
    write(tmp_path, "other.yml", "services:\n  web:\n    image: httpd\n")
    top = write(tmp_path, "compose.yml", "include: [other.yml]\nservices:\n  web:\n"
                                         "    image: nginx\n")
    (found,) = problems(top)
    assert found.startswith(f"{top}:3:3: services.web: service 'web' is defined here and in "
                            f"the included file {tmp_path / 'other.yml'}")


PROFILED = """\
services:
  web:
    image: nginx
  debug:
    image: busybox
    profiles: [debug, all]
"""


def test_profiles_choose_services(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yml", PROFILED)
    plain = load_compose(path, {})
    assert set(plain.spec.services) == {"web"} and plain.disabled == ("debug",)
    assert set(load_compose(path, {}, profiles=["all"]).spec.services) == {"web", "debug"}
    assert set(load_compose(path, {"COMPOSE_PROFILES": "x,debug"}).spec.services) == {
        "web", "debug"}
    assert set(load_compose(path, {}, profiles=["*"]).spec.services) == {"web", "debug"}


def test_env_files_and_host_values_fill_environment(tmp_path: Path) -> None:
    write(tmp_path, "a.env", "FROM_A=a\nSHARED=a\n# a comment\n")
    write(tmp_path, "b.env", "SHARED=b\nQUOTED=\"x y\"\n")
    project = load_compose(write(tmp_path, "compose.yml", """\
services:
  web:
    image: nginx
    env_file:
      - a.env
      - path: b.env
      - path: missing.env
        required: false
    environment:
      - SHARED=mine
      - HOME
      - NOT_ON_THIS_HOST
      - NESTED=${UNSET:-${HOME}}
"""), {"HOME": "/home/me"})
    assert project.service("web").environment == {
        "FROM_A": "a", "SHARED": "mine", "QUOTED": "x y", "HOME": "/home/me",
        "NESTED": "/home/me"}
    assert plan(project, "web").environment["HOME"] == "/home/me"


def test_dotenv_and_env_file_option(tmp_path: Path) -> None:
    write(tmp_path, ".env", "TAG=from-dotenv\n")
    write(tmp_path, "other.env", "TAG=from-option\n")
    path = write(tmp_path, "compose.yml", "services:\n  web:\n    image: nginx:${TAG}\n")
    assert load_compose(path, {}).service("web").image == "nginx:from-dotenv"
    assert load_compose(path, {}, [tmp_path / "other.env"]).service("web").image == \
        "nginx:from-option"
    assert load_compose(path, {"TAG": "shell"}).service("web").image == "nginx:shell"


FULL = """\
services:
  api:
    image: shop/api
    container_name: shop-api
    restart: on-failure:3
    init: true
    user: "1000:1000"
    working_dir: /srv
    shm_size: 64m
    tmpfs: [/tmp, "/run:size=1m"]
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    sysctls: [net.core.somaxconn=1024]
    extra_hosts: ["db.local:10.0.0.5", "cache.local=10.0.0.6"]
    expose: [8000, "9000-9001"]
    stop_signal: SIGINT
    stop_grace_period: 3s
    read_only: true
    healthcheck:
      disable: true
    deploy:
      resources:
        limits: {cpus: "0.5", memory: 256M, pids: 100}
    volumes:
      - /data
      - type: tmpfs
        target: /cache
        tmpfs: {size: 1048576}
    secrets: [token]
    configs:
      - source: settings
        target: /etc/api.conf
    networks:
      back:
        aliases: [api.internal]
  db:
    image: postgres
    links: ["api:backend"]
    networks: [back]
secrets:
  token: {file: ./token.txt}
configs:
  settings: {content: "mode=drill"}
networks:
  back: {}
"""


def test_a_service_becomes_docker_arguments(tmp_path: Path) -> None:
    project = load_compose(write(tmp_path, "compose.yml", FULL), {})
    api = plan(project, "api", tmp_path / "run")
    host = api.host_options
    assert api.name == "drill-r1-api"  # not shop-api: two runs at once must not collide
    assert api.networks == [("drill-r1-back", ["api", "api.internal", "backend", "shop-api"], {})]
    assert host["restart_policy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert host["init"] is True and host["read_only"] is True
    assert host["shm_size"] == 64 * 1024**2
    assert host["tmpfs"] == {"/tmp": "", "/run": "size=1m"}
    assert [(u.name, u.soft, u.hard) for u in host["ulimits"]] == [
        ("nofile", 1024, 2048), ("nproc", 512, 512)]
    assert host["sysctls"] == {"net.core.somaxconn": "1024"}
    assert host["extra_hosts"] == {"db.local": "10.0.0.5", "cache.local": "10.0.0.6"}
    assert (host["nano_cpus"], host["mem_limit"], host["pids_limit"]) == (
        500_000_000, 256 * 1024**2, 100)
    options = api.container_options
    assert (options["user"], options["working_dir"], options["stop_signal"]) == (
        "1000:1000", "/srv", "SIGINT")
    assert options["healthcheck"] == {"test": ["NONE"]}
    assert api.stop_grace_period == 3.0
    assert api.exposed == ["8000/tcp", "9000/tcp", "9001/tcp"]
    mounts = {m["Target"]: m for m in api.mounts}
    assert mounts["/data"]["Source"] == f"drill-r1-{anonymous_volume('api', 0)}"
    assert mounts["/cache"]["Type"] == "tmpfs"
    assert mounts["/run/secrets/token"]["Source"] == str(tmp_path / "token.txt")
    assert mounts["/run/secrets/token"]["ReadOnly"] is True
    assert mounts["/etc/api.conf"]["Source"] == str(tmp_path / "run" / "configs" / "settings")
    assert api.files == {tmp_path / "run" / "configs" / "settings": b"mode=drill"}
    assert any("container_name 'shop-api' becomes a network alias" in n for n in project.notes)


def test_x_chaos_harness_gives_the_site_label(tmp_path: Path) -> None:
    project = load_compose(write(tmp_path, "compose.yml", """\
services:
  web:
    image: nginx
    x-chaos-harness: {site: dc-a, role: edge}
"""), {})
    labels = plan(project, "web").labels
    assert labels["chaos-harness.site"] == "dc-a" and labels["chaos-harness.role"] == "edge"


def test_keys_without_effect_are_noted_not_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yml", """\
services:
  web:
    image: nginx
    logging: {driver: syslog}
    deploy: {replicas: 3, placement: {constraints: [node.role==manager]}}
    platform: linux/arm64
networks:
  edge: {external: true}
""")
    notes = list(load_compose(path, {}).notes)
    expected = [f"{path}:4:5: services.web.logging: not applied: containers keep Docker's "
                "json-file log, which the harness reads for its reports",
                f"{path}:5:14: services.web.deploy.replicas: replicas 3: one container runs "
                "(replicas are not supported in a drill)",
                f"{path}:5:27: services.web.deploy.placement: not applied: deploy.placement is "
                "for Swarm",
                f"{path}:6:5: services.web.platform: not applied: images run on this machine's "
                "platform",
                f"{path}:8:10: networks.edge.external: external network 'edge' is not joined: "
                "the run gets a network of its own in its place"]
    assert notes == sorted(expected, key=lambda n: [int(x) for x in n.split(":")[1:3]])


@pytest.mark.parametrize(("lines", "at", "why"), [
    ("    volumes: [/var/run/docker.sock:/var/run/docker.sock]", "volumes[0]",
     "the Docker engine's socket"),
    ("    volumes: ['/:/host']", "volumes[0]", "the host's whole file system"),
    ("    volumes: [/proc:/host/proc:ro]", "volumes[0]", "/proc of the host"),
    ("    volumes: [/etc/passwd:/etc/passwd:ro]", "volumes[0]", "/etc of the host"),
    ("    volumes: [/var/lib/docker:/docker]", "volumes[0]", "/var/lib/docker of the host"),
    ("    cap_add: [ALL]", "cap_add[0]", "grants every capability"),
    ("    devices: [/dev/mem]", "devices[0]", "device /dev/mem is outside"),
    ("    network_mode: host", "network_mode", "uses the host's network"),
    ("    pid: host", "pid", "process table"),
    ("    ipc: host", "ipc", "IPC namespace"),
    ("    userns_mode: host", "userns_mode", "user namespace"),
    ("    privileged: true", "privileged", "every device and capability"),
    ("    ports: ['0.0.0.0:80:80']", "ports[0]", "open to the network"),
    ("    use_api_socket: true", "use_api_socket", "Docker engine's socket"),
])
def test_what_reaches_into_the_host_is_refused_unless_allowed(tmp_path: Path, lines: str,
                                                              at: str, why: str) -> None:
    path = write(tmp_path, "compose.yml", f"services:\n  tool:\n    image: x\n{lines}\n")
    (found,) = problems(path)
    assert f"services.tool.{at}: " in found and why in found
    assert found.endswith("(refused: it reaches into the host; --allow-host-access allows it)")
    assert load_compose(path, {}, allow_host_access=True).allow_host_access


def test_harmless_binds_and_drive_devices_are_fine(tmp_path: Path) -> None:
    load_compose(write(tmp_path, "compose.yml", """\
services:
  tool:
    image: x
    volumes: [/etc/localtime:/etc/localtime:ro, ./data:/data]
    devices: [/dev/fuse, /dev/loop-control]
    device_cgroup_rules: ["b 7:* rmw"]
    cap_add: [SYS_ADMIN, NET_ADMIN]
"""), {})


@pytest.mark.parametrize(("port", "expected"), [
    ("80", [(None, None, 80, "tcp")]),
    ("8080:80/udp", [(None, "8080", 80, "udp")]),
    ("127.0.0.1:8000-8001:80-81", [("127.0.0.1", "8000", 80, "tcp"),
                                   ("127.0.0.1", "8001", 81, "tcp")]),
    ("[::1]:8080:80", [("::1", "8080", 80, "tcp")]),
    ("127.0.0.1::80", [("127.0.0.1", None, 80, "tcp")]),
])
def test_short_ports(tmp_path: Path, port: str, expected: list[tuple[object, ...]]) -> None:
    project = load_compose(write(tmp_path, "compose.yml",
                                 f"services:\n  web:\n    image: x\n    ports: ['{port}']\n"), {})
    assert [(p.host_ip, p.published, p.target, p.protocol)
            for p in project.service("web").ports] == expected


def test_completed_successfully_and_optional_dependencies(tmp_path: Path) -> None:
    project = load_compose(write(tmp_path, "compose.yml", """\
services:
  web:
    image: x
    depends_on:
      migrate: {condition: service_completed_successfully}
      metrics: {condition: service_started, required: false}
  migrate:
    image: x
    restart: "no"
"""), {})
    assert project.order == ("migrate", "web")
    assert project.service("web").depends_on["migrate"].condition == \
        "service_completed_successfully"


def test_reset_and_override_tags_in_a_later_file(tmp_path: Path) -> None:
    later = write(tmp_path, "later.yml", """\
services:
  web:
    ports: !override ["7070:70"]
    environment: !reset null
    labels: !reset {}
    volumes: !override
      - ./one:/one
""")
    web = load_compose([write(tmp_path, "compose.yml", BASE), later], {}).service("web")
    assert [(p.published, p.target) for p in web.ports] == [("7070", 70)]
    assert web.environment == {} and web.labels == {}
    assert [(m.source, m.target) for m in web.volumes] == [(str(tmp_path / "one"), "/one")]


def test_volumes_from_and_links_start_first(tmp_path: Path) -> None:
    project = load_compose(write(tmp_path, "compose.yml", """\
services:
  app:
    image: x
    volumes_from: [data:ro]
    links: [db:database]
  data: {image: x}
  db: {image: x}
"""), {})
    assert project.order.index("app") > max(project.order.index("data"),
                                            project.order.index("db"))
    assert plan(project, "app").host_options["volumes_from"] == ["drill-r1-data:ro"]


def test_a_missing_secret_file_is_said_at_up_not_at_load(tmp_path: Path) -> None:
    from chaos.engine.lifecycle import missing_files

    project = load_compose(write(tmp_path, "compose.yml", """\
services:
  app: {image: x, secrets: [token]}
secrets:
  token: {file: ./token.txt}
"""), {})
    with pytest.raises(InputError) as caught:
        missing_files(project)
    assert f"secret 'token' reads {tmp_path / 'token.txt'}, which does not exist" in \
        caught.value.message
    (tmp_path / "token.txt").write_text("s3cret")
    missing_files(project)


def test_a_service_can_share_another_services_network(tmp_path: Path) -> None:
    path = write(tmp_path, "compose.yml", """\
services:
  app:
    image: x
    network_mode: service:vpn
    ipc: service:vpn
  vpn:
    image: gluetun
    ports: ["8080:8080"]
""")
    project = load_compose(path, {})
    app = plan(project, "app")
    assert app.networks == []
    assert app.host_options["network_mode"] == "container:drill-r1-vpn"
    assert app.host_options["ipc_mode"] == "container:drill-r1-vpn"
    assert project.order == ("vpn", "app")
    assert f"{path}:4:5: services.app.network_mode: shares vpn's network namespace: a fault on " \
           "vpn reaches this service too" in project.notes
    (found,) = problems(write(tmp_path, "compose.yml", """\
services:
  app: {image: x, network_mode: "container:elsewhere"}
"""))
    assert "shares the namespace of a container outside the run" in found
