"""End to end, the business scenario: a CRM order and invoice go to accounting, what accounting
does with them (payments, a sale, its return) comes back, edits go both ways, and nothing else
crosses, through the directory transport between two emulated 1C bases (tests/emulator).

Each test asserts concrete facts in both bases (which object names which, field values,
deletion marks, what a base imported) and ends with `assert_converged`, which checks the rest
(nothing extra, nothing pending). The main scenario runs onecsync as cron runs it, a subprocess of
the CLI; the others run the same CLI in-process, except the killed runs.
"""

from __future__ import annotations

import pytest

from tests.emulator import data as d
from tests.emulator.crashing import POINTS
from tests.emulator.expect import RETURN
from tests.emulator.expect import SALE
from tests.emulator.store import Obj
from tests.emulator.users import BANK
from tests.emulator.users import CASH
from tests.emulator.users import INVOICE
from tests.emulator.users import ORDER
from tests.emulator.users import Users
from tests.emulator.world import World
from tests.emulator.world import assert_converged
from tests.emulator.world import scratch_dir

COUNTERPARTY = "Справочник.Контрагенты"


def start(world: World) -> tuple[Users, d.Seeded]:
    """The accounting catalogs are loaded into the CRM: the day the manager starts work."""
    s = d.seed_accounting(world.acc)
    world.settle(2)
    assert_converged(world)
    return Users(world, s), s


def imported(world: World, name: str, since: int = 0) -> list[tuple]:
    """(type, Ссылка) of every object base `name` imported from us after its `since`-th log
    event (deletions as ("delete", type, Ссылка))."""
    return [o for e in world.bases[name].log[since:] if e.kind == "imported" for o in e.objects]


def status(world: World, as_json: bool = True) -> dict | str:
    """`onecsync [--json] status`, as an admin runs it."""
    p = world.cli(*(["--json"] if as_json else []), "status", env={"COLUMNS": "200"})
    assert p.code == 0, p.stderr
    return p.report if as_json else p.stdout


def row(obj: Obj) -> dict:
    [only] = obj.fields["РасшифровкаПлатежа"]
    return only


# -- invoice → payment → shipment → return ---------------------------------------------------
@pytest.mark.slow
def test_an_order_is_paid_shipped_and_returned_and_every_step_reaches_the_other_base(tmp_path):
    with scratch_dir(tmp_path) as root:
        whole_scenario(World(root, in_process=False))  # a subprocess per run, as cron runs it


