"""Recovery maths at its edges: exact figures on small hand-built timelines.

Every time below is a multiple of 1/4 s (or of a power of two), so the sums and
differences are exact in floating point and the expected values are written out
by hand, never taken from the code under test.
"""

from __future__ import annotations

import pytest

from chaos.measure.recovery import FaultImpact, Interval, RecoverySettings, analyse_fault
from chaos.records import Request

T0 = 1_700_000_000.0  # epoch seconds; the times below are relative to it
SETTINGS = RecoverySettings(window=1.0, threshold=0.99, hold=5.0, patience=2.0)


def good(start: float, duration: float = 0.25, origin: float = T0) -> Request:
    return Request(origin + start, duration, "GET /", 200, True)


def bad(start: float, duration: float = 0.25, origin: float = T0) -> Request:
    return Request(origin + start, duration, "GET /", 503, False)


def goods(first: float, last: float, step: float = 0.25, origin: float = T0) -> list[Request]:
    """Good requests sent at first, first + step, ... last, each answered 0.25 s later."""
    count = round((last - first) / step) + 1
    return [good(first + i * step, origin=origin) for i in range(count)]


def bads(first: float, last: float, step: float = 0.25) -> list[Request]:
    count = round((last - first) / step) + 1
    return [bad(first + i * step) for i in range(count)]


def interval(start: float, end: float, origin: float = T0) -> Interval:
    return Interval(origin + start, origin + end)


@pytest.mark.parametrize("before_fault", [goods(0, 9.25), []], ids=["good answers before", "none"])
def test_downtime_starts_at_the_fault_not_at_the_last_good_answer_before_it(
        before_fault: list[Request]) -> None:
    # The last good answer before the fault arrives at 9.5; the fault is at 10. The customer
    # was not let down before the fault, so downtime starts at 10, not at 9.5.
    timeline = before_fault + [bad(10.25), bad(10.5)] + goods(11.0, 19.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.5, recovered=True, time_to_recover=1.25,
        downtime=1.25, down_intervals=(interval(10, 11.25),), failed_requests=2, slow_requests=0,
        requests=38, not_recovered_reason=None)  # 2 bad + 36 good answers from 11.25 to 20.0


def test_availability_of_97_percent_is_below_a_99_percent_threshold() -> None:
    # 128 requests a second; after a 2 s outage, one in 32 still fails: every 1 s window
    # holds about 96.9 % good answers, above 94 % but below the 99 % asked for.
    step = 1 / 128
    timeline = []
    for i in range(20 * 128):
        t = i * step
        failing = 10 <= t < 12 or (t >= 12 and i % 32 == 0)
        timeline.append((bad if failing else good)(t, step / 2))
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert not impact.recovered and impact.time_to_recover is None
    # Each candidate (the answer after a failing one) fails at the next failure, until the one
    # answered at 15 + 3/256 s, too late to be seen held before 20: the first error was
    # answered at 10 + 1/256 s, 5 + 2/256 = 5.0078 s before it.
    assert impact.not_recovered_reason == (
        "the site answered again 5.008 s after the first error, "
        "but the run ended before availability held for 5 s")


def test_an_answer_within_patience_to_the_second_is_good_and_not_slow() -> None:
    # Answered after exactly `patience` (2 s): still good. Nothing went wrong.
    timeline = goods(9.0, 12.0) + [good(12.0, 2.0)] + goods(12.25, 15.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 16, SETTINGS)
    # Answers from 10.0 (sent 9.75) to 16.0: 25 at the quarter seconds, the slow one at 14.0.
    assert impact == FaultImpact(T0 + 10, None, True, 0.0, 0.0, (), 0, 0, 26)


def test_answers_at_the_fault_instant_and_at_the_end_instant_are_analysed() -> None:
    # An error answered at the very instant of the fault is its first error; the held
    # recovery at 10.25 ends exactly when the analysis ends (10.25 + 5 s = 15.25): it counts.
    timeline = goods(8.0, 9.5) + [bad(10.0, 0.0)] + goods(10.0, 15.0)
    impact = analyse_fault(timeline, T0 + 10, T0 + 15.25, SETTINGS)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.0, recovered=True, time_to_recover=0.25,
        downtime=0.25, down_intervals=(interval(10, 10.25),), failed_requests=1,
        slow_requests=0, requests=22)  # the error and 21 good answers, 10.25 to 15.25


