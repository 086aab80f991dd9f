"""A user's own multi-service stack, never shaped for the harness (tests/compose/shop).

Its images are built from its own Dockerfiles; every compose setting it uses
must reach the containers as `docker compose` would give them; a power-off of
one of its services under load is measured; `drill down` leaves nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest
import requests

from chaos.engine import labels
from tests.conftest import Drill
from tests.integration.leftovers import leftovers

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
SHOP = ROOT / "tests" / "compose" / "shop" / "compose.yaml"
SCENARIO = ROOT / "tests" / "scenarios" / "shop-power-off.yaml"


def containers(engine: docker.DockerClient, run_id: str) -> dict[str, docker.models.containers.Container]:
    found = engine.containers.list(all=True, filters={"label": f"{labels.RUN}={run_id}"})
    return {c.labels[labels.SERVICE]: c for c in found}


def serves(url: str, within: float = 0.0) -> bool:
    """Whether `url` answers 200 (now, or within `within` seconds)."""
    deadline = time.monotonic() + within
    while True:
        try:
            if requests.get(url, timeout=3).status_code == 200:
                return True
        except requests.RequestException:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.5)


def test_a_users_stack_comes_up_as_its_compose_file_says(engine: docker.DockerClient,
                                                        drill: Drill) -> None:
    up = drill.run("up", "-f", str(SHOP))
    run_id = up.stdout.split()[1]
    edge = up.stdout.strip().rsplit(" ", 1)[-1]
    try:
        # The notes say what the harness changed: the port on loopback, the name an alias.
        assert "services.web.ports: published on 127.0.0.1 only" in up.stderr
        assert "container_name 'shop-web' becomes a network alias" in up.stderr
        found = containers(engine, run_id)
        assert set(found) == {"migrate", "api", "web"}
        migrate, api, web = found["migrate"], found["api"], found["web"]
        # The one-shot job ran to completion before the API started.
        assert migrate.attrs["State"]["Status"] == "exited"
        assert migrate.attrs["State"]["ExitCode"] == 0
        assert api.attrs["State"]["StartedAt"] > migrate.attrs["State"]["FinishedAt"]
        # What the API process sees, from inside (its /info, through the front).
        info = requests.get(f"{edge}/info", timeout=10).json()
        assert info["uid"] == 1000 and info["gid"] == 1000
        assert info["pid1"] == "docker-init" and info["cwd"] == "/srv/shop"
        assert info["nofile"] == {"soft": 1024, "hard": 2048}
        assert info["mounts"]["/tmp"] == "tmpfs"
        assert info["tz"] == "Europe/Paris"  # `- TZ` took the value .env gives
        assert info["name"] == "Corner Shop"  # from env_file
        assert info["greeting"] == "Welcome to the shop"  # .env interpolation
        assert info["version"] == "1.4.2"  # a build arg from .env, built to target runtime
        assert info["schema_version"] == 3  # the migration's own build arg, from .env
        assert requests.get(f"{edge}/", timeout=10).status_code == 200
        # Docker's view of the rest.
        assert web.attrs["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert web.attrs["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"] == "127.0.0.1"
        [(network, endpoint)] = web.attrs["NetworkSettings"]["Networks"].items()
        assert network == f"drill-{run_id}-default"
        assert {"web", "shop-web"} <= set(endpoint["Aliases"])
        assert web.name == f"drill-{run_id}-web"
        assert api.attrs["Config"]["Healthcheck"]["Test"][0] == "CMD-SHELL"
        assert "${SHOP_LISTEN_PORT:-8000}" in api.attrs["Config"]["Healthcheck"]["Test"][1]
        assert "8000/tcp" in api.attrs["Config"]["ExposedPorts"]
        assert api.attrs["HostConfig"]["Init"] is True
        assert api.attrs["Config"]["StopTimeout"] == 3
        image = engine.images.get(api.attrs["Config"]["Image"])
        assert image.labels["org.opencontainers.image.title"] == "shop-api"
        volumes = engine.volumes.list(filters={"label": f"{labels.RUN}={run_id}"})
        assert [v.name for v in volumes] == [f"drill-{run_id}-data"]
        # The site its x-chaos-harness names is a target of the site faults.
        for fault, evidence in (("power-off", "powered off"), ("isolate", "cut off default")):
            hit = drill.run("inject", fault, "dc-a", "--run", run_id)
            what, _, names = hit.stdout.strip().rsplit("; ", 1)[-1].partition(": ")
            assert (what, set(names.split(", "))) == (evidence, {"api", "web"}), hit.stdout
            assert not serves(f"{edge}/")
            drill.run("rollback", fault, "dc-a", "--run", run_id)
            assert serves(f"{edge}/", within=30), f"{fault} rolled back, the shop did not serve"
    finally:
        drill.run("down", "--run", run_id)
    left = leftovers(engine, run_id, drill.state_root / "runs" / run_id)
    assert left.empty(), left


def test_powering_off_a_users_service_under_load_is_measured(engine: docker.DockerClient,
                                                           drill: Drill, tmp_path: Path,
                                                           figure: Callable[[str], None]) -> None:
    ran = drill.run("run", str(SCENARIO), "--out", str(tmp_path))
    result = json.loads((tmp_path / "result.json").read_text())
    [step] = result["steps"]
    assert step["state"] == "done" and step["injection"]["affected"] == ["api"]
    [fault] = result["measurements"]["faults"]
    impact = fault["impact"]
    figure(f"shop stack, API off for 5 s: {impact['failed_requests']} failed requests, "
           f"recovered after {impact['time_to_recover']:.2f} s")
    assert impact["failed_requests"] > 0  # the customers noticed: the home page failed
    assert impact["time_to_recover"] is not None and impact["time_to_recover"] < 25
    assert result["stack"]["allow_host_access"] is False
    assert result["outcome"] == "passed", ran.stdout[-2000:]
    left = leftovers(engine, result["run_id"], drill.state_root / "runs" / result["run_id"])
    assert left.empty(), left
