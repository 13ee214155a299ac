"""The business scenario of issue 3 on the directory transport: invoices from the CRM to
accounting, linked settlements back, and nothing else. Each step checks the exact objects of the
outgoing messages and the numbers in their headers."""

from __future__ import annotations

from functools import partial

import pytest

from onecsync.cli import main
from tests import factory as f
from tests.emulator.folder import put_back
from tests.emulator.world import World

O1, O2, A9 = f.ref(1, "c0ffee00"), f.ref(2, "c0ffee00"), f.ref(9, "acc00000")
P1, P2, P3, P9 = (f.ref(i, "0a000000") for i in (1, 2, 3, 9))
S1, R1 = f.ref(1, "5a1e0000"), f.ref(1, "7e700000")


@pytest.fixture
def world(sandbox):
    """The two bases as the emulator runs them, on the sandbox's folders and config."""
    return World(sandbox.root, config=sandbox.config.read_text(encoding="utf-8"))


@pytest.fixture
def bases(world):
    """`acc(*objects, receive=True)`: a user of accounting enters the objects (tests/factory.py
    elements), then the base exchanges (`receive=False`: without importing our last message)."""
    return partial(world.send, "accounting"), partial(world.send, "crm")


def sent(sandbox, peer: str) -> dict:
    return sandbox.outgoing(peer)


def run(sandbox, command: str = "run") -> dict:
    code, report, err = sandbox.run(command)
    assert code == 0, err
    return report


def test_the_whole_scenario(sandbox, bases):
    acc, crm = bases
    # Catalogs to the CRM; the CRM's order to accounting.
    acc(f.counterparty(f.CUSTOMER, "Вектор ООО", "7705432193"), f.currency(f.ref(50)))
    crm(f.order(O1))
    run(sandbox)
    assert sent(sandbox, "crm")["objects"] == [("Справочник.Контрагенты", f.CUSTOMER),
                                               ("Справочник.Валюты", f.ref(50))]
    out = sent(sandbox, "accounting")
    assert out["objects"] == [("Документ.ЗаказКлиента", O1)]
    assert (out["message_no"], out["received_no"]) == (1, 1)

    # A partial payment for it, and a payment for an order made in accounting.
    acc(f.payment(P1, O1, "50000.00"), f.order(A9, number="БП-000009"),
             f.payment(P9, A9, "700.00", number="ТС00-000499"))
    crm()
    report = run(sandbox)
    out = sent(sandbox, "crm")
    assert out["objects"] == [("Документ.ПБДСРасчетыСКонтрагентами", P1)]
    assert (out["message_no"], out["received_no"]) == (2, 2)
    assert report["routed"]["pull-settlements"] == {"registered": 1, "waiting": 1}
    assert report["routed"]["push-invoices"] == {"ignored": 1}  # its way back: A9 is not the CRM's
    assert sent(sandbox, "accounting")["objects"] == []  # confirmed by accounting's message 2

    # The remaining payment, the sale and a return of part of it.
    acc(f.payment(P2, O1, "73000.00", number="ТС00-000413"), f.sale(S1, O1), f.sale_return(R1, S1))
    crm()
    run(sandbox)
    assert sent(sandbox, "crm")["objects"] == [("Документ.РеализацияТоваровУслуг", S1),
                                               ("Документ.ПБДСРасчетыСКонтрагентами", P2),
                                               ("Документ.ВозвратТоваровОтПокупателя", R1)]

    # The accountant edits the CRM's order: the change goes to the CRM.
    acc(f.order(O1, amount="120000.00"))
    crm()
    run(sandbox)
    out = sent(sandbox, "crm")
    assert out["objects"] == [("Документ.ЗаказКлиента", O1)]
    assert b"<\xd0\xa1\xd1\x83\xd0\xbc\xd0\xbc\xd0\xb0>120000.00<" in out["path"].read_bytes()

    # A payment that arrives before its order waits, and goes once the order is here.
    acc(f.payment(P3, O2, "10.00", number="ТС00-000414"))
    crm()
    run(sandbox)
    assert sent(sandbox, "crm")["objects"] == []
    acc()
    crm(f.order(O2, number="ЦР00-000154", amount="10.00"))
    run(sandbox)
    assert sent(sandbox, "accounting")["objects"] == [("Документ.ЗаказКлиента", O2)]
    assert sent(sandbox, "crm")["objects"] == [("Документ.ПБДСРасчетыСКонтрагентами", P3)]

    # A deleted payment: its deletion goes to the CRM. A deleted accounting-only payment does not.
    acc(f.deletion("ПБДСРасчетыСКонтрагентамиСсылка", P1),
             f.deletion("ПБДСРасчетыСКонтрагентамиСсылка", P9))
    crm()
    run(sandbox)
    assert sent(sandbox, "crm")["objects"] == [("delete", "ПБДСРасчетыСКонтрагентамиСсылка", P1)]

    # The registry holds both CRM orders, with their amounts.
    with sandbox.db() as c:
        rows = c.execute("SELECT ref, number, amount, counterparty FROM invoices ORDER BY ref").fetchall()
    assert rows == [(O1, "ЦР00-000153", "120000.00", "Вектор ООО"),
                    (O2, "ЦР00-000154", "10.00", "Вектор ООО")]