def test_a_good_answer_arriving_with_the_first_error_can_start_the_recovery() -> None:
    timeline = goods(8.0, 9.75) + [bad(10.25), good(10.25)] + goods(10.5, 15.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 16, SETTINGS)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.5, recovered=True, time_to_recover=0.5,
        downtime=0.5, down_intervals=(interval(10, 10.5),), failed_requests=1, slow_requests=0,
        requests=25)  # from the answer at 10.0 (sent at 9.75) to the one at 16.0


def test_a_run_that_ends_failing_after_a_blip_is_not_recovered_and_says_since_when() -> None:
    # Bad from 10.0, one good answer at 10.75, bad again to the end: the blip's window fails
    # at 11.0 and no candidate is left.
    timeline = goods(8.0, 9.5) + [bad(10.0), bad(10.25), good(10.5)] + bads(10.75, 19.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.25, recovered=False, time_to_recover=None,
        downtime=10.0, down_intervals=(interval(10, 10.75), interval(10.75, 20)),
        failed_requests=39, slow_requests=0, requests=40,
        not_recovered_reason="still failing at the end of the run "
                             "(last bad answer 9.750 s after the first)")


def test_a_recovery_the_run_is_too_short_to_see_held_says_when_the_site_answered() -> None:
    timeline = goods(8.0, 9.75) + bads(10.0, 11.75) + goods(12.0, 13.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 14, SETTINGS)
    assert not impact.recovered and impact.time_to_recover is None
    # First error answered at 10.25, first good answer after it at 12.25.
    assert impact.not_recovered_reason == (
        "the site answered again 2.000 s after the first error, "
        "but the run ended before availability held for 5 s")


def test_a_failed_window_skips_exactly_the_candidates_it_covers() -> None:
    # Candidate 11.0 fails at 11.25 (its window has one good answer and one bad: 50 %);
    # the next candidate, 11.5, holds.
    timeline = (goods(8.0, 9.75) + [bad(10.0), bad(10.25), bad(10.5), good(10.75), bad(11.0)]
                + goods(11.25, 19.75))
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.25, recovered=True, time_to_recover=1.5,
        downtime=1.5, down_intervals=(interval(10, 11), interval(11, 11.5)), failed_requests=4,
        slow_requests=0, requests=41)


def test_availability_exactly_at_the_threshold_over_a_window_of_exactly_one_second_holds() -> None:
    # At 50 %: the recovery at 11.0 and the bad answer at 12.0 share one window (11.0 is
    # exactly 1 s old at 12.0, so still in it): one good in two is 50 %, which is enough.
    half = RecoverySettings(window=1.0, threshold=0.5, hold=5.0, patience=2.0)
    timeline = goods(8.0, 9.75) + [bad(10.0), good(10.5, 0.5), bad(11.5, 0.5)] + goods(12.0, 19.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, half)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.25, recovered=True, time_to_recover=1.0,
        downtime=2.25, down_intervals=(interval(10, 11), interval(11, 12.25)), failed_requests=2,
        slow_requests=0, requests=36)


def test_a_time_out_sent_after_one_candidate_does_not_hold_back_the_next_one() -> None:
    # Back at 12.25; a probe sent at 12.375 times out at 13.375. It breaks the candidate
    # 12.25 (sent after it), but to the candidate 12.5 it is a straggler (sent before it),
    # and from 12.5 on everything holds: recovered at 12.5, not at the first answer after the
    # time-out (13.5), as the downtime also ends at the first good answer.
    timeline = goods(9.0, 9.75) + bads(10.0, 11.75) + goods(12.0, 19.75) + [bad(12.375, 1.0)]
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.25, recovered=True, time_to_recover=2.5,
        downtime=2.25, down_intervals=(interval(10, 12.25),), failed_requests=9, slow_requests=0,
        requests=42)


