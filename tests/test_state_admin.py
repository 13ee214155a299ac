"""`onecsync state`: show, set-numbers, resend, export — the rare human decisions."""

from __future__ import annotations

import contextlib
import json
import sqlite3

import pytest

from onecsync.cli import main
from tests import factory as f

C1, C2, RUB = f.ref(1), f.ref(2), f.ref(9)


def journal(sandbox) -> list[tuple]:
    with sandbox.db() as c:
        return c.execute("SELECT command, exit_code FROM runs ORDER BY id").fetchall()


def first_exchange(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(C1, "ООО Ромашка"),
                                             f.counterparty(C2, "АО Василек"), f.currency(RUB)]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err


def test_show_prints_the_three_numbers(sandbox):
    first_exchange(sandbox)
    code, out, _ = sandbox.human("state", "show")
    assert code == 0
    assert "accounting: sent 1, received 1, confirmed 0" in out
    assert "crm: sent 1, received 0, confirmed 0" in out
    code, report, _ = sandbox.run("state", "show")
    assert report["peers"]["crm"]["sent_no"] == 1 and report["exists"] is True


def test_show_without_a_state(sandbox):
    code, out, _ = sandbox.human("state", "show")
    assert code == 0 and "no state yet" in out


def conflict(sandbox):
    """Our state is older than the CRM's: it confirms our message 5, we wrote only 1."""
    first_exchange(sandbox)
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=5))
    code, report, err = sandbox.run("run")
    assert code == 6
    assert "onecsync state set-numbers crm --sent 5" in err
    return report


def test_set_numbers_without_yes_changes_nothing_and_says_what_it_would(sandbox):
    conflict(sandbox)
    dump, runs = sandbox.dump(), journal(sandbox)
    code, out, _ = sandbox.human("state", "set-numbers", "crm", "--sent", "5")
    assert code == 2
    assert "crm: would change: sent_no 1 → 5" in out
    assert "again in that message, sent but not confirmed before: 3 objects" in out
    assert "nothing changed: add --yes" in out
    assert sandbox.dump() == dump and journal(sandbox) == runs
    code, report, _ = sandbox.run("state", "set-numbers", "crm", "--sent", "5")
    assert code == 2 and report["applied"] is False and report["after"]["sent_no"] == 5
    code, _, _ = sandbox.human("--dry-run", "state", "set-numbers", "crm", "--sent", "5")
    assert code == 0 and sandbox.dump() == dump


def test_set_numbers_resolves_a_numbering_conflict(sandbox):
    conflict(sandbox)
    code, out, _ = sandbox.human("state", "set-numbers", "crm", "--sent", "5", "--yes")
    assert code == 0 and "crm: changed: sent_no 1 → 5" in out
    assert sandbox.numbers("crm") == (5, 0, 0)
    assert journal(sandbox)[-1] == ("state set-numbers crm", 0)
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["received"]["message_no"] == 1
    # Our next message is above what the CRM holds, and carries again what we had sent it
    # after the restore (it skipped those as "ранее принято"): nothing is lost.
    crm = sandbox.outgoing("crm")
    assert crm["message_no"] == 6 and crm["received_no"] == 1
    assert [r for _, r in crm["objects"]] == [C1, C2, RUB]


