"""A copy keeps the judgement of the last version only when 1C sends that version again
(onecsync/state/inbox.py, `_RESENT`): a new version whose bytes equal an older one of the same
base (ping-pong X → Y → X, a change that lost a crossing made again) is judged again and reaches
the other base. Review 7 #1.

Between the emulated bases (tests/emulator), onecsync run in-process.
"""

from __future__ import annotations

import pytest

from tests.emulator import data as d
from tests.emulator.users import Users
from tests.emulator.world import World
from tests.emulator.world import assert_converged

INVOICE = "Документ.СчетПокупателю"


def an_invoice(world: World):
    """A CRM invoice in both bases: (users, its Ref in the CRM)."""
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    inv = users.add_order(INVOICE)
    world.settle(2)
    return users, inv


def comments(world: World, inv) -> tuple[str | None, str | None]:
    """(the CRM's Комментарий, accounting's)."""
    return (world.crm.get(inv).fields.get("Комментарий"),
            world.copy_in("accounting", inv).fields.get("Комментарий"))


@pytest.mark.parametrize("first", ["crm", "accounting"])
def test_ping_pong_x_y_x_reaches_the_other_base(world, first):
    _, inv = an_invoice(world)

    def set_(side: str, text: str) -> None:
        if side == "crm":
            world.crm.edit(inv, Комментарий=text)
        else:
            world.acc.edit(world.copy_in("accounting", inv).ref, Комментарий=text)

    other = "accounting" if first == "crm" else "crm"
    set_(first, "X")
    world.settle(3)
    set_(other, "Y")
    world.settle(3)
    assert comments(world, inv) == ("Y", "Y")

    set_(first, "X")  # byte for byte the last version `first` sent
    world.settle(3)

    assert comments(world, inv) == ("X", "X")
    assert [r.code for r in world.runs] == [0] * len(world.runs)
    assert_converged(world)


@pytest.mark.parametrize("mode", ["delete", "edit"])
def test_a_change_that_lost_a_crossing_made_again_reaches_the_crm(world, mode):
    users, inv = an_invoice(world)

    def accountant() -> None:
        ref = world.copy_in("accounting", inv).ref
        if mode == "delete":
            world.acc.mark_deleted(ref)
            world.acc.delete(ref)
        else:
            world.acc.edit(ref, Комментарий="Бухгалтерия: X")

    accountant()
    users.edit_order(inv)  # in the same cycle: the CRM's version wins the crossing
    world.settle(4)
    assert world.copies("accounting", inv), "accounting imports the CRM's version again"

    accountant()  # the very same deletion notice / copy as the one that lost
    world.settle(4)

    if mode == "delete":
        assert world.crm.get(inv).deletion_mark
        assert not world.copies("accounting", inv)
    else:
        assert comments(world, inv) == ("Бухгалтерия: X",) * 2
    assert_converged(world)


def test_a_version_set_aside_keeps_its_reason_when_it_is_sent_again(world):
    """The CRM's version that lost a crossing, exported again before the CRM imports the winner:
    still set aside, and still saying why (not a plain "ignored", which a later change of the
    flows' types would take for a row set aside for want of a flow, and send)."""
    _, inv = an_invoice(world)
    world.acc.edit(world.copy_in("accounting", inv).ref, Комментарий="A: бухгалтер")
    world.exchange("accounting")
    assert world.run().code == 0  # routed to the CRM, which has not read it yet
    world.crm.edit(inv, Комментарий="C: менеджер")
    for _ in range(2):  # exported twice by CRM sessions that do not receive
        world.exchange("crm", receive=False)
        assert world.run().code == 0

    rows = world.db().execute("SELECT status, reason FROM inbox WHERE peer = 'crm' AND ref = ?",
                              (inv.id.lower(),)).fetchall()
    assert rows == [("ignored", "superseded: the accounting base's version is on its way to "
                                "the crm base")]
    world.settle(3)
    assert comments(world, inv) == ("A: бухгалтер",) * 2
    assert_converged(world)
