"""Corruption: bit rot on one drive (checksums catch it) and damage written through the filesystem
(every mirror holds it; checksums cannot)."""

from __future__ import annotations

import json
import time

from chaos.errors import InputError, StackError
from chaos.faults.base import Fault, FaultContext, Injection
from chaos.faults.drive import run_drive

# Runs inside the server: picks files with data extents, maps each file's first
# block to its place on the target drive (btrfs-map-logical), overwrites that
# block in the drive's image with random bytes, and reads it back through the
# loop device with O_DIRECT to prove the drive now holds the garbage.
BITROT = r"""
import hashlib, json, os, random, re, subprocess, sys
count, loop, image = int(sys.argv[1]), sys.argv[2], sys.argv[3]
subprocess.run(["sync"], check=True)
files = [os.path.join("/srv/uploads", f) for f in os.listdir("/srv/uploads")]
files = [f for f in files if os.path.getsize(f) >= 8192]
random.shuffle(files)
done = []
for path in files:
    if len(done) == count:
        break
    frag = subprocess.run(["filefrag", "-v", "-b4096", path], capture_output=True, text=True).stdout
    extent = re.search(r"^\s*0:\s+\d+\.\.\s*\d+:\s+(\d+)\.\.", frag, re.M)
    if not extent:
        continue
    logical = int(extent.group(1)) * 4096
    mapped = subprocess.run(["btrfs-map-logical", "-l", str(logical), "-b", "4096", loop],
                            capture_output=True, text=True).stdout
    physical = [int(p) for p, dev in re.findall(r"physical (\d+) device (\S+)", mapped) if dev == loop]
    if not physical:
        continue
    garbage = os.urandom(4096)
    with open(image, "r+b") as f:
        f.seek(physical[0]); f.write(garbage); f.flush(); os.fsync(f.fileno())
    fd = os.open(loop, os.O_RDONLY | os.O_DIRECT)
    try:
        import mmap
        buf = mmap.mmap(-1, 4096)
        os.preadv(fd, [buf], physical[0])
        proven = bytes(buf) == garbage
    finally:
        os.close(fd)
    done.append({"file": os.path.basename(path), "physical": physical[0], "proven": proven})
print(json.dumps(done))
"""

# Runs inside the server: a faulty writer overwrites files through the
# filesystem with random bytes of the same size, so every mirror agrees.
FS_CORRUPTION = r"""
import hashlib, json, os, random, sys
count = int(sys.argv[1])
files = sorted(os.listdir("/srv/uploads"))
random.shuffle(files)
done = []
for name in files[:count]:
    path = os.path.join("/srv/uploads", name)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        f.write(os.urandom(size)); f.flush(); os.fsync(f.fileno())
    done.append(name)
print(json.dumps(done))
"""


def _count(params: dict[str, str], name: str) -> int:
    try:
        value = int(params[name])
    except ValueError:
        raise InputError(f"{name}={params[name]!r}: a whole number") from None
    if value < 1:
        raise InputError(f"{name}={value}: at least 1")
    return value


class Bitrot(Fault):
    name = "bitrot"
    summary = "random blocks holding file data on the drive are overwritten (btrfs checksums catch it)"
    parameters = {"blocks": ("4", "how many 4 KiB blocks")}

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        drive = run_drive(ctx, target)
        count = _count(self.params, "blocks")
        injection = self.begin(drive.address)
        machine = ctx.machine(drive.server)
        image = f"/var/lib/drives/{drive.name}.img"
        result = machine.run("python3", "-c", BITROT, str(count), drive.loop, image, timeout=120)
        try:
            rotted = json.loads(result.output.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            raise StackError(f"bitrot on {drive.address} failed", logs=result.output) from None
        proven = [r for r in rotted if r["proven"]]
        injection.affected = [f"{r['file']}@{r['physical']}" for r in proven]
        if proven:
            injection.confirmed = True
            injection.effective_at = time.time()
        injection.evidence = (f"{len(proven)} of {count} blocks overwritten and read back as garbage "
                              f"(files {', '.join(r['file'][:12] for r in rotted)})")
        return injection

    def rollback(self, ctx: FaultContext, target: str) -> None:
        """Rot is not undone: a scrub repairs it from the mirror (or nothing does)."""


class FsCorruption(Fault):
    name = "fs-corruption"
    target_kind = "server"
    summary = ("files under /srv/uploads overwritten with garbage through the filesystem "
               "(every mirror holds the damage; target: a server)")
    parameters = {"files": ("5", "how many uploaded files")}

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        count = _count(self.params, "files")
        injection = self.begin(target)
        result = ctx.machine(target).run("python3", "-c", FS_CORRUPTION, str(count), timeout=120)
        try:
            damaged = json.loads(result.output.strip().splitlines()[-1])
        except (json.JSONDecodeError, IndexError):
            raise StackError(f"fs-corruption on {target} failed", logs=result.output) from None
        injection.confirmed = bool(damaged)
        injection.effective_at = time.time() if damaged else None
        injection.affected = list(damaged)
        injection.evidence = f"overwrote {len(damaged)} file(s) under /srv/uploads"
        return injection

    def rollback(self, ctx: FaultContext, target: str) -> None:
        """Damage written through the filesystem is not undone: a restore from backup repairs it."""
