"""The pure parts of "your own traffic": statuses, mixes, targets, probes, read-backs, the ledger."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from chaos.engine.lifecycle import edge_url
from chaos.errors import InputError, StackError
from chaos.load import ledger
from chaos.load.http_check import StatusMatch
from chaos.load.prober import ProbeSpec
from chaos.load.settings import HOSTING, LISTENER, LoadSettings, Mix
from chaos.load.traffic import Target, bundled_stack, default_traffic
from chaos.load.verify import ReadBackSpec
from chaos.measure.loss import ReadBack, Verdict, judge
from chaos.records import Ack, read_ledger

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("written, inside, outside", [
    (200, [200], [201, 204, 500]),
    ("2xx", [200, 204, 299], [199, 300, 404]),
    ("200-204", [200, 203, 204], [205, 199]),
    ([200, "3xx"], [200, 301, 399], [201, 400]),
    (" 2XX ", [250], [350]),
])
def test_statuses_are_read_as_users_write_them(written: object, inside: list[int],
                                               outside: list[int]) -> None:
    match = StatusMatch.parse(written)
    assert all(s in match for s in inside)
    assert not any(s in match for s in outside)


@pytest.mark.parametrize("written", [True, 99, 600, "2xy", "299-200", [], "6xx", 200.0, "20"])
def test_a_status_that_is_not_one_says_what_to_write(written: object) -> None:
    with pytest.raises(ValueError, match="200"):
        StatusMatch.parse(written)


def test_a_mix_replaces_the_weights_a_name_left_out_weighs_zero() -> None:
    mix = Mix.parse("browse_static=1")
    assert [LoadSettings(Path("/x"), mix).weight(t) for t in ("browse_static", "upload")] == [1, 0]
    # No mix: the hosting mix's own weights.
    assert [LoadSettings(Path("/x")).weight(t) for t in ("browse_static", "browse_db", "upload",
                                                          "read")] == [4, 3, 2, 1]
    assert str(Mix.parse(" Reader = 3 , Writer=1")) == "Reader=3,Writer=1"


@pytest.mark.parametrize("text, phrase", [
    ("a=0,b=0", "at least one weight must be above 0"),
    ("a=1,a=2", "a is given twice"),
    ("a=1001", "from 0 to 1000"),
    ("a=-1", "from 0 to 1000"),
    ("a=²", "from 0 to 1000"),
    ("a", "is not NAME=WEIGHT"),
    ("", "give NAME=WEIGHT"),
    ("1a=1", "is not a task or User class name"),
])
def test_a_wrong_mix_is_refused_saying_why(text: str, phrase: str) -> None:
    with pytest.raises(InputError, match=phrase):
        Mix.parse(text)


def test_locust_runs_the_listener_beside_the_traffic_and_only_the_weighted_classes(
        tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.py"
    arguments = LoadSettings(tmp_path, Mix.parse("Reader=3,Writer=0,Admin=1"),
                             locustfile=theirs).locust_arguments()
    assert arguments[:2] == ["-f", f"{LISTENER},{theirs}"]
    assert arguments[2:4] == ["Reader", "Admin"]  # Writer, weighing 0, does not run
    assert arguments[4] == "--config-users"
    assert json.loads(arguments[5]) == [{"user_class_name": "Reader", "weight": 3},
                                        {"user_class_name": "Admin", "weight": 1}]
    assert len(arguments) == 6
    # Their own weights when no mix is given; the hosting mix's mix goes to its tasks.
    assert LoadSettings(tmp_path, locustfile=theirs).locust_arguments() == \
        ["-f", f"{LISTENER},{theirs}"]
    hosting = LoadSettings(tmp_path, Mix.parse("upload=1"))
    assert hosting.locust_arguments() == ["-f", f"{LISTENER},{HOSTING}"]
    assert hosting.to_environment()["DRILL_LOAD_MIX"] == "upload=1"
    assert LoadSettings.from_environment(hosting.to_environment()).mix == Mix.parse("upload=1")


PUBLISHED = {"web": {"80/tcp": "http://127.0.0.1:8001", "443/tcp": "http://127.0.0.1:8002"},
             "admin": {"9000/tcp": "http://127.0.0.1:9000"}}


def test_a_target_is_a_published_port_of_a_service() -> None:
    assert Target().url(PUBLISHED, "http://edge") == "http://edge"
    assert Target("web").url(PUBLISHED, None) == "http://127.0.0.1:8001"  # its first port
    assert Target("web", "443").url(PUBLISHED, None) == "http://127.0.0.1:8002"
    assert Target("web", "443/tcp").url(PUBLISHED, None) == "http://127.0.0.1:8002"
    with pytest.raises(StackError, match="publishes no port 8080"):
        Target("web", "8080").url(PUBLISHED, None)
    with pytest.raises(StackError, match="publishes no port"):
        Target().url(PUBLISHED, None)
    ports = {name: list(urls) for name, urls in PUBLISHED.items()} | {"db": []}
    assert Target("web", "80").problem(ports) is None
    assert "did you mean 'admin'" in (Target("admni").problem(ports) or "")
    assert "add `ports:`" in (Target("db").problem(ports) or "")
    assert "(it publishes: 80/tcp, 443/tcp)" in (Target("web", "81").problem(ports) or "")


def test_the_edge_is_where_customers_come_in_else_the_first_port_published() -> None:
    published = {"db": {"5432/tcp": "http://db"}, "edge": {"80/tcp": "http://edge"},
                 "lb": {"80/tcp": "http://lb"}}
    assert edge_url(published) == "http://edge"
    # A service whose role is edge (x-chaos-harness) counts as one too.
    assert edge_url({"db": published["db"], "lb": published["lb"]}, ["lb"]) == "http://lb"
    assert edge_url({"db": {"5432/tcp": "http://db"}, "web": {"80/tcp": "http://web"}}) == "http://db"
    assert edge_url({}) is None


def test_the_bundled_stack_brings_its_own_traffic_any_other_visitors_of_its_home_page() -> None:
    bundled = default_traffic(bundled_stack([ROOT / "compose" / "hosting.yml"]))
    assert (bundled.locustfile.name, bundled.probe.path) == ("hosting_mix.py", "/healthz")
    assert bundled.read_back == ReadBackSpec("/upload/{id}")
    theirs = default_traffic(bundled_stack([ROOT / "tests" / "compose" / "minimal.yml"]))
    assert (theirs.locustfile.name, theirs.probe.path) == ("visit_mix.py", "/")
    assert theirs.read_back is None and theirs.read_back_unknown


def test_a_probe_is_up_on_an_expected_status_and_body() -> None:
    spec = ProbeSpec(expect_status=StatusMatch.parse([200, 204]), expect_body="ok")
    assert spec.judge(200, b"all ok") == ""
    assert spec.judge(204, b"fine") == "HTTP 204 without 'ok' in the body"
    assert spec.judge(503, b"down") == "HTTP 503 (expected 200, 204): down"
    assert ProbeSpec(method="HEAD", path="/up").name == "probe HEAD /up"


def test_a_read_back_asks_for_the_id_as_one_path_segment() -> None:
    spec = ReadBackSpec("/notes/{id}/raw")
    assert spec.url("http://h:1/", "a b/c?") == "http://h:1/notes/a%20b%2Fc%3F/raw"
    assert spec.url("http://boX/", "X") == "http://boX/notes/X/raw"  # only the slash is trimmed


ACK = Ack("n1", "a" * 64, 10, 1.0)


@pytest.mark.parametrize("read, ack, verdict", [
    # An app whose expected answer is 201, not 200.
    (ReadBack(201, "a" * 64, found=True), ACK, Verdict.INTACT),
    (ReadBack(201, "b" * 64, found=True), ACK, Verdict.CORRUPT),
    (ReadBack(200, None, found=False), ACK, Verdict.UNREADABLE),  # 200 not what it expects
    # Compared by status only: the app does not give the content back.
    (ReadBack(200, None, found=True, compare_content=False), ACK, Verdict.INTACT),
    (ReadBack(404, None, found=False, compare_content=False), ACK, Verdict.MISSING),
    # Acknowledged without its content: being there is all that can be checked.
    (ReadBack(200, None, found=True), Ack("n2", "", 0, 1.0), Verdict.INTACT),
    (ReadBack(410, None, found=False), Ack("n2", "", 0, 1.0), Verdict.MISSING),
])
def test_a_write_read_back_is_judged_as_the_scenario_says(read: ReadBack, ack: Ack,
                                                         verdict: Verdict) -> None:
    assert judge(ack, read) is verdict


def test_the_ledger_records_what_the_app_acknowledged(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRILL_LOAD_OUT", str(tmp_path))
    ledger.acknowledge("n1", b"hello", at=5.0)
    ledger.acknowledge("n2", "héllo")
    ledger.acknowledge("n3", sha256="A" * 64, size=7, at=6.0)
    ledger.acknowledge("n4")
    acks = {a.id: a for a in read_ledger(tmp_path.glob("ledger-*.csv"))}
    assert acks["n1"] == Ack("n1", hashlib.sha256(b"hello").hexdigest(), 5, 5.0)
    assert acks["n2"].sha256 == hashlib.sha256("héllo".encode()).hexdigest()
    assert acks["n2"].size == 6
    assert acks["n3"] == Ack("n3", "a" * 64, 7, 6.0)
    assert (acks["n4"].sha256, acks["n4"].size) == ("", 0)


def test_without_the_harness_the_ledger_records_nothing(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    # Recording into one folder, then another, then none: each row where it was asked for.
    first, second = tmp_path / "a", tmp_path / "b"
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DRILL_LOAD_OUT", str(first))
    ledger.acknowledge("n1", b"x")
    monkeypatch.setenv("DRILL_LOAD_OUT", str(second))
    ledger.acknowledge("n2", b"x")
    monkeypatch.delenv("DRILL_LOAD_OUT")
    ledger.acknowledge("n3", b"x")
    assert [a.id for a in read_ledger(first.glob("ledger-*.csv"))] == ["n1"]
    assert [a.id for a in read_ledger(second.glob("ledger-*.csv"))] == ["n2"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b"]


@pytest.mark.parametrize("call, phrase", [
    (lambda: ledger.acknowledge("", b"x"), "non-empty string"),
    (lambda: ledger.acknowledge("a\nb", b"x"), "one line"),
    (lambda: ledger.acknowledge(7, b"x"), "non-empty string"),  # type: ignore[arg-type]
    (lambda: ledger.acknowledge("a", b"x", sha256="a" * 64, size=1), "not both"),
    (lambda: ledger.acknowledge("a", sha256="xyz", size=1), "64 hex digits"),
    (lambda: ledger.acknowledge("a", sha256="a" * 64), "give the size"),
    (lambda: ledger.acknowledge("a", {"k": 1}), "bytes or str"),  # type: ignore[arg-type]
])
def test_a_wrong_acknowledgement_says_what_is_wrong(call: object, phrase: str) -> None:
    with pytest.raises((ValueError, TypeError), match=phrase):
        call()  # type: ignore[operator]


def options(**given: object) -> dict[str, object]:
    """`drill load`'s options as click gives them, with `given` changed."""
    return {"locustfile": None, "mix": "", "service": None, "port": None, "probe_path": None,
            "probe_method": "GET", "probe_status": "2xx", "probe_body": None,
            "prober_rate": 10.0, "probe_timeout": 1.0, "read_back_path": None,
            "read_back_status": "200", "compare": "sha256",
            "published": {"web": ["80/tcp"]}} | given


