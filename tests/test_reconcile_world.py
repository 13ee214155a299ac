"""reconcile end to end: the real CLI against both emulated bases served over real OData.

Both bases of a `World` expose 1C's standard OData interface (tests/emulator/odata.py: a real
HTTP server over the base's store); the business scenario runs and converges, and `onecsync
reconcile` must then find nothing. Each kind of drift is then made to really happen in a base —
the way 1C lets it happen: a change written without registration for our node (a direct edit by
an administrator, a document dated before the synchronization's start, «Удаление помеченных» with
the exchange off) — and reconcile must report exactly that drift (exit 9); `reconcile --heal`
plus a few rounds, or the user's remedy the drift names, must bring a clean reconcile again.
A publication that lies (ignores $skip or $top, sends a nextLink elsewhere, answers malformed
JSON or a login page) stops reconcile with exit 4 and one line, the state as it was.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import pytest

from onecsync.flows import reconcile_window
from tests.emulator import data as d
from tests.emulator.odata import EMPTY
from tests.emulator.odata import PASSWORD
from tests.emulator.odata import USER
from tests.emulator.odata import ODataService
from tests.emulator.odata import expose
from tests.emulator.users import BANK
from tests.emulator.users import INVOICE
from tests.emulator.users import ORDER
from tests.emulator.users import Users
from tests.emulator.world import Run
from tests.emulator.world import World
from tests.emulator.world import assert_converged
from tests.emulator.world import scratch_dir

PASSWORD_ENV = "ONECSYNC_TEST_ODATA_PASSWORD"


@dataclass
class Scene:
    world: World
    users: Users
    services: dict[str, ODataService]

    @property
    def acc(self):
        return self.world.acc

    @property
    def crm(self):
        return self.world.crm

    def cli(self, *args: str) -> Run:
        run = self.world.cli("--json", *args)
        assert run.code not in (1, 70), run.stderr
        return run

    def reconcile(self, *args: str) -> tuple[int, list[tuple[str, str, str, str]], Run]:
        run = self.cli("reconcile", *args)
        drift = sorted((x["kind"], x["peer"], x["type"], x["ref"]) for x in run.report["drift"])
        return run.code, drift, run

    def rounds(self, n: int = 3) -> list[Run]:
        """Rounds while drift may still be there: a run then exits 9, never anything else."""
        runs = [self.world.round() for _ in range(n)]
        assert all(r.code in (0, 9) for r in runs), [(r.code, r.stderr) for r in runs]
        return runs


@pytest.fixture
def scene(tmp_path, monkeypatch):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    with scratch_dir(tmp_path) as root:
        world = World(root, in_process=True)  # rounds in process: reconcile goes through `cli`
        with expose(world, password_env=PASSWORD_ENV, password=PASSWORD) as services:
            users = Users(world, d.seed_accounting(world.acc))
            world.settle(2)
            yield Scene(world, users, services)


def business(sc: Scene) -> dict:
    """The manager adds orders and an invoice; the accountant pays, ships, has his own order."""
    u = sc.users
    crm_orders = [u.add_order(), u.add_order(qty=2), u.add_order(INVOICE, qty=1), u.add_order()]
    sc.world.settle(2)
    o1, o2, inv, o4 = (sc.world.copy_in("accounting", r).ref for r in crm_orders)
    paid = u.pay(o1)
    half = u.pay(o2, "half", cash=True)
    sale = u.ship(inv, qty=1)
    own = u.own_order_and_payment()
    sc.world.settle(3)
    assert_converged(sc.world)
    return {"crm": crm_orders, "acc": [o1, o2, inv, o4], "paid": paid, "half": half,
            "sale": sale, "own": own}


def test_a_converged_world_has_no_drift(scene):
    b = business(scene)
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    acc, crm = scene.services["accounting"], scene.services["crm"]
    asked = acc.queries("Document_СчетНаОплатуПокупателю")
    assert asked and all(q["$format"] == "json" and q["$orderby"] == "Ref_Key" for q in asked)
    assert any(f"Ref_Key eq guid'{scene.acc.identity(b['acc'][0])}'" in q.get("$filter", "")
               for q in asked)
    assert acc.queries("Document_ПоступлениеНаРасчетныйСчет_РасшифровкаПлатежа")
    assert acc.queries("Document_РеализацияТоваровУслуг")
    # The payments and the sale forwarded to the CRM are looked for there.
    assert crm.queries("Document_ПоступлениеБезналичныхДенежныхСредств")
    assert crm.queries("Document_ПриходныйКассовыйОрдер")
    assert PASSWORD not in run.stderr


def test_each_kind_of_drift_really_made_in_the_bases_is_found_and_made_good(scene):
    b = business(scene)
    acc, crm, w, u = scene.acc, scene.crm, scene.world, scene.users
    o1, o2, inv, o4 = b["acc"]
    o5_crm = u.add_order(qty=3)
    w.settle(2)
    o5 = w.copy_in("accounting", o5_crm).ref
    pid = acc.identity

    # The accountant's direct edit of a CRM order's sum, written without registration for us.
    acc.get(o4).fields["Сумма"] = "1.00"
    # Another one unposted («Отмена проведения»: a write, sent again unchanged).
    acc.get(o2).posted = False
    acc.register(o2)
    # The CRM's invoice marked for deletion in accounting (sent on unchanged: EnterpriseData
    # has no deletion mark), and an untouched CRM order deleted there with the exchange off.
    acc.mark_deleted(inv)
    del acc.store.objects[o5]
    # A payment for a CRM order entered before the synchronization's start: never registered.
    unsent = acc.create(BANK, d.bank_receipt_fields(u.s, "БП00-900001", "2026-11-27T10:00:00",
                                                    "1000.00", o4), register=False)
    # In the CRM, a payment onecsync forwarded and the CRM confirmed is gone.
    del crm.store.objects[w.copy_in("crm", b["paid"]).ref]
    scene.rounds(2)

    code, drift, run = scene.reconcile()
    assert code == 9, run.stderr
    assert drift == sorted([
        ("amount", "accounting", ORDER, pid(o4)),
        ("unposted", "accounting", ORDER, pid(o2)),
        ("deleted", "accounting", INVOICE, pid(inv)),
        ("missing", "accounting", ORDER, o5_crm.id),
        ("not-forwarded", "crm", BANK, unsent.id),
        ("missing", "crm", BANK, pid(b["paid"])),
    ])
    by_kind = {x["kind"] + x["peer"]: x for x in run.report["drift"]}
    crm_sum = crm.get(b["crm"][3]).fields["Сумма"]
    assert f"accounting has 1.00, the CRM sent {crm_sum}" in by_kind["amountaccounting"]["detail"]
    assert "never received it" in by_kind["not-forwardedcrm"]["detail"]
    assert [k for k, x in sorted(by_kind.items()) if x["healable"]] == [
        "missingaccounting", "missingcrm"]
    assert f"drift: missing accounting {ORDER} {o5_crm.id}" in run.stderr

    # --heal registers what onecsync can send again; the rest is the users' to put right.
    code, _, run = scene.reconcile("--heal")
    assert (code, run.report["routed"]["healed"]) == (9, 2), run.stderr
    acc.register(o4)                 # «Зарегистрировать изменения»: accounting's sum goes out
    acc.get(o2).posted = True
    acc.register(o2)
    acc.mark_deleted(inv, False)
    acc.register(unsent)
    scene.rounds(3)
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    w.settle(1)
    assert_converged(w)
    assert acc.get(o5).fields["Номер"] == crm.get(o5_crm).fields["Номер"]  # back in accounting
    assert crm.get(o4_crm := b["crm"][3]).fields["Сумма"] == "1.00", o4_crm  # accounting's sum


def test_paging_and_chunking_against_the_real_server_find_the_same_drift(scene):
    b = business(scene)
    acc, w, u = scene.acc, scene.world, scene.users
    more = [u.add_order(qty=1 + n % 3) for n in range(17)]  # 21 CRM invoices: two $filter chunks
    w.settle(2)
    acc.get(w.copy_in("accounting", more[0]).ref).fields["Сумма"] = "7.00"
    unsent = acc.create(BANK, d.bank_receipt_fields(u.s, "БП00-900002", "2026-11-27T11:00:00",
                                                    "100.00", b["acc"][0]), register=False)
    scene.rounds(2)  # drift only once accounting's next message did not bring them
    before = len(scene.services["accounting"].requests)
    code, drift, run = scene.reconcile()
    assert code == 9, run.stderr
    assert drift == sorted([("amount", "accounting", ORDER, more[0].id),
                            ("not-forwarded", "crm", BANK, unsent.id)])
    asked = [q for q in scene.services["accounting"].queries("Document_СчетНаОплатуПокупателю")]
    filters = sorted(q["$filter"].count(" eq guid'") for q in asked[-2:])
    assert len(scene.services["accounting"].requests) > before
    assert filters == [6, 15]  # reconcile_odata.CHUNK GUIDs per request at most

    # The same reconcile with pages of 2 rows: every set read in several pages, same answer.
    from onecsync.config import load_config
    from onecsync.flows.reconcile_odata import reconcile_odata
    from onecsync.odata import ODataClient
    from onecsync.state import open_state

    config = load_config(w.config)
    state = open_state(config.state)  # reconcile remembers what it saw
    try:
        clients = {n: ODataClient(config.bases[n].odata, page_size=2) for n in ("accounting", "crm")}
        start = len(scene.services["accounting"].requests)
        paged = sorted((x.kind, x.peer, x.type, x.ref) for x in reconcile_odata(config, state, clients))
    finally:
        state.conn.close()
    assert paged == drift
    skips = [int(q["$skip"]) for q in scene.services["accounting"].queries(
        "Document_СчетНаОплатуПокупателю")[-100:] if q["$top"] == "2"]
    assert len(scene.services["accounting"].requests) > start
    assert {0, 2, 4, 14} <= set(skips)  # 15 invoices of a chunk: pages at 0, 2, … 14


def test_the_server_answers_as_1c_does(scene):
    import requests

    from onecsync.httpclient import basic_auth

    acc = scene.services["accounting"]
    u = scene.users
    order, payment = u.own_order_and_payment()
    auth = {"Authorization": basic_auth(USER, PASSWORD)}  # requests' own auth is latin-1
    get = lambda path, query="": requests.get(  # noqa: E731
        f"{acc.url}/{path}" + (f"?{query}" if query else ""), headers=auth, timeout=10)

    rows = get("Document_ПоступлениеНаРасчетныйСчет_РасшифровкаПлатежа",
               f"$format=json&$filter=СчетНаОплату_Key%20eq%20guid'{order.id}'").json()["value"]
    assert [(r["Ref_Key"], r["LineNumber"], r["СуммаПлатежа"]) for r in rows] == [
        (payment.id, "1", float(scene.acc.get(order).fields["Сумма"]))]
    header = get(f"Document_ПоступлениеНаРасчетныйСчет(guid'{payment.id}')", "$format=json").json()
    assert header["Контрагент_Type"] == "StandardODATA.Catalog_Контрагенты"
    assert header["Posted"] is True and header["DeletionMark"] is False
    # A plain guid never equals a composite in 1C: cast() would be needed.
    composite = get("Document_ПоступлениеНаРасчетныйСчет",
                    f"$format=json&$filter=Контрагент%20eq%20guid'{header['Контрагент']}'")
    assert composite.json()["value"] == []
    count = get("Document_СчетНаОплатуПокупателю/$count",
                f"$filter=Ref_Key%20eq%20guid'{order.id}'%20or%20Posted%20eq%20false")
    assert count.content.decode("utf-8-sig") == "1"

    def error(resp) -> tuple[int, str]:
        return resp.status_code, resp.json()["odata.error"]["code"]
    assert error(get("Document_СчетНаОплатуПокупателю",
                     f"$format=json&$filter=Ref_Key+eq+guid'{order.id}'")) == (400, "14")
    assert error(get("Document_Нет", "$format=json")) == (404, "8")
    assert error(get("Document_СчетНаОплатуПокупателю", "$format=json&$select=Сумма")) == (400, "10")
    assert error(get(f"Document_СчетНаОплатуПокупателю(guid'{EMPTY}')", "$format=json")) == (404, "9")
    assert error(get("Document_СчетНаОплатуПокупателю", "$format=json&$expand=*")) == (400, "0")
    assert requests.get(f"{acc.url}/", auth=("odata", "wrong"), timeout=10).status_code == 401
    # $inlinecount makes 1C ignore $top and $skip (docs/odata.md §1.6).
    answer = get("Document_СчетНаОплатуПокупателю",
                 "$format=json&$top=1&$skip=5&$inlinecount=allpages&$select=Ref_Key").json()
    assert (answer["odata.count"], len(answer["value"])) == ("1", 1)  # $skip=5 was ignored

    from onecsync.config import load_config
    from onecsync.odata import ODataClient
    client = ODataClient(load_config(scene.world.config).bases["accounting"].odata)
    props = client.properties("Document_СчетНаОплатуПокупателю")
    assert props["СуммаДокумента"] == "Edm.Double" and props["Ref_Key"] == "Edm.Guid"
    assert client.count("Document_СчетНаОплатуПокупателю", filter=f"Ref_Key eq guid'{order.id}'") == 1
    check = scene.cli("check")
    assert check.code == 0, check.stderr


def test_a_wrong_password_or_entity_set_is_one_config_error_and_the_exchange_still_runs(
        scene, monkeypatch):
    u = scene.users
    u.add_order()
    scene.world.settle(2)  # accounting holds it: reconcile asks its OData about it
    u.add_order()
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    run = scene.world.round()
    assert run.code == 3, run.stderr
    assert f"refused user {USER!r}" in run.stderr and "not-the-password" not in run.stderr
    assert run.report["peers"]["accounting"]["sent"]["objects"] >= 1  # the exchange went through
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    scene.world.settle(1)
    text = scene.world.config.read_text(encoding="utf-8")
    scene.world.config.write_text(text.replace(
        "password_env: ONECSYNC_TEST_ODATA_PASSWORD}",
        "password_env: ONECSYNC_TEST_ODATA_PASSWORD, "
        "entities: {Документ.ЗаказКлиента: Document_ЗаказПокупателя}}", 1), encoding="utf-8")
    code, drift, run = scene.reconcile()
    assert code == 3, run.stderr
    assert "Document_ЗаказПокупателя: not found" in run.stderr
    assert "Не найден тип сущности" in run.stderr


def test_what_accounting_has_not_exported_yet_is_not_drift_until_it_has(scene):
    """1C exchanges on its own schedule: what the accountant entered since accounting's last
    export is in its OData but cannot have reached us. Only once accounting exported after
    reconcile first saw it, and it still did not come, is it drift."""
    b = business(scene)
    acc, w, u = scene.acc, scene.world, scene.users
    o1, o2, inv, o4 = b["acc"]
    payment = u.pay(o4)                          # registered: in accounting's next message
    acc.edit(o2, Сумма="99.00")                  # registered too
    unsent = acc.create(BANK, d.bank_receipt_fields(u.s, "БП00-900003", "2026-11-27T12:00:00",
                                                    "5.00", o1), register=False)
    run = w.run()                                # onecsync runs before accounting exchanges
    assert (run.code, run.report["drift"]) == (0, []), run.stderr
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    run = w.round()                              # accounting exports: two of the three come
    assert run.code == 9, run.stderr
    assert [(x["kind"], x["ref"]) for x in run.report["drift"]] == [("not-forwarded", unsent.id)]
    acc.register(unsent)
    scene.rounds(2)
    assert w.copy_in("crm", payment).fields["Номер"] == acc.get(payment).fields["Номер"]
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    assert_converged(w)


def test_a_payment_linked_in_accounting_after_it_reached_us_is_not_healed_with_the_stale_copy(
        scene):
    """The payment came without an order and waits in our inbox; the accountant then names the
    order in it, unregistered. Accounting's OData says it settles a CRM invoice, but the copy we
    hold names none: heal does not forward it (the CRM would hold a payment settling nothing,
    review 7 #8), and says to register it again in accounting, which brings the linked one."""
    b = business(scene)
    acc, w, u = scene.acc, scene.world, scene.users
    o4 = b["acc"][3]
    loose = acc.create(BANK, d.bank_receipt_fields(u.s, "БП00-900004", "2026-11-27T13:00:00",
                                                   "10.00", None))
    scene.rounds(2)
    assert (BANK, loose.id) in w.staged_refs("accounting")
    acc.get(loose).fields["РасшифровкаПлатежа"][0]["Заказ"] = o4
    code, drift, run = scene.reconcile()  # first seen: accounting may still bring it
    assert (code, drift) == (0, []), run.stderr
    scene.rounds(2)  # it exported and did not
    code, drift, run = scene.reconcile()
    assert (code, drift) == (9, [("not-forwarded", "crm", BANK, loose.id)]), run.stderr
    assert run.report["drift"][0]["healable"] and "waits in our inbox" in run.stderr
    code, _, run = scene.reconcile("--heal")
    assert run.report["routed"]["healed"] == 0
    assert "not forwarded: the copy we hold names no CRM invoice" in run.stderr
    scene.rounds(2)
    assert not w.copies("crm", loose)
    acc.register(loose)
    scene.rounds(2)
    assert w.copy_in("crm", loose).fields["РасшифровкаПлатежа"][0]["Заказ"]
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    assert_converged(w)


def with_rule(scene: Scene, rule: str) -> None:
    config = scene.world.config
    config.write_text(config.read_text(encoding="utf-8") + rule, encoding="utf-8")


def test_heal_does_not_send_what_a_mapping_rule_parked(scene):
    """Review 7 #8: heal registered the copy we hold for the CRM as stored, past the mapping."""
    w, u = scene.world, scene.users
    crm_order = u.add_order()
    w.settle(2)
    with_rule(scene, "mapping:\n  crm:\n    Документ.ПБДСРасчетыСКонтрагентами:\n"
                     "      set: {Контрагент: \"x\"}\n")  # a structure: it parks the payment
    paid = u.pay(w.copy_in("accounting", crm_order).ref)
    w.round()
    scene.reconcile()  # first seen
    w.round()
    code, drift, run = scene.reconcile("--heal")
    assert ("not-forwarded", "crm", BANK, paid.id) in drift, run.stderr
    assert run.report["routed"]["healed"] == 0
    assert f"{BANK} {paid.id}: not forwarded: parked" in run.stderr
    w.round()
    assert not w.copies("crm", paid)


def test_a_waiting_payment_linked_since_waits_for_accountings_export_then_goes_mapped(scene):
    """Review 7 #8: reconcile called a change accounting had not exported yet drift at once
    (exit 9); the linked version then goes as routing sends it, the field the rule drops
    dropped."""
    w, u, acc = scene.world, scene.users, scene.acc
    with_rule(scene, "mapping:\n  crm:\n    Документ.ПБДСРасчетыСКонтрагентами:\n"
                     "      drop: [ОбщиеДанные/НазначениеПлатежа]\n")
    crm_order = u.add_order()
    w.settle(2)
    order = w.copy_in("accounting", crm_order).ref
    paid = u.pay(order)
    rows = [dict(r) for r in acc.get(paid).fields["РасшифровкаПлатежа"]]
    rows[0].pop("Заказ")
    acc.edit(paid, РасшифровкаПлатежа=rows)  # entered without its order first: it waits
    w.settle(2)
    rows[0]["Заказ"] = order
    acc.edit(paid, РасшифровкаПлатежа=rows)  # linked, not exported yet
    code, drift, run = scene.reconcile("--heal")
    assert (code, drift, run.report["routed"]["healed"]) == (0, [], 0), run.stderr
    w.settle(2)
    copy = w.copy_in("crm", paid)
    assert copy.fields["РасшифровкаПлатежа"][0]["Заказ"]
    assert not copy.fields.get("ОбщиеДанные", {}).get("НазначениеПлатежа")
    assert acc.get(paid).fields["ОбщиеДанные"]["НазначениеПлатежа"]  # what the rule drops


# -- a lying OData publication, through the real CLI --------------------------------------------
def _held(world) -> dict:
    """All a reconcile may change in the state, the journal aside."""
    import contextlib

    with contextlib.closing(world.db()) as c:
        return {t: c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                for t in ("peers", "inbox", "registrations", "invoices", "meta")}


def _lied_to(scene: Scene, accounting_asked: int, exit_code: int = 4) -> str:
    """A reconcile against the lying accounting publication: exit 4, one line, in time, the
    state as it was, and only a few requests; returns the line."""
    import time

    before = _held(scene.world)
    start = time.monotonic()
    code, drift, run = scene.reconcile()
    assert time.monotonic() - start < 30
    assert code == exit_code, run.stderr
    lines = [x for x in run.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "Traceback" not in run.stderr, run.stderr
    assert lines[0].startswith(f"onecsync: error: reconcile: OData {scene.services['accounting'].url}: "), lines
    assert _held(scene.world) == before
    assert len(scene.services["accounting"].requests) - accounting_asked <= 3
    return lines[0]


@pytest.mark.parametrize("mode, words", [
    ("ignore-skip", "$skip=2: the page brings nothing new: the server ignores $skip"),
    ("ignore-top", "$skip=0: 4 rows where $top=2 was asked: the server ignores $top"),
])
def test_an_odata_server_that_lies_about_paging_stops_reconcile_with_exit_4(
        scene, monkeypatch, mode, words):
    from onecsync import odata

    business(scene)
    monkeypatch.setattr(odata, "PAGE", 2)  # the 4 invoices take two pages
    acc = scene.services["accounting"]
    acc.misbehave.add(mode)
    line = _lied_to(scene, len(acc.requests))
    assert f"Document_СчетНаОплатуПокупателю {words}" in line, line
    acc.misbehave.clear()
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr


def test_a_payment_of_several_rows_is_no_repeat_and_a_repeated_page_still_is(scene, monkeypatch):
    """R1 #2: a receipt's rows share its Ref_Key. Read without LineNumber, its second row looked
    like the first sent again, and reconcile exited 4 on every run. Three rows (two orders, one
    of them in two rows, as a VAT split makes) fill a page of three: paged, then lied about."""
    from onecsync import odata

    u, w = scene.users, scene.world
    o1, o2 = u.add_order(), u.add_order(qty=2)
    w.settle(2)
    a1, a2 = (w.copy_in("accounting", o).ref for o in (o1, o2))
    paid = u.pay(a1, "half")
    first = scene.acc.get(paid).fields["РасшифровкаПлатежа"][0]
    other = {**copy.deepcopy(first), "Заказ": a2}
    scene.acc.edit(paid, РасшифровкаПлатежа=[first, other, copy.deepcopy(first)])
    w.settle(3)
    assert_converged(w)
    monkeypatch.setattr(odata, "PAGE", 3)  # the two invoices on one page, the three rows fill one
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    acc = scene.services["accounting"]
    rows = acc.queries("Document_ПоступлениеНаРасчетныйСчет_РасшифровкаПлатежа")
    assert all(q["$orderby"] == "Ref_Key,LineNumber" for q in rows), rows
    acc.misbehave.add("ignore-skip")
    line = _lied_to(scene, len(acc.requests))
    assert ("Document_ПоступлениеНаРасчетныйСчет_РасшифровкаПлатежа $skip=3: the page brings "
            "nothing new: the server ignores $skip") in line, line


@pytest.mark.parametrize("lie, words", [
    # Review2 #2: each page new keys though the filter names a few invoices (RSS grew for ever).
    ("endless", "Document_СчетНаОплатуПокупателю $skip=0: row 0 has Ref_Key '00000001-0000-"),
    # Review2 #7: was exit 1 KeyError in reconcile_odata.
    ("drop:СчетНаОплату_Key", "Document_ПоступлениеНаРасчетныйСчет_РасшифровкаПлатежа $skip=0: "
                              "row 0 has no 'СчетНаОплату_Key', asked for in $select"),
    ("other-set", "Document_СчетНаОплатуПокупателю $skip=0: the answer holds rows of "
                  "'Catalog_Контрагенты', not of the set asked for"),
])
def test_odata_rows_that_were_not_asked_for_stop_reconcile_with_exit_4(scene, lie, words):
    business(scene)
    acc = scene.services["accounting"]
    acc.misbehave.add(lie)
    line = _lied_to(scene, len(acc.requests))
    assert words in line, line
    acc.misbehave.clear()
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr


def test_an_odata_next_link_to_another_host_is_not_followed_by_reconcile(scene, monkeypatch):
    """1C has no server-driven paging: a nextLink is ignored, wherever it points, and the
    pages onecsync asks for itself give the same (clean) answer."""
    from onecsync import odata

    business(scene)
    monkeypatch.setattr(odata, "PAGE", 2)
    for svc in scene.services.values():
        svc.misbehave.add("next-link")
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    assert not any("elsewhere" in path + query for svc in scene.services.values()
                   for path, query in svc.requests)


@pytest.mark.parametrize("body, words", [
    (b"[" * 100_000, "nested deeper than any real answer"),
    (b'{"value": [{"Number": "1"}]}', "the answer.value[0] has no 'Ref_Key'"),
    (b'{"value": [{"Ref_Key": "%s", "DeletionMark": NaN}]}' % EMPTY.encode(), "holds NaN"),
    (b'{"value": "\xff"}', "not UTF-8"),
])
def test_a_malformed_odata_answer_stops_reconcile_with_exit_4(scene, body, words):
    business(scene)
    acc = scene.services["accounting"]
    acc.raw = [body]
    line = _lied_to(scene, len(acc.requests))
    assert words in line, line


def test_an_html_page_for_odata_is_exit_3_check_the_url(scene):
    """A 200 login page is a wrong URL or publication: retrying will not change it (review 4)."""
    business(scene)
    acc = scene.services["accounting"]
    acc.raw = [b"<!DOCTYPE html><html><head><title>Sign in</title></head></html>"]
    line = _lied_to(scene, len(acc.requests), exit_code=3)
    assert "an HTML page 'Sign in', not 1C's service" in line, line
    assert "check the URL and the publication" in line, line


def test_a_crm_invoice_lost_in_accounting_is_healed_with_the_version_the_crm_holds(scene):
    """The accountant's edit reached the CRM; the invoice is then deleted in accounting with
    the exchange off. Heal sends accounting what the CRM holds (that edit), not the CRM's older
    copy: the bases end the same."""
    acc, crm, w, u = scene.acc, scene.crm, scene.world, scene.users
    crm_order = u.add_order()
    w.settle(2)
    order = w.copy_in("accounting", crm_order).ref
    text = u.edit_in_accounting(order)
    w.settle(3)
    assert crm.get(crm_order).fields["Комментарий"] == text
    del acc.store.objects[order]
    scene.rounds(1)

    code, drift, run = scene.reconcile("--heal")
    assert (code, drift) == (9, [("missing", "accounting", ORDER, crm_order.id)]), run.stderr
    assert run.report["routed"]["healed"] == 1
    w.settle(3)

    assert w.copy_in("accounting", crm_order).fields["Комментарий"] == text
    assert_converged(w)
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr


def test_a_linked_document_the_crm_holds_marked_for_deletion_is_drift_until_unmarked(scene):
    """Review 7 #4: withdrawn (its link removed), linked again and re-sent, the payment's copy
    in the CRM stays marked; reconcile reads DeletionMark and names it, until a user unmarks it."""
    w, u = scene.world, scene.users
    crm_order = u.add_order()
    w.settle(2)
    order = w.copy_in("accounting", crm_order).ref
    paid = u.pay(order)
    w.settle(3)

    def reassign(to) -> None:
        rows = copy.deepcopy(scene.acc.get(paid).fields["РасшифровкаПлатежа"])
        rows[0]["Заказ"] = to
        scene.acc.edit(paid, РасшифровкаПлатежа=rows)

    reassign(None)
    scene.rounds()
    reassign(order)
    scene.rounds()
    crm_copy = w.copy_in("crm", paid)
    assert crm_copy.deletion_mark
    code, drift, run = scene.reconcile()
    assert (code, drift) == (9, [("marked", "crm", BANK, paid.id.lower())]), run.stderr
    scene.crm.mark_deleted(crm_copy.ref, False)  # the remedy the drift names
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    assert scene.cli("status").report["peers"]["crm"]["marked_again"] == 0


def test_a_withdrawn_document_a_crm_user_unmarked_is_drift_healed_by_its_deletion_again(scene):
    """Review R1 #7: the payment no longer settles the CRM's order, and its copy there was sent
    its deletion (marked); a CRM user unmarks it, and it settles the order there again."""
    w, u = scene.world, scene.users
    crm_order = u.add_order()
    w.settle(2)
    paid = u.pay(w.copy_in("accounting", crm_order).ref)
    w.settle(3)
    rows = copy.deepcopy(scene.acc.get(paid).fields["РасшифровкаПлатежа"])
    rows[0]["Заказ"] = None
    scene.acc.edit(paid, РасшифровкаПлатежа=rows)
    scene.rounds()
    crm_copy = w.copy_in("crm", paid)
    assert crm_copy.deletion_mark
    assert scene.reconcile()[:2] == (0, [])
    scene.crm.mark_deleted(crm_copy.ref, False)
    code, drift, run = scene.reconcile("--heal")
    assert (code, drift) == (9, [("unmarked", "crm", BANK, paid.id.lower())]), run.stderr
    scene.rounds()
    assert w.copy_in("crm", paid).deletion_mark
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr


def test_a_crm_invoice_lost_in_accounting_is_healed_mapped_as_push_invoices_maps_it(scene):
    """Review 7 #8: heal registered the CRM's version for accounting as stored, past
    `mapping.accounting`."""
    acc, crm, w, u = scene.acc, scene.crm, scene.world, scene.users
    with_rule(scene, "mapping:\n  accounting:\n    Документ.ЗаказКлиента:\n"
                     "      drop: [Подразделение]\n")
    crm_order = u.add_order()
    w.settle(2)
    assert crm.get(crm_order).fields.get("Подразделение")
    assert not w.copy_in("accounting", crm_order).fields.get("Подразделение")
    del acc.store.objects[w.copy_in("accounting", crm_order).ref]
    scene.rounds(1)
    code, drift, run = scene.reconcile("--heal")
    assert (code, drift) == (9, [("missing", "accounting", ORDER, crm_order.id)]), run.stderr
    assert run.report["routed"]["healed"] == 1
    w.settle(3)
    assert not w.copy_in("accounting", crm_order).fields.get("Подразделение")


@pytest.mark.parametrize("kind", [ORDER, INVOICE])
def test_a_crm_invoice_marked_for_deletion_in_both_bases_is_no_drift(scene, kind):
    """Review 7a #11: marked in accounting, it is drift (exit 9) until the CRM's user marks
    it too (a mark travels in no message); then the bases agree, and reconcile says so."""
    w, u = scene.world, scene.users
    crm_order = u.add_order(kind)
    w.settle(2)
    scene.acc.mark_deleted(w.copy_in("accounting", crm_order).ref)
    scene.rounds(2)
    code, drift, run = scene.reconcile()
    assert (code, drift) == (9, [("deleted", "accounting", kind, crm_order.id.lower())]), run.stderr
    scene.crm.mark_deleted(crm_order)
    scene.rounds(2)
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    # Agreement is no drift to compare again on every run (reconcile_window).
    db = w.db()
    try:
        window = json.loads(db.execute("SELECT value FROM meta WHERE key = ?",
                                       (reconcile_window.KEY,)).fetchone()[0])
    finally:
        db.close()
    assert window["CRM invoices"]["drifted"] == []


@pytest.mark.parametrize("deleted_in", ["accounting", "crm"])
def test_an_invoice_a_user_unmarks_after_the_other_bases_deletion_won_a_crossing_is_drift(
        scene, deleted_in):
    """Review 8 #5: one base deletes a CRM invoice while the other edits it; the deletion wins
    (tests/test_crossing_deletion.py), the bases agree: no drift. A user of the base that holds
    it marked then unmarks it: its versions no longer go to the other base, which deleted it;
    reconcile names it (exit 9) until it is marked again."""
    w, u = scene.world, scene.users
    crm_order = u.add_order(INVOICE)
    w.settle(2)
    acc_copy = w.copy_in("accounting", crm_order).ref
    deleting, editing = (scene.acc, scene.crm) if deleted_in == "accounting" else (scene.crm, scene.acc)
    gone, kept = (acc_copy, crm_order) if deleted_in == "accounting" else (crm_order, acc_copy)
    deleting.mark_deleted(gone)
    deleting.delete(gone)
    editing.edit(kept, Комментарий="правка навстречу удалению")
    w.exchange(deleted_in)
    w.run()
    scene.rounds(3)
    assert_converged(w)
    assert editing.get(kept).deletion_mark
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
    editing.mark_deleted(kept, False)   # a user unmarks it (a change, registered, sent)
    scene.rounds(2)
    code, drift, run = scene.reconcile()
    holder = "crm" if deleted_in == "accounting" else "accounting"
    assert (code, drift) == (9, [("unmarked", holder, INVOICE, crm_order.id.lower())]), run.stderr
    editing.mark_deleted(kept)          # the remedy the drift names
    scene.rounds(2)
    code, drift, run = scene.reconcile()
    assert (code, drift) == (0, []), run.stderr