def whole_scenario(world: World) -> None:
    users, s = start(world)
    acc, crm = world.acc, world.crm
    counterparties = len(acc.objects(COUNTERPARTY))
    c = world.seed_in("crm", s)               # the CRM's copies of accounting's catalogs

    # The manager enters an order and an invoice in the CRM.
    order = users.add_order(ORDER, qty=4)
    invoice = users.add_order(INVOICE, qty=2)
    world.round()
    sent = world.runs[-1].report["peers"]["accounting"]["sent"]
    assert sent["by_type"] == {ORDER: 1, INVOICE: 1}
    world.settle(1)
    # Accounting holds each once, under the CRM's Ссылка, on its own catalog objects.
    acc_order, acc_invoice = world.copy_in("accounting", order), world.copy_in("accounting", invoice)
    assert acc.identity(acc_order.ref) == order.id and acc.identity(acc_invoice.ref) == invoice.id
    for doc in (acc_order, acc_invoice):
        f = doc.fields
        assert (f["Контрагент"], f["Организация"], f["Валюта"]) == (s.vector, s.org, s.rub)
        assert f["ДанныеВзаиморасчетов"]["Договор"] == s.vector_contract
        assert f["Товары"][0]["ДанныеНоменклатуры"]["Номенклатура"] == s.monitor
        assert f["Товары"][0]["ЕдиницаИзмерения"] == s.pcs
        assert not doc.from_keys and doc.origin == "import"
    assert acc_order.fields["Услуги"][0]["ДанныеНоменклатуры"]["Номенклатура"] == s.setup
    assert (acc_order.fields["Номер"], acc_order.fields["Сумма"]) == ("ЦР00-000001", "113600.00")
    assert acc_invoice.fields["Сумма"] == "49800.00"
    assert len(acc.objects(COUNTERPARTY)) == counterparties      # matched, not doubled
    assert not [o for o in acc.objects() if o.from_keys]

    # The accountant is paid half by bank, then the rest; then a cash payment; ships the
    # invoice, takes one back, and the customer pays for the shipment "по документу".
    half = users.pay(acc_order.ref, "half")
    world.round()
    rest = users.pay(acc_order.ref, "rest")
    cash = users.pay(acc_order.ref, "full", cash=True)
    sale = users.ship(acc_invoice.ref, qty=2)
    back = users.take_back(sale, qty=1)
    settled = users.pay_for_shipment(sale)
    world.round()
    sent = world.runs[-1].report["peers"]["crm"]["sent"]
    assert sent["by_type"] == {BANK: 2, CASH: 1, SALE: 1, RETURN: 1}
    world.settle(3)
    assert_converged(world)

    # The CRM holds each once, naming the CRM's own order and invoice (not copies of them).
    got = {r: world.copy_in("crm", r) for r in (half, rest, cash, sale, back, settled)}
    assert [row(got[p])["Заказ"] for p in (half, rest, cash)] == [order] * 3
    assert [row(got[p])["Сумма"] for p in (half, rest, cash)] == \
        ["56800.00", "56800.00", "113600.00"]
    assert got[cash].type == CASH and got[half].type == got[rest].type == BANK
    assert got[sale].fields["СчетПокупателю"] == invoice and "Заказ" not in got[sale].fields
    assert got[back].fields["ДокументРеализации"] == got[sale].ref
    assert row(got[settled])["ДокументРасчетов"] == got[sale].ref
    assert row(got[settled])["СпособПогашенияЗадолженности"] == "ПоДокументу"
    assert "Заказ" not in row(got[settled])
    for r, doc in got.items():
        assert crm.identity(doc.ref) == r.id                       # bound to accounting's Ссылка
        assert doc.fields["Контрагент"] == c.vector and doc.fields["Организация"] == c.org
    assert len(crm.objects(ORDER)) == 1 and len(crm.objects(INVOICE)) == 1
    assert len(crm.objects(COUNTERPARTY)) == counterparties
    assert not [o for o in crm.objects() if o.from_keys]

    # What an admin sees agrees with the bases.
    report = status(world)
    for name, base in world.bases.items():
        peer = report["peers"][name]
        assert peer["received_no"] == base.sent_no
        assert peer["confirmed_no"] == base.received_no
        assert peer["sent_no"] == base.received_no + 1      # our last message, not yet taken
        assert peer["unconfirmed"]["count"] == 0 and peer["parked"]["total"] == 0
        assert peer["awaiting_link"] == 0
    assert report["peers"]["crm"]["inbox"] == {"routed": 2}
    catalogs = len(s.catalog_refs())
    assert report["peers"]["accounting"]["inbox"] == {"routed": catalogs + 6}
    text = status(world, as_json=False)
    for name, base in world.bases.items():
        section = text.split(f"\n{name}\n", 1)[1]
        assert f"sent {base.received_no + 1} · received {base.sent_no} · confirmed " \
               f"{base.received_no}" in section.split("\n\n")[0]
    assert "awaiting link" not in text


