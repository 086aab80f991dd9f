"""The timeline and ledger files: what reaches the disk when, and what reads back."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from chaos import records
from chaos.errors import InputError
from chaos.records import (
    Ack,
    LedgerWriter,
    Request,
    TimelineWriter,
    read_ledger,
    read_timeline,
)

T0 = 1_700_000_000.0
HEADER = "start,duration,name,status,ok,error,bytes,source\r\n"


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The writers' monotonic clock, set by the test (starts at 0)."""
    now = [0.0]
    monkeypatch.setattr(records, "time", SimpleNamespace(monotonic=lambda: now[0]))
    return now


def test_a_timeline_row_reads_back_as_the_request_written(tmp_path: Path) -> None:
    writer = TimelineWriter(tmp_path / "runs" / "r1" / "timeline-probe.csv", source="probe")
    writer.add(T0 + 1, 0.5, "probe /healthz", 200, True)
    writer.add(T0 + 2, 0.25, "POST /upload", 0, False, "x" * 150 + "\n" + "y" * 99, size=123)
    writer.close()
    assert read_timeline([tmp_path / "runs" / "r1" / "timeline-probe.csv"]) == [
        Request(T0 + 1, 0.5, "probe /healthz", 200, True, "", 0, "probe"),
        # The error is kept on one line and cut at 200 characters.
        Request(T0 + 2, 0.25, "POST /upload", 0, False, "x" * 150 + " " + "y" * 49, 123, "probe"),
    ]


def test_a_timeline_row_without_bytes_reads_as_zero_bytes(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    path.write_text(HEADER + "1.5,0.25,GET /,503,0,HTTP 503,,load\r\n")
    assert read_timeline([path]) == [Request(1.5, 0.25, "GET /", 503, False, "HTTP 503", 0, "load")]


def test_bytes_that_are_not_utf8_are_replaced_not_fatal(tmp_path: Path) -> None:
    path = tmp_path / "timeline.csv"
    path.write_bytes(HEADER.encode() + b"1.5,0.25,GET /,0,0,bad \xff byte,0,load\r\n")
    [request] = read_timeline([path])
    assert request.error == "bad \ufffd byte"


def test_a_records_path_that_cannot_be_read_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="^" + str(tmp_path) + ": cannot read: Is a directory$"):
        read_timeline([tmp_path])


def test_an_empty_file_gets_its_header_and_a_second_writer_appends_without_one(
        tmp_path: Path) -> None:
    path = tmp_path / "ledger-a.csv"
    path.write_bytes(b"")  # what a process killed before its first write leaves
    first = LedgerWriter(path)
    first.add("u1", "sha1", 10, T0 + 1)
    first.close()
    second = LedgerWriter(path)  # the same process's file, opened again
    second.add("u2", "sha2", 20, T0 + 2)
    second.close()
    assert path.read_bytes() == (b"id,sha256,size,acknowledged_at\r\n"
                                 b"u1,sha1,10,1700000001.000000\r\n"
                                 b"u2,sha2,20,1700000002.000000\r\n")


def test_the_ledger_is_in_acknowledgement_order_and_an_id_twice_keeps_the_newest(
        tmp_path: Path) -> None:
    (tmp_path / "ledger-a.csv").write_text("id,sha256,size,acknowledged_at\n"
                                           "u3,sha3,30,1700000003.0\nu1,old,10,1700000001.0\n")
    (tmp_path / "ledger-b.csv").write_text("id,sha256,size,acknowledged_at\n"
                                           "u2,sha2,20,1700000002.0\nu1,new,11,1700000004.0\n")
    assert read_ledger([tmp_path / "ledger-a.csv", tmp_path / "ledger-b.csv"]) == [
        Ack("u2", "sha2", 20, T0 + 2), Ack("u3", "sha3", 30, T0 + 3), Ack("u1", "new", 11, T0 + 4)]


def test_a_malformed_ledger_row_is_located(tmp_path: Path) -> None:
    path = tmp_path / "ledger.csv"
    path.write_text("id,sha256,size,acknowledged_at\nu1,sha1,10,1.0\nu2,sha2,big,2.0\nu3,sha3,1,3.0\n")
    with pytest.raises(InputError, match=rf"^{path}:3: not a ledger row \(invalid literal"):
        read_ledger([path])


def test_timeline_rows_reach_the_file_every_half_second(tmp_path: Path, clock: list[float]
                                                        ) -> None:
    path = tmp_path / "timeline.csv"
    writer = TimelineWriter(path, source="load")
    rows_on_disk = []
    for now in (0.25, 0.5, 0.75, 1.0):
        clock[0] = now
        writer.add(T0 + now, 0.125, "GET /", 200, True)
        rows_on_disk.append(len(read_timeline([path])))
    # Buffered at 0.25; flushed at 0.5 (half a second since the header); buffered again at
    # 0.75 (a quarter since that flush); flushed at 1.0.
    assert rows_on_disk == [0, 2, 2, 4]
    writer.close()


def test_between_flushes_a_timeline_buffers_about_64_kib_at_most(tmp_path: Path,
                                                                 clock: list[float]) -> None:
    # The clock stands still: no flush is due. Rows of 1034 bytes reach the file once the
    # 64 KiB buffer overflows (after 64 rows at the earliest, and within the 8 KiB the text
    # layer holds on top of it, so 73 at the latest).
    path = tmp_path / "timeline.csv"
    writer = TimelineWriter(path, source="load")
    header = path.stat().st_size
    rows = 0
    while path.stat().st_size == header and rows < 500:
        writer.add(1.0, 0.5, "x" * 1000, 200, True)
        rows += 1
    assert 64 <= rows <= 73
    writer.close()