def test_an_order_sent_back_unchanged_is_not_echoed(sandbox, bases):
    acc, crm = bases
    crm(f.order(O1))
    run(sandbox)
    # Accounting posts it and sends it back exactly as it got it, differently indented.
    acc(f.order(O1).replace("><", ">\n  <"))
    crm()
    report = run(sandbox)
    assert report["routed"]["push-invoices"]["echo"] == 1  # routed on its way back
    assert sandbox.outgoing_path("crm") is None or sent(sandbox, "crm")["objects"] == []


def edited_in_accounting(sandbox, bases) -> None:
    """The CRM's order reaches accounting, the accountant changes it to 1.00, that goes back."""
    acc, crm = bases
    crm(f.order(O1))
    run(sandbox)
    acc(f.order(O1, amount="1.00"))
    crm()
    run(sandbox)
    assert sent(sandbox, "crm")["objects"] == [("Документ.ЗаказКлиента", O1)]
    assert amount_sent(sandbox, "crm") == b"1.00"


def test_a_crm_edit_after_an_accounting_edit_goes_to_accounting(sandbox, bases):
    acc, crm = bases
    edited_in_accounting(sandbox, bases)
    crm(f.order(O1, amount="2.00"))
    acc()
    run(sandbox)
    out = sent(sandbox, "accounting")
    assert out["objects"] == [("Документ.ЗаказКлиента", O1)]
    assert "<Сумма>2.00</Сумма>".encode() in out["path"].read_bytes()


def test_commands_run_one_flow_each(sandbox, bases):
    acc, crm = bases
    crm(f.order(O1))
    acc(f.payment(P1, O1, "1.00"), f.currency(f.ref(50)))
    # push-invoices reads both bases (accounting's changes to CRM invoices come back with it)
    # and routes invoices only: the payment and the currency wait, and status says for which flow.
    report = run(sandbox, "push-invoices")
    assert set(report["peers"]) == {"crm", "accounting"}
    assert report["peers"]["accounting"]["received"]["objects"] == 2
    assert sent(sandbox, "accounting")["objects"] == [("Документ.ЗаказКлиента", O1)]
    code, status, _ = sandbox.run("status")
    assert code == 0 and status["peers"]["accounting"]["held"] == {"pull-catalogs": 1,
                                                                   "pull-settlements": 1}
    sandbox.capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--config", str(sandbox.config), "status"])
    text = sandbox.capsys.readouterr().out
    assert "held" in text and "1 objects wait for pull-settlements to route them" in text
    # pull-catalogs routes the catalogs only.
    run(sandbox, "pull-catalogs")
    assert sent(sandbox, "crm")["objects"] == [("Справочник.Валюты", f.ref(50))]
    # pull-settlements routes the payment, which names the order now in the registry.
    run(sandbox, "pull-settlements")
    assert ("Документ.ПБДСРасчетыСКонтрагентами", P1) in sent(sandbox, "crm")["objects"]


