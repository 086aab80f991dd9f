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
        self._asked: tuple[str | None, str | None] = (None, None)
        self._out: Path | None = None
        self._timeline: TimelineWriter | None = None
        self._ledger: LedgerWriter | None = None

    @staticmethod
    def out_dir() -> Path | None:
        """Where the harness wants the records; None when recording is off or not asked for."""
        return _out_dir(os.environ.get(OUT_VARIABLE), os.environ.get(RECORD_VARIABLE))

    def _mine(self) -> bool:
        return self._pid == os.getpid()

    def _open(self) -> None:
        # Called for every request: the environment's two strings, not a Path, are compared.
        asked = (os.environ.get(OUT_VARIABLE), os.environ.get(RECORD_VARIABLE))
        if not self._mine() or asked != self._asked:
            # First use, a worker forked from the master (files of its own), or another
            # folder asked for: the files already open stay with what they recorded.
            if self._mine():
                self.close()
            self._pid, self._asked, self._out = os.getpid(), asked, _out_dir(*asked)
            self._timeline = self._ledger = None

    def timeline(self) -> TimelineWriter | None:
        self._open()
        if self._timeline is None and self._out is not None:
            self._timeline = TimelineWriter(self._out / f"timeline-load-{self._pid}.csv",
                                            source="load")
        return self._timeline

    def ledger(self) -> LedgerWriter | None:
        self._open()
        if self._ledger is None and self._out is not None:
            self._ledger = LedgerWriter(self._out / f"ledger-{self._pid}.csv")
        return self._ledger

    def flush(self) -> None:
        if self._mine() and self._timeline is not None:
            self._timeline.flush()

    def close(self) -> None:
        if self._mine():
            for writer in (self._timeline, self._ledger):
                if writer is not None:
                    writer.close()


def _out_dir(out: str | None, record: str | None) -> Path | None:
    return Path(out) if out and record != "0" else None


RECORDER = Recorder()
