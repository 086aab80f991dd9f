"""The engine: one scenario (one matrix combination) run on a real stack, start to teardown.

up (or reuse) -> load -> steady state -> steps on schedule (each in a thread;
abort rules and live progress watched meanwhile) -> load stopped -> every
fault rolled back -> verification -> objectives -> teardown.  Rollbacks and
teardown always run — at the end, on an abort, on an error, on Ctrl-C or
SIGTERM — and the result (partial if need be) is always written.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from chaos.engine import lifecycle
from chaos.engine.runstate import Phase, RunState, RunStore
from chaos.errors import HarnessError, InputError, StackError
from chaos.faults import active
from chaos.faults.base import FaultContext
from chaos.faults.registry import make_fault
from chaos.load.session import LoadRecords
from chaos.load.traffic import Traffic
from chaos.measure.backup_loss import BackupMatch, match_backup
from chaos.measure.summary import Measurements
from chaos.progress import Progress
from chaos.report.environment import describe
from chaos.scenario.actions import action, resolve_params
from chaos.scenario.check import LoadedScenario
from chaos.scenario.conditions import holds, wait_until
from chaos.scenario.live import LiveCounts
from chaos.scenario.model import Condition, Scenario, Step
from chaos.scenario.monitor import StackMonitor
from chaos.scenario.objectives import evaluate
from chaos.scenario.plan import PlannedStep, describe_step, plan
from chaos.scenario.result import CheckResult, DrillResult, StepRecord

#: Load keeps running this long after the last step ended (not scaled: recovery must
#: hold for seconds of real time to count), so recovery shows.
TAIL = 10.0
#: Locust's own run-time cap, far beyond any drill: the engine stops it.
LOAD_CAP = 6 * 3600.0


@dataclass(frozen=True)
class RunOptions:
    out_dir: Path
    time_scale: float = 1.0
    #: Reuse the current stack if one is up, and leave the stack up afterwards.
    keep: bool = False
    interactive: bool = False
    label: str = ""
    #: The matrix combination this run is ({} without a matrix), and `--set` overrides.
    matrix: Mapping[str, Any] = field(default_factory=dict)
    overrides: Mapping[str, Any] = field(default_factory=dict)


class Aborted(Exception):
    """An abort rule fired."""


class DrillRunner:
    """Runs one scenario; `run()` returns its result (also on an abort)."""

    def __init__(self, loaded: LoadedScenario, scenario: Scenario, options: RunOptions,
                 progress: Progress) -> None:
        self.loaded = loaded
        self.scenario = scenario
        self.options = options
        self.progress = progress
        self.scale = options.time_scale
        self.stop = threading.Event()
        self.result = DrillResult(scenario.name, options.label, str(loaded.path),
                                  time_scale=self.scale, out_dir=str(options.out_dir))
        self.plan = plan(scenario, self.scale)
        self.records = {p.step.name: StepRecord(p.step.name, describe_step(p.step), p.trigger,
                                                p.starts)
                        for p in self.plan}
        self.result.parameters = {
            "time_scale": self.scale, "matrix": dict(options.matrix),
            "overrides": dict(options.overrides),
            "load": scenario.load.model_dump(mode="json", by_alias=True),
            "traffic": traffic_json(loaded.traffic),
            "objectives": scenario.objectives.model_dump(mode="json", by_alias=True,
                                                         exclude_none=True)}
        self.monitor: StackMonitor | None = None
        self.result.steps = list(self.records.values())
        self.done = {p.step.name: threading.Event() for p in self.plan}
        self.errors: list[str] = []
        self.ctx: FaultContext | None = None
        self.state: RunState | None = None
        self.owns_stack = True
        self.t0 = 0.0
        self.urls: dict[str, str] = {}

    # -- the whole drill -------------------------------------------------------

    def run(self) -> DrillResult:
        self.result.started_at = time.time()
        try:
            self._up()
            records = self._drive()
            self._verify(records)
            self._judge(records)
        except Aborted as e:
            self.result.outcome, self.result.reason = "aborted", str(e)
        except KeyboardInterrupt:
            self.result.outcome, self.result.reason = "interrupted", "interrupted (Ctrl-C or SIGTERM)"
            raise
        except HarnessError as e:
            self.result.outcome, self.result.reason = "error", e.message
            raise
        finally:
            self.stop.set()
            self._finish()
        return self.result

    def _finish(self) -> None:
        """Rollbacks, teardown, the result file: whatever happened before."""
        try:
            self._roll_back_all()
        finally:
            self.result.ended_at = time.time()
            self._keep_evidence()
            self.result.write(self.options.out_dir)
            if self.state is not None and self.owns_stack and not self.options.keep:
                with self.progress.step(f"tearing down run {self.state.run_id}"):
                    lifecycle.down(self.state.run_id, self.progress)

    def _keep_evidence(self) -> None:
        """Stack events and container logs into the result folder, before teardown takes them."""
        from chaos.scenario.artifacts import collect_logs, list_artifacts

        logs: dict[str, str] = {}
        try:
            if self.monitor is not None:
                self.monitor.stop()
                self.result.stack_events = [asdict(e) for e in self.monitor.events]
            if self.ctx is not None:
                logs = collect_logs(self.ctx.client, self.ctx.run_id, self.options.out_dir)
        except Exception as e:  # noqa: BLE001 — evidence is best effort; teardown must still run
            self.progress.info(f"could not keep all the evidence: {e}")
        self.result.artifacts = list_artifacts(self.options.out_dir, logs)

    # -- stack ------------------------------------------------------------------

    def _up(self) -> None:
        from chaos.engine.cleaner import clean
        from chaos.engine.client import connect

        store = RunStore()
        client = connect(self.progress)
        # What killed runs of this state root left (never a live run's, nor another root's).
        cleaned = clean(client, self.progress, store, strays=False)
        if cleaned.anything:
            self.progress.info(f"cleaned up after killed runs: {cleaned.summary()}")
        if self.options.keep:
            current = store.current()
            found = store.load(current) if current else None
            wanted = [str(Path(f).resolve()) for f in self.loaded.compose_files]
            if found is not None and found.phase == Phase.UP and found.compose_files \
                    and found.compose_files != wanted:
                raise InputError(f"--keep would reuse run {found.run_id}, made from "
                                 f"{', '.join(found.compose_files)}, but this drill wants "
                                 f"{', '.join(wanted)}",
                                 hint=f"drop --keep, or `drill down --run {found.run_id}` first")
            if found is not None and found.phase == Phase.UP:
                self.state, self.owns_stack = found, False
                self.progress.info(f"reusing run {found.run_id} (--keep)")
        if self.state is None:
            stack = self.scenario.stack
            variables = {k: str(v) for k, v in stack.settings.items()}
            if stack.drives:
                variables["DRILL_DRIVES"] = str(stack.drives)
            self.state = lifecycle.up(lifecycle.UpOptions(
                compose_files=self.loaded.compose_files, variables=variables,
                env_files=self.loaded.env_files, profiles=tuple(stack.profiles),
                allow_host_access=stack.allow_host_access), self.progress)
            if self.options.keep:
                self.state.stays_up = True
                store.save(self.state)
        self.result.run_id = self.state.run_id
        self.ctx = FaultContext(client, self.state.run_id, store.run_dir(self.state.run_id))
        self.result.environment = describe(client)
        self.result.stack = {"compose_file": str(self.loaded.compose_file),
                             "compose_files": [str(f) for f in self.loaded.compose_files],
                             "allow_host_access": self.scenario.stack.allow_host_access,
                             "edge_url": self.state.edge_url,
                             "services": stack_services(client, self.state.run_id)}
        self.urls = self._urls(client)
        self.monitor = StackMonitor(client, self.state.run_id, self.options.out_dir).start()

    def _urls(self, client: Any) -> dict[str, str]:
        """Where the load, the probes and the read-back go: only those the drill sends."""
        assert self.state is not None
        traffic, state = self.loaded.traffic, self.state
        if not state.published and state.edge_url:
            # A record from before ports were kept per service (a stack reused with --keep).
            services = list(dict.fromkeys(s["name"] for s in self.result.stack["services"]))
            state.published = lifecycle.published_urls(client, state.run_id, services)
        wanted = {"load": (self.scenario.load.users > 0, traffic.load_target),
                  "probe": (traffic.probe.rate > 0, traffic.probe_target),
                  "read_back": (traffic.read_back is not None, traffic.read_back_target)}
        return {name: target.url(state.published, state.edge_url)
                for name, (needed, target) in wanted.items() if needed}

    # -- load and steps -----------------------------------------------------------

    def _drive(self) -> LoadRecords:
        from chaos.cli.load import parse_size_range
        from chaos.load.runner import LoadPlan
        from chaos.load.session import LoadSession
        from chaos.load.settings import LoadSettings

        load, traffic = self.scenario.load, self.loaded.traffic
        assert self.state is not None
        smallest, largest = parse_size_range(load.upload_size)
        out = (self.options.out_dir / "load").resolve()
        settings = LoadSettings(out, traffic.mix, smallest, largest, locustfile=traffic.locustfile,
                                visit_path=traffic.probe.path, visit_headers=traffic.probe.headers)
        for note in traffic.offered.notes() if traffic.offered else []:
            self.progress.info(f"note: {note}")
        host = self.urls.get("load") or self.urls.get("probe") or ""
        plan_ = LoadPlan(host, settings, users=max(load.users, 1),
                         spawn_rate=load.spawn_rate, duration=LOAD_CAP, workers=load.workers)
        with self.progress.step(f"load: {load.users} users of {traffic.describe()}, probes "
                                f"{traffic.probe.method} {traffic.probe.path}, steady state "
                                f"{load.steady_state * self.scale:g} s"):
            session = LoadSession(plan_, probe=traffic.probe, probe_url=self.urls.get("probe"),
                                  with_load=load.users > 0,
                                  record_in=self.ctx.run_dir if self.ctx else None)
            session.__enter__()
        try:
            self._sleep(load.steady_state * self.scale)
            self.t0 = self.result.clock_started_at = time.time()
            threads = [threading.Thread(target=self._step_thread, args=(p,), daemon=True,
                                        name=f"step-{p.step.name}") for p in self.plan]
            for thread in threads:
                thread.start()
            self._watch(threads, LiveCounts(out))
        finally:
            self.stop.set()
            session.stop()
        return session.records()

    def _watch(self, threads: list[threading.Thread], live: LiveCounts) -> None:
        """Progress every few seconds, abort rules every second, until the drill's end."""
        end = self.t0 + self.scenario.load.duration * self.scale
        next_report = 0.0
        while True:
            live.refresh()
            now = time.time()
            for rule in self.scenario.abort:
                window = rule.for_ * self.scale
                available = live.availability(window, now)
                if now - self.t0 >= window and available is not None \
                        and available < rule.availability_below:
                    raise Aborted(f"availability {available:.0%} below "
                                  f"{rule.availability_below:.0%} for {window:g} s")
            steps_busy = any(t.is_alive() for t in threads)
            if now >= next_report:
                self._report(now, live)
                next_report = now + 5.0
            if not steps_busy and now >= end:
                last = max((r.ended_at or r.rolled_back_at or 0.0 for r in self.records.values()),
                           default=0.0)
                if now >= max(end, last + TAIL):
                    return
            if self.errors:
                raise StackError(f"a step broke: {self.errors[0]}")
            time.sleep(1.0)

    def _report(self, now: float, live: LiveCounts) -> None:
        total, good = live.window(5, now)
        done = sum(1 for r in self.records.values() if r.state in ("done", "failed", "timed-out",
                                                                   "skipped", "error"))
        running = [r.name for r in self.records.values() if r.state in ("running", "waiting")]
        rate = f"{total / 5:.0f} req/s, errors {(total - good) / total:.1%}" if total else "no answers"
        self.progress.info(f"[T+{now - self.t0:5.0f}s] steps {done}/{len(self.records)} done"
                           + (f" (now: {', '.join(running)})" if running else "") + f" · {rate}")

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the drill stops first; False when it did."""
        return not self.stop.wait(max(0.0, seconds))

    def _step_thread(self, planned: PlannedStep) -> None:
        step, record = planned.step, self.records[planned.step.name]
        try:
            if self._wait_trigger(step, record):
                self._execute(step, record)
        except HarnessError as e:
            record.state, record.ok, record.detail = "error", False, e.message
            self.errors.append(f"{step.name}: {e.message}")
        except Exception as e:  # a bug must still end the drill cleanly
            record.state, record.ok, record.detail = "error", False, repr(e)
            self.errors.append(f"{step.name}: {e!r}")
        finally:
            self.done[step.name].set()

    def _wait_trigger(self, step: Step, record: StepRecord) -> bool:
        """`at` or `after` (+ delay) first, then `when` watched from that moment on."""
        record.state = "waiting"
        if step.after is not None:
            while not self.done[step.after].wait(0.2):
                if self.stop.is_set():
                    return self._skipped(record)
            if not self._as_expected(self.records[step.after], self._step(step.after)):
                record.detail = f"{step.after} did not go as expected"
                return self._skipped(record)
            if not self._sleep(step.delay * self.scale):
                return self._skipped(record)
        elif (step.at is not None or step.when is None) and \
                not self._sleep(self.t0 + (step.at or 0.0) * self.scale - time.time()):
            return self._skipped(record)
        if step.when is not None and not self._condition(step.when):
            if self.stop.is_set():
                return self._skipped(record)
            record.state, record.ok = "timed-out", False
            record.detail = (f"{step.when.probe} never said {step.when.is_} "
                             f"within {step.when.timeout:g} s")
            return False
        return True

    @staticmethod
    def _measured(step: Step) -> bool:
        """Faults, and actions customers may feel, each get their own recovery analysis."""
        if not step.measure:
            return False
        if step.fault is not None:
            return True
        return step.action is not None and action(step.action).measured

    def _step(self, name: str) -> Step:
        return next(p.step for p in self.plan if p.step.name == name)

    @staticmethod
    def _as_expected(record: StepRecord, step: Step) -> bool:
        """Ran, and succeeded or failed as the scenario says a correct stack does."""
        if record.state not in ("done", "failed"):
            return False
        return (record.ok is not False) == (step.expect == "success")

    @staticmethod
    def _skipped(record: StepRecord) -> bool:
        record.state = "skipped"
        return False

    def _condition(self, condition: Condition, timeout: float | None = None, *,
                   stoppable: bool = True) -> bool:
        """Wait for `condition`; a stoppable wait also ends when the drill stops."""
        assert self.ctx is not None and self.state is not None
        ctx, url = self.ctx, self.state.edge_url or ""
        stop = self.stop.is_set if stoppable else (lambda: False)
        return wait_until(lambda: holds(ctx, url, condition.probe, condition.target, condition.is_),
                          timeout if timeout is not None else condition.timeout, stop)

    def _execute(self, step: Step, record: StepRecord) -> None:
        assert self.ctx is not None
        record.state, record.started_at = "running", time.time()
        self.progress.info(f"[T+{record.started_at - self.t0:5.0f}s] {step.name}: {record.what}")
        if step.manual is not None and self.options.interactive:
            self._manual(step, record)
        elif step.fault is not None:
            fault = make_fault(step.fault, {k: str(v) for k, v in step.params.items()})
            injection = fault.inject(self.ctx, step.target or "")
            active.add(self.ctx.run_dir, injection)
            record.injection, record.ok = injection.to_json(), injection.confirmed
            record.effective_at, record.detail = injection.effective_at, injection.evidence
            if not injection.confirmed:
                self.progress.info(f"  {step.name}: UNCONFIRMED: {injection.evidence}")
            if step.duration is not None and self._sleep(step.duration * self.scale):
                active.roll_back(self.ctx, step.fault, step.target or "")
                record.rolled_back_at = time.time()
                self.progress.info(f"[T+{record.rolled_back_at - self.t0:5.0f}s] {step.name}: "
                                   "rolled back")
        elif step.action is not None:
            found = action(step.action)
            outcome = found.run(self.ctx, step.target, resolve_params(found, step.params))
            record.ok, record.detail, record.data = outcome.ok, outcome.detail, outcome.data
            self.progress.info(f"  {step.name}: {outcome.detail}")
            self._mark_ended_faults()
        record.ended_at = time.time()
        record.state = "done" if record.ok is not False else "failed"

    def _mark_ended_faults(self) -> None:
        """Fault steps whose injection is no longer in place ended now: an action (power-on,
        reconnect, rollback, restore) or the final rollback undid them, and the report draws
        them as the intervals they were."""
        assert self.ctx is not None
        still = {(i.fault, i.target) for i in active.active(self.ctx.run_dir)}
        now = time.time()
        for record in self.records.values():
            injection = record.injection
            if injection is None or record.rolled_back_at is not None:
                continue
            if (injection.get("fault"), injection.get("target")) not in still:
                record.rolled_back_at = now

    def _manual(self, step: Step, record: StepRecord) -> None:
        """Game day: the operator acts; we wait for Enter or for `until` to hold."""
        assert step.manual is not None
        asked = time.time()
        print(f"\n>>> MANUAL STEP {step.name}: {step.manual.instruction}\n"
              f">>> press Enter when done" + (" (or it is noticed by itself)"
                                               if step.manual.until else ""), flush=True)
        confirmed = threading.Event()

        def read_enter() -> None:
            sys.stdin.readline()
            confirmed.set()
        threading.Thread(target=read_enter, daemon=True).start()
        until = step.manual.until
        check: Callable[[], bool] = confirmed.is_set
        if until is not None:
            assert self.ctx is not None and self.state is not None
            ctx, url = self.ctx, self.state.edge_url or ""
            check = lambda: confirmed.is_set() or holds(ctx, url, until.probe, until.target, until.is_)  # noqa: E731
        wait_until(check, 24 * 3600.0, self.stop.is_set)
        record.human_seconds = time.time() - asked
        record.ok, record.detail = True, f"done by the operator in {record.human_seconds:.0f} s"

    # -- the end --------------------------------------------------------------------

    def _roll_back_all(self) -> None:
        if self.ctx is None:
            return
        for injection in active.active(self.ctx.run_dir):
            try:
                active.roll_back(self.ctx, injection.fault, injection.target)
            except HarnessError as e:  # the others must still be tried
                self.progress.info(f"rollback of {injection.fault} on {injection.target} "
                                   f"failed: {e.message}")
        self._mark_ended_faults()

    def _verify(self, records: LoadRecords) -> None:
        assert self.state is not None
        verify = self.scenario.verify
        # Faults out, the site whole again: then the checks of the end state.
        self._roll_back_all()
        self.reads = None
        traffic = self.loaded.traffic
        if traffic.read_back is not None and records.acks:
            from chaos.load.verify import read_back

            with self.progress.step(f"reading back {len(records.acks)} acknowledged writes "
                                    f"({traffic.read_back.path})"):
                self.reads = read_back(self.urls["read_back"], records.acks, traffic.read_back)
        elif traffic.read_back_unknown and records.acks:
            self.progress.info(f"{len(records.acks)} acknowledged writes were not read back: say "
                               "how in the scenario's `verify.read_back` (e.g. {path: /items/{id}})")
        for check in verify.checks:
            self.result.checks.append(self._testinfra(check.server, check.service_running,
                                                      check.file_exists, check.command))
        for condition in verify.expect:
            # The drill has stopped by now: the end state still gets its full wait.
            passed = self._condition(condition, min(condition.timeout, 60.0), stoppable=False)
            target = f" {condition.target}" if condition.target else ""
            self.result.checks.append(CheckResult(f"{condition.probe}{target} is {condition.is_}",
                                                  passed, "" if passed else "not at the end"))

    def _testinfra(self, server: str, service: str | None, path: str | None,
                   command: str | None) -> CheckResult:
        import testinfra

        from chaos.engine import objects

        assert self.ctx is not None
        try:
            container = objects.service_container(self.ctx.client, self.ctx.run_id, server)
        except HarnessError as e:
            return CheckResult(f"{server}", False, e.message)
        host = testinfra.get_host(f"docker://{container.name}")
        if service:
            name = f"{server}: {service} running"
            try:
                return CheckResult(name, bool(host.supervisor(service).is_running), "")
            except Exception as e:  # supervisorctl missing or the machine down
                return CheckResult(name, False, str(e)[:200])
        if path:
            return CheckResult(f"{server}: {path} exists", bool(host.file(path).exists), "")
        ran = host.run(command or "true")
        return CheckResult(f"{server}: `{command}`", ran.rc == 0,
                           "" if ran.rc == 0 else (ran.stderr or ran.stdout)[:200])

    def _judge(self, records: LoadRecords) -> None:
        from chaos.measure.summary import FaultMark, measure

        marks = sorted((FaultMark(r.name, r.effective_at or r.started_at or 0.0, r.rolled_back_at)
                        for p in self.plan for r in [self.records[p.step.name]]
                        if r.started_at is not None and self._measured(p.step)),
                       key=lambda m: m.at)
        measured = measure(records.requests, records.acks, records.started_at, records.ended_at,
                           faults=marks, reads=self.reads)
        self.result.measurements = measured.to_json()
        restored = (self._restored_backup(records, measured)
                    if self.scenario.objectives.lost_writes else None)
        self.result.objectives = evaluate(self.scenario.objectives, measured, restored)
        failed_steps = [p.step.name for p in self.plan
                        if not self._as_expected(self.records[p.step.name], p.step)]
        failed = [o.name for o in self.result.objectives if not o.passed] + \
                 [c.name for c in self.result.checks if not c.passed]
        if failed or failed_steps:
            self.result.outcome = "failed"
            self.result.reason = "; ".join(
                ([f"objectives/checks not met: {', '.join(failed)}"] if failed else [])
                + ([f"steps not as expected: {', '.join(failed_steps)}"] if failed_steps else []))
        else:
            self.result.outcome, self.result.reason = "passed", "every objective met"

    def _restored_backup(self, records: LoadRecords, measured: Measurements) -> BackupMatch | str:
        """The read-back against the backup the last successful `restore` step brought back."""
        done = [self.records[p.step.name] for p in self.plan if p.step.action == "restore"]
        done = [r for r in done if r.state == "done" and "backup_uploads" in r.data]
        if not done:
            return "no restore step brought a backup back"
        if measured.loss is None:
            return "not verified"
        last = max(done, key=lambda r: r.data["rebooted_at"])
        return match_backup(records.acks, measured.loss, set(last.data["backup_uploads"]),
                            backup=last.data["backup"], taken_at=last.data["backup_taken_at"],
                            restored_at=last.data["rebooted_at"])


def traffic_json(traffic: Traffic) -> dict[str, Any]:
    """What the drill sent and asked, as the result records it."""
    probe, read = traffic.probe, traffic.read_back
    return {"locustfile": str(traffic.locustfile), "builtin": traffic.builtin,
            "mix": dict(traffic.mix.weights) if traffic.mix else None,
            "classes": traffic.offered.names() if traffic.offered else None,
            "load_target": str(traffic.load_target),
            "probe": {"method": probe.method, "path": probe.path,
                      "expect_status": str(probe.expect_status), "expect_body": probe.expect_body,
                      "rate": probe.rate, "timeout": probe.timeout,
                      "target": str(traffic.probe_target)},
            "read_back": None if read is None else {
                "path": read.path, "expect_status": str(read.expect_status),
                "compare": read.compare, "target": str(traffic.read_back_target)}}


def stack_services(client: Any, run_id: str) -> list[dict[str, str]]:
    """The run's containers as the result records them: service, site, role, image."""
    from chaos.engine import labels, objects

    services = []
    for container in objects.find_containers(client, run_id):
        services.append({"name": container.labels.get(labels.SERVICE, container.name),
                         "site": container.labels.get(labels.SITE, ""),
                         "role": container.labels.get(labels.ROLE, ""),
                         # As created: asking for the image object costs a call and fails
                         # once the image is gone.
                         "image": container.attrs.get("Config", {}).get("Image", "")})
    return sorted(services, key=lambda s: s["name"])


def refuse_manual_without_terminal(scenario: Scenario, interactive: bool) -> None:
    """A manual step with nothing automated to run instead needs a person at a terminal."""
    if interactive:
        return
    lonely = [s.name for s in scenario.steps if s.manual and not (s.fault or s.action)]
    if lonely:
        raise InputError(f"manual step(s) {', '.join(lonely)} have no automated equivalent and "
                         "there is no terminal to ask an operator",
                         hint="add a `fault` or `action` to run in CI, or run from a terminal")
