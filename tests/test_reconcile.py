"""reconcile from the state alone: stuck registrations, parked objects, orphan documents."""

from __future__ import annotations

import sqlite3

from onecsync.flows.reconcile import ORPHAN_AFTER_RUNS
from onecsync.state.reports import STUCK_AFTER_RUNS
from tests import factory as f


def add_past_runs(sandbox, n: int) -> None:
    """The journal of n later runs, as if time had passed."""
    with sqlite3.connect(sandbox.state_path) as c:
        c.executemany("INSERT INTO runs (command, started_at, ended_at, exit_code) VALUES "
                      "('run', '2999-01-01T00:00:00+00:00', '2999-01-01T00:00:01+00:00', 0)",
                      [()] * n)


def test_nothing_to_report_exits_0(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["drift"] == []


def test_a_base_that_never_confirms_is_reported_as_stuck(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")
    add_past_runs(sandbox, STUCK_AFTER_RUNS - 1)
    assert sandbox.run("reconcile")[0] == 0
    add_past_runs(sandbox, 1)
    code, report, err = sandbox.run("reconcile")
    assert code == 9
    (drift,) = report["drift"]
    assert (drift["kind"], drift["peer"]) == ("stuck", "crm")
    assert "1 object(s) sent since message 1 are still unconfirmed" in drift["detail"]
    assert "drift: stuck" in err
    # The CRM confirms: nothing is stuck any more.
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    code, report, _ = sandbox.run("run")
    assert code == 0 and report["drift"] == []


def test_parked_objects_are_drift_until_retried(sandbox):
    sandbox.config.write_text(sandbox.config.read_text() + (
        "mapping:\n  crm:\n    Справочник.Валюты:\n      set: {КлючевыеСвойства/ДанныеКлассификатора: x}\n"))
    sandbox.put("accounting", f.Msg(objects=[f.currency(f.ref(2))]))
    assert sandbox.run("run")[0] == 7  # parked in this run: partial wins over drift
    code, report, _ = sandbox.run("run")
    assert code == 9
    assert [(d["kind"], d["type"], d["ref"]) for d in report["drift"]] == \
        [("parked", "Справочник.Валюты", f.ref(2))]


def test_a_payment_naming_an_unknown_order_becomes_an_orphan(sandbox):
    known_acc_order, unknown = f.ref(8, "acc00000"), f.ref(9, "bad00000")
    sandbox.put("accounting", f.Msg(objects=[
        f.order(known_acc_order, number="БП-8"),        # accounting's own order
        f.payment(f.ref(1), known_acc_order, "1.00"),   # waits forever, and that is normal
        f.payment(f.ref(2), unknown, "2.00", number="X-2")]))
    assert sandbox.run("run")[0] == 0
    add_past_runs(sandbox, ORPHAN_AFTER_RUNS)
    code, report, _ = sandbox.run("reconcile")
    assert code == 9
    assert [(d["kind"], d["ref"]) for d in report["drift"]] == [("orphan", f.ref(2))]
    assert unknown in report["drift"][0]["detail"]
