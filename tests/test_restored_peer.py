"""A base restored from a backup gets again what it may have lost.

Found by the emulator (test_e2e: the CRM restored from a backup). A 1C base exchanges by
importing first and exporting second, so a restored CRM imports our newest message before it
writes its own: its next message carries a ReceivedNo as high as ever, and looking at that
ReceivedNo alone, nothing seemed lost. What is lost is what the CRM confirmed in the messages it
wrote after the backup, and those are the messages numbered from the one it now writes again.
"""

from __future__ import annotations

import datetime
import sqlite3

import pytest

from onecsync.state.reports import STUCK_AFTER_RUNS
from tests import factory as f

C1, C2 = f.ref(1), f.ref(2)


def crm(message_no: int, received_no: int, created: str) -> f.Msg:
    return f.Msg(sender=f.CRM, message_no=message_no, received_no=received_no, created=created)


def test_a_message_dated_before_the_one_accepted_last_is_skipped_whatever_its_number(sandbox):
    """R1 #1 at the numbers (the whole scene: test_e2e). A higher number dated earlier (past
    what a zone explains) is a file of a life a restore abandoned, or the base's clock set back:
    skipped, warned each run (the bound: test_restored_clock), no number moves. Its next
    message, dated later, carries what we did not confirm: nothing is lost."""
    sandbox.put("accounting", f.Msg(message_no=5, created="2026-11-20T10:00:00",
                                    objects=[f.counterparty(C1, "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    before = sandbox.numbers("accounting")
    sandbox.put("accounting", f.Msg(message_no=6, created="2026-11-20T08:59:59",
                                    objects=[f.counterparty(C2, "АО Василек")]))
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["accounting"]["received"]["duplicate"], err
    assert "is its message 6 dated 2026-11-20T08:59:59, 1 hour before its message 5 " \
           "accepted last" in err, err
    assert sandbox.numbers("accounting") == before
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1)]
    assert "skipped, 2 of 3 runs" in sandbox.run("run")[2]  # said again: it is not taken
    sandbox.put("accounting", f.Msg(message_no=7, created="2026-11-20T10:00:00",  # same second
                                    objects=[f.counterparty(C2, "АО Василек")]))
    code, report, err = sandbox.run("run")
    assert code == 0 and sandbox.numbers("accounting")[1] == 7, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1),
                                                  ("Справочник.Контрагенты", C2)]
    with sandbox.db() as c:  # taken: the count of skipped runs starts again
        assert c.execute("SELECT stale_since, stale_runs FROM peers WHERE name = 'accounting'"
                         ).fetchone() == (None, None)


def test_what_a_restored_base_confirmed_after_its_backup_is_sent_again(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(C1, "ООО Ромашка")]))
    sandbox.run("run")
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1)]
    sandbox.put("crm", crm(1, 1, "2026-11-20T10:00:00"))          # the CRM holds C1
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-20T10:05:00",
                                    objects=[f.counterparty(C2, "АО Василек")]))
    sandbox.run("run")
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C2)]
    sandbox.put("crm", crm(2, 2, "2026-11-20T11:00:00"))          # ... and C2
    sandbox.run("run")
    latest = sandbox.outgoing("crm")
    assert latest["objects"] == [] and sandbox.numbers("crm")[2] == 2
    # The CRM is restored to its backup taken after its message 1. Its next session imports
    # our latest message (which carries nothing) and writes its message 2 again, confirming it.
    sandbox.put("crm", crm(2, latest["message_no"], "2026-11-21T09:00:00"))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["received"]["restored"] is True
    # C2 was confirmed by the CRM's lost message 2: it goes again, and so does C1 (which the
    # backup holds, but onecsync cannot know that: see the next test).
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1),
                                                  ("Справочник.Контрагенты", C2)]


def test_after_two_restores_a_reused_number_says_nothing_about_what_the_base_holds(sandbox):
    """Found by the property test: the CRM is restored twice, to backups of two different
    lives. Its message 1 of one life confirmed C1, its message 1 of the other did not."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(C1, "ООО Ромашка")]))
    sandbox.put("crm", crm(1, 0, "2026-11-20T10:00:00"))          # life A: nothing imported
    sandbox.run("run")                                            # (a backup B2 is taken here)
    sandbox.put("crm", crm(1, 1, "2026-11-20T11:00:00"))          # restored to B1: life B
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["restored"] is True, err
    for n in (2, 3):                                              # life B goes on, confirming
        sandbox.put("crm", crm(n, sandbox.numbers("crm")[0], f"2026-11-20T1{n}:00:00"))
        sandbox.run("run")
    assert sandbox.outgoing("crm")["objects"] == []               # C1 is confirmed
    # Restored again, to B2 (life A, after its message 1, without C1): message 2 again.
    sandbox.put("crm", crm(2, sandbox.numbers("crm")[0], "2026-11-21T09:00:00"))
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["restored"] is True, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1)]


def test_what_goes_again_to_a_restored_base_is_not_stuck_at_once(sandbox):
    """Found by the property test's long run: the objects a restored base lost went again with
    their first registration's time, so `reconcile` called them stuck (exit 9) the moment they
    were sent again, if the base had confirmed them long enough ago."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(C1, "ООО Ромашка")]))
    sandbox.run("run")
    sandbox.put("crm", crm(1, 1, "2026-11-20T10:00:00"))          # the CRM holds C1
    sandbox.run("run")
    # Long ago, as far as the journal goes: C1 was registered, then many runs passed.
    with sqlite3.connect(sandbox.state_path) as c:
        c.execute("UPDATE registrations SET registered_at = '2000-01-01T00:00:00+00:00'")
        c.executemany("INSERT INTO runs (command, started_at, ended_at, exit_code) VALUES "
                      "('run', '2001-01-01T00:00:00+00:00', '2001-01-01T00:00:01+00:00', 0)",
                      [()] * STUCK_AFTER_RUNS)
    latest = sandbox.outgoing("crm")
    sandbox.put("crm", crm(1, latest["message_no"], "2026-11-21T09:00:00"))  # restored
    code, report, err = sandbox.run("run")
    assert report["peers"]["crm"]["received"]["restored"] is True
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1)]
    assert (code, report["drift"]) == (0, []), err


