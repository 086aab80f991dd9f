"""A before/after comparison for people: an aligned terminal table, and one HTML file with charts."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from chaos.report.compare import TOLERANCE, Comparison, Row, SuiteComparison, Value


def render_text(comparison: Comparison | SuiteComparison) -> str:
    """An aligned table for a terminal: metric, A, B, change, verdict."""
    if isinstance(comparison, Comparison):
        return "\n".join(_text_lines(comparison))
    lines = []
    for pair in comparison.pairs:
        lines += _text_lines(pair) + [""]
    for side, names in (("A", comparison.only_before), ("B", comparison.only_after)):
        if names:
            lines.append(f"only in {side} (not compared): {', '.join(names)}")
    if not comparison.pairs:
        lines.append("no scenario ran in both suites: nothing to compare")
    return "\n".join(lines).rstrip()


def _text_lines(c: Comparison) -> list[str]:
    lines = [f"A (before): {c.before.title}", f"B (after):  {c.after.title}"]
    if c.changed:
        width = max(len(p.name) for p in c.changed)
        lines.append("what differs:")
        lines += [f"  {p.name:<{width}}  {p.before}  →  {p.after}" for p in c.changed]
    else:
        lines.append("what differs: no recorded parameter")
    lines += [f"note: {n}" for n in c.notes]
    table = [("metric", "A", "B", "change", "")]
    for section in c.sections:
        if section.rows:
            table.append((section.title, "", "", "", ""))
            table += [("  " + r.metric, *r.shown, r.mark) for r in section.rows]
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    lines.append("")
    for metric, a, b, change, mark in table:
        lines.append(f"{metric:<{widths[0]}}  {a:>{widths[1]}}  {b:>{widths[2]}}  "
                     f"{change:>{widths[3]}}  {mark}".rstrip())
    return lines


def write_html(comparison: Comparison | SuiteComparison, out: Path) -> Path:
    """One self-contained HTML file (charts and plotly JS embedded: opens offline)."""
    import jinja2
    import plotly.offline

    pairs = comparison.pairs if isinstance(comparison, SuiteComparison) else [comparison]
    env = jinja2.Environment(loader=jinja2.PackageLoader("chaos.report", "templates"),
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    html = env.get_template("compare.html.j2").render(
        pairs=[(pair, _charts(pair)) for pair in pairs],
        only_before=comparison.only_before if isinstance(comparison, SuiteComparison) else [],
        only_after=comparison.only_after if isinstance(comparison, SuiteComparison) else [],
        tolerance=pairs[0].tolerance if pairs else TOLERANCE,
        plotly_js=plotly.offline.get_plotlyjs(),
        generated=datetime.now().strftime("%Y-%m-%d %H:%M"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    return out


def _charts(c: Comparison) -> list[str]:
    """Bar charts of A vs B: throughput (overall and per phase), latency percentiles."""
    import markupsafe
    import plotly.graph_objects as go
    import plotly.io

    throughput: list[tuple[str, Row]] = []
    latency: list[tuple[str, Row]] = []
    for section in c.sections:
        fault = section.title.removeprefix("fault ")
        for r in section.rows:
            if section.title == "load" and r.metric in ("throughput", "good throughput"):
                throughput.append(("whole run" + (", good answers" if r.metric != "throughput"
                                                  else ""), r))
            elif section.title == "load" and r.metric in ("p50", "p95", "p99"):
                latency.append((r.metric, r))
            elif section.title.startswith("fault ") and r.metric.endswith(" throughput"):
                throughput.append((f"{fault}: {r.metric.removesuffix(' throughput')}", r))
    charts: list[str] = []
    for title, unit, chosen, scale in (("Throughput", "req/s", throughput, 1.0),
                                       ("Latency", "ms", latency, 1000.0)):
        labels = [label for label, _ in chosen]
        figure = go.Figure([
            go.Bar(name=name, x=labels, y=[_scaled(getattr(r, side), scale) for _, r in chosen],
                   marker_color=color)
            for name, side, color in (("A (before)", "before", "#8c8c8c"),
                                      ("B (after)", "after", "#1f77b4"))])
        figure.update_layout(title=f"{title}, A vs B", yaxis_title=unit, barmode="group",
                             height=360, margin={"t": 50, "b": 40, "l": 60, "r": 20},
                             legend={"orientation": "h", "x": 0.5, "xanchor": "center", "y": 1.12})
        charts.append(markupsafe.Markup(plotly.io.to_html(
            figure, include_plotlyjs=False, full_html=False, config={"displaylogo": False})))
    return charts


def _scaled(value: Value, scale: float) -> float | None:
    return value * scale if isinstance(value, float) else None
