"""Data loss against a restored backup: what a restore must lose, exactly, and no more.

A site restored from a backup loses every upload acknowledged after that
backup began and before the restore rebooted the server onto its new array,
and nothing else: every upload the backup holds reads back intact, and so
does every one acknowledged after that reboot (written on the restored
array).  Neither the restore's start nor its end is the boundary: the old
array takes uploads until the restore stops the server, and the new one
takes them before the restore sees the server healthy (both seen in drills).
Story 000 lost "the uploads since the backup"; a drill of it passes only when
the loss is exactly that set.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from chaos.measure.loss import LossReport
from chaos.records import Ack


@dataclass(frozen=True)
class BackupMatch:
    """How the read-back compares with what a restore from `backup` must give."""

    backup: str
    #: When the backup began, and when the restore rebooted the server (epoch seconds).
    taken_at: float
    restored_at: float
    #: Acknowledged before that reboot and not held by the backup: these must be lost.
    expected_lost: tuple[str, ...]
    #: Lost although the backup held them, or acknowledged after the restore.
    lost_unexpectedly: tuple[str, ...]
    #: Expected lost, yet not read back as missing or corrupt (intact, or no answer).
    not_lost: tuple[str, ...]
    #: Expected intact, yet without a definite answer on reading back.
    unverified: tuple[str, ...]
    #: Acknowledged before the backup began, yet not in it: a backup that missed data.
    missed_by_backup: tuple[str, ...]

    @property
    def exact(self) -> bool:
        """The loss is exactly the uploads the backup could not hold."""
        return not (self.lost_unexpectedly or self.not_lost or self.unverified
                    or self.missed_by_backup)


def match_backup(acks: Sequence[Ack], loss: LossReport, held: Collection[str], *, backup: str,
                 taken_at: float, restored_at: float) -> BackupMatch:
    """Compare the read-back (`loss`) of `acks` with a restore of a backup holding `held`."""
    lost = set(loss.lost_ids)
    unreadable = set(loss.unreadable_ids)
    expected = [a.id for a in acks if a.acknowledged_at < restored_at and a.id not in held]
    expected_set = set(expected)
    return BackupMatch(
        backup=backup, taken_at=taken_at, restored_at=restored_at,
        expected_lost=tuple(expected),
        lost_unexpectedly=tuple(a.id for a in acks if a.id in lost and a.id not in expected_set),
        not_lost=tuple(i for i in expected if i not in lost),
        unverified=tuple(a.id for a in acks if a.id in unreadable and a.id not in expected_set),
        missed_by_backup=tuple(a.id for a in acks if a.acknowledged_at < taken_at
                               and a.id not in held))
