"""Probe conditions a scenario waits for (`when`, `manual.until`) or expects at the end (`verify.expect`).

A condition names a probe, a target and the state it must report:

    raid         server   read-only | writable | degraded | healthy | lost | rebuilding
    replication  server   primary | standby | streaming      (none: split-brain | one-primary)
    edge         server   serving-from                       (none: serving | down)
    container    service  running | exited | paused
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from chaos.faults.base import FaultContext

#: probe -> (target kind, states that need a target, states that need none).
PROBES: Mapping[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "raid": ("server", ("read-only", "writable", "degraded", "healthy", "lost", "rebuilding"), ()),
    "replication": ("server", ("primary", "standby", "streaming"), ("split-brain", "one-primary")),
    "edge": ("server", ("serving-from",), ("serving", "down")),
    "container": ("site", ("running", "exited", "paused"), ()),
}


def _raid(ctx: FaultContext, target: str, state: str) -> bool:
    if state == "rebuilding":
        from chaos.stack.raid_ops import activity

        rebuild = activity(ctx.machine(target)).rebuild.lower()
        return "started" in rebuild and "finished" not in rebuild
    raid = ctx.machine(target).raid()
    return {"read-only": raid.read_only, "writable": raid.mounted and not raid.read_only,
            "degraded": raid.degraded, "healthy": raid.healthy, "lost": raid.lost}[state]


def _replication(ctx: FaultContext, target: str | None, state: str) -> bool:
    from chaos.stack.replication import probe_replication

    status = probe_replication(ctx.client, ctx.run_id)
    if state == "split-brain":
        return status.split_brain
    if state == "one-primary":
        return len(status.primaries) == 1
    server = status.server(target or "")
    if state == "primary":
        return server.role == "primary"
    if state == "standby":
        return server.role == "standby"
    return any(lag.standby == target and lag.streaming for lag in status.lags)


def _edge(edge_url: str, target: str | None, state: str) -> bool:
    from chaos.stack.edge import served_by

    answered = served_by(edge_url, timeout=3)
    if state == "serving":
        return answered is not None
    if state == "down":
        return answered is None
    return answered == target


def _container(ctx: FaultContext, target: str, state: str) -> bool:
    from chaos.engine import objects

    containers = objects.site_containers(ctx.client, ctx.run_id, target)
    return bool(containers) and all(objects.state_of(c).status == state for c in containers)


def holds(ctx: FaultContext, edge_url: str, probe: str, target: str | None, state: str) -> bool:
    """Whether the probe reports `state` now (a probe that cannot answer: no)."""
    try:
        if probe == "raid":
            return _raid(ctx, target or "", state)
        if probe == "replication":
            return _replication(ctx, target, state)
        if probe == "edge":
            return _edge(edge_url, target, state)
        return _container(ctx, target or "", state)
    except Exception:  # a probe of a machine that is down says "not now", not "broken"
        return False


def wait_until(check: Callable[[], bool], timeout: float, stop: Callable[[], bool],
               interval: float = 0.5) -> bool:
    """Poll `check` until it holds (True), `timeout` passes or `stop()` says so (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if check():
            return True
        if time.monotonic() >= deadline or stop():
            return False
        time.sleep(interval)
