"""Before/after comparison of two drill results: what a migration changed under the same load.

`compare` pairs two result.json dicts (A = before, B = after) figure by figure:
throughput, latency, errors, each measured fault's phases and recovery, data
loss, objective verdicts and the outcome, each with its change and a judgement
(better, worse, the same within a tolerance). Results of schema v1 (no
parameters) and runs whose measurements are null compare as well: a figure
missing on a side is "n/a", never an error. Suites compare run by run, paired
by scenario and matrix label.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from chaos.errors import InputError

#: Changes smaller than this share of the "before" value count as the same: runs of one
#: scenario on one machine differ by a few percent from noise alone.
TOLERANCE = 0.05

PHASES = ("before", "during", "after")


class Better(enum.Enum):
    """Which way a figure improves."""

    HIGHER = "higher"
    LOWER = "lower"
    #: A change is shown but not judged (e.g. the number of requests: it follows the duration).
    NEITHER = "neither"


class Verdict(enum.StrEnum):
    BETTER = "better"
    WORSE = "worse"
    SAME = "same"
    CHANGED = "changed"
    UNKNOWN = "n/a"


class Unit(enum.Enum):
    """How a figure is shown, and the smallest change that is not noise (`resolution`)."""

    RATE = "req/s"
    LATENCY = "latency"
    SECONDS = "s"
    SHARE = "%"
    COUNT = "count"
    TEXT = "text"

    @property
    def resolution(self) -> float:
        return {"req/s": 0.1, "latency": 0.001, "s": 0.1, "%": 0.001}.get(self.value, 0.0)


Value = float | str | None


@dataclass(frozen=True)
class Row:
    """One figure of A and B, its change (B - A) and the judgement of that change."""

    metric: str
    unit: Unit
    before: Value
    after: Value
    better: Better
    verdict: Verdict
    change: float | None = None
    #: change / before; None when before is 0 or either side is not a number.
    relative: float | None = None

    @property
    def shown(self) -> tuple[str, str, str]:
        """A, B and the change as text."""
        return format_value(self.unit, self.before), format_value(self.unit, self.after), self.change_text

    @property
    def change_text(self) -> str:
        if self.change is None:
            return ""
        text = _format_change(self.unit, self.change)
        return text + (f" ({self.relative:+.1%})" if self.relative is not None else "")

    @property
    def mark(self) -> str:
        """The verdict with an arrow saying which way the figure moved."""
        if self.verdict in (Verdict.UNKNOWN, Verdict.SAME):
            return "=  same" if self.verdict is Verdict.SAME else "   n/a"
        if self.change is not None:
            arrow = "↑" if self.change > 0 else "↓"
        else:  # a state (pass/fail, outcome): up when it got better
            arrow = {Verdict.BETTER: "↑", Verdict.WORSE: "↓"}.get(self.verdict, "≠")
        return f"{arrow}  {self.verdict.value}"


@dataclass(frozen=True)
class Section:
    title: str
    rows: list[Row]


@dataclass(frozen=True)
class ParameterChange:
    """A parameter that differs between A and B (load, overrides, time scale, stack, harness)."""

    name: str
    before: str
    after: str


@dataclass(frozen=True)
class RunInfo:
    """Which run a side is."""

    scenario: str
    label: str
    run_id: str
    started_at: float | None
    outcome: str
    reason: str
    source: str
    schema_version: int | None

    @property
    def title(self) -> str:
        name = self.scenario + (f" [{self.label}]" if self.label else "")
        when = (datetime.fromtimestamp(self.started_at).strftime("%Y-%m-%d %H:%M")
                if self.started_at else "unknown time")
        return f"{name}, run {self.run_id or '?'} at {when}: {self.outcome}"


@dataclass(frozen=True)
class Comparison:
    """A (before) and B (after), figure by figure."""

    before: RunInfo
    after: RunInfo
    #: Only the parameters that differ.
    changed: list[ParameterChange]
    sections: list[Section]
    notes: list[str] = field(default_factory=list)
    #: Changes within this share of A's value were judged the same.
    tolerance: float = TOLERANCE

    def row(self, section: str, metric: str) -> Row | None:
        """The row `metric` of `section` (e.g. "load", "throughput"), if compared."""
        for s in self.sections:
            if s.title == section:
                return next((r for r in s.rows if r.metric == metric), None)
        return None

    def to_json(self) -> dict[str, Any]:
        return json.loads(json.dumps(asdict(self), default=_json_default))


@dataclass(frozen=True)
class SuiteComparison:
    """Two suites: the runs paired by scenario and label, and those found on one side only."""

    pairs: list[Comparison]
    only_before: list[str]
    only_after: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"pairs": [c.to_json() for c in self.pairs], "only_before": self.only_before,
                "only_after": self.only_after}


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"not JSON: {value!r}")


# -- reading figures out of result dicts that may be v1, v2, or cut short ------------------------

def _get(data: Any, *keys: str) -> Any:
    """data[k1][k2]...; None where a level is missing or not a mapping (v1, null measurements)."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _list(value: Any) -> list[Mapping[str, Any]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


