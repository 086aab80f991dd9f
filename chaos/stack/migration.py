"""Live array migration: a server's /srv moved onto new drives while it keeps serving.

The 24-hour migration of the stories, in miniature: btrfs moves the data
online, either member by member (`btrfs replace`) or by adding the new drives
and removing the old ones (`btrfs device add` / `remove`: btrfs relocates every
block group first).  An optional cut-over freezes the filesystem for a moment
(`fsfreeze`: every write to /srv, the app's and PostgreSQL's, waits; reads go
on), confirms the array lives on the new drives alone with no error counted,
and thaws it; that window is measured inside the machine.

Data moved is btrfs's own figure: the bytes in use on the old drives before the
migration (each block group's share of its used bytes).  The kernel's count of
bytes written to the new drives (`/sys/block/loopN/stat`) is reported beside
it; it also holds the customers' writes made during the migration.
"""

from __future__ import annotations

import contextlib
import enum
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import PurePosixPath
from typing import Any

from chaos.errors import HarnessError, InputError, StackError
from chaos.stack import raid_ops
from chaos.stack.drives import Drive
from chaos.stack.machine import Machine
from chaos.stack.raid import RaidStatus

MOUNTPOINT = "/srv"
SECTOR = 512


class Method(enum.StrEnum):
    """How the data moves."""

    #: `btrfs replace`, one member after the other: each copy is rebuilt onto its new drive.
    REPLACE = "replace"
    #: `btrfs device add` of every new drive, then `btrfs device remove` of every old one.
    ADD_REMOVE = "add-remove"


class EventKind(enum.StrEnum):
    STARTED = "started"
    PROGRESS = "progress"
    FINISHED = "finished"


@dataclass(frozen=True)
class MigrationEvent:
    """What a migration reports while it runs.

    `step` names the step (`replace disk1 -> disk3`); `percent` is set on
    PROGRESS; `seconds` (the step's length) on FINISHED.
    """

    kind: EventKind
    step: str
    percent: float | None = None
    seconds: float | None = None


@dataclass(frozen=True)
class StepTiming:
    """One step of a migration, as it happened."""

    name: str
    #: Wall-clock start (epoch seconds).
    started_at: float
    seconds: float
    #: Bytes the kernel wrote to the new drives during the step (None: not readable).
    written_bytes: int | None
    detail: str = ""


@dataclass(frozen=True)
class Cutover:
    """The final window in which every write to /srv waited (fsfreeze), measured in the machine."""

    #: From asking for the freeze to the filesystem being thawed.
    seconds: float
    #: Part of it spent flushing what was still dirty (the freeze itself).
    flush_seconds: float
    #: `btrfs filesystem show` and `device stats -c` while frozen.
    evidence: str


@dataclass(frozen=True)
class MigrationResult:
    """How a migration went: what moved where, how long each step took, the array after."""

    server: str
    method: Method
    old_drives: list[str]
    new_drives: list[str]
    started_at: float
    ended_at: float
    #: Bytes in use on the old drives before: what btrfs had to copy.
    bytes_moved: int
    #: Bytes allocated (block groups) on the old drives before.
    bytes_allocated: int
    #: Bytes the kernel wrote to the new drives during the whole migration (None: not readable).
    bytes_written: int | None
    steps: list[StepTiming]
    cutover: Cutover | None
    raid_after: RaidStatus = field(repr=False)

    @property
    def seconds(self) -> float:
        return self.ended_at - self.started_at

    @property
    def cutover_seconds(self) -> float | None:
        return self.cutover.seconds if self.cutover else None

    def to_json(self) -> dict[str, Any]:
        return {"server": self.server, "method": str(self.method), "old_drives": self.old_drives,
                "new_drives": self.new_drives, "started_at": self.started_at,
                "ended_at": self.ended_at, "seconds": self.seconds, "bytes_moved": self.bytes_moved,
                "bytes_allocated": self.bytes_allocated, "bytes_written": self.bytes_written,
                "steps": [asdict(s) for s in self.steps],
                "cutover": asdict(self.cutover) if self.cutover else None,
                "cutover_seconds": self.cutover_seconds,
                "raid_after": {**asdict(self.raid_after), "members": members_of(self.raid_after),
                               "summary": self.raid_after.summary()}}


# --- pure logic: btrfs's numbers, target selection ------------------------------------------

@dataclass(frozen=True)
class DeviceUsage:
    """One device of `btrfs device usage -b`: bytes allocated per block-group kind."""

    path: str
    devid: int
    size: int
    #: `Data,RAID1` -> bytes allocated on this device.
    allocated: dict[str, int]

    @property
    def allocated_total(self) -> int:
        return sum(self.allocated.values())


