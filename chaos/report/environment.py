"""Where a drill ran: harness, Python, Locust, Docker engine, kernel, machine.

Figures from two machines are only comparable when one knows what each was;
every result records this.  Nothing here may fail a drill: what cannot be
found is recorded as unknown.
"""

from __future__ import annotations

import os
import platform
import socket
from importlib import metadata
from typing import Any

import docker


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"


def _memory_bytes() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _os_name() -> str:
    try:
        return platform.freedesktop_os_release().get("PRETTY_NAME", platform.system())
    except OSError:
        return platform.system()


def describe(client: docker.DockerClient | None) -> dict[str, Any]:
    """The environment of this run, as JSON-ready values."""
    from chaos import __version__

    engine = "unknown"
    if client is not None:
        try:
            engine = str(client.version().get("Version", "unknown"))
        except Exception:  # noqa: BLE001 — an engine that does not answer is recorded, not fatal
            engine = "unreachable"
    return {
        "harness": __version__,
        "python": platform.python_version(),
        "locust": _version("locust"),
        "docker_sdk": _version("docker"),
        "docker_engine": engine,
        "kernel": platform.release(),
        "os": _os_name(),
        "hostname": socket.gethostname(),
        "cpus": os.cpu_count(),
        "memory_bytes": _memory_bytes(),
    }
