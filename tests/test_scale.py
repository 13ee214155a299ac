"""What keeps a first exchange flat and a cron run with nothing new cheap (figures: bench/run.py)."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import subprocess
import sys

import pytest
from sqlite_utils import Database

from onecsync.protocol.reader import BodyObject
from onecsync.state import open_state
from onecsync.state.firstfill import FirstFill
from onecsync.state.inbox import PAGE
from onecsync.state.inbox import Inbox
from onecsync.state.migrations import MIGRATIONS
from onecsync.state.migrations import known_migrations
from onecsync.state.store import State
from tests import factory as f


def _obj(n: int, type_name: str = "Справочник.Контрагенты") -> BodyObject:
    xml = f.counterparty(f.ref(n), f"ООО {n}").encode()
    return BodyObject(type_name, f.ref(n), "object", xml, f"d{n}", None)


def test_nested_atomic_blocks_roll_back_alone_and_the_outer_one_commits(tmp_path):
    state = open_state(tmp_path / "s.sqlite")
    with state.atomic():
        state.meta.set("outer", "1")
        with pytest.raises(RuntimeError):
            with state.atomic():
                state.meta.set("inner", "1")
                raise RuntimeError("boom")
    assert (state.meta.get("outer"), state.meta.get("inner")) == ("1", None)
    with pytest.raises(RuntimeError):
        with state.atomic():
            state.meta.set("outer", "2")
            with state.atomic():
                state.meta.set("inner", "2")
            raise RuntimeError("boom")
    assert (state.meta.get("outer"), state.meta.get("inner")) == ("1", None)
    assert not state.conn.in_transaction


def test_staged_rows_come_a_page_at_a_time_and_may_be_changed_meanwhile(tmp_path):
    state = open_state(tmp_path / "s.sqlite")
    n = PAGE * 2 + 7
    with state.atomic():
        state.inbox.stage("accounting", 1, "1.8", (_obj(i) for i in range(n)))
    rows = state.inbox.staged("accounting", ["Справочник.Контрагенты"])
    seen = []
    with state.atomic():
        for row in rows:
            seen.append(row.ref)
            state.inbox.set_status(row.id, "routed")  # as routing does while it goes
    assert seen == [f.ref(i) for i in range(n)]  # every row once, in staging order, payload read
    assert list(state.inbox.staged("accounting", ["Справочник.Контрагенты"])) == []


def test_a_state_file_made_before_a_migration_is_upgraded_on_open(tmp_path):
    path = tmp_path / "s.sqlite"
    # A state file of the first onecsync: only the first migration ran.
    MIGRATIONS.migrations().apply(Database(path), stop_before=known_migrations()[1])
    with sqlite3.connect(path) as c:
        assert c.execute("SELECT count(*) FROM _sqlite_migrations").fetchone()[0] == 1
    state = open_state(path)
    state.meta.set("k", "v")  # the table is back
    state.close()
    with sqlite3.connect(path) as c:
        names = [r[0] for r in c.execute("SELECT name FROM _sqlite_migrations ORDER BY id")]
    assert names == known_migrations()


@pytest.mark.parametrize("command", ["pull-catalogs", "run"])
def test_a_run_with_nothing_new_imports_neither_sqlite_utils_nor_rich(sandbox, command):
    """They are the largest part of start-up (requests and pyzipper too, over folders without
    archive passwords or OData); a quiet cron run with nothing to do needs none of them."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert sandbox.run(command)[0] == 0
    probe = ("import sys, runpy; sys.argv = ['onecsync', '--config', sys.argv[1], '-q', sys.argv[2]]\n"
             "try:\n    runpy.run_module('onecsync', run_name='__main__')\nexcept SystemExit as e:\n"
             "    code = e.code\n"
             "import json; print(json.dumps([code, sorted({m.split('.')[0] for m in sys.modules})]))")
    done = subprocess.run([sys.executable, "-c", probe, str(sandbox.config), command],
                          capture_output=True, text=True, timeout=120)
    code, modules = json.loads(done.stdout.strip().splitlines()[-1])
    assert code == 0, done.stderr
    assert "onecsync" in modules and "sqlite3" in modules
    assert {"sqlite_utils", "rich", "requests", "pyzipper"}.isdisjoint(modules)