def test_drill_loads_options_make_the_traffic_a_scenario_would() -> None:
    from chaos.cli.load import traffic_from_options

    notes = ROOT / "examples" / "notes" / "locustfile.py"
    traffic = traffic_from_options(False, **options(  # type: ignore[arg-type]
        locustfile=notes, mix="Writer=1", probe_path="/health", probe_status="200,204",
        probe_body="ok", read_back_path="/notes/{id}", compare="status", service="web"))
    assert traffic.locustfile == notes and traffic.mix == Mix.parse("Writer=1")
    assert (traffic.probe.path, traffic.probe.expect_body) == ("/health", "ok")
    assert 204 in traffic.probe.expect_status and 201 not in traffic.probe.expect_status
    assert traffic.read_back == ReadBackSpec("/notes/{id}", StatusMatch.parse(["200"]), "status")
    assert traffic.load_target == traffic.probe_target == Target("web")
    bundled = traffic_from_options(True, **options())  # type: ignore[arg-type]
    assert (bundled.locustfile, bundled.probe.path) == (HOSTING, "/healthz")
    assert bundled.read_back == ReadBackSpec()


@pytest.mark.parametrize("given, phrase", [
    ({"mix": "browse_static=1"}, "--mix 'browse_static=1': unknown User class 'browse_static'"),
    ({"probe_status": "2xy"}, "--probe-status '2xy'"),
    ({"probe_path": "health"}, "--probe-path 'health': 'health' is not a URL path"),
    ({"read_back_path": "/notes"}, "'/notes': write the path with `{id}`"),
    ({"read_back_status": "404"}, "give --read-back PATH too"),
    ({"read_back_path": "/n/{id}", "read_back_status": "404"}, "below 400"),
    ({"port": "80"}, "--port is a port of --service"),
    ({"headers": ("Host shop.example",)}, "write it as 'NAME: VALUE'"),
    ({"headers": ("Bad Name: x",)}, "'Bad Name' is not an HTTP header name"),
    ({"service": "db"}, "service 'db' publishes no port"),
    ({"locustfile": ROOT / "nowhere.py"}, "nowhere.py: no such file"),
])
def test_a_wrong_load_option_is_refused_naming_it(given: dict[str, object], phrase: str) -> None:
    from chaos.cli.load import traffic_from_options

    with pytest.raises(InputError) as refused:
        traffic_from_options(False, **options(**given))  # type: ignore[arg-type]
    assert phrase in refused.value.message
