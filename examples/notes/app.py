"""A small notes app: PUT /notes/<id> stores a note, GET /notes/<id> gives it back.

    GET  /health      200 "ok" (its health path)
    GET  /            a page saying how many notes it holds
    PUT  /notes/<id>  store the body as note <id>: 201 once acknowledged
    GET  /notes/<id>  the note's bytes, or 404

NOTES_FLUSH_EVERY=0 (the default) writes each note to /data/notes and fsyncs it
before answering 201.  NOTES_FLUSH_EVERY=S acknowledges at once and writes each
note S seconds later: the classic write-back cache, which loses what it
acknowledged in the last S seconds when the power goes.  Standard library only.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

NOTES = Path(os.environ.get("NOTES_DIR", "/data/notes"))
FLUSH_EVERY = float(os.environ.get("NOTES_FLUSH_EVERY", "0"))
PORT = int(os.environ.get("NOTES_PORT", "8080"))
ID = re.compile(r"^/notes/([A-Za-z0-9_-]{1,128})$")

#: Notes acknowledged and not yet on disk: id -> (when acknowledged, bytes).
pending: dict[str, tuple[float, bytes]] = {}
lock = threading.Lock()
answered = threading.Event()


def write(note_id: str, body: bytes) -> None:
    path = NOTES / note_id
    temporary = path.with_suffix(".tmp")
    with temporary.open("wb") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    temporary.rename(path)


def flusher() -> None:
    """Writes each note once it has waited FLUSH_EVERY seconds in the cache."""
    while True:
        time.sleep(FLUSH_EVERY / 4)
        due = time.time() - FLUSH_EVERY
        with lock:
            batch = {i: note for i, note in pending.items() if note[0] <= due}
        for note_id, (_, body) in batch.items():
            write(note_id, body)
        with lock:
            for note_id, note in batch.items():
                if pending.get(note_id) is note:
                    del pending[note_id]


class Notes(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802 — http.server's naming
        if self.path == "/health":
            return self.answer(200, b"ok\n")
        if self.path == "/":
            count = len(os.listdir(NOTES)) + len(pending)
            return self.answer(200, f"<h1>Notes</h1><p>{count} notes</p>\n".encode())
        found = ID.match(self.path)
        if not found:
            return self.answer(404, b"no such page\n")
        with lock:
            cached = pending.get(found[1])
        body = cached[1] if cached else None
        if body is None:
            try:
                body = (NOTES / found[1]).read_bytes()
            except FileNotFoundError:
                return self.answer(404, b"no such note\n")
        return self.answer(200, body)

    def do_PUT(self) -> None:  # noqa: N802
        found = ID.match(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not found:
            return self.answer(404, b"no such page\n")
        if FLUSH_EVERY:
            with lock:
                pending[found[1]] = (time.time(), body)
        else:
            write(found[1], body)
        return self.answer(201, b"stored\n")

    def answer(self, status: int, body: bytes) -> None:
        now = time.time()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if not answered.is_set():
            # The first answer since it started (as it began to send it): when customers
            # could reach it again. Several threads may answer at once: the earliest counts.
            with lock:
                first = not answered.is_set()
                answered.set()
            if first:
                print(f"answering since {now:.6f}", flush=True)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    NOTES.mkdir(parents=True, exist_ok=True)
    for leftover in NOTES.glob("*.tmp"):
        leftover.unlink()
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Notes)
    server.daemon_threads = True
    # The socket listens from here on: the moment the app can answer again after a power-on.
    print(f"listening since {time.time():.6f}", flush=True)
    if FLUSH_EVERY:
        threading.Thread(target=flusher, daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
