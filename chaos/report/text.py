"""Measurements as text a person reads in a terminal or a CI log."""

from __future__ import annotations

from chaos.measure.phases import PhaseStats
from chaos.measure.summary import Measurements


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f} ms"


def _s(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.3f} s"


def phase_table(rows: list[PhaseStats]) -> list[str]:
    lines = [f"  {'phase':<8}{'length':>9}{'requests':>10}{'req/s':>8}{'errors':>8}"
             f"{'p50':>9}{'p95':>9}{'p99':>9}"]
    for p in rows:
        lines.append(f"  {p.name:<8}{p.duration:>8.1f}s{p.requests:>10}{p.throughput:>8.1f}"
                     f"{p.error_rate:>7.1%} {_ms(p.p50):>8} {_ms(p.p95):>8} {_ms(p.p99):>8}")
    return lines


def render(m: Measurements) -> str:
    """The measurements of a run: traffic, each fault's impact, data loss."""
    lines = [f"load: {m.requests} requests ({m.failed} failed), "
             f"{m.acknowledged_uploads} writes acknowledged, "
             f"{m.ended_at - m.started_at:.1f} s"]
    lines += phase_table([m.overall])
    s = m.settings
    for result in m.faults:
        impact = result.impact
        lines.append(f"fault {result.fault.name} (recovery: {s.threshold:.0%} of answers good over "
                     f"{s.window:g} s, held {s.hold:g} s; slower than {s.patience:g} s is bad)")
        recovery = (_s(impact.time_to_recover) if impact.recovered
                    else f"NOT RECOVERED ({impact.not_recovered_reason})")
        lines.append(f"  first error after {_s(impact.time_to_first_error)}; recovered after "
                     f"{recovery}; down {_s(impact.downtime)} in {len(impact.down_intervals)} "
                     f"interval(s); {impact.failed_requests} failed, {impact.slow_requests} slow "
                     f"of {impact.requests} answers")
        lines += phase_table(result.phases)
    if m.loss is not None:
        loss = m.loss
        lines.append(f"data: {loss.acknowledged} acknowledged writes read back: {loss.intact} intact, "
                     f"{loss.missing} missing, {loss.corrupt} corrupt, "
                     f"{len(loss.unreadable_ids)} unreadable")
        if loss.lost_ids:
            shown = ", ".join(loss.lost_ids[:10]) + (" ..." if loss.lost > 10 else "")
            lines.append(f"  LOST: {shown}")
            if loss.loss_window is not None:
                lines.append(f"  loss window (RPO): acknowledged from {loss.loss_window[0]:+.3f} s "
                             f"to {loss.loss_window[1]:+.3f} s relative to the fault")
    return "\n".join(lines)