def test_a_run_with_nothing_new_reports_the_waiting_documents_without_counting_them(sandbox, monkeypatch):
    sandbox.put("accounting", f.Msg(objects=[f.payment(f.ref(1, "bbbbbbbb"), f.ref(9), "10.00")]))
    code, report, _ = sandbox.run("pull-settlements")
    assert (code, report["routed"]["pull-settlements"]) == (0, {"waiting": 1})

    def no_count(*args, **kwargs):
        raise AssertionError("counted the waiting documents of a run that changed none")

    monkeypatch.setattr(Inbox, "count_status", no_count)
    code, report, _ = sandbox.run("pull-settlements")
    assert (code, report["routed"]["pull-settlements"]) == (0, {"waiting": 1})
    monkeypatch.undo()

    # A second payment naming no CRM invoice: counted again.
    sandbox.put("accounting", f.Msg(message_no=2, objects=[
        f.payment(f.ref(2, "bbbbbbbb"), f.ref(9), "20.00", number="ТС00-000500")]))
    code, report, _ = sandbox.run("pull-settlements")
    assert (code, report["routed"]["pull-settlements"]) == (0, {"waiting": 2})


def test_a_state_can_still_be_made_from_a_sqlite_utils_database(tmp_path):
    path = tmp_path / "s.sqlite"
    open_state(path).close()
    state = State(Database(sqlite3.connect(path)), str(path))
    assert isinstance(state.conn, sqlite3.Connection)
    assert state.peers.all() == []


def _inbox_indexes(state: State) -> list[tuple[str, str]]:
    """The inbox's indexes and triggers (a first exchange drops both for a while)."""
    return state.conn.execute("SELECT name, sql FROM sqlite_master WHERE type IN ('index', "
                              "'trigger') AND tbl_name = 'inbox' ORDER BY name").fetchall()


def test_a_first_exchange_fills_the_inbox_indexes_after_its_rows_and_they_are_used(tmp_path):
    """Staged into an empty inbox, the secondary indexes are dropped and made again at the end:
    the schema is what the migrations made, and every index holds every row."""
    state = open_state(tmp_path / "s.sqlite")
    made = _inbox_indexes(state)
    assert len(made) >= 5
    seen = []
    real = state.conn.execute
    state.conn = _Recording(state.conn, seen)
    with state.atomic():
        state.inbox.stage("accounting", 1, "1.8", (_obj(i) for i in range(50)))
    state.conn = state.conn.inner
    assert any(sql.startswith("DROP INDEX") for sql in seen)  # the fast path was taken
    assert _inbox_indexes(state) == made
    assert real("PRAGMA integrity_check").fetchone() == ("ok",)
    assert real("SELECT count(*) FROM inbox INDEXED BY inbox_ref").fetchone() == (50,)
    # Into an inbox that holds rows, nothing is dropped.
    seen.clear()
    state.conn = _Recording(state.conn, seen)
    with state.atomic():
        state.inbox.stage("accounting", 2, "1.8", (_obj(i) for i in range(50, 60)))
    state.conn = state.conn.inner
    assert not any(sql.startswith("DROP INDEX") for sql in seen)
    assert _inbox_indexes(state) == made


def test_a_first_exchange_that_fails_midway_leaves_the_indexes_and_no_row(tmp_path):
    state = open_state(tmp_path / "s.sqlite")
    made = _inbox_indexes(state)

    def objects():
        yield from (_obj(i) for i in range(700))  # more than one batch
        raise RuntimeError("the message ends early")

    with pytest.raises(RuntimeError), state.atomic():
        state.inbox.stage("accounting", 1, "1.8", objects())
    assert _inbox_indexes(state) == made
    assert state.conn.execute("SELECT count(*) FROM inbox").fetchone() == (0,)


