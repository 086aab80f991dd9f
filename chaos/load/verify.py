"""Read every acknowledged write back (the I/O half of the loss check).

How: a :class:`ReadBackSpec`, the scenario's `verify.read_back` (the bundled app:
GET /upload/{id}, 200, the body's sha256 against the acknowledged content's).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

import requests

from chaos.load.http_check import StatusMatch
from chaos.measure.loss import ReadBack
from chaos.records import Ack

#: Where the bundled app gives an upload back.
BUNDLED_PATH = "/upload/{id}"


@dataclass(frozen=True)
class ReadBackSpec:
    """How one acknowledged write is read back, and what answer means "still there"."""

    path: str = BUNDLED_PATH
    expect_status: StatusMatch = StatusMatch(((200, 200),), "200")
    #: sha256: the body must be the acknowledged content; status: only its presence is checked.
    compare: Literal["sha256", "status"] = "sha256"
    #: Sent with every read (a Host for a name-based site, a token).
    headers: tuple[tuple[str, str], ...] = ()

    def url(self, base: str, write_id: str) -> str:
        # The id goes in as one path segment, whatever it holds.
        return base.rstrip("/") + self.path.replace("{id}", quote(write_id, safe=""))


def read_back(base_url: str, acks: Sequence[Ack], spec: ReadBackSpec | None = None, *,
              workers: int = 8, timeout: float = 10.0, retries: int = 3) -> dict[str, ReadBack]:
    """Ask for every ack; answers that prove nothing (5xx, time-outs) are retried."""
    spec = spec or ReadBackSpec()
    content = spec.compare == "sha256"
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session  # type: ignore[no-any-return]

    def one(ack: Ack) -> tuple[str, ReadBack]:
        result = ReadBack(0, None, "not tried", found=False, compare_content=content)
        for attempt in range(retries + 1):
            try:
                answer = session().get(spec.url(base_url, ack.id), timeout=timeout,
                                       headers=dict(spec.headers))
                found = answer.status_code in spec.expect_status
                digest = hashlib.sha256(answer.content).hexdigest() if found and content else None
                result = ReadBack(answer.status_code, digest, "" if found else answer.text[:200],
                                  found=found, compare_content=content)
                if answer.status_code < 500:
                    return ack.id, result
            except requests.RequestException as e:
                result = ReadBack(0, None, type(e).__name__, found=False, compare_content=content)
            if attempt < retries:  # no wait after the last attempt: its answer is the verdict
                time.sleep(0.2 * (attempt + 1))
        return ack.id, result

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        return dict(pool.map(one, acks))
