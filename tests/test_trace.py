"""`onecsync trace`: an object's journey through the scenario between two emulated bases (an
order from the CRM, its payment, its sale), why a parked or waiting object stays, a query that
names nothing (exit 2), and that it reads while a run holds the lock and writes nothing."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest

from onecsync.state.payloads import unpack
from tests import factory as f
from tests.emulator import data as d
from tests.emulator.users import ORDER
from tests.emulator.users import Users
from tests.emulator.world import World
from tests.test_cli import file_mtimes
from tests.test_cli import tree_digest

# A rule that cannot apply to the currency (ДанныеКлассификатора is a group, not a value).
FAILING_RULE = ("mapping:\n  crm:\n    Справочник.Валюты:\n"
                "      set: {КлючевыеСвойства/ДанныеКлассификатора: \"643\"}\n")


def trace(world: World, *query: str) -> tuple[dict, str]:
    """`trace --json QUERY` and `trace QUERY`, both exit 0."""
    p = world.cli("--json", "trace", *query)
    assert p.code == 0, p.stderr
    text = world.cli("trace", *query, env={"COLUMNS": "200"})
    assert text.code == 0, text.stderr
    return p.report, text.stdout


def scenario(world: World):
    """The CRM's order reaches accounting, is paid, then shipped; every step comes back."""
    s = d.seed_accounting(world.acc)
    world.settle(2)
    users = Users(world, s)
    order = users.add_order(ORDER, qty=4)
    world.settle(2)
    acc_order = world.copy_in("accounting", order)
    payment = users.pay(acc_order.ref, "full")
    world.round()
    sale = users.ship(acc_order.ref, qty=4)
    world.settle(3)
    return order, acc_order, payment, sale


def test_an_order_its_payment_and_its_sale_are_traced_through_every_step(world):
    order, acc_order, payment, sale = scenario(world)
    number = acc_order.fields["Номер"]

    report, text = trace(world, number, acc_order.fields["Дата"][:10])
    t = report["trace"]
    assert (t["type"], t["ref"], t["number"]) == (ORDER, order.id, number)
    assert t["crm_invoice"]["number"] == number
    [v] = t["versions"]
    assert v["from"] == "crm" and v["newest"] and v["received_at"]
    assert v["message_no"] >= 1
    [r] = t["routing"]
    assert r["decision"] == "forwarded"
    [delivery] = t["deliveries"]
    assert delivery["to"] == "accounting" and delivery["state"] == "confirmed"
    assert delivery["sent_at"] and delivery["confirmed_at"] and delivery["message_no"] >= 1
    assert delivery["confirmed_no"] >= delivery["message_no"]
    assert {o["ref"] for o in t["named_by"]} == {payment.id, sale.id}
    assert t["unknown"] == []
    lines = text.splitlines()
    assert lines[0].startswith(f"{ORDER} · {number} of ")
    steps = [line[38:] for line in lines if line.startswith("  ") and "· from" not in line]
    assert steps == [
        f"received from crm in its message {v['message_no']}, format {v['format']} "
        f"(version {v['digest'][:8]}, newest)",
        "routing: forwarded to the other base",
        "registered for accounting",
        f"sent to accounting in our message {delivery['message_no']}",
        f"confirmed by accounting (its ReceivedNo {delivery['confirmed_no']})"], text
    assert "named by" in text and payment.id in text and sale.id in text

    for doc in (payment, sale):
        report, text = trace(world, doc.id.upper())  # a Ссылка in any case
        t = report["trace"]
        assert t["ref"] == doc.id and t["versions"][0]["from"] == "accounting"
        [r] = t["routing"]
        assert r["decision"] == "forwarded"
        assert [n["ref"] for n in r["names_invoices"]] == [order.id]
        assert [(x["to"], x["state"]) for x in t["deliveries"]] == [("crm", "confirmed")]
        assert f"(it names CRM ЗаказКлиента {number})" in text
        assert "confirmed by crm (its ReceivedNo" in text

    # The --xml of the newest: the payload as stored.
    p = world.cli("trace", "--xml", sale.id)
    assert p.code == 0, p.stderr
    with world.db() as c:
        [stored] = c.execute("SELECT p.xml FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id "
                             "WHERE i.ref = ?", (sale.id,)).fetchone()
    assert p.stdout.strip() == unpack(stored).decode().strip()
    assert p.stdout.startswith("<Документ.РеализацияТоваровУслуг>") and sale.id in p.stdout

    # An ИНН: every object of that counterparty, as a short list.
    report, text = trace(world, "7705432193")
    assert report["trace"] is None
    refs = {o["ref"] for o in report["objects"]}
    assert {order.id, payment.id, sale.id} <= refs
    assert text.startswith(f"{len(refs)} objects; trace one by its Ссылка:")


