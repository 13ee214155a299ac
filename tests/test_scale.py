"""What keeps a first exchange flat and a cron run with nothing new cheap (figures: bench/run.py)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from sqlite_utils import Database

from onecsync.protocol.reader import BodyObject
from onecsync.state import open_state
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
