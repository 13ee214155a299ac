"""What the users of the two bases do in the business scenario, on top of a `World`.

Public API: `Users(world, seeded)` with the manager's `add_order`, `edit_order`, the
accountant's `edit_order`, `pay`, `ship`, `take_back`, `pay_for_shipment`, `own_order_and_payment`,
`order_arrives_first`, and the lists the property test picks from (`crm_orders`,
`crm_orders_in_accounting`, `linked_sales`, …).

A manager works in the CRM on the CRM's copies of accounting's catalogs; an accountant works in
accounting, on accounting's copy of a CRM order (the one onecsync brought, bound to the CRM's
Ссылка). Numbers are unique per base (ЦР… in the CRM, БП… in accounting), so that 1C's matching
by Дата+Номер never joins two documents by accident, and every edit writes a text no earlier
edit wrote, so that two versions of an object are never equal by chance.
"""

from __future__ import annotations

import itertools
from decimal import Decimal

from tests.emulator import data as d
from tests.emulator.expect import CRM_SENDS
from tests.emulator.expect import SALE
from tests.emulator.expect import Expectations
from tests.emulator.store import Obj
from tests.emulator.store import Ref

ORDER, INVOICE = CRM_SENDS
BANK, CASH = "Документ.ПБДСРасчетыСКонтрагентами", "Документ.ПКОРасчетыСКонтрагентами"
RETURN = "Документ.ВозвратТоваровОтПокупателя"


class Users:
    def __init__(self, world, seeded: d.Seeded) -> None:
        self.w = world
        self.s = seeded
        self.n = itertools.count(1)

    def _date(self, n: int) -> str:
        return f"2026-11-{10 + n % 18:02d}T{8 + n % 10:02d}:{n % 60:02d}:00"

    # -- the CRM's manager ------------------------------------------------------------------
    def add_order(self, kind: str = ORDER, qty: int = 4) -> Ref:
        crm = self.w.crm
        s = self.w.seed_in("crm", self.s)
        n = next(self.n)
        make = d.order_fields if kind == ORDER else d.invoice_fields
        return crm.create(kind, make(s, f"ЦР00-{n:06d}", self._date(n), qty=qty))

    def edit_order(self, r: Ref) -> str:
        text = f"Менеджер: правка {next(self.n)}"
        self.w.crm.edit(r, Комментарий=text)
        return text

    def crm_orders(self) -> list[Obj]:
        """The CRM's own orders and invoices that are not marked for deletion. Not one a restore
        of the CRM took back and a document naming it brought again as a stub (its key
        properties only): 1C would not write it without its required fields."""
        return sorted((o for o in self.w.crm.objects() if o.type in CRM_SENDS
                       and o.ref in self.w.crm.created and not o.deletion_mark
                       and not o.from_keys), key=lambda o: o.ref)

    # -- the accountant ---------------------------------------------------------------------
    def crm_orders_in_accounting(self) -> list[Obj]:
        """Accounting's copies of CRM orders, not marked for deletion on either side."""
        exp = Expectations(self.w.acc, self.w.crm)
        out = []
        for o in self.w.acc.objects():
            if o.type not in CRM_SENDS or o.deletion_mark or not exp.is_crm_order(self.w.acc, o):
                continue
            original = [c for c in self.w.copies("crm", o) if c.ref in self.w.crm.created]
            if original and not original[0].deletion_mark:
                out.append(o)
        return sorted(out, key=lambda o: o.ref)

    def edit_in_accounting(self, r: Ref) -> str:
        text = f"Бухгалтерия: правка {next(self.n)}"
        self.w.acc.edit(r, Комментарий=text)
        return text

    def pay(self, order: Ref, part: str = "full", cash: bool = False) -> Ref:
        """A bank (or cash) receipt for the order: all of it, "half" or "rest" (the other half).

        A payment row names an order (ЗаказКлиента) only: EnterpriseData has no place in it for
        a Документ.СчетПокупателю (1.8 … 1.21); an invoice is settled by a sale naming it."""
        assert order.type == ORDER, order
        total = Decimal(self.w.acc.get(order).fields["Сумма"])
        amount = total if part == "full" else (total / 2).quantize(Decimal("0.01"))
        if part == "rest":
            amount = total - amount
        n = next(self.n)
        make = d.cash_receipt_fields if cash else d.bank_receipt_fields
        return self.w.acc.create(CASH if cash else BANK,
                                 make(self.s, f"БП00-{n:06d}", self._date(n), f"{amount:.2f}",
                                      order))

    def ship(self, order: Ref, qty: int = 4) -> Ref:
        """A sale naming the order (`Заказ`) or the invoice (`СчетПокупателю`)."""
        n = next(self.n)
        return self.w.acc.create(SALE, d.sale_fields(self.s, f"БП00-{n:06d}", self._date(n),
                                                     order, qty=qty))

    def take_back(self, sale: Ref, qty: int = 1) -> Ref:
        n = next(self.n)
        return self.w.acc.create(RETURN, d.return_fields(self.s, f"БП00-{n:06d}", self._date(n),
                                                         sale, qty=qty))

    def pay_for_shipment(self, sale: Ref) -> Ref:
        """A bank receipt that settles a sale ("по документу"), naming no order."""
        n = next(self.n)
        amount = self.w.acc.get(sale).fields["Сумма"]
        return self.w.acc.create(BANK, d.bank_receipt_fields(
            self.s, f"БП00-{n:06d}", self._date(n), amount, None, sale=sale))

    def linked_sales(self) -> list[Ref]:
        exp = Expectations(self.w.acc, self.w.crm)
        return sorted(o.ref for o in self.w.acc.objects(SALE) if exp.linked(o.ref))

    def own_order_and_payment(self) -> tuple[Ref, Ref]:
        """An order entered in accounting, and its payment: neither may reach the CRM."""
        n = next(self.n)
        order = self.w.acc.create(ORDER, d.order_fields(self.s, f"БП00-{n:06d}", self._date(n)))
        return order, self.pay(order, "full")

    def order_arrives_first(self, crm_order: Ref) -> tuple[Ref, Ref]:
        """The CRM's order reaches accounting before onecsync brings it (1C's own CRM ↔ БП
        integration, or a copy loaded by hand, keeps its Ссылка), and the accountant records
        its payment (an invoice: its sale) at once. onecsync sees that before it knows the order."""
        crm = self.w.crm
        fields = self.w.translate(crm.get(crm_order).fields, "crm", "accounting")
        order = self.w.acc.create(crm_order.type, fields, ref_id=crm_order.id)
        return order, self.pay(order, "full") if order.type == ORDER else self.ship(order)

    def unreferenced_documents(self) -> list[Ref]:
        """Accounting documents nothing refers to: what "удаление помеченных" may delete."""
        acc = self.w.acc
        return sorted(o.ref for o in acc.documents() if not acc.store.referencing(o.ref))