def parse_device_usage(text: str) -> list[DeviceUsage]:
    """Parse `btrfs device usage -b MNT` (btrfs-progs 6.x)."""
    heads: list[tuple[str, int]] = []
    sizes: list[int] = []
    allocations: list[dict[str, int]] = []
    for line in text.splitlines():
        head = re.match(r"^(\S.*?), ID:\s*(\d+)\s*$", line)
        if head:
            heads.append((head[1], int(head[2])))
            sizes.append(0)
            allocations.append({})
            continue
        item = re.match(r"^\s+([^:]+):\s+(\d+)\s*$", line)
        if not item or not heads:
            continue
        key = item[1].replace(" ", "")
        if key == "Devicesize":
            sizes[-1] = int(item[2])
        elif key not in ("Deviceslack", "Unallocated"):
            allocations[-1][key] = int(item[2])
    return [DeviceUsage(path, devid, size, allocated)
            for (path, devid), size, allocated in zip(heads, sizes, allocations, strict=True)]


def parse_df(text: str) -> dict[str, tuple[int, int]]:
    """Parse `btrfs filesystem df -b MNT`: `Data,RAID1` -> (total, used), logical bytes."""
    found = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+),\s*(\S+):\s*total=(\d+),\s*used=(\d+)", line.strip())
        if m and m[1] != "GlobalReserve":
            found[f"{m[1]},{m[2]}"] = (int(m[3]), int(m[4]))
    return found


def used_on(device: DeviceUsage, df: dict[str, tuple[int, int]]) -> int:
    """Bytes in use on one device: each kind's allocation there, times that kind's fill ratio.

    btrfs counts use per block-group kind, not per device; every copy of a
    block group is filled alike, so the ratio holds on each device.
    """
    used = 0.0
    for kind, allocated in device.allocated.items():
        total, in_use = df.get(kind, (0, 0))
        if total > 0:
            used += allocated * min(in_use / total, 1.0)
    return round(used)


def parse_block_stat(text: str) -> int | None:
    """Bytes written, from a `/sys/block/DEV/stat` line (field 7: sectors written)."""
    fields = text.split()
    if len(fields) < 7 or not fields[6].isdigit():
        return None
    return int(fields[6]) * SECTOR


def _natural(name: str) -> tuple[str, int]:
    m = re.match(r"^(.*?)(\d+)$", name)
    return (m[1], int(m[2])) if m else (name, 0)


def choose_targets(members: Sequence[str], spares: Sequence[str], drives: Sequence[str],
                   requested: Sequence[str] | None, method: Method) -> list[str]:
    """The drives to move onto, checked; InputError naming the valid choices otherwise.

    Default: the spares, as many as there are members, in drive order.  A
    replace needs one new drive per member; add-remove at least as many.
    """
    free = sorted(spares, key=_natural)
    if requested is None:
        if len(free) < len(members):
            raise InputError(
                f"too few spares to move {len(members)} member(s) ({', '.join(members)}): "
                f"spares: {', '.join(free) or 'none'}",
                hint="bring the stack up with more drives, e.g. `drill up --drives 4`")
        return free[:len(members)]
    chosen = list(requested)
    unknown = [d for d in chosen if d not in drives]
    if unknown:
        raise InputError(f"no drive {', '.join(unknown)} on this server "
                         f"(drives: {', '.join(sorted(drives, key=_natural))}; "
                         f"spares: {', '.join(free) or 'none'})")
    duplicated = sorted({d for d in chosen if chosen.count(d) > 1})
    if duplicated:
        raise InputError(f"drive {', '.join(duplicated)} given more than once")
    taken = [d for d in chosen if d in members]
    if taken:
        raise InputError(f"{', '.join(taken)} {'is' if len(taken) == 1 else 'are'} already "
                         f"a member of the array: move onto spares "
                         f"(spares: {', '.join(free) or 'none'})")
    busy = [d for d in chosen if d not in free]
    if busy:
        raise InputError(f"{', '.join(busy)} {'is' if len(busy) == 1 else 'are'} not a spare "
                         f"(spares: {', '.join(free) or 'none'})")
    if method is Method.REPLACE and len(chosen) != len(members):
        raise InputError(f"a replace moves each member onto one new drive: give {len(members)} "
                         f"drive(s) for {', '.join(members)} (spares: {', '.join(free) or 'none'})")
    if method is Method.ADD_REMOVE and len(chosen) < len(members):
        raise InputError(f"add-remove needs at least {len(members)} new drive(s) for a "
                         f"{len(members)}-member array (spares: {', '.join(free) or 'none'})")
    return chosen


