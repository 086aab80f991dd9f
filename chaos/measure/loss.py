"""Data loss: every acknowledged upload read back and compared by sha256.

The loss window — acknowledgement times of the oldest and newest lost upload
relative to the fault — is the measured RPO.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from chaos.records import Ack


class Verdict(enum.StrEnum):
    INTACT = "intact"
    MISSING = "missing"
    CORRUPT = "corrupt"
    #: No definite answer (errors, time-outs) even after retries: neither intact nor proven lost.
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class ReadBack:
    """What reading one acknowledged write back gave."""

    status: int  # HTTP status; 0 when no answer
    sha256: str | None  # of the body, when found and its content compared
    detail: str = ""
    #: The answer's status said "here it is" (one the read-back expects); None: it was 200.
    found: bool | None = None
    #: False: the app does not give the content back; being found is all there is to check.
    compare_content: bool = True


def judge(ack: Ack, read: ReadBack) -> Verdict:
    found = read.status == 200 if read.found is None else read.found
    if found:
        # Acknowledged without its content (`ledger.acknowledge(id)`): only its presence is known.
        if not read.compare_content or not ack.sha256:
            return Verdict.INTACT
        if read.sha256 is None:
            return Verdict.UNREADABLE
        return Verdict.INTACT if read.sha256 == ack.sha256 else Verdict.CORRUPT
    if read.status in (404, 410):
        return Verdict.MISSING
    return Verdict.UNREADABLE


@dataclass(frozen=True)
class LossReport:
    acknowledged: int
    intact: int
    missing_ids: tuple[str, ...]
    corrupt_ids: tuple[str, ...]
    unreadable_ids: tuple[str, ...]
    #: Acknowledgement times of the oldest and newest lost upload, seconds after the
    #: fault (negative: before it); None when nothing was lost or there was no fault.
    loss_window: tuple[float, float] | None
    #: The same as absolute times (epoch seconds); None when nothing was lost.
    lost_between: tuple[float, float] | None

    @property
    def missing(self) -> int:
        return len(self.missing_ids)

    @property
    def corrupt(self) -> int:
        return len(self.corrupt_ids)

    @property
    def lost_ids(self) -> tuple[str, ...]:
        """Missing and corrupt: what the customer was told was stored and is not."""
        return self.missing_ids + self.corrupt_ids

    @property
    def lost(self) -> int:
        return len(self.lost_ids)


def assess_loss(acks: Sequence[Ack], reads: Mapping[str, ReadBack], fault_at: float | None = None
                ) -> LossReport:
    """Judge every acknowledged upload; one never read back counts as unreadable."""
    verdicts = {ack.id: judge(ack, reads.get(ack.id, ReadBack(0, None, "not read back")))
                for ack in acks}
    by_id = {ack.id: ack for ack in acks}

    def ids(verdict: Verdict) -> tuple[str, ...]:
        return tuple(i for i, v in verdicts.items() if v is verdict)

    lost = [by_id[i] for i, v in verdicts.items() if v in (Verdict.MISSING, Verdict.CORRUPT)]
    between = None
    window = None
    if lost:
        between = (min(a.acknowledged_at for a in lost), max(a.acknowledged_at for a in lost))
        if fault_at is not None:
            window = (between[0] - fault_at, between[1] - fault_at)
    return LossReport(acknowledged=len(acks), intact=len(ids(Verdict.INTACT)),
                      missing_ids=ids(Verdict.MISSING), corrupt_ids=ids(Verdict.CORRUPT),
                      unreadable_ids=ids(Verdict.UNREADABLE), loss_window=window,
                      lost_between=between)
