"""The HTML report from synthetic run folders: v1, v2 and a run that never got measured; `drill report`.

Each test builds its run folder in tmp_path from a small result in tests/data/report/
plus timelines, samples and logs made here, so no big file is committed.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from plotly.offline import get_plotlyjs

from chaos.errors import InputError
from chaos.records import TIMELINE_FIELDS
from chaos.report.html import parse_log_line, write_html_report

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data" / "report"
#: T+0 of the fixtures (their clock_started_at).
T0 = 1_800_000_000.0


def make_run(folder: Path, fixture: str, *, timelines: bool = True, stack: bool = True,
             logs: bool = True) -> Path:
    """A run folder like `drill run` leaves: the fixture's result and the files it names."""
    folder.mkdir(parents=True)
    shutil.copy(DATA / fixture, folder / "result.json")
    if timelines:
        load, probe = ["start,duration,name,status,ok,error,bytes,source"], [",".join(TIMELINE_FIELDS)]
        for tenth in range(-100, 500):  # T-10 s .. T+50 s, 10 requests/s each
            at = T0 + tenth / 10
            down = T0 + 5.5 <= at < T0 + 14.0
            load.append(f"{at:.6f},{4.9 if down else 0.02:.6f},GET /page/[n],{0 if down else 200},"
                        f"{0 if down else 1},{'timeout' if down else ''},570,load")
            probe.append(f"{at:.6f},0.005000,probe /healthz,{0 if down else 200},{0 if down else 1},,3,probe")
        (folder / "load").mkdir()
        (folder / "load" / "timeline-load-1.csv").write_text("\n".join(load) + "\n")
        (folder / "load" / "timeline-probe.csv").write_text("\n".join(probe) + "\n")
        (folder / "load" / "ledger-1.csv").write_text("id,sha256,size,acknowledged_at\n")
        (folder / "load" / "locust.log").write_text("locust started\n")
    if stack:
        (folder / "stack").mkdir()
        lines = []
        for second in range(-10, 52, 2):
            a_down = 6 <= second < 42
            lines.append(json.dumps({"at": T0 + second, "target": "server-a",
                                     "raid": "unreachable" if a_down else "healthy",
                                     "role": "down" if a_down else "primary", "lag_bytes": None,
                                     "lag_seconds": None, "rebuild": "none", "rebuild_percent": None}))
            rebuilding = 26 <= second < 34
            lines.append(json.dumps({"at": T0 + second, "target": "server-b", "raid": "healthy",
                                     "role": "primary" if second >= 14 else "standby",
                                     "lag_bytes": None if second >= 14 else 2048.0, "lag_seconds": None,
                                     "rebuild": "running" if rebuilding else "none",
                                     "rebuild_percent": (second - 25) * 10.0 if rebuilding else None}))
        (folder / "stack" / "samples.jsonl").write_text("\n".join(lines) + "\n")
    if logs:
        (folder / "logs").mkdir()
        for service in ("edge", "server-a", "server-b"):
            lines = [f"{_stamp(T0 + t)} {service} line at T{t:+.1f}" for t in (-20.0, -1.0, 7.0, 30.0, 50.0)]
            lines.insert(2, "  a continuation line without a time")
            (folder / "logs" / f"{service}.log").write_text("\n".join(lines) + "\n")
    return folder


def _stamp(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "123Z"


def section(html: str, anchor: str, until: str = "<h2") -> str:
    """The HTML of one heading's part of the report (up to the next h2)."""
    start = html.index(f'id="{anchor}"')
    end = html.find(until, start + 1)
    return html[start:end if end != -1 else len(html)]


def js(value: str) -> str:
    """`value` as it appears inside the charts' JSON (non-ASCII escaped)."""
    return json.dumps(value)[1:-1]


def text(fragment: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))


