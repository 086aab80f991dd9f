"""The notes app's traffic: readers open its pages, writers add notes.

Plain Locust: `locust -f locustfile.py --host http://127.0.0.1:8080` runs it as it is.
Under chaos-harness, each note the app acknowledged (201) goes to the ledger, and the
drill reads every one back afterwards (the scenario's `verify.read_back`).
"""

from __future__ import annotations

import random
import uuid

from locust import FastHttpUser, between, task

from chaos.load import ledger


class Reader(FastHttpUser):
    """Opens the home page and the health page."""

    wait_time = between(0.01, 0.05)
    weight = 2

    @task(3)
    def home(self) -> None:
        self.client.get("/")

    @task(1)
    def health(self) -> None:
        self.client.get("/health")


class Writer(FastHttpUser):
    """Writes notes; each one the app acknowledges must never be lost."""

    wait_time = between(0.01, 0.05)

    @task
    def write(self) -> None:
        note_id = uuid.uuid4().hex
        text = f"note {note_id}\n" + "lorem ipsum " * random.randint(1, 200)
        with self.client.put(f"/notes/{note_id}", data=text, name="/notes/[id]",
                             catch_response=True) as answer:
            if answer.status_code != 201:
                answer.failure(f"HTTP {answer.status_code}")
                return
        ledger.acknowledge(note_id, text)
