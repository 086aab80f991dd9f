"""Docker's own record of when a container ended, read to the nanosecond it gives."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chaos.engine.objects import finished_at


@pytest.mark.parametrize("text, expected", [
    ("2026-11-30T23:11:10.146123456Z", 1796080270.146123456),
    ("2026-11-30T23:11:10.5Z", 1796080270.5),
    ("2026-11-30T23:11:10Z", 1796080270.0),
    ("0001-01-01T00:00:00Z", None),  # never ended
    ("", None),
    ("yesterday", None),
])
def test_a_containers_end_is_read_as_docker_wrote_it(text: str, expected: float | None) -> None:
    container = SimpleNamespace(attrs={"State": {"FinishedAt": text}})
    got = finished_at(container)  # type: ignore[arg-type]
    assert got == (None if expected is None else pytest.approx(expected, abs=1e-6))
