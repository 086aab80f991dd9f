"""Find and remove what dead runs left behind.

A run is *dead* when no harness process works on it any more and it is not a
stack that `drill up` finished bringing up (or all of that stack's containers
are gone).  Runs are found three ways, so a lost record still gets cleaned:
run-state folders, Docker labels, and loop devices' backing files.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import docker

from chaos.engine import labels, loops, objects
from chaos.engine.lifecycle import TeardownReport, teardown
from chaos.engine.runstate import Phase, RunStore
from chaos.progress import Progress


@dataclass
class CleanReport:
    """What `clean` removed, and which live runs it left alone."""

    removed: dict[str, TeardownReport] = field(default_factory=dict)
    kept_live: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if not self.removed:
            text = "nothing to clean"
        else:
            totals = TeardownReport()
            for report in self.removed.values():
                totals.containers += report.containers
                totals.networks += report.networks
                totals.volumes += report.volumes
                totals.loop_devices += report.loop_devices
            text = f"removed {len(self.removed)} dead run(s): {totals.summary()}"
        if self.kept_live:
            text += f"; kept live run(s) {', '.join(self.kept_live)} (`drill down` or `clean --all`)"
        return text


def known_runs(client: docker.DockerClient | None, store: RunStore) -> set[str]:
    """Every run id of this state root with a folder, a Docker object or a loop device.

    Runs recorded under another state root (another user's, a test's), or
    labelled with none (not made by the harness), are left alone while their
    containers exist; a loop device whose run has no container left is garbage
    whoever made it.
    """
    runs = set(store.run_ids())
    foreign: set[str] = set()
    if client is not None:
        for found in (objects.find_containers(client), objects.find_networks(client),
                      objects.find_volumes(client)):
            for obj in found:
                run_labels = _labels_of(obj.attrs)
                run_id = run_labels.get(labels.RUN, "")
                if run_labels.get(labels.STATE_ROOT) == str(store.root):
                    runs.add(run_id)
                else:
                    foreign.add(run_id)
    runs.update(d.run_id for d in loops.run_loop_devices() if d.run_id not in foreign)
    runs.discard("")
    return runs - foreign


def _labels_of(attrs: dict[str, object]) -> dict[str, str]:
    """The labels in a container's, network's or volume's inspect data."""
    found = attrs.get("Labels")
    if not isinstance(found, dict):
        config = attrs.get("Config")
        found = config.get("Labels") if isinstance(config, dict) else None
    return found if isinstance(found, dict) else {}


def is_live(run_id: str, client: docker.DockerClient | None, store: RunStore) -> bool:
    """Whether a run is in use: worked on by a living harness, or up with containers running."""
    state = store.load(run_id)
    if state is None:
        return False
    if state.owner_alive():
        return True
    if state.phase != Phase.UP:
        return False
    if client is None:
        return True  # cannot tell; never remove what may be in use
    return any(c.status == "running" for c in objects.find_containers(client, run_id))


def clean(client: docker.DockerClient | None, progress: Progress, store: RunStore | None = None,
          *, include_live: bool = False) -> CleanReport:
    """Remove every dead run (and every live one too with `include_live`)."""
    store = store or RunStore()
    report = CleanReport()
    for run_id in sorted(known_runs(client, store)):
        if not include_live and is_live(run_id, client, store):
            report.kept_live.append(run_id)
            continue
        with progress.step(f"removing run {run_id}"):
            report.removed[run_id] = teardown(client, store, run_id, progress)
    return report
