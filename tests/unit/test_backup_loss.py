"""Data loss against the restored backup: exactly the uploads it could not hold, no more, no less."""

from __future__ import annotations

import pytest

from chaos.measure.backup_loss import BackupMatch, match_backup
from chaos.measure.loss import ReadBack, assess_loss
from chaos.measure.summary import measure
from chaos.records import Ack
from chaos.scenario.model import Objectives
from chaos.scenario.objectives import ObjectiveResult, evaluate

TAKEN, RESTORED = 1005.0, 1010.0
#: u1 before the backup began, u2 and u3 after it (before the restore's reboot), u4 after that.
ACKS = [Ack("u1", "h1", 1, 1001.0), Ack("u2", "h2", 1, 1006.0), Ack("u3", "h3", 1, 1007.0),
        Ack("u4", "h4", 1, 1012.0)]
INTACT, GONE, NO_ANSWER = "intact", "missing", "unreadable"


def reads(**verdicts: str) -> dict[str, ReadBack]:
    sha = {a.id: a.sha256 for a in ACKS}
    given = {"intact": lambda i: ReadBack(200, sha[i]), "missing": lambda i: ReadBack(404, None),
             "corrupt": lambda i: ReadBack(200, "other"), "unreadable": lambda i: ReadBack(503, None)}
    return {i: given[v](i) for i, v in verdicts.items()}


def compare(held: set[str], **verdicts: str):  # type: ignore[no-untyped-def]
    loss = assess_loss(ACKS, reads(**verdicts))
    return match_backup(ACKS, loss, held, backup="b-1", taken_at=TAKEN, restored_at=RESTORED)


def test_losing_exactly_what_came_after_the_backup_is_exact() -> None:
    match = compare({"u1"}, u1=INTACT, u2=GONE, u3="corrupt", u4=INTACT)
    assert match.exact and match.expected_lost == ("u2", "u3")
    assert match.lost_unexpectedly == match.not_lost == match.unverified == match.missed_by_backup == ()


def test_an_upload_the_backup_held_lost_all_the_same_is_not_exact() -> None:
    match = compare({"u1"}, u1=GONE, u2=GONE, u3=GONE, u4=INTACT)
    assert not match.exact and match.lost_unexpectedly == ("u1",)


def test_an_upload_written_after_the_restore_and_lost_is_not_exact() -> None:
    match = compare({"u1"}, u1=INTACT, u2=GONE, u3=GONE, u4=GONE)
    assert not match.exact and match.lost_unexpectedly == ("u4",) and match.expected_lost == ("u2", "u3")


def test_an_upload_after_the_backup_that_survived_is_not_exact() -> None:
    # The restore did not bring back the backup it named: the drill did not show the story.
    match = compare({"u1"}, u1=INTACT, u2=GONE, u3=INTACT, u4=INTACT)
    assert not match.exact and match.not_lost == ("u3",) and match.lost_unexpectedly == ()


def test_an_expected_loss_without_an_answer_is_not_shown() -> None:
    match = compare({"u1"}, u1=INTACT, u2=GONE, u3=NO_ANSWER, u4=INTACT)
    assert not match.exact and match.not_lost == ("u3",) and match.unverified == ()


def test_a_kept_upload_without_an_answer_is_unverified() -> None:
    match = compare({"u1"}, u1=NO_ANSWER, u2=GONE, u3=GONE, u4=INTACT)
    assert not match.exact and match.unverified == ("u1",) and match.lost_unexpectedly == ()


def test_a_backup_that_missed_an_older_upload_is_caught_even_when_the_loss_matches_it() -> None:
    # Reading back agrees with the backup, but the backup itself lacks u1, acknowledged before
    # it began: a broken backup, not the story's loss.
    match = compare(set(), u1=GONE, u2=GONE, u3=GONE, u4=INTACT)
    assert match.expected_lost == ("u1", "u2", "u3") and match.missed_by_backup == ("u1",)
    assert not match.exact


