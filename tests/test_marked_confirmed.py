"""The state says the CRM holds a deletion mark only once the CRM confirmed the deletion
(review R1 #8): a withdrawal the CRM never imported, replaced by a version before it did, left
`marked` set, so status counted the copy "marked" and reconcile looked for a mark 1C never set.

Between two emulated bases (tests/emulator); the CRM simply does not exchange for a while.
"""

from __future__ import annotations

import sqlite3

import pytest

from tests import factory as f
from tests.emulator.users import BANK
from tests.emulator.world import assert_converged
from tests.test_withdrawn import crm_backlog
from tests.test_withdrawn import deleted_in_crm
from tests.test_withdrawn import paid_in_crm
from tests.test_withdrawn import reassign
from tests.test_withdrawn import settle_quietly


def without_the_crm(world, runs: int = 2) -> None:
    """Accounting exchanges and onecsync runs, `runs` times: the CRM reads nothing of ours."""
    for _ in range(runs):
        world.exchange("accounting")
        run = world.run()
        assert run.code == 0, run.stderr


def as_0009_left_it(world) -> None:
    """The state as an onecsync before 0010 left it: `marked` set when a deletion is registered."""
    with sqlite3.connect(world.root / "state" / "onecsync.sqlite") as c:
        c.execute("UPDATE registrations SET marked = 1 WHERE kind = 'delete'")
        c.execute("DROP INDEX registrations_marked")
        c.execute("CREATE INDEX registrations_marked ON registrations (peer, kind) "
                  "WHERE marked IS NOT NULL")
        f.before_received_headers(c)  # 0011's, later still
        f.before_received_set(c)  # 0012's
        c.execute("DELETE FROM _sqlite_migrations WHERE name >= '0010'")
    c.close()


@pytest.mark.parametrize("upgraded", [False, True])
def test_a_withdrawal_the_crm_never_confirmed_is_not_taken_for_a_mark_once_replaced(world, upgraded):
    """`upgraded`: the withdrawal was registered by an onecsync before 0010, which marked it."""
    u, order, own, paid = paid_in_crm(world)
    reassign(world, paid, own)
    without_the_crm(world)  # the deletion is registered, written, and rerun unconfirmed
    if upgraded:
        as_0009_left_it(world)
    assert crm_backlog(world)["withdrawn"] == 1  # our deletion is on its way
    assert crm_backlog(world)["marked_again"] == 0
    reassign(world, paid, order)  # put back before the CRM read it
    without_the_crm(world, 1)
    settle_quietly(world)
    assert deleted_in_crm(world) == []  # the CRM never got the deletion
    assert not world.copy_in("crm", paid).deletion_mark
    assert crm_backlog(world)["withdrawn"] == 0
    assert crm_backlog(world)["marked_again"] == 0  # before: 1, a mark 1C never set
    assert_converged(world)


def test_a_withdrawal_the_crm_confirmed_stays_a_mark_after_the_version_that_replaces_it(world):
    """The other side of the rule: confirmed, the deletion is 1C's mark, whatever comes after."""
    u, order, own, paid = paid_in_crm(world)
    reassign(world, paid, own)
    without_the_crm(world, 1)
    assert crm_backlog(world)["marked_again"] == 0
    settle_quietly(world)  # the CRM imports the deletion and confirms it
    assert deleted_in_crm(world) == [("delete", BANK, paid.id)]
    reassign(world, paid, order)
    settle_quietly(world)
    assert world.copy_in("crm", paid).deletion_mark
    assert crm_backlog(world)["marked_again"] == 1


def test_a_withdrawal_a_restored_crm_lost_is_not_taken_for_a_mark(world):
    """The CRM confirmed the deletion, then went back to a backup from before it: what it
    confirmed since is void, the deletion with it. Replaced by a version before the CRM read
    it again, it left no mark there, and status claims none."""
    u, order, _, paid = paid_in_crm(world)
    saved = world.crm.backup()
    reassign(world, paid, None)
    settle_quietly(world)
    assert world.copy_in("crm", paid).deletion_mark  # imported and confirmed
    world.crm.restore(saved)
    world.exchange("crm")  # its first message after the restore
    reassign(world, paid, order)  # relinked before the CRM reads the deletion again
    without_the_crm(world, 1)  # the restore is seen: the deletion is unconfirmed again
    settle_quietly(world)
    crm_copy = world.copy_in("crm", paid)
    assert not crm_copy.deletion_mark
    assert crm_copy.fields["РасшифровкаПлатежа"][0]["Заказ"] == world.copy_in("crm", order).ref
    assert crm_backlog(world)["marked_again"] == 0  # before: 1, a mark the restore took back
    assert_converged(world)
