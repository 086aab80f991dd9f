"""Replication maths without Docker: lags, split brain, who fails back to whom."""

from __future__ import annotations

import pytest

from chaos.errors import InputError, StackError
from chaos.stack.failover import choose_roles, lsn_bytes
from chaos.stack.replication import ReplicationStatus, ServerReplication, compute_lags, render

NOW = 1_000_000.0


def primary(name: str = "server-a", wal: float = 5000, timeline: int = 1, **extra: object
            ) -> ServerReplication:
    return ServerReplication.from_json(name, {
        "role": "primary", "timeline": timeline, "wal": {"current_bytes": wal},
        "replicas": [{"name": "server-b", "replay_lag_seconds": 0.25}],
        "last_upload": {"id": "u9", "created_at": NOW - 1, "on_disk": True}, **extra})


def standby(name: str = "server-b", upstream: str = "server-a", wal: float = 4000,
            receiver: str = "streaming") -> ServerReplication:
    return ServerReplication.from_json(name, {
        "role": "standby", "timeline": 1, "upstream": upstream,
        "wal": {"replay_bytes": wal, "receiver_status": receiver},
        "last_upload_on_disk": {"id": "u7", "created_at": NOW - 3, "on_disk": True},
        "agent": {"last_good_pass": {"started_at": NOW - 0.5}}})


def down(name: str) -> ServerReplication:
    return ServerReplication(name, reachable=False, role=None, error="not running")


def test_lag_is_the_wal_not_replayed_and_the_primarys_replay_lag() -> None:
    [lag] = compute_lags([primary(), standby()], NOW)
    assert (lag.standby, lag.primary) == ("server-b", "server-a")
    assert lag.lag_bytes == 1000
    assert lag.lag_seconds == 0.25
    assert lag.file_lag_seconds == pytest.approx(0.5)
    assert lag.streaming
    assert lag.last_replicated_upload is not None and lag.last_replicated_upload.id == "u7"


def test_a_caught_up_standby_has_no_lag_even_when_postgres_reports_none() -> None:
    a = ServerReplication.from_json("server-a", {"role": "primary", "wal": {"current_bytes": 4000},
                                                 "replicas": [{"name": "server-b",
                                                               "replay_lag_seconds": None}]})
    [lag] = compute_lags([a, standby(wal=4000)], NOW)
    assert (lag.lag_bytes, lag.lag_seconds) == (0, 0.0)


def test_a_standby_whose_primary_is_gone_has_unknown_lag() -> None:
    [lag] = compute_lags([down("server-a"), standby(receiver="not running")], NOW)
    assert lag.lag_bytes is None and lag.lag_seconds is None and not lag.streaming


def test_two_primaries_are_a_split_brain_said_loudly() -> None:
    status = ReplicationStatus(NOW, [primary(), primary("server-b", timeline=2)])
    assert status.split_brain and status.primaries == ["server-a", "server-b"]
    assert any(line.startswith("SPLIT BRAIN: 2 primaries") for line in render(status))
    assert not ReplicationStatus(NOW, [primary(), standby()]).split_brain


def test_failback_picks_the_stale_primary_to_follow_the_newest() -> None:
    status = ReplicationStatus(NOW, [primary(), primary("server-b", timeline=2)])
    assert choose_roles(status, None, None) == ("server-a", "server-b")


def test_failback_with_one_primary_turns_the_other_server() -> None:
    status = ReplicationStatus(NOW, [ServerReplication("server-a", True, None, error="db down"),
                                     primary("server-b", timeline=2)])
    assert choose_roles(status, None, None) == ("server-a", "server-b")


def test_failback_refuses_what_cannot_be_done() -> None:
    normal = ReplicationStatus(NOW, [primary(), standby()])
    with pytest.raises(InputError, match="already follows"):
        choose_roles(normal, None, None)
    with pytest.raises(InputError, match="not a primary"):
        choose_roles(normal, None, "server-b")
    with pytest.raises(StackError, match="no server answers as the primary"):
        choose_roles(ReplicationStatus(NOW, [standby(), down("server-a")]), None, None)
    gone = ReplicationStatus(NOW, [down("server-a"), primary("server-b", timeline=2)])
    with pytest.raises(StackError, match="not running"):
        choose_roles(gone, None, None)


@pytest.mark.parametrize(("lsn", "value"), [("0/0", 0), ("0/3009708", 0x3009708),
                                            ("1/10", (1 << 32) + 16)])
def test_lsn_bytes(lsn: str, value: int) -> None:
    assert lsn_bytes(lsn) == value
