"""`onecsync status`: what an admin sees at 3 a.m., read-only, in text, a table and JSON."""

from __future__ import annotations

import io
import json
import re
import sqlite3

import pytest
from rich.console import Console

from onecsync import console
from tests import factory as f
from tests.test_cli import file_mtimes
from tests.test_cli import tree_digest

ACCOUNTING_MESSAGE = f.FIXTURES / "accounting" / f"Message_{f.ACCOUNTING}_{f.NODE}.xml"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def test_no_state_yet_is_said_and_nothing_is_created(sandbox):
    before = tree_digest(sandbox.root)
    code, out, err = sandbox.human("status")
    assert code == 0, err
    assert "no state yet" in out
    assert tree_digest(sandbox.root) == before
    assert not (sandbox.root / "state").exists()
    code, report, _ = sandbox.run("status")
    assert code == 0 and report["exists"] is False
    assert report["peers"]["crm"]["sent_no"] == 0 and report["lock"] is None


def test_numbers_versions_and_counts_per_peer(sandbox):
    sandbox.put("accounting", ACCOUNTING_MESSAGE.read_bytes())
    sandbox.put("crm", f.Msg(sender=f.CRM, versions=("1.8", "1.11"), objects=[]))
    sandbox.run("run")
    code, report, _ = sandbox.run("status")
    assert code == 0 and report["exists"] is True
    acc, crm = report["peers"]["accounting"], report["peers"]["crm"]
    assert (acc["sent_no"], acc["received_no"], acc["confirmed_no"]) == sandbox.numbers("accounting")
    assert (crm["sent_no"], crm["received_no"], crm["confirmed_no"]) == sandbox.numbers("crm")
    # What we write to each (the highest common version) and what it wrote last.
    assert crm["format"] == {"ours": "1.11", "problem": None, "theirs": "1.8",
                             "offered": ["1.8", "1.11"]}
    assert acc["format"]["ours"] == "1.17" and acc["format"]["theirs"] == "1.8"
    # 18 catalog objects went to the CRM, which has not confirmed them yet.
    assert crm["unconfirmed"]["count"] == 18 and crm["unconfirmed"]["unsent"] == 0
    assert crm["unconfirmed"]["oldest"] is not None
    assert acc["unconfirmed"]["count"] == 0
    # The bank receipt waits for its invoice link; nothing is parked.
    assert acc["awaiting_link"] == 1
    assert sum(acc["inbox"].values()) == 19
    assert acc["parked"] == {"received": 0, "unsendable": 0, "total": 0}
    assert acc["last_received_at"] and crm["last_sent_at"]
    [last] = report["runs"]
    assert last["command"] == "run" and last["exit_code"] == 0
    assert last["peers"]["crm"]["sent"]["objects"] == 18


def test_parked_objects_are_counted_both_ways(sandbox):
    sandbox.put("accounting", f.Msg(objects=[
        f.counterparty(f.ref(1), "ООО Ромашка"), f.counterparty(f.ref(2), "АО Василек"),
        "<Справочник.Валюты><НаименованиеПолное>Рубль</НаименованиеПолное></Справочник.Валюты>"]))
    code, _, _ = sandbox.run("pull-catalogs")
    assert code == 7
    from onecsync.state import open_state
    state = open_state(sandbox.state_path)
    [rid] = [r[0] for r in state.conn.execute("SELECT id FROM registrations WHERE ref = ?",
                                              (f.ref(2),))]
    with state.atomic():
        state.outbox.park({rid: "cannot be written in format 1.8"})
    state.close()
    _, report, _ = sandbox.run("status")
    assert report["peers"]["accounting"]["parked"] == {"received": 1, "unsendable": 0, "total": 1}
    assert report["peers"]["crm"]["parked"] == {"received": 0, "unsendable": 1, "total": 1}
    assert report["peers"]["crm"]["unconfirmed"]["count"] == 1
    assert report["runs"][0]["exit_code"] == 7
    _, out, _ = sandbox.human("status")
    assert "parked         1 (1 received from it, 0 that cannot be sent to it)" in out


