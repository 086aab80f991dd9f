"""`drill compare` of two real runs of the baseline with different user counts (issue 7, acceptance 4)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import docker
import pytest

from tests.conftest import Drill

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Few and many users: with each user's wait between requests, the request rate follows the count.
FEW, MANY = 3, 12


def test_compare_of_two_user_counts_shows_the_throughput_difference(
        engine: docker.DockerClient, drill: Drill, tmp_path: Path) -> None:
    folders = {}
    for users in (FEW, MANY):
        folder = tmp_path / f"users-{users}"
        run = drill.run("run", "scenarios/baseline.yaml", "--time-scale", "0.25",
                        "--set", f"load.users={users}", "--out", str(folder), check=False)
        assert (folder / "result.json").exists(), f"no result:\n{run.stdout}\n{run.stderr}"
        folders[users] = folder

    page = tmp_path / "compare.html"
    shown = drill.run("compare", str(folders[FEW]), str(folders[MANY]), "--html", str(page))
    text = shown.stdout
    assert re.search(rf"load\.users\s+{FEW}\s+→\s+{MANY}", text), text
    # More users, more requests per second: a positive change with its percentage, judged better.
    assert re.search(r"^  throughput\s+\S+ req/s\s+\S+ req/s\s+\+\d+\.\d req/s \(\+\d+\.\d%\)\s+↑  better$",
                     text, re.MULTILINE), text
    assert page.exists() and "Throughput, A vs B" in page.read_text()

    data = json.loads(drill.run("compare", str(folders[FEW]), str(folders[MANY]), "--json").stdout)
    throughput = next(r for s in data["sections"] if s["title"] == "load" for r in s["rows"]
                      if r["metric"] == "throughput")
    assert throughput["relative"] > 1.0, throughput  # 4x the users: well over twice the rate

    # Reversed, as a migration CI gate would see a drop: exit 1 naming throughput.
    gate = drill.run("compare", str(folders[MANY]), str(folders[FEW]), "--fail-on-regression", "20",
                     check=False)
    assert gate.returncode == 1 and "throughput" in gate.stderr
