"""A deletion in one base crossing an edit of the same invoice in the other (review 8 #5).

1C imports a deletion as a deletion mark, and nothing it imports afterwards clears the mark
(EnterpriseData carries none): a base that has imported our deletion holds its copy marked,
whatever version of it it then sends. Such a version, made before the import (a crossing) or
after it, is of an object marked for deletion there; passed on to the base that deleted it, it
would bring the object back alive there while the other keeps it marked, for good. The deletion
reached its base first: it wins the crossing, as any version on its way to its base does.
"""

from __future__ import annotations

import pytest

from tests.emulator.users import INVOICE
from tests.emulator.users import ORDER
from tests.emulator.world import assert_converged
from tests.test_e2e_scenario import imported
from tests.test_e2e_scenario import start
from tests.test_trace import trace


def _an_invoice_in_both(world, kind: str):
    users, _ = start(world)
    inv = users.add_order(kind)
    world.settle(2)
    return users, inv, world.copy_in("accounting", inv).ref


def _deleted_by_the_accountant(world, acc_copy) -> None:
    world.acc.mark_deleted(acc_copy)
    world.acc.delete(acc_copy)          # "удаление помеченных": УдалениеОбъекта goes out


@pytest.mark.parametrize("kind", [INVOICE, ORDER])
def test_a_deletion_in_accounting_that_reached_the_crm_before_the_managers_edit(world, kind):
    """onecsync takes accounting's deletion to the CRM; the CRM imports it (marks its copy)
    and then sends the manager's edit, made before: accounting does not get it back."""
    users, inv, acc_copy = _an_invoice_in_both(world, kind)
    _deleted_by_the_accountant(world, acc_copy)
    users.edit_order(inv)
    world.exchange("accounting")
    world.run()                          # the deletion is on its way to the CRM
    world.settle(4)
    assert world.crm.get(inv).deletion_mark
    assert acc_copy not in world.acc.store.objects
    assert_converged(world)
    report, _ = trace(world, inv.id)
    [edit] = [r for r in report["trace"]["routing"] if r["from"] == "crm"]
    assert edit["decision"] == "superseded"
    assert "the crm base is sent the accounting base's deletion" in edit["reason"], edit


@pytest.mark.parametrize("kind", [INVOICE, ORDER])
def test_a_managers_edit_that_reached_onecsync_before_accountings_deletion(world, kind):
    """The other order of arrival: the CRM's edit is on its way to accounting when its deletion
    comes; the CRM's version wins (accounting imports it over its deletion)."""
    users, inv, acc_copy = _an_invoice_in_both(world, kind)
    _deleted_by_the_accountant(world, acc_copy)
    text = users.edit_order(inv)
    world.exchange("crm")
    world.run()                          # the edit is on its way to accounting
    world.settle(4)
    assert not world.crm.get(inv).deletion_mark
    assert world.copy_in("accounting", inv).fields["Комментарий"] == text
    assert_converged(world)


@pytest.mark.parametrize("kind", [INVOICE, ORDER])
def test_both_in_one_run(world, kind):
    users, inv, acc_copy = _an_invoice_in_both(world, kind)
    _deleted_by_the_accountant(world, acc_copy)
    users.edit_order(inv)
    world.exchange("accounting")
    world.exchange("crm")
    world.run()
    world.settle(4)
    assert_converged(world)


@pytest.mark.parametrize("kind", [INVOICE, ORDER])
def test_a_deletion_in_the_crm_that_reached_accounting_before_the_accountants_edit(world, kind):
    """The mirror: the manager deletes the invoice, the accountant edits it; accounting
    imports the deletion (marks its copy) and then sends the edit: the CRM does not get it back."""
    users, inv, acc_copy = _an_invoice_in_both(world, kind)
    world.crm.mark_deleted(inv)
    world.crm.delete(inv)
    crm_log = len(world.crm.log)
    users.edit_in_accounting(acc_copy)
    world.exchange("crm")
    world.run()                          # the deletion is on its way to accounting
    world.settle(4)
    assert world.acc.get(acc_copy).deletion_mark
    assert inv not in world.crm.store.objects
    assert not [o for o in imported(world, "crm", crm_log) if inv.id in o]
    assert_converged(world)


@pytest.mark.parametrize("kind", [INVOICE, ORDER])
def test_an_accountants_edit_that_reached_onecsync_before_the_crms_deletion(world, kind):
    users, inv, acc_copy = _an_invoice_in_both(world, kind)
    world.crm.mark_deleted(inv)
    world.crm.delete(inv)
    users.edit_in_accounting(acc_copy)
    world.exchange("accounting")
    world.run()                          # the edit is on its way to the CRM
    world.settle(4)
    assert_converged(world)
