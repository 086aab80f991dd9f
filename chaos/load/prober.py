"""An independent prober: a few requests a second to the site's health path.

It measures recovery even when no load runs.  Probes are sent on a fixed
schedule, each on a new connection and in its own thread, so one that hangs
(a frozen edge) never delays the next.  What it asks and what counts as a good
answer come from a :class:`ProbeSpec` (the scenario's `probe:` section).
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import requests

from chaos.load.http_check import ANY_2XX, StatusMatch
from chaos.records import TimelineWriter

#: What the bundled app answers on when it can take writes; any other stack: its home page.
BUNDLED_PATH = "/healthz"
DEFAULT_PATH = "/"


@dataclass(frozen=True)
class ProbeSpec:
    """What a probe asks, and what answer counts as up."""

    path: str = DEFAULT_PATH
    method: str = "GET"
    expect_status: StatusMatch = ANY_2XX
    #: A substring the body must hold, when given.
    expect_body: str | None = None
    rate: float = 10.0
    timeout: float = 1.0
    #: Sent with every probe (a Host for a name-based site, a token).
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def name(self) -> str:
        """The probes' name in the timeline."""
        return f"probe {self.method} {self.path}"

    def judge(self, status: int, body: bytes) -> str:
        """Why an answer is not good ('' when it is)."""
        if status not in self.expect_status:
            return f"HTTP {status} (expected {self.expect_status}): {body[:80].decode(errors='replace')}"
        if self.expect_body is not None and self.expect_body.encode() not in body:
            return f"HTTP {status} without {self.expect_body!r} in the body"
        return ""


class Prober:
    """Probes `url` + the spec's path `rate` times a second until stopped."""

    def __init__(self, url: str, out: Path, spec: ProbeSpec | None = None, *,
                 rate: float | None = None, timeout: float | None = None) -> None:
        spec = spec or ProbeSpec()
        self.spec = spec
        self.url = url.rstrip("/") + spec.path
        self.rate = spec.rate if rate is None else rate
        self.timeout = spec.timeout if timeout is None else timeout
        self._writer = TimelineWriter(out, source="probe")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=int(self.rate * (self.timeout + 1)) + 2,
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
        status, error, size = 0, "", 0
        try:
            answer = requests.request(self.spec.method, self.url, timeout=self.timeout,
                                      headers={**dict(self.spec.headers), "Connection": "close"})
            status, size = answer.status_code, len(answer.content)
            error = self.spec.judge(status, answer.content)
        except requests.RequestException as e:
            error = f"{type(e).__name__}"
        duration = time.perf_counter() - clock
        with self._lock:
            self._writer.add(started, duration, self.spec.name, status, not error, error, size)
