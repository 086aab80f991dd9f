"""This process's timeline and ledger files, shared by the listener and `ledger.acknowledge`.

No Locust here: the listener (`chaos_harness_listener.py`) and the ledger API both write
through the one recorder of their process.  Files are opened on first use, in the folder
``DRILL_LOAD_OUT`` names, because Locust's workers fork from the master: each process
writes its own pair.  Without ``DRILL_LOAD_OUT`` (the same locustfile run by plain
`locust`), nothing is recorded.
"""

from __future__ import annotations

import os
from pathlib import Path

from chaos.records import LedgerWriter, TimelineWriter

OUT_VARIABLE = "DRILL_LOAD_OUT"
RECORD_VARIABLE = "DRILL_LOAD_RECORD"


class Recorder:
    """The timeline and ledger of the current process, opened on first use."""

    def __init__(self) -> None:
        self._pid: int | None = None
        self._timeline: TimelineWriter | None = None
        self._ledger: LedgerWriter | None = None

    @staticmethod
    def out_dir() -> Path | None:
        """Where the harness wants the records; None when recording is off or not asked for."""
        out = os.environ.get(OUT_VARIABLE)
        if not out or os.environ.get(RECORD_VARIABLE, "1") == "0":
            return None
        return Path(out)

    def _mine(self) -> bool:
        return self._pid == os.getpid()

    def _open(self) -> None:
        if not self._mine():  # first use, or a worker forked from the master: files of its own
            self._pid, self._timeline, self._ledger = os.getpid(), None, None

    def timeline(self) -> TimelineWriter | None:
        self._open()
        if self._timeline is None and (out := self.out_dir()) is not None:
            self._timeline = TimelineWriter(out / f"timeline-load-{self._pid}.csv", source="load")
        return self._timeline

    def ledger(self) -> LedgerWriter | None:
        self._open()
        if self._ledger is None and (out := self.out_dir()) is not None:
            self._ledger = LedgerWriter(out / f"ledger-{self._pid}.csv")
        return self._ledger

    def flush(self) -> None:
        if self._mine() and self._timeline is not None:
            self._timeline.flush()

    def close(self) -> None:
        if self._mine():
            for writer in (self._timeline, self._ledger):
                if writer is not None:
                    writer.close()


RECORDER = Recorder()
