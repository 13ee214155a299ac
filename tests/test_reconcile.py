"""reconcile from the state alone: stuck registrations, parked objects, orphan documents."""

from __future__ import annotations

import re
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
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[]))  # heard from, but it takes nothing
    sandbox.run("run")
    add_past_runs(sandbox, STUCK_AFTER_RUNS - 1)
    assert sandbox.run("reconcile")[0] == 0
    add_past_runs(sandbox, 1)
    code, report, err = sandbox.run("reconcile")
    assert code == 9
    (drift,) = report["drift"]
    assert (drift["kind"], drift["peer"]) == ("stuck", "crm")
    # The runs since it was sent: the first run's is counted or not, by the second it started.
    assert re.fullmatch(r"still unconfirmed after 1[23] runs: 1 object sent since message 1; is "
                        r"the crm base importing our messages\?", drift["detail"]), drift["detail"]
    assert "drift: stuck" in err
    # The CRM confirms: nothing is stuck any more.
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=2, received_no=1))
    code, report, _ = sandbox.run("run")
    assert code == 0 and report["drift"] == []


def test_a_base_never_heard_from_is_reported_as_silent(sandbox):
    """The CRM's folder in the config is not the one it exchanges through (or it was never set
    up): before, every run ended in exit 0 ("no message from the base") while nothing reached
    it."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")
    add_past_runs(sandbox, STUCK_AFTER_RUNS - 1)
    assert sandbox.run("run")[0] == 0  # a first exchange may take a while to be set up
    add_past_runs(sandbox, 1)
    code, report, err = sandbox.run("run")
    assert code == 9
    (drift,) = report["drift"]
    assert (drift["kind"], drift["peer"]) == ("silent", "crm")
    assert (f"no message from the crm base in the {STUCK_AFTER_RUNS + 1} runs since the first, "
            "and it has taken none of the 1 message we wrote: is bases.crm.transport the folder or "
            "address the base exchanges through (its exchange settings), and has it loaded "
            "`onecsync settings-message crm`?") == drift["detail"]
    code, _, err = sandbox.human("-q", "run")
    assert code == 9 and "drift: 1 silent" in err  # cron mail says so
    sandbox.put("crm", f.Msg(sender=f.CRM, received_no=1))  # set up at last: it took ours
    assert sandbox.run("run")[0] == 0


def test_a_stuck_base_is_said_in_russian_with_each_count_in_its_form(sandbox, monkeypatch):
    """The counts were "object(s)", "message(s)", built in the core: Russian said "после 21
    запусков" for 21 runs and could not say "1 объект" at all."""
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[]))
    sandbox.run("run")
    add_past_runs(sandbox, 21)
    code, _, err = sandbox.human("reconcile")
    assert code == 9
    # 21 or 22 runs (see above): after 21, запуска; after 22, запусков.
    said = re.search(r"всё ещё без подтверждения после (\d+) (запуска|запусков): 1 объект, "
                     r"отправленный начиная с сообщения 1; загружает ли база crm наши сообщения\?",
                     err)
    assert said and said[2] == ("запуска" if said[1] == "21" else "запусков"), err
    assert said[1] in ("21", "22"), err


def test_a_silent_base_is_said_in_russian_with_each_count_in_its_form(sandbox, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("run")
    add_past_runs(sandbox, 21)
    monkeypatch.setenv("LANG", "ru_RU.UTF-8")
    code, _, err = sandbox.human("reconcile")
    assert code == 9
    assert ("от базы crm нет сообщений за 21 запуск с первого, и она не приняла ни одного из "
            "наших сообщений (записано: 1 сообщение): указывает ли bases.crm.transport") in err, err


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
