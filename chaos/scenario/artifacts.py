"""The files a drill leaves next to its result: container logs, load records, stack samples.

Logs are taken before teardown (afterwards the containers are gone); the
result links every artifact by a path relative to the run folder, so a
folder can be moved or archived by CI as a whole.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import docker

from chaos.engine import labels, objects

#: A container's log is cut to its last this many bytes: a drill of hours must not
#: leave gigabytes, and the report shows only the lines around each fault.
MAX_LOG_BYTES = 8 * 1024 * 1024


def collect_logs(client: docker.DockerClient, run_id: str, out_dir: Path) -> dict[str, str]:
    """`docker logs --timestamps` of every container of the run: service -> relative path."""
    folder = out_dir / "logs"
    written: dict[str, str] = {}
    for container in objects.find_containers(client, run_id):
        service = container.labels.get(labels.SERVICE, container.name)
        try:
            raw = container.logs(timestamps=True, stdout=True, stderr=True)
        except docker.errors.APIError as e:
            raw = f"(logs unavailable: {e.explanation or e})\n".encode()
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{service}.log"
        path.write_bytes(raw[-MAX_LOG_BYTES:])
        written[service] = str(path.relative_to(out_dir))
    return written


def list_artifacts(out_dir: Path, logs: dict[str, str]) -> dict[str, Any]:
    """Every artifact that exists in the run folder, by kind, as relative paths."""
    def rel(paths: list[Path]) -> list[str]:
        return [str(p.relative_to(out_dir)) for p in sorted(paths)]

    load = out_dir / "load"
    found: dict[str, Any] = {
        "timelines": rel(list(load.glob("timeline-*.csv"))),
        "ledgers": rel(list(load.glob("ledger-*.csv"))),
    }
    if csv := rel(list(load.glob("locust_*.csv"))):
        found["locust_csv"] = csv
    for key, name in (("locust_log", load / "locust.log"), ("locust_report", load / "locust.html"),
                      ("samples", out_dir / "stack" / "samples.jsonl")):
        if name.exists():
            found[key] = str(name.relative_to(out_dir))
    if logs:
        found["logs"] = dict(sorted(logs.items()))
    return found
