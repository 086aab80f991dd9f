"""Recognising a run's loop devices by backing file; reading a server's RAID report."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.engine import loops
from chaos.stack.raid import RaidStatus
from chaos.stack.status import ServiceStatus, StackStatus, format_status

ATTACHED = {
    "loop0": "/chaos-drives/r1/server-a/disk1/nbd",
    "loop1": "/chaos-drives/r1/server-a/disk2/nbd",
    "loop2": "/chaos-drives/r2/backup/disk1/nbd",
    "loop3": "/var/lib/someone-else.img",
    "loop4": "/nbd",  # r1's server-a/disk3, its server killed: only the record knows
    "loop5": "/nbd",  # someone else's FUSE-backed device: never ours
}


@pytest.fixture
def sys_block(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, backing in ATTACHED.items():
        (tmp_path / "sys" / name / "loop").mkdir(parents=True)
        (tmp_path / "sys" / name / "loop" / "backing_file").write_text(backing + "\n")
    (tmp_path / "sys" / "loop9").mkdir()  # not attached: no loop/ folder
    monkeypatch.setattr(loops, "SYS_BLOCK", tmp_path / "sys")
    run_dir = tmp_path / "runs" / "r1"
    (run_dir / "server-a").mkdir(parents=True)
    (run_dir / "server-a" / "loops").write_text(
        "fuse disk1 0:50\nattaching disk1\ndisk1 /dev/loop0\n"
        "fuse disk3 0:52\nattaching disk3\ndisk3 /dev/loop4\n")
    return run_dir


def test_loop_devices_are_found_by_path_and_by_record_only(sys_block: Path) -> None:
    every = loops.run_loop_devices()
    assert [d.device for d in every] == ["/dev/loop0", "/dev/loop1", "/dev/loop2"]
    mine = loops.run_loop_devices("r1", sys_block)
    assert [(d.device, d.service, d.drive, d.fuse_dev) for d in mine] == [
        ("/dev/loop0", "server-a", "disk1", (0, 50)),
        ("/dev/loop1", "server-a", "disk2", None),
        ("/dev/loop4", "server-a", "disk3", (0, 52)),
    ]
    assert loops.run_loop_devices("r2", sys_block / "nonexistent")[0].device == "/dev/loop2"


REPORT = {
    "mount": "/srv", "mounted": True, "fstype": "btrfs", "options": ["rw", "relatime"],
    "read_only": False, "data_profile": "RAID1", "metadata_profile": "RAID1",
    "devices": [
        {"devid": 1, "path": "/dev/loop0", "drive": "disk1", "missing": False,
         "errors": {"write_io_errs": 0, "read_io_errs": 0}},
        {"devid": 2, "path": "/dev/loop1", "drive": "disk2", "missing": False,
         "errors": {"write_io_errs": 3}},
    ],
    "spares": [{"drive": "disk3", "path": "/dev/loop2"}],
    "degraded": False, "healthy": True,
}


def test_raid_report_is_parsed_and_summarised() -> None:
    raid = RaidStatus.from_json(REPORT)
    assert [d.drive for d in raid.devices] == ["disk1", "disk2"]
    assert raid.devices[1].errors["write_io_errs"] == 3 and raid.devices[1].error_total == 3
    assert raid.spares == ["disk3"]
    assert raid.summary() == "RAID1/RAID1 on 2 device(s), 1 spare(s), healthy, rw, 3 I/O error(s)"


def test_status_table_shows_services_and_devices() -> None:
    raid = RaidStatus.from_json({**REPORT, "read_only": True, "healthy": False, "degraded": True})
    status = StackStatus("r1", "up", "http://127.0.0.1:1234", [
        ServiceStatus("edge", "edge", "edge", "running", "healthy", None),
        ServiceStatus("server-a", "dc-a", "server", "running", "unhealthy", raid),
    ])
    text = format_status(status)
    assert "run r1 (up); edge: http://127.0.0.1:1234" in text
    assert "DEGRADED, READ-ONLY" in text
    assert "devid 2 disk2 /dev/loop1: write_io_errs=3" in text


def test_lost_means_no_member_can_be_read() -> None:
    def with_errors(first: dict[str, int], second: dict[str, int]) -> RaidStatus:
        devices = [{**REPORT["devices"][0], "errors": first}, {**REPORT["devices"][1], "errors": second}]
        return RaidStatus.from_json({**REPORT, "devices": devices})

    assert not with_errors({"write_io_errs": 9}, {"write_io_errs": 4}).lost  # still readable
    assert not with_errors({"read_io_errs": 9}, {}).lost  # the mirror is good
    assert with_errors({"read_io_errs": 9}, {"corruption_errs": 1}).lost
    assert RaidStatus.from_json({**REPORT, "devices": [{**REPORT["devices"][0], "missing": True}]}).lost
