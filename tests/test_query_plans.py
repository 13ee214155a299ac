"""A run with nothing new, `status`, `status --json` and `trace` read no table of objects whole.

At a million objects a full scan of the inbox or of the registrations is seconds, on every cron
run; found by the query planner's own account (EXPLAIN QUERY PLAN) of every statement these
commands execute, on a state that holds one of everything those statements look for: parked
objects both ways, a waiting document old enough to be an orphan, a mapped copy, unconfirmed
registrations. Without ANALYZE statistics SQLite plans the same for ten rows as for a million.
"""

from __future__ import annotations

import re
import sqlite3

import pytest

import onecsync.state as state_module
import onecsync.state.trace as tracing
from onecsync.flows.reconcile import ORPHAN_AFTER_RUNS
from tests import factory as f
from tests.test_reconcile import add_past_runs

# The tables that grow with the objects exchanged.
BIG = ("inbox", "inbox_payloads", "registrations", "registration_payloads", "inbox_links",
       "versions")
_SCAN = re.compile(r"\bSCAN (\w+)")
# A plan names a table by its alias in the statement (`SCAN i` for `FROM inbox i`).
_ALIAS = re.compile(r"\b(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", re.I)


@pytest.fixture
def statements(monkeypatch):
    """Every statement onecsync executes from now on, with its values bound."""
    seen: list[str] = []
    connect, read = state_module._connect, state_module.read_connection

    def traced(conn: sqlite3.Connection) -> sqlite3.Connection:
        conn.set_trace_callback(seen.append)
        return conn

    monkeypatch.setattr(state_module, "_connect", lambda path: traced(connect(path)))
    monkeypatch.setattr(state_module, "read_connection", lambda *a, **k: traced(read(*a, **k)))
    ro = tracing._open_ro
    monkeypatch.setattr(tracing, "_open_ro", lambda path: traced(ro(path)))
    return seen


