"""The edge as customers reach it: which server answers."""

from __future__ import annotations

import time

import requests

from chaos.errors import StackError


def served_by(edge_url: str, *, timeout: float = 5.0) -> str | None:
    """The server that answered `/healthz` through the edge (its X-Served-By), if any answered 200."""
    try:
        answer = requests.get(f"{edge_url}/healthz", timeout=timeout)
    except requests.RequestException:
        return None
    return answer.headers.get("X-Served-By") if answer.status_code == 200 else None


def wait_served_by(edge_url: str, server: str, *, timeout: float = 60.0) -> float:
    """Wait until the edge sends customers to `server` again (its health checks must rise)."""
    started = time.monotonic()
    while served_by(edge_url) != server:
        if time.monotonic() - started > timeout:
            raise StackError(f"the edge did not route to {server} within {timeout:.0f} s")
        time.sleep(0.2)
    return time.monotonic() - started
