"""A scenario's plan: when each step starts, relative to the load's start, at a given time scale.

`at` steps have a fixed time; `after` steps follow their step's end (a fault
with a `duration` ends at its rollback; otherwise the step ends when it is
done, which only the run knows); `when` steps wait for a probe.  The dry run
prints this plan; the engine schedules by it.
"""

from __future__ import annotations

from dataclasses import dataclass

from chaos.load.traffic import Traffic
from chaos.scenario.durations import format_duration
from chaos.scenario.model import Scenario, Step


@dataclass(frozen=True)
class PlannedStep:
    step: Step
    #: Seconds after the steady state began, when known before the run.
    starts: float | None
    #: When a fault with a duration is rolled back (same clock), when known.
    ends: float | None
    #: The schedule in words.
    trigger: str


def scaled(seconds: float | None, time_scale: float) -> float | None:
    return None if seconds is None else seconds * time_scale


def plan(scenario: Scenario, time_scale: float = 1.0) -> list[PlannedStep]:
    """Each step with its start (and end) as far as they are known before the run."""
    by_name = {s.name: s for s in scenario.steps}
    known: dict[str, PlannedStep] = {}

    def resolve(step: Step) -> PlannedStep:
        if step.name in known:
            return known[step.name]
        lasts = scaled(step.duration, time_scale)
        if step.after is not None:
            before = resolve(by_name[step.after])
            delay = scaled(step.delay, time_scale) or 0.0
            start = None if before.ends is None else before.ends + delay
            words = f"after {step.after}" + (f" + {format_duration(delay)}" if delay else "")
            found = PlannedStep(step, start, None if start is None or lasts is None
                                else start + lasts, words)
        else:
            start = scaled(step.at, time_scale) or 0.0
            found = PlannedStep(step, start, None if lasts is None else start + lasts,
                                f"at {format_duration(start)}")
        if step.when is not None:
            target = f" {step.when.target}" if step.when.target else ""
            watched = "" if step.at is None and step.after is None else f"{found.trigger}, then "
            found = PlannedStep(step, None, None, f"{watched}when {step.when.probe}{target} is "
                                f"{step.when.is_} (within {format_duration(step.when.timeout)})")
        # A step that does not roll back ends when it is done: the run will tell.
        if found.ends is None and step.fault is not None and step.duration is None:
            found = PlannedStep(step, found.starts, found.starts, found.trigger)
        known[step.name] = found
        return found

    return [resolve(step) for step in scenario.steps]


def describe_step(step: Step) -> str:
    """`power-off dc-a (rolled back after 40s)`, `action replace server-a/disk1 to=disk3`."""
    what = step.fault or step.action or "manual"
    text = f"{what} {step.target}" if step.target else what
    if step.params:
        text += " " + " ".join(f"{k}={v}" for k, v in step.params.items())
    if step.duration is not None:
        text += f" (rolled back after {format_duration(step.duration)})"
    if step.manual is not None:
        text = f"MANUAL: {step.manual.instruction} [" + text + "]"
    return text


def render_plan(scenario: Scenario, time_scale: float, up_at: float | None = None, *,
                traffic: Traffic | None = None) -> list[str]:
    """The dry run's lines: the load, then every step with its time from the load's start."""
    load = scenario.load
    steady = load.steady_state * time_scale
    lines = [f"scenario {scenario.name}: {scenario.summary}",
             f"  stack: {' + '.join(scenario.stack.compose_files)}"
             + (f", {scenario.stack.drives} drives per server" if scenario.stack.drives else "")
             + "".join(f", {k}={v}" for k, v in scenario.stack.settings.items()),
             f"  load: {load.users} users for {format_duration(load.duration * time_scale)}"
             f" (steady state {format_duration(steady)} first)"
             + (f", {load.workers} workers" if load.workers else "")]
    if traffic is not None:
        probe = traffic.probe
        lines.append(f"  traffic: {traffic.describe()} -> {traffic.load_target}")
        lines += [f"  note: {note}" for note in (traffic.offered.notes() if traffic.offered else [])]
        lines.append(f"  probe: {probe.method} {probe.path} {probe.rate:g}/s, up when "
                     f"{probe.expect_status}" + (f" with {probe.expect_body!r}" if probe.expect_body
                                                 else "") + f" within {probe.timeout:g} s")
        read = traffic.read_back
        lines.append("  read back: " + (f"GET {read.path}, there when {read.expect_status}, "
                                        f"compared by {read.compare}" if read else
                                        "no way given (verify.read_back)" if traffic.read_back_unknown
                                        else "no"))
    for planned in plan(scenario, time_scale):
        when = "T+?" if planned.starts is None else f"T+{format_duration(steady + planned.starts)}"
        if planned.starts is not None and up_at is not None:
            import time

            when += " (" + time.strftime("%H:%M:%S", time.localtime(up_at + steady + planned.starts)) + ")"
        lines.append(f"  {when:<22} {planned.step.name}: {describe_step(planned.step)}  "
                     f"[{planned.trigger}]")
    objectives = scenario.objectives.model_dump(exclude_none=True)
    if objectives:
        lines.append("  objectives: " + ", ".join(f"{k}={v}" for k, v in objectives.items()))
    if scenario.abort:
        lines.append("  abort: " + ", ".join(
            f"availability below {a.availability_below:.0%} for {format_duration(a.for_)}"
            for a in scenario.abort))
    return lines
