"""A scenario's objectives against what was measured: each one passed or failed, with the figures."""

from __future__ import annotations

from dataclasses import dataclass

from chaos.measure.backup_loss import BackupMatch
from chaos.measure.summary import Measurements
from chaos.scenario.durations import format_duration
from chaos.scenario.model import Objectives


@dataclass(frozen=True)
class ObjectiveResult:
    name: str
    limit: str
    measured: str
    passed: bool


def _seconds(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}s"


def evaluate(objectives: Objectives, measured: Measurements,
             restored: BackupMatch | str | None = None) -> list[ObjectiveResult]:
    """One result per objective given; an objective nothing measured fails (it cannot be shown met).

    `restored`: the read-back against the backup the drill restored (or why there is no
    such comparison), for `lost_writes: since-restored-backup`.
    """
    results = []
    impacts = [f.impact for f in measured.faults]
    if objectives.rto is not None:
        times, open_since = incident_recoveries(measured)
        if open_since is not None:
            results.append(ObjectiveResult("rto", format_duration(objectives.rto),
                                           "not recovered", False))
        elif not times:
            results.append(ObjectiveResult("rto", format_duration(objectives.rto),
                                           "no outage" if impacts else "no fault", True))
        else:
            worst = max(times)
            results.append(ObjectiveResult("rto", format_duration(objectives.rto),
                                           _seconds(worst), worst <= objectives.rto))
    if objectives.max_downtime is not None:
        downtime = sum(i.downtime for i in impacts)
        results.append(ObjectiveResult("max_downtime", format_duration(objectives.max_downtime),
                                       _seconds(downtime), downtime <= objectives.max_downtime))
    if objectives.max_error_rate is not None:
        rate = measured.overall.error_rate
        results.append(ObjectiveResult("max_error_rate", f"{objectives.max_error_rate:.2%}",
                                       f"{rate:.2%}", rate <= objectives.max_error_rate))
    loss = measured.loss
    if objectives.max_lost_writes is not None:
        if loss is None:
            results.append(ObjectiveResult("max_lost_writes", str(objectives.max_lost_writes),
                                           "not verified", False))
        else:
            results.append(ObjectiveResult("max_lost_writes", str(objectives.max_lost_writes),
                                           str(loss.lost), loss.lost <= objectives.max_lost_writes))
    if objectives.max_corrupt_writes is not None:
        shown = "not verified" if loss is None else str(loss.corrupt)
        results.append(ObjectiveResult("max_corrupt_writes", str(objectives.max_corrupt_writes),
                                       shown, loss is not None
                                       and loss.corrupt <= objectives.max_corrupt_writes))
    if objectives.lost_writes is not None:
        results.append(_since_backup(objectives.lost_writes, restored, measured))
    if objectives.rpo is not None:
        if loss is None:
            results.append(ObjectiveResult("rpo", format_duration(objectives.rpo), "not verified",
                                           False))
        else:
            # The oldest lost write's age at the fault: how far back the data went.
            window = loss.loss_window
            age = 0.0 if window is None else max(0.0, -window[0])
            results.append(ObjectiveResult("rpo", format_duration(objectives.rpo), _seconds(age),
                                           age <= objectives.rpo))
    if objectives.latency is not None:
        for name in ("p50", "p95", "p99"):
            limit = getattr(objectives.latency, name)
            if limit is None:
                continue
            value = getattr(measured.overall, name)
            results.append(ObjectiveResult(f"latency_{name}", format_duration(limit),
                                           _seconds(value), value is not None and value <= limit))
    return results


def _since_backup(limit: str, restored: BackupMatch | str | None, measured: Measurements
                  ) -> ObjectiveResult:
    if measured.loss is None:
        return ObjectiveResult("lost_writes", limit, "not verified", False)
    if not isinstance(restored, BackupMatch):
        return ObjectiveResult("lost_writes", limit, restored or "no backup was restored", False)
    lost = measured.loss.lost
    if restored.exact:
        return ObjectiveResult("lost_writes", limit, f"{lost} lost: exactly the uploads acknowledged "
                               f"after {restored.backup} began", True)
    wrong = [(restored.lost_unexpectedly, "lost although the backup held them or they came after "
              "the restore's reboot"), (restored.not_lost, "acknowledged after the backup, yet not lost"),
             (restored.unverified, "without an answer on reading back"),
             (restored.missed_by_backup, "acknowledged before the backup began, yet not in it")]
    said = "; ".join(f"{len(ids)} {what} ({', '.join(ids[:3])}{' ...' if len(ids) > 3 else ''})"
                     for ids, what in wrong if ids)
    return ObjectiveResult("lost_writes", limit, f"{lost} lost, {len(restored.expected_lost)} "
                           f"expected from {restored.backup}: {said}", False)


def incident_recoveries(measured: Measurements) -> tuple[list[float], float | None]:
    """Recovery time of every incident, and the start of one never recovered (else None).

    Each measured step is analysed until the next one; an outage that a step
    did not end goes on into the next (a lost array stays down through the
    steps that lead to its restore), so an incident runs from the first step
    whose analysis saw errors to the first one after which the site held up.
    """
    times: list[float] = []
    start: float | None = None
    for result in sorted(measured.faults, key=lambda f: f.fault.at):
        impact = result.impact
        if start is None:
            if impact.time_to_first_error is None:
                continue
            start = impact.fault_at
        if impact.recovered:
            times.append(impact.fault_at + (impact.time_to_recover or 0.0) - start)
            start = None
    return times, start
