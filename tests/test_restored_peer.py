"""A base restored from a backup gets again what it may have lost.

Found by the emulator (test_e2e: the CRM restored from a backup). A 1C base exchanges by
importing first and exporting second, so a restored CRM imports our newest message before it
writes its own: its next message carries a ReceivedNo as high as ever, and looking at that
ReceivedNo alone, nothing seemed lost. What is lost is what the CRM confirmed in the messages it
wrote after the backup, and those are the messages numbered from the one it now writes again.
"""

from __future__ import annotations

import sqlite3

from onecsync.state.reports import STUCK_AFTER_RUNS
from tests import factory as f

C1, C2 = f.ref(1), f.ref(2)


def crm(message_no: int, received_no: int, created: str) -> f.Msg:
    return f.Msg(sender=f.CRM, message_no=message_no, received_no=received_no, created=created)


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