def test_a_waiting_payment_and_an_unsent_object_say_how_long_and_why(world):
    s = d.seed_accounting(world.acc)
    world.settle(2)
    users = Users(world, s)
    _, own_payment = users.own_order_and_payment()   # names an order the CRM never had
    world.settle(2)
    report, text = trace(world, own_payment.id)
    [r] = report["trace"]["routing"]
    assert r["decision"] == "waiting" and report["trace"]["deliveries"] == []
    assert "routing: waiting for its invoice" in text
    assert "not registered for any base" in text
    # Sent, not yet confirmed: how long it has been waiting.
    world.acc.edit(s.vector, Наименование="Вектор-М ООО")
    world.round()
    report, text = trace(world, s.vector.id)
    [delivery] = report["trace"]["deliveries"]
    assert delivery["state"] == "waiting for confirmation"
    assert delivery["waiting_seconds"] is not None and delivery["waiting_seconds"] >= 0
    assert "now" in text and f"for crm to confirm our message {delivery['message_no']}" in text
    versions = report["trace"]["versions"]
    assert len(versions) == 2 and [v["newest"] for v in versions] == [False, True]


def test_a_parked_object_says_why(world):
    world.config.write_text(world.config.read_text(encoding="utf-8") + FAILING_RULE,
                            encoding="utf-8")
    s = d.seed_accounting(world.acc)
    world.round()
    assert world.runs[-1].code == 7
    report, text = trace(world, s.rub.id)
    [r] = report["trace"]["routing"]
    assert r["decision"] == "parked" and "mapping for crm" in r["reason"]
    assert "ДанныеКлассификатора" in r["reason"]
    assert f"routing: parked: {r['reason']}" in text


@pytest.mark.parametrize("query, line", [
    (["nonsense-zzz"], "no object with number nonsense-zzz has passed through onecsync"),
    ([f.ref(77)], f"no object with Ссылка {f.ref(77)} has passed through onecsync"),
    (["7700000000"], "no counterparty with ИНН 7700000000 has passed through onecsync"),
    # Our organization's ИНН: its Организации object came, but only counterparties are found by it.
    ([d.ORG_INN], f"ИНН {d.ORG_INN} is an organization's (Справочник.Организации "),
    (["СЧ-000123", "2026-12-01"], "no object with number СЧ-000123 2026-12-01"),
    (["СЧ-000123", "1 декабря"], "is not a Ссылка, an ИНН, or a number and a date"),
    # The shape of a date, but no day of the calendar (review 6, m7).
    (["СЧ-000123", "2026-13-45"], "trace: '2026-13-45' is not a date: there is no such day"),
    (["СЧ-000123", "2026-02-29"], "trace: '2026-02-29' is not a date: there is no such day"),
    (["СЧ-000123", "٢٠٢٦-١٢-٠١"], "is not a Ссылка, an ИНН, or a number and a date"),
])
def test_a_query_that_names_nothing_is_exit_2_with_one_line(world, query, line):
    d.seed_accounting(world.acc)
    world.settle(1)
    before = tree_digest(world.root)
    for json_flag in ([], ["--json"]):
        p = world.cli(*json_flag, "trace", *query)
        assert p.code == 2, p.stderr
        if not json_flag:
            assert p.stdout == "" and len(p.stderr.strip().splitlines()) == 1, p.stderr
            assert line in p.stderr
    assert tree_digest(world.root) == before


def test_a_query_that_names_nothing_says_so_in_russian_every_word(world):
    d.seed_accounting(world.acc)
    world.settle(1)
    p = world.cli("trace", "nonsense-zzz", env={"LANG": "ru_RU.UTF-8"})
    assert p.code == 2 and "nonsense-zzz" in p.stderr, p.stderr
    assert "number" not in p.stderr and "номер" in p.stderr, p.stderr


@pytest.mark.parametrize("query", [["x" * 120_000], ["x" * 120_000, "y", "z"],
                                   ["СЧ-1", "9" * 120_000]])
def test_a_huge_query_is_not_echoed_whole(sandbox, query):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка", "7705432193")]))
    assert sandbox.run("run")[0] == 0
    code, out, err = sandbox.human("trace", *query)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1, err[:300]
    words = " ".join(query)
    assert len(err) < 400 and f"{words[:60]}… ({len(words)} characters)" in err, err[:400]


HOLD_WRITE = ("import sqlite3, sys, time\n"
              "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
              "c.execute('BEGIN IMMEDIATE')\n"
              "c.execute(\"UPDATE peers SET last_sent_at = 'mid-run'\")\n"
              "print('writing', flush=True)\n"
              "time.sleep(30)\n")


