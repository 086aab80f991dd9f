"""The run's records: the per-request timeline and the ledger of acknowledged uploads.

Written as CSV by every process that makes requests (Locust users, the prober),
one file per process, and merged after the run.  Times are wall-clock seconds
since the epoch (`time.time()`), the clock the harness times faults with.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from chaos.errors import InputError

TIMELINE_FIELDS = ("start", "duration", "name", "status", "ok", "error", "bytes", "source")
LEDGER_FIELDS = ("id", "sha256", "size", "acknowledged_at")
#: Buffered lines are written at least this often (a killed process loses at most this much).
FLUSH_EVERY = 0.5


@dataclass(frozen=True, slots=True)
class Request:
    """One request as the customer saw it."""

    start: float
    duration: float
    name: str
    status: int
    ok: bool
    error: str = ""
    bytes: int = 0
    source: str = "load"

    @property
    def end(self) -> float:
        """When the answer (or the error) arrived."""
        return self.start + self.duration


@dataclass(frozen=True, slots=True)
class Ack:
    """An upload the customer was told had succeeded (HTTP 201)."""

    id: str
    sha256: str
    size: int
    acknowledged_at: float


class _CsvWriter:
    """Appends rows to a CSV file, buffered, flushed every FLUSH_EVERY seconds.

    The header is flushed at once: a process killed before its first row
    leaves a file that reads as empty, never a 0-byte file of unknown shape.
    """

    def __init__(self, path: Path, fields: tuple[str, ...]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", newline="", buffering=1 << 16)
        self._csv = csv.writer(self._file)
        if new:
            self._csv.writerow(fields)
            self._file.flush()
        self._last_flush = time.monotonic()

    def _row(self, row: Iterable[object]) -> None:
        self._csv.writerow(row)
        now = time.monotonic()
        if now - self._last_flush >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        self._file.flush()
        self._last_flush = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()


class TimelineWriter(_CsvWriter):
    def __init__(self, path: Path, *, source: str) -> None:
        super().__init__(path, TIMELINE_FIELDS)
        self.source = source

    def add(self, start: float, duration: float, name: str, status: int, ok: bool, error: str = "",
            size: int = 0) -> None:
        self._row((f"{start:.6f}", f"{duration:.6f}", name, status, int(ok),
                   error.replace("\n", " ")[:200], size, self.source))


class LedgerWriter(_CsvWriter):
    def __init__(self, path: Path) -> None:
        super().__init__(path, LEDGER_FIELDS)

    def add(self, upload_id: str, sha256: str, size: int, acknowledged_at: float) -> None:
        # The customer was told it is stored: the row reaches the file now, so a
        # load process killed later (SIGKILL, OOM) cannot take it with it.
        self._csv.writerow((upload_id, sha256, size, f"{acknowledged_at:.6f}"))
        self.flush()


def read_timeline(paths: Iterable[Path]) -> list[Request]:
    """Every request in the files, sorted by start; malformed files are an InputError."""
    requests: list[Request] = []
    for path in paths:
        for line, row in _rows(path, TIMELINE_FIELDS):
            try:
                requests.append(Request(float(row["start"]), float(row["duration"]), row["name"],
                                        int(row["status"]), row["ok"] == "1", row["error"],
                                        int(row["bytes"] or 0), row["source"]))
            except (TypeError, ValueError) as e:
                raise InputError(f"{path}:{line}: not a timeline row ({e})") from None
    requests.sort(key=lambda r: r.start)
    return requests


def read_ledger(paths: Iterable[Path]) -> list[Ack]:
    """Every acknowledged upload in the files, by acknowledgement time."""
    acks: dict[str, Ack] = {}
    for path in paths:
        for line, row in _rows(path, LEDGER_FIELDS):
            try:
                ack = Ack(row["id"], row["sha256"], int(row["size"]), float(row["acknowledged_at"]))
            except (TypeError, ValueError) as e:
                raise InputError(f"{path}:{line}: not a ledger row ({e})") from None
            acks[ack.id] = ack  # an id acknowledged twice: the newest content counts
    return sorted(acks.values(), key=lambda a: a.acknowledged_at)


def _rows(path: Path, fields: tuple[str, ...]) -> Iterable[tuple[int, dict[str, str]]]:
    """The rows of one records file with their line numbers.

    A missing or 0-byte file is a process that recorded nothing (it made no
    request, or acknowledged no upload, before it ended or was killed): no rows.
    """
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return
    except OSError as e:
        raise InputError(f"{path}: cannot read: {e.strerror}") from None
    if not text:
        return
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None:
        raise InputError(f"{path}: no header; expected {','.join(fields)}")
    if tuple(reader.fieldnames) != fields:
        raise InputError(f"{path}:1: header is {','.join(reader.fieldnames)}; "
                         f"expected {','.join(fields)}")
    rows = [(reader.line_num, row) for row in reader]
    for index, (line, row) in enumerate(rows):
        if None in row or any(v is None for v in row.values()):
            if index == len(rows) - 1:
                continue  # a process killed mid-write leaves a short last row
            raise InputError(f"{path}:{line}: expected {len(fields)} columns")
        yield line, row
