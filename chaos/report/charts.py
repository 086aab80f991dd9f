"""The report's charts (plotly figures): the run's timeline, and its stack's states and lag.

Both share one x axis, seconds after the drill's T+0, and one left margin, so a
person can read a moment straight down from the customers' view (timeline) to
the servers' (stack).  Colours mean one thing everywhere: red is failure or
downtime, orange an injected fault, blue an action of the scenario.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from chaos.report.series import Span, StatePoint, TrafficSeries

RED = "#d62728"
ORANGE = "#f08c00"
BLUE = "#1c7ed6"
GREEN = "#2b8a3e"
PURPLE = "#7048e8"
GREY = "#868e96"
FAULT_FILL = "rgba(240,140,0,0.16)"
ACTION_FILL = "rgba(28,126,214,0.10)"
DOWN_FILL = "rgba(214,39,40,0.22)"
PHASE_COLOURS = {"before": "#ced4da", "during": "#ffa94d", "after": "#8ce99a"}
STATE_COLOURS = {
    # RAID
    "healthy": "#40c057", "degraded": "#fab005", "rebuilding": "#339af0", "read-only": "#fd7e14",
    "lost": "#c92a2a", "unreachable": "#adb5bd", "none": "#e9ecef",
    # replication role
    "primary": "#4263eb", "standby": "#a5d8ff", "down": RED, "unknown": "#dee2e6",
    "unmounted": "#495057", "errors": "#e8590c",
    # containers
    "running": "#40c057", "exited": RED, "stopped": RED, "paused": "#fab005", "dead": RED,
}
#: Where one word means different things in different fields.
FIELD_STATE_COLOURS = {
    ("rebuild", "running"): "#339af0", ("rebuild", "finished"): "#40c057",
    ("rebuild", "failed"): RED, ("rebuild", "none"): "#e9ecef",
    ("split-brain", "yes"): RED, ("split-brain", "no"): "#40c057",
}
FIELD_TITLES = {"raid": "RAID", "rebuild": "rebuild", "role": "role", "container": "container",
                "split-brain": "split brain"}
FIELD_ORDER = ("container", "raid", "rebuild", "role", "split-brain")
#: Steps shorter than this are drawn as an instant (a line), not an interval.
INSTANT = 0.5
LEFT_MARGIN = 190
TOP, BOTTOM, ROW_GAP = 120, 60, 62
FONT = "DejaVu Sans, Segoe UI, Helvetica, Arial, sans-serif"


@dataclass(frozen=True)
class Mark:
    """A step on the charts, in seconds after T+0."""

    name: str
    #: "fault" (an injection) or "action"
    kind: str
    start: float
    #: None: an instant.
    end: float | None
    #: The step had not ended when the run did: drawn until the run's end.
    open_ended: bool
    label: str
    #: When the plan said the step starts (v2), None if it waits on another step or a probe.
    planned: float | None = None


@dataclass(frozen=True)
class PhaseBand:
    fault: str
    name: str
    start: float
    end: float


def _num(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def step_marks(steps: Sequence[Mapping[str, Any]], origin: float, run_end: float) -> list[Mark]:
    """Every step that started: from its effect (or start) to its rollback (or end)."""
    marks = []
    for step in steps:
        start = _num(step.get("effective_at")) or _num(step.get("started_at"))
        if start is None:
            continue
        end = _num(step.get("rolled_back_at")) or _num(step.get("ended_at"))
        open_ended = end is None
        if end is None:
            end = run_end
        kind = "fault" if step.get("injection") else "action"
        offset = _num(step.get("planned_offset"))
        instant = end - start < INSTANT and not open_ended
        what = str(step.get("what") or "")
        label = f"{step.get('name', '?')}: {what}" if what else str(step.get("name", "?"))
        marks.append(Mark(str(step.get("name", "?")), kind, start - origin,
                          None if instant else end - origin, open_ended, label,
                          None if offset is None else offset))
    return marks


def phase_bands(faults: Sequence[Mapping[str, Any]], origin: float) -> list[PhaseBand]:
    """The before/during/after phases of every measured fault."""
    bands = []
    for fault in faults:
        name = str((fault.get("fault") or {}).get("name", "?"))
        for phase in fault.get("phases") or []:
            start, end = _num(phase.get("start")), _num(phase.get("end"))
            if start is not None and end is not None:
                bands.append(PhaseBand(name, str(phase.get("name", "?")), start - origin, end - origin))
    return bands


def _lane_bars(fig: go.Figure, *, name: str, colour: str, lanes: list[str], starts: list[float],
               lengths: list[float], hover: list[str], row: int, group: str,
               hatched: list[bool] | None = None) -> None:
    if not lanes:
        return
    pattern = {"shape": ["/" if h else "" for h in hatched], "fgcolor": "white", "solidity": 0.3
               } if hatched and any(hatched) else {}
    fig.add_trace(go.Bar(
        name=name, legendgroup=group, orientation="h", y=lanes, x=lengths, base=starts,
        marker={"color": colour, "line": {"width": 0}, "pattern": pattern},
        width=0.62, hovertext=hover, hovertemplate="%{hovertext}<extra></extra>"),
        row=row, col=1)


def _vrects(fig: go.Figure, marks: Sequence[Mark], downtime: Sequence[tuple[float, float]],
            rows: Sequence[int], *, label_row: int | None) -> None:
    """Faults and actions shaded (instants as lines) and downtime in red, on each of `rows`."""
    for row in rows:
        yref = f"y{'' if row == 1 else row} domain"
        xref = f"x{'' if row == 1 else row}"
        for mark in marks:
            if mark.end is None:
                fig.add_shape(type="line", xref=xref, yref=yref, x0=mark.start, x1=mark.start,
                              y0=0, y1=1, layer="below",
                              line={"color": ORANGE if mark.kind == "fault" else BLUE,
                                    "width": 1.5, "dash": "dot"})
            else:
                fig.add_shape(type="rect", xref=xref, yref=yref, x0=mark.start, x1=mark.end, y0=0,
                              y1=1, layer="below", line={"width": 0},
                              fillcolor=FAULT_FILL if mark.kind == "fault" else ACTION_FILL)
        for start, end in downtime:
            fig.add_shape(type="rect", xref=xref, yref=yref, x0=start, x1=end, y0=0, y1=1,
                          layer="below", line={"width": 0}, fillcolor=DOWN_FILL)
    if label_row is None:
        return
    # Each step named on the chart itself, staggered so neighbours do not overwrite each other.
    levels: list[float] = []
    xref = f"x{'' if label_row == 1 else label_row}"
    yref = f"y{'' if label_row == 1 else label_row} domain"
    span = max((m.end or m.start) for m in marks) - min(m.start for m in marks) if marks else 1.0
    for mark in sorted(marks, key=lambda m: m.start):
        width = max(span, 1.0) * (len(mark.name) * 7 + 16) / 1100
        level = next((i for i, taken in enumerate(levels) if taken <= mark.start), len(levels))
        if level == len(levels):
            levels.append(0.0)
        levels[level] = mark.start + width
        fig.add_annotation(x=mark.start, y=1 - 0.17 * (level % 4), xref=xref, yref=yref,
                           text=mark.name, showarrow=False, xanchor="left", yanchor="top", xshift=3,
                           font={"size": 11, "color": "#7a4100" if mark.kind == "fault" else "#114b8a"},
                           bgcolor="rgba(255,255,255,0.75)")


def _height(rows_px: Sequence[int]) -> int:
    """The figure's height for subplots of these heights (px), with room for titles and legend."""
    return sum(rows_px) + ROW_GAP * (len(rows_px) - 1) + TOP + BOTTOM