@pytest.fixture
def v2_report(tmp_path: Path) -> str:
    run = make_run(tmp_path / "runs" / "dc", "result-v2-failed.json")
    out = write_html_report([run], tmp_path / "report.html")
    return out.read_text()


def test_the_verdict_comes_first_with_its_reason(v2_report: str) -> None:
    body = v2_report[v2_report.index("<body"):]
    first = text(body[:body.index('class="figures"')])
    assert "FAILED" in first and "objective max_lost_writes not met" in first
    assert "datacentre-shutdown" in first and "r-v2" in first and "took 75.00 s" in first
    assert body.index("FAILED") < body.index('id="run-1-timeline"') < body.index('id="run-1-objectives"')


def test_objectives_table_shows_required_against_measured(v2_report: str) -> None:
    rows = text(section(v2_report, "run-1-objectives"))
    assert "rto ≤ 30s 10.00s PASS" in rows
    assert "max_lost_writes ≤ 0 20 FAIL" in rows


def test_charts_are_drawn_in_the_page_with_the_steps_named(v2_report: str) -> None:
    assert '<div id="run-1-timeline" class="plotly-graph-div"' in v2_report
    assert '<div id="run-1-stack" class="plotly-graph-div"' in v2_report
    assert v2_report.count(get_plotlyjs()[:500]) == 1
    page = v2_report.replace(get_plotlyjs(), "")
    assert not re.search(r"""(src|href)=["']?(https?:)?//|<link|@import|url\(""", page)  # offline
    for step in ("dc-a-off", "failed-over", "slow-disk", "dc-a-on"):
        assert f'"text":"{step}"' in v2_report  # an annotation naming it on the chart
    assert js("phases · dc-a-off") in v2_report and "downtime" in v2_report
    assert "seconds since T+0" in v2_report and "Load: requests sent per second" in v2_report
    assert "p95 (ms)" in v2_report and "available (%)" in v2_report
    assert js("server-b · rebuild") in v2_report and "lag (bytes)" in v2_report
    assert "RAID rebuild progress" in v2_report


def test_steps_table_has_planned_and_real_times(v2_report: str) -> None:
    rows = text(section(v2_report, "run-1-steps"))
    assert "dc-a-off power-off dc-a at 5s T+5.0 s T+5.00 s +0.00 s T+5.25 s" in rows
    assert "slow-disk" in rows and "T+35.00 s" in rows  # rolled back


def test_data_loss_lists_the_lost_writes(v2_report: str) -> None:
    part = section(v2_report, "run-1-data")
    assert "20 missing writes" in text(part)
    assert f"{20:032x}" in part
    assert "<details>" in part  # 20 ids: collapsed


def test_logs_around_each_fault_from_5_s_before_to_30_s_after(v2_report: str) -> None:
    part = text(section(v2_report, "run-1-logs"))
    assert "dc-a-off took effect T+5.25 s" in part and "slow-disk took effect T+25.60 s" in part
    dc_a_off = part[part.index("dc-a-off took effect"):part.index("slow-disk took effect")]
    assert "edge line at T+7.0" in dc_a_off and "edge line at T+30.0" in dc_a_off
    assert "a continuation line without a time" not in dc_a_off  # it belongs to T-1.0, outside
    assert "line at T-1.0" not in dc_a_off and "line at T+50.0" not in dc_a_off


def test_environment_parameters_and_relative_artifact_links(v2_report: str) -> None:
    part = text(section(v2_report, "run-1-environment"))
    assert "docker engine 27.3.1" in part and "24.0 GiB" in part and "DRILL_PROMOTE_AFTER=10" in part
    links = section(v2_report, "run-1-artifacts")
    assert 'href="runs/dc/logs/server-a.log"' in links and 'href="runs/dc/result.json"' in links
    assert 'href="runs/dc/stack/samples.jsonl"' in links


