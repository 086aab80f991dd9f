"""Blast radius: faults, `down` and `clean` touch only what is labelled with the run (issue 8).

Decoys are made outside the harness, before the run is up, to look like targets:

- a container named ``server-a`` with no labels, on networks named ``wan`` and ``dc-a``;
- a container with the harness's labels for server-a of *another* run (and no
  state root), named as that run's server-a would be, on ``dc-a`` (itself
  labelled for that other run);
- a container with the labels of service server-b, site dc-b, but no run label;
- a loop device, attached to a file of the test's holding random bytes.

Every fault the registry offers is injected on its natural target and rolled
back; faults and returns aimed at the decoys are refused with exit 2; a drive
record forged to name the decoy loop device is refused too; then `down` and
`clean --all`.  After each step every decoy is as it was: running, never
restarted, paused or reconnected, its networks there, its bytes unchanged.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import pytest
import requests
from docker.errors import NotFound

from chaos.engine import labels, objects
from chaos.engine.runstate import RunStore
from chaos.faults.registry import FAULTS
from tests.conftest import Drill
from tests.integration.leftovers import leftovers

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.slow]

#: Another run's id, as the harness would write one.
DECOY_RUN = "r0101000" + "dec0"
MIMIC = {labels.RUN: DECOY_RUN, labels.SERVICE: "server-a", labels.SITE: "dc-a",
         labels.ROLE: "server"}
#: Decoy network name -> labels.
DECOY_NETWORKS: dict[str, dict[str, str]] = {
    "wan": {},
    "dc-a": {labels.RUN: DECOY_RUN, labels.NETWORK: "dc-a"},
}
#: Decoy container name -> (labels, networks).
DECOY_CONTAINERS: dict[str, tuple[dict[str, str], list[str]]] = {
    "server-a": ({}, ["wan", "dc-a"]),
    f"drill-{DECOY_RUN}-server-a": (MIMIC, ["dc-a"]),
    f"drill-{DECOY_RUN}-server-b": ({labels.SERVICE: "server-b", labels.SITE: "dc-b",
                                     labels.ROLE: "server"}, ["wan"]),
}
DECOY_DISK_MB = 16

#: Every fault on its natural target, in an order the stack survives: drive
#: faults and damage on server-a first, then the sites (server-a's reboot last).
FAULT_PLAN: list[tuple[str, str, tuple[str, ...]]] = [
    ("write-error", "server-a/disk1", ()),
    ("read-error", "server-a/disk1", ()),
    ("dead", "server-a/disk1", ()),
    ("slow", "server-a/disk1", ("--set", "rate=1M")),
    ("hang", "server-a/disk1", ()),
    ("bitrot", "server-a/disk1", ()),
    ("fs-corruption", "server-a", ()),
    ("full", "server-a", ()),
    ("pause", "dc-a", ()),
    ("isolate", "dc-a", ()),
    ("shutdown", "dc-b", ()),
    ("power-off", "dc-a", ()),
]


@dataclass(frozen=True)
class Decoys:
    containers: dict[str, str]  # name -> id
    networks: dict[str, str]  # name -> id
    loop: str  # /dev/loopN
    disk: Path  # its backing file


@dataclass(frozen=True)
class Run:
    drill: Drill
    run_id: str
    run_dir: Path
    edge_url: str


def look(engine: docker.DockerClient, decoys: Decoys) -> dict[str, Any]:
    """Everything about the decoys a fault or a clean could change."""
    seen: dict[str, Any] = {}
    for name, container_id in decoys.containers.items():
        try:
            data = engine.api.inspect_container(container_id)
        except NotFound:
            seen[name] = "gone"
            continue
        state = data["State"]
        attached = data["NetworkSettings"]["Networks"] or {}
        seen[name] = {"status": state["Status"], "paused": state["Paused"],
                      "started_at": state["StartedAt"], "restarts": data["RestartCount"],
                      "networks": {n: cfg["EndpointID"] for n, cfg in attached.items()}}
    for name, network_id in decoys.networks.items():
        try:
            data = engine.api.inspect_network(network_id)
        except NotFound:
            seen[f"network {name}"] = "gone"
            continue
        seen[f"network {name}"] = sorted((data.get("Containers") or {}).keys())
    backing = Path(f"/sys/block/{Path(decoys.loop).name}/loop/backing_file")
    seen["loop"] = backing.read_text().strip() if backing.exists() else "detached"
    with open(decoys.loop, "rb") as device:
        seen["loop bytes"] = hashlib.sha256(device.read()).hexdigest()
    return seen


def _remove_decoys(engine: docker.DockerClient, containers: list[str], networks: list[str],
                   loop: str | None) -> None:
    for container_id in containers:
        with contextlib.suppress(NotFound):
            engine.api.remove_container(container_id, force=True)
    for network_id in networks:
        with contextlib.suppress(NotFound):
            engine.api.remove_network(network_id)
    if loop:
        subprocess.run(["losetup", "--detach", loop], check=False, timeout=30)


@pytest.fixture(scope="module")
def drill(tmp_path_factory: pytest.TempPathFactory) -> Drill:
    """The CLI under a state root of its own: `clean --all` here leaves the session's runs alone."""
    return Drill(tmp_path_factory.mktemp("blast-radius-state"))