@pytest.mark.parametrize("at, expected", [(TAKEN, ()), (TAKEN - 0.001, ("u0",))])
def test_the_backups_start_is_its_boundary(at: float, expected: tuple[str, ...]) -> None:
    acks = [Ack("u0", "h0", 1, at)]
    loss = assess_loss(acks, {"u0": ReadBack(404, None)})
    match = match_backup(acks, loss, set(), backup="b", taken_at=TAKEN, restored_at=RESTORED)
    assert match.missed_by_backup == expected


@pytest.mark.parametrize("at, lost", [(RESTORED - 0.001, ("u0",)), (RESTORED, ())])
def test_the_restores_reboot_is_the_other_boundary(at: float, lost: tuple[str, ...]) -> None:
    acks = [Ack("u0", "h0", 1, at)]
    loss = assess_loss(acks, {"u0": ReadBack(404, None)})
    match = match_backup(acks, loss, set(), backup="b", taken_at=TAKEN, restored_at=RESTORED)
    assert match.expected_lost == lost


def objective(restored: object, verdicts: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    measured = measure([], ACKS, 1000.0, 1020.0,
                       reads=None if verdicts is None else reads(**verdicts))
    [result] = evaluate(Objectives.model_validate({"lost_writes": "since-restored-backup"}),
                        measured, restored)  # type: ignore[arg-type]
    return result


def test_the_objective_fails_naming_what_differs() -> None:
    verdicts = {"u1": GONE, "u2": GONE, "u3": INTACT, "u4": INTACT}
    result = objective(compare({"u1"}, **verdicts), verdicts)
    assert not result.passed
    assert result.measured.startswith("2 lost, 2 expected from b-1: ")
    assert ("1 lost although the backup held them or they came after the restore's reboot (u1)"
            in result.measured)
    assert "1 acknowledged after the backup, yet not lost (u3)" in result.measured


LIMIT = "since-restored-backup"


def test_the_comparison_keeps_its_backup_and_times() -> None:
    match = compare({"u1"}, u1=INTACT, u2=GONE, u3=GONE, u4=INTACT)
    assert (match.backup, match.taken_at, match.restored_at) == ("b-1", TAKEN, RESTORED)


@pytest.mark.parametrize("restored, verdicts, expected", [
    (None, {"u1": INTACT}, ObjectiveResult("lost_writes", LIMIT, "no backup was restored", False)),
    ("no restore step brought a backup back", {"u1": INTACT},
     ObjectiveResult("lost_writes", LIMIT, "no restore step brought a backup back", False)),
    ("any", None, ObjectiveResult("lost_writes", LIMIT, "not verified", False)),
])
def test_each_way_of_not_showing_it_is_a_whole_failed_result(
        restored: str | None, verdicts: dict[str, str] | None, expected: ObjectiveResult) -> None:
    assert objective(restored, verdicts) == expected


def test_an_exact_loss_is_a_whole_passed_result() -> None:
    verdicts = {"u1": INTACT, "u2": GONE, "u3": GONE, "u4": INTACT}
    assert objective(compare({"u1"}, **verdicts), verdicts) == ObjectiveResult(
        "lost_writes", LIMIT, "2 lost: exactly the uploads acknowledged after b-1 began", True)


def test_every_kind_of_difference_is_listed_with_at_most_three_ids_each() -> None:
    differs = BackupMatch(backup="b-9", taken_at=TAKEN, restored_at=RESTORED,
                          expected_lost=("e1", "e2", "e3"),
                          lost_unexpectedly=("a", "b", "c", "d"), not_lost=("e", "f", "g"),
                          unverified=("h",), missed_by_backup=("i", "j"))
    verdicts = {"u1": GONE, "u2": GONE, "u3": INTACT, "u4": INTACT}
    assert objective(differs, verdicts) == ObjectiveResult(
        "lost_writes", LIMIT,
        "2 lost, 3 expected from b-9: "
        "4 lost although the backup held them or they came after the restore's reboot (a, b, c ...); "
        "3 acknowledged after the backup, yet not lost (e, f, g); "
        "1 without an answer on reading back (h); "
        "2 acknowledged before the backup began, yet not in it (i, j)", False)
