"""What the customers see right now, read from the load's timelines as they grow.

The drill's live progress (request rate, error rate) and its abort rules
(availability below X for Y seconds) both read the same per-second counts.
"""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict
from pathlib import Path


class LiveCounts:
    """Per-second (answers, good answers) of every timeline in a folder, read incrementally."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._offsets: dict[Path, int] = {}
        self._seconds: dict[int, list[int]] = defaultdict(lambda: [0, 0])

    def refresh(self) -> None:
        for path in sorted(self.folder.glob("timeline-*.csv")):
            offset = self._offsets.get(path, 0)
            try:
                with path.open("rb") as f:
                    f.seek(offset)
                    chunk = f.read()
            except OSError:
                continue
            # Only whole lines: the writer may be in the middle of one.
            end = chunk.rfind(b"\n") + 1
            if end == 0:
                continue
            self._offsets[path] = offset + end
            for row in csv.reader(io.StringIO(chunk[:end].decode(errors="replace"))):
                if len(row) < 5 or row[0] == "start":
                    continue
                try:
                    second = int(float(row[0]))
                except ValueError:
                    continue
                counts = self._seconds[second]
                counts[0] += 1
                counts[1] += row[4] == "1"

    def window(self, seconds: float, now: float | None = None) -> tuple[int, int]:
        """(answers, good answers) over the last `seconds` (whole seconds, the current one left out)."""
        end = int(now if now is not None else time.time())
        total = good = 0
        for second in range(end - max(1, int(seconds)), end):
            counts = self._seconds.get(second)
            if counts:
                total += counts[0]
                good += counts[1]
        return total, good

    def availability(self, seconds: float, now: float | None = None) -> float | None:
        total, good = self.window(seconds, now)
        return None if total == 0 else good / total
