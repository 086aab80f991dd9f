"""Site faults on the real stack: a data centre powered off, cut off, frozen; and back."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import docker
import pytest
import requests

from chaos.engine import objects
from chaos.engine.runstate import RunState
from chaos.faults.base import FaultContext
from chaos.faults.registry import make_fault
from chaos.stack.edge import served_by, wait_served_by
from tests.conftest import Drill, own_stack

pytestmark = [pytest.mark.integration, pytest.mark.destructive, pytest.mark.slow]


@pytest.fixture(scope="module")
def sites(engine: docker.DockerClient, drill: Drill) -> Iterator[tuple[RunState, FaultContext]]:
    """A stack of its own: these tests power its sites off."""
    with own_stack(engine, drill) as stack:
        yield stack


def first_successful_upload(url: str, since: float, timeout: float = 60.0) -> float:
    """Seconds from `since` until an upload through the edge is acknowledged."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.post(f"{url}/upload", data=os.urandom(4096), timeout=2).status_code == 201:
                return time.time() - since
        except requests.RequestException:
            pass
        time.sleep(0.05)
    raise AssertionError(f"no upload succeeded within {timeout} s")


def test_power_off_dc_a_fails_over_to_server_b_and_power_on_brings_it_back(
        sites: tuple[RunState, FaultContext], engine: docker.DockerClient) -> None:
    state, ctx = sites
    url = state.edge_url or ""
    assert served_by(url) == "server-a"
    fault = make_fault("power-off")
    injection = fault.inject(ctx, "dc-a")
    assert injection.confirmed and injection.affected == ["server-a"], injection.evidence
    assert injection.effective_at is not None
    seconds = first_successful_upload(url, injection.effective_at)
    print(f"\npower-off dc-a: first acknowledged upload {seconds:.2f} s after the power went "
          f"(served by {served_by(url)})")
    assert served_by(url) == "server-b"
    fault.rollback(ctx, "dc-a")
    back = wait_served_by(url, "server-a", timeout=120)
    print(f"power-on dc-a: the edge routes to server-a again after {back:.1f} s")
    assert ctx.machine("server-a").raid().healthy


def test_isolated_site_keeps_running_unreachable_until_reconnected(
        sites: tuple[RunState, FaultContext], engine: docker.DockerClient) -> None:
    state, ctx = sites
    url = state.edge_url or ""
    fault = make_fault("isolate")
    injection = fault.inject(ctx, "dc-a")
    try:
        assert injection.confirmed, injection.evidence
        wait_served_by(url, "server-b", timeout=30)
        server_a = objects.service_container(engine, state.run_id, "server-a")
        assert objects.state_of(server_a).status == "running"
        # Alive inside, unreachable from the edge.
        assert "ok" in ctx.machine("server-a").run("curl", "-fsS", "http://127.0.0.1/healthz").output
    finally:
        fault.rollback(ctx, "dc-a")
    wait_served_by(url, "server-a", timeout=60)


def test_frozen_site_is_failed_over_and_thawed(sites: tuple[RunState, FaultContext]) -> None:
    state, ctx = sites
    url = state.edge_url or ""
    fault = make_fault("pause")
    injection = fault.inject(ctx, "server-a")
    try:
        assert injection.confirmed
        wait_served_by(url, "server-b", timeout=30)
    finally:
        fault.rollback(ctx, "server-a")
    wait_served_by(url, "server-a", timeout=60)


def test_unknown_site_lists_the_valid_ones(sites: tuple[RunState, FaultContext], drill: Drill) -> None:
    state, _ = sites
    result = drill.run("inject", "power-off", "dc-x", "--run", state.run_id, check=False)
    assert result.returncode == 2
    assert "sites: dc-a, dc-b, dc-c, edge" in result.stderr
