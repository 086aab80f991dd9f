"""The array runs out of space: writes fail with ENOSPC, as when a disk fills up."""

from __future__ import annotations

import time

from chaos.errors import StackError
from chaos.faults.base import Fault, FaultContext, Injection

BALLAST = "/srv/.drill-ballast"

# Runs inside the server: allocate ballast until a 1 MiB write fails with ENOSPC.
FILL = r"""
import errno, os, subprocess, sys
ballast = sys.argv[1]
os.makedirs(ballast, exist_ok=True)
for i in range(64):
    free = os.statvfs("/srv").f_bavail * os.statvfs("/srv").f_frsize
    if free > 0:
        subprocess.run(["fallocate", "-l", str(free), f"{ballast}/{i}"], capture_output=True)
    try:
        with open(f"{ballast}/probe", "wb") as f:
            f.write(os.urandom(1 << 20)); f.flush(); os.fsync(f.fileno())
        os.unlink(f"{ballast}/probe")
    except OSError as e:
        if e.errno == errno.ENOSPC:
            print("ENOSPC")
            sys.exit(0)
        raise
print("never full")
"""


class Full(Fault):
    name = "full"
    target_kind = "server"
    summary = "the server's array is filled up: writes fail with ENOSPC (target: a server or its drive)"

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        server = target.split("/", 1)[0]
        injection = self.begin(server)
        result = ctx.machine(server).run("python3", "-c", FILL, BALLAST, timeout=120)
        if result.exit_code != 0:
            raise StackError(f"filling {server}:/srv failed", logs=result.output)
        if result.output.strip().endswith("ENOSPC"):
            injection.confirmed = True
            injection.effective_at = time.time()
            injection.evidence = "a 1 MiB write to /srv failed with ENOSPC"
        else:
            injection.evidence = "/srv never filled up: not confirmed"
        return injection

    def rollback(self, ctx: FaultContext, target: str) -> None:
        # btrfs returns freed space only once the deletion is committed: sync, so the
        # space is back when the rollback returns, not up to 30 s later.
        ctx.machine(target.split("/", 1)[0]).run(
            "sh", "-c", f"rm -rf {BALLAST} && btrfs filesystem sync /srv", timeout=60)