def members_of(raid: RaidStatus) -> list[str]:
    return sorted((d.drive for d in raid.devices), key=_natural)


@dataclass(frozen=True)
class CutoverReport:
    """What the cut-over script printed, parsed."""

    frozen: bool
    thawed: bool
    asked_at: float | None
    frozen_at: float | None
    thawed_at: float | None
    devices: list[str]
    stats_clean: bool


def parse_cutover(output: str) -> CutoverReport:
    """Parse the `@word value...` lines of the cut-over script (see `_CUTOVER`)."""
    marks: dict[str, list[str]] = {}
    devices = []
    for line in output.splitlines():
        if line.startswith("@"):
            word, *values = line[1:].split()
            marks[word] = values
        m = re.match(r"^\s*devid\s+\d+\s+size\s+\d+\s+used\s+\d+\s+path\s+(\S+)", line)
        if m:
            devices.append(m[1])

    def number(word: str, index: int) -> float | None:
        try:
            return float(marks[word][index])
        except (KeyError, IndexError, ValueError):
            return None

    return CutoverReport(frozen=marks.get("frozen", ["1"])[0] == "0",
                         thawed=marks.get("thawed", ["1"])[0] == "0",
                         asked_at=number("asked", 0), frozen_at=number("frozen", 1),
                         thawed_at=number("thawed", 1), devices=devices,
                         stats_clean=marks.get("stats", ["1"])[0] == "0")


# --- the migration ----------------------------------------------------------------------------

#: Runs in the machine: sync while writes still flow, then freeze, look, thaw.
#: The trap thaws even when the exec's time-out kills the script.
_CUTOVER = r"""
mnt=$1
btrfs filesystem sync "$mnt" >/dev/null 2>&1
trap 'fsfreeze -u "$mnt" 2>/dev/null' INT TERM HUP
echo "@asked $(date +%s.%N)"
fsfreeze -f "$mnt"; rc=$?
echo "@frozen $rc $(date +%s.%N)"
if [ $rc -eq 0 ]; then
    timeout 5 btrfs filesystem show --raw "$mnt"; echo "@show $?"
    timeout 5 btrfs device stats -c "$mnt" >/dev/null 2>&1; echo "@stats $?"
    fsfreeze -u "$mnt"; echo "@thawed $? $(date +%s.%N)"
fi
"""


