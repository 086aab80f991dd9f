"""A user's own app drilled with its own traffic (examples/notes), not the bundled stack.

The notes app is built from its own Dockerfile on the base image; its locustfile has two
User classes (readers; writers that record each acknowledged note with
`ledger.acknowledge`); its health path is /health. A baseline has no failed request and
loses nothing; a power-off of its web service is measured against the true outage (Docker's
record of the kill to the first answer the app gave after the power-on, from its log); the
notes its write-back cache acknowledged and lost with the power are reported as exactly that set.
"""

from __future__ import annotations

import csv
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest

from chaos.engine import labels
from tests.conftest import Drill
from tests.integration.leftovers import leftovers

pytestmark = [pytest.mark.integration]

ROOT = Path(__file__).resolve().parents[2]
NOTES = ROOT / "examples" / "notes"
ANSWERING = re.compile(r"answering since ([0-9.]+)")


def result_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "result.json").read_text())  # type: ignore[no-any-return]


def acknowledged(folder: Path) -> dict[str, float]:
    """Every note the ledger holds: id -> when the app acknowledged it."""
    notes = {}
    for path in (folder / "load").glob("ledger-*.csv"):
        with path.open() as f:
            notes.update({row["id"]: float(row["acknowledged_at"]) for row in csv.DictReader(f)})
    return notes


class Deaths:
    """Docker's own record of when containers of the web service died (its `die` events)."""

    def __init__(self, engine: docker.DockerClient) -> None:
        self.seen: list[tuple[str, float]] = []  # (container name, time)
        self._events = engine.events(decode=True, since=int(time.time()) - 1,
                                     filters={"event": "die", "label": f"{labels.SERVICE}=web"})
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            for event in self._events:
                self.seen.append((event["Actor"]["Attributes"]["name"], event["timeNano"] / 1e9))
        except Exception:  # noqa: BLE001 — the stream ends when closed
            pass

    def of(self, run_id: str) -> list[float]:
        return [at for name, at in self.seen if name == f"drill-{run_id}-web"]

    def close(self) -> None:
        self._events.close()


@pytest.fixture
def deaths(engine: docker.DockerClient) -> Iterator[Deaths]:
    watching = Deaths(engine)
    yield watching
    watching.close()


def test_a_baseline_of_the_apps_own_traffic_has_no_failure_and_loses_nothing(
        engine: docker.DockerClient, drill: Drill, tmp_path: Path,
        figure: Callable[[str], None]) -> None:
    ran = drill.run("run", str(NOTES / "drills" / "baseline.yaml"), "--out", str(tmp_path))
    result = result_of(tmp_path)
    measured = result["measurements"]
    figure(f"notes baseline: {measured['requests']} requests, {measured['failed']} failed, "
           f"{measured['loss']['acknowledged']} notes acknowledged")
    assert result["outcome"] == "passed", ran.stdout[-2000:]
    assert measured["failed"] == 0
    # Their classes ran, not the hosting mix: every request is theirs or the probe's.
    timeline = (tmp_path / "load").glob("timeline-*.csv")
    seen = {row["name"] for path in timeline for row in csv.DictReader(path.open())}
    assert seen == {"GET /", "GET /health", "PUT /notes/[id]", "probe GET /health"}
    loss = measured["loss"]
    assert loss["acknowledged"] > 20 and loss["intact"] == loss["acknowledged"]
    assert result["parameters"]["traffic"]["classes"] == ["Reader", "Writer"]
    # Locust's own outputs, linked from the result.
    assert (tmp_path / result["artifacts"]["locust_report"]).stat().st_size > 1000
    assert any(p.endswith("locust_stats.csv") for p in result["artifacts"]["locust_csv"])
    left = leftovers(engine, result["run_id"], drill.state_root / "runs" / result["run_id"])
    assert left.empty(), left


def test_a_power_off_of_its_web_service_is_measured_and_the_lost_notes_named(
        engine: docker.DockerClient, drill: Drill, tmp_path: Path, deaths: Deaths,
        figure: Callable[[str], None]) -> None:
    # --keep: the stack stays up, so the notes on its disk can be listed afterwards.
    drill.run("run", str(NOTES / "drills" / "power-off.yaml"), "--out", str(tmp_path), "--keep",
              check=False)
    result = result_of(tmp_path)
    run_id = result["run_id"]
    try:
        web = engine.containers.get(f"drill-{run_id}-web")
        listed = web.exec_run(["ls", "/data/notes"])
        assert listed.exit_code == 0, listed.output
        durable = set(listed.output.decode().split())
    finally:
        drill.run("down", "--run", run_id)
    [step] = result["steps"]
    assert step["state"] == "done", step
    # The truth: Docker saw the app die; the app says when it answered again after the
    # power-on (not when it listened: on this machine requests reached it ~0.8 s later).
    # (The first death is the power-off's; `drill down` makes the next.)
    died = deaths.of(run_id)[0]
    log = (tmp_path / result["artifacts"]["logs"]["web"]).read_text()
    starts = [float(t) for t in ANSWERING.findall(log)]
    assert len(starts) == 2, log[-2000:]
    back = starts[1]
    truth = back - died
    [fault] = result["measurements"]["faults"]
    impact = fault["impact"]
    figure(f"notes power-off: true outage {truth:.3f} s, measured downtime "
           f"{impact['downtime']:.3f} s ({(impact['downtime'] - truth) * 1000:+.0f} ms), "
           f"{impact['failed_requests']} failed requests")
    assert impact["recovered"], impact
    assert abs(impact["downtime"] - truth) <= 0.1
    # The lost notes: acknowledged before the power went, not on the disk after it.
    notes = acknowledged(tmp_path)
    expected = {note for note, at in notes.items() if at < died and note not in durable}
    loss = result["measurements"]["loss"]
    figure(f"notes power-off: {len(notes)} notes acknowledged, {len(expected)} lost with the "
           f"write-back cache, loss window {loss['loss_window']}")
    assert expected  # the cache holds every note for 2 s: some are always in it
    assert set(loss["missing_ids"]) == expected
    assert loss["corrupt_ids"] == [] and loss["unreadable_ids"] == []
    # They were acknowledged within the cache's 2 s (and its 0.5 s tick) before the power-off.
    first, last = loss["loss_window"]
    assert -3.0 < first < -1.5 and first <= last < 0.05
    left = leftovers(engine, run_id, drill.state_root / "runs" / run_id)
    assert left.empty(), left
