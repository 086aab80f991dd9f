"""The hosting mix, for Locust: only ever loaded by a Locust process, never by the harness.

Every request is written to this process's timeline file, and every upload
acknowledged with a 201 to its ledger file, both in ``DRILL_LOAD_OUT``; the
harness merges the files after the run.  Configuration comes from the
environment (see :mod:`chaos.load.settings` for names and defaults), so the
same file serves one process or Locust's master and workers.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import uuid
from typing import Any

import gevent
from locust import between, events, task
from locust.contrib.fasthttp import FastHttpUser

from chaos.load.settings import LoadSettings
from chaos.records import FLUSH_EVERY, LedgerWriter, TimelineWriter

SETTINGS = LoadSettings.from_environment(os.environ)
STATIC_PAGES = ("/", "/about.html", "/contact.html", "/static/style.css")


class _Recorder:
    """This process's timeline and ledger, opened on first use (workers fork from the master)."""

    def __init__(self) -> None:
        self.pid: int | None = None
        self.timeline: TimelineWriter | None = None
        self.ledger: LedgerWriter | None = None

    def files(self) -> tuple[TimelineWriter, LedgerWriter]:
        if self.pid != os.getpid() or self.timeline is None or self.ledger is None:
            self.pid = os.getpid()
            out = SETTINGS.out_dir
            self.timeline = TimelineWriter(out / f"timeline-load-{self.pid}.csv", source="load")
            self.ledger = LedgerWriter(out / f"ledger-{self.pid}.csv")
        return self.timeline, self.ledger

    def flush(self) -> None:
        if self.timeline is not None and self.pid == os.getpid():
            self.timeline.flush()

    def close(self) -> None:
        if self.timeline is not None and self.pid == os.getpid():
            self.timeline.close()
        if self.ledger is not None and self.pid == os.getpid():
            self.ledger.close()


RECORDER = _Recorder()


def _record_request(request_type: str, name: str, response_time: float, response_length: int,
                    response: Any = None, exception: BaseException | None = None,
                    start_time: float | None = None, **_: Any) -> None:
    timeline, _ledger = RECORDER.files()
    started = start_time if start_time is not None else time.time() - response_time / 1000
    status = int(getattr(response, "status_code", 0) or 0)
    error = "" if exception is None else f"{type(exception).__name__}: {exception}"
    timeline.add(started, response_time / 1000, f"{request_type} {name}", status, exception is None,
                 error, response_length or 0)


if SETTINGS.record:
    events.request.add_listener(_record_request)


@events.quitting.add_listener
def _flush_on_quitting(**_: Any) -> None:
    # Locust fires `quitting` before it stops the users: requests still in flight (an
    # upload about to be acknowledged) must find the files open.
    RECORDER.flush()


@events.quit.add_listener
def _close(**_: Any) -> None:
    # After the users stopped, just before the process exits.
    RECORDER.close()


@events.test_stop.add_listener
def _flush_on_stop(**_: Any) -> None:
    RECORDER.flush()


def _flush_periodically() -> None:
    # The timeline is flushed as rows come; when they stop coming (the site
    # hangs), this bounds what a killed process can lose to FLUSH_EVERY.
    while True:
        gevent.sleep(FLUSH_EVERY)
        RECORDER.flush()


@events.init.add_listener
def _start_flusher(**_: Any) -> None:
    gevent.spawn(_flush_periodically)


class HostingUser(FastHttpUser):
    """A visitor of the hosted sites: browses, uploads files and reads them back."""

    wait_time = between(SETTINGS.wait_min, SETTINGS.wait_max)
    network_timeout = SETTINGS.timeout
    connection_timeout = SETTINGS.timeout

    def on_start(self) -> None:
        # This user's acknowledged uploads: (id, sha256).
        self.acknowledged: list[tuple[str, str]] = []

    @task(SETTINGS.mix.browse_static)
    def browse_static(self) -> None:
        self.client.get(random.choice(STATIC_PAGES), name="static")

    @task(SETTINGS.mix.browse_db)
    def browse_db(self) -> None:
        self.client.get(f"/page/{random.randint(1, 20)}", name="/page/[n]")

    @task(SETTINGS.mix.upload)
    def upload(self) -> None:
        size = random.randint(SETTINGS.upload_min, SETTINGS.upload_max)
        body = random.randbytes(size)
        digest = hashlib.sha256(body).hexdigest()
        upload_id = uuid.uuid4().hex
        # FastHttpSession sends bytes as they are; its annotation only names str and dict.
        with self.client.post("/upload", data=body, name="/upload", catch_response=True,  # type: ignore[arg-type]
                              headers={"X-Upload-Id": upload_id,
                                       "Content-Type": "application/octet-stream"}) as answer:
            acknowledged_at = time.time()
            if answer.status_code != 201:
                answer.failure(f"HTTP {answer.status_code}")
                return
            try:
                acknowledged = answer.json()
            except ValueError:
                answer.failure("201 without JSON")
                return
            if acknowledged.get("sha256") != digest or acknowledged.get("id") != upload_id:
                answer.failure("acknowledged with the wrong id or sha256")
                return
        # Acknowledged: the customer was told it is stored. It must never be lost.
        if SETTINGS.record:
            _timeline, ledger = RECORDER.files()
            ledger.add(upload_id, digest, size, acknowledged_at)
        self.acknowledged.append((upload_id, digest))

    @task(SETTINGS.mix.read)
    def read_back(self) -> None:
        if not self.acknowledged:
            return
        upload_id, digest = random.choice(self.acknowledged)
        with self.client.get(f"/upload/{upload_id}", name="/upload/[id]",
                             catch_response=True) as answer:
            if answer.status_code == 200 and hashlib.sha256(answer.content or b"").hexdigest() != digest:
                answer.failure("read back different bytes")
        if answer.status_code == 404:
            # Gone (a restore from an older backup): counted once here, listed by the
            # read-back at the end; asking again would only keep the site looking down.
            self.acknowledged.remove((upload_id, digest))