class _Run:
    """One migration in progress: the machine, the callback, the steps so far."""

    def __init__(self, machine: Machine, targets: list[Drive],
                 on_event: Callable[[MigrationEvent], None] | None, step_timeout: float) -> None:
        self.machine = machine
        self.targets = targets
        self.on_event = on_event or (lambda event: None)
        self.step_timeout = step_timeout
        self.steps: list[StepTiming] = []

    def written(self) -> int | None:
        """Bytes the kernel has written to the new drives so far (a counter: use differences)."""
        paths = [f"/sys/block/{PurePosixPath(d.loop).name}/stat" for d in self.targets]
        result = self.machine.run("cat", *paths, timeout=10)
        counts = [parse_block_stat(line) for line in result.output.splitlines() if line.strip()]
        if result.exit_code != 0 or len(counts) != len(paths) or None in counts:
            return None
        return sum(c for c in counts if c is not None)

    def usage(self) -> tuple[list[DeviceUsage], dict[str, tuple[int, int]]]:
        usage = self.machine.run("btrfs", "device", "usage", "-b", MOUNTPOINT, timeout=30)
        df = self.machine.run("btrfs", "filesystem", "df", "-b", MOUNTPOINT, timeout=30)
        if usage.exit_code != 0 or df.exit_code != 0:
            raise StackError(f"reading the array's usage on {self.machine.service} failed",
                             logs=(usage.output + df.output).strip())
        return parse_device_usage(usage.output), parse_df(df.output)

    def step(self, name: str, action: Callable[[], str]) -> None:
        """Run one step, timed, with its bytes written; events before and after."""
        self.on_event(MigrationEvent(EventKind.STARTED, name))
        before = self.written()
        wall, started = time.time(), time.monotonic()
        detail = action()
        seconds = time.monotonic() - started
        after = self.written()
        moved = after - before if before is not None and after is not None else None
        self.steps.append(StepTiming(name, wall, seconds, moved, detail))
        self.on_event(MigrationEvent(EventKind.FINISHED, name, 100.0, seconds))

    def blocking(self, name: str, action: Callable[[], str],
                 percent: Callable[[], float | None]) -> str:
        """Run a btrfs command that blocks until done in a thread; report `percent` meanwhile."""
        outcome: list[str] = []
        failure: list[BaseException] = []

        def work() -> None:
            try:
                outcome.append(action())
            except BaseException as e:  # handed to the caller's thread
                failure.append(e)

        worker = threading.Thread(target=work, name=f"migration: {name}", daemon=True)
        worker.start()
        while worker.is_alive():
            worker.join(1.0)
            if not worker.is_alive():
                break
            # A failed probe costs only a progress line: the step's own result decides.
            with contextlib.suppress(HarnessError):
                done = percent()
                if done is not None:
                    self.on_event(MigrationEvent(EventKind.PROGRESS, name, done))
        if failure:
            raise failure[0]
        return outcome[0]

    def replace(self, old: str, new: Drive, devid: int) -> str:
        """`btrfs replace start -B`: blocking, so the end is btrfs's own, never a status race."""
        name = f"replace {old} -> {new.name}"

        def start() -> str:
            result = self.machine.run("btrfs", "replace", "start", "-B", "-f", "-r", str(devid),
                                      new.loop, MOUNTPOINT, timeout=self.step_timeout)
            status = self.machine.run("btrfs", "replace", "status", "-1", MOUNTPOINT,
                                      timeout=30).output.strip()
            if result.exit_code != 0 or "finished" not in status.lower():
                raise StackError(f"{name} on {self.machine.service} failed (exit {result.exit_code}); "
                                 f"the array now: {self.machine.raid().summary()}",
                                 logs=f"{result.output.strip()}\n{status}".strip())
            return status

        def percent() -> float | None:
            status = self.machine.run("btrfs", "replace", "status", "-1", MOUNTPOINT, timeout=30)
            found = re.search(r"([\d.]+)% done", status.output)
            return float(found[1]) if found else None

        return self.blocking(name, start, percent)

    def remove(self, old: str, path: str) -> str:
        """`btrfs device remove`; its progress from what is still allocated on the device."""
        start = next((d.allocated_total for d in self.usage()[0] if d.path == path), 0)

        def remove() -> str:
            raid_ops.remove(self.machine, old, timeout=self.step_timeout)
            return f"{start} bytes allocated on {old} relocated"

        def percent() -> float | None:
            now = next((d.allocated_total for d in self.usage()[0] if d.path == path), 0)
            return 100.0 * max(0.0, 1 - now / start) if start > 0 else None

        return self.blocking(f"remove {old}", remove, percent)

    def cutover(self, new_loops: set[str]) -> Cutover:
        """Freeze /srv, check the array is on the new drives alone and clean, thaw: timed."""
        output = None
        try:
            script = self.machine.run("sh", "-c", _CUTOVER, "cutover", MOUNTPOINT, timeout=60)
            output = script.output
        finally:
            if output is None or not parse_cutover(output).thawed:
                # Never leave customers' writes waiting, whatever stopped the script
                # (fsfreeze -u on a thawed filesystem only complains).
                with contextlib.suppress(HarnessError):
                    self.machine.run("fsfreeze", "-u", MOUNTPOINT, timeout=30)
        report = parse_cutover(output)
        if not report.frozen or report.asked_at is None or report.thawed_at is None:
            raise StackError(f"the cut-over on {self.machine.service} failed "
                             f"(exit {script.exit_code})", logs=script.output.strip())
        if set(report.devices) != new_loops or not report.stats_clean:
            raise StackError(f"at the cut-over {self.machine.service}'s array was not on the new "
                             f"drives alone with no errors (devices: {', '.join(report.devices)}; "
                             f"wanted {', '.join(sorted(new_loops))})", logs=script.output.strip())
        flush = (report.frozen_at or report.asked_at) - report.asked_at
        return Cutover(report.thawed_at - report.asked_at, flush,
                       f"frozen on {', '.join(report.devices)}, device stats clean")


def _check_ready(machine: Machine, raid: RaidStatus) -> None:
    if not raid.mounted or raid.read_only or raid.degraded or raid.lost:
        raise StackError(f"{machine.service}'s array cannot be migrated as it is: {raid.summary()}",
                         hint=f"repair it first (`drill raid {machine.service}`)")
    if any(d.drive in ("", "?") for d in raid.devices):
        raise StackError(f"{machine.service}'s array has a member that is none of its drives")
    busy = machine.run("btrfs", "replace", "status", "-1", MOUNTPOINT, timeout=30).output.strip()
    if busy.lower().startswith("started") and "finished" not in busy.lower():
        raise StackError(f"{machine.service} is already rebuilding: {busy}")