def test_trace_reads_during_a_run_without_lock_or_writes(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка", "7705432193")]))
    assert sandbox.run("run")[0] == 0
    sandbox.state_path.chmod(0o400)  # a write would fail loudly
    with sandbox.lock_held():
        # ... and a run's transaction open on the state, uncommitted.
        writer = subprocess.Popen([sys.executable, "-c", HOLD_WRITE, str(sandbox.state_path)],
                                  stdout=subprocess.PIPE, text=True)
        try:
            assert writer.stdout.readline().strip() == "writing"
            mtimes = file_mtimes(sandbox.root)
            code, report, err = sandbox.run("trace", "7705432193")
            assert file_mtimes(sandbox.root) == mtimes
        finally:
            writer.kill()
            writer.wait()
    assert code == 0, err
    t = report["trace"]
    assert t["ref"] == f.ref(1) and t["inn"] == "7705432193"
    assert t["deliveries"][0]["state"] == "waiting for confirmation"
    assert t["versions"][0]["received_at"]  # the last commit, not the run's 'mid-run' write


def test_rows_from_before_the_migration_say_what_cannot_be_known(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    assert sandbox.run("run")[0] == 0
    with sqlite3.connect(sandbox.state_path) as c:  # as an older onecsync left them
        c.execute("DELETE FROM versions")
        c.execute("UPDATE registrations SET stamped_at = NULL, confirmed_at = NULL")
    c.close()
    code, report, err = sandbox.run("trace", f.ref(1))
    assert code == 0, err
    t = report["trace"]
    assert t["versions"][0]["received_at"] is None
    assert t["deliveries"][0]["state"] == "confirmed"
    assert t["unknown"] == ["versions from accounting before the newest",
                            "when our message 1 to crm was written", "when crm confirmed it"]
    _, out, _ = sandbox.human("trace", f.ref(1))
    assert "time not recorded" in out and "not recorded by the onecsync of the time" in out


def test_an_object_edited_for_years_keeps_its_last_versions_and_a_deletion_its_number(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.payment(f.ref(3), None, "2.00", number="X-2")]))
    assert sandbox.run("run")[0] == 0
    with sqlite3.connect(sandbox.state_path) as c:  # 30 more versions, as 30 messages make
        for i in range(30):
            c.execute("UPDATE inbox SET digest = ?, message_no = ? WHERE ref = ?",
                      (f"d{i}", i + 2, f.ref(3)))
        c.execute("UPDATE inbox SET digest = 'd29' WHERE ref = ?", (f.ref(3),))  # a copy again
    c.close()
    code, report, err = sandbox.run("trace", "X-2")
    assert code == 0, err
    versions = report["trace"]["versions"]
    assert [v["message_no"] for v in versions] == list(range(12, 32))
    assert "versions from accounting before the last 20" in report["trace"]["unknown"]
    # A document numbered with ten digits (what an ИНН looks like) is found by its number.
    sandbox.put("accounting", f.Msg(message_no=2, objects=[
        f.payment(f.ref(4), None, "3.00", number="0000000123")]))
    assert sandbox.run("run")[0] == 0
    code, report, err = sandbox.run("trace", "0000000123")
    assert code == 0 and report["trace"]["ref"] == f.ref(4), err
    # Its deletion comes: the document is still found by its number.
    sandbox.put("accounting", f.Msg(message_no=3, objects=[
        f.deletion("ПБДСРасчетыСКонтрагентамиСсылка", f.ref(3))]))
    assert sandbox.run("run")[0] == 0
    code, report, err = sandbox.run("trace", "X-2")
    assert code == 0, err
    assert report["trace"]["versions"][-1]["kind"] == "delete"


def test_a_deletion_has_no_number_and_trace_says_so_not_that_it_went_unrecorded(sandbox):
    """A deletion carries only the object's Ссылка: nothing was left unrecorded."""
    sandbox.put("accounting", f.Msg(objects=[
        f.deletion("ПБДСРасчетыСКонтрагентамиСсылка", f.ref(9))]))
    assert sandbox.run("run")[0] == 0
    code, report, err = sandbox.run("trace", f.ref(9))
    assert code == 0, err
    t = report["trace"]
    assert t["number"] is None and [v["kind"] for v in t["versions"]] == ["delete"]
    assert not any("number" in u for u in t["unknown"]), t["unknown"]
    _, out, _ = sandbox.human("trace", f.ref(9))
    assert "not recorded by the onecsync of the time" not in out
    assert "a deletion carries no number or date, only the Ссылка" in out, out


HOSTILE = "Техно\u009b2J\u009d0;pwn\u009c\u202eСнаб"  # 8-bit CSI, OSC, ST, RLO: legal XML


@pytest.mark.parametrize("terminal", [True, False], ids=["terminal", "pipe"])
def test_trace_xml_to_a_terminal_writes_controls_as_references(sandbox, monkeypatch, terminal):
    """A base's text must not command the terminal; piped, the payload is as stored (review
    7b, m5). Either way it is the same XML document."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), HOSTILE)]))
    assert sandbox.run("run")[0] == 0
    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal, raising=False)
    code, out, err = sandbox.human("trace", "--xml", f.ref(1))
    assert code == 0, err
    if terminal:
        assert "Техно&#x9B;2J&#x9D;0;pwn&#x9C;&#x202E;Снаб" in out, out
        assert not any(c in out for c in "\u009b\u009d\u009c\u202e")
    else:
        assert HOSTILE in out
