"""A drive fault touches a loop device only once it is shown to be that drive of the run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import cast

import docker
import pytest

from chaos.engine import loops
from chaos.errors import InputError
from chaos.faults.base import FaultContext
from chaos.faults.drive import run_drive
from chaos.faults.registry import make_fault

ATTACHED = {
    "loop0": "/chaos-drives/r1/server-a/disk1/nbd",
    "loop1": "/chaos-drives/r1/server-a/disk2/nbd",
    "loop2": "/chaos-drives/r2/server-a/disk3/nbd",  # another run's drive
    "loop3": "/var/lib/someone-else.img",  # no drive at all
}
#: What server-a of run r1 recorded: disk1 right; disk2 names its own disk1's device,
#: disk3 another run's, disk4 someone else's, disk5 a device that is not attached.
RECORDED = {"disk1": "/dev/loop0", "disk2": "/dev/loop0", "disk3": "/dev/loop2",
            "disk4": "/dev/loop3", "disk5": "/dev/loop7"}


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, backing in ATTACHED.items():
        (tmp_path / "sys" / name / "loop").mkdir(parents=True)
        (tmp_path / "sys" / name / "loop" / "backing_file").write_text(backing + "\n")
    monkeypatch.setattr(loops, "SYS_BLOCK", tmp_path / "sys")
    run_dir = tmp_path / "runs" / "r1"
    record = run_dir / "server-a" / "drives"
    record.mkdir(parents=True)
    drives = []
    for name, loop in RECORDED.items():
        controls = f"/run/drill/drives/{name}"
        (record / name).mkdir()  # as a server makes it at boot: no trigger in it yet
        drives.append({"name": name, "loop": loop, "in_array": True, "controls": {
            "fail_read": f"{controls}/fail-read", "fail_write": f"{controls}/fail-write",
            "rate": f"{controls}/rate", "pause_socket": f"{controls}/pause.sock"}})
    (record / "drives.json").write_text(json.dumps({"drives": drives}))
    return run_dir


def context(run_dir: Path, run_id: str = "r1") -> FaultContext:
    # No Docker: a refused drive is refused before anything reaches a container.
    return FaultContext(cast(docker.DockerClient, None), run_id, run_dir)


def test_the_runs_own_drive_is_resolved(run_dir: Path) -> None:
    assert run_drive(context(run_dir), "server-a/disk1").loop == "/dev/loop0"


@pytest.mark.parametrize("drive", ["disk2", "disk3", "disk4", "disk5"])
def test_a_device_that_is_not_that_drive_of_the_run_is_refused(run_dir: Path, drive: str) -> None:
    with pytest.raises(InputError, match=f"server-a/{drive}: its record names "
                                         f"{RECORDED[drive]}.*refusing to touch it"):
        run_drive(context(run_dir), f"server-a/{drive}")


def test_another_runs_context_refuses_the_record(run_dir: Path) -> None:
    with pytest.raises(InputError, match="not attached to that drive of run r2"):
        run_drive(context(run_dir, "r2"), "server-a/disk1")


@pytest.mark.parametrize("fault", ["write-error", "read-error", "dead", "slow", "hang", "bitrot"])
def test_every_drive_fault_refuses_before_touching_anything(run_dir: Path, fault: str) -> None:
    with pytest.raises(InputError, match="refusing to touch it"):
        make_fault(fault).inject(context(run_dir), "server-a/disk4")
    controls = run_dir / "server-a" / "drives" / "disk4"
    assert controls.is_dir() and not any(controls.iterdir()), sorted(controls.iterdir())
