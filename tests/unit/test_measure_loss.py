"""The loss verdicts and the loss window, with exact expected reports."""

from __future__ import annotations

import pytest

from chaos.measure.loss import LossReport, ReadBack, Verdict, assess_loss, judge
from chaos.records import Ack

T0 = 1_700_000_000.0
ACK = Ack("u1", "a" * 64, 100, T0)


@pytest.mark.parametrize("read, verdict", [
    (ReadBack(200, "a" * 64), Verdict.INTACT),
    (ReadBack(200, "b" * 64), Verdict.CORRUPT),
    # A 200 whose body was not hashed proves nothing either way.
    (ReadBack(200, None), Verdict.UNREADABLE),
    (ReadBack(404, None), Verdict.MISSING),
    (ReadBack(410, None, "gone"), Verdict.MISSING),
    (ReadBack(411, None), Verdict.UNREADABLE),
    (ReadBack(503, None, "storage: EIO"), Verdict.UNREADABLE),
    (ReadBack(0, None, "ReadTimeout"), Verdict.UNREADABLE),
], ids=["same bytes", "other bytes", "200 unhashed", "404", "410", "411", "503", "no answer"])
def test_each_answer_to_a_read_back_gets_its_verdict(read: ReadBack, verdict: Verdict) -> None:
    assert judge(ACK, read) is verdict


def test_an_upload_never_read_back_is_unreadable_not_intact() -> None:
    acks = [Ack("u1", "sha1", 10, T0 + 1), Ack("u2", "sha2", 10, T0 + 2)]
    report = assess_loss(acks, {"u1": ReadBack(200, "sha1")}, fault_at=T0)
    assert report == LossReport(acknowledged=2, intact=1, missing_ids=(), corrupt_ids=(),
                                unreadable_ids=("u2",), loss_window=None, lost_between=None)


def test_corrupt_uploads_count_in_the_loss_window_like_missing_ones() -> None:
    # Corrupt at 1 and 8, missing at 5; the fault at 4: lost from 3 s before it to 4 s after.
    acks = [Ack(f"u{i}", f"sha{i}", 10, T0 + i) for i in (1, 2, 5, 8)]
    reads = {"u1": ReadBack(200, "other"), "u2": ReadBack(200, "sha2"), "u5": ReadBack(410, None),
             "u8": ReadBack(200, "other")}
    report = assess_loss(acks, reads, fault_at=T0 + 4)
    assert report == LossReport(acknowledged=4, intact=1, missing_ids=("u5",),
                                corrupt_ids=("u1", "u8"), unreadable_ids=(),
                                loss_window=(-3.0, 4.0), lost_between=(T0 + 1, T0 + 8))
    assert (report.missing, report.corrupt, report.lost) == (1, 2, 3)
    assert report.lost_ids == ("u5", "u1", "u8")


def test_without_a_fault_loss_has_times_but_no_window() -> None:
    acks = [Ack("u1", "sha1", 10, T0 + 1), Ack("u2", "sha2", 10, T0 + 3)]
    report = assess_loss(acks, {"u1": ReadBack(404, None), "u2": ReadBack(404, None)})
    assert report.loss_window is None and report.lost_between == (T0 + 1, T0 + 3)


def test_nothing_acknowledged_is_an_empty_report() -> None:
    assert assess_loss([], {}, fault_at=T0) == LossReport(0, 0, (), (), (), None, None)
