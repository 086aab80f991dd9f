"""The HTML report: one self-contained file for one run or a suite of runs, opened offline.

Per run, the verdict first, then what happened over time (charts), then the
tables that back it up, then the container logs around each fault, and last
where and how it ran.  A run that never got far (v1 result, aborted, error)
still gets its verdict and whatever it left: nothing missing raises here.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import plotly.io as pio
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from chaos.errors import InputError
from chaos.report import charts
from chaos.report.markdown import SummaryRow, run_name, summary_row
from chaos.report.results import load_result
from chaos.report.series import (
    StackSample,
    event_points,
    lag_series,
    merge_intervals,
    read_requests,
    read_samples,
    rebuild_series,
    sample_points,
    state_spans,
    traffic_series,
)

#: Container log lines shown around each fault: this long before its effect and after.
LOG_BEFORE = 5.0
LOG_AFTER = 30.0
LOG_LINES_MAX = 300
#: Downtime intervals closer than this are drawn as one (sub-pixel gaps at any run length).
DOWNTIME_JOIN = 0.2
#: Lost ids shown openly up to this many; more go into a collapsed list.
LOST_IDS_OPEN = 12
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True,
                 "modeBarButtonsToRemove": ["select2d", "lasso2d"]}


@dataclass
class RunSection:
    """Everything the template shows of one run."""

    anchor: str
    name: str
    result: Mapping[str, Any]
    row: SummaryRow
    run_dir: Path
    link: str
    started: str
    duration: str
    timeline_chart: Markup | None = None
    stack_chart: Markup | None = None
    notes: list[str] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    impacts: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    artifacts: list[tuple[str, str]] = field(default_factory=list)


def write_html_report(run_dirs: Sequence[Path], out: Path, title: str | None = None) -> Path:
    """Write the report of `run_dirs` (run folders or their result.json) to `out`; returns `out`."""
    if not run_dirs:
        raise InputError("no run to report on", hint="give at least one run folder")
    loaded = [(_folder(Path(d)), load_result(Path(d))) for d in run_dirs]
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    sections = [_section(i, folder, result, out.parent) for i, (folder, result) in enumerate(loaded)]
    if title is None:
        title = (f"Drill report: {sections[0].name}" if len(sections) == 1
                 else f"Drill report: {len(sections)} runs")
    has_charts = any(s.timeline_chart or s.stack_chart for s in sections)
    html = _environment().get_template("report.html.j2").render(
        title=title, sections=sections, suite=len(sections) > 1,
        generated=_utc(dt.datetime.now(dt.UTC).timestamp()),
        plotly_js=Markup(get_plotlyjs()) if has_charts else None)  # noqa: S704 (plotly's own bundle)
    out.write_text(html, encoding="utf-8")
    return out


def _folder(path: Path) -> Path:
    return path.parent if path.name == "result.json" and not path.is_dir() else path


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("chaos.report", "templates"),
                             autoescape=True, undefined=jinja2.ChainableUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters.update(secs=_secs, ms=_ms, pct=_pct, num=_num_text, size=_size)
    return env


def _section(index: int, folder: Path, result: Mapping[str, Any], out_dir: Path) -> RunSection:
    origin = _f(result.get("clock_started_at")) or _f(result.get("started_at")) or 0.0
    started, ended = _f(result.get("started_at")), _f(result.get("ended_at"))
    section = RunSection(
        anchor=f"run-{index + 1}", name=run_name(result), result=result, row=summary_row(result),
        run_dir=folder, link=_relative(folder, out_dir),
        started=_utc(started) if started else "unknown",
        duration=_secs(ended - started) if started and ended else "unknown")
    measurements = result.get("measurements") or None
    if measurements is None:
        section.notes.append("No measurements: the drill ended before its load was measured "
                             f"(outcome {result.get('outcome', '?')}).")
    section.steps = _step_rows(result, origin)
    section.impacts = _impact_rows(measurements, origin)
    _charts(section, folder, result, measurements, origin)
    section.logs = _log_excerpts(folder, result, measurements, origin)
    section.artifacts = _artifacts(folder, result, out_dir)
    return section


def _charts(section: RunSection, folder: Path, result: Mapping[str, Any],
            measurements: Mapping[str, Any] | None, origin: float) -> None:
    try:
        requests = read_requests(folder)
    except InputError as e:
        requests = []
        section.notes.append(f"The load timeline could not be read: {e.message}")
    started = _f((measurements or {}).get("started_at")) or _f(result.get("started_at")) or origin
    ended = _f((measurements or {}).get("ended_at")) or _f(result.get("ended_at")) or started
    if requests:
        started, ended = min(started, requests[0].start), max(ended, requests[-1].start)
    x_range = (started - origin - 1, ended - origin + 1)
    faults = (measurements or {}).get("faults") or []
    downtime = merge_intervals(
        ((iv["start"] - origin, iv["end"] - origin) for f in faults
         for iv in (f.get("impact") or {}).get("down_intervals") or []
         if _f(iv.get("start")) is not None and _f(iv.get("end")) is not None), gap=DOWNTIME_JOIN)
    marks = charts.step_marks(result.get("steps") or [], origin, ended)
    if not requests:
        section.notes.append("No load timeline in this run folder (load/timeline-*.csv): "
                             "no traffic chart.")
    if requests or marks:
        traffic = traffic_series(requests, origin, start=started, end=ended) if requests else None
        figure = charts.timeline_figure(traffic, marks, charts.phase_bands(faults, origin), downtime,
                                        x_range, probe=_probe_text(result))
        section.timeline_chart = _div(figure, f"{section.anchor}-timeline")
    samples_path = folder / "stack" / "samples.jsonl"
    samples: list[StackSample] = []
    if samples_path.exists():
        samples, bad = read_samples(samples_path)
        if bad:
            section.notes.append(f"{bad} line(s) of stack/samples.jsonl were not readable samples.")
    events = [e for e in result.get("stack_events") or [] if isinstance(e, Mapping)]
    details = [(point, str(event.get("detail") or "")) for event in events
               for point in event_points([event])]
    if not samples and not details:
        section.notes.append("No RAID or replication record in this run (stack/samples.jsonl and "
                             "stack_events come with result schema v2).")
        return
    # Samples give the states every 2 s; events add what samples do not carry (containers, split brain).
    points = sample_points(samples)
    sampled = {p.field for p in points}
    points += [p for p, _ in details if p.field not in sampled]
    figure = charts.stack_figure(state_spans(points, origin, ended), details, lag_series(samples, origin),
                                 rebuild_series(samples, origin), marks, downtime, x_range, origin)
    section.stack_chart = _div(figure, f"{section.anchor}-stack")


def _div(figure: Any, div_id: str) -> Markup:
    html = pio.to_html(figure, include_plotlyjs=False, full_html=False, div_id=div_id,
                       config=PLOTLY_CONFIG, default_width="100%",
                       default_height=f"{figure.layout.height}px")
    return Markup(html)  # noqa: S704 (plotly's own markup)


def _step_rows(result: Mapping[str, Any], origin: float) -> list[dict[str, Any]]:
    rows = []
    for step in result.get("steps") or []:
        started = _f(step.get("started_at"))
        planned = _f(step.get("planned_offset"))
        end = _f(step.get("rolled_back_at")) or _f(step.get("ended_at"))
        injection = step.get("injection") or {}
        rows.append({
            "name": step.get("name", "?"), "what": step.get("what", ""),
            "trigger": step.get("trigger", ""), "state": step.get("state", "?"),
            "ok": step.get("ok"), "detail": step.get("detail", ""),
            "kind": "fault" if injection else "action",
            "planned": None if planned is None else f"T+{planned:.1f} s",
            "started": _tplus(started, origin), "effective": _tplus(_f(step.get("effective_at")), origin),
            "ended": _tplus(_f(step.get("ended_at")), origin),
            "rolled_back": _tplus(_f(step.get("rolled_back_at")), origin),
            "late": None if planned is None or started is None else f"{started - origin - planned:+.2f} s",
            "took": _secs(end - started) if started is not None and end is not None else "",
            "latency": _secs(_f(injection.get("latency"))) if injection.get("latency") is not None else "",
            "human": _secs(_f(step.get("human_seconds"))) if step.get("human_seconds") else "",
        })
    return rows


def _impact_rows(measurements: Mapping[str, Any] | None, origin: float) -> list[dict[str, Any]]:
    rows = []
    for fault in (measurements or {}).get("faults") or []:
        impact = fault.get("impact") or {}
        mark = fault.get("fault") or {}
        rows.append({
            "name": mark.get("name", "?"), "at": _tplus(_f(mark.get("at")), origin),
            "first_error": _secs(_f(impact.get("time_to_first_error"))),
            "recovered": impact.get("recovered"),
            "recover": _secs(_f(impact.get("time_to_recover"))),
            "not_recovered_reason": impact.get("not_recovered_reason") or "",
            "downtime": _secs(_f(impact.get("downtime"))),
            "intervals": len(impact.get("down_intervals") or []),
            "failed": impact.get("failed_requests"), "slow": impact.get("slow_requests"),
            "requests": impact.get("requests"),
            "phases": [{**p, "from": _tplus(_f(p.get("start")), origin),
                        "to": _tplus(_f(p.get("end")), origin),
                        "length": _secs((_f(p.get("end")) or 0) - (_f(p.get("start")) or 0))}
                       for p in fault.get("phases") or []],
        })
    return rows


def _fault_moments(result: Mapping[str, Any], measurements: Mapping[str, Any] | None
                   ) -> list[tuple[str, float]]:
    """Each measured fault's effective time; without measurements, each injected step's."""
    moments: dict[str, float] = {}
    for fault in (measurements or {}).get("faults") or []:
        mark = fault.get("fault") or {}
        at = _f(mark.get("at"))
        if at is not None:
            moments.setdefault(str(mark.get("name", "?")), at)
    for step in result.get("steps") or []:
        at = _f(step.get("effective_at")) or _f(step.get("started_at"))
        if step.get("injection") and at is not None:
            moments.setdefault(str(step.get("name", "?")), at)
    return sorted(moments.items(), key=lambda m: m[1])


def _log_files(folder: Path, result: Mapping[str, Any]) -> dict[str, Path]:
    named = (result.get("artifacts") or {}).get("logs") or {}
    files = {str(k): folder / str(v) for k, v in named.items() if isinstance(v, str)}
    for path in sorted((folder / "logs").glob("*.log")):
        files.setdefault(path.stem, path)
    return {name: path for name, path in sorted(files.items()) if path.is_file()}


def parse_log_line(line: str) -> tuple[float | None, str]:
    """`2026-11-23T22:59:20.123456789Z message` -> (epoch seconds, message); (None, line) otherwise."""
    stamp, _, message = line.partition(" ")
    if not stamp.endswith("Z") or "T" not in stamp:
        return None, line
    whole, _, fraction = stamp[:-1].partition(".")
    try:
        moment = dt.datetime.fromisoformat(whole).replace(tzinfo=dt.UTC)
    except ValueError:
        return None, line
    digits = "".join(c for c in fraction if c.isdigit())
    return moment.timestamp() + (int(digits) / 10 ** len(digits) if digits else 0.0), message


def _log_excerpts(folder: Path, result: Mapping[str, Any], measurements: Mapping[str, Any] | None,
                  origin: float) -> list[dict[str, Any]]:
    files = _log_files(folder, result)
    moments = _fault_moments(result, measurements)
    if not files or not moments:
        return []
    parsed: dict[str, list[tuple[float | None, str]]] = {}
    for name, path in files.items():
        try:
            parsed[name] = [parse_log_line(line) for line in path.read_text(errors="replace").splitlines()]
        except OSError:
            continue
    excerpts = []
    for fault, at in moments:
        services = []
        for name, lines in parsed.items():
            shown: list[tuple[str, str]] = []
            total = 0
            last: float | None = None
            for moment, message in lines:
                last = moment if moment is not None else last  # a continuation keeps its line's time
                if last is None or not at - LOG_BEFORE <= last <= at + LOG_AFTER:
                    continue
                total += 1
                if len(shown) < LOG_LINES_MAX:
                    shown.append((f"{'T' + format(last - origin, '+.2f'):>9}" if moment is not None
                                  else " " * 9, message))
            services.append({"name": name, "lines": shown, "more": total - len(shown),
                             "path": files[name].relative_to(folder).as_posix()
                             if files[name].is_relative_to(folder) else str(files[name])})
        excerpts.append({"fault": fault, "at": _tplus(at, origin), "services": services})
    return excerpts


def _probe_text(result: Mapping[str, Any]) -> str:
    """What the prober asked, as the chart's title says it: `10 requests/s to GET /healthz`."""
    parameters = result.get("parameters") or {}
    probe = (parameters.get("traffic") or {}).get("probe") or {}
    if probe:
        return f"{probe.get('rate', 10):g} requests/s, {probe.get('method', 'GET')} {probe.get('path', '/')}"
    rate = (parameters.get("load") or {}).get("prober_rate") or 10
    return f"{rate:g} requests/s to /healthz"  # results from before the probe section


