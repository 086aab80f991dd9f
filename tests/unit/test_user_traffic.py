"""A user's own locustfile run as the harness runs it, against a local app (no Docker).

Their User classes run unmodified beside the harness's listener: every request in the
timeline, every acknowledged write in the ledger, the mix weighing their classes by name
(a class left out does not run), Locust's own CSV and HTML report in the load folder, and
a class's own host replaced by the run's URL. A locustfile that cannot run is refused
with the file, the line and the reason, before anything starts.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from chaos.errors import InputError
from chaos.load.runner import LoadPlan, LocustProcess
from chaos.load.settings import LoadSettings, Mix
from chaos.load.traffic import inspect_locustfile, mix_problem
from chaos.load.verify import ReadBackSpec, read_back
from chaos.measure.loss import assess_loss
from chaos.records import Ack, read_ledger, read_timeline

pytestmark = pytest.mark.slow

FILES = Path(__file__).resolve().parents[1] / "data" / "locustfiles"
NOTES = FILES / "notes.py"


class _Notes(BaseHTTPRequestHandler):
    """A notes app: PUT /notes/<id> stores (201), GET /notes/<id> gives it back."""

    store: dict[str, bytes] = {}
    seen: list[str] = []
    hosts: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 — http.server's naming
        self.seen.append(f"GET {self.path}")
        self.hosts.append(self.headers.get("Host", ""))
        if self.path.startswith("/notes/"):
            note = self.store.get(self.path.removeprefix("/notes/"))
            self._answer(200, note) if note is not None else self._answer(404, b"no such note")
        else:
            self._answer(200, b"<h1>notes</h1>")

    def do_PUT(self) -> None:  # noqa: N802
        self.seen.append(f"PUT {self.path}")
        self.store[self.path.removeprefix("/notes/")] = \
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self._answer(201, b"stored")

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def app() -> Iterator[str]:
    _Notes.store, _Notes.seen, _Notes.hosts = {}, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Notes)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def run(app: str, out: Path, mix: Mix | None, seconds: float = 4.0) -> LocustProcess:
    settings = LoadSettings(out, mix, locustfile=NOTES)
    locust = LocustProcess(LoadPlan(app, settings, users=4, spawn_rate=20, duration=seconds))
    try:
        locust.wait(timeout=seconds + 60)
    finally:
        locust.stop()
    return locust


def test_their_classes_run_unmodified_and_every_request_and_write_is_recorded(
        app: str, tmp_path: Path) -> None:
    run(app, tmp_path, None)
    requests = read_timeline(tmp_path.glob("timeline-*.csv"))
    acks = read_ledger(tmp_path.glob("ledger-*.csv"))
    names = {r.name for r in requests}
    assert names == {"GET /", "GET /notes", "PUT /notes/[id]"}
    # Every request the app saw is in the timeline, and nothing else is.
    assert len(requests) == len(_Notes.seen)
    assert all(r.ok and r.status in (200, 201) for r in requests)
    # The writer's own host (their production site) was replaced by the run's URL.
    puts = [r for r in requests if r.name == "PUT /notes/[id]"]
    assert puts and len(acks) == len(puts) == len(_Notes.store)
    # Each acknowledgement holds what the app stored, and reads back intact.
    for ack in acks:
        assert ack.sha256 == hashlib.sha256(_Notes.store[ack.id]).hexdigest()
        assert ack.size == len(_Notes.store[ack.id])
    reads = read_back(app, acks, ReadBackSpec("/notes/{id}"))
    assert assess_loss(acks, reads).intact == len(acks)
    # Locust's own outputs, for those who know them.
    assert (tmp_path / "locust.html").stat().st_size > 1000
    assert "PUT" in (tmp_path / "locust_stats.csv").read_text()


def test_a_mix_weighs_their_classes_and_a_class_left_out_does_not_run(app: str,
                                                                      tmp_path: Path) -> None:
    run(app, tmp_path, Mix.parse("Writer=1"))
    names = {r.name for r in read_timeline(tmp_path.glob("timeline-*.csv"))}
    assert names == {"PUT /notes/[id]"}


def test_a_locustfile_runs_from_its_folder_with_its_modules_and_data(app: str,
                                                                  tmp_path: Path) -> None:
    # As `cd project && locust -f locustfile.py`: a module beside it, a file read by a
    # relative path.
    project = tmp_path / "project"
    project.mkdir()
    (project / "paths.txt").write_text("/notes\n")
    (project / "helpers.py").write_text("def paths():\n    return open('paths.txt').read().split()\n")
    (project / "locustfile.py").write_text(
        "from locust import HttpUser, constant, task\nfrom helpers import paths\n\n\n"
        "class Browser(HttpUser):\n    wait_time = constant(0.05)\n\n    @task\n"
        "    def browse(self):\n        for path in paths():\n            self.client.get(path)\n")
    assert inspect_locustfile(project / "locustfile.py").names() == ["Browser"]
    out = tmp_path / "out"
    settings = LoadSettings(out, None, locustfile=project / "locustfile.py")
    locust = LocustProcess(LoadPlan(app, settings, users=2, spawn_rate=10, duration=2))
    try:
        locust.wait(timeout=60)
    finally:
        locust.stop()
    assert {r.name for r in read_timeline(out.glob("timeline-*.csv"))} == {"GET /notes"}


def test_a_locustfile_named_like_a_package_does_not_hide_it(app: str, tmp_path: Path) -> None:
    # `locust.py` beside them: run from its folder, it must not stand in for Locust itself.
    theirs = tmp_path / "locust.py"
    theirs.write_text("from locust import HttpUser, constant, task\n\n\nclass Shopper(HttpUser):\n"
                      "    wait_time = constant(0.05)\n\n    @task\n    def home(self):\n"
                      "        self.client.get('/')\n")
    assert inspect_locustfile(theirs).names() == ["Shopper"]
    out = tmp_path / "out"
    locust = LocustProcess(LoadPlan(app, LoadSettings(out, None, locustfile=theirs), users=2,
                                    spawn_rate=10, duration=2))
    try:
        locust.wait(timeout=60)
    finally:
        locust.stop()
    assert {r.name for r in read_timeline(out.glob("timeline-*.csv"))} == {"GET /"}


def test_their_classes_are_listed_without_gevent_in_the_harness() -> None:
    found = inspect_locustfile(NOTES)
    assert [(c.name, c.weight, c.host) for c in found.classes] == \
        [("Reader", 3, None), ("Writer", 1, "http://example.invalid")]
    assert any("Writer sets host http://example.invalid" in note for note in found.notes())
    assert mix_problem(Mix.parse("Writer=1,Raeder=2"), NOTES, found) == \
        "unknown User class of notes.py 'Raeder'; did you mean 'Reader'? (it has: Reader, Writer)"
    assert mix_problem(Mix.parse("Writer=1,Reader=2"), NOTES, found) is None


def test_a_locustfile_with_a_syntax_error_is_refused_at_its_line(tmp_path: Path) -> None:
    # Written here: a .py with a syntax error among the tests would break their own checks.
    broken = tmp_path / "broken_syntax.py"
    broken.write_text("from locust import HttpUser, task\n\n\nclass Visitor(HttpUser):\n"
                      "    @task\n    def home(self) -> None\n        self.client.get('/')\n")
    with pytest.raises(InputError) as refused:
        inspect_locustfile(broken)
    assert "broken_syntax.py:6: does not import: SyntaxError" in refused.value.message


@pytest.mark.parametrize("name, reason", [
    ("broken_import.py", "broken_import.py:1: does not import: ModuleNotFoundError: No module "
                         "named 'no_such_module_of_theirs'"),
    ("no_users.py", "no_users.py: has no User class"),
    ("missing.py", "missing.py: no such file"),
])
def test_a_locustfile_that_cannot_run_is_refused_with_the_file_and_the_reason(
        name: str, reason: str) -> None:
    with pytest.raises(InputError) as refused:
        inspect_locustfile(FILES / name)
    assert reason in refused.value.message


def test_a_locustfile_that_prints_while_imported_is_still_read(tmp_path: Path) -> None:
    chatty = tmp_path / "chatty.py"
    chatty.write_text('print("{not json")\nfrom locust import HttpUser, task\n\n\n'
                      'class Shopper(HttpUser):\n    @task\n    def home(self):\n'
                      '        self.client.get("/")\n')
    assert inspect_locustfile(chatty).names() == ["Shopper"]


def test_probes_and_read_backs_send_the_headers_the_scenario_gives(app: str, tmp_path: Path) -> None:
    # A name-based site answers only for its own Host.
    from chaos.load.prober import Prober, ProbeSpec

    host = (("Host", "shop.example"),)
    with Prober(app, tmp_path / "probe.csv", ProbeSpec(path="/", rate=20, headers=host)):
        time.sleep(0.3)
    _Notes.store["n1"] = b"x"
    read_back(app, [Ack("n1", "", 0, 1.0)], ReadBackSpec("/notes/{id}", headers=host))
    assert _Notes.hosts and set(_Notes.hosts) == {"shop.example"}