def _stage_and_dump(path, objects, monkeypatch, row_by_row: bool) -> tuple:
    """Every row a staging leaves (inbox, versions, payloads) and the schema, one clock."""
    state = open_state(path)
    with monkeypatch.context() as m:
        m.setattr("onecsync.state.inbox.now_text", lambda: "2026-01-02T03:04:05+00:00")
        if row_by_row:  # as a later exchange stages: each row's trigger and index entries
            m.setattr(FirstFill, "start", classmethod(lambda cls, state: None))
        seen: list[str] = []
        state.conn = _Recording(state.conn, seen)
        with state.atomic():
            state.inbox.stage("accounting", 1, "1.8", iter(objects))
        state.conn = state.conn.inner
    rows = tuple(state.conn.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()
                 for t in ("inbox", "versions", "inbox_payloads"))
    schema = sorted(state.conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master"))
    assert state.conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    state.close()
    return rows, schema, seen


def _twice(where: str) -> tuple[list[BodyObject], tuple[int, int]]:
    """Three batches with objects twice; and (batches added as new rows, upserted) then."""
    objects = [_obj(i) for i in range(1200)]
    if where == "first batch":  # a change, and the same bytes again
        objects[300:300] = [dataclasses.replace(objects[3], digest="changed-3"), objects[7]]
    objects.append(dataclasses.replace(objects[10], digest="changed-10"))  # of the first batch
    return objects, ((1, 3) if where == "first batch" else (3, 1))


@pytest.mark.parametrize("where", ["first batch", "last batch"])
def test_a_first_exchange_keeps_the_versions_in_bulk_as_the_trigger_would_row_by_row(
        tmp_path, monkeypatch, where):
    """Into an empty inbox the per-row triggers are dropped and their work done per batch
    (issue 15); an object twice in the message makes its batch fail as new rows, undone, and
    go again with the triggers, as every later batch does: the state is the same."""
    objects, inserts = _twice(where)
    fast, fast_schema, seen = _stage_and_dump(tmp_path / "fast.sqlite", objects, monkeypatch,
                                              row_by_row=False)
    assert 'DROP TRIGGER "versions_new"' in seen  # the bulk path was taken
    assert _inserts(seen) == inserts
    slow, slow_schema, seen = _stage_and_dump(tmp_path / "slow.sqlite", objects, monkeypatch,
                                              row_by_row=True)
    assert not any(sql.startswith("DROP") for sql in seen)
    assert fast == slow
    assert fast_schema == slow_schema
    inbox, versions, _ = fast
    # Each change is a version of its own; the same bytes again are none.
    assert (len(inbox), len(versions)) == (1200, 1202 if where == "first batch" else 1201)


def test_a_first_exchange_with_each_object_once_adds_its_rows_and_payloads_by_id(
        tmp_path, monkeypatch):
    _, _, seen = _stage_and_dump(tmp_path / "once.sqlite", [_obj(i) for i in range(1200)],
                                 monkeypatch, row_by_row=False)
    assert _inserts(seen) == (3, 0)
    assert not any("SELECT id FROM inbox WHERE" in sql for sql in seen)  # the ids are known


def _inserts(seen: list[str]) -> tuple[int, int]:
    """(batches added as new rows, batches upserted) into the inbox."""
    inserts = [sql for sql in seen if sql.startswith("INSERT INTO inbox (")]
    upserts = sum("ON CONFLICT" in sql for sql in inserts)
    return len(inserts) - upserts, upserts


class _Recording:
    """A connection that notes every statement it is given."""

    def __init__(self, inner: sqlite3.Connection, seen: list[str]) -> None:
        self.inner, self.seen = inner, seen

    def execute(self, sql: str, *args):
        self.seen.append(sql)
        return self.inner.execute(sql, *args)

    def executemany(self, sql: str, *args):
        self.seen.append(sql)
        return self.inner.executemany(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


# Stages `n` objects into a new state as a first exchange does (one transaction, the indexes
# made after the rows), each with a payload that compresses badly, and prints how much the peak
# RSS grew meanwhile, in KiB.
STAGING_PROBE = """
import os, resource, sys, tempfile
from pathlib import Path
from onecsync.protocol.reader import BodyObject
from onecsync.state import open_state
n = int(sys.argv[1])
with tempfile.TemporaryDirectory() as folder:
    state = open_state(Path(folder) / "s.sqlite")
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    state.inbox.stage("accounting", 1, "1.8", (
        BodyObject("Справочник.Контрагенты", f"{i:08x}-{os.urandom(14).hex()}", "object",
                   b"<x>" + os.urandom(1500).hex().encode() + b"</x>", os.urandom(16).hex(), i,
                   None, f"N-{i}", None, f"{i:012d}") for i in range(n)))
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base)
    state.conn.close()
"""


@pytest.mark.slow
def test_a_first_exchange_into_the_state_takes_no_more_memory_for_more_objects():
    """SQLite's page cache fills up as the state grows, and the sort that makes the inbox's
    indexes takes as much again: both are bounded by the cache size, not the objects."""
    small, large = f.probe_kb(STAGING_PROBE, 2_000), f.probe_kb(STAGING_PROBE, 40_000)
    # 20 times the objects (about 70 MB of state): the cache and the sort, at 64 MiB each as
    # before, grew 80 MB with them.
    assert large - small < 30_000, (small, large)
