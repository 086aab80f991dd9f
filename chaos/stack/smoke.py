"""A first look through the edge: a page, an upload, the upload read back, /status."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from dataclasses import dataclass

import requests

from chaos.errors import StackError


@dataclass(frozen=True)
class SmokeResult:
    page_status: int
    upload_id: str
    upload_bytes: int
    upload_seconds: float
    read_back_intact: bool
    raid_healthy: bool


def smoke(edge_url: str, *, size: int = 64 * 1024, timeout: float = 10.0) -> SmokeResult:
    """Fetch `/`, upload random bytes, read them back by id, and check `/status`."""
    try:
        page = requests.get(f"{edge_url}/", timeout=timeout)
        body = os.urandom(size)
        upload_id = str(uuid.uuid4())
        started = time.monotonic()
        answer = requests.post(f"{edge_url}/upload", data=body, timeout=timeout,
                               headers={"X-Upload-Id": upload_id,
                                        "Content-Type": "application/octet-stream"})
        elapsed = time.monotonic() - started
        if answer.status_code != 201:
            raise StackError(f"upload through the edge answered {answer.status_code}: "
                             f"{answer.text[:300]}")
        acknowledged = answer.json()
        if acknowledged.get("sha256") != hashlib.sha256(body).hexdigest():
            raise StackError("the upload was acknowledged with the wrong sha256")
        read = requests.get(f"{edge_url}/upload/{acknowledged['id']}", timeout=timeout)
        status = requests.get(f"{edge_url}/status", timeout=timeout).json()
    except requests.RequestException as e:
        raise StackError(f"the edge at {edge_url} did not answer: {e}") from e
    except ValueError as e:
        raise StackError(f"the edge at {edge_url} answered something that is not JSON: {e}") from e
    raid = status.get("raid", status) if isinstance(status, dict) else {}
    return SmokeResult(page_status=page.status_code, upload_id=str(acknowledged["id"]),
                       upload_bytes=size, upload_seconds=elapsed,
                       read_back_intact=read.status_code == 200 and read.content == body,
                       raid_healthy=bool(raid.get("healthy")))