def _artifacts(folder: Path, result: Mapping[str, Any], out_dir: Path) -> list[tuple[str, str]]:
    """(what, link relative to the report) of every file the run left that exists."""
    found: list[tuple[str, Path]] = [("result.json", folder / "result.json")]
    listed = result.get("artifacts") or {}
    for key, value in listed.items():
        values = value.items() if isinstance(value, Mapping) else (
            [(key, v) for v in value] if isinstance(value, list) else [(key, value)])
        for what, rel in values:
            if isinstance(rel, str):
                found.append((f"{key}: {what}" if what != key else key, folder / rel))
    if not listed:  # v1: what is there
        found += [(f"load: {p.name}", p) for p in sorted((folder / "load").glob("*"))]
        found += [(f"logs: {p.name}", p) for p in sorted((folder / "logs").glob("*.log"))]
        if (folder / "stack" / "samples.jsonl").exists():
            found.append(("samples", folder / "stack" / "samples.jsonl"))
    seen: set[Path] = set()
    links = []
    for what, path in found:
        if path.exists() and path not in seen:
            seen.add(path)
            links.append((what, _relative(path, out_dir)))
    return links


def _relative(path: Path, start: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), start.resolve())).as_posix()
    except ValueError:  # another drive
        return path.resolve().as_uri()


def _f(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _utc(epoch: float | None) -> str:
    if epoch is None:
        return ""
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _tplus(epoch: float | None, origin: float) -> str:
    return "" if epoch is None else f"T{epoch - origin:+.2f} s"


def _secs(value: Any) -> str:
    number = _f(value)
    if number is None:
        return "–"
    if abs(number) >= 120:
        return f"{int(number // 60)} min {number % 60:.0f} s"
    return f"{number:.2f} s"


def _ms(value: Any) -> str:
    number = _f(value)
    return "–" if number is None else f"{number * 1000:.0f} ms" if number >= 0.01 else \
        f"{number * 1000:.1f} ms"


def _pct(value: Any) -> str:
    number = _f(value)
    return "–" if number is None else f"{number:.1%}"


def _num_text(value: Any, digits: int = 1) -> str:
    number = _f(value)
    return "–" if number is None else f"{number:,.{digits}f}"


def _size(value: Any) -> str:
    number = _f(value)
    if number is None:
        return "–"
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if number < 1024 or unit == "GiB":
            return f"{number:,.0f} {unit}" if unit == "bytes" else f"{number:.1f} {unit}"
        number /= 1024
    return f"{number:.1f} GiB"
