"""A forwarded document is judged again when what it names is judged in a later run (review R1
#3, #4): withdrawn once all it names is known not to be the CRM's, or sent to the CRM again
with its rows' references kept or stripped as what they name now is.

Between two emulated bases (tests/emulator), in-process; each test ends with `assert_converged`.
"""

from __future__ import annotations

import copy
import sqlite3

import pytest

from tests import factory as f
from tests.emulator import data as d
from tests.emulator.world import World
from tests.emulator.world import assert_converged
from tests.test_withdrawn import deleted_in_crm
from tests.test_withdrawn import reassign
from tests.test_withdrawn import settle_quietly
from tests.test_withdrawn import start

NARROW = "flows:\n  push-invoices:\n    objects: [Документ.СчетПокупателю]\n"


def new_own_order(world: World, u):
    return world.acc.create("Документ.ЗаказКлиента",
                            d.order_fields(u.s, "БП00-000951", "2026-11-26T10:00:00"))


def with_row(world: World, payment, **row) -> None:
    """The accountant adds a row to the payment: for `Заказ`, or for `ДокументРасчетов`."""
    rows = copy.deepcopy(world.acc.get(payment).fields["РасшифровкаПлатежа"])
    other = copy.deepcopy(rows[0])
    if "ДокументРасчетов" in row:
        other.pop("Заказ")
        other["СпособПогашенияЗадолженности"] = "ПоДокументу"
    other.update(row)
    world.acc.edit(payment, РасшифровкаПлатежа=[rows[0], other])


def repointed_before_judged(world: World):
    """A forwarded payment re-pointed to a new own order, routed by pull-settlements before
    push-invoices judged the order (cron lines per flow)."""
    u, order, _ = start(world)
    paid = u.pay(order)
    settle_quietly(world, 3)
    reassign(world, paid, new_own_order(world, u))
    world.exchange("accounting")
    for command in ("pull-settlements", "push-invoices"):
        assert world.cli(command).code == 0
    return paid


def test_a_payment_re_pointed_to_an_order_judged_own_in_a_later_run_is_withdrawn(world):
    paid = repointed_before_judged(world)
    settle_quietly(world)
    assert deleted_in_crm(world)
    assert world.copy_in("crm", paid).deletion_mark
    assert_converged(world)


def test_a_payment_re_pointed_while_orders_were_out_of_the_flow_is_withdrawn_once_widened(world):
    u, order, _ = start(world)
    paid = u.pay(order)
    settle_quietly(world, 3)
    clean = world.config.read_text(encoding="utf-8")
    world.config.write_text(clean + NARROW, encoding="utf-8")
    reassign(world, paid, new_own_order(world, u))
    settle_quietly(world, 1)
    assert not deleted_in_crm(world)  # the order is not judged: the payment waits
    world.config.write_text(clean, encoding="utf-8")
    settle_quietly(world)
    assert world.copy_in("crm", paid).deletion_mark
    assert_converged(world)


def test_a_forwarded_payment_left_waiting_by_an_older_onecsync_is_judged_after_the_upgrade(world):
    """The state comes from before 0009: nothing was kept of what was judged in a later run."""
    paid = repointed_before_judged(world)
    with sqlite3.connect(world.root / "state" / "onecsync.sqlite") as c:
        c.execute("DROP TABLE judged")
        f.before_received_headers(c)  # 0011's, later still
        f.before_received_set(c)  # 0012's
        c.execute("DELETE FROM _sqlite_migrations WHERE name >= '0009_judged'")
    c.close()
    settle_quietly(world)
    assert world.copy_in("crm", paid).deletion_mark
    assert_converged(world)


def test_a_stripped_row_gets_its_reference_back_when_the_order_turns_out_the_crms(world):
    """Order B reached accounting before the CRM exported it, and was judged own: the row for
    it went to the CRM without it. When the CRM sends B, the CRM's payment is sent with it."""
    u, order, _ = start(world)
    settle_quietly(world, 2)
    crm_b = u.add_order()
    fields = world.translate(world.crm.get(crm_b).fields, "crm", "accounting")
    b = world.acc.create(crm_b.type, fields, ref_id=crm_b.id)
    world.exchange("accounting")
    assert world.cli("push-invoices").code == 0
    paid = u.pay(order)
    with_row(world, paid, Заказ=b)
    world.exchange("accounting")
    assert world.cli("pull-settlements").code == 0
    world.exchange("crm")
    settle_quietly(world, 5)
    rows = world.copy_in("crm", paid).fields["РасшифровкаПлатежа"]
    assert rows[1]["Заказ"] == crm_b
    assert_converged(world)


@pytest.mark.parametrize("payment_edited", [False, True])
def test_a_row_for_a_sale_withdrawn_later_goes_without_it(world, payment_edited):
    """A payment of a CRM order with a row for a linked sale S; S is re-pointed to an own order
    and withdrawn (the payment edited in the same session, or not): the CRM's payment no longer
    settles S."""
    u, order, own = start(world)
    crm2 = u.add_order()
    settle_quietly(world, 2)
    sale = u.ship(world.copy_in("accounting", crm2).ref)
    settle_quietly(world, 2)
    paid = u.pay(order)
    with_row(world, paid, ДокументРасчетов=sale)
    settle_quietly(world, 3)
    assert world.copy_in("crm", paid).fields["РасшифровкаПлатежа"][1].get("ДокументРасчетов")
    world.acc.edit(sale, Заказ=own)
    if payment_edited:  # routed in the same run as the sale, before the sale is withdrawn
        common = copy.deepcopy(world.acc.get(paid).fields["ОбщиеДанные"])
        common["НомерВходящегоДокумента"] = "1874"
        world.acc.edit(paid, ОбщиеДанные=common)
    settle_quietly(world)
    assert "ДокументРасчетов" not in world.copy_in("crm", paid).fields["РасшифровкаПлатежа"][1]
    assert_converged(world)
