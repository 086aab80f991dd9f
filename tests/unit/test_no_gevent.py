"""Locust (and gevent's monkey-patching) never enters the harness process."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import chaos

#: The modules only a Locust process loads.
LOCUST_SIDE = {"chaos.load.chaos_harness_listener", "chaos.load.hosting_mix", "chaos.load.visit_mix",
               "chaos.pytest_plugin"}


def harness_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(chaos.__path__, "chaos.")
                  if m.name not in LOCUST_SIDE)


def test_importing_every_harness_module_imports_neither_locust_nor_gevent() -> None:
    modules = harness_modules()
    assert "chaos.cli" in modules and "chaos.load.session" in modules
    code = ("import importlib, sys\n"
            f"for name in {modules!r}:\n"
            "    importlib.import_module(name)\n"
            "from chaos.cli import cli\n"
            "roots = ('gevent', 'locust', 'geventhttpclient')\n"
            "leaked = sorted(m for m in sys.modules if m.split('.')[0] in roots)\n"
            "import socket, threading\n"
            "patched = (socket.socket.__module__ != 'socket'\n"
            "           or threading.Lock.__module__.startswith('gevent'))\n"
            "print(leaked, patched)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[] False"


def test_the_drill_command_runs_without_gevent() -> None:
    code = ("import sys\nfrom chaos.cli import main\nsys.argv = ['drill', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print([m for m in sys.modules if m.startswith(('gevent', 'locust'))])\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip().endswith("[]"), result.stdout + result.stderr
