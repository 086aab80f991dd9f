"""The harness's listener, loaded by Locust beside the traffic's own locustfile.

    locust -f chaos_harness_listener.py,their_locustfile.py

Every request any User class makes (through Locust's `request` event: HttpUser,
FastHttpUser, or a client of their own that fires it) lands in this process's
timeline file; `chaos.load.ledger` writes acknowledged writes through the same
recorder.  It defines no User class, so theirs run unmodified.  Only ever loaded
by a Locust process, never by the harness.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.env import Environment
from locust.html import get_html_report
from locust.runners import WorkerRunner

from chaos.load.recorder import RECORDER
from chaos.records import FLUSH_EVERY


def _record_request(request_type: str, name: str, response_time: float, response_length: int,
                    response: Any = None, exception: BaseException | None = None,
                    start_time: float | None = None, **_: Any) -> None:
    timeline = RECORDER.timeline()
    if timeline is None:
        return
    started = start_time if start_time is not None else time.time() - response_time / 1000
    status = int(getattr(response, "status_code", 0) or 0)
    error = "" if exception is None else f"{type(exception).__name__}: {exception}"
    timeline.add(started, response_time / 1000, f"{request_type} {name}", status, exception is None,
                 error, response_length or 0)


def _flush_periodically() -> None:
    # The timeline is flushed as rows come; when they stop coming (the site
    # hangs), this bounds what a killed process can lose to FLUSH_EVERY.
    while True:
        gevent.sleep(FLUSH_EVERY)
        RECORDER.flush()


@events.init.add_listener
def _start(**_: Any) -> None:
    if RECORDER.out_dir() is not None:
        events.request.add_listener(_record_request)
        gevent.spawn(_flush_periodically)


@events.quitting.add_listener
def _on_quitting(environment: Environment, **_: Any) -> None:
    # Locust fires `quitting` before it stops the users: requests still in flight (an
    # upload about to be acknowledged) must find the files open.
    RECORDER.flush()
    _write_html_report(environment)


def _write_html_report(environment: Environment) -> None:
    """Locust's HTML report, also when the harness stops it (SIGTERM), where Locust writes none."""
    options = environment.parsed_options
    html_file = getattr(options, "html_file", None)
    if not html_file or isinstance(environment.runner, WorkerRunner):
        return
    try:
        Path(html_file).write_text(get_html_report(environment, show_download_link=False),
                                   encoding="utf-8")
    except Exception as e:  # noqa: BLE001 — a report must never take the records with it
        logging.getLogger(__name__).warning("could not write %s: %s", html_file, e)


@events.test_stop.add_listener
def _flush_on_stop(**_: Any) -> None:
    RECORDER.flush()


@events.quit.add_listener
def _close(**_: Any) -> None:
    # After the users stopped, just before the process exits.
    RECORDER.close()
