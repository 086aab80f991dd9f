"""An independent prober: a few requests a second to `/healthz` through the edge.

It measures recovery even when no load runs.  Probes are sent on a fixed
schedule, each on a new connection and in its own thread, so one that hangs
(a frozen edge) never delays the next.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from chaos.records import TimelineWriter

PROBE_NAME = "probe /healthz"


class Prober:
    """Probes `url` + `/healthz` `rate` times a second until stopped."""

    def __init__(self, url: str, out: Path, *, rate: float = 10.0, timeout: float = 1.0) -> None:
        self.url = url.rstrip("/") + "/healthz"
        self.rate = rate
        self.timeout = timeout
        self._writer = TimelineWriter(out, source="probe")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=int(rate * (timeout + 1)) + 2,
                                        thread_name_prefix="probe")
        self._scheduler = threading.Thread(target=self._schedule, name="prober", daemon=True)
        self.sent = 0

    def start(self) -> Prober:
        self._scheduler.start()
        return self

    def stop(self) -> None:
        """Stop sending, wait for probes in flight (at most `timeout`), write everything."""
        self._stop.set()
        self._scheduler.join()
        self._pool.shutdown(wait=True)
        with self._lock:
            self._writer.close()

    def __enter__(self) -> Prober:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _schedule(self) -> None:
        interval = 1.0 / self.rate
        next_at = time.monotonic()
        while not self._stop.is_set():
            self._pool.submit(self._probe)
            self.sent += 1
            next_at += interval
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def _probe(self) -> None:
        started = time.time()
        clock = time.perf_counter()
        status, ok, error, size = 0, False, "", 0
        try:
            answer = requests.get(self.url, timeout=self.timeout, headers={"Connection": "close"})
            status, size = answer.status_code, len(answer.content)
            ok = answer.status_code == 200
            if not ok:
                error = f"HTTP {status}: {answer.text[:80]}"
        except requests.RequestException as e:
            error = f"{type(e).__name__}"
        duration = time.perf_counter() - clock
        with self._lock:
            self._writer.add(started, duration, PROBE_NAME, status, ok, error, size)
