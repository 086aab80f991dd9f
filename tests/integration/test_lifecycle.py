"""Up, down and clean leave nothing behind; a warm up never rebuilds."""

from __future__ import annotations

import shutil
import signal
import time
from pathlib import Path

import docker
import pytest

from chaos.engine import labels, objects
from chaos.engine.runstate import RunStore
from tests.conftest import Drill
from tests.integration.leftovers import leftovers

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Drives the bundled stack attaches with `--drives 4`: 4 per server, 1 on the backup host.
EXPECTED_LOOP_DEVICES = 4 + 4 + 1

UNHEALTHY = """\
services:
  sick:
    build: {context: %s}
    entrypoint: ["sh", "-c", "echo booting; echo 'the disk is on fire' >&2; exec sleep 600"]
    networks: [net]
    healthcheck: {test: ["CMD", "false"], interval: 1s, timeout: 1s, retries: 1}
networks:
  net: {}
"""


def test_warm_up_reuses_images_and_down_leaves_nothing(engine: docker.DockerClient,
                                                       drill: Drill) -> None:
    drill.run("images")
    up = drill.run("up", "--drives", "4")
    assert "building" not in up.stderr, up.stderr
    assert "is up to date" in up.stderr
    run_id = RunStore(drill.state_root).current()
    assert run_id is not None
    run_dir = drill.state_root / "runs" / run_id
    made = leftovers(engine, run_id, run_dir)
    assert len(made.containers) == 4 and len(made.networks) == 4
    assert len(made.loop_devices) == EXPECTED_LOOP_DEVICES, made

    drill.run("down")

    assert leftovers(engine, run_id).empty(), leftovers(engine, run_id)
    assert not run_dir.exists()


@pytest.mark.destructive
@pytest.mark.parametrize("kill_after", ["creating 4 networks", "started server-", "server-a is healthy"])
def test_clean_after_sigkill_mid_up_leaves_nothing(engine: docker.DockerClient, drill: Drill,
                                                   kill_after: str, tmp_path: Path) -> None:
    process = drill.popen("up")
    assert process.stdout is not None
    seen = []
    deadline = time.monotonic() + 300
    for line in process.stdout:
        seen.append(line)
        if kill_after in line:
            break
        assert time.monotonic() < deadline, "".join(seen)
    else:
        pytest.fail(f"`drill up` ended before printing {kill_after!r}:\n{''.join(seen)}")
    if kill_after.startswith("started"):
        time.sleep(1.5)  # inside the servers' drive and RAID set-up
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    run_ids = RunStore(drill.state_root).run_ids()
    assert run_ids, "the killed run left no record to clean from"
    # A copy of the servers' drive records: clean removes the run's folder.
    records = tmp_path / "records"
    for run_id in run_ids:
        for loops_file in (drill.state_root / "runs" / run_id).glob("*/loops"):
            copy = records / run_id / loops_file.parent.name / "loops"
            copy.parent.mkdir(parents=True)
            shutil.copy(loops_file, copy)

    cleaned = drill.run("clean")

    assert f"removed {len(run_ids)} dead run" in cleaned.stdout, cleaned.stdout + cleaned.stderr
    for run_id in run_ids:
        left = leftovers(engine, run_id, records / run_id)
        assert left.empty(), left
    assert RunStore(drill.state_root).run_ids() == []


def test_unhealthy_service_fails_up_with_its_logs_and_leaves_nothing(
        engine: docker.DockerClient, drill: Drill, tmp_path: Path) -> None:
    compose = tmp_path / "sick.yml"
    compose.write_text(UNHEALTHY % (Path(__file__).resolve().parents[2] / "compose/images/edge"))
    result = drill.run("up", "--compose", str(compose), "--health-timeout", "60", check=False)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "service sick is unhealthy" in result.stderr
    assert "the disk is on fire" in result.stderr  # its last log lines
    assert "Traceback" not in result.stderr
    assert not [c.name for c in objects.find_containers(engine)
                if c.labels.get(labels.STATE_ROOT) == str(drill.state_root)]
    assert RunStore(drill.state_root).run_ids() == []


@pytest.mark.destructive
def test_sigterm_mid_up_removes_everything_it_made(engine: docker.DockerClient, drill: Drill) -> None:
    process = drill.popen("up")
    assert process.stdout is not None
    for line in process.stdout:
        if "started server-" in line:
            break
    run_id = RunStore(drill.state_root).current()
    assert run_id is not None
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=120)[0]
    assert process.returncode == 130, output
    assert "interrupted" in output
    assert leftovers(engine, run_id).empty(), leftovers(engine, run_id)
    assert RunStore(drill.state_root).run_ids() == []


@pytest.mark.destructive
def test_down_with_faults_in_place_releases_every_drive(engine: docker.DockerClient, drill: Drill) -> None:
    drill.run("up")
    run_id = RunStore(drill.state_root).current()
    assert run_id is not None
    run_dir = drill.state_root / "runs" / run_id
    drill.run("inject", "hang", "server-a/disk1")
    drill.run("inject", "write-error", "server-b/disk2")
    drill.run("inject", "slow", "server-b/disk1", "--set", "rate=512K")

    drill.run("down")

    left = leftovers(engine, run_id, run_dir)
    assert left.empty(), left


@pytest.mark.destructive
def test_clean_never_touches_what_is_not_its_own(engine: docker.DockerClient, drill: Drill) -> None:
    """A decoy without labels, and a run recorded under another state root, survive `clean --all`."""
    image = next(t for i in engine.images.list(name="chaos-harness/edge") for t in i.tags)
    made = []
    try:
        foreign = {labels.RUN: "rforeign", labels.STATE_ROOT: "/elsewhere"}
        for name, extra in (("drill-test-decoy", {}), ("drill-test-foreign", foreign)):
            container = engine.containers.create(image, name=name, labels=extra,
                                                 entrypoint=["sleep", "300"])
            container.start()
            made.append(container)

        drill.run("clean", "--all")

        for container in made:
            container.reload()
            assert container.status == "running", container.name
    finally:
        for container in made:
            container.remove(force=True)
