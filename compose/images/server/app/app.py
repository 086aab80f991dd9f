"""The hosted application of one simulated hosting machine.

Served by gunicorn (as www-data) behind nginx, which serves /, /*.html and
/static/ straight from /srv/www and proxies everything else here:

    GET  /page/<id>     a page rendered from PostgreSQL
    POST /upload        raw body -> /srv/uploads/<id> (fsynced, its sha256 in
                        the xattr user.sha256) + a row in PostgreSQL; 201
                        {"id","sha256","size"} only once both are durable; 503
                        {"error","kind"} on a standby ("read-only"), EIO, EROFS,
                        database down
    GET  /upload/<id>   the bytes, X-Sha256 = the hash recorded at upload (from
                        the database, or from the file's xattr while the
                        database is down: the files alone still serve reads)
    GET  /readyz        200 when this machine can serve reads: a file of /srv
                        reads back from the drives (not the page cache)
    GET  /healthz       200 "ok" when this machine takes writes: /srv takes a
                        durable write, the database answers and is the primary;
                        503 and the reasons if not
    GET  /status        raid-status + the services' state (200 even degraded)
"""

import contextlib
import errno
import hashlib
import html
import json
import os
import re
import subprocess
import threading
import time
import uuid
from collections.abc import Callable

import psycopg2
from flask import Flask, Response, jsonify, request

SERVICE_NAME = os.environ.get("SERVICE_NAME", "")
SITE = os.environ.get("SITE", "")
UPLOADS = "/srv/uploads"
#: Read by /readyz: a file every machine has (copied at first boot).
READY_FILE = "/srv/www/index.html"
SHA256_XATTR = "user.sha256"
UPLOAD_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
PROBE_TIMEOUT = 1.5  # below HAProxy's check timeout (2 s)
COMMAND_TIMEOUT = 10.0
DB_SETTINGS = {
    "host": "/var/run/postgresql",
    "dbname": "hosting",
    "user": "app",
    "password": os.environ.get("DB_PASSWORD", ""),
    "connect_timeout": 2,
    "application_name": "hosting-app",
    "options": "-c statement_timeout=5000",
}
IDLE_CONNECTIONS = 8

app = Flask(__name__)


class Database:
    """A small pool of PostgreSQL connections.

    A pooled connection may have died with the server since its last use:
    when it fails as a connection (closed afterwards), the work is retried
    once on a new connection.  The work must be safe to repeat.
    """

    def __init__(self) -> None:
        self._idle: list = []
        self._lock = threading.Lock()

    def _take(self):
        with self._lock:
            while self._idle:
                conn = self._idle.pop()
                if not conn.closed:
                    return conn, True
        return psycopg2.connect(**DB_SETTINGS), False

    def _give(self, conn) -> None:
        with self._lock:
            if len(self._idle) < IDLE_CONNECTIONS and not conn.closed:
                self._idle.append(conn)
                return
        conn.close()

    def run(self, work: Callable):
        """work(cursor) in one transaction, committed; returns its result."""
        for attempt in (1, 2):
            conn, reused = self._take()
            try:
                with conn.cursor() as cur:
                    result = work(cur)
                conn.commit()
            except psycopg2.Error:
                broken = conn.closed != 0
                with contextlib.suppress(psycopg2.Error):
                    conn.close()
                if broken and reused and attempt == 1:
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            self._give(conn)
            return result


db = Database()


