"""`drill compare` on synthetic results: judgements, v1 and v2, missing figures, suites, the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from chaos.cli import main
from chaos.report.compare import (
    Comparison,
    Verdict,
    compare,
    compare_suites,
    load_side,
    regressions,
)
from chaos.report.compare_render import render_text, write_html

T0 = 1_700_000_000.0


def phase(name: str, throughput: float, p95: float, error_rate: float = 0.0) -> dict[str, Any]:
    return {"name": name, "start": T0, "end": T0 + 60, "requests": int(throughput * 60),
            "failed": int(throughput * 60 * error_rate), "throughput": throughput,
            "good_throughput": throughput * (1 - error_rate), "error_rate": error_rate,
            "p50": p95 / 4, "p95": p95, "p99": p95 * 2}


def fault(name: str, time_to_recover: float | None, during: float = 20.0) -> dict[str, Any]:
    return {"fault": {"name": name, "at": T0 + 10, "until": None},
            "impact": {"fault_at": T0 + 10, "time_to_first_error": 0.5,
                       "recovered": time_to_recover is not None, "time_to_recover": time_to_recover,
                       "downtime": (time_to_recover or 30.0) * 0.8, "down_intervals": []},
            "phases": [phase("before", 30.0, 0.015), phase("during", during, 0.4, 0.2),
                       phase("after", 30.0, 0.016)]}


def result(*, throughput: float = 30.0, p95: float = 0.020, users: int | None = 10,
           scenario: str = "baseline", label: str = "", outcome: str = "passed",
           measured: bool = True, faults: tuple[dict[str, Any], ...] = (), lost: int = 0,
           rto_passed: bool = True, run_id: str = "r1") -> dict[str, Any]:
    """A result.json dict: v2 with `users`, v1 (no parameters) with users=None."""
    data: dict[str, Any] = {
        "scenario": scenario, "label": label, "file": f"scenarios/{scenario}.yaml", "run_id": run_id,
        "started_at": T0, "ended_at": T0 + 80, "clock_started_at": T0 + 5, "outcome": outcome,
        "reason": "", "time_scale": 0.25, "steps": [], "checks": [], "out_dir": f"/results/{run_id}",
        "objectives": [{"name": "rto", "limit": "30s", "measured": "10.00s" if rto_passed else "40.00s",
                        "passed": rto_passed}],
        "measurements": None, "schema_version": 1,
    }
    if measured:
        data["measurements"] = {
            "started_at": T0, "ended_at": T0 + 60, "requests": int(throughput * 60), "failed": 0,
            "acknowledged_uploads": 100, "settings": {},
            "overall": phase("run", throughput, p95), "faults": list(faults),
            "loss": {"acknowledged": 100, "intact": 100 - lost, "missing_ids": [], "corrupt_ids": [],
                     "unreadable_ids": [], "loss_window": None, "lost_between": None,
                     "missing": lost, "corrupt": 0, "lost": lost}}
    if users is not None:
        data.update(schema_version=2, parameters={
            "time_scale": 0.25, "matrix": {}, "overrides": {"load.users": users} if users != 10 else {},
            "load": {"users": users, "spawn_rate": 10, "duration": 60.0}, "objectives": {}},
            stack={"compose_file": "compose/hosting.yml"}, environment={"harness": "0.1.0"})
    return data


def verdict(c: Comparison, section: str, metric: str) -> Verdict:
    row = c.row(section, metric)
    assert row is not None, f"no row {section}/{metric}"
    return row.verdict


def test_more_throughput_is_better_and_shown_with_sign_and_percentage() -> None:
    c = compare(result(throughput=30.0), result(throughput=40.0, users=20))
    row = c.row("load", "throughput")
    assert row is not None and row.verdict is Verdict.BETTER
    assert row.change == pytest.approx(10.0) and row.relative == pytest.approx(1 / 3)
    text = render_text(c)
    assert re.search(r"throughput\s+30\.0 req/s\s+40\.0 req/s\s+\+10\.0 req/s \(\+33\.3%\)\s+↑  better",
                     text), text


def test_less_throughput_and_slower_p95_are_worse() -> None:
    c = compare(result(throughput=40.0, p95=0.020), result(throughput=30.0, p95=0.050))
    assert verdict(c, "load", "throughput") is Verdict.WORSE
    assert verdict(c, "load", "p95") is Verdict.WORSE
    assert "-10.0 req/s (-25.0%)" in render_text(c)


def test_small_changes_are_the_same() -> None:
    c = compare(result(throughput=30.0, p95=0.020), result(throughput=30.9, p95=0.0205))
    assert verdict(c, "load", "throughput") is Verdict.SAME
    assert verdict(c, "load", "p95") is Verdict.SAME  # 0.5 ms: below the resolution of latency


def test_requests_count_changes_but_is_not_judged() -> None:
    c = compare(result(throughput=30.0), result(throughput=40.0))
    assert verdict(c, "load", "requests") is Verdict.CHANGED


def test_parameters_that_differ_are_listed_first() -> None:
    c = compare(result(users=10), result(users=20))
    changed = {p.name: (p.before, p.after) for p in c.changed}
    assert changed == {"load.users": ("10", "20"), "overrides.load.users": ("-", "20")}
    text = render_text(c)
    assert text.index("load.users") < text.index("throughput")


def test_v1_against_v2_compares_without_parameters() -> None:
    c = compare(result(users=None), result(users=20, throughput=60.0))
    assert c.changed == []  # the v1 side records no load: nothing to set against B's
    assert any("A is a schema v1 result" in n for n in c.notes)
    assert verdict(c, "load", "throughput") is Verdict.BETTER
    assert c.before.schema_version == 1 and c.after.schema_version == 2


def test_v1_results_compare_their_time_scale() -> None:
    a, b = result(users=None), result(users=None)
    b["time_scale"] = 1.0
    assert [(p.name, p.before, p.after) for p in compare(a, b).changed] == [("time_scale", "0.25", "1.0")]


def test_null_measurements_are_not_available_not_an_error(tmp_path: Path) -> None:
    c = compare(result(), result(measured=False, outcome="error"))
    assert verdict(c, "load", "throughput") is Verdict.UNKNOWN
    assert verdict(c, "verdict", "outcome") is Verdict.WORSE
    assert any("B has no measurements" in n for n in c.notes)
    text = render_text(c)
    assert re.search(r"throughput\s+30\.0 req/s\s+n/a", text), text
    assert write_html(c, tmp_path / "c.html").exists()


def test_a_result_with_almost_nothing_in_it_compares() -> None:
    c = compare({"scenario": "x", "outcome": "error"}, {"scenario": "x", "outcome": "error",
                                                        "measurements": {"overall": None}})
    assert all(r.verdict in (Verdict.UNKNOWN, Verdict.SAME) for s in c.sections for r in s.rows)
    assert "n/a" in render_text(c)


def test_faults_pair_by_name_with_recovery_and_phases() -> None:
    a = result(faults=(fault("dc-a-off", 10.0), fault("only-a", 5.0)))
    b = result(faults=(fault("dc-a-off", None, during=10.0), fault("only-b", 5.0)))
    c = compare(a, b)
    section = "fault dc-a-off"
    assert verdict(c, section, "time to recover") is Verdict.WORSE  # B never recovered
    assert verdict(c, section, "downtime") is Verdict.WORSE
    assert verdict(c, section, "during throughput") is Verdict.WORSE
    assert verdict(c, section, "before p95") is Verdict.SAME
    assert c.row("fault only-a", "downtime") is None
    assert any("'only-a' measured in A only" in n for n in c.notes)
    assert any("'only-b' measured in B only" in n for n in c.notes)
    assert "not recovered" in render_text(c)


def test_faster_recovery_is_better() -> None:
    c = compare(result(faults=(fault("f", 20.0),)), result(faults=(fault("f", 8.0),)))
    assert verdict(c, "fault f", "time to recover") is Verdict.BETTER


def test_objectives_and_data_loss() -> None:
    c = compare(result(lost=0, rto_passed=True), result(lost=3, rto_passed=False, outcome="failed"))
    assert verdict(c, "data loss", "lost uploads") is Verdict.WORSE
    assert verdict(c, "objectives", "rto (limit 30s)") is Verdict.WORSE
    assert verdict(c, "verdict", "outcome") is Verdict.WORSE
    text = render_text(c)
    assert "pass 10.00s" in text and "FAIL 40.00s" in text


def test_suites_pair_by_scenario_and_label() -> None:
    a = [result(scenario="baseline"), result(scenario="dc", label="users=5"),
         result(scenario="gone")]
    b = [result(scenario="dc", label="users=5", throughput=20.0), result(scenario="baseline"),
         result(scenario="new")]
    suite = compare_suites(a, b)
    assert [(p.before.scenario, p.after.label) for p in suite.pairs] == [("baseline", ""),
                                                                         ("dc", "users=5")]
    assert suite.only_before == ["gone"] and suite.only_after == ["new"]
    assert verdict(suite.pairs[1], "load", "throughput") is Verdict.WORSE
    text = render_text(suite)
    assert "only in A (not compared): gone" in text and "only in B (not compared): new" in text


def test_regressions_beyond_the_allowed_percentage() -> None:
    c = compare(result(throughput=40.0, p95=0.020), result(throughput=36.0, p95=0.021))
    assert regressions(c, 20) == []
    found = regressions(c, 5)
    assert len(found) == 1 and "throughput" in found[0] and "-10.0%" in found[0]


def test_html_is_self_contained_with_charts(tmp_path: Path) -> None:
    c = compare(result(throughput=30.0, faults=(fault("f", 5.0),)),
                result(throughput=40.0, users=20, faults=(fault("f", 3.0),)))
    html = write_html(c, tmp_path / "out" / "compare.html").read_text()
    assert "Throughput, A vs B" in html and "Latency, A vs B" in html
    assert "load.users" in html and "+10.0 req/s (+33.3%)" in html
    assert "<script src" not in html and "<link" not in html  # nothing fetched: opens offline
    assert "Plotly.newPlot" in html


def test_load_side_reads_runs_and_suites(tmp_path: Path) -> None:
    run = write(tmp_path / "run", result())
    assert len(load_side(run)) == 1 and len(load_side(run / "result.json")) == 1
    suite = tmp_path / "suite"
    write(suite / "run-1", result(scenario="a"))
    write(suite / "run-2", result(scenario="b"))
    assert sorted(r["scenario"] for r in load_side(suite)) == ["a", "b"]
    (suite / "results.json").write_text(json.dumps([result(scenario="a"), result(scenario="b")]))
    assert len(load_side(suite / "results.json")) == 2


# -- the CLI, as `main` runs it: real exit codes and messages --------------------------------------

def write(folder: Path, data: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "result.json").write_text(json.dumps(data))
    return folder


def drill(*args: str) -> tuple[int, str, str]:
    """`drill ARGS` through `main` (where errors become exit codes), output captured by CliRunner."""
    with CliRunner().isolation() as (out, err, _), pytest.raises(SystemExit) as exited:
        main(list(args))
    code = exited.value.code
    return int(code) if isinstance(code, int) else 0, out.getvalue().decode(), err.getvalue().decode()


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    return (write(tmp_path / "a", result(throughput=40.0, p95=0.020)),
            write(tmp_path / "b", result(throughput=30.0, p95=0.020, users=20)))


def test_cli_prints_the_table_and_exits_0(runs: tuple[Path, Path]) -> None:
    code, out, _ = drill("compare", str(runs[0]), str(runs[1]))
    assert code == 0
    assert "-10.0 req/s (-25.0%)" in out and "load.users" in out


def test_cli_fail_on_regression(runs: tuple[Path, Path]) -> None:
    a, b = str(runs[0]), str(runs[1])
    code, _, err = drill("compare", a, b, "--fail-on-regression", "10")
    assert code == 1 and "regression:" in err and "throughput" in err
    assert drill("compare", a, b, "--fail-on-regression", "30")[0] == 0
    assert drill("compare", b, a, "--fail-on-regression", "10")[0] == 0  # faster: no regression


def test_cli_json_and_html(runs: tuple[Path, Path], tmp_path: Path) -> None:
    page = tmp_path / "compare.html"
    code, out, err = drill("compare", str(runs[0]), str(runs[1]), "--json", "--html", str(page))
    assert code == 0 and page.exists() and f"html: {page}" in err
    data = json.loads(out)
    load = next(s for s in data["sections"] if s["title"] == "load")
    assert load["rows"][0]["metric"] == "throughput" and load["rows"][0]["verdict"] == "worse"


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such"),
    ("{not json", "not a readable JSON file"),
    ('{"hello": 1}', "not a drill result"),
])
def test_cli_bad_input_is_exit_2_naming_the_file(runs: tuple[Path, Path], tmp_path: Path,
                                                 content: str | None, message: str) -> None:
    bad = tmp_path / "bad" / "result.json"
    if content is not None:
        bad.parent.mkdir()
        bad.write_text(content)
    code, _, err = drill("compare", str(runs[0]), str(bad))
    assert code == 2 and message in err and str(bad) in err
    assert "Traceback" not in err


def test_cli_run_against_suite_is_exit_2(runs: tuple[Path, Path], tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    write(suite / "run-1", result(scenario="a"))
    write(suite / "run-2", result(scenario="b"))
    code, _, err = drill("compare", str(runs[0]), str(suite))
    assert code == 2 and "compare a run with a run, or a suite with a suite" in err