# -- what must not cross -----------------------------------------------------------------------
def test_accountings_own_orders_and_unlinked_payments_never_reach_the_crm(world):
    users, s = start(world)
    order = users.add_order(ORDER)
    world.settle(2)
    own_order, own_payment = users.own_order_and_payment()
    own_sale = users.ship(own_order)
    unnamed = world.acc.create(BANK, d.bank_receipt_fields(
        s, "БП00-000900", "2026-11-21T10:00:00", "1500.00", None))   # names no order
    linked = users.pay(world.copy_in("accounting", order).ref, "full")
    world.settle(3)
    assert_converged(world)
    assert world.copy_in("crm", linked)
    for r in (own_order, own_payment, own_sale, unnamed):
        assert world.copies("crm", r) == [], r
        assert not [o for o in imported(world, "crm") if r.id in o], r
    assert len(world.crm.objects(ORDER)) == 1 and len(world.crm.objects(BANK)) == 1
    assert not world.crm.objects(SALE)
    # The admin sees why: accounting's own order is not a CRM invoice (ignored); its payment,
    # its sale and the payment naming nothing wait, in case what they name arrives later.
    acc = status(world)["peers"]["accounting"]
    assert acc["inbox"] == {"routed": len(s.catalog_refs()) + 1, "ignored": 1, "waiting": 3}
    assert acc["awaiting_link"] == 3 and acc["parked"]["total"] == 0


def test_catalogs_never_go_from_the_crm_to_accounting(world):
    users, s = start(world)
    crm = world.crm
    # A CRM whose exchange plan also sends catalogs: the manager adds a customer and an item,
    # and renames accounting's customer in the CRM. onecsync takes none of it to accounting.
    crm.registers = crm.registers | {COUNTERPARTY, "Справочник.Номенклатура"}
    c = world.seed_in("crm", s)
    customer = crm.create(COUNTERPARTY, d.counterparty_fields("Клиент из CRM ООО", d.inn10(4242)))
    item = crm.create("Справочник.Номенклатура", d.item_fields("Товар из CRM", "CRM-1", c.pcs))
    crm.edit(c.vector, Наименование="Вектор (переименован в CRM)")
    order = users.add_order(ORDER)
    since = len(world.acc.log)
    world.settle(3)
    assert [o for o in imported(world, "accounting", since) if o[0] != "delete"] == \
        [(ORDER, order.id)]
    assert world.copies("accounting", customer) == [] and world.copies("accounting", item) == []
    assert world.acc.get(s.vector).fields["Наименование"] == "Вектор ООО"
    assert world.copy_in("accounting", order).fields["Контрагент"] == s.vector
    assert not crm.registrations                      # confirmed all the same, nothing pending
    assert world.unconfirmed("accounting") == 0


# -- edits both ways -----------------------------------------------------------------------
def test_edits_go_both_ways_and_are_not_echoed(world):
    users, _ = start(world)
    order = users.add_order(ORDER)
    world.settle(2)
    acc_order = world.copy_in("accounting", order).ref

    # The manager edits: accounting has it, and the CRM is not sent its own edit back.
    crm_log, acc_log = len(world.crm.log), len(world.acc.log)
    text = users.edit_order(order)
    world.settle(3)
    assert world.acc.get(acc_order).fields["Комментарий"] == text
    assert (ORDER, order.id) in imported(world, "accounting", acc_log)
    assert not [o for o in imported(world, "crm", crm_log) if order.id in o]

    # The accountant edits the CRM's order: the CRM has it, and accounting gets no echo.
    crm_log, acc_log = len(world.crm.log), len(world.acc.log)
    text = users.edit_in_accounting(acc_order)
    world.settle(3)
    assert world.crm.get(order).fields["Комментарий"] == text
    assert imported(world, "crm", crm_log).count((ORDER, order.id)) == 1
    assert not [o for o in imported(world, "accounting", acc_log) if order.id in o]

    # Each posts the order again unchanged (1C registers every write): the other base holds
    # exactly this version, so nothing goes to it.
    # (Accounting's is the very version it sent before: onecsync stages nothing new. The CRM's
    # is accounting's edit, new from the CRM: it is staged and found to be an echo.)
    for base, ref, other, routed in ((world.acc, acc_order, "crm", {}),
                                     (world.crm, order, "accounting", {"echo": 1})):
        since, runs = len(world.bases[other].log), len(world.runs)
        base.register(ref)
        world.settle(3)
        assert not [o for o in imported(world, other, since) if order.id in o]
        assert [r.report["routed"]["push-invoices"] for r in world.runs[runs:]] == \
            [routed, {}, {}]
        assert not [r for r in world.runs[runs:] if r.report["routed"]["pull-settlements"]]
    assert_converged(world)
    assert len(world.crm.objects(ORDER)) == len(world.acc.objects(ORDER)) == 1