def _spacing(rows_px: Sequence[int]) -> float:
    return ROW_GAP / (sum(rows_px) + ROW_GAP * (len(rows_px) - 1)) if len(rows_px) > 1 else 0.0


def _layout(fig: go.Figure, height: int, x_range: tuple[float, float]) -> None:
    # The legend above the first subplot's title, not on it.
    legend_y = 1 + 34 / (height - TOP - BOTTOM)
    fig.update_layout(
        height=height, template="plotly_white", showlegend=True, barmode="overlay", bargap=0.3,
        font={"family": FONT, "size": 12, "color": "#212529"},
        margin={"l": LEFT_MARGIN, "r": 30, "t": TOP, "b": BOTTOM},
        legend={"orientation": "h", "yanchor": "bottom", "y": legend_y, "x": 0, "xanchor": "left",
                "font": {"size": 11}, "traceorder": "grouped", "groupclick": "toggleitem"},
        hovermode="closest", hoverlabel={"font": {"family": FONT}})
    fig.update_xaxes(range=list(x_range), showgrid=True, gridcolor="#eef0f2", zeroline=True,
                     zerolinecolor="#adb5bd", ticksuffix=" s", showticklabels=True)


def _lanes_axis(fig: go.Figure, lanes: Sequence[str], row: int) -> None:
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=list(lanes),
                     range=[len(lanes) - 0.5, -0.5], showgrid=False, tickfont={"size": 11},
                     fixedrange=True, row=row, col=1)