def test_v1_result_renders_without_the_stack_chart(tmp_path: Path) -> None:
    run = make_run(tmp_path / "v1", "result-v1.json", stack=False, logs=False)
    html = write_html_report([run], tmp_path / "v1.html").read_text()
    assert "PASSED" in html and 'id="run-1-timeline"' in html and 'id="run-1-stack"' not in html
    assert "No RAID or replication record" in html
    assert 'href="v1/load/timeline-probe.csv"' in html  # v1 has no artifact list: what is there


def test_a_run_that_never_got_measured_still_gets_its_verdict(tmp_path: Path) -> None:
    run = make_run(tmp_path / "err", "result-error.json", timelines=False, stack=False, logs=False)
    html = write_html_report([run], tmp_path / "err.html").read_text()
    assert "ERROR" in html and "server-b never answered /readyz" in html
    assert "No measurements" in html and "No objective was evaluated" in html
    assert "No load timeline" in html
    assert 'id="run-1-timeline"' in html  # the steps that ran, in lanes


def test_a_suite_gets_an_overview_and_plotly_once(tmp_path: Path) -> None:
    runs = [make_run(tmp_path / "suite" / "a", "result-v1.json"),
            make_run(tmp_path / "suite" / "b", "result-v2-failed.json")]
    html = write_html_report(runs, tmp_path / "suite" / "report.html").read_text()
    assert html.count(get_plotlyjs()[:500]) == 1
    overview = text(section(html, "overview", until="</section>"))
    assert "1 of 2 runs passed" in overview
    assert "datacentre-shutdown PASSED 10.00s" in overview and "20 of 40" in overview
    assert 'href="#run-1"' in html and 'href="#run-2"' in html
    assert 'id="run-2-timeline"' in html and "Drill report: 2 runs" in html


def test_a_corrupt_timeline_is_a_note_not_a_crash(tmp_path: Path) -> None:
    run = make_run(tmp_path / "r", "result-v2-failed.json")
    (run / "load" / "timeline-probe.csv").write_text("what,is,this\n1,2,3\n")
    html = write_html_report([run], tmp_path / "r.html").read_text()
    assert "The load timeline could not be read" in html and "FAILED" in html


def test_a_folder_without_a_result_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such result"):
        write_html_report([tmp_path], tmp_path / "report.html")


def test_log_lines_carry_docker_timestamps_to_the_nanosecond() -> None:
    at, message = parse_log_line("2026-11-23T22:59:20.123456789Z LOG:  checkpoint complete")
    assert at == pytest.approx(dt.datetime(2026, 11, 23, 22, 59, 20, tzinfo=dt.UTC).timestamp() + 0.123456789)
    assert message == "LOG:  checkpoint complete"
    assert parse_log_line("no time here") == (None, "no time here")
    assert parse_log_line("2026-13-45T99:00:00Z bad") == (None, "2026-13-45T99:00:00Z bad")


def drill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent", "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "chaos", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def test_drill_report_regenerates_a_suite_folder_and_prints_the_summary(tmp_path: Path) -> None:
    make_run(tmp_path / "suite" / "run-1", "result-v1.json")
    make_run(tmp_path / "suite" / "run-2", "result-v2-failed.json")
    ran = drill("report", str(tmp_path / "suite"), "--markdown", cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr
    assert (tmp_path / "suite" / "report.html").exists()
    assert "| datacentre-shutdown | ❌ FAILED |" in ran.stdout
    assert f"Report: {tmp_path / 'suite' / 'report.html'}" in ran.stdout


def test_drill_report_of_a_folder_without_result_is_exit_2(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    ran = drill("report", str(tmp_path / "empty"), cwd=tmp_path)
    assert ran.returncode == 2
    assert "holds no result.json" in ran.stderr and "Traceback" not in ran.stderr
    ran = drill("report", str(tmp_path / "nowhere"), "--out", str(tmp_path / "x.html"), cwd=tmp_path)
    assert ran.returncode == 2 and "no such file or folder" in ran.stderr