def test_edits_that_cross_end_with_the_crms_version_in_both_bases(world):
    """Both edit before either imported the other's change (one onecsync run sees both): the
    CRM's version goes to accounting and accounting's is not passed on (tests/test_flows.py
    test_edits_that_cross_in_one_run_are_not_swapped)."""
    users, _ = start(world)
    order = users.add_order(ORDER)
    world.settle(2)
    acc_order = world.copy_in("accounting", order).ref
    crm_log = len(world.crm.log)
    theirs = users.edit_in_accounting(acc_order)
    ours = users.edit_order(order)
    assert theirs != ours
    world.settle(3)
    assert world.crm.get(order).fields["Комментарий"] == ours
    assert world.acc.get(acc_order).fields["Комментарий"] == ours
    assert not [o for o in imported(world, "crm", crm_log) if order.id in o]
    assert_converged(world)


def test_an_edit_crossing_a_sent_edit_ends_the_same_in_both_bases(world):
    """The accountant's edit already went out to the CRM's folder when the manager edits:
    whichever wins, both bases end with one version."""
    users, _ = start(world)
    order = users.add_order(ORDER)
    world.settle(2)
    acc_order = world.copy_in("accounting", order).ref
    users.edit_in_accounting(acc_order)
    world.exchange("accounting")
    world.run()                                  # on its way to the CRM, not yet imported
    users.edit_order(order)
    world.settle(4)
    assert_converged(world)
    assert world.crm.get(order).fields["Комментарий"] == \
        world.acc.get(acc_order).fields["Комментарий"]


@pytest.mark.parametrize("crm_versions", [("1.8", "1.10"), ("1.11",)])
def test_a_crm_on_an_older_version_gets_the_scenario_in_its_own(tmp_path, crm_versions):
    """The order's comment is a field of its own up to 1.10 and part of
    ОбщиеСвойстваОбъектовФормата from 1.11: edits of it cross the versions both ways."""
    with scratch_dir(tmp_path) as root:
        world = World(root, crm_versions=crm_versions, in_process=True)
        users, _ = start(world)
        order = users.add_order(ORDER)
        world.settle(2)
        acc_order = world.copy_in("accounting", order).ref
        assert world.acc.get(acc_order).fields["Комментарий"] == \
            world.crm.get(order).fields["Комментарий"]
        text = users.edit_order(order)
        world.settle(2)
        assert world.acc.get(acc_order).fields["Комментарий"] == text
        text = users.edit_in_accounting(acc_order)
        payment = users.pay(acc_order, "full")
        sale = users.ship(acc_order)
        world.settle(3)
        crm_log = len(world.crm.log)
        world.acc.register(acc_order)          # posted again unchanged: the CRM has it already
        world.settle(3)
        assert not [o for o in imported(world, "crm", crm_log) if order.id in o]
        assert_converged(world)
        assert (world.crm.negotiated(), world.acc.negotiated()) == (crm_versions[-1], "1.17")
        assert world.crm.get(order).fields["Комментарий"] == text
        assert row(world.copy_in("crm", payment))["Заказ"] == order
        assert world.copy_in("crm", sale).fields["Заказ"] == order


