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


def test_a_type_a_flow_takes_for_the_first_time_is_said_once_with_what_to_do_in_1c(world):
    """Task T4 #4: the base never registered for onecsync what it made of a type we never
    declared, so those objects never come, and every run said exit 0 without a word. One
    warning line says it and the remedy; done in the base, the object arrives."""
    whole = world.config.read_text(encoding="utf-8")
    world.config.write_text(whole + NARROWED["sale"][1], encoding="utf-8")  # from the start
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    crm_order = users.add_order()
    world.settle(2)
    made = users.ship(world.copy_in("accounting", crm_order).ref)
    world.settle(2)
    before = len(world.runs)
    world.config.write_text(whole, encoding="utf-8")  # the flow takes sales now
    world.settle(3)
    assert not world.copies("crm", made)  # 1C withheld it while undeclared, and dropped it
    said = [ln for r in world.runs[before:] for ln in r.stderr.splitlines()
            if "for the first time" in ln]
    assert len(said) == 1 and all(r.code == 0 for r in world.runs), said
    assert said[0].startswith("onecsync: warning: accounting: Документ.")
    assert "Документ.РеализацияТоваровУслуг" in said[0] and "declared as received from " \
        "accounting for the first time: 1C registers for onecsync only the types it declares, " \
        "so what accounting made of them before does not come" in said[0]
    assert "register those objects again for the onecsync node (\"Зарегистрировать " \
        "изменения\")" in said[0]
    world.acc.register(made)  # the admin's remedy in the base
    world.settle(2)
    assert len(world.copies("crm", made)) == 1
    assert_converged(world)


def test_no_such_warning_at_the_first_exchange_or_when_a_kept_type_comes_back(world):
    """The first message declares every type for the first time (the base registered its data
    for onecsync at setup, by the declarations of our settings message), and a type kept
    declared (see above) was never undeclared: nothing to say."""
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    whole = world.config.read_text(encoding="utf-8")
    world.config.write_text(whole + NARROWED["sale"][1], encoding="utf-8")
    world.settle(2)
    world.config.write_text(whole, encoding="utf-8")
    users.add_order()
    world.settle(2)
    assert not [r for r in world.runs if "for the first time" in r.stderr]
