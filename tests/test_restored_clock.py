"""A base's dates and its lives: a restore with its clock behind, a clock set back (review R3).

R3 #1: a base restored from a backup while its clock is behind writes a number we took again,
dated before the message we accepted last. By the dates alone it was a file delivered twice:
skipped, exit 0, and what the base lost was never sent again. What tells them apart is the
header: a file delivered again is one we took (its number, CreationDate and ReceivedNo), a new
life says something else under that number (state/headers.py keeps what we took).

R3 #3: a base whose clock went back writes higher numbers dated before the last one we took.
Those look like files of a life a restore abandoned; skipped as such, the exchange stalled with
exit 0 until the dates passed. Now the run ends non-zero after a bound, naming the clock; a
zone written one way and then the other, or a DST fall-back in zone-less local time, is no
alarm at all.
"""

from __future__ import annotations

import datetime
import sqlite3

import pytest

from onecsync import clock
from onecsync.protocol.dating import STALE_RUNS
from tests import factory as f
from tests.emulator.world import assert_converged
from tests.test_e2e import crm_copy
from tests.test_e2e import crm_restored

C1, C2, C3 = f.ref(1), f.ref(2), f.ref(3)
DAY = datetime.timedelta(days=1)


def crm(message_no: int, received_no: int, created: str, objects=()) -> f.Msg:
    return f.Msg(sender=f.CRM, message_no=message_no, received_no=received_no, created=created,
                 objects=list(objects))


def acc(message_no: int, created: str, *objects, received_no: int = 0) -> f.Msg:
    return f.Msg(message_no=message_no, received_no=received_no, created=created,
                 objects=list(objects))


def behind(world, base, by: datetime.timedelta) -> None:
    """From now on `base` dates its messages `by` before the world's clock."""
    base._clock = lambda: world.tick() - by


# -- R3 #1: restored with its clock behind ------------------------------------------------------
def test_the_crm_restored_with_its_clock_behind_gets_again_what_it_lost(world):
    """The whole scene: restored to a backup, its clock a day behind. Before, its new messages
    were all skipped (the first as received earlier, the next ones as stale) and what it lost
    was never sent again."""
    s, _ = crm_restored(world)
    behind(world, world.crm, DAY)
    world.settle(4)
    assert any("restored from a backup" in r.stderr for r in world.runs[-4:])
    assert_converged(world)
    assert crm_copy(world, s.vector).fields["Наименование"] == "Вектор-Р ООО"


def _crm_confirmed_two(sandbox) -> dict:
    """Accounting's C1 and C2 reached the CRM, which confirmed both (its messages 1 and 2)."""
    sandbox.put("accounting", acc(1, "2026-11-20T10:00:00", f.counterparty(C1, "ООО Ромашка")))
    sandbox.run("run")
    sandbox.put("crm", crm(1, 1, "2026-11-20T10:01:00"))
    sandbox.put("accounting", acc(2, "2026-11-20T10:05:00", f.counterparty(C2, "АО Василек"),
                                  received_no=1))
    sandbox.run("run")
    sandbox.put("crm", crm(2, 2, "2026-11-20T11:00:00"))
    assert sandbox.run("run")[0] == 0
    latest = sandbox.outgoing("crm")
    assert latest["objects"] == [] and sandbox.numbers("crm")[2] == 2
    return latest


def test_the_same_number_with_another_header_is_a_restore_whatever_its_date(sandbox):
    """Its message 2 again, dated an hour before the one we took, and confirming what that one
    confirmed: only the CreationDate differs. A new life, not the same file: C2 (and C1) again."""
    _crm_confirmed_two(sandbox)
    sandbox.put("crm", crm(2, 2, "2026-11-20T10:00:00"))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["received"]["restored"] is True, err
    assert "restored from a backup?" in err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1),
                                                  ("Справочник.Контрагенты", C2)]


def test_the_same_number_confirming_more_is_a_restore_whatever_its_date(sandbox):
    latest = _crm_confirmed_two(sandbox)
    sandbox.put("crm", crm(2, latest["message_no"], "2026-11-19T11:00:00"))  # a day behind
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["restored"] is True, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1),
                                                  ("Справочник.Контрагенты", C2)]


def test_a_number_we_never_saw_dated_outside_its_neighbours_is_a_restore(sandbox):
    """We took its 1 and 3 (its 2 was overwritten before we looked): a 2 dated before its 1 is
    no file of that life; one dated between them is (skipped, as 1C skips it)."""
    sandbox.put("accounting", acc(1, "2026-11-20T10:00:00", f.counterparty(C1, "ООО Ромашка")))
    sandbox.run("run")
    sandbox.put("crm", crm(1, 1, "2026-11-20T10:00:00"))
    sandbox.run("run")
    sandbox.put("crm", crm(3, 1, "2026-11-20T12:00:00"))
    sandbox.run("run")
    sandbox.put("crm", crm(2, 1, "2026-11-20T11:00:00"))          # the one we missed: old news
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["duplicate"], err
    assert "restored" not in err and sandbox.numbers("crm")[1] == 3
    sandbox.put("crm", crm(2, 1, "2026-11-20T08:30:00"))          # before its 1: a new life
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["restored"] is True, err
    assert sandbox.numbers("crm")[1] == 2