# -- rows ------------------------------------------------------------------------------------------

def number_row(metric: str, unit: Unit, before: Any, after: Any, better: Better,
               tolerance: float = TOLERANCE) -> Row:
    """A numeric figure of A and B, judged: within `tolerance` (or the unit's resolution) is the same."""
    a, b = _number(before), _number(after)
    if a is None or b is None:
        return Row(metric, unit, a, b, better, Verdict.UNKNOWN)
    change = b - a
    relative = change / a if a else None
    # Counts are exact (one lost upload is a loss); measured figures carry noise.
    allowed = 0.0 if unit is Unit.COUNT else max(unit.resolution, tolerance * abs(a))
    if abs(change) <= allowed:
        verdict = Verdict.SAME
    elif better is Better.NEITHER:
        verdict = Verdict.CHANGED
    else:
        verdict = Verdict.BETTER if (change > 0) == (better is Better.HIGHER) else Verdict.WORSE
    return Row(metric, unit, a, b, better, verdict, change, relative)


def state_row(metric: str, before: str | None, after: str | None, good: str | None) -> Row:
    """A state of A and B (outcome, pass/fail): reaching `good` is better, leaving it worse."""
    if before is None or after is None:
        verdict = Verdict.UNKNOWN
    elif before == after:
        verdict = Verdict.SAME
    elif good is None or good not in (before, after):
        verdict = Verdict.CHANGED
    else:
        verdict = Verdict.BETTER if after == good else Verdict.WORSE
    return Row(metric, Unit.TEXT, before, after, Better.NEITHER, verdict)


def _recovery_row(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
                  tolerance: float) -> Row:
    """Time to recover; a side that never recovered is worse than any time."""
    def value(impact: Mapping[str, Any] | None) -> Value:
        if impact is None:
            return None
        return _number(impact.get("time_to_recover")) if impact.get("recovered") else "not recovered"

    a, b = value(before), value(after)
    if isinstance(a, str) or isinstance(b, str):
        if a is None or b is None:
            verdict = Verdict.UNKNOWN
        elif isinstance(a, str) and isinstance(b, str):
            verdict = Verdict.SAME
        else:
            verdict = Verdict.WORSE if isinstance(b, str) else Verdict.BETTER
        return Row("time to recover", Unit.SECONDS, a, b, Better.LOWER, verdict)
    return number_row("time to recover", Unit.SECONDS, a, b, Better.LOWER, tolerance)


