"""The traffic on a stack that brings no locustfile of its own: visitors who GET one page.

The page is the probe's path (`/` unless the scenario's `probe.path` says otherwise),
so nothing is asked that the app may not serve.  Only a Locust process loads it.
"""

from __future__ import annotations

import os

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from chaos.load.settings import LoadSettings

SETTINGS = LoadSettings.from_environment(os.environ)


class Visitor(FastHttpUser):
    """A visitor who asks for the site's page, again and again."""

    wait_time = between(SETTINGS.wait_min, SETTINGS.wait_max)
    network_timeout = SETTINGS.timeout
    connection_timeout = SETTINGS.timeout

    @task
    def visit(self) -> None:
        self.client.get(SETTINGS.visit_path, headers=dict(SETTINGS.visit_headers))