def test_declared_object_types_are_shown(sandbox):
    decl = ("<msg:AvailableObjectTypes><msg:ObjectType><msg:Name>Справочник.Контрагенты"
            "</msg:Name><msg:Sending>*</msg:Sending><msg:Receiving>*</msg:Receiving>"
            "</msg:ObjectType></msg:AvailableObjectTypes>")
    sandbox.put("crm", f.Msg(sender=f.CRM, header_extra=decl))
    sandbox.run("run")
    _, report, _ = sandbox.run("status")
    assert report["peers"]["crm"]["object_types"] == [
        {"name": "Справочник.Контрагенты", "sending": "*", "receiving": "*"}]
    assert report["peers"]["accounting"]["object_types"] is None
    _, out, _ = sandbox.human("status")
    assert "object types   1 declared" in out and "object types   not declared" in out


def test_plain_text_when_not_a_terminal(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    code, out, err = sandbox.human("status")
    assert code == 0 and err == ""
    assert not ANSI.search(out) and "┃" not in out
    assert "\naccounting\n" in out
    assert "numbers        sent 1 · received 1 · confirmed 0" in out
    assert "unconfirmed    1 object (0 not sent yet), oldest registered" in out
    assert re.search(r"pull-catalogs\s+exit 0\s+accounting: got #1 \(1 obj\)", out)
    assert "lock: free" in out


@pytest.fixture
def terminal(monkeypatch):
    """stdout as a terminal, captured."""
    buf = io.StringIO()

    def make(no_color: bool = False) -> io.StringIO:
        monkeypatch.setattr(console, "_out", Console(file=buf, force_terminal=True, width=200,
                                                     no_color=no_color, highlight=False))
        return buf
    return make


def test_a_table_on_a_terminal(sandbox, terminal):
    buf = terminal()
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    code, _, _ = sandbox.human("status")
    text = buf.getvalue()
    assert code == 0
    assert "┃" in text and "accounting" in text and "last runs" in text
    assert re.search(r"│ numbers\s+│ sent 1 · received 1 · confirmed 0", ANSI.sub("", text))


def test_no_color_on_a_terminal_with_no_color_set(sandbox, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.put("crm", b"<broken/>")
    sandbox.run("run")  # exit 5: a red row in the runs table
    colours = re.compile(r"\x1b\[[0-9;]*(3[0-7]|9[0-7]|38;)")
    for no_color, expect in ((False, True), (True, False)):
        monkeypatch.setattr(console, "_out", None)
        if no_color:
            monkeypatch.setenv("NO_COLOR", "1")
        monkeypatch.setenv("FORCE_COLOR", "1")  # rich: treat the captured stdout as a terminal
        _, out, _ = sandbox.human("status")
        assert bool(colours.search(out)) is expect, (no_color, out)
    monkeypatch.setattr(console, "_out", None)


def test_the_lock_holder_is_shown_and_status_does_not_wait(sandbox):
    sandbox.run("pull-catalogs")
    with sandbox.lock_held() as holder:
        code, report, _ = sandbox.run("status")
        assert code == 0
        assert report["lock"] == {"pid": holder.pid, "command": "run",
                                  "started": holder.started, "stuck": None}
        _, out, _ = sandbox.human("status")
        assert f"lock: held by pid {holder.pid} (run), started {holder.started}" in out


def test_status_writes_nothing(sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.run("pull-catalogs")
    sandbox.state_path.chmod(0o400)  # a write would fail loudly, not silently
    before = tree_digest(sandbox.root)
    mtimes = file_mtimes(sandbox.root)
    for args in (["status"], ["status", "--runs", "20"], ["state", "show"], ["state", "export"]):
        code, _, err = sandbox.run(*args)
        assert code == 0, (args, err)
    assert tree_digest(sandbox.root) == before
    assert file_mtimes(sandbox.root) == mtimes


def test_a_state_from_a_newer_onecsync_is_refused(sandbox):
    sandbox.run("pull-catalogs")
    with sqlite3.connect(sandbox.state_path) as c:
        c.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                  "VALUES ('onecsync', '9999_future', 'x')")
    code, report, err = sandbox.run("status")
    assert code == 3 and "newer onecsync" in err


def test_status_json_is_one_document_on_stdout(sandbox, capsys):
    code, out, err = sandbox.human("status", "--json")
    assert code == 0
    assert json.loads(out)["state"] == str(sandbox.state_path)


def test_awaiting_link_tells_recent_documents_from_old_ones(sandbox):
    """Accounting's own payments wait for good; the recent ones are those that may still link."""
    sandbox.put("accounting", f.Msg(objects=[
        f.payment(f.ref(1, "bbbbbbbb"), f.ref(9), "10.00"),
        f.payment(f.ref(2, "bbbbbbbb"), f.ref(9), "20.00", number="ТС00-000500"),
        f.payment(f.ref(3, "bbbbbbbb"), f.ref(9), "30.00", number="ТС00-000501")]))
    assert sandbox.run("run")[0] == 0
    with sqlite3.connect(sandbox.state_path) as c:  # one of them came long ago
        c.execute("UPDATE inbox SET updated_at = '2000-01-01T10:00:00+00:00' WHERE ref = ?",
                  (f.ref(1, "bbbbbbbb"),))
    c.close()
    code, report, _ = sandbox.run("status")
    acc = report["peers"]["accounting"]
    assert (acc["awaiting_link"], acc["awaiting_link_recent"]) == (3, {"days": 30, "count": 2})
    code, out, _ = sandbox.human("status")
    assert "3 settlement documents (2 received in the last 30 days)" in out


def test_a_base_that_does_not_import_is_shown_stuck(sandbox):
    from onecsync.state import open_state
    from onecsync.state.reports import STUCK_AFTER_RUNS

    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run("run")[0] == 0
    _, report, _ = sandbox.run("status")
    assert report["peers"]["crm"]["stuck"] == {"count": 0, "runs": 0,
                                              "after_runs": STUCK_AFTER_RUNS}
    state = open_state(sandbox.state_path)
    with state.atomic():
        state.conn.execute("UPDATE registrations SET registered_at = '2000-01-01T00:00:00+00:00'")
        for _ in range(STUCK_AFTER_RUNS):
            state.conn.execute("INSERT INTO runs (command, started_at, exit_code) "
                               "VALUES ('run', '2001-01-01T00:00:00+00:00', 0)")
    state.close()
    _, report, _ = sandbox.run("status")
    assert report["peers"]["crm"]["stuck"]["count"] == 1
    assert report["peers"]["accounting"]["stuck"]["count"] == 0
    _, out, _ = sandbox.human("status")
    assert f"stuck          unconfirmed for {STUCK_AFTER_RUNS + 1} runs: 1 object;" in out


@pytest.mark.parametrize("options", [(), ("--json",)])
def test_status_loads_neither_lxml_nor_a_schema(sandbox, options):
    """At a million objects status must stay under half a second (issue 19): it reads counts,
    so it does not pay for libxml2, the converter or a schema. The process itself is under test:
    what it imported."""
    import subprocess
    import sys

    sandbox.put("accounting", ACCOUNTING_MESSAGE.read_bytes())
    assert sandbox.run("run")[0] == 0
    probe = ("import sys\nfrom onecsync.cli import main\ntry:\n    main()\nexcept SystemExit:\n"
             "    pass\nprint(sorted(m for m in sys.modules if m.startswith(('lxml', "
             "'onecsync.formats.', 'onecsync.mapping', 'sqlite_utils'))), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", probe, "--config", str(sandbox.config), "-q",
                           *options, "status"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # The list of versions is all it needs of the formats (a table, without lxml).
    assert done.stderr.strip().splitlines()[-1] in ("[]", "['onecsync.formats.index']")