def format_value(unit: Unit, value: Value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if unit is Unit.RATE:
        return f"{value:.1f} req/s"
    if unit is Unit.LATENCY:
        return _latency(value)
    if unit is Unit.SECONDS:
        return f"{value:.2f} s"
    if unit is Unit.SHARE:
        return f"{value * 100:.2f} %"
    return f"{value:.0f}"


def _latency(seconds: float, sign: str = "") -> str:
    if abs(seconds) >= 1:
        return f"{seconds:{sign}.2f} s"
    ms = seconds * 1000
    return f"{ms:{sign}.1f} ms" if abs(ms) < 10 else f"{ms:{sign}.0f} ms"


def _format_change(unit: Unit, change: float) -> str:
    if unit is Unit.RATE:
        return f"{change:+.1f} req/s"
    if unit is Unit.LATENCY:
        return _latency(change, "+")
    if unit is Unit.SECONDS:
        return f"{change:+.2f} s"
    if unit is Unit.SHARE:
        return f"{change * 100:+.2f} pt"
    return f"{change:+.0f}"


# -- the comparison --------------------------------------------------------------------------------

def compare(before: Mapping[str, Any], after: Mapping[str, Any], *,
            tolerance: float = TOLERANCE) -> Comparison:
    """Compare two result.json dicts, A (before) and B (after), figure by figure."""
    notes = []
    if before.get("scenario") != after.get("scenario"):
        notes.append(f"different scenarios: A is {before.get('scenario')!r}, "
                     f"B is {after.get('scenario')!r}")
    if before.get("run_id") and before.get("run_id") == after.get("run_id"):
        notes.append(f"A and B are the same run ({before.get('run_id')})")
    for side, data in (("A", before), ("B", after)):
        if not isinstance(data.get("measurements"), Mapping):
            notes.append(f"{side} has no measurements (the drill stopped before its load ran): "
                         "its figures are n/a")
    changed, parameter_notes = parameter_changes(before, after)
    sections = [Section("load", _load_rows(before, after, tolerance))]
    fault_sections, fault_notes = _fault_sections(before, after, tolerance)
    sections += fault_sections
    sections.append(Section("data loss", _loss_rows(before, after)))
    sections.append(Section("objectives", _objective_rows(before, after)))
    sections.append(Section("verdict", [state_row("outcome", _text(before.get("outcome")),
                                                  _text(after.get("outcome")), "passed")]))
    return Comparison(_info(before), _info(after), changed, sections,
                      notes + parameter_notes + fault_notes, tolerance)


def compare_suites(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]], *,
                   tolerance: float = TOLERANCE) -> SuiteComparison:
    """Compare two suites run by run, paired by scenario and matrix label (in order when repeated)."""
    def keyed(results: Sequence[Mapping[str, Any]]) -> dict[str, Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        for result in results:
            name = str(result.get("scenario") or "?") + (f" [{result['label']}]"
                                                         if result.get("label") else "")
            key, n = name, 1
            while key in found:  # the same scenario twice: the n-th of A pairs with the n-th of B
                n += 1
                key = f"{name} #{n}"
            found[key] = result
        return found

    a, b = keyed(before), keyed(after)
    pairs = [compare(a[k], b[k], tolerance=tolerance) for k in a if k in b]
    return SuiteComparison(pairs, [k for k in a if k not in b], [k for k in b if k not in a])


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _info(result: Mapping[str, Any]) -> RunInfo:
    version = result.get("schema_version")
    return RunInfo(scenario=str(result.get("scenario") or "?"), label=str(result.get("label") or ""),
                   run_id=str(result.get("run_id") or ""), started_at=_number(result.get("started_at")),
                   outcome=str(result.get("outcome") or "?"), reason=str(result.get("reason") or ""),
                   source=str(result.get("out_dir") or ""),
                   schema_version=version if isinstance(version, int) else None)


def _parameters(result: Mapping[str, Any]) -> dict[str, Any] | None:
    """The parameters a run records, flat (`load.users`, `overrides.load.users`); None for v1."""
    parameters = result.get("parameters")
    if not isinstance(parameters, Mapping):
        return None
    flat: dict[str, Any] = {"time_scale": parameters.get("time_scale", result.get("time_scale"))}
    for group in ("load", "matrix", "overrides"):
        values = parameters.get(group)
        for key, value in (values.items() if isinstance(values, Mapping) else ()):
            flat[f"{group}.{key}"] = value
    flat["stack.compose_file"] = _get(result, "stack", "compose_file")
    flat["environment.harness"] = _get(result, "environment", "harness")
    return flat


def parameter_changes(before: Mapping[str, Any], after: Mapping[str, Any]
                      ) -> tuple[list[ParameterChange], list[str]]:
    """The parameters that differ, and notes on what could not be compared (v1 results)."""
    def shown(value: Any) -> str:
        return "-" if value is None else value if isinstance(value, str) else json.dumps(value)

    changes = []
    if before.get("label") != after.get("label"):
        changes.append(ParameterChange("label", shown(before.get("label")), shown(after.get("label"))))
    a, b = _parameters(before), _parameters(after)
    v1 = [side for side, p in (("A", a), ("B", b)) if p is None]
    notes = [f"{' and '.join(v1)} {'is a schema v1 result' if len(v1) == 1 else 'are schema v1 results'}"
             ": the load, overrides, stack and harness version are not recorded, only the time "
             "scale is compared"] if v1 else []
    if a is None or b is None:
        a = {"time_scale": before.get("time_scale")}
        b = {"time_scale": after.get("time_scale")}
    for key in [*a, *(k for k in b if k not in a)]:
        if a.get(key) != b.get(key):
            changes.append(ParameterChange(key, shown(a.get(key)), shown(b.get(key))))
    return changes, notes


def _figure_rows(before: Any, after: Any, prefix: str, tolerance: float,
                 names: Sequence[str]) -> list[Row]:
    """Rows of a phase's figures (overall or one phase of a fault): throughput, errors, latency."""
    spec = {
        "throughput": (Unit.RATE, Better.HIGHER),
        "good_throughput": (Unit.RATE, Better.HIGHER),
        "requests": (Unit.COUNT, Better.NEITHER),
        "error_rate": (Unit.SHARE, Better.LOWER),
        "p50": (Unit.LATENCY, Better.LOWER),
        "p95": (Unit.LATENCY, Better.LOWER),
        "p99": (Unit.LATENCY, Better.LOWER),
    }
    rows = []
    for name in names:
        unit, better = spec[name]
        label = (prefix + " " + name.replace("_", " ")).strip()
        rows.append(number_row(label, unit, _get(before, name), _get(after, name), better, tolerance))
    return rows


def _load_rows(before: Mapping[str, Any], after: Mapping[str, Any], tolerance: float) -> list[Row]:
    a, b = _get(before, "measurements", "overall"), _get(after, "measurements", "overall")
    return _figure_rows(a, b, "", tolerance, ("throughput", "good_throughput", "requests",
                                              "error_rate", "p50", "p95", "p99"))


def _faults(result: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(_get(f, "fault", "name")): f for f in _list(_get(result, "measurements", "faults"))}


def _fault_sections(before: Mapping[str, Any], after: Mapping[str, Any], tolerance: float
                    ) -> tuple[list[Section], list[str]]:
    """Per measured fault (paired by name): recovery, then throughput and p95 of each phase."""
    a, b = _faults(before), _faults(after)
    sections = []
    for name in (n for n in a if n in b):
        ia, ib = a[name].get("impact"), b[name].get("impact")
        ia = ia if isinstance(ia, Mapping) else None
        ib = ib if isinstance(ib, Mapping) else None
        rows = [_recovery_row(ia, ib, tolerance),
                number_row("downtime", Unit.SECONDS, _get(ia, "downtime"), _get(ib, "downtime"),
                           Better.LOWER, tolerance)]
        pa = {p.get("name"): p for p in _list(a[name].get("phases"))}
        pb = {p.get("name"): p for p in _list(b[name].get("phases"))}
        for phase in PHASES:
            if phase in pa or phase in pb:
                rows += _figure_rows(pa.get(phase), pb.get(phase), phase, tolerance,
                                     ("throughput", "p95"))
        sections.append(Section(f"fault {name}", rows))
    notes = [f"fault {n!r} measured in {side} only: not compared"
             for side, mine, other in (("A", a, b), ("B", b, a)) for n in mine if n not in other]
    return sections, notes


def _loss_rows(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Row]:
    a, b = _get(before, "measurements", "loss"), _get(after, "measurements", "loss")
    return [number_row("acknowledged uploads", Unit.COUNT, _get(a, "acknowledged"),
                       _get(b, "acknowledged"), Better.NEITHER),
            number_row("lost uploads", Unit.COUNT, _get(a, "lost"), _get(b, "lost"), Better.LOWER)]


def _objective_rows(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[Row]:
    """Each objective's verdict and measured value, A vs B (passing is better than failing)."""
    a = {str(o.get("name")): o for o in _list(before.get("objectives"))}
    b = {str(o.get("name")): o for o in _list(after.get("objectives"))}

    def shown(objective: Mapping[str, Any] | None) -> str | None:
        if objective is None:
            return None
        return f"{'pass' if objective.get('passed') else 'FAIL'} {objective.get('measured', 'n/a')}"

    rows = []
    for name in [*a, *(n for n in b if n not in a)]:
        oa, ob = a.get(name), b.get(name)
        limits = [str(o.get("limit")) for o in (oa, ob) if o is not None]
        limit = limits[0] if len(set(limits)) == 1 else " → ".join(limits)
        row = state_row(f"{name} (limit {limit})", shown(oa), shown(ob), None)
        if oa is not None and ob is not None and oa.get("passed") != ob.get("passed"):
            verdict = Verdict.BETTER if ob.get("passed") else Verdict.WORSE
            row = Row(row.metric, row.unit, row.before, row.after, row.better, verdict)
        rows.append(row)
    return rows


def regressions(comparison: Comparison | SuiteComparison, percent: float) -> list[str]:
    """Where throughput fell or p95 latency rose by more than `percent` %: the migration CI gate."""
    pairs = comparison.pairs if isinstance(comparison, SuiteComparison) else [comparison]
    found = []
    for pair in pairs:
        name = pair.after.scenario + (f" [{pair.after.label}]" if pair.after.label else "")
        for metric, sign in (("throughput", -1), ("p95", 1)):
            row = pair.row("load", metric)
            if row is None or row.relative is None:
                continue
            # Rounded: 0.021 / 0.020 - 1 is 5.000000000000004 %, not more than 5 %.
            if round(sign * row.relative * 100, 9) > percent:
                a, b, change = row.shown
                found.append(f"{name}: {metric} {a} → {b}, {change}: more than {percent:g} %")
    return found


# -- reading the two sides ------------------------------------------------------------------------

def load_side(path: Path) -> list[dict[str, Any]]:
    """The results at `path`: a result.json or run folder (one), a suite folder or results.json list."""
    from chaos.report.results import find_results, load_result

    if path.is_file() and path.name != "result.json":
        try:
            data = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            raise InputError(f"{path}: not a readable JSON file ({e})",
                             hint="give a result.json, a run folder or a suite folder") from None
        if isinstance(data, list):
            if not data or not all(isinstance(r, dict) and "scenario" in r and "outcome" in r
                                   for r in data):
                raise InputError(f"{path}: not a list of drill results",
                                 hint="give the results.json of a suite, or its folder")
            return data
    if path.is_dir() and not (path / "result.json").exists():
        return [load_result(p) for p in find_results(path)]
    return [load_result(path)]