def test_a_bad_answer_exactly_at_the_end_of_the_hold_breaks_it() -> None:
    # Recovery candidate 11.0 must hold to 16.0 included; the error answered at 16.0 breaks
    # it, and the next good answer (16.25) is the recovery.
    timeline = (goods(8.0, 9.75) + [bad(10.0), bad(10.25), bad(10.5)] + goods(10.75, 15.5)
                + [bad(15.75)] + goods(16.0, 21.75))
    impact = analyse_fault(timeline, T0 + 10, T0 + 22, SETTINGS)
    assert impact.recovered and impact.time_to_recover == 6.25
    assert impact.down_intervals == (interval(10, 11), interval(15.75, 16.25))


def test_a_pause_in_the_load_with_nothing_outstanding_is_no_stall() -> None:
    # Nobody asked anything from 11.0 to 13.0: no evidence against the recovery at 11.0.
    timeline = goods(8.0, 9.75) + [bad(10.0), good(10.75)] + goods(13.0, 19.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert impact == FaultImpact(
        fault_at=T0 + 10, time_to_first_error=0.25, recovered=True, time_to_recover=1.0,
        downtime=1.0, down_intervals=(interval(10, 11),), failed_requests=1, slow_requests=0,
        requests=31)


@pytest.mark.parametrize("origin", [T0, -11.5], ids=["epoch", "axis around zero"])
def test_a_request_sent_at_the_recovery_instant_and_waiting_through_a_silence_breaks_it(
        origin: float) -> None:
    # Sent at 11.0, when the candidate recovery answered, and answered 1.5 s later (good:
    # within patience) with no other answer in between: 1.5 s unanswered is a stall. The
    # figures are the same wherever the time axis starts (-11.5 puts the stall around 0).
    timeline = [good(9.75, origin=origin), bad(10.0, origin=origin), good(10.75, origin=origin),
                good(11.0, 1.5, origin=origin)] + goods(12.5, 19.75, origin=origin)
    impact = analyse_fault(timeline, origin + 10, origin + 20, SETTINGS)
    assert impact.recovered and impact.time_to_recover == 2.5
    assert impact.down_intervals == (interval(10, 11, origin),)


def test_a_request_waiting_exactly_one_window_is_no_stall() -> None:
    # Sent at 11.25, answered at 12.25: it waited 1.0 s, not more than the 1 s window.
    timeline = goods(8.0, 9.75) + [bad(10.0), good(10.75), good(11.25, 1.0)] + goods(12.25, 19.75)
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert impact.recovered and impact.time_to_recover == 1.0


def test_answers_every_three_quarters_of_a_second_are_no_stall_even_with_a_slow_one() -> None:
    # A 1.5 s request from 11.0, but answers kept arriving every 0.75 s meanwhile.
    timeline = (goods(8.0, 9.75) + [bad(10.0), good(10.75), good(11.0, 1.5)]
                + goods(11.5, 19.75, step=0.75))
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert impact.recovered and impact.time_to_recover == 1.0


@pytest.mark.parametrize("fields", [
    {"window": 0.25, "threshold": 1.0, "hold": 0.0, "patience": 0.5},
    {"hold": 0.5, "patience": 0.25, "threshold": 0.001},
], ids=["edges", "small values"])
def test_settings_at_their_limits_are_accepted(fields: dict[str, float]) -> None:
    # Built here, not at import: the check runs when the test does.
    settings = RecoverySettings(**fields)
    assert [getattr(settings, name) for name in fields] == list(fields.values())


@pytest.mark.parametrize("fields, message", [
    ({"window": 0.0}, "window and patience must be above 0, hold at least 0"),
    ({"hold": -0.25}, "window and patience must be above 0, hold at least 0"),
    ({"patience": 0.0}, "window and patience must be above 0, hold at least 0"),
    ({"threshold": 0.0}, r"threshold is a fraction between 0 \(excluded\) and 1"),
    ({"threshold": 1.01}, r"threshold is a fraction between 0 \(excluded\) and 1"),
])
def test_settings_out_of_range_are_refused_with_the_rule(fields: dict[str, float], message: str
                                                         ) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        RecoverySettings(**fields)
