"""Reading acknowledged uploads back (chaos.load.verify) against a small HTTP server on 127.0.0.1.

The waits between retries are recorded instead of slept, so the tests are fast and the
back-off is checked to the value.
"""

from __future__ import annotations

import dataclasses
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from typing import Any

import pytest
import requests

from chaos.load import verify
from chaos.load.http_check import StatusMatch
from chaos.load.verify import read_back
from chaos.measure.loss import ReadBack
from chaos.records import Ack

#: sha256 of b"hello", written out: the expected digest is not computed by the code under test.
HELLO_SHA256 = "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
LONG_ERROR = "E" * 150 + "F" * 150


class Edge(BaseHTTPRequestHandler):
    """GET /upload/<id>: an answer chosen by the id, with keep-alive (HTTP/1.1)."""

    protocol_version = "HTTP/1.1"
    hits: dict[str, int]
    clients: set[int]
    lock = threading.Lock()

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if self.path.startswith("/notes/"):  # another app: its own path, Host and status
            return self._notes()
        upload = self.path.removeprefix("/upload/")
        with self.lock:
            self.hits[upload] = self.hits.get(upload, 0) + 1
            self.clients.add(self.client_address[1])
            hit = self.hits[upload]
        if upload == "slow":
            time.sleep(0.5)
        status, body = {
            "intact": (200, b"hello"),
            "missing": (404, b"no such upload"),
            "gone": (410, b"gone"),
            "flaky": (503, b"try again") if hit == 1 else (200, b"hello"),
            "broken": (500, LONG_ERROR.encode()),
            "slow": (200, b"hello"),
        }.get(upload, (404, b"no such upload"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _notes(self) -> None:
        note = self.path.removeprefix("/notes/")
        with self.lock:
            self.paths.append((self.path, self.headers.get("Host", "")))
        status, body = ((203, b"hello") if note in ("n%2F1", "kept") else (404, b"")) \
            if self.headers.get("Host") == "notes.example" else (421, b"wrong host")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        pass  # quiet: pytest shows stderr on failure only, but nothing here is news


@pytest.fixture
def edge() -> Iterator[tuple[str, type[Edge]]]:
    handler = type("EdgeForTest", (Edge,), {"hits": {}, "clients": set(), "paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def waits(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The back-off waits read_back asks for, recorded (and not slept)."""
    asked: list[float] = []
    monkeypatch.setattr(verify, "time", SimpleNamespace(sleep=asked.append))
    return asked


def acks(*ids: str) -> list[Ack]:
    return [Ack(i, HELLO_SHA256, 5, 0.0) for i in ids]


def test_each_upload_is_read_back_with_retries_only_for_answers_that_prove_nothing(
        edge: tuple[str, type[Edge]], waits: list[float]) -> None:
    url, handler = edge
    got = read_back(url, acks("intact", "missing", "gone", "flaky", "broken"), workers=2,
                    timeout=5.0, retries=2)
    assert got == {
        "intact": ReadBack(200, HELLO_SHA256, "", found=True),
        "missing": ReadBack(404, None, "no such upload", found=False),
        "gone": ReadBack(410, None, "gone", found=False),
        "flaky": ReadBack(200, HELLO_SHA256, "", found=True),  # the 503 was retried
        "broken": ReadBack(500, None, LONG_ERROR[:200], found=False),  # an error's text is cut at 200
    }
    # 4xx is an answer; 5xx is tried again, up to 1 + retries times in all.
    assert handler.hits == {"intact": 1, "missing": 1, "gone": 1, "flaky": 2, "broken": 3}
    # 0.2 s after a first failed attempt, 0.4 s after a second; none after the last.
    assert sorted(waits) == [0.2, 0.2, 0.4]


def test_an_edge_that_refuses_connections_gives_no_answer_after_every_retry(
        waits: list[float]) -> None:
    with socket.socket() as probe:  # a port nothing listens on once this closes
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    got = read_back(f"http://127.0.0.1:{port}", acks("u1"), retries=1, timeout=5.0)
    assert got == {"u1": ReadBack(0, None, "ConnectionError", found=False)}
    assert waits == [0.2]


def test_a_read_back_slower_than_the_timeout_is_no_answer(edge: tuple[str, type[Edge]],
                                                           waits: list[float]) -> None:
    url, handler = edge
    got = read_back(url, acks("slow"), timeout=0.25, retries=0)
    assert got == {"slow": ReadBack(0, None, "ReadTimeout", found=False)}
    assert handler.hits == {"slow": 1} and waits == []


def test_each_worker_keeps_one_connection_for_all_its_reads(edge: tuple[str, type[Edge]],
                                                            waits: list[float]) -> None:
    url, handler = edge
    got = read_back(url, acks("intact", "missing", "gone"), workers=1)
    assert set(got) == {"intact", "missing", "gone"}
    assert len(handler.clients) == 1  # one client port: the session's connection, reused


def test_with_no_attempt_allowed_every_upload_is_unreadable_not_tried(
        edge: tuple[str, type[Edge]], waits: list[float]) -> None:
    url, handler = edge
    assert read_back(url, acks("intact"), retries=-1) == \
        {"intact": ReadBack(0, None, "not tried", found=False)}
    assert handler.hits == {} and waits == []


class FakeSession:
    """Stands for requests.Session: records each GET, and keeps the first ones in flight
    until nine are (at most 0.5 s), so the pool's size shows as the most GETs in flight."""

    lock = threading.Lock()
    arrived = threading.Condition(lock)
    in_flight = 0
    peak = 0
    calls: list[tuple[str, float, str]] = []

    def get(self, url: str, *, timeout: float, headers: dict[str, str] | None = None
            ) -> SimpleNamespace:
        cls = FakeSession
        with cls.arrived:
            cls.calls.append((url, timeout, threading.current_thread().name))
            cls.in_flight += 1
            cls.peak = max(cls.peak, cls.in_flight)
            cls.arrived.notify_all()
            cls.arrived.wait_for(lambda: cls.in_flight >= 9 or len(cls.calls) > 9, timeout=0.5)
            cls.in_flight -= 1
        return SimpleNamespace(status_code=503, content=b"", text="busy")


def test_by_default_eight_workers_read_with_a_10_s_timeout_and_3_retries(
        monkeypatch: pytest.MonkeyPatch, waits: list[float]) -> None:
    for name, fresh in (("calls", []), ("in_flight", 0), ("peak", 0)):
        monkeypatch.setattr(FakeSession, name, fresh)
    monkeypatch.setattr(requests, "Session", FakeSession)
    got = read_back("http://edge", acks(*(f"u{i}" for i in range(9))))
    assert got == {f"u{i}": ReadBack(503, None, "busy", found=False) for i in range(9)}
    assert FakeSession.peak == 8
    assert sorted(url for url, _, _ in FakeSession.calls) == sorted(
        f"http://edge/upload/u{i}" for i in range(9) for _ in range(4))
    assert {timeout for _, timeout, _ in FakeSession.calls} == {10.0}
    assert all(name.startswith("verify_") for _, _, name in FakeSession.calls)
    assert sorted(waits) == pytest.approx([0.2] * 9 + [0.4] * 9 + [0.6] * 9)


NOTES = verify.ReadBackSpec("/notes/{id}", StatusMatch.parse("2xx"), headers=(("Host", "notes.example"),))


def test_another_apps_writes_are_read_where_and_as_its_read_back_says(
        edge: tuple[str, type[Edge]], waits: list[float]) -> None:
    url, handler = edge
    got = read_back(url + "/", [Ack("n/1", HELLO_SHA256, 5, 0.0), Ack("gone", "", 0, 0.0)], NOTES)
    assert got == {"n/1": ReadBack(203, HELLO_SHA256, "", found=True),
                   "gone": ReadBack(404, None, "", found=False)}
    # The id as one path segment, the base's slash not doubled, the Host it needs.
    assert sorted(handler.paths) == [("/notes/gone", "notes.example"),
                                     ("/notes/n%2F1", "notes.example")]


def test_compared_by_status_a_read_says_so_whatever_happens(
        edge: tuple[str, type[Edge]], waits: list[float]) -> None:
    url, _ = edge
    status_only = dataclasses.replace(NOTES, compare="status")
    assert read_back(url, acks("kept"), status_only) == \
        {"kept": ReadBack(203, None, "", found=True, compare_content=False)}
    assert read_back(url, acks("kept"), status_only, retries=-1) == \
        {"kept": ReadBack(0, None, "not tried", found=False, compare_content=False)}
    assert read_back("http://127.0.0.1:9", acks("kept"), status_only, retries=0) == \
        {"kept": ReadBack(0, None, "ConnectionError", found=False, compare_content=False)}
