"""rejudge covers the returned way of push-invoices (onecsync/flows/rejudge.py).

Review 7 M2: the accountant's change to a CRM invoice, parked by a `mapping.crm` rule that could
not apply, stayed parked after the admin fixed the rule (exit 9 on every run, `retry --all`
needed): rejudge walked only each flow's main way and its target's mapping. Between the emulated
bases (tests/emulator), onecsync run in-process.
"""

from __future__ import annotations

from tests.emulator import data as d
from tests.emulator.users import Users
from tests.emulator.world import assert_converged

BAD_RULE = ("mapping:\n  crm:\n    Документ.СчетПокупателю:\n"
            "      set: {Контрагент: \"x\"}\n")  # a structure: the rule cannot apply


def test_a_returned_invoice_parked_by_a_mapping_rule_goes_once_the_rule_is_fixed(world):
    users = Users(world, d.seed_accounting(world.acc))
    world.settle(2)
    inv = users.add_order("Документ.СчетПокупателю")
    world.settle(2)
    whole = world.config.read_text(encoding="utf-8")
    world.config.write_text(whole + BAD_RULE, encoding="utf-8")
    users.edit_in_accounting(world.copy_in("accounting", inv).ref)
    assert world.round().code == 7  # parked: mapping for crm
    world.config.write_text(whole, encoding="utf-8")  # the admin fixes the rule
    world.settle(2)  # exit 0: nothing parked any more
    parked = world.db().execute("SELECT reason FROM inbox WHERE status = 'parked'").fetchall()
    assert parked == []
    assert_converged(world)
