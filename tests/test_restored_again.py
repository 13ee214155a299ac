"""A restore is sent everything again once, not each time a file says so (review R5).

R5 M3: every rewrite of a message number we hold, with another CreationDate, was a restore, and
a restore sends the base all it holds (on a big state, gigabytes): a 1 KB file from a hostile
writer, or a node number set back, sent it all again each time. Another restore before the base
confirmed the resend of the last one is held with exit 6 for the admin.
R5 M2: an older onecsync kept its own time as the date of a message dated over a day ahead;
migration 0011 entered it as the header's date, and the same file again read as a restore.
R5 L2: a base once 20 hours ahead and then set right stalled with exit 6: its ahead date was
kept as the reference.
"""

from __future__ import annotations

import datetime
import sqlite3

from onecsync import clock
from tests import factory as f
from tests.test_restored_clock import C1
from tests.test_restored_clock import C2
from tests.test_restored_clock import _crm_confirmed_two
from tests.test_restored_clock import acc
from tests.test_restored_clock import crm

NOW = datetime.datetime(2026, 11, 20, 12, 0, tzinfo=datetime.timezone.utc)
MINUTE = datetime.timedelta(minutes=1)


def _restored_once(sandbox) -> tuple[int, int, int]:
    _crm_confirmed_two(sandbox)
    sandbox.put("crm", crm(2, 2, "2026-11-20T10:00:00"))
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["restored"] is True, err
    return sandbox.numbers("crm")


def test_a_second_restore_soon_after_is_held_with_exit_6_each_run(sandbox):
    numbers = _restored_once(sandbox)
    sent = sandbox.outgoing("crm")
    for created in ("2026-11-20T10:01:00", "2026-11-20T10:02:00"):
        sandbox.put("crm", crm(2, 2, created))
        code, report, err = sandbox.run("run")
        assert code == 6, err
        assert "says the base was restored from a backup again" in err, err
        assert "onecsync state show" in err and "state set-numbers crm --received 1" in err
        assert not report["peers"]["crm"]["received"].get("restored"), err
        assert sandbox.numbers("crm") == numbers  # nothing taken, nothing sent again
        assert sandbox.outgoing("crm") == sent


def test_a_restore_after_the_resend_was_confirmed_is_taken(sandbox):
    """Restored twice within minutes, to two backups, is real (test_restored_peer's property
    case): once the base imported the first resend, the second is sent too."""
    _restored_once(sandbox)
    sent_no = sandbox.numbers("crm")[0]
    sandbox.put("crm", crm(3, sent_no, "2026-11-21T10:00:00"))  # confirms the resend
    assert sandbox.run("run")[0] == 0
    sandbox.put("crm", crm(3, sent_no, "2026-11-21T09:00:00"))  # restored again
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["received"]["restored"] is True, err
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Контрагенты", C1),
                                                  ("Справочник.Контрагенты", C2)]


def test_days_on_but_the_resend_unconfirmed_still_holds_it(sandbox):
    _restored_once(sandbox)
    with clock.frozen(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)):
        sandbox.put("crm", crm(2, 2, "2026-11-20T10:03:00"))
        code, _, err = sandbox.run("run")
    assert code == 6 and "restored from a backup again" in err, err


def _older_state_with_a_fast_crm(sandbox) -> None:
    """The CRM's message 1 dated 5 days ahead, taken by an onecsync before 0011, which kept its
    own time as the message's date (made so: the header table and later columns undone)."""
    with clock.frozen(NOW):
        sandbox.put("accounting", acc(1, "2026-11-20T10:00:00", f.counterparty(C1, "ООО Ромашка")))
        sandbox.run("run")
        sandbox.put("crm", crm(1, 1, "2026-11-25T10:01:00"))
        assert sandbox.run("run")[0] == 0
    with sqlite3.connect(sandbox.state_path) as c:
        f.before_received_headers(c)
        f.before_received_set(c)
        c.execute("DELETE FROM _sqlite_migrations WHERE name >= '0011_received_headers'")
        assert c.execute("SELECT received_created FROM peers WHERE name = 'crm'").fetchone() \
            == ("2026-11-20T12:00:00",)  # our time, as the older code left it
    c.close()


def test_the_fast_bases_message_again_after_the_upgrade_is_a_duplicate(sandbox):
    """Other bytes (the fingerprint does not know it), the same header: a duplicate, as 1C."""
    _older_state_with_a_fast_crm(sandbox)
    with clock.frozen(NOW + 10 * MINUTE):
        sandbox.put("crm", crm(1, 1, "2026-11-25T10:01:00", [f.counterparty(C2, "АО Василек")]))
        code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["received"].get("duplicate") is True, err
    assert not report["peers"]["crm"]["received"].get("restored"), err
    with sandbox.db() as c:
        assert c.execute("SELECT created FROM received_headers WHERE peer = 'crm'").fetchall() \
            == [("",)]  # 0013: its date not known


def test_a_seed_dated_apart_from_its_receipt_keeps_its_date(sandbox):
    """0013 forgets only a date our own clock wrote: a restore just after the upgrade is seen."""
    _crm_confirmed_two(sandbox)
    with sqlite3.connect(sandbox.state_path) as c:
        f.before_received_headers(c)
        f.before_received_set(c)
        c.execute("DELETE FROM _sqlite_migrations WHERE name >= '0011_received_headers'")
    c.close()
    sandbox.put("crm", crm(2, 2, "2026-11-20T10:00:00"))
    code, report, err = sandbox.run("run")
    assert code == 0 and report["peers"]["crm"]["received"]["restored"] is True, err


def test_the_bytes_of_the_file_judged_last_are_that_file_whatever_the_header_record(sandbox):
    """The same file touched again: its fingerprint's bytes are the last file's, so it is the
    duplicate it was, even where the recorded header would not say so."""
    _crm_confirmed_two(sandbox)
    with sqlite3.connect(sandbox.state_path) as c:
        c.execute("UPDATE received_headers SET created = '2026-01-01T00:00:00' WHERE "
                  "peer = 'crm' AND message_no = 2")
    c.close()
    sandbox.put("crm", crm(2, 2, "2026-11-20T11:00:00"))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["received"].get("duplicate") is True, err


def test_a_base_once_20_hours_ahead_then_set_right_does_not_stall(sandbox):
    with clock.frozen(NOW):
        sandbox.put("accounting", acc(5, "2026-11-21T08:00:00", f.counterparty(C1, "ООО Ромашка")))
        assert sandbox.run("run")[0] == 0
    for k in range(5):
        with clock.frozen(NOW + (5 * k + 5) * MINUTE):
            sandbox.put("accounting", acc(6 + k, f"2026-11-20T12:0{k}:00",
                                          f.counterparty(C2, f"АО {k}")))
            code, _, err = sandbox.run("run")
        assert code == 0, (k, err)
        assert sandbox.numbers("accounting")[1] == 6 + k, err
