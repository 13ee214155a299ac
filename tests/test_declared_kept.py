"""A type once declared to a base as received stays declared when the flows drop it
(onecsync/flows/declared.py): 1C registers for our node only what we declare, and never again
what it made meanwhile. Review 7 #6: a sale (or an invoice) made while its type was out of the
config never arrived once the type was back, and nothing said so.

Between the emulated bases (tests/emulator), onecsync run in-process.
"""

from __future__ import annotations

import pytest

from tests.emulator import data as d
from tests.emulator.users import Users
from tests.emulator.world import assert_converged

NARROWED = {
    "sale": ("crm", "flows:\n  pull-settlements:\n    objects: [Документ.ВозвратТоваровОтПокупателя, "
                    "Документ.ПБДСРасчетыСКонтрагентами, Документ.ПКОРасчетыСКонтрагентами]\n"),
    "invoice": ("accounting", "flows:\n  push-invoices:\n    objects: [Документ.ЗаказКлиента]\n"),
}


@pytest.mark.parametrize("which", sorted(NARROWED))
def test_what_a_base_made_while_its_type_was_out_of_the_flows_arrives_once_it_is_back(
        world, which):
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    crm_order = users.add_order()
    world.settle(2)
    order = world.copy_in("accounting", crm_order).ref
    other, narrowed = NARROWED[which]
    whole = world.config.read_text(encoding="utf-8")
    world.config.write_text(whole + narrowed, encoding="utf-8")
    world.settle(2)  # the bases import our messages written under the narrowed config
    made = users.ship(order) if which == "sale" else users.add_order("Документ.СчетПокупателю")
    world.settle(2)
    assert not world.copies(other, made)  # no flow carries the type now
    world.config.write_text(whole, encoding="utf-8")  # the admin puts the type back
    world.settle(3)
    assert len(world.copies(other, made)) == 1
    assert all(r.code == 0 for r in world.runs)
    assert_converged(world)