def test_a_file_we_took_delivered_again_is_still_a_duplicate(sandbox):
    """The same header again (another file: another mtime, another spelling of the same moment)
    is the message we took: skipped, exit 0, no number moves, nothing sent again."""
    _crm_confirmed_two(sandbox)
    before = sandbox.numbers("crm")
    for created in ("2026-11-20T11:00:00", "2026-11-20T14:00:00+03:00"):
        sandbox.put("crm", crm(2, 2, created))
        code, report, err = sandbox.run("run")
        assert code == 0 and report["peers"]["crm"]["received"]["duplicate"], err
        assert "restored" not in err and "WARNING" not in err.upper(), err
        assert sandbox.numbers("crm") == before
        assert sandbox.outgoing("crm")["objects"] == []


def test_a_file_of_the_abandoned_life_is_skipped_once_warned_and_no_alarm(sandbox):
    """After a restore, a file of the life it left, which we took then, turns up again: it is
    one we have seen, so it is a stale file for certain (warned once), not the clock."""
    _crm_confirmed_two(sandbox)
    sandbox.put("crm", crm(3, 2, "2026-11-20T12:00:00"))
    sandbox.run("run")
    sandbox.put("crm", crm(2, 3, "2026-11-21T09:00:00"))          # restored: a new life
    assert sandbox.run("run")[1]["peers"]["crm"]["received"]["restored"] is True
    sandbox.put("crm", crm(3, 2, "2026-11-20T12:00:00"))          # the old life's 3 again
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["duplicate"], err
    assert "which we took before the base was restored from a backup: a file of the life the " \
           "restore abandoned, delivered again" in err, err
    for _ in range(STALE_RUNS + 1):
        code, _, err = sandbox.run("run")
        assert code == 0 and "clock" not in err, err
    assert sandbox.numbers("crm")[1] == 2


# -- R3 #3: a clock set back ------------------------------------------------------------------
def test_a_clock_set_back_a_day_ends_non_zero_after_the_bound_saying_so(sandbox):
    sandbox.put("accounting", acc(5, "2026-11-20T10:00:00", f.counterparty(C1, "ООО Ромашка")))
    assert sandbox.run("run")[0] == 0
    before = sandbox.numbers("accounting")
    sandbox.put("accounting", acc(6, "2026-11-19T10:00:00", f.counterparty(C2, "АО Василек")))
    for _ in range(STALE_RUNS):
        code, report, err = sandbox.run("run")
        assert code == 0 and report["peers"]["accounting"]["received"]["duplicate"], err
        assert "its clock went back?" in err, err
        assert sandbox.numbers("accounting") == before
    code, report, err = sandbox.run("run")
    assert code == 6, err
    assert ("accounting: its messages are dated before its message 5 accepted last "
            "(2026-11-20T10:00:00), by 1 day") in err, err
    assert "the clock of the 1C server went back" in err
    assert "onecsync state set-numbers accounting --received 5" in err
    assert "error" not in report["peers"]["crm"]["sent"]      # the exchange with the CRM goes on
    assert "error" not in report["peers"]["accounting"]["sent"]  # ... and ours to accounting
    # The admin decides it was the clock: the reference date is forgotten, message 6 taken.
    code, _, err = sandbox.run("state", "set-numbers", "accounting", "--received", "5", "--yes")
    assert code == 0, err
    code, report, err = sandbox.run("run")
    assert code == 0 and sandbox.numbers("accounting")[1] == 6, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1),
                                                  ("Справочник.Контрагенты", C2)]


def test_an_hour_of_skipping_is_the_bound_too(sandbox):
    start = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=datetime.timezone.utc)
    sandbox.put("accounting", acc(5, "2026-12-07T09:00:00", f.counterparty(C1, "ООО Ромашка")))
    with clock.frozen(start):
        assert sandbox.run("run")[0] == 0
        sandbox.put("accounting", acc(6, "2026-12-06T09:00:00"))
        assert sandbox.run("run")[0] == 0
    with clock.frozen(start + datetime.timedelta(minutes=59)):
        assert sandbox.run("run")[0] == 0
    with clock.frozen(start + datetime.timedelta(minutes=61)):
        code, _, err = sandbox.run("run")
    assert code == 6 and "the clock of the 1C server went back" in err, err


def test_a_clock_back_a_day_in_the_emulator_is_said_and_not_silent(world):
    s = world.seed()
    behind(world, world.acc, DAY)
    world.acc.edit(s.stroy, ОКПО="60258391")
    runs = [world.round() for _ in range(STALE_RUNS + 1)]
    assert [r.code for r in runs[:STALE_RUNS]] == [0] * STALE_RUNS, runs[-1].stderr
    assert runs[-1].code == 6 and "the clock of the 1C server went back" in runs[-1].stderr
    world.acc._clock = world.tick                     # the admin sets the clock right
    world.settle(3)
    assert_converged(world)
    assert crm_copy(world, s.stroy).fields["ОКПО"] == "60258391"


