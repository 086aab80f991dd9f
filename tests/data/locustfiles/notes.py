"""A user's own locustfile, as they would write it for their notes app: one class reads,
one writes; each write the app acknowledges is recorded with `ledger.acknowledge`."""

import random
import uuid

from locust import HttpUser, between, task

from chaos.load import ledger


class Reader(HttpUser):
    wait_time = between(0.01, 0.05)
    weight = 3

    @task
    def home(self) -> None:
        self.client.get("/")

    @task
    def notes(self) -> None:
        self.client.get("/notes")


class Writer(HttpUser):
    wait_time = between(0.01, 0.05)
    host = "http://example.invalid"  # their production site: the drill must not go there

    @task
    def write(self) -> None:
        note_id = uuid.uuid4().hex
        text = f"note {note_id} " * random.randint(1, 20)
        with self.client.put(f"/notes/{note_id}", data=text, name="/notes/[id]",
                             catch_response=True) as answer:
            if answer.status_code != 201:
                answer.failure(f"HTTP {answer.status_code}")
                return
        ledger.acknowledge(note_id, text)