def migrate(machine: Machine, targets: Sequence[Drive] | None, *, drives: Sequence[Drive],
            method: Method | str = Method.REPLACE, cutover: bool = False,
            on_event: Callable[[MigrationEvent], None] | None = None,
            step_timeout: float = 6 * 3600.0) -> MigrationResult:
    """Move `machine`'s /srv onto `targets` (default: its spares) while it serves.

    `drives` are the server's drives (`server_drives`). Raises InputError for
    targets that are unknown, members or too few, StackError when a step fails
    (with btrfs's words; the steps done so far are in the message). An
    interrupt leaves a btrfs operation already running to finish in the
    machine; a frozen filesystem is always thawed.
    """
    method = Method(method)
    raid = machine.raid()
    _check_ready(machine, raid)
    members = members_of(raid)
    by_name = {d.name: d for d in drives}
    chosen = choose_targets(members, raid.spares, list(by_name),
                            None if targets is None else [t.name for t in targets], method)
    new = [by_name[name] for name in chosen]
    run = _Run(machine, new, on_event, step_timeout)

    usage, df = run.usage()
    old_paths = {d.path for d in raid.devices}
    old_usage = [u for u in usage if u.path in old_paths]
    bytes_moved = sum(used_on(u, df) for u in old_usage)
    allocated = sum(u.allocated_total for u in old_usage)
    written_before = run.written()
    started_at = time.time()
    try:
        if method is Method.REPLACE:
            devid = {d.drive: d.devid for d in raid.devices}
            for old, drive in zip(members, new, strict=True):
                run.step(f"replace {old} -> {drive.name}", partial(run.replace, old, drive, devid[old]))
        else:
            def add_all() -> str:
                for drive in new:
                    raid_ops.add(machine, drive)
                return f"added {', '.join(chosen)}"

            run.step(f"add {', '.join(chosen)}", add_all)
            path_of = {d.drive: d.path for d in raid.devices}
            for old in members:
                run.step(f"remove {old}", partial(run.remove, old, path_of[old]))
        window = None
        if cutover:
            wall, started = time.time(), time.monotonic()
            run.on_event(MigrationEvent(EventKind.STARTED, "cut-over"))
            window = run.cutover({d.loop for d in new})
            run.steps.append(StepTiming("cut-over", wall, time.monotonic() - started, None,
                                        f"writes frozen {window.seconds:.3f} s"))
            run.on_event(MigrationEvent(EventKind.FINISHED, "cut-over", 100.0, window.seconds))
    except StackError as e:
        done = "; ".join(f"{s.name} {s.seconds:.1f} s" for s in run.steps) or "none"
        raise StackError(f"migrating {machine.service} ({method}) failed: {e.message} "
                         f"(steps done: {done})", hint=e.hint, logs=e.logs) from None
    ended_at = time.time()
    written_after = run.written()
    after = machine.raid()
    if members_of(after) != sorted(chosen, key=_natural) or after.degraded or after.read_only:
        raise StackError(f"after migrating {machine.service} its array is on "
                         f"{', '.join(members_of(after))}, not {', '.join(chosen)}: {after.summary()}")
    written = (written_after - written_before
               if written_before is not None and written_after is not None else None)
    return MigrationResult(machine.service, method, members, chosen, started_at, ended_at,
                           bytes_moved, allocated, written, run.steps, window, after)


def describe(result: MigrationResult) -> str:
    """A summary a person can quote: duration, data moved, each step, the cut-over, the array."""
    lines = [f"{result.server}: migrated ({result.method}) from {', '.join(result.old_drives)} "
             f"to {', '.join(result.new_drives)} in {result.seconds:.1f} s; "
             f"{mib(result.bytes_moved)} moved (in use on the old drives; "
             f"{mib(result.bytes_allocated)} allocated)"
             + (f", {mib(result.bytes_written)} written to the new drives"
                if result.bytes_written is not None else "")]
    for step in result.steps:
        written = f", {mib(step.written_bytes)} written" if step.written_bytes is not None else ""
        lines.append(f"  {step.name:<28} {step.seconds:8.2f} s{written}")
    if result.cutover:
        lines.append(f"  writes blocked at the cut-over: {result.cutover.seconds * 1000:.0f} ms "
                     f"(flush {result.cutover.flush_seconds * 1000:.0f} ms; "
                     f"{result.cutover.evidence})")
    else:
        lines.append("  no cut-over: writes were never stopped on purpose")
    lines.append(f"  array now: {', '.join(members_of(result.raid_after))}: "
                 f"{result.raid_after.summary()}")
    return "\n".join(lines)


def mib(count: int | None) -> str:
    return "?" if count is None else f"{count / 2**20:.1f} MiB"
