"""The bundled app's traffic, for Locust: browse, upload, read back.  Only a Locust process loads it.

Its tasks are weighed by the mix (`browse_static`, `browse_db`, `upload`, `read`);
acknowledged uploads go through `chaos.load.ledger`, as any user's locustfile does.
Settings come from the environment (see :mod:`chaos.load.settings`), so the same
file serves one process or Locust's master and workers.
"""

from __future__ import annotations

import hashlib
import os
import random
import time
import uuid

from locust import between, task
from locust.contrib.fasthttp import FastHttpUser

from chaos.load import ledger
from chaos.load.settings import LoadSettings

SETTINGS = LoadSettings.from_environment(os.environ)
STATIC_PAGES = ("/", "/about.html", "/contact.html", "/static/style.css")


class HostingUser(FastHttpUser):
    """A visitor of the hosted sites: browses, uploads files and reads them back."""

    wait_time = between(SETTINGS.wait_min, SETTINGS.wait_max)
    network_timeout = SETTINGS.timeout
    connection_timeout = SETTINGS.timeout

    def on_start(self) -> None:
        # This user's acknowledged uploads: (id, sha256).
        self.acknowledged: list[tuple[str, str]] = []

    @task(SETTINGS.weight("browse_static"))
    def browse_static(self) -> None:
        self.client.get(random.choice(STATIC_PAGES), name="static")

    @task(SETTINGS.weight("browse_db"))
    def browse_db(self) -> None:
        self.client.get(f"/page/{random.randint(1, 20)}", name="/page/[n]")

    @task(SETTINGS.weight("upload"))
    def upload(self) -> None:
        size = random.randint(SETTINGS.upload_min, SETTINGS.upload_max)
        body = random.randbytes(size)
        digest = hashlib.sha256(body).hexdigest()
        upload_id = uuid.uuid4().hex
        # FastHttpSession sends bytes as they are; its annotation only names str and dict.
        with self.client.post("/upload", data=body, name="/upload", catch_response=True,  # type: ignore[arg-type]
                              headers={"X-Upload-Id": upload_id,
                                       "Content-Type": "application/octet-stream"}) as answer:
            acknowledged_at = time.time()
            if answer.status_code != 201:
                answer.failure(f"HTTP {answer.status_code}")
                return
            try:
                acknowledged = answer.json()
            except ValueError:
                answer.failure("201 without JSON")
                return
            if acknowledged.get("sha256") != digest or acknowledged.get("id") != upload_id:
                answer.failure("acknowledged with the wrong id or sha256")
                return
        # Acknowledged: the customer was told it is stored. It must never be lost.
        ledger.acknowledge(upload_id, sha256=digest, size=size, at=acknowledged_at)
        self.acknowledged.append((upload_id, digest))

    @task(SETTINGS.weight("read"))
    def read_back(self) -> None:
        if not self.acknowledged:
            return
        upload_id, digest = random.choice(self.acknowledged)
        with self.client.get(f"/upload/{upload_id}", name="/upload/[id]",
                             catch_response=True) as answer:
            if answer.status_code == 200 and hashlib.sha256(answer.content or b"").hexdigest() != digest:
                answer.failure("read back different bytes")
        if answer.status_code == 404:
            # Gone (a restore from an older backup): counted once here, listed by the
            # read-back at the end; asking again would only keep the site looking down.
            self.acknowledged.remove((upload_id, digest))
