"""A document forwarded to the CRM goes without the references of its header to what is known
not to be the CRM's, as its rows do (review R1 #6): a sale of a CRM invoice whose `Заказ` is an
order made in accounting, a return of a CRM order whose `ДокументРеализации` is a sale of
accounting's own. 1C would create the object in the CRM from the reference alone (a stub).

Between two emulated bases (tests/emulator): every message onecsync writes is checked against
1C's schemas of its version before the base reads it (`World.exchange`).
"""

from __future__ import annotations

from onecsync import formats
from onecsync.config import Flow
from onecsync.flows.links import without_foreign
from onecsync.formats.validate import validate_object
from onecsync.mapping import find_all
from onecsync.mapping import first_text
from onecsync.state.inbox import Staged
from tests import factory
from tests.emulator import data as d
from tests.emulator.expect import RETURN
from tests.emulator.expect import SALE
from tests.emulator.users import INVOICE
from tests.emulator.world import assert_converged
from tests.test_withdrawn import settle_quietly
from tests.test_withdrawn import start


def stubs_in_crm(world) -> list:
    return [o for o in world.crm.objects() if o.from_keys]


def test_a_sale_of_a_crm_invoice_names_no_order_of_accountings_own_in_the_crm(world):
    u, _, own = start(world)
    crm_invoice = u.add_order(INVOICE)
    settle_quietly(world, 2)  # the invoice reaches accounting, the own order is judged
    invoice = world.copy_in("accounting", crm_invoice).ref
    fields = d.sale_fields(u.s, "БП00-000951", "2026-11-26T10:00:00", invoice)
    sale = world.acc.create(SALE, {**fields, "Заказ": own})
    settle_quietly(world)
    crm_copy = world.copy_in("crm", sale)
    assert crm_copy.fields["СчетПокупателю"] == crm_invoice
    assert "Заказ" not in crm_copy.fields
    assert not stubs_in_crm(world)
    assert world.acc.get(sale).fields["Заказ"] == own  # accounting's own copy keeps it
    assert_converged(world)


def test_a_return_of_a_crm_order_names_no_sale_of_accountings_own_in_the_crm(world):
    u, order, own = start(world)
    own_sale = u.ship(own)
    fields = d.return_fields(u.s, "БП00-000952", "2026-11-27T10:00:00", own_sale)
    back = world.acc.create(RETURN, {**fields, "Заказ": order})
    settle_quietly(world)
    crm_copy = world.copy_in("crm", back)
    assert crm_copy.fields["Заказ"] == world.copy_in("crm", order).ref
    assert "ДокументРеализации" not in crm_copy.fields
    assert not stubs_in_crm(world)
    assert not world.copies("crm", own_sale) and not world.copies("crm", own)
    assert_converged(world)


class _Known:
    """A state in which every Ссылка asked about is known not to be the target's."""

    class withdrawals:  # noqa: N801 (State's attribute)
        @staticmethod
        def known(source, target, forwarded, refs):
            return set(refs)


def test_a_header_field_the_schema_requires_goes_as_it_is_and_the_object_still_validates():
    """A link path from the config may take a field the schema requires (`Контрагент` of a
    sale): removed, the object would not validate and 1C would refuse it; it is kept. An
    optional one (`Заказ`) is removed, and what is left is valid in 1C's schema of 1.8."""
    own = factory.ref(901, "bbbbbbbb")
    xml = factory.sale(factory.ref(1), own).replace(
        "<Документ.РеализацияТоваровУслуг>",
        f'<Документ.РеализацияТоваровУслуг xmlns="{formats.namespace("1.8")}">', 1).encode()
    row = Staged(1, SALE, factory.ref(1), "object", "1.8", xml)
    flow = Flow("pull-settlements", (SALE,), links={SALE: ("Заказ/Ссылка", "Контрагент/Ссылка")})
    element, edited = without_foreign(_Known(), flow, "accounting", "crm", row)  # type: ignore[arg-type]
    assert edited
    assert find_all(element, "Заказ") == []
    assert first_text(element, "Контрагент/Ссылка") == factory.CUSTOMER
    assert validate_object("1.8", element) == []