def test_set_numbers_received_takes_the_current_message_again(sandbox):
    first_exchange(sandbox)
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00",
                                    objects=[f.counterparty(C1, "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    assert sandbox.numbers("accounting")[1] == 2
    code, report, _ = sandbox.run("pull-catalogs")
    assert report["peers"]["accounting"]["received"]["duplicate"] is True
    code, _, _ = sandbox.human("state", "set-numbers", "accounting", "--received", "1", "--yes")
    assert code == 0 and sandbox.numbers("accounting")[1] == 1
    code, report, _ = sandbox.run("pull-catalogs")
    assert code == 0
    received = report["peers"]["accounting"]["received"]
    assert received["duplicate"] is False and received["message_no"] == 2
    assert sandbox.numbers("accounting")[1] == 2


def test_lowering_sent_below_what_the_base_confirmed_is_refused_or_forced_with_a_warning(sandbox):
    first_exchange(sandbox)
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    sandbox.run("run")
    assert sandbox.numbers("crm")[2] == 1
    code, out, err = sandbox.human("state", "set-numbers", "crm", "--sent", "0")
    assert code == 2 and not out and "refused: --sent 0" in err
    code, out, _ = sandbox.human("state", "set-numbers", "crm", "--sent", "0", "--force")
    assert code == 2
    assert "WARNING: crm has confirmed our message 1" in out and "--sent 1" in out


def test_set_numbers_needs_a_number(sandbox):
    code, _, err = sandbox.human("state", "set-numbers", "crm")
    assert code == 2 and "give --sent N, --received N or both" in err
    code, _, err = sandbox.human("state", "set-numbers", "crm", "--sent", "-1")
    assert code == 2


def test_set_numbers_waits_for_no_one_it_says_busy(sandbox):
    first_exchange(sandbox)
    with sandbox.lock_held():
        dump = sandbox.dump()
        code, _, err = sandbox.run("state", "set-numbers", "crm", "--sent", "5", "--yes")
        assert code == 8 and "not done: a run is in progress since" in err
        code, _, _ = sandbox.run("state", "resend", "crm", "--yes")
        assert code == 8
        assert sandbox.dump() == dump


def confirm_all(sandbox):
    """The CRM confirms our message 1: nothing is pending for it any more."""
    first_exchange(sandbox)
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    code, report, _ = sandbox.run("run")
    assert code == 0
    assert report["peers"]["crm"]["sent"]["message_no"] == 2  # our confirmation only
    _, status, _ = sandbox.run("status")
    assert status["peers"]["crm"]["unconfirmed"]["count"] == 0


def test_resend_all_to_the_crm(sandbox):
    confirm_all(sandbox)
    dump = sandbox.dump()
    code, out, _ = sandbox.human("state", "resend", "crm")
    assert code == 2 and sandbox.dump() == dump
    assert "crm: would change: send again every object" in out
    assert "Справочник.Валюты 1, Справочник.Контрагенты 2" in out
    assert "nothing is duplicated" in out
    code, report, _ = sandbox.run("state", "resend", "crm", "--yes")
    assert code == 0 and report["applied"] is True and report["total"] == 3
    assert journal(sandbox)[-1] == ("state resend crm", 0)
    code, report, _ = sandbox.run("run")
    assert code == 0
    crm = sandbox.outgoing("crm")
    assert crm["message_no"] == 3
    assert sorted(r for _, r in crm["objects"]) == sorted([C1, C2, RUB])


def test_resend_one_type(sandbox):
    confirm_all(sandbox)
    code, _, _ = sandbox.human("state", "resend", "crm", "--type", "Справочник.Валюты", "--yes")
    assert code == 0
    sandbox.run("run")
    assert sandbox.outgoing("crm")["objects"] == [("Справочник.Валюты", RUB)]


def test_resend_of_a_type_onecsync_does_not_send_is_a_usage_error(sandbox):
    confirm_all(sandbox)
    code, _, err = sandbox.human("state", "resend", "crm", "--type", "Документ.СчетПокупателю")
    assert code == 2 and "does not send Документ.СчетПокупателю to crm" in err


def test_resend_to_accounting_warns_about_overwriting(sandbox):
    confirm_all(sandbox)
    code, out, _ = sandbox.human("state", "resend", "accounting")
    assert code == 2
    assert "changes made in accounting that have not reached the CRM yet are lost" in " ".join(out.split())


def test_resend_routes_objects_of_a_type_added_to_the_flow_later(sandbox):
    only_currencies = sandbox.config.read_text() + (
        "flows:\n  pull-catalogs:\n    objects: [Справочник.Валюты]\n")
    sandbox.write_config(only_currencies)
    first_exchange(sandbox)
    assert [t for t, _ in sandbox.outgoing("crm")["objects"]] == ["Справочник.Валюты"]
    sandbox.write_config()  # the default flows: counterparties too
    code, report, _ = sandbox.run("state", "resend", "crm", "--type", "Справочник.Контрагенты",
                                  "--yes")
    assert code == 0 and report["rerouted"] == {"Справочник.Контрагенты": 2}
    sandbox.run("run")
    assert sorted(r for _, r in sandbox.outgoing("crm")["objects"]) == sorted([C1, C2, RUB])


def test_export_for_support_has_no_payload_and_no_secret(sandbox, monkeypatch):
    monkeypatch.setenv("HC_URL", "https://hc.example/ping/SECRET-TOKEN-42")
    sandbox.write_config(sandbox.config.read_text() + "healthcheck_url_env: HC_URL\n")
    sandbox.put("accounting", f.Msg(objects=[
        f.counterparty(C1, "ООО Ромашка"),
        "<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное></Справочник.Валюты>"]))
    import responses
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add(responses.POST, "https://hc.example/ping/SECRET-TOKEN-42/start")
        rsps.add(responses.POST, "https://hc.example/ping/SECRET-TOKEN-42/7")
        assert sandbox.run("pull-catalogs")[0] == 7
    sandbox.human("state", "resend", "crm", "--yes")
    code, out, err = sandbox.human("state", "export")
    assert code == 0
    data = json.loads(out)
    assert data["peers"]["crm"]["sent_no"] == 1
    assert {"peer": "accounting", "status": "routed", "type": "Справочник.Контрагенты",
            "count": 1} in data["inbox"]
    [parked] = data["parked"]
    assert parked["reason"] == "the object has no КлючевыеСвойства" and "xml" not in parked
    assert [r["command"] for r in data["runs"]] == ["state resend crm", "pull-catalogs"]
    assert "Ромашка" not in out and "Рубль" not in out  # no payload
    assert "SECRET-TOKEN" not in out + err
    code, out, _ = sandbox.human("state", "export", "--with-parked-xml")
    assert "<НаименованиеПолное>Рубль</НаименованиеПолное>" in json.loads(out)["parked"][0]["xml"]


def test_every_state_command_has_help(capsys):
    from onecsync.cli import cli
    state = cli.commands["state"]
    assert set(state.commands) == {"show", "set-numbers", "resend", "export"}
    for name in state.commands:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            main(["state", name, "--help"])
        assert exc.value.code == 0
        assert "Example:" in capsys.readouterr().out


def test_following_the_exit_6_remedy_never_breaks_a_later_run(sandbox):
    """Review2 #6: a base confirming 2**63 - 1 once got the remedy `--sent 9223372036854775807`,
    which was taken, and every run after was exit 1 OverflowError. Now that remedy is never
    given; the highest one given is followed to a last message, and then numbers run out
    with exit 6 and a remedy, never exit 1."""
    first_exchange(sandbox)
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=2**63 - 1))
    before = sandbox.dump()
    code, _, err = sandbox.run("run")
    assert code == 6, err
    assert "crm confirms our message 9223372036854775807, past the last number" in err
    assert "--sent 0 --received 0" in err and "--sent 9223372036854775807" not in err
    assert sandbox.dump() == before
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=2**63 - 2))
    code, _, err = sandbox.run("run")
    assert code == 6 and "state set-numbers crm --sent 9223372036854775806`" in err, err
    code, _, err = sandbox.run("state", "set-numbers", "crm", "--sent", str(2**63 - 2), "--yes")
    assert code == 0, err
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert sandbox.numbers("crm")[0] == 2**63 - 1
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=2, received_no=2**63 - 1))
    for _ in range(2):
        code, _, err = sandbox.run("run")
        assert code == 6, err
        assert "our message numbers to crm are used up (9223372036854775807 sent)" in err
        assert "Traceback" not in err and "internal error" not in err