@pytest.fixture(scope="module")
def decoys(engine: docker.DockerClient, drill: Drill, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[Decoys]:
    drill.run("images")
    image = next(t for i in engine.images.list(name="chaos-harness/edge") for t in i.tags)
    containers: list[str] = []
    networks: dict[str, str] = {}
    loop = None
    try:
        for name, extra in DECOY_NETWORKS.items():
            networks[name] = engine.networks.create(name, driver="bridge", labels=extra,
                                                    check_duplicate=True).id or ""
        made = {}
        for name, (extra, attached) in DECOY_CONTAINERS.items():
            container = engine.containers.create(image, name=name, labels=extra, network=attached[0],
                                                 entrypoint=["sleep", "infinity"])
            containers.append(container.id or "")
            for network in attached[1:]:
                engine.networks.get(networks[network]).connect(container)
            container.start()
            made[name] = container.id or ""
        disk = tmp_path_factory.mktemp("decoy-disk") / "decoy.img"
        disk.write_bytes(os.urandom(DECOY_DISK_MB << 20))
        loop = subprocess.run(["losetup", "--find", "--show", str(disk)], check=True, timeout=30,
                              capture_output=True, text=True).stdout.strip()
        yield Decoys(made, networks, loop, disk)
    finally:
        _remove_decoys(engine, containers, list(networks.values()), loop)


@pytest.fixture(scope="module")
def baseline(engine: docker.DockerClient, decoys: Decoys) -> dict[str, Any]:
    seen = look(engine, decoys)
    assert all(seen[name]["status"] == "running" for name in decoys.containers), seen
    assert seen["loop"] == str(decoys.disk)
    return seen


@pytest.fixture(scope="module")
def run(engine: docker.DockerClient, drill: Drill, baseline: dict[str, Any]) -> Iterator[Run]:
    """A run of its own, up after the decoys; no automatic promotion while sites come and go."""
    drill.run("up", "--set", "DRILL_PROMOTE_AFTER=0")
    store = RunStore(drill.state_root)
    state = store.resolve(None)
    try:
        # bitrot and fs-corruption need uploaded files to damage.
        for _ in range(8):
            answer = requests.post(f"{state.edge_url}/upload", data=os.urandom(16 * 1024), timeout=10)
            assert answer.status_code == 201, answer.text
        yield Run(drill, state.run_id, store.run_dir(state.run_id), state.edge_url or "")
    finally:
        if store.load(state.run_id) is not None:
            drill.run("rollback", "--all", "--run", state.run_id, check=False)
            drill.run("down", "--run", state.run_id, check=False)


def test_the_plan_covers_every_fault_the_harness_offers(drill: Drill) -> None:
    planned = [name for name, _, _ in FAULT_PLAN]
    assert sorted(planned) == sorted(FAULTS), "every fault of the registry, once"
    listed = drill.run("faults").stdout
    assert all(f"  {name} " in listed for name in FAULTS)


@pytest.mark.parametrize("fault, target, extra", FAULT_PLAN, ids=[f[0] for f in FAULT_PLAN])
def test_a_fault_on_the_run_leaves_the_decoys_alone(
        engine: docker.DockerClient, decoys: Decoys, baseline: dict[str, Any], run: Run,
        fault: str, target: str, extra: tuple[str, ...]) -> None:
    assert look(engine, decoys) == baseline, "before the fault"
    injected = run.drill.run("inject", fault, target, *extra, "--run", run.run_id, check=False)
    try:
        assert injected.returncode == 0, injected.stdout + injected.stderr
        assert look(engine, decoys) == baseline, f"{fault} on {target} in place"
    finally:
        rolled_back = run.drill.run("rollback", fault, target, "--run", run.run_id, check=False)
    assert rolled_back.returncode == 0, rolled_back.stdout + rolled_back.stderr
    assert look(engine, decoys) == baseline, f"{fault} on {target} rolled back"


def _aimed() -> list[tuple[str, ...]]:
    """`drill` verbs aimed at a decoy: its container name, its id's place, its network."""
    mimic, unlabelled = f"drill-{DECOY_RUN}-server-a", f"drill-{DECOY_RUN}-server-b"
    return [
        ("inject", "power-off", mimic), ("inject", "shutdown", unlabelled),
        ("inject", "pause", mimic), ("inject", "isolate", unlabelled), ("inject", "isolate", "wan"),
        ("inject", "pause", "<server-a id>"), ("inject", "power-off", "<mimic id>"),
        ("inject", "write-error", f"{mimic}/disk1"), ("inject", "dead", "<server-a id>/disk1"),
        ("inject", "full", mimic), ("inject", "fs-corruption", unlabelled),
        ("inject", "bitrot", f"{unlabelled}/disk1"),
        ("rollback", "pause", mimic), ("rollback", "power-off", unlabelled),
        ("rollback", "isolate", "<server-a id>"),
        ("power-on", mimic), ("reconnect", unlabelled),
    ]


@pytest.mark.parametrize("args", _aimed(), ids=[" ".join(a) for a in _aimed()])
def test_a_fault_aimed_at_a_decoy_is_refused(engine: docker.DockerClient, decoys: Decoys,
                                             baseline: dict[str, Any], run: Run,
                                             args: tuple[str, ...]) -> None:
    ids = {"<server-a id>": decoys.containers["server-a"][:12],
           "<mimic id>": decoys.containers[f"drill-{DECOY_RUN}-server-a"][:12]}
    resolved = [next((a.replace(k, v) for k, v in ids.items() if k in a), a) for a in args]
    result = run.drill.run(*resolved, "--run", run.run_id, check=False)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "error: " in result.stderr, result.stderr
    assert any(phrase in result.stderr for phrase in (
        f"run {run.run_id} has no site or service", f"run {run.run_id} has no service",
        "with drives in this run")), result.stderr
    assert "Traceback" not in result.stderr
    assert look(engine, decoys) == baseline


def test_a_decoy_run_is_not_a_run(engine: docker.DockerClient, decoys: Decoys,
                                  baseline: dict[str, Any], run: Run) -> None:
    """`--run` naming the decoys' run id: refused, there is no record of it here."""
    result = run.drill.run("inject", "power-off", "dc-a", "--run", DECOY_RUN, check=False)
    assert result.returncode != 0 and f"run {DECOY_RUN} has no record" in result.stderr, result.stderr
    assert look(engine, decoys) == baseline


def test_a_drive_record_naming_a_loop_device_not_of_the_run_is_refused(
        engine: docker.DockerClient, decoys: Decoys, baseline: dict[str, Any], run: Run) -> None:
    """A stale or forged drives.json cannot point a drive fault at someone else's device."""
    record = run.run_dir / "server-a" / "drives" / "drives.json"
    original = record.read_text()
    forged = json.loads(original)
    forged["drives"][0]["loop"] = decoys.loop
    disk1 = forged["drives"][0]["name"]
    server_a = objects.service_container(engine, run.run_id, "server-a")
    number = int(decoys.loop.removeprefix("/dev/loop"))
    # A node for the decoy's device inside server-a, as an earlier boot could leave one:
    # without the check, the write probe would reach the decoy's bytes.
    node = f"/dev/loop{number}"
    made_node = server_a.exec_run(["sh", "-c", f"test -e {node} || mknod {node} b 7 {number} "
                                   f"&& echo made"]).output.decode().strip() == "made"
    try:
        (record.parent / "drives.json.forged").write_text(json.dumps(forged))
        os.replace(record.parent / "drives.json.forged", record)
        for fault in ("write-error", "read-error", "dead", "slow", "hang", "bitrot"):
            result = run.drill.run("inject", fault, f"server-a/{disk1}", "--run", run.run_id,
                                   check=False)
            assert result.returncode == 2, result.stdout + result.stderr
            assert f"its record names {decoys.loop}" in result.stderr, result.stderr
            assert "refusing to touch it" in result.stderr, result.stderr
            assert look(engine, decoys) == baseline, fault
        assert not any(i["target"] == f"server-a/{disk1}" for i in json.loads(
            (run.run_dir / "faults.json").read_text()))
    finally:
        (record.parent / "drives.json.real").write_text(original)
        os.replace(record.parent / "drives.json.real", record)
        if made_node:
            server_a.exec_run(["rm", "-f", node])


def test_down_and_clean_leave_the_decoys_alone(engine: docker.DockerClient, decoys: Decoys,
                                               baseline: dict[str, Any], run: Run) -> None:
    run.drill.run("down", "--run", run.run_id)
    assert leftovers(engine, run.run_id, run.run_dir).empty(), leftovers(engine, run.run_id)
    assert look(engine, decoys) == baseline, "after down"

    cleaned = run.drill.run("clean", "--all")
    assert DECOY_RUN not in cleaned.stdout + cleaned.stderr, cleaned.stdout + cleaned.stderr
    assert look(engine, decoys) == baseline, "after clean --all"
