"""Recovery, phase and loss maths on synthetic timelines."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.errors import InputError
from chaos.measure.loss import ReadBack, assess_loss
from chaos.measure.phases import phases
from chaos.measure.recovery import RecoverySettings, analyse_fault
from chaos.measure.stats import percentile
from chaos.records import Ack, LedgerWriter, Request, TimelineWriter, read_ledger, read_timeline

SETTINGS = RecoverySettings(window=1.0, threshold=0.99, hold=5.0, patience=2.0)
RATE = 100.0  # requests per second in the synthetic load
T0 = 1_700_000_000.0  # epoch seconds; everything below is relative to it


def steady(start: float, end: float, *, ok: bool = True, duration: float = 0.005,
           rate: float = RATE) -> list[Request]:
    """Requests started every 1/rate s in [start, end), each answered after `duration`."""
    count = round((end - start) * rate)
    return [Request(T0 + start + i / rate, duration, "GET /", 200 if ok else 503, ok)
            for i in range(count)]


def test_no_fault_effect_is_no_outage() -> None:
    impact = analyse_fault(steady(0, 30), T0 + 10, T0 + 30, SETTINGS)
    assert impact.time_to_first_error is None
    assert impact.recovered and impact.time_to_recover == 0 and impact.downtime == 0
    assert impact.failed_requests == 0 and impact.requests > 0


def test_one_clean_outage() -> None:
    timeline = steady(0, 10) + steady(10, 12, ok=False) + steady(12, 30)
    impact = analyse_fault(timeline, T0 + 10, T0 + 30, SETTINGS)
    assert impact.time_to_first_error == pytest.approx(0.005, abs=1e-6)
    assert impact.downtime == pytest.approx(2.0, abs=0.011)
    assert impact.recovered and impact.time_to_recover == pytest.approx(2.005, abs=1e-6)
    assert impact.failed_requests == 200
    assert len(impact.down_intervals) == 1


def test_frozen_edge_outage_is_measured_from_last_answer_to_next() -> None:
    """The edge answers nothing for 2 s: stalled requests end late; short-timeout probes fail."""
    stalled = [Request(T0 + 10 + i / RATE, (12.0 - (10 + i / RATE)) + 0.003, "GET /", 200, True)
               for i in range(200)]
    probes = [Request(T0 + 10 + i / 10, 1.0, "probe /healthz", 0, False, "ReadTimeout",
                      source="probe") for i in range(10)]
    timeline = steady(0, 10) + stalled + probes + steady(12, 30)
    impact = analyse_fault(timeline, T0 + 10, T0 + 30, SETTINGS)
    assert impact.downtime == pytest.approx(2.0, abs=0.02)
    assert impact.time_to_first_error == pytest.approx(1.0, abs=0.01)  # the first time-out
    assert impact.recovered and impact.time_to_recover == pytest.approx(2.0, abs=0.02)


def test_stall_with_no_bad_answer_still_fails_a_recovery_window() -> None:
    """A 3 s silence while a request waits is 0 % availability, even if it ends well."""
    timeline = steady(0, 10) + steady(10, 10.5, ok=False) + steady(10.5, 12) + [
        Request(T0 + 12, 1.9, "GET /slow", 200, True)] + steady(15, 40)
    impact = analyse_fault(timeline, T0 + 10, T0 + 40, SETTINGS)
    assert impact.recovered
    # Not 0.5: the stall broke it. Recovered when the stalled request was answered, at 13.9
    # (nothing was outstanding in the pause that follows, to 15).
    assert impact.time_to_recover == pytest.approx(3.9, abs=0.02)


def test_flapping_recovery_that_does_not_hold_is_not_a_recovery() -> None:
    timeline = (steady(0, 10) + steady(10, 11, ok=False) + steady(11, 12)
                + steady(12, 13, ok=False) + steady(13, 30))
    impact = analyse_fault(timeline, T0 + 10, T0 + 30, SETTINGS)
    assert impact.recovered
    assert impact.time_to_recover == pytest.approx(3.005, abs=1e-6)
    assert impact.downtime == pytest.approx(2.0, abs=0.02)
    assert len(impact.down_intervals) == 2


def test_slow_answers_count_as_bad() -> None:
    timeline = steady(0, 10) + steady(10, 12, duration=2.5) + steady(12.5, 30)
    impact = analyse_fault(timeline, T0 + 10, T0 + 30, SETTINGS)
    assert impact.slow_requests == 200 and impact.failed_requests == 0
    assert impact.time_to_first_error is not None and impact.downtime > 0


def test_outage_open_at_the_end_is_not_recovered_and_has_no_number() -> None:
    timeline = steady(0, 10) + steady(10, 20, ok=False)
    impact = analyse_fault(timeline, T0 + 10, T0 + 20, SETTINGS)
    assert not impact.recovered and impact.time_to_recover is None
    assert impact.not_recovered_reason and "still failing" in impact.not_recovered_reason
    assert impact.downtime == pytest.approx(10.0, abs=0.01)


def test_recovery_not_seen_held_before_the_end_is_not_recovered() -> None:
    timeline = steady(0, 10) + steady(10, 12, ok=False) + steady(12, 14)
    impact = analyse_fault(timeline, T0 + 10, T0 + 14, SETTINGS)
    assert not impact.recovered and impact.time_to_recover is None
    assert impact.not_recovered_reason and "ended before" in impact.not_recovered_reason


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError):
        RecoverySettings(threshold=1.5)
    with pytest.raises(ValueError):
        RecoverySettings(window=0)


def test_phases_split_at_fault_and_recovery() -> None:
    timeline = steady(0, 10) + steady(10, 12, ok=False, duration=0.001) + steady(12, 20, duration=0.02)
    before, during, after = phases(timeline, T0, T0 + 20, T0 + 10, T0 + 12)
    assert (before.name, during.name, after.name) == ("before", "during", "after")
    assert before.requests == 1000 and before.failed == 0 and before.throughput == pytest.approx(100)
    assert during.error_rate == 1.0 and during.good_throughput == 0
    assert after.p50 == pytest.approx(0.02) and after.p99 == pytest.approx(0.02)
    (whole,) = phases(timeline, T0, T0 + 20)
    assert whole.name == "run" and whole.requests == 2000


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0], 99) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile(list(range(101)), 95) == 95


def ack(i: int, at: float) -> Ack:
    return Ack(f"u{i}", f"sha{i}", 100, T0 + at)


def test_loss_counts_missing_corrupt_and_the_window() -> None:
    acks = [ack(i, i) for i in range(10)]
    reads = {f"u{i}": ReadBack(200, f"sha{i}") for i in range(10)}
    reads["u3"] = ReadBack(404, None)
    reads["u7"] = ReadBack(404, None)
    reads["u5"] = ReadBack(200, "something else")
    reads["u9"] = ReadBack(503, None, "storage: EIO")
    report = assess_loss(acks, reads, fault_at=T0 + 6)
    assert report.acknowledged == 10 and report.intact == 6
    assert report.missing_ids == ("u3", "u7") and report.corrupt_ids == ("u5",)
    assert report.unreadable_ids == ("u9",)
    assert set(report.lost_ids) == {"u3", "u5", "u7"} and report.lost == 3
    assert report.loss_window == pytest.approx((-3.0, 1.0))


def test_no_loss_has_no_window() -> None:
    report = assess_loss([ack(1, 1)], {"u1": ReadBack(200, "sha1")}, fault_at=T0)
    assert report.lost == 0 and report.loss_window is None and report.intact == 1


def test_timeline_and_ledger_files_round_trip(tmp_path: Path) -> None:
    writer = TimelineWriter(tmp_path / "timeline-a.csv", source="load")
    writer.add(T0 + 2, 0.5, "GET /", 200, True)
    writer.add(T0 + 1, 0.25, "POST /upload", 503, False, "HTTP 503\nstorage")
    writer.close()
    ledger = LedgerWriter(tmp_path / "ledger-a.csv")
    ledger.add("u1", "abc", 10, T0 + 1.5)
    ledger.close()
    timeline = read_timeline([tmp_path / "timeline-a.csv"])
    assert [r.name for r in timeline] == ["POST /upload", "GET /"]  # sorted by start
    assert timeline[0].error == "HTTP 503 storage" and not timeline[0].ok
    assert timeline[1].end == pytest.approx(T0 + 2.5)
    assert read_ledger([tmp_path / "ledger-a.csv"]) == [Ack("u1", "abc", 10, T0 + 1.5)]


def test_a_process_that_recorded_nothing_is_no_rows_not_an_error(tmp_path: Path) -> None:
    # A load process killed before its first row, or one that acknowledged no upload.
    (tmp_path / "ledger-empty.csv").write_bytes(b"")
    assert read_ledger([tmp_path / "ledger-empty.csv", tmp_path / "ledger-missing.csv"]) == []
    assert read_timeline([tmp_path / "ledger-empty.csv"]) == []


def test_the_header_and_every_acknowledgement_reach_the_file_at_once(tmp_path: Path) -> None:
    # Nothing closes these writers: what a SIGKILLed Locust leaves behind.
    ledger = LedgerWriter(tmp_path / "ledger.csv")
    timeline = TimelineWriter(tmp_path / "timeline.csv", source="load")
    assert (tmp_path / "timeline.csv").read_text().startswith("start,duration,name")
    assert read_ledger([tmp_path / "ledger.csv"]) == []
    ledger.add("u1", "abc", 10, T0)
    assert read_ledger([tmp_path / "ledger.csv"]) == [Ack("u1", "abc", 10, T0)]
    timeline.close()


@pytest.mark.parametrize("text, message", [
    ("\n", "expected start,duration"),
    ("when,what\n1,2\n", "header is when,what"),
    ("start,duration,name,status,ok,error,bytes,source\nsoon,1,x,200,1,,0,load\n"
     "1,1,x,200,1,,0,load\n", "not a timeline row"),
    ("start,duration,name,status,ok,error,bytes,source\n1,1,x\n2,1,x,200,1,,0,load\n",
     "expected 8 columns"),
])
def test_malformed_timeline_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "timeline.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as caught:
        read_timeline([path])
    assert str(path) in caught.value.render()


def test_short_last_row_of_a_killed_process_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    path.write_text("start,duration,name,status,ok,error,bytes,source\n1,1,x,200,1,,0,load\n2,0.")
    assert len(read_timeline([path])) == 1


def test_a_time_out_arriving_after_recovery_is_a_straggler_not_a_new_outage() -> None:
    straggler = Request(T0 + 11.5, 1.0, "probe /healthz", 0, False, "ReadTimeout", source="probe")
    timeline = steady(0, 10) + steady(10, 12, ok=False) + steady(12, 30) + [straggler]
    impact = analyse_fault(timeline, T0 + 10, T0 + 30, SETTINGS)
    assert len(impact.down_intervals) == 1
    assert impact.downtime == pytest.approx(2.0, abs=0.011)
    assert impact.time_to_recover == pytest.approx(2.005, abs=1e-6)
