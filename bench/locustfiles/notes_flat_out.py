"""A user's locustfile for examples/notes with no think time, so the client is the bottleneck:
readers of the home page, writers whose acknowledged notes go to the ledger."""

from __future__ import annotations

import uuid

from locust import FastHttpUser, constant, task

from chaos.load import ledger


class Reader(FastHttpUser):
    wait_time = constant(0)
    weight = 3

    @task
    def home(self) -> None:
        self.client.get("/health")


class Writer(FastHttpUser):
    wait_time = constant(0)

    @task
    def write(self) -> None:
        note_id = uuid.uuid4().hex
        text = f"note {note_id}\\n"
        with self.client.put(f"/notes/{note_id}", data=text, name="/notes/[id]",
                             catch_response=True) as answer:
            if answer.status_code != 201:
                answer.failure(f"HTTP {answer.status_code}")
                return
        ledger.acknowledge(note_id, text)
