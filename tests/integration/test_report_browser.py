"""Issue 7, acceptance 2: the HTML report of a datacentre-shutdown run, looked at as a person would.

Headless Chromium renders the report; the screenshot must not be blank and is
kept in test-artifacts/ for CI; the DOM after the page's scripts ran must hold
the verdict, a drawn plotly chart and the objectives table.

The run is the session's one run of datacentre-shutdown (tests/conftest.py;
the library test judges the same run), or DRILL_TEST_DC_RUN: a run folder
of that scenario made earlier.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from chaos.report.html import write_html_report
from tests.conftest import LibraryRun

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> str:
    """The headless browser; skipped without one, except in CI where that is a failure."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    message = "no headless Chromium (run scripts/setup-browser.sh, which `make test` calls)"
    if os.environ.get("CI"):
        pytest.fail(f"{message}; in CI a missing browser is a failure", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def dc_run(request: pytest.FixtureRequest) -> Path:
    """A run folder of datacentre-shutdown: given in DRILL_TEST_DC_RUN, else the session's run."""
    given = os.environ.get("DRILL_TEST_DC_RUN")
    if given:
        folder = Path(given)
        assert (folder / "result.json").is_file(), f"DRILL_TEST_DC_RUN={given}: no result.json there"
        return folder
    done: LibraryRun = request.getfixturevalue("datacentre_shutdown_run")
    assert (done.folder / "result.json").is_file(), \
        f"the drill wrote no result:\n{done.ran.stdout}\n{done.ran.stderr}"
    return done.folder


def render(chromium: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Chromium headless with the page's scripts given 10 s of virtual time to draw the charts."""
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--virtual-time-budget=10000", *args], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def png_pixels(path: Path) -> tuple[int, int, bytes]:
    """Width, height and the decompressed (still filtered) image data of a PNG."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    position, width, height, idat = 8, 0, 0, b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        elif kind == b"IDAT":
            idat += body
        position += 12 + length
    return width, height, zlib.decompress(idat)


def test_datacentre_shutdown_report_in_headless_chromium(chromium: str, dc_run: Path, tmp_path: Path,
                                                         figure: Callable[[str], None]) -> None:
    result = json.loads((dc_run / "result.json").read_text())
    assert result["scenario"] == "datacentre-shutdown"
    report = write_html_report([dc_run], tmp_path / "report.html")
    url = report.resolve().as_uri()

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "report-datacentre-shutdown.png"
    screenshot.unlink(missing_ok=True)
    shot = render(chromium, f"--screenshot={screenshot}", "--window-size=1400,4000", url)
    assert screenshot.is_file(), f"no screenshot:\n{shot.stderr[-2000:]}"
    width, height, pixels = png_pixels(screenshot)
    assert (width, height) == (1400, 4000)
    # A blank page compresses to a few distinct byte values; charts, tables and text to many.
    distinct = len(set(pixels))
    figure(f"screenshot {screenshot}: {screenshot.stat().st_size} bytes, {distinct} distinct byte values")
    assert distinct > 64 and screenshot.stat().st_size > 50_000, "the screenshot looks blank"

    dom = render(chromium, "--dump-dom", url).stdout
    verdict = result["outcome"].upper()
    assert re.search(rf'<div class="word">\s*{verdict}\s*</div>', dom), "no verdict banner in the DOM"
    chart = dom[dom.index('id="run-1-timeline"'):]
    chart = chart[:chart.index("</svg>")]
    assert 'class="main-svg"' in chart, "plotly drew no chart in the timeline's div"
    objectives = dom[dom.index('<table class="objectives'):]
    objectives = objectives[:objectives.index("</table>")]
    for objective in result["objectives"]:
        assert f"<code>{objective['name']}</code>" in objectives
        assert objective["measured"] in objectives

