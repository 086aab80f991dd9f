"""The bundled stack, up: real RAID1 on loop devices, real services, served through the edge."""

from __future__ import annotations

import hashlib
import json
import os
import uuid

import docker
import pytest
import requests
import testinfra

from chaos.engine import objects
from chaos.engine.runstate import RunState
from tests.conftest import Drill

pytestmark = pytest.mark.integration


def host(state: RunState, service: str) -> testinfra.host.Host:
    return testinfra.get_host(f"docker://{objects.object_name(state.run_id, service)}")


def btrfs_members(server: testinfra.host.Host) -> list[str]:
    show = server.check_output("btrfs filesystem show /srv")
    return [line.split()[-1] for line in show.splitlines() if line.strip().startswith("devid")]


@pytest.mark.parametrize("service", ["server-a", "server-b"])
def test_srv_is_btrfs_raid1_over_two_loop_devices(stack: RunState, service: str) -> None:
    server = host(stack, service)
    srv = server.mount_point("/srv")
    assert srv.exists and srv.filesystem == "btrfs" and "rw" in srv.options
    usage = server.check_output("btrfs filesystem df /srv")
    assert "Data, RAID1" in usage and "Metadata, RAID1" in usage, usage
    members = btrfs_members(server)
    assert len(members) == 2 and all(m.startswith("/dev/loop") for m in members), members


@pytest.mark.parametrize("service", ["server-a", "server-b"])
def test_services_are_running(stack: RunState, service: str) -> None:
    server = host(stack, service)
    for program in ("nginx", "postgres", "gunicorn"):
        assert server.process.filter(comm=program), f"{program} is not running on {service}"
    assert server.socket("tcp://0.0.0.0:80").is_listening
    # PostgreSQL really keeps its data on the RAID.
    assert server.file("/srv/pgdata/PG_VERSION").exists
    for program in ("nbdkit", "nbdfuse"):
        assert len(server.process.filter(comm=program)) == 3


def test_spare_drive_exists_and_is_not_in_the_array(stack: RunState) -> None:
    server = host(stack, "server-a")
    drives = json.loads(server.file("/run/drill/drives.json").content_string)["drives"]
    assert len(drives) == 3
    spares = [d for d in drives if not d["in_array"]]
    assert len(spares) == 1
    spare_loop = spares[0]["loop"]
    assert spare_loop.startswith("/dev/loop") and server.run(f"test -b {spare_loop}").rc == 0
    attached = server.check_output("losetup --list --noheadings --output NAME")
    assert spare_loop in attached.split()
    assert spare_loop not in btrfs_members(server)


def test_every_object_carries_the_run_labels(stack: RunState, engine: docker.DockerClient) -> None:
    containers = objects.find_containers(engine, stack.run_id)
    assert {c.labels["chaos-harness.service"] for c in containers} == {
        "edge", "server-a", "server-b", "backup"}
    for container in containers:
        assert container.labels["chaos-harness.site"]
        host_config = container.attrs["HostConfig"]
        assert not host_config.get("Privileged")
        for bindings in (host_config.get("PortBindings") or {}).values():
            assert all(b["HostIp"] == "127.0.0.1" for b in bindings)
    assert len(objects.find_networks(engine, stack.run_id)) == 4


def test_page_answers_through_the_edge(stack: RunState) -> None:
    assert stack.edge_url and stack.edge_url.startswith("http://127.0.0.1:")
    index = requests.get(f"{stack.edge_url}/", timeout=10)
    assert index.status_code == 200 and index.headers.get("X-Served-By") == "server-a"
    page = requests.get(f"{stack.edge_url}/page/1", timeout=10)
    assert page.status_code == 200


def test_upload_is_acknowledged_and_read_back_intact(stack: RunState) -> None:
    body = os.urandom(200_000)
    upload_id = str(uuid.uuid4())
    answer = requests.post(f"{stack.edge_url}/upload", data=body, timeout=10,
                           headers={"X-Upload-Id": upload_id})
    assert answer.status_code == 201, answer.text
    assert answer.json() == {"id": upload_id, "sha256": hashlib.sha256(body).hexdigest(),
                             "size": len(body)}
    read = requests.get(f"{stack.edge_url}/upload/{upload_id}", timeout=10)
    assert read.status_code == 200 and read.content == body
    # It really is on the primary's RAID.
    assert host(stack, "server-a").file(f"/srv/uploads/{upload_id}").size == len(body)


def test_status_shows_the_raid_healthy(stack: RunState, drill: Drill) -> None:
    status = requests.get(f"{stack.edge_url}/status", timeout=10).json()
    raid = status["raid"]
    assert raid["healthy"] and not raid["degraded"] and not raid["read_only"]
    assert raid["data_profile"] == "RAID1" and len(raid["devices"]) == 2
    cli = json.loads(drill.run("status", "--json").stdout)
    servers = {s["name"]: s for s in cli["services"]}
    assert servers["server-a"]["raid"]["healthy"] and servers["server-b"]["raid"]["healthy"]
    assert servers["edge"]["health"] == "healthy"


def test_an_app_that_does_not_answer_is_a_503_with_a_kind_never_a_502(stack: RunState) -> None:
    server = host(stack, "server-a")
    server.check_output("supervisorctl stop app")
    try:
        asked = server.run("curl -s -w '\\n%{http_code}' http://127.0.0.1/page/1")
        body, status = asked.stdout.rsplit("\n", 1)
        assert status == "503", asked.stdout
        assert json.loads(body)["kind"] == "unavailable"
    finally:
        server.check_output("supervisorctl start app")
