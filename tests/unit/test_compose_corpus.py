"""Real compose files load as they are; wrong ones get the expected located error.

The corpus (tests/compose/real, sources and licences in its SOURCES.md) is
compose files from public projects, unmodified.  Each one must load with
`drill config -f FILE`, or be refused only because it reaches into the host
(the Docker socket, `/`, ports on every address): then --allow-host-access
must make it load.  Each file in tests/compose/wrong says on its first line
(`# expect: ...`) the error `drill config` must print.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path

import pytest
import yaml

from chaos.cli.base import main

HERE = Path(__file__).resolve().parents[1] / "compose"
REAL = HERE / "real"
WRONG = HERE / "wrong"
LICENCES = {"CC0-1.0", "MIT", "Apache-2.0", "BSD-3-Clause", "BSD-2-Clause", "MPL-2.0"}
_ROW = re.compile(r"^\| ([a-z0-9-]+) \| ([^|]+) \| `([^`]+)` \| `?([0-9a-f]{40}|[^|`]+)`? \| "
                  r"([^|]+) \|")


def corpus() -> list[tuple[str, str, str]]:
    """(slug, compose file name, licence) of every row of SOURCES.md."""
    rows = []
    for line in (REAL / "SOURCES.md").read_text().splitlines():
        match = _ROW.match(line)
        if match and match.group(1) != "slug":
            rows.append((match.group(1), Path(match.group(3)).name, match.group(5).strip()))
    return rows


def drill_config(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exited:
        main(["config", *args])
    out, err = capsys.readouterr()
    return int(exited.value.code or 0), out, err


def test_the_corpus_is_large_noted_and_licensed() -> None:
    rows = corpus()
    assert len(rows) >= 30
    assert {slug for slug, _, _ in rows} == {p.name for p in REAL.iterdir() if p.is_dir()}
    for slug, name, licence in rows:
        assert licence in LICENCES, f"{slug}: licence {licence!r}"
        assert (REAL / slug / name).is_file(), f"{slug}: {name} missing"


@pytest.mark.parametrize(("slug", "name"), [(s, n) for s, n, _ in corpus()])
def test_real_compose_file_loads_or_is_refused_for_host_access(
        slug: str, name: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    path = REAL / slug / name
    code, out, err = drill_config(capsys, "-f", str(path))
    if code == 0:  # as written: every published port is on loopback, whatever the file says
        for service in yaml.safe_load(out)["services"].values():
            for port in service.get("ports", []):
                assert ipaddress.ip_address(port["host_ip"]).is_loopback, (slug, port)
    if code == 2:
        problems = [line for line in err.splitlines() if line.startswith("  /")]
        assert problems, err
        for problem in problems:
            assert problem.endswith("--allow-host-access allows it)"), problem
        code, out, err = drill_config(capsys, "--allow-host-access", "-f", str(path))
    assert code == 0, err
    assert "Traceback" not in err
    assert yaml.safe_load(out)["services"], out


def wrong_files() -> list[tuple[str, str]]:
    cases = []
    for path in sorted(WRONG.glob("*.yml")):
        first = path.read_text().splitlines()[0]
        if first.startswith("# expect: "):
            cases.append((path.name, first.removeprefix("# expect: ")))
    return cases


@pytest.mark.parametrize(("name", "expected"), wrong_files())
def test_wrong_file_gets_its_located_error(name: str, expected: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = drill_config(capsys, "-f", str(WRONG / name))
    assert code == 2
    assert out == ""
    assert f"  {WRONG}/{expected}" in err, err
    assert "Traceback" not in err


def test_there_are_wrong_files_of_each_kind() -> None:
    names = {name for name, _ in wrong_files()}
    assert {"bad-interpolation.yml", "unknown-key-typo.yml", "missing-env-file.yml",
            "depends-on-cycle.yml", "extends-loop.yml"} <= names
