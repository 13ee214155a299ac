"""What a base holds now is what echoes and resends decide by (onecsync/state/held.py): the newer
of the last copy it sent us and what we delivered to it, not merely the former.

Between the emulated bases (tests/emulator), onecsync run in-process: a change that makes an
invoice equal again to a version one base once sent (an undo, a correction back) reaches the
other base; a resend to accounting gives it back what the CRM holds; a version the other base
does hold is still not sent back to it.
"""

from __future__ import annotations

import json

from tests.emulator import data as d
from tests.emulator.users import Users
from tests.emulator.world import World
from tests.emulator.world import assert_converged

INVOICE = "Документ.СчетПокупателю"


def an_invoice(world: World, number: str):
    """A CRM invoice that reached accounting: (the CRM's, accounting's copy, its Комментарий)."""
    s = world.seed()
    inv = world.crm.create(INVOICE, d.invoice_fields(world.seed_in("crm", s), number,
                                                     "2026-11-21T10:00:00"))
    world.settle(3)
    acc_inv = world.copy_in("accounting", inv).ref
    text = world.crm.get(inv).fields["Комментарий"]
    assert world.acc.get(acc_inv).fields["Комментарий"] == text
    return inv, acc_inv, text


def edited_in_accounting(world: World, number: str, text: str = "v2 бухгалтер"):
    """`an_invoice` whose Комментарий the accountant then set to `text`, which reached the CRM."""
    inv, acc_inv, first = an_invoice(world, number)
    world.acc.edit(acc_inv, Комментарий=text)
    world.settle(3)
    return inv, acc_inv, first


def comments(world: World, inv, acc_inv) -> tuple[str, str]:
    return world.acc.get(acc_inv).fields["Комментарий"], world.crm.get(inv).fields["Комментарий"]


def test_an_edit_undone_in_accounting_reaches_the_crm(world):
    inv, acc_inv, first = edited_in_accounting(world, "ЦР00-000777", "Исправлено бухгалтером")
    assert comments(world, inv, acc_inv) == ("Исправлено бухгалтером",) * 2

    # Back to what the CRM last sent us: not what the CRM holds (it imported the edit).
    world.acc.edit(acc_inv, Комментарий=first)
    world.settle(4)

    assert comments(world, inv, acc_inv) == (first, first)
    assert [r.code for r in world.runs] == [0] * len(world.runs)
    assert_converged(world)
    trace = world.cli("--json", "trace", "ЦР00-000777")
    assert trace.code == 0, trace.stderr
    assert "echo" not in trace.stdout


def test_an_edit_undone_in_the_crm_reaches_accounting(world):
    inv, acc_inv, _ = edited_in_accounting(world, "ЦР00-000778")
    world.crm.edit(inv, Комментарий="v3 менеджер")
    world.settle(3)
    assert comments(world, inv, acc_inv) == ("v3 менеджер",) * 2

    # Back to accounting's version: the last accounting sent us, not what it holds.
    world.crm.edit(inv, Комментарий="v2 бухгалтер")
    world.settle(4)

    assert comments(world, inv, acc_inv) == ("v2 бухгалтер",) * 2
    assert_converged(world)


def test_the_crm_going_back_to_the_very_version_it_last_sent_reaches_accounting(world):
    """The CRM's copy is byte for byte the last it sent: not a copy 1C sends again, since the
    CRM imported accounting's edit in between."""
    inv, acc_inv, first = edited_in_accounting(world, "ЦР00-000780")
    assert comments(world, inv, acc_inv) == ("v2 бухгалтер",) * 2

    world.crm.edit(inv, Комментарий=first)
    world.settle(4)

    assert comments(world, inv, acc_inv) == (first, first)
    assert_converged(world)


def test_a_version_the_other_base_holds_after_an_undo_is_still_not_sent_back(world):
    inv, acc_inv, first = edited_in_accounting(world, "ЦР00-000781")
    world.acc.edit(acc_inv, Комментарий=first)
    world.settle(4)
    since = len(world.acc.log)

    world.crm.register(inv)  # the CRM writes it again unchanged: accounting holds just that
    world.settle(3)

    assert not [o for e in world.acc.log[since:] if e.kind == "imported" for o in e.objects
                if inv.id in o]
    assert_converged(world)


def test_resend_to_accounting_gives_it_what_the_crm_holds(world):
    inv, acc_inv, _ = edited_in_accounting(world, "ЦР00-000779")
    assert comments(world, inv, acc_inv) == ("v2 бухгалтер",) * 2

    r = world.cli("state", "resend", "accounting", "--yes")
    assert r.code == 0, r.stderr
    world.settle(4)

    assert comments(world, inv, acc_inv) == ("v2 бухгалтер",) * 2
    assert_converged(world)