def _restored_after(sandbox, first: str, again: str) -> bool:
    """CRM message 1 dated `first` accepted, then the CRM restored writes message 1 again dated
    `again` (a newer file): is it taken as a restore (accepted), not skipped?"""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(C1, "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    sandbox.put("crm", crm(1, 1, first))
    assert sandbox.run("run")[0] == 0
    sandbox.put("crm", crm(1, 1, again))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    return report["peers"]["crm"]["received"].get("restored") is True


@pytest.mark.parametrize("first, again", [
    ("10000-01-01T00:00:00", "10000-01-01T00:00:01"),   # years past 9999 are xs:dateTime
    ("2026-11-20T24:00:00", "2026-11-21T00:00:01"),     # 24:00:00 is the next day's midnight
    ("2026-11-20T12:00:00+03:00", "2026-11-20T09:30:00"),  # 09:00 UTC, then 09:30 UTC
    ("2026-11-20T09:00:00", "2026-11-20T08:30:00-01:00"),
])
def test_a_restore_is_recognised_whatever_the_form_of_the_dates(sandbox, first, again):
    assert _restored_after(sandbox, first, again)


def test_a_later_message_in_another_zone_is_not_taken_for_a_restore(sandbox):
    # 12:00+03:00 is 09:00 UTC: the same moment as the first, a file delivered twice.
    assert not _restored_after(sandbox, "2026-11-20T09:00:00", "2026-11-20T12:00:00+03:00")


def test_a_message_dated_in_the_future_is_no_reference_for_a_restore_later(sandbox):
    """A base whose clock once ran years ahead: its date is not kept as the reference (a warning
    says so), so when that base is restored later its new message is still recognised."""
    soon = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1))
    assert _restored_after(sandbox, "9999-12-31T23:59:59", soon.strftime("%Y-%m-%dT%H:%M:%S"))
    with sandbox.db() as c:
        kept = c.execute("SELECT received_created FROM peers WHERE name = 'crm'").fetchone()[0]
    assert kept.startswith(soon.strftime("%Y-")), kept


def test_a_date_ahead_of_our_clock_is_one_warning_naming_it(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(C1, "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    sandbox.put("crm", crm(1, 1, "9999-12-31T23:59:59"))
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert "crm: its message is dated 9999-12-31T23:59:59, ahead of this host's clock" in err, err


# -- what goes again is what the other base holds now (found by test_convergence, long profile) --
def _invoice_changed_in(world, name: str, delete: bool):
    """A CRM invoice, then changed in base `name` (its comment, or its deletion), the change
    taken to the other base; then `name` backed up. Returns the Ref in `name`, the text."""
    from tests.emulator.users import INVOICE
    from tests.test_e2e_scenario import start

    users, _ = start(world)
    inv = users.add_order(INVOICE)
    world.settle(2)
    r = inv if name == "crm" else world.copy_in("accounting", inv).ref
    base = world.bases[name]
    text = None
    if delete:
        base.mark_deleted(r)
        base.delete(r)
    else:
        text = (users.edit_order if name == "crm" else users.edit_in_accounting)(r)
    world.settle(3)
    return r, text


@pytest.mark.parametrize("name", ["accounting", "crm"])
@pytest.mark.parametrize("delete", [False, True], ids=["edit", "deletion"])
def test_a_base_restored_to_after_its_own_change_is_not_sent_our_older_version(world, name, delete):
    """Restored to a backup of after its user changed (or deleted) an invoice, which reached the
    other base: everything goes to it again, as the other base holds it now (the change), not
    the version we registered for it before the change. That version undid the change in the
    restored base alone: the bases differed for good, and a deleted invoice came back to life."""
    from tests.emulator.world import assert_converged

    r, text = _invoice_changed_in(world, name, delete)
    base = world.bases[name]
    backup = base.backup()
    world.settle(2)
    base.restore(backup)
    world.settle(4)
    assert any("restored from a backup" in run.stderr for run in world.runs[-4:])
    if delete:
        assert r not in base.store.objects
    else:
        assert base.get(r).fields["Комментарий"] == text
    assert_converged(world)
