"""The migration's pure logic: btrfs's numbers read right, targets checked before anything moves."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chaos.errors import InputError
from chaos.stack.migration import (
    Method,
    choose_targets,
    parse_block_stat,
    parse_cutover,
    parse_device_usage,
    parse_df,
    used_on,
)

ROOT = Path(__file__).resolve().parents[2]

# Seen on server-a (btrfs-progs 6.2), ~210 MiB of uploads on a 2-drive RAID1.
USAGE = """\
/dev/loop0, ID: 1
   Device size:          2147483648
   Device slack:                  0
   Data,RAID1:           1087111168
   Metadata,RAID1:        268435456
   System,RAID1:            8388608
   Unallocated:           783548416

/dev/loop1, ID: 2
   Device size:          2147483648
   Device slack:                  0
   Data,RAID1:           1087111168
   Metadata,RAID1:        268435456
   System,RAID1:            8388608
   Unallocated:           783548416

"""
DF = """\
Data, RAID1: total=1087111168, used=220594304
System, RAID1: total=8388608, used=16384
Metadata, RAID1: total=268435456, used=1245184
GlobalReserve, single: total=5767168, used=0
"""
STAT = ("    1464     3088   490384     3950    98267    78607  6798096   405255        0    57760"
        "   433958       22        0 18884288       38    26866    24713")


def test_device_usage_is_read_per_device_and_kind() -> None:
    devices = parse_device_usage(USAGE)
    assert [(d.path, d.devid, d.size) for d in devices] == [("/dev/loop0", 1, 2147483648),
                                                            ("/dev/loop1", 2, 2147483648)]
    assert devices[0].allocated == {"Data,RAID1": 1087111168, "Metadata,RAID1": 268435456,
                                    "System,RAID1": 8388608}
    assert devices[0].allocated_total == 1363935232  # what `filesystem show` calls "used"


def test_df_leaves_out_the_global_reserve() -> None:
    assert parse_df(DF) == {"Data,RAID1": (1087111168, 220594304), "System,RAID1": (8388608, 16384),
                            "Metadata,RAID1": (268435456, 1245184)}


def test_bytes_in_use_on_a_raid1_member_are_one_full_copy() -> None:
    devices, df = parse_device_usage(USAGE), parse_df(DF)
    # Each member of a 2-device RAID1 holds a copy of everything in use.
    assert used_on(devices[0], df) == 220594304 + 16384 + 1245184
    assert sum(used_on(d, df) for d in devices) == 2 * (220594304 + 16384 + 1245184)


def test_bytes_in_use_follow_each_kinds_fill_ratio() -> None:
    # A third device holding half of the data block groups holds half of their use.
    device = parse_device_usage("/dev/loop2, ID: 3\n   Data,RAID1:   500\n   Unallocated:  10\n")[0]
    assert used_on(device, {"Data,RAID1": (1000, 400)}) == 200
    assert used_on(device, {}) == 0  # a kind df does not know counts nothing, never divides by 0


def test_block_stat_gives_bytes_written() -> None:
    assert parse_block_stat(STAT) == 6798096 * 512
    assert parse_block_stat("") is None and parse_block_stat("1 2 3") is None


MEMBERS, SPARES, DRIVES = ["disk1", "disk2"], ["disk4", "disk3"], ["disk1", "disk2", "disk3", "disk4"]


def test_default_targets_are_the_spares_one_per_member_in_drive_order() -> None:
    assert choose_targets(MEMBERS, SPARES, DRIVES, None, Method.REPLACE) == ["disk3", "disk4"]
    assert choose_targets(MEMBERS, ["disk10", "disk9", "disk3"], DRIVES, None,
                          Method.REPLACE) == ["disk3", "disk9"]


def test_too_few_spares_names_them_and_how_to_get_more() -> None:
    with pytest.raises(InputError, match=r"too few spares.*spares: disk3") as caught:
        choose_targets(MEMBERS, ["disk3"], DRIVES, None, Method.REPLACE)
    assert caught.value.hint and "--drives 4" in caught.value.hint


@pytest.mark.parametrize(("requested", "message"), [
    (["disk9", "disk3"], r"no drive disk9 .*drives: disk1, disk2, disk3, disk4; spares: disk3, disk4"),
    (["disk3", "disk3"], r"disk3 given more than once"),
    (["disk1", "disk3"], r"disk1 is already a member.*spares: disk3, disk4"),
    (["disk3"], r"give 2 drive\(s\) for disk1, disk2"),
])
def test_bad_targets_are_refused_naming_the_valid_choices(requested: list[str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        choose_targets(MEMBERS, SPARES, DRIVES, requested, Method.REPLACE)


def test_add_remove_may_move_onto_more_drives_but_not_fewer() -> None:
    drives = [*DRIVES, "disk5"]
    spares = ["disk3", "disk4", "disk5"]
    assert choose_targets(MEMBERS, spares, drives, ["disk3", "disk4", "disk5"],
                          Method.ADD_REMOVE) == ["disk3", "disk4", "disk5"]
    with pytest.raises(InputError, match="at least 2"):
        choose_targets(MEMBERS, spares, drives, ["disk5"], Method.ADD_REMOVE)


def test_a_drive_neither_member_nor_spare_is_refused() -> None:
    # disk4 exists but is not free (e.g. still being rebuilt onto).
    with pytest.raises(InputError, match="disk4 is not a spare"):
        choose_targets(MEMBERS, ["disk3"], DRIVES, ["disk3", "disk4"], Method.REPLACE)


def test_cutover_output_is_read_for_its_window_and_devices() -> None:
    output = ("@asked 100.000\n@frozen 0 100.037\n"
              "Label: 'server-a'  uuid: 26f8\n\tTotal devices 2 FS bytes used 1\n"
              "\tdevid    1 size 2147483648 used 1397489664 path /dev/loop2\n"
              "\tdevid    2 size 2147483648 used 1397489664 path /dev/loop3\n\n"
              "@show 0\n@stats 0\n@thawed 0 100.045\n")
    report = parse_cutover(output)
    assert report.frozen and report.thawed and report.stats_clean
    assert report.devices == ["/dev/loop2", "/dev/loop3"]
    assert report.thawed_at is not None and report.asked_at is not None
    assert report.thawed_at - report.asked_at == pytest.approx(0.045)


def test_a_cutover_that_never_froze_or_thawed_says_so() -> None:
    report = parse_cutover("@asked 100.0\n@frozen 1 100.1\n")
    assert not report.frozen and not report.thawed and report.thawed_at is None
    assert not parse_cutover("").thawed


def test_drill_migrate_rejects_an_unknown_method_without_docker(tmp_path: Path) -> None:
    env = {**os.environ, "DRILL_STATE_DIR": str(tmp_path / "state"), "DOCKER_HOST": "unix:///nonexistent"}
    result = subprocess.run([sys.executable, "-m", "chaos", "migrate", "--method", "move"], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "'replace', 'add-remove'" in result.stderr
    nothing_up = subprocess.run([sys.executable, "-m", "chaos", "migrate"], cwd=ROOT, env=env,
                                capture_output=True, text=True, timeout=60)
    assert nothing_up.returncode == 3 and "no stack is up" in nothing_up.stderr
