"""Calibration against ground truth: a frozen edge of known length, uploads lost on purpose."""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from pathlib import Path

import docker
import pytest

from chaos.engine import objects
from chaos.engine.runstate import RunState
from chaos.load.prober import BUNDLED_PATH, ProbeSpec
from chaos.load.runner import LoadPlan
from chaos.load.session import LoadSession
from chaos.load.settings import LoadSettings
from chaos.load.verify import read_back
from chaos.measure.recovery import RecoverySettings
from chaos.measure.summary import FaultMark, measure
from tests.conftest import Drill

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Short hold so a few seconds after the outage confirm the recovery.
SETTINGS = RecoverySettings(window=1.0, threshold=0.99, hold=3.0)

#: The bundled app's health path, as its drills probe it.
HEALTHZ = ProbeSpec(path=BUNDLED_PATH)


def plan(stack: RunState, out: Path, duration: float, users: int = 20) -> LoadPlan:
    assert stack.edge_url
    return LoadPlan(stack.edge_url, LoadSettings(out), users=users, spawn_rate=users,
                    duration=duration)


@pytest.mark.destructive
@pytest.mark.parametrize("outage", [2.0, 5.0])
def test_downtime_of_a_frozen_edge_is_measured_to_100_ms(stack: RunState,
                                                         engine: docker.DockerClient, tmp_path: Path,
                                                         outage: float,
                                                         figure: Callable[[str], None]) -> None:
    edge = objects.service_container(engine, stack.run_id, "edge")
    with LoadSession(plan(stack, tmp_path, duration=outage + 12), probe=HEALTHZ, prober_rate=20) as session:
        time.sleep(5)
        before_pause = time.time()
        objects.pause(edge)
        paused = time.time()
        time.sleep(outage - (paused - before_pause))
        before_unpause = time.time()
        objects.unpause(edge)
        unpaused = time.time()
        session.wait()
    records = session.records()
    # Ground truth: the freeze and the thaw each took effect during their API call.
    frozen_at = (before_pause + paused) / 2
    thawed_at = (before_unpause + unpaused) / 2
    truth = thawed_at - frozen_at
    result = measure(records.requests, records.acks, records.started_at, records.ended_at,
                     [FaultMark("edge paused", frozen_at, thawed_at)], settings=SETTINGS)
    impact = result.faults[0].impact
    figure(f"frozen edge: true outage {truth:.3f} s (calls took {paused - before_pause:.3f} s and "
           f"{unpaused - before_unpause:.3f} s); measured downtime {impact.downtime:.3f} s "
           f"(error {impact.downtime - truth:+.3f} s), recovered after {impact.time_to_recover} s, "
           f"{len(records.requests)} requests")
    assert impact.recovered
    assert impact.downtime == pytest.approx(truth, abs=0.1)
    assert impact.time_to_recover == pytest.approx(truth, abs=0.1)


@pytest.mark.destructive
def test_uploads_deleted_or_corrupted_on_the_server_are_reported_exactly(
        stack: RunState, engine: docker.DockerClient, tmp_path: Path) -> None:
    with LoadSession(plan(stack, tmp_path, duration=8), probe=HEALTHZ, prober_rate=5) as session:
        session.wait()
    records = session.records()
    assert len(records.acks) >= 30, f"only {len(records.acks)} uploads acknowledged"
    chosen = random.Random(7).sample(records.acks, 12)
    deleted, corrupted = {a.id for a in chosen[:7]}, {a.id for a in chosen[7:]}
    server = objects.service_container(engine, stack.run_id, "server-a")
    for upload_id in deleted:
        assert objects.exec_in(server, ["rm", f"/srv/uploads/{upload_id}"]).exit_code == 0
    for upload_id in corrupted:
        # The same size, other bytes: only the sha256 tells.
        command = ["sh", "-c", f"f=/srv/uploads/{upload_id}; "
                   "head -c $(stat -c %s $f) /dev/urandom > $f.bad && mv $f.bad $f"]
        assert objects.exec_in(server, command).exit_code == 0

    reads = read_back(stack.edge_url or "", records.acks)
    loss = measure(records.requests, records.acks, records.started_at, records.ended_at,
                   reads=reads).loss
    assert loss is not None
    assert set(loss.missing_ids) == deleted
    assert set(loss.corrupt_ids) == corrupted
    assert loss.intact == len(records.acks) - 12 and not loss.unreadable_ids
    assert loss.lost_between is not None


@pytest.mark.parametrize("workers", ["0", "2"])
def test_drill_load_prints_and_writes_its_measurements(stack: RunState, drill: Drill,
                                                      tmp_path: Path, workers: str) -> None:
    result = drill.run("load", "--run", stack.run_id, "--duration", "5s", "--users", "6",
                       "--workers", workers, "--out", str(tmp_path))
    assert "writes acknowledged" in result.stdout and "intact" in result.stdout
    # Locust's own report and CSV stats beside the records.
    assert (tmp_path / "locust.html").stat().st_size > 1000
    assert (tmp_path / "locust_stats.csv").exists()
    data = json.loads((tmp_path / "measurements.json").read_text())
    assert data["schema_version"] == 1 and data["requests"] > 0
    assert data["loss"]["intact"] == data["acknowledged_uploads"] > 0
    assert data["loss"]["lost"] == 0
    assert (tmp_path / "timeline-probe.csv").exists()
    # One timeline per process that made requests: Locust's workers each wrote their own.
    assert len(list(tmp_path.glob("timeline-load-*.csv"))) == max(1, int(workers))
