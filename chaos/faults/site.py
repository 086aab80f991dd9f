"""Site faults: a data centre (or one machine) powered off, cut off, shut down or frozen.

Addressed by site (`dc-a`, from the services' `chaos-harness.site` label) or by
service (`server-a`).  Every container of the target is acted on at once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from docker.models.containers import Container

from chaos.engine import labels, objects
from chaos.faults.base import Fault, FaultContext, Injection

#: The network that joins the sites; `isolate` cuts a site off it.
WAN = "wan"


def _wait_status(containers: list[Container], wanted: set[str], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if all(objects.state_of(c).status in wanted for c in containers):
            return True
        time.sleep(0.05)
    return False


def _names(containers: list[Container]) -> list[str]:
    return [c.labels.get(labels.SERVICE, c.name) for c in containers]


class _SiteFault(Fault):
    target_kind = "site"

    def _containers(self, ctx: FaultContext, target: str) -> list[Container]:
        return objects.site_containers(ctx.client, ctx.run_id, target)

    def _confirm(self, injection: Injection, containers: list[Container], wanted: set[str],
                 what: str, acted_at: float | None = None) -> Injection:
        if _wait_status(containers, wanted):
            injection.confirmed = True
            injection.effective_at = self._took_effect(injection, containers,
                                                       acted_at or time.time())
            injection.evidence = f"{what}: {', '.join(_names(containers))}"
        else:
            injection.evidence = f"not every container reached {'/'.join(sorted(wanted))}: not confirmed"
        injection.affected = _names(containers)
        return injection

    def _took_effect(self, injection: Injection, containers: list[Container],
                     acted_at: float) -> float:
        """When the effect began: once the calls that make it had returned (not when polling
        saw it, up to a poll later)."""
        return acted_at

    def _act_on_all(self, ctx: FaultContext, target: str, action: Callable[[Container], None],
                    wanted: set[str], what: str) -> Injection:
        """Do `action` to every machine of the target, then confirm they reached `wanted`."""
        containers = self._containers(ctx, target)
        injection = self.begin(target)
        for container in containers:
            action(container)
        return self._confirm(injection, containers, wanted, what, acted_at=time.time())


class PowerOff(_SiteFault):
    name = "power-off"
    summary = "every machine of the site killed at once (SIGKILL): no clean unmount (rollback: power-on)"

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        return self._act_on_all(ctx, target, objects.kill, {"exited"}, "powered off")

    def _took_effect(self, injection: Injection, containers: list[Container],
                     acted_at: float) -> float:
        """When the first machine went dark, as Docker recorded its end (`FinishedAt`): the
        kill lands before the API call returns, and customers see it from then on."""
        ended = [at for at in map(objects.finished_at, containers)
                 if at is not None and injection.asked_at - 1.0 <= at <= acted_at + 1.0]
        return min(acted_at, max(injection.asked_at, min(ended))) if ended else acted_at

    def rollback(self, ctx: FaultContext, target: str) -> None:
        """Power on: the machines boot again (their drives and arrays kept)."""
        for container in self._containers(ctx, target):
            if objects.state_of(container).status != "running":
                objects.restart(container)


class Shutdown(PowerOff):
    name = "shutdown"
    summary = "every machine of the site stopped in order (SIGTERM, services stopped, array unmounted)"

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        return self._act_on_all(ctx, target, lambda c: objects.stop(c, grace=30), {"exited"},
                                "shut down")


class Pause(_SiteFault):
    name = "pause"
    summary = "every machine of the site frozen (the machine hangs; rollback thaws it)"

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        return self._act_on_all(ctx, target, objects.pause, {"paused"}, "frozen")

    def rollback(self, ctx: FaultContext, target: str) -> None:
        for container in self._containers(ctx, target):
            if objects.state_of(container).status == "paused":
                objects.unpause(container)


class Isolate(_SiteFault):
    name = "isolate"
    summary = ("the site cut off from the wan network (a stack without one: from every network "
               "it shares with other sites) while it keeps running (rollback: reconnect)")

    def _saved(self, ctx: FaultContext, container: Container) -> Path:
        return ctx.run_dir / "isolated" / f"{_names([container])[0]}.json"

    def _links(self, ctx: FaultContext, containers: list[Container]) -> set[str]:
        """The networks that join the target to the rest of the stack.

        The bundled stack names one: `wan`. On another stack, every network on
        which a container outside the target is attached.
        """
        wan = objects.object_name(ctx.run_id, WAN)
        inside = {c.id for c in containers}
        attached = {c.id: objects.networks_of(c)  # one inspect per container
                    for c in objects.find_containers(ctx.client, ctx.run_id)}
        if any(wan in networks for networks in attached.values()):
            return {wan}
        return {network for cid, networks in attached.items() if cid not in inside
                for network in networks}

    def inject(self, ctx: FaultContext, target: str) -> Injection:
        containers = self._containers(ctx, target)
        injection = self.begin(target)
        links = self._links(ctx, containers)
        cut = []
        for container in containers:
            attached = objects.networks_of(container)
            leaving = sorted(links & set(attached))
            if leaving:
                saved = self._saved(ctx, container)
                saved.parent.mkdir(parents=True, exist_ok=True)
                saved.write_text(json.dumps({"networks": [
                    {"network": n, "aliases": attached[n]} for n in leaving]}))
                for network in leaving:
                    objects.disconnect(ctx.client, network, container)
                cut.append(container)
        if cut and all(not links & set(objects.networks_of(c)) for c in cut):
            injection.confirmed = True
            injection.effective_at = time.time()
            short = sorted(n.removeprefix(objects.object_name(ctx.run_id, "")) for n in links)
            injection.evidence = f"cut off {', '.join(short)}: {', '.join(_names(cut))}"
        else:
            injection.evidence = (f"nothing of {target} shares a network with the rest of the "
                                  "stack: not confirmed")
        injection.affected = _names(cut)
        return injection

    def rollback(self, ctx: FaultContext, target: str) -> None:
        """Reconnect: each machine rejoins the networks it left, with the aliases it had."""
        for container in self._containers(ctx, target):
            saved = self._saved(ctx, container)
            if saved.exists():
                record = json.loads(saved.read_text())
                # A record of an older harness names one network.
                entries = record.get("networks") or [record]
                attached = objects.networks_of(container)
                for entry in entries:
                    if entry["network"] not in attached:
                        objects.connect(ctx.client, entry["network"], container,
                                        entry["aliases"])
                saved.unlink()