@pytest.mark.parametrize("first, then", [
    ("2026-12-07T10:00:00", "2026-12-07T10:05:00+03:00"),   # 07:05 UTC: the zone now written
    ("2026-12-07T10:00:00+03:00", "2026-12-07T07:30:00"),   # ... and left out again
    ("2026-10-25T02:50:00", "2026-10-25T02:10:00"),         # local time without a zone, DST ends
])
def test_zones_written_one_way_then_the_other_are_no_alarm(sandbox, first, then):
    sandbox.put("accounting", acc(5, first, f.counterparty(C1, "ООО Ромашка")))
    assert sandbox.run("run")[0] == 0
    sandbox.put("accounting", acc(6, then, f.counterparty(C2, "АО Василек")))
    code, report, err = sandbox.run("run")
    assert code == 0 and sandbox.numbers("accounting")[1] == 6, err
    assert "clock" not in err and "restored" not in err, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1),
                                                  ("Справочник.Контрагенты", C2)]


def test_a_zone_less_date_hours_before_a_zoned_one_still_is_a_clock_gone_back(sandbox):
    """The bound of a zone mismatch is 14 hours (the widest offset): a day is past it."""
    sandbox.put("accounting", acc(5, "2026-12-07T10:00:00+03:00", f.counterparty(C1, "ООО")))
    assert sandbox.run("run")[0] == 0
    sandbox.put("accounting", acc(6, "2026-12-06T10:00:00"))
    code, _, err = sandbox.run("run")
    assert code == 0 and "its clock went back?" in err, err


@pytest.mark.parametrize("again, restored", [("2026-11-20T10:00:00", True),
                                             ("2026-11-20T11:00:00", False)])
def test_a_state_from_before_the_headers_knows_the_last_one_it_took(sandbox, again, restored):
    """Migration 0011 enters the one header an older state knows (its ReceivedNo unknown): the
    CRM restored just after the upgrade is seen, its message taken last, again, is not."""
    _crm_confirmed_two(sandbox)
    with sqlite3.connect(sandbox.state_path) as c:
        f.before_received_headers(c)
        f.before_received_set(c)  # 0012's
        c.execute("DELETE FROM _sqlite_migrations WHERE name >= '0011_received_headers'")
    c.close()
    sandbox.put("crm", crm(2, 2, again))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert bool(report["peers"]["crm"]["received"].get("restored")) is restored, err
    with sandbox.db() as c:
        assert c.execute("SELECT message_no, received_no FROM received_headers WHERE peer = 'crm' "
                         "AND abandoned = 0 ORDER BY id").fetchall() == \
            ([(2, 2)] if restored else [(2, None)])  # the left life's: abandoned


def test_status_and_check_read_a_state_from_before_the_headers_without_migrating_it(sandbox):
    """`status` and `check` open the state read-only and never migrate it: an older onecsync's
    state, without 0011's peer columns, is read with them at their defaults (it was exit 1)."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    with sqlite3.connect(sandbox.state_path) as c:
        f.before_received_headers(c)
        f.before_received_set(c)  # 0012's
        c.execute("DELETE FROM _sqlite_migrations WHERE name >= '0011'")
    c.close()
    for command in ("status", "check"):
        code, _, err = sandbox.run(command)
        assert code == 0, (command, err)
    with sqlite3.connect(sandbox.state_path) as c:
        assert "received_headers" not in {r[0] for r in c.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
    c.close()
    assert sandbox.run("run")[0] == 0  # and the next run migrates it


def test_a_stall_ends_with_its_file(sandbox):
    """Review R5 L1: an early-dated file skipped once, then gone; days later another one is
    a new stall, counted from its own first run (not exit 6 at once, 'skipped since 3 days')."""
    now = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.timezone.utc)
    with clock.frozen(now):
        sandbox.put("accounting", acc(5, "2026-11-20T10:00:00", f.counterparty(C1, "ООО Ромашка")))
        assert sandbox.run("run")[0] == 0
        sandbox.put("accounting", acc(6, "2026-11-19T10:00:00"))
        code, _, err = sandbox.run("run")
        assert code == 0 and "its clock went back?" in err, err
        sandbox.incoming("accounting").unlink()
        assert sandbox.run("run")[0] == 0
    with clock.frozen(now + datetime.timedelta(days=3)):
        sandbox.put("accounting", acc(7, "2026-11-19T12:00:00"))
        code, _, err = sandbox.run("run")
        assert code == 0 and f"skipped, 1 of {STALE_RUNS} runs" in err, err
        for _ in range(STALE_RUNS):  # the new stall is not silent either
            code, _, err = sandbox.run("run")
        assert code == 6 and "the clock of the 1C server went back" in err, err