def timeline_figure(traffic: TrafficSeries | None, marks: Sequence[Mark], phases: Sequence[PhaseBand],
                    downtime: Sequence[tuple[float, float]], x_range: tuple[float, float],
                    probe: str = "10 requests/s to /healthz") -> go.Figure:
    """Steps and phases in lanes on top; request rate, errors, p95 and availability below.

    Without traffic (the run left no timeline) only the lanes are drawn.
    """
    fault_lanes = list(dict.fromkeys(f"phases · {p.fault}" for p in phases))
    lanes = [m.name for m in marks] + fault_lanes + (["downtime"] if downtime else [])
    lanes = list(dict.fromkeys(lanes)) or ["(no step)"]
    lanes_px = 28 * len(lanes) + 12
    metric_px = 150
    titles = ["Steps of the drill, phases of each measured fault, downtime seen by the prober"]
    if traffic:
        titles += [f"Load: requests sent per second{_bucket_text(traffic.bucket)}",
                   "Load: failed requests (% of the bucket's requests)",
                   "Load: 95th percentile latency (ms, log scale)",
                   f"Prober ({probe}): availability (% answered well)"]
    rows = len(titles)
    heights = [lanes_px] + [metric_px] * (rows - 1)
    height = _height(heights)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=titles,
                        row_heights=heights, vertical_spacing=_spacing(heights))
    _step_lanes(fig, marks, phases, downtime)
    if not (marks or phases or downtime):
        # An empty lane reads as a drawing that failed; say why it is empty.
        (x0, x1), (y0, y1) = fig.layout.xaxis.domain, fig.layout.yaxis.domain
        fig.add_annotation(text="no fault or action in this drill: the load alone",
                           xref="paper", yref="paper", x=(x0 + x1) / 2, y=(y0 + y1) / 2,
                           showarrow=False, font={"size": 13, "color": "#6c757d"})
    if traffic:
        _traffic_rows(fig, traffic)
        _vrects(fig, marks, downtime, rows=(2, 3, 4, 5), label_row=2)
    _layout(fig, height, x_range)
    _lanes_axis(fig, lanes, row=1)
    if traffic:
        fig.update_yaxes(title_text="requests/s", rangemode="tozero", row=2, col=1)
        fig.update_yaxes(title_text="failed (%)", range=[0, 105], row=3, col=1)
        fig.update_yaxes(title_text="p95 (ms)", type="log", row=4, col=1)
        fig.update_yaxes(title_text="available (%)", range=[0, 105], row=5, col=1)
    fig.update_xaxes(title_text="seconds since T+0 (the end of the steady state)", row=rows, col=1)
    for title in titles:
        fig.update_annotations(selector={"text": title}, font={"size": 13, "color": "#343a40"},
                               x=0, xanchor="left")
    return fig


