"""Read every acknowledged upload back through the edge (the I/O half of the loss check)."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import requests

from chaos.measure.loss import ReadBack
from chaos.records import Ack


def read_back(edge_url: str, acks: Sequence[Ack], *, workers: int = 8, timeout: float = 10.0,
              retries: int = 3) -> dict[str, ReadBack]:
    """GET /upload/<id> for every ack; answers that prove nothing (5xx, time-outs) are retried."""
    local = threading.local()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        return local.session  # type: ignore[no-any-return]

    def one(ack: Ack) -> tuple[str, ReadBack]:
        result = ReadBack(0, None, "not tried")
        for attempt in range(retries + 1):
            try:
                answer = session().get(f"{edge_url}/upload/{ack.id}", timeout=timeout)
                digest = hashlib.sha256(answer.content).hexdigest() if answer.status_code == 200 else None
                result = ReadBack(answer.status_code, digest,
                                  "" if answer.status_code == 200 else answer.text[:200])
                if answer.status_code < 500:
                    return ack.id, result
            except requests.RequestException as e:
                result = ReadBack(0, None, type(e).__name__)
            if attempt < retries:  # no wait after the last attempt: its answer is the verdict
                time.sleep(0.2 * (attempt + 1))
        return ack.id, result

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="verify") as pool:
        return dict(pool.map(one, acks))
