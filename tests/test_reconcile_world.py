"""reconcile end to end: the real CLI against both emulated bases served over real OData.

Both bases of a `World` expose 1C's standard OData interface (tests/emulator/odata.py: a real
HTTP server over the base's store); the business scenario runs and converges, and `onecsync
reconcile` must then find nothing. Each kind of drift is then made to really happen in a base —
the way 1C lets it happen: a change written without registration for our node (a direct edit by
an administrator, a document dated before the synchronization's start, «Удаление помеченных» with
the exchange off) — and reconcile must report exactly that drift (exit 9); `reconcile --heal`
plus a few rounds, or the user's remedy the drift names, must bring a clean reconcile again.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest

from tests.emulator import data as d
from tests.emulator.odata import ODataService
from tests.emulator.odata import expose
from tests.emulator.users import BANK
from tests.emulator.users import INVOICE
from tests.emulator.users import ORDER
from tests.emulator.users import Users
from tests.emulator.world import REPO
from tests.emulator.world import Run
from tests.emulator.world import World
from tests.emulator.world import assert_converged
from tests.emulator.world import scratch_dir

PASSWORD_ENV = "ONECSYNC_TEST_ODATA_PASSWORD"
PASSWORD = "s3cret-odata"


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
        cmd = [sys.executable, "-m", "onecsync", "--config", str(self.world.config), "--json", *args]
        p = subprocess.run(cmd, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                           capture_output=True, text=True, timeout=300)
        assert p.returncode not in (1, 70), p.stderr
        return Run(p.returncode, json.loads(p.stdout) if p.stdout.strip() else None, p.stderr)

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
        world = World(root)
        with expose(world, password_env=PASSWORD_ENV, password=PASSWORD) as services:
            users = Users(world, d.seed_accounting(world.acc))
            world.settle(2)
            yield Scene(world, users, services)


def business(sc: Scene) -> dict:
    """The manager adds orders and an invoice; the accountant pays, ships, has his own order."""
    u = sc.users
    crm_orders = [u.add_order(), u.add_order(qty=2), u.add_order(INVOICE, qty=1), u.add_order()]
    sc.world.settle(2)
    in_acc = {o.ref: o for o in (sc.world.copy_in("accounting", r) for r in crm_orders)}
    o1, o2, inv, o4 = (sc.world.copy_in("accounting", r).ref for r in crm_orders)
    paid = u.pay(o1)
    half = u.pay(o2, "half", cash=True)
    sale = u.ship(inv, qty=1)
    own = u.own_order_and_payment()
    sc.world.settle(3)
    assert_converged(sc.world)
    return {"crm": crm_orders, "acc": [o1, o2, inv, o4], "paid": paid, "half": half,
            "sale": sale, "own": own, "copies": in_acc}


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