def _step_lanes(fig: go.Figure, marks: Sequence[Mark], phases: Sequence[PhaseBand],
                downtime: Sequence[tuple[float, float]]) -> None:
    for kind, colour, name in (("fault", ORANGE, "fault injected"), ("action", BLUE, "action")):
        shown = [m for m in marks if m.kind == kind and m.end is not None]
        _lane_bars(fig, name=name, colour=colour, lanes=[m.name for m in shown],
                   starts=[m.start for m in shown], lengths=[(m.end or m.start) - m.start for m in shown],
                   hover=[_mark_hover(m) for m in shown], row=1, group="steps",
                   hatched=[m.open_ended for m in shown])
    instants = [m for m in marks if m.end is None]
    if instants:
        fig.add_trace(go.Scatter(
            name="instant step", legendgroup="steps", x=[m.start for m in instants],
            y=[m.name for m in instants], mode="markers",
            marker={"symbol": "diamond", "size": 12, "line": {"width": 1, "color": "#343a40"},
                    "color": [ORANGE if m.kind == "fault" else BLUE for m in instants]},
            hovertext=[_mark_hover(m) for m in instants],
            hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
    planned = [m for m in marks if m.planned is not None]
    if planned:
        fig.add_trace(go.Scatter(
            name="planned start", legendgroup="steps", x=[m.planned for m in planned],
            y=[m.name for m in planned], mode="markers",
            marker={"symbol": "triangle-down-open", "size": 11, "color": "#343a40",
                    "line": {"width": 1.5}},
            hovertext=[f"{m.name}: planned at T+{m.planned:.1f} s, began T+{m.start:.1f} s"
                       for m in planned],
            hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
    for phase_name, colour in PHASE_COLOURS.items():
        shown_phases = [p for p in phases if p.name == phase_name]
        _lane_bars(fig, name=f"phase: {phase_name}", colour=colour,
                   lanes=[f"phases · {p.fault}" for p in shown_phases],
                   starts=[p.start for p in shown_phases],
                   lengths=[p.end - p.start for p in shown_phases],
                   hover=[f"{p.fault}: {p.name} T+{p.start:.1f} → T+{p.end:.1f} s" for p in shown_phases],
                   row=1, group="phases")
    _lane_bars(fig, name="downtime", colour=RED, lanes=["downtime"] * len(downtime),
               starts=[a for a, _ in downtime], lengths=[b - a for a, b in downtime],
               hover=[f"down T+{a:.2f} → T+{b:.2f} s ({b - a:.2f} s)" for a, b in downtime],
               row=1, group="downtime")


def _traffic_rows(fig: go.Figure, traffic: TrafficSeries) -> None:
    centre = [x + traffic.bucket / 2 for x in traffic.t]
    fig.add_trace(go.Scatter(
        name="requests/s", legendgroup="load", x=centre, y=list(traffic.request_rate),
        mode="lines", line={"color": BLUE, "width": 1.8, "shape": "hvh"}, fill="tozeroy",
        fillcolor="rgba(28,126,214,0.12)", hovertemplate="T+%{x:.0f} s: %{y:.1f} req/s<extra></extra>"),
        row=2, col=1)
    # Bars, not a filled line: a bucket with no request has no error rate, and a fill would invent one.
    fig.add_trace(go.Bar(
        name="failed %", legendgroup="load", x=centre,
        y=[None if v is None else 100 * v for v in traffic.error_rate], width=traffic.bucket * 0.9,
        marker={"color": RED, "line": {"width": 0}},
        hovertemplate="T+%{x:.0f} s: %{y:.1f} % failed<extra></extra>"), row=3, col=1)
    fig.add_trace(go.Scatter(
        name="p95 latency", legendgroup="load", x=centre,
        y=[None if v is None else max(v * 1000, 0.1) for v in traffic.p95], mode="lines+markers",
        marker={"size": 3}, line={"color": PURPLE, "width": 1.6}, connectgaps=False,
        hovertemplate="T+%{x:.0f} s: p95 %{y:.1f} ms<extra></extra>"), row=4, col=1)
    fig.add_trace(go.Scatter(
        name="prober availability", legendgroup="probe", x=centre,
        y=[None if v is None else 100 * v for v in traffic.availability], mode="lines",
        line={"color": GREEN, "width": 1.8, "shape": "hvh"}, connectgaps=False,
        hovertemplate="T+%{x:.0f} s: %{y:.0f} % available<extra></extra>"), row=5, col=1)
    # Legend entries for the shading drawn as shapes.
    for name, colour in (("fault interval (shaded)", FAULT_FILL), ("action interval (shaded)", ACTION_FILL),
                         ("downtime (shaded)", DOWN_FILL)):
        fig.add_trace(go.Scatter(name=name, legendgroup="shading", x=[None], y=[None], mode="markers",
                                 marker={"symbol": "square", "size": 14, "color": colour,
                                         "line": {"width": 1, "color": "#ced4da"}},
                                 hoverinfo="skip"), row=2, col=1)


PerTarget = Mapping[str, tuple[list[float], list[float | None]]]


def stack_figure(spans: Sequence[Span], events: Sequence[tuple[StatePoint, str]], lags: PerTarget,
                 rebuilds: PerTarget, marks: Sequence[Mark], downtime: Sequence[tuple[float, float]],
                 x_range: tuple[float, float], origin: float) -> go.Figure:
    """Each server's RAID state, rebuild and role as coloured runs, the stack's events; lag, rebuild %."""
    order = {field: i for i, field in enumerate(FIELD_ORDER)}
    keys = sorted({(s.target, s.field) for s in spans} | {(p.target, p.field) for p, _ in events},
                  key=lambda k: (k[0] == "stack", k[0], order.get(k[1], len(order)), k[1]))
    lanes = [_lane(*k) for k in keys] or ["(no state)"]
    heights = [30 * len(lanes) + 12]
    titles = ["States of the servers (coloured by state; ◆ = a change the harness recorded)"]
    if lags:
        heights.append(170)
        titles.append("Replication lag of each standby (bytes behind the primary)")
    if rebuilds:
        heights.append(150)
        titles.append("RAID rebuild progress (btrfs replace, % done)")
    rows = len(heights)
    height = _height(heights)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, subplot_titles=titles,
                        row_heights=heights, vertical_spacing=_spacing(heights))
    by_state: dict[tuple[str, str], list[Span]] = {}
    for span in spans:
        by_state.setdefault((span.field, span.state), []).append(span)
    for (field, state), shown in sorted(by_state.items(), key=lambda i: (order.get(i[0][0], 9), i[0])):
        _lane_bars(fig, name=f"{FIELD_TITLES.get(field, field)}: {state}", colour=state_colour(field, state),
                   lanes=[_lane(s.target, s.field) for s in shown],
                   starts=[s.start for s in shown], lengths=[max(s.end - s.start, 0.3) for s in shown],
                   hover=[f"{s.target} {FIELD_TITLES.get(s.field, s.field)} {s.state}: "
                          f"T+{s.start:.1f} → T+{s.end:.1f} s" for s in shown],
                   row=1, group=field)
    if events:
        fig.add_trace(go.Scatter(
            name="recorded change", legendgroup="events", x=[p.at - origin for p, _ in events],
            y=[_lane(p.target, p.field) for p, _ in events], mode="markers",
            marker={"symbol": "diamond", "size": 10, "color": "#212529",
                    "line": {"width": 1, "color": "white"}},
            hovertext=[f"T+{p.at - origin:.1f} s {p.target} {FIELD_TITLES.get(p.field, p.field)} → "
                       f"{p.state}" + (f": {detail}" if detail else "") for p, detail in events],
            hovertemplate="%{hovertext}<extra></extra>"), row=1, col=1)
    row = 2
    if lags:
        for target, (t, lag) in sorted(lags.items()):
            fig.add_trace(go.Scatter(
                name=f"lag {target}", legendgroup="lag", x=t, y=lag, mode="lines+markers",
                marker={"size": 4}, line={"width": 1.6}, connectgaps=False,
                hovertemplate=f"{target} T+%{{x:.0f}} s: %{{y:,.0f}} bytes behind<extra></extra>"),
                row=row, col=1)
        fig.update_yaxes(title_text="lag (bytes)", tickformat="~s", rangemode="tozero", row=row, col=1)
        row += 1
    if rebuilds:
        for target, (t, percent) in sorted(rebuilds.items()):
            fig.add_trace(go.Scatter(
                name=f"rebuild {target}", legendgroup="rebuild", x=t, y=percent, mode="lines+markers",
                marker={"size": 4}, line={"width": 1.6, "color": STATE_COLOURS["rebuilding"]},
                connectgaps=False,
                hovertemplate=f"{target} T+%{{x:.0f}} s: %{{y:.0f}} % rebuilt<extra></extra>"),
                row=row, col=1)
        fig.update_yaxes(title_text="rebuilt (%)", range=[0, 105], row=row, col=1)
    _vrects(fig, marks, downtime, rows=tuple(range(1, rows + 1)), label_row=None)
    _layout(fig, height, x_range)
    _lanes_axis(fig, lanes, row=1)
    fig.update_xaxes(title_text="seconds since T+0", row=rows, col=1)
    for title in titles:
        fig.update_annotations(selector={"text": title}, font={"size": 13, "color": "#343a40"},
                               x=0, xanchor="left")
    return fig


def state_colour(field: str, state: str) -> str:
    """The colour of a state: red for what customers feel, amber for what is at risk, green for fine."""
    return FIELD_STATE_COLOURS.get((field, state)) or STATE_COLOURS.get(state, GREY)


def _lane(target: str, field: str) -> str:
    return f"{target} · {FIELD_TITLES.get(field, field)}"


def _bucket_text(bucket: float) -> str:
    return "" if bucket == 1 else f", averaged over {bucket:g} s buckets"


def _mark_hover(mark: Mark) -> str:
    if mark.end is None:
        return f"{mark.label}<br>at T+{mark.start:.2f} s"
    tail = " (had not ended when the run did)" if mark.open_ended else ""
    return (f"{mark.label}<br>T+{mark.start:.2f} → T+{mark.end:.2f} s "
            f"({mark.end - mark.start:.1f} s){tail}")
