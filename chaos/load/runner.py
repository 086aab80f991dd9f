"""Locust, headless, as its own process (or a master and N workers): started, watched, stopped.

The harness never imports Locust: gevent's monkey-patching stays in these processes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from chaos.errors import HarnessError
from chaos.load.settings import LoadSettings


@dataclass(frozen=True)
class LoadPlan:
    """How much load, against what, for how long."""

    host: str
    settings: LoadSettings
    users: int = 10
    spawn_rate: float = 10.0
    duration: float = 30.0
    #: 0: one process; N: Locust's distributed mode, a master and N worker processes.
    workers: int = 0
    extra_args: tuple[str, ...] = field(default=())

    def command(self) -> list[str]:
        out = self.settings.out_dir
        # -P: Locust runs from the locustfile's folder, whose modules (a user's locust.py) must
        # not hide Locust's own; Locust puts the folder on sys.path for the file itself.
        command = [sys.executable, "-P", "-m", "chaos.load.locust_main",
                   *self.settings.locust_arguments(),
                   "--headless",
                   "--host", self.host, "--users", str(self.users),
                   "--spawn-rate", str(self.spawn_rate), "--run-time", f"{max(1, round(self.duration))}s",
                   "--only-summary", "--exit-code-on-error", "0", "--stop-timeout", "5",
                   "--loglevel", "WARNING",
                   "--logfile", str(out / "locust.log"),
                   # Locust's own outputs, for those who know them: CSV stats and its report.
                   "--csv", str(out / "locust"), "--html", str(out / "locust.html")]
        if self.workers:
            command += ["--processes", str(self.workers)]
        return command + list(self.extra_args)


class LocustProcess:
    """A running Locust; `wait` for its end or `stop` it early."""

    def __init__(self, plan: LoadPlan) -> None:
        self.plan = plan
        plan.settings.out_dir.mkdir(parents=True, exist_ok=True)
        self.output = plan.settings.out_dir / "locust-output.txt"
        env = {**os.environ, **plan.settings.to_environment(), "PYTHONUNBUFFERED": "1"}
        with self.output.open("wb") as out:
            # Its own process group, so stopping it reaches every worker.
            # From the locustfile's own folder, as `cd there && locust -f FILE` runs it: a
            # user's file may read its data by relative paths (it was inspected from there too).
            self.process = subprocess.Popen(plan.command(), stdout=out, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL, env=env,
                                            cwd=plan.settings.locustfile.parent,
                                            start_new_session=True)
        self.started_at = time.time()

    def running(self) -> bool:
        return self.process.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the run to end by itself; returns Locust's exit code."""
        limit = timeout if timeout is not None else self.plan.duration + 60
        try:
            code = self.process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            self.stop()
            raise HarnessError(f"Locust did not finish within {limit:.0f} s; stopped it "
                               f"(output in {self.output})") from None
        if code != 0:
            raise HarnessError(f"Locust failed (exit {code}): {self.tail()}")
        return code

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM (Locust lets its users finish their task, writes its records and stats),
        then SIGKILL.

        Not SIGINT: its KeyboardInterrupt lands in whichever greenlet runs at that moment,
        and could end an upload between its 201 and its ledger row; Locust handles
        SIGTERM in its event loop, between tasks.
        """
        if not self.running():
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass

    def tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.output.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no output)"