def test_a_deleted_crm_order_is_deleted_in_accounting(sandbox, bases):
    acc, crm = bases
    crm(f.order(O1))
    run(sandbox)
    crm(f.deletion("ЗаказКлиентаСсылка", O1))
    acc()
    run(sandbox)
    assert sent(sandbox, "accounting")["objects"] == [("delete", "ЗаказКлиентаСсылка", O1)]
    with sandbox.db() as c:
        assert c.execute("SELECT deleted FROM invoices WHERE ref = ?", (O1,)).fetchone() == (1,)


def amount_sent(sandbox, peer: str) -> bytes | None:
    out = sent(sandbox, peer)
    if ("Документ.ЗаказКлиента", O1) not in out["objects"]:
        return None
    text = out["path"].read_bytes().decode()
    return text.split("<Сумма>", 1)[1].split("<", 1)[0].encode()


def test_edits_that_cross_in_one_run_are_not_swapped(sandbox, bases):
    """Both bases change the order before either has the other's change: the CRM's version
    goes to accounting (which imports it over its own), and accounting's is not sent to the
    CRM. Passing both on would leave each base with the other's version, for good."""
    acc, crm = bases
    crm(f.order(O1))
    run(sandbox)
    acc(f.order(O1, amount="1.00"))   # accounting has the order and changes it ...
    crm(f.order(O1, amount="2.00"))   # ... while the manager changes it too
    report = run(sandbox)
    assert amount_sent(sandbox, "accounting") == b"2.00"
    assert amount_sent(sandbox, "crm") is None
    assert report["routed"]["push-invoices"] == {"registered": 1, "ignored": 1}
    with sandbox.db() as c:
        assert c.execute("SELECT amount FROM invoices").fetchall() == [("2.00",)]


def test_a_crm_edit_made_before_it_imported_accountings_edit_is_not_sent_on(sandbox, bases):
    """Accounting's change is on its way to the CRM; the manager changes the order before the
    CRM has imported it. The CRM will import accounting's version over the manager's, so the
    manager's must not go to accounting (accounting would keep it, the CRM not)."""
    acc, crm = bases
    edited_in_accounting(sandbox, bases)
    crm(f.order(O1, amount="2.00"), receive=False)
    acc()
    report = run(sandbox)
    assert amount_sent(sandbox, "accounting") is None
    assert amount_sent(sandbox, "crm") == b"1.00"          # still owed, sent again
    assert report["routed"]["push-invoices"] == {"ignored": 1}
    # Once the CRM has imported it (and says so), a new change goes to accounting again.
    crm(f.order(O1, amount="3.00"))
    acc()
    run(sandbox)
    assert amount_sent(sandbox, "accounting") == b"3.00"


def test_a_sale_naming_the_crm_order_only_in_its_services_table_is_forwarded(sandbox, world, bases):
    """One of the built-in link paths of a sale, Услуги/Строка/Заказ/Ссылка (1.19 on): no
    Заказ in its header, no goods, the CRM's order in a services row."""
    text = sandbox.config.read_text(encoding="utf-8")
    sandbox.write_config(text.replace("node:\n", 'node:\n  formats: ["1.8", "1.19"]\n'))
    acc, crm = bases
    acc(f.counterparty(f.CUSTOMER, "Вектор ООО", "7705432193"), f.currency(f.ref(50)))
    crm(f.order(O1))
    run(sandbox)
    assert sent(sandbox, "accounting")["objects"] == [("Документ.ЗаказКлиента", O1)]
    # The emulator writes up to 1.17: accounting's 1.19 message is written by hand, numbered as
    # the base numbers it, after the base imported ours.
    base = world.acc
    base.import_message(world.ours("accounting").read_bytes())
    base.sent_no += 1
    put_back(world.theirs("accounting"), f.Msg(
        message_no=base.sent_no, received_no=base.received_no, version="1.19",
        versions=("1.8", "1.19"), created="2026-11-20T11:00:00",
        objects=[f.sale(S1, None, services_order=O1)]).xml())
    crm()
    run(sandbox)
    assert sent(sandbox, "crm")["objects"] == [("Документ.РеализацияТоваровУслуг", S1)]
