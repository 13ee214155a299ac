"""A forwarded document that comes to name only an order judged accounting's own is not
withdrawn from the CRM but sent bare (review R1 #5): the CRM may send that order after all (it
reached accounting first), and a copy withdrawn for it would go again marked for good (1C
imports a deletion as a mark, and EnterpriseData carries no ПометкаУдаления to clear it).

Between two emulated bases (tests/emulator); each test ends with `assert_converged`.
"""

from __future__ import annotations

from tests.emulator.world import World
from tests.emulator.world import assert_converged
from tests.test_withdrawn import crm_backlog
from tests.test_withdrawn import deleted_in_crm
from tests.test_withdrawn import reassign
from tests.test_withdrawn import settle_quietly
from tests.test_withdrawn import start


def judged_own_first(world: World, u):
    """A CRM order that reached accounting before onecsync brought it: judged accounting's own
    (the CRM has not exported it yet), the Ссылка the CRM's."""
    crm_order = u.add_order()
    fields = world.translate(world.crm.get(crm_order).fields, "crm", "accounting")
    copy = world.acc.create(crm_order.type, fields, ref_id=crm_order.id)
    world.exchange("accounting")
    assert world.cli("push-invoices").code == 0  # the CRM's order is not in the registry yet
    return crm_order, copy


def test_a_payment_moved_to_an_order_judged_own_ends_live_in_the_crm_once_the_crm_sends_it(world):
    u, order, _ = start(world)
    paid = u.pay(order)
    settle_quietly(world, 3)
    crm_order, copy = judged_own_first(world, u)
    reassign(world, paid, copy)  # the accountant moves the payment to it
    world.exchange("accounting")
    assert world.cli("pull-settlements").code == 0
    world.exchange("crm")  # the CRM reads what that routing sent, before it exports the order
    bare = world.copy_in("crm", paid)
    assert not bare.deletion_mark and "Заказ" not in bare.fields["РасшифровкаПлатежа"][0]
    settle_quietly(world)  # the CRM's order comes: it is the CRM's after all
    crm_copy = world.copy_in("crm", paid)
    assert crm_copy.fields["РасшифровкаПлатежа"][0]["Заказ"] == crm_order
    assert not crm_copy.deletion_mark  # before: withdrawn, then sent again, marked for good
    assert deleted_in_crm(world) == []
    assert crm_backlog(world)["marked_again"] == 0
    assert_converged(world)
