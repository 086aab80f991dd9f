"""The Locust process as the harness runs it, against a local HTTP server (no Docker)."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos.load.runner import LoadPlan, LocustProcess
from chaos.load.settings import LoadSettings, Mix
from chaos.records import read_ledger, read_timeline

pytestmark = pytest.mark.slow


class _Site(BaseHTTPRequestHandler):
    """Pages answer 200; an upload is acknowledged as the bundled app does it (201 + JSON)."""

    def do_GET(self) -> None:  # noqa: N802 — http.server's naming
        self._answer(200, b"<h1>a page</h1>", "text/html")

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        ack = {"id": self.headers.get("X-Upload-Id"), "sha256": hashlib.sha256(body).hexdigest(),
               "size": len(body)}
        self._answer(201, json.dumps(ack).encode(), "application/json")

    def _answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Site)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("workers", [0, 2])
def test_a_locust_started_with_sigint_ignored_still_stops_cleanly(site: str, tmp_path: Path,
                                                                   workers: int) -> None:
    # What a CI runner does: jobs start with SIGINT ignored, and children inherit it. Locust
    # (one process, or a master and its workers, who stop each other with SIGINT) must
    # still stop when the harness stops it, every acknowledgement in its ledger, not be killed.
    settings = LoadSettings(tmp_path, Mix.parse("browse_static=1,upload=1"),
                            upload_min=100, upload_max=200, wait_min=0.05, wait_max=0.1)
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        locust = LocustProcess(LoadPlan(site, settings, users=4, duration=3600, workers=workers))
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        deadline = time.monotonic() + 60
        while not read_ledger(tmp_path.glob("ledger-*.csv")):
            assert locust.running(), locust.tail()
            assert time.monotonic() < deadline, "no upload acknowledged within 60 s"
            time.sleep(0.2)
    finally:
        locust.stop(grace=15)
    assert locust.process.returncode == 0, f"killed, not stopped: {locust.process.returncode}"
    assert "Response time percentiles" in locust.output.read_text()  # Locust's own summary
    # Its own report, also when stopped (a drill stops it; Locust alone writes none then),
    # and its CSV stats (as of its last write: Locust rewrites them every second, and a
    # master hears from its workers every 3 s).
    assert "HostingUser" in (tmp_path / "locust.html").read_text()
    assert (tmp_path / "locust_stats.csv").read_text().startswith("Type,Name,Request Count")
    requests = read_timeline(tmp_path.glob("timeline-*.csv"))
    acks = read_ledger(tmp_path.glob("ledger-*.csv"))
    uploads = [r for r in requests if r.name == "POST /upload" and r.ok]
    assert acks and len(acks) == len(uploads)  # every acknowledgement reached the ledger