# -- deletions ------------------------------------------------------------------------------
def test_deletions_reach_the_other_base_as_deletion_marks(world):
    users, _ = start(world)
    kept, dropped = users.add_order(ORDER), users.add_order(ORDER)
    world.settle(2)
    payment = users.pay(world.copy_in("accounting", kept).ref, "full")
    world.settle(2)
    crm_payment = world.copy_in("crm", payment).ref

    # The manager marks an order for deletion. EnterpriseData has no field for the mark: the
    # CRM sends the order again as it is, onecsync has nothing new to pass on, and accounting's
    # copy stays unmarked ...
    acc_log = len(world.acc.log)
    world.crm.mark_deleted(dropped)
    world.settle(2)
    assert not [o for o in imported(world, "accounting", acc_log) if dropped.id in o]
    assert not world.copy_in("accounting", dropped).deletion_mark
    # ... until the marked objects are deleted ("удаление помеченных"): then it is marked there.
    world.crm.delete(dropped)
    world.acc.mark_deleted(payment)                   # the accountant deletes a payment
    world.acc.delete(payment)
    world.settle(3)
    assert_converged(world)
    assert world.copy_in("accounting", dropped).deletion_mark
    assert not world.copy_in("accounting", kept).deletion_mark
    assert world.crm.get(crm_payment).deletion_mark
    assert world.copies("accounting", crm_payment) == []  # gone for good in accounting
    assert ("delete", BANK, payment.id) in imported(world, "crm")


# -- an order that reached accounting first -----------------------------------------------------
def test_an_order_that_reached_accounting_first_is_not_doubled_and_its_payment_arrives(world):
    users, _ = start(world)
    order = users.add_order(ORDER)
    invoice = users.add_order(INVOICE)
    early, payment = users.order_arrives_first(order)      # before onecsync brought it
    early_invoice, sale = users.order_arrives_first(invoice)
    world.settle(3)
    assert_converged(world)
    assert [o.ref for o in world.copies("accounting", order)] == [early]
    assert [o.ref for o in world.copies("accounting", invoice)] == [early_invoice]
    assert len(world.acc.objects(ORDER)) == len(world.acc.objects(INVOICE)) == 1
    assert row(world.copy_in("crm", payment))["Заказ"] == order
    assert world.copy_in("crm", sale).fields["СчетПокупателю"] == invoice


# -- faults mid-scenario ------------------------------------------------------------------------
def test_lost_messages_mid_scenario_are_made_good(world):
    users, _ = start(world)
    order = users.add_order(ORDER)
    world.crm.faults.drop_next = True                  # the CRM's message with the order is lost
    world.round()
    world.settle(1)
    assert not world.copies("accounting", order)
    world.settle(2)
    acc_order = world.copy_in("accounting", order).ref
    payment = users.pay(acc_order, "full")
    sale = users.ship(acc_order)
    world.acc.faults.drop_next = True                  # accounting's message with them is lost
    world.round()
    world.exchange("accounting")
    world.exchange("crm")
    assert world.run().code == 0                       # they come again and are sent on ...
    world.ours("crm").unlink()                         # ... and our message to the CRM is lost
    world.settle(1)
    assert not world.copies("crm", payment) and not world.copies("crm", sale)
    world.settle(3)
    assert_converged(world)
    assert row(world.copy_in("crm", payment))["Заказ"] == order
    assert world.copy_in("crm", sale).fields["Заказ"] == order


@pytest.mark.parametrize("point", sorted(POINTS))
@pytest.mark.slow
def test_onecsync_killed_mid_scenario_converges(world, point):
    users, _ = start(world)
    order = users.add_order(ORDER)
    world.settle(2)
    acc_order = world.copy_in("accounting", order).ref
    payment = users.pay(acc_order, "half")
    text = users.edit_order(order)                     # both flows have work in the killed run
    world.exchange("accounting")
    world.exchange("crm")
    killed = world.run(crash=point)
    assert killed.code == 137 and killed.crashed_at == point, killed.stderr
    world.settle(4)
    assert_converged(world)
    assert world.acc.get(acc_order).fields["Комментарий"] == text
    assert row(world.copy_in("crm", payment))["Заказ"] == order
    assert len(world.crm.objects(BANK)) == 1 and len(world.acc.objects(ORDER)) == 1
