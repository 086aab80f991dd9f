"""Actions a scenario step can take (operators' moves, not faults): remount, replace, restore, failback...

Each declares what it is aimed at and its parameters, so a scenario is checked
before anything starts; `run` does it on the live stack and says what happened.
An action that ran and did not succeed (a rebuild that failed) is an outcome,
not an error: the scenario's expectations judge it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chaos.errors import InputError
from chaos.faults.base import FaultContext
from chaos.yamlsource import did_you_mean


@dataclass(frozen=True)
class ActionOutcome:
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    summary: str
    #: "server", "site", "drive", "any" (a drive, a server or a site) or "none".
    target_kind: str
    #: Parameter name -> (default, help); a default of None means required.
    parameters: Mapping[str, tuple[str | None, str]]
    run: Callable[[FaultContext, str | None, dict[str, str]], ActionOutcome]
    #: Customers may feel it (a restart, a role change): measured like a fault, from its
    #: start until the next measured step, so its impact is not charged to the step before.
    measured: bool = True


def _bool(value: str) -> bool:
    return str(value).lower() in ("1", "true", "yes", "on")


def _remount(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.raid_ops import remount

    remount(ctx.machine(target or ""))
    return ActionOutcome(True, f"{target}: /srv remounted read-write")


def _replace(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack import raid_ops
    from chaos.stack.drives import resolve_drive

    server, _, drive = (target or "").partition("/")
    new = resolve_drive(ctx.run_dir, f"{server}/{params['to']}")
    result = raid_ops.replace(ctx.machine(server), drive, new)
    return ActionOutcome(result.finished, f"rebuild of {target} onto {new.name}: {result.state} "
                         f"after {result.seconds:.1f} s", {"seconds": result.seconds})


def _scrub(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.raid_ops import scrub

    found = scrub(ctx.machine(target or ""))
    return ActionOutcome(found.uncorrectable == 0,
                         f"scrub of {target}: {found.errors} error(s), {found.corrected} corrected, "
                         f"{found.uncorrectable} uncorrectable",
                         {"errors": found.errors, "corrected": found.corrected,
                          "uncorrectable": found.uncorrectable})


def _add(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack import raid_ops
    from chaos.stack.drives import resolve_drive

    drive = resolve_drive(ctx.run_dir, target or "")
    raid_ops.add(ctx.machine(drive.server), drive)
    return ActionOutcome(True, f"{target} joined the array")


def _remove(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack import raid_ops

    server, _, drive = (target or "").partition("/")
    seconds = raid_ops.remove(ctx.machine(server), drive)
    return ActionOutcome(True, f"{target} left the array after {seconds:.1f} s")


def _backup(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.backups import take_backup

    taken = take_backup(ctx.machine(params.get("host") or "backup"))
    return ActionOutcome(True, f"backup {taken.name} taken", {"backup": taken.name,
                                                               "taken_at": taken.taken_at})


def _restore(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.backups import backup_ids, list_backups
    from chaos.stack.raid_ops import restore

    host = params.get("host") or "backup"
    backups = list_backups(ctx.machine(host))
    if not backups:
        return ActionOutcome(False, f"no backup on {host} to restore {target} from")
    wanted = params.get("backup") or "latest"
    chosen = backups[-1] if wanted == "latest" else next((b for b in backups if b.name == wanted), None)
    if chosen is None:
        return ActionOutcome(False, f"no backup {wanted!r} on {host}")
    # What the restore brings back, read before the rolling backups may drop it: the
    # data loss is judged against it (objective `lost_writes: since-restored-backup`).
    held = sorted(backup_ids(ctx.machine(host), chosen.name))
    done = restore(ctx.machine(target or ""), host, chosen.name)
    return ActionOutcome(True, f"{target} restored from {chosen.name} ({len(held)} uploads) "
                         f"in {done.seconds:.1f} s",
                         {"backup": chosen.name, "backup_taken_at": chosen.taken_at,
                          "seconds": done.seconds, "rebooted_at": done.rebooted_at,
                          "backup_uploads": held})


def _promote(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.failover import promote

    done = promote(ctx.client, ctx.run_id, target or "")
    return ActionOutcome(True, f"{target} promoted in {done.seconds:.1f} s")


def _failback(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.failover import failback

    done = failback(ctx.client, ctx.run_id, old=target, new=params.get("to") or None,
                    switch_back=_bool(params.get("switch_back", "false")))
    detail = f"{done.old_primary} follows {done.new_primary} ({done.method}, {done.seconds:.1f} s)"
    if done.switched_back:
        detail += f"; switched back, writes refused {done.switchover_seconds:.1f} s"
    return ActionOutcome(True, detail, {"diverged": done.diverged, "seconds": done.seconds})


def _switchover(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.failover import switchover

    done = switchover(ctx.client, ctx.run_id, to=target or "")
    return ActionOutcome(True, f"{done.new_primary} is the primary; writes refused "
                         f"{done.seconds:.1f} s", {"seconds": done.seconds})


def _migrate(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.stack.drives import server_drives
    from chaos.stack.migration import migrate

    machine = ctx.machine(target or "")
    drives = server_drives(ctx.run_dir, target or "")
    wanted = [d.strip() for d in (params.get("to") or "").split(",") if d.strip()]
    targets = [d for d in drives if d.name in wanted] if wanted else None
    result = migrate(machine, targets, drives=drives, method=params.get("method") or "replace",  # type: ignore[arg-type]
                     cutover=_bool(params.get("cutover", "false")))
    return ActionOutcome(True, f"{target} migrated to {', '.join(result.new_drives)} in "
                         f"{result.seconds:.1f} s", result.to_json())


def _site_return(*faults: str) -> Callable[[FaultContext, str | None, dict[str, str]], ActionOutcome]:
    def run(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
        from chaos.faults import active

        ended = active.returning(ctx.run_dir, target or "", faults)
        for name in ended:
            active.roll_back(ctx, name, target or "")
        return ActionOutcome(True, f"{target} is back ({', '.join(ended)} rolled back)")
    return run


def _rollback(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    from chaos.faults import active

    place, wanted = target or "", params.get("fault") or ""
    # A server's faults include its drives': new drives (before a restore) end them all.
    chosen = [i for i in active.active(ctx.run_dir)
              if (i.target == place or i.target.startswith(f"{place}/"))
              and (not wanted or i.fault == wanted)]
    for injection in chosen:
        active.roll_back(ctx, injection.fault, injection.target)
    if not chosen:
        return ActionOutcome(True, f"no {wanted or 'fault'} in place on {place}: nothing to do")
    return ActionOutcome(True, "rolled back " + ", ".join(f"{i.fault} on {i.target}" for i in chosen))


def _wait(ctx: FaultContext, target: str | None, params: dict[str, str]) -> ActionOutcome:
    return ActionOutcome(True, "waited")


ACTIONS: dict[str, Action] = {a.name: a for a in (
    Action("remount", "bring a read-only /srv back read-write (services restarted)", "server", {},
           _remount),
    Action("replace", "rebuild a member onto another drive (btrfs replace)", "drive",
           {"to": (None, "the drive to rebuild onto, e.g. disk3")}, _replace),
    Action("scrub", "check every block, repair from the mirror", "server", {}, _scrub),
    Action("add", "a spare joins the array", "drive", {}, _add),
    Action("remove", "a member leaves the array (its data moved first)", "drive", {}, _remove),
    Action("backup", "the backup host takes a backup of server-a now", "none",
           {"host": ("backup", "the backup host")}, _backup, measured=False),
    Action("restore", "new drives, a new array, a backup copied back, services on", "server",
           {"backup": ("latest", "the backup's name, or latest"),
            "host": ("backup", "the backup host")}, _restore),
    Action("promote", "promote a standby to primary now", "server", {}, _promote),
    Action("failback", "the stale primary follows the new one (target: which server; default "
           "the stale one)", "none",
           {"to": ("", "the primary to follow (default: the newest)"),
            "switch_back": ("false", "then swap the roles back")}, _failback),
    Action("switchover", "planned swap: the target standby becomes the primary", "server", {},
           _switchover),
    Action("migrate", "move the server's array onto new drives while it serves", "server",
           {"to": ("", "drives, e.g. disk3,disk4 (default: the spares)"),
            "method": ("replace", "replace or add-remove"),
            "cutover": ("false", "end with a short write freeze")}, _migrate),
    Action("power-on", "a site (or server) powered off or shut down comes back", "site", {},
           _site_return("power-off", "shutdown")),
    Action("reconnect", "an isolated site (or server) is connected again", "site", {},
           _site_return("isolate")),
    Action("rollback", "the faults in place on the target end now (a server: its drives' too)",
           "any", {"fault": ("", "only this fault (default: every one)")}, _rollback),
    Action("wait", "nothing: a gate for `when` or a manual step", "none", {}, _wait,
           measured=False),
)}


def action(name: str) -> Action:
    """The action `name`; InputError listing the valid names otherwise."""
    if name not in ACTIONS:
        raise InputError(f"unknown action {name!r}{did_you_mean(name, ACTIONS)} "
                         f"(actions: {', '.join(ACTIONS)})")
    return ACTIONS[name]


def resolve_params(found: Action, given: Mapping[str, Any]) -> dict[str, str]:
    """Given parameters over the defaults, as text; InputError for unknown or missing ones."""
    unknown = sorted(set(given) - set(found.parameters))
    if unknown:
        raise InputError(f"action {found.name}: unknown parameter(s) {', '.join(unknown)} "
                         f"(parameters: {', '.join(found.parameters) or 'none'})")
    values = {}
    for key, (default, _) in found.parameters.items():
        value = given.get(key, default)
        if value is None:
            raise InputError(f"action {found.name}: parameter {key!r} is required")
        values[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return values
