"""The labels every Docker object of a run carries, and filters over them.

A fault or `clean` only ever touches objects whose labels name the run.
"""

from __future__ import annotations

PREFIX = "chaos-harness"
RUN = f"{PREFIX}.run"
#: The state root whose record owns the object; `clean` leaves other roots' runs alone.
STATE_ROOT = f"{PREFIX}.state-root"
SERVICE = f"{PREFIX}.service"
COMPOSE_FILE = f"{PREFIX}.compose-file"
NETWORK = f"{PREFIX}.network"
VOLUME = f"{PREFIX}.volume"
#: Set by the compose file on each service: which data centre it stands in.
SITE = f"{PREFIX}.site"
ROLE = f"{PREFIX}.role"
#: On images only: which build context they were made from.
IMAGE = f"{PREFIX}.image"


def run_labels(run_id: str, state_root: str, **extra: str) -> dict[str, str]:
    """Labels for an object of run `run_id`, recorded under `state_root`."""
    return {**extra, RUN: run_id, STATE_ROOT: state_root}


def run_filter(run_id: str | None = None) -> dict[str, str | list[str]]:
    """A Docker `filters=` for objects of one run, or of any run when None."""
    return {"label": f"{RUN}={run_id}" if run_id else RUN}
