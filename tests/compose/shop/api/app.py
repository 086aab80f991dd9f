"""The shop's API: a tiny storefront page with a visit counter.

Standard library only.  Settings come from the environment:

  SHOP_NAME          shown in the page title              ("Shop")
  SHOP_GREETING      shown on the page                    ("hello")
  SHOP_LISTEN_PORT   port to listen on                    (8000)
  SHOP_DATA_DIR      where the visit counter is kept      (/var/lib/shop)
  SHOP_LOG_LEVEL     debug, info or warning               (info)

Routes:

  GET /         the storefront page (counts a visit)
  GET /healthz  200 "ok" once the data directory is usable
  GET /info     JSON about this process (user, limits, mounts, settings)
"""

import json
import logging
import os
import resource
import signal
import socket
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from string import Template

NAME = os.environ.get("SHOP_NAME", "Shop")
GREETING = os.environ.get("SHOP_GREETING", "hello")
PORT = int(os.environ.get("SHOP_LISTEN_PORT", "8000"))
DATA_DIR = Path(os.environ.get("SHOP_DATA_DIR", "/var/lib/shop"))
VERSION = os.environ.get("SHOP_VERSION", "dev")
# Relative: the page template is looked up from the working directory.
TEMPLATE = Path("templates/index.html")
PIDFILE = Path("/tmp/shop-api.pid")

log = logging.getLogger("shop-api")


class Counter:
    """Visits, kept in DATA_DIR/visits and replaced atomically on each write."""

    def __init__(self, directory):
        self.path = directory / "visits"
        self.lock = threading.Lock()

    def read(self):
        try:
            return int(self.path.read_text().strip() or 0)
        except FileNotFoundError:
            return 0

    def increment(self):
        with self.lock:
            value = self.read() + 1
            scratch = self.path.with_name(f".visits.{os.getpid()}")
            scratch.write_text(f"{value}\n")
            os.replace(scratch, self.path)
            return value


def schema_version():
    try:
        return int((DATA_DIR / "schema_version").read_text().strip())
    except (FileNotFoundError, ValueError):
        return 0


def mounts():
    """Mount point -> filesystem type, for the paths this app cares about."""
    found = {}
    with open("/proc/self/mounts") as table:
        for line in table:
            fields = line.split()
            if fields[1] in ("/", "/tmp", str(DATA_DIR)):
                found[fields[1]] = fields[2]
    return found


def info():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    with open("/proc/1/comm") as comm:
        pid1 = comm.read().strip()
    return {
        "name": NAME,
        "greeting": GREETING,
        "version": VERSION,
        "hostname": socket.gethostname(),
        "pid": os.getpid(),
        "pid1": pid1,
        "uid": os.getuid(),
        "gid": os.getgid(),
        "cwd": os.getcwd(),
        "tz": os.environ.get("TZ"),
        "nofile": {"soft": soft, "hard": hard},
        "mounts": mounts(),
        "schema_version": schema_version(),
        "visits": COUNTER.read(),
    }


COUNTER = Counter(DATA_DIR)


class Handler(BaseHTTPRequestHandler):
    server_version = "shop-api/" + VERSION
    protocol_version = "HTTP/1.1"

    def send(self, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        try:
            if path == "/":
                visits = COUNTER.increment()
                page = Template(TEMPLATE.read_text()).substitute(
                    name=NAME, greeting=GREETING, visits=visits,
                    host=socket.gethostname(), version=VERSION)
                self.send(200, page, "text/html; charset=utf-8")
            elif path == "/healthz":
                if schema_version() < 1 or not os.access(DATA_DIR, os.W_OK):
                    self.send(503, "data directory not ready\n")
                else:
                    self.send(200, "ok\n")
            elif path == "/info":
                self.send(200, json.dumps(info(), indent=2) + "\n", "application/json")
            else:
                self.send(404, "not found\n")
        except Exception as error:  # an error page, not a dropped connection
            log.exception("GET %s failed", path)
            self.send(500, f"internal error: {error}\n")

    do_HEAD = do_GET

    def log_message(self, fmt, *args):
        if self.path != "/healthz":
            log.info("%s %s", self.address_string(), fmt % args)


def main():
    logging.basicConfig(
        stream=sys.stdout,
        level=os.environ.get("SHOP_LOG_LEVEL", "info").upper(),
        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    PIDFILE.write_text(f"{os.getpid()}\n")
    server = ThreadingHTTPServer(("", PORT), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        log.info("signal %d: stopping", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("%s %s listening on :%d, data in %s (schema %d, %d visits so far)",
             NAME, VERSION, PORT, DATA_DIR, schema_version(), COUNTER.read())
    server.serve_forever()
    server.server_close()
    PIDFILE.unlink(missing_ok=True)
    log.info("stopped")


if __name__ == "__main__":
    main()