class BoundedCheck:
    """Run a check in a thread and wait at most `timeout` for it.

    One run at a time: callers arriving while a run is in flight share it.  A
    check stuck on a hung drive keeps its thread; later callers are told it is
    still stuck instead of piling up more threads behind it.
    """

    def __init__(self, name: str, check: Callable[[], None], timeout: float) -> None:
        self.name = name
        self._check = check
        self._timeout = timeout
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started = 0.0
        self._outcome: dict = {}

    def _run(self, outcome: dict) -> None:
        try:
            self._check()
            outcome["error"] = None
        except Exception as e:  # the reason is the result
            outcome["error"] = describe(e)

    def __call__(self) -> str | None:
        """None when the check passed, else the reason."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._outcome = {"error": "did not finish"}
                self._started = time.monotonic()
                self._thread = threading.Thread(target=self._run, args=(self._outcome,),
                                                name=f"check-{self.name}", daemon=True)
                self._thread.start()
            thread, started, outcome = self._thread, self._started, self._outcome
        thread.join(self._timeout)
        if thread.is_alive():
            return f"{self.name}: no answer for {time.monotonic() - started:.1f}s"
        return None if outcome["error"] is None else f"{self.name}: {outcome['error']}"


def describe(e: BaseException) -> str:
    if isinstance(e, OSError) and e.errno is not None:
        return f"{errno.errorcode.get(e.errno, e.errno)} {e.strerror}"
    if isinstance(e, psycopg2.Error):
        return (str(e).strip().splitlines() or [type(e).__name__])[0]
    if isinstance(e, Refused):
        return str(e)
    return f"{type(e).__name__}: {e}"


def storage_check() -> None:
    path = os.path.join(UPLOADS, f".healthz-{os.getpid()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, b"healthz probe\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.unlink(path)


def database_check() -> None:
    def select_one(cur):
        cur.execute("SELECT 1")
        return cur.fetchone()

    db.run(select_one)


def in_recovery() -> bool:
    """True on a standby (PostgreSQL replaying a primary's WAL): it refuses writes."""
    def ask(cur):
        cur.execute("SELECT pg_is_in_recovery()")
        return cur.fetchone()[0]

    return bool(db.run(ask))


class Refused(Exception):
    """A check that ran and said no (its message is the whole reason)."""


def role_check() -> None:
    try:
        standby = in_recovery()
    except psycopg2.Error:
        return  # the database check reports it
    if standby:
        raise Refused("standby (a read-only replica): writes go to the primary")


def read_check() -> None:
    """Read a file of /srv from the drives: drop its cached pages first."""
    fd = os.open(READY_FILE, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.read(fd, 65536)
    finally:
        os.close(fd)


checks = [
    BoundedCheck("storage", storage_check, PROBE_TIMEOUT),
    BoundedCheck("database", database_check, PROBE_TIMEOUT),
    BoundedCheck("role", role_check, PROBE_TIMEOUT),
]
read_checks = [BoundedCheck("storage", read_check, PROBE_TIMEOUT)]


def write_durably(path: str, data: bytes, sha256: str) -> None:
    """Write (with the hash as an xattr), fsync, rename into place, fsync the directory."""
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, f".tmp-{uuid.uuid4().hex}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.setxattr(fd, SHA256_XATTR, sha256.encode())
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    os.close(fd)
    os.rename(tmp, path)
    dfd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def error(status: int, kind: str, message: str, **extra) -> Response:
    body = {"error": f"{kind}: {message}", "kind": kind, "service": SERVICE_NAME}
    body.update(extra)
    return Response(json.dumps(body) + "\n", status=status, mimetype="application/json")


@app.post("/upload")
def upload():
    upload_id = request.headers.get("X-Upload-Id") or str(uuid.uuid4())
    if not UPLOAD_ID.match(upload_id):
        return error(400, "request", "X-Upload-Id must match [A-Za-z0-9][A-Za-z0-9._-]{0,127}")
    # A standby must not take the file either: it would differ from its primary.
    try:
        standby = in_recovery()
    except psycopg2.Error as e:
        return error(503, "database", describe(e), id=upload_id)
    if standby:
        return error(503, "read-only", f"{SERVICE_NAME} is a standby (a read-only replica): it "
                     "serves reads and takes no writes until it is promoted", id=upload_id)
    data = request.get_data(cache=False)
    digest = hashlib.sha256(data).hexdigest()
    path = os.path.join(UPLOADS, upload_id)
    try:
        write_durably(path, data, digest)
    except OSError as e:
        return error(503, "storage", describe(e), id=upload_id)

    def record(cur):
        cur.execute(
            "INSERT INTO uploads (id, sha256, size, path) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET sha256 = EXCLUDED.sha256, size = EXCLUDED.size,"
            " path = EXCLUDED.path, created_at = now()",
            (upload_id, digest, len(data), path),
        )

    try:
        db.run(record)
    except psycopg2.Error as e:
        return error(503, "database", describe(e), id=upload_id)
    return jsonify(id=upload_id, sha256=digest, size=len(data)), 201


@app.get("/upload/<upload_id>")
def download(upload_id: str):
    if not UPLOAD_ID.match(upload_id):
        return error(404, "request", "no such upload")

    def lookup(cur):
        cur.execute("SELECT sha256, size, path FROM uploads WHERE id = %s", (upload_id,))
        return cur.fetchone()

    try:
        row = db.run(lookup)
    except psycopg2.Error as e:
        # The files alone can still serve reads (a read-only array stops the
        # database, not the reading of what is on disk).
        return download_from_disk(upload_id, describe(e))
    if row is None:
        return error(404, "request", "no such upload")
    sha256, size, path = row
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return error(404, "storage", "recorded upload is missing from disk", id=upload_id)
    except OSError as e:
        return error(503, "storage", describe(e), id=upload_id)
    return Response(data, mimetype="application/octet-stream",
                    headers={"X-Sha256": sha256, "X-Size": str(size)})


def download_from_disk(upload_id: str, database_error: str) -> Response:
    """An upload served from its file and the hash in its xattr, without the database."""
    path = os.path.join(UPLOADS, upload_id)
    try:
        with open(path, "rb") as f:
            data = f.read()
            sha256 = os.getxattr(f.fileno(), SHA256_XATTR).decode()
    except FileNotFoundError:
        return error(503, "database", database_error)
    except OSError as e:
        return error(503, "storage", describe(e), id=upload_id)
    return Response(data, mimetype="application/octet-stream",
                    headers={"X-Sha256": sha256, "X-Size": str(len(data)),
                             "X-Served-From": "disk"})


@app.get("/page/<page_id>")
def page(page_id: str):
    def lookup(cur):
        cur.execute("SELECT title, body, created_at FROM pages WHERE id = %s", (page_id,))
        return cur.fetchone()

    try:
        row = db.run(lookup)
    except psycopg2.Error as e:
        return error(503, "database", describe(e))
    if row is None:
        return error(404, "request", "no such page")
    title, body, created = row
    text = (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><link rel=\"stylesheet\" href=\"/static/style.css\"></head>\n"
        f"<body><h1>{html.escape(title)}</h1>\n<p>{html.escape(body)}</p>\n"
        f"<p><small>created {created.isoformat()} on {html.escape(SERVICE_NAME)}</small></p>\n"
        "<p><a href=\"/\">Home</a></p></body></html>\n"
    )
    return Response(text, mimetype="text/html")


@app.get("/readyz")
def readyz():
    reasons = [r for r in (check() for check in read_checks) if r]
    if reasons:
        return Response("; ".join(reasons) + "\n", status=503, mimetype="text/plain")
    return Response("ready\n", mimetype="text/plain")


@app.get("/healthz")
def healthz():
    reasons = [r for r in (check() for check in checks) if r]
    if reasons:
        return Response("; ".join(reasons) + "\n", status=503, mimetype="text/plain")
    return Response("ok\n", mimetype="text/plain")


def run_command(argv: list[str]) -> tuple[str | None, str | None]:
    """(stdout, None) or (stdout or None, the error).

    `supervisorctl status` exits 3 when a program is not running: not an error.
    """
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as e:
        return None, str(e)
    if proc.returncode in (0, 3):
        return proc.stdout, None
    return proc.stdout, proc.stderr.strip() or f"exit {proc.returncode}"


def services_state() -> dict:
    """{"postgres": "RUNNING", ...} from `supervisorctl status`."""
    out, err = run_command(["sudo", "-n", "/usr/bin/supervisorctl", "status"])
    if out is None or (err and not out.strip()):
        return {"error": err}
    rows = (line.split() for line in out.splitlines())
    return {fields[0]: fields[1] for fields in rows if len(fields) >= 2}


@app.get("/status")
def status():
    out, err = run_command(["sudo", "-n", "/usr/local/bin/raid-status"])
    try:
        raid = json.loads(out) if out else {"error": err}
    except ValueError:
        raid = {"error": f"raid-status printed no JSON: {err or out[:200]}"}
    return jsonify(service=SERVICE_NAME, site=SITE, raid=raid, services=services_state())