def full_scans(db: sqlite3.Connection, sql: list[str]) -> dict[str, list[str]]:
    """Statement → the steps of its plan that read a big table or one of its indexes whole
    (a partial index holds only what it is for: parked rows, say, and may be read whole)."""
    partial = {name for name, text in db.execute("SELECT name, sql FROM sqlite_master WHERE "
                                                  "type = 'index' AND sql LIKE '% WHERE %'")}
    out = {}
    for s in dict.fromkeys(sql):
        if not re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", s, re.I):
            continue
        plan = [row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {s}")]
        tables = {alias or table: table for table, alias in _ALIAS.findall(s)}
        if bad := [p for p in plan if (m := _SCAN.search(p)) and tables.get(m[1], m[1]) in BIG
                   and _index(p) not in partial]:
            out[" ".join(s.split())] = bad
    return out


def _index(step: str) -> str | None:
    m = re.search(r"USING (?:COVERING )?INDEX (\w+)", step)
    return m.group(1) if m else None


@pytest.fixture
def big_state(sandbox):
    """One of everything the routine queries look for."""
    sandbox.config.write_text(sandbox.config.read_text() + (
        "mapping:\n  crm:\n"
        "    Справочник.Валюты:\n      set: {КлючевыеСвойства/ДанныеКлассификатора: x}\n"
        "    Справочник.Контрагенты:\n      set: {КлючевыеСвойства/НаименованиеПолное: Клиент из БП}\n"))
    sandbox.put("accounting", f.Msg(objects=[
        f.counterparty(f.ref(1), "ООО Ромашка"), f.currency(f.ref(2)),
        f.payment(f.ref(3), f.ref(9, "bad00000"), "2.00", number="X-2")]))
    code, _, err = sandbox.run("run")
    assert code == 7, err  # the currency parked by its mapping
    add_past_runs(sandbox, ORPHAN_AFTER_RUNS)
    code, report, err = sandbox.run("run")
    kinds = {d["kind"] for d in report["drift"]}
    assert code == 9 and {"parked", "orphan"} <= kinds, (err, kinds)
    with sandbox.db() as c:
        assert c.execute("SELECT count(*) FROM registration_payloads").fetchone()[0] == 1
    return sandbox


@pytest.mark.parametrize("command", [
    ("run",), ("status",), ("--json", "status"),
    ("trace", f.ref(3)), ("trace", "X-2"), ("trace", "X-2", "2026-11-19"), ("trace", "7705432193")])
def test_nothing_new_and_status_scan_no_table_of_objects(big_state, statements, command):
    code, _, err = big_state.run(*command)
    assert code in (0, 9), err
    if command[0] == "trace":
        assert "FROM versions" in " ".join(statements)
    assert any("FROM inbox" in s for s in statements)  # the trace saw the queries
    with big_state.db() as db:
        assert full_scans(db, statements) == {}


def test_an_inn_no_counterparty_has_looks_for_an_organization_by_seeks(big_state, statements):
    """The not-found line asks whether an Организации object has the ИНН: by index, too."""
    code, _, err = big_state.run("trace", "7700000009")
    assert code == 2 and "no counterparty with ИНН 7700000009" in err, err
    assert any("Справочник.Организации" in s for s in statements)
    with big_state.db() as db:
        assert full_scans(db, statements) == {}


def test_the_check_sees_a_full_scan(big_state):
    """The check itself: what it flags is what a scan of the inbox looks like."""
    with big_state.db() as db:
        assert full_scans(db, ["SELECT count(*) FROM inbox WHERE reason = 'x'"])


def test_status_counts_what_plain_group_by_queries_count(big_state):
    """status counts index ranges one by one (issue 19): the same numbers as the obvious
    queries, on a state that also holds a staged object and a registration not yet sent."""
    with sqlite3.connect(big_state.state_path) as db:
        db.execute("UPDATE inbox SET status = 'staged' WHERE id = (SELECT max(id) FROM inbox "
                   "WHERE peer = 'accounting' AND status = 'routed')")
        db.execute("UPDATE registrations SET message_no = NULL WHERE id = (SELECT max(id) FROM "
                   "registrations WHERE peer = 'crm' AND confirmed_no IS NULL AND parked IS NULL)")
    db.close()
    with big_state.db() as db:
        expected = {}
        for peer in ("accounting", "crm"):
            count, unsent, oldest = db.execute(
                "SELECT count(*), count(*) - count(message_no), min(registered_at) FROM "
                "registrations WHERE peer = ? AND confirmed_no IS NULL AND parked IS NULL",
                (peer,)).fetchone()
            expected[peer] = {
                "unconfirmed": {"count": count, "unsent": unsent, "oldest": oldest},
                "unsendable": db.execute("SELECT count(*) FROM registrations WHERE peer = ? AND "
                                         "parked IS NOT NULL AND confirmed_no IS NULL",
                                         (peer,)).fetchone()[0],
                "inbox": dict(db.execute("SELECT status, count(*) FROM inbox WHERE peer = ? "
                                         "GROUP BY status", (peer,))),
                "staged": dict(db.execute("SELECT type, count(*) FROM inbox WHERE peer = ? AND "
                                          "status = 'staged' GROUP BY type", (peer,)))}
    assert expected["crm"]["unconfirmed"]["unsent"] == 1 and expected["accounting"]["staged"]
    code, report, err = big_state.run("--json", "status")
    assert code == 0, err
    for peer, want in expected.items():
        got = report["peers"][peer]
        assert {"unconfirmed": got["unconfirmed"], "unsendable": got["parked"]["unsendable"],
                "inbox": got["inbox"], "staged": got["staged"]} == want


def test_the_oldest_unconfirmed_found_by_seeks_is_the_plain_minimum(big_state):
    """status and every run's reconcile find the oldest unconfirmed registration by one seek per
    message (issue 19): the same as min() over all of them, wherever the oldest is."""
    from onecsync.state.reports import _oldest

    with sqlite3.connect(big_state.state_path) as db:
        one = "FROM registrations WHERE peer = 'crm' AND confirmed_no IS NULL AND parked IS NULL"
        for n in range(4):  # copies of the one unconfirmed registration, for other objects
            db.execute(f"INSERT INTO registrations (peer, type, ref, kind, inbox_id, message_no, "
                       f"registered_at) SELECT peer, type, ref || '{n}', kind, inbox_id, message_no, "
                       f"registered_at {one} ORDER BY id LIMIT 1")
        ids = [r[0] for r in db.execute(f"SELECT id {one} ORDER BY id")]
        assert len(ids) == 5
        # Later ids registered earlier; the oldest sent one in the later of two messages, the
        # oldest of all not yet sent.
        for n, rid in enumerate(ids):
            db.execute("UPDATE registrations SET registered_at = ?, message_no = ? WHERE id = ?",
                       (f"2026-11-{20 - n:02d}T10:00:00+00:00",
                        None if rid == ids[-1] else 7 if n % 2 == 0 else 8, rid))
    db.close()
    with big_state.db() as db:
        where = "FROM registrations WHERE peer = ? AND confirmed_no IS NULL AND parked IS NULL"
        for peer in ("crm", "accounting"):
            for sent, also in ((True, " AND message_no IS NOT NULL"), (False, "")):
                want = db.execute(f"SELECT min(registered_at), min(message_no) {where}{also}",
                                  (peer,)).fetchone()
                assert _oldest(db, peer, sent) == want, (peer, sent)
        assert _oldest(db, "crm", False)[0] == "2026-11-" f"{20 - len(ids) + 1:02d}T10:00:00+00:00"
    code, report, err = big_state.run("--json", "status")
    assert code == 0, err
    assert report["peers"]["crm"]["unconfirmed"]["oldest"] == f"2026-11-{20 - len(ids) + 1:02d}T10:00:00+00:00"