def test_an_edit_crossing_a_resend_of_accountings_own_version_reaches_the_crm(world):
    """Resent to accounting, its own version is no CRM version on its way: an edit accounting
    makes before it reads the resend is not set aside as superseded."""
    inv, acc_inv, _ = edited_in_accounting(world, "ЦР00-000782")
    r = world.cli("state", "resend", "accounting", "--yes")
    assert r.code == 0, r.stderr
    world.acc.edit(acc_inv, Комментарий="v3 бухгалтер")
    world.exchange("accounting")  # its edit goes out before it reads the resend
    world.settle(4)

    assert comments(world, inv, acc_inv) == ("v3 бухгалтер",) * 2
    assert_converged(world)


def test_resend_to_accounting_does_not_revive_a_crm_version_that_lost_a_crossing(world):
    """Review 7 #10: the CRM's version set aside as superseded stays aside after a resend (it
    lost in both bases: sent now, it would overwrite the version both hold in accounting)."""
    inv, acc_inv, _ = an_invoice(world, "ЦР00-000783")
    world.acc.edit(acc_inv, Комментарий="A: бухгалтер")
    world.exchange("accounting")
    assert world.run().code == 0  # routed to the CRM, which has not read it yet
    world.crm.edit(inv, Комментарий="C: менеджер")
    world.exchange("crm", receive=False)  # a CRM session that only exports
    assert world.run().code == 0
    world.settle(3)
    assert comments(world, inv, acc_inv) == ("A: бухгалтер",) * 2

    plan = world.cli("--json", "--dry-run", "state", "resend", "accounting")
    assert plan.code == 0, plan.stderr
    assert json.loads(plan.stdout)["rerouted"] == {}  # the plan does not count it either
    r = world.cli("state", "resend", "accounting", "--yes")
    assert r.code == 0, r.stderr
    world.settle(3)

    assert comments(world, inv, acc_inv) == ("A: бухгалтер",) * 2
    assert_converged(world)


DROP_COMMENT = """mapping:
  accounting:
    Документ.ЗаказКлиента:
      drop: [ОбщиеСвойстваОбъектовФормата/Комментарий]
"""


def test_an_order_accounting_sends_back_as_mapped_is_an_echo_the_crm_keeps_its_own(world):
    """Review 7 #9: accounting holds the CRM's order without the comment the mapping dropped;
    sent again unchanged (reposted), it is what we gave it, not a change: the CRM's own order
    (its comment) is not overwritten with the mapped copy."""
    world.config.write_text(world.config.read_text() + DROP_COMMENT)
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    order = users.add_order()
    world.settle(3)
    text = world.crm.get(order).fields.get("Комментарий")
    assert text and world.copy_in("accounting", order).fields.get("Комментарий") is None
    since = len(world.crm.log)

    world.acc.register(world.copy_in("accounting", order).ref)  # sent again, unchanged
    world.settle(3)

    assert world.crm.get(order).fields.get("Комментарий") == text
    assert not [o for e in world.crm.log[since:] if e.kind == "imported" for o in e.objects
                if order.id in o]
    assert [r.code for r in world.runs] == [0] * len(world.runs)


def test_an_accountants_change_to_a_mapped_order_keeps_what_the_mapping_dropped(world):
    """Review 7 #9: a real change accounting makes to the CRM's order reaches the CRM without
    emptying the comment accounting never had (the mapping dropped it on the way there); a
    comment the accountant writes there is theirs, and goes."""
    world.config.write_text(world.config.read_text() + DROP_COMMENT)
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    order = users.add_order()
    world.settle(3)
    text = world.crm.get(order).fields.get("Комментарий")
    acc_order = world.copy_in("accounting", order).ref
    included = world.acc.get(acc_order).fields["СуммаВключаетНДС"]

    world.acc.edit(acc_order, СуммаВключаетНДС="false" if included == "true" else "true")
    world.settle(3)

    assert world.crm.get(order).fields["СуммаВключаетНДС"] != included
    assert world.crm.get(order).fields.get("Комментарий") == text
    assert world.acc.get(acc_order).fields.get("Комментарий") is None

    world.acc.edit(acc_order, Комментарий="Бухгалтерия: сверено")
    world.settle(3)
    assert world.crm.get(order).fields.get("Комментарий") == "Бухгалтерия: сверено"
    assert [r.code for r in world.runs] == [0] * len(world.runs)