def sent_twice_unconfirmed(sandbox) -> None:
    """We wrote crm messages 1 and 2 (what it has not confirmed goes again); crm confirmed 1."""
    first_exchange(sandbox)
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00",
                                    objects=[f.counterparty(f.ref(3), "ООО Новое")]))
    code, _, err = sandbox.run("run")
    assert code in (0, 9), err
    sent, _, confirmed = sandbox.numbers("crm")
    assert (sent, confirmed) == (2, 1) and sandbox.outgoing("crm")["message_no"] == 2


@pytest.mark.parametrize("value, lowest, why", [
    ("0", "2", "the last message this state wrote to crm is number 2, which it may have read"),
    ("1", "2", "the last message this state wrote to crm is number 2"),
])
def test_set_numbers_below_what_the_base_holds_is_refused_naming_the_lowest(sandbox, value,
                                                                              lowest, why):
    sent_twice_unconfirmed(sandbox)
    dump = sandbox.dump()
    for yes in ((), ("--yes",)):
        code, out, err = sandbox.human("state", "set-numbers", "crm", "--sent", value, *yes)
        assert code == 2, out + err
        (line,) = err.splitlines()
        assert f"refused: --sent {value} is below what crm holds ({why}" in line, line
        assert f"use at least --sent {lowest}" in line and "--force" in line, line
        assert sandbox.dump() == dump
    # The lowest allowed is taken.
    code, out, err = sandbox.human("state", "set-numbers", "crm", "--sent", lowest, "--yes")
    assert code == 0, out + err


def test_set_numbers_below_a_confirmed_message_is_refused(sandbox):
    conflict(sandbox)
    assert sandbox.human("state", "set-numbers", "crm", "--sent", "5", "--yes")[0] == 0
    sandbox.run("run")
    assert sandbox.outgoing("crm")["message_no"] == 6
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=2, received_no=6,
                             created="2026-11-21T09:00:00"))
    code, _, err = sandbox.run("run")
    assert sandbox.numbers("crm")[2] == 6, err
    with contextlib.closing(sqlite3.connect(sandbox.state_path)) as c, c:
        # as a state that never recorded the number of its last file
        c.execute("UPDATE peers SET out_no = NULL WHERE name = 'crm'")
    code, out, err = sandbox.human("state", "set-numbers", "crm", "--sent", "3", "--yes")
    assert code == 2 and "(crm has confirmed our message 6)" in err and "at least --sent 6" in err


def test_forced_set_numbers_then_our_own_message_is_named_as_ours_not_another_onecsync(sandbox):
    sent_twice_unconfirmed(sandbox)
    code, out, err = sandbox.human("state", "set-numbers", "crm", "--sent", "0", "--force",
                                   "--yes")
    assert code == 0 and "WARNING: crm has confirmed our message 1" in out, out + err
    for _ in range(2):  # on every run, until a human decides
        code, _, err = sandbox.human("-q", "run")
        assert code == 6, err
        (line,) = [ln for ln in err.splitlines() if "error" in ln and "number 2" in ln]
        assert "another onecsync" not in line, line
        assert "this state wrote it before its numbers were set by hand to 0" in line, line
        assert "`onecsync state set-numbers crm --sent 2`" in line, line
    assert sandbox.outgoing("crm")["message_no"] == 2  # never written over
    assert sandbox.human("state", "set-numbers", "crm", "--sent", "2", "--yes")[0] == 0
    code, _, err = sandbox.human("-q", "run")
    assert code in (0, 9) and sandbox.outgoing("crm")["message_no"] == 3, err
