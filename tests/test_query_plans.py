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
_FULL_SCAN = re.compile(rf"\bSCAN ({'|'.join(BIG)})\b")


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
        if bad := [p for p in plan if _FULL_SCAN.search(p) and _index(p) not in partial]:
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


def test_the_check_sees_a_full_scan(big_state):
    """The check itself: what it flags is what a scan of the inbox looks like."""
    with big_state.db() as db:
        assert full_scans(db, ["SELECT count(*) FROM inbox WHERE reason = 'x'"])
