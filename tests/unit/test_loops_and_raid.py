"""Recognising a run's loop devices by backing file; reading a server's RAID report."""

from __future__ import annotations

import json
from unittest import mock

from chaos.engine import loops
from chaos.stack.raid import RaidStatus
from chaos.stack.status import ServiceStatus, StackStatus, format_status

LOSETUP = {"loopdevices": [
    {"name": "/dev/loop0", "back-file": "/chaos-drives/r1/server-a/disk1/nbd"},
    {"name": "/dev/loop1", "back-file": "/chaos-drives/r1/server-a/disk2/nbd (deleted)"},
    {"name": "/dev/loop2", "back-file": "/chaos-drives/r2/backup/disk1/nbd"},
    {"name": "/dev/loop3", "back-file": "/var/lib/someone-else.img"},
    {"name": "/dev/loop4", "back-file": None},
]}


def fake_losetup(*args: object, **kwargs: object) -> mock.Mock:
    return mock.Mock(returncode=0, stdout=json.dumps(LOSETUP), stderr="")


def test_loop_devices_are_found_by_run_and_nothing_else() -> None:
    with mock.patch.object(loops, "run", fake_losetup), \
            mock.patch.object(loops.shutil, "which", return_value="/sbin/losetup"):
        every = loops.run_loop_devices()
        mine = loops.run_loop_devices("r1")
    assert [d.device for d in every] == ["/dev/loop0", "/dev/loop1", "/dev/loop2"]
    assert [(d.device, d.service, d.drive) for d in mine] == [
        ("/dev/loop0", "server-a", "disk1"), ("/dev/loop1", "server-a", "disk2")]


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
