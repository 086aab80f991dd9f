"""A Docker engine that answers: found, started, or installed (Debian, root).

The harness talks to the engine only through the Docker SDK; this module is
the one place that may start `dockerd` or install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import docker
from docker.errors import DockerException

from chaos.engine.hostcmd import run_streaming
from chaos.errors import EngineError
from chaos.progress import Progress

#: Engine start-up is ~5 s here; allow for a slow, busy machine.
START_TIMEOUT = 90.0


def try_connect(timeout: float = 60.0) -> docker.DockerClient | None:
    """A client whose engine answers a ping, or None."""
    try:
        client = docker.from_env(version="auto", timeout=int(timeout))
        client.ping()
        return client
    except DockerException:
        return None
    except Exception:  # requests' connection errors, a socket that is not there
        return None


def connect(progress: Progress, *, may_install: bool = True, log_dir: Path | None = None
            ) -> docker.DockerClient:
    """Return a client to a working engine, starting or installing one if allowed."""
    client = try_connect()
    if client is not None:
        return client
    if os.environ.get("DOCKER_HOST"):
        raise EngineError(f"the Docker engine at DOCKER_HOST={os.environ['DOCKER_HOST']} "
                          "does not answer", hint="start it, or unset DOCKER_HOST")
    if not may_install:
        raise EngineError("no Docker engine answers on /var/run/docker.sock",
                          hint="start dockerd, or run `drill images` as root to set one up")
    dockerd = shutil.which("dockerd") or ("/usr/sbin/dockerd" if Path("/usr/sbin/dockerd").exists()
                                          else None)
    if dockerd is None:
        _install_engine(progress)
        dockerd = shutil.which("dockerd") or "/usr/sbin/dockerd"
    return _start_engine(dockerd, progress, log_dir or Path("/var/log"))


def _install_engine(progress: Progress) -> None:
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise EngineError(
            "no Docker engine is installed",
            hint="install one (on Debian: `apt-get install docker.io`) and start it, "
                 "or run this command as root on Debian to have it done for you")
    with progress.step("installing the Docker engine (apt-get install docker.io)"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update", "-q"],
                        ["apt-get", "install", "-y", "-q", "--no-install-recommends",
                         "docker.io", "iptables"]):
            run_streaming(command, progress, env=env)


def _start_engine(dockerd: str, progress: Progress, log_dir: Path) -> docker.DockerClient:
    if os.geteuid() != 0:
        raise EngineError("the Docker engine is installed but not running",
                          hint="start it (e.g. `sudo systemctl start docker`)")
    log_dir.mkdir(parents=True, exist_ok=True)
    log = log_dir / "chaos-harness-dockerd.log"
    with progress.step(f"starting the Docker engine (log: {log})"):
        with log.open("ab") as out:
            # Its own session, so the engine outlives this command and ignores its Ctrl-C.
            subprocess.Popen([dockerd], stdout=out, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            client = try_connect(timeout=10)
            if client is not None:
                return client
            time.sleep(0.5)
    tail = "\n".join(log.read_text(errors="replace").splitlines()[-10:])
    raise EngineError(f"dockerd did not answer within {START_TIMEOUT:.0f} s; its log ends:\n{tail}")


def engine_version(client: docker.DockerClient) -> str:
    """The engine's version, for reports."""
    try:
        return str(client.version().get("Version", "unknown"))
    except DockerException:
        return "unknown"
