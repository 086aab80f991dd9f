"""Acknowledged writes, for any app: `ledger.acknowledge(id, content)` from a locustfile.

    from chaos.load import ledger

    with self.client.post("/items", json=item, catch_response=True) as answer:
        if answer.status_code == 201:
            ledger.acknowledge(answer.json()["id"], payload)

Call it once the app has told the customer the write is stored.  After the drill,
the harness reads every acknowledged id back (the scenario's `verify.read_back`)
and reports what is missing or different: RPO, lost ids and the loss window.
Each call reaches the ledger file before it returns, so a load process killed
later cannot take the acknowledgement with it.  Under plain `locust` (not started
by the harness) it records nothing, so the same locustfile runs unchanged there.
"""

from __future__ import annotations

import hashlib
import re
import time

from chaos.load.recorder import RECORDER

_SHA256 = re.compile(r"[0-9a-f]{64}")


def acknowledge(id: str, content: bytes | str | None = None, *, sha256: str | None = None,  # noqa: A002
                size: int | None = None, at: float | None = None) -> None:
    """Record that the app acknowledged write `id` with `content`.

    Give the bytes the app stored (str is encoded as UTF-8), or their `sha256` (hex)
    and `size` instead; or neither, when only the id can be checked (read back
    with `compare: status`).  `at`: when the acknowledgement came (default: now).
    """
    acknowledged_at = time.time() if at is None else float(at)
    if not isinstance(id, str) or not id or len(id) > 512 or any(c in id for c in "\r\n\0"):
        raise ValueError(f"ledger.acknowledge: id must be a non-empty string of one line, "
                         f"at most 512 characters, not {id!r:.80}")
    if content is not None and sha256 is not None:
        raise ValueError("ledger.acknowledge: give the content or its sha256, not both")
    if content is not None:
        if isinstance(content, str):
            content = content.encode()
        if not isinstance(content, bytes | bytearray | memoryview):
            raise TypeError(f"ledger.acknowledge: content must be bytes or str, "
                            f"not {type(content).__name__}")
        digest, length = hashlib.sha256(content).hexdigest(), len(content)
    elif sha256 is not None:
        if not isinstance(sha256, str) or not _SHA256.fullmatch(sha256.lower()):
            raise ValueError(f"ledger.acknowledge: sha256 must be 64 hex digits, not {sha256!r:.80}")
        if size is None or not isinstance(size, int) or size < 0:
            raise ValueError("ledger.acknowledge: with sha256, give the size in bytes (an int >= 0)")
        digest, length = sha256.lower(), size
    else:
        digest, length = "", 0 if size is None else int(size)
    writer = RECORDER.ledger()
    if writer is not None:
        writer.add(id, digest, length, acknowledged_at)
