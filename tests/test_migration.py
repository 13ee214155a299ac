"""A state of the previous layout (payloads inline, migrations 0001-0003) is moved to the new one
in one transaction: the result is what this onecsync would have made, a run on it converges,
and a run killed in the middle of the move leaves the old state as it was."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

from sqlite_utils import Database

from onecsync.state.migrations import MIGRATIONS
from onecsync.state.migrations import applied
from onecsync.state.payloads import unpack
from tests import factory as f
from tests.conftest import parse_message

MAPPING = ("mapping:\n  crm:\n    Справочник.Контрагенты:\n"
           "      set: {КлючевыеСвойства/НаименованиеПолное: Клиент из БП}\n")
OLD = ["0001_initial", "0002_invoices_links_mapping", "0003_bench_open_registrations"]
# What migration 0005 (and 0014: the staging that wrote an inbox row) records from then on:
# NULL in the rows of an older state.
TRACE_COLUMNS = {"inbox": ("number", "date", "inn", "staging"),
                 "registrations": ("stamped_at", "confirmed_at")}


def forgotten(path: Path, dump: dict) -> dict:
    """`dump` (a `Sandbox.dump()`) as a state migrated from before 0005 holds it: its rows
    without what 0005 records."""
    out = dict(dump)
    with sqlite3.connect(path) as c:
        for table, names in TRACE_COLUMNS.items():
            cols = [r[1] for r in c.execute(f"PRAGMA table_info({table})")]
            at = {cols.index(n) for n in names}
            out[table] = [tuple(None if i in at else v for i, v in enumerate(row))
                          for row in dump[table]]
    c.close()
    return out


def previous_layout(state_path: Path, before: str = "0004_payloads_apart") -> None:
    """Rewrite the state as an older onecsync held it (migrations before `before`): the same
    rows, payloads inline before 0004, without what 0005 records."""
    old = state_path.with_name("old.sqlite")
    conn = sqlite3.connect(old, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # as every run left it
    MIGRATIONS.migrations().apply(Database(conn), stop_before=before)
    conn.create_function("unpack", 1, unpack)
    conn.execute("ATTACH ? AS new", (str(state_path),))
    payload = {"inbox": "(SELECT unpack(xml) FROM new.inbox_payloads WHERE inbox_id = t.id)",
               "registrations": "(SELECT unpack(xml) FROM new.registration_payloads "
                                "WHERE registration_id = t.id)"}
    tables = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = "
                                         "'table' AND name NOT LIKE '\\_%' ESCAPE '\\'")]
    for table in tables:
        cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
        values = [payload[table] if c == "xml" and table in payload else f"t.{c}" for c in cols]
        conn.execute(f"INSERT INTO main.{table} ({', '.join(cols)}) SELECT {', '.join(values)} "
                     f"FROM new.{table} t")
    conn.execute("DETACH new")
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{state_path}{suffix}").unlink(missing_ok=True)
    old.rename(state_path)


def everything(path: Path) -> dict:
    with sqlite3.connect(path) as c:
        tables = [r[0] for r in c.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                          "AND name != '_sqlite_migrations' ORDER BY name")]
        out = {t: c.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}
        out["_migrations"] = applied(c)
        assert c.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    c.close()
    return out


def a_first_exchange(sandbox) -> dict:
    """Catalogs (one of them mapped for the CRM) and a waiting payment, sent to the CRM."""
    sandbox.config.write_text(sandbox.config.read_text() + MAPPING)
    sandbox.put("accounting", f.Msg(objects=[
        f.counterparty(f.ref(1), "ООО Ромашка"), f.currency(f.ref(2)),
        f.payment(f.ref(3), f.ref(9, "bad00000"), "2.00", number="X-2")]))
    code, _, err = sandbox.run("run")
    assert code == 0, err
    with sandbox.db() as c:
        assert c.execute("SELECT count(*) FROM registration_payloads").fetchone()[0] == 1
    return sandbox.dump()


def test_a_state_of_the_previous_layout_is_migrated_to_what_a_new_state_holds(sandbox):
    made_new = a_first_exchange(sandbox)
    previous_layout(sandbox.state_path)
    before = everything(sandbox.state_path)
    assert before["_migrations"] == OLD
    assert all(len(row[7]) > 300 for row in before["inbox"])  # the xml, inline

    code, _, err = sandbox.run("run")  # nothing new: it migrates, and changes nothing else

    assert code == 0, err
    # Said first: on a large state this takes minutes, outside run_timeout.
    assert "upgrading the state file" in err and "0004" in err and "not counted in run_timeout" \
        in err, err
    assert sandbox.dump() == forgotten(sandbox.state_path, made_new)
    with sandbox.db() as c:
        cols = {r[1] for t in ("inbox", "registrations") for r in c.execute(f"PRAGMA table_info({t})")}
    assert "xml" not in cols

    # And it goes on exchanging: the CRM confirms, accounting sends a change and a new object.
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=1))
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, created="2026-11-22T09:00:00",
                                    objects=[f.counterparty(f.ref(1), "ООО Ромашка и К"),
                                             f.counterparty(f.ref(4), "ООО Лютик")]))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["peers"]["crm"]["sent"]["objects"] == 2
    assert sorted(sandbox.outgoing("crm")["objects"]) == \
        [("Справочник.Контрагенты", f.ref(1)), ("Справочник.Контрагенты", f.ref(4))]
    _, _, objects = parse_message(sandbox.outgoing_path("crm"))
    assert sorted(o.findtext(".//{*}Наименование") for o in objects) == ["ООО Лютик", "ООО Ромашка и К"]
    # Both mapped: the rules apply to what came after the migration, as before it.
    assert [o.findtext(".//{*}НаименованиеПолное") for o in objects] == ["Клиент из БП"] * 2


# Opens the state as a run does, and is killed by SIGKILL when the migration has copied the
# inbox's payloads and dropped its column, while it copies the mapped ones: mid-transaction.
KILLED = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import onecsync.state.payloads as payloads
    from onecsync.state import open_state
    path, at = Path(sys.argv[1]), int(sys.argv[2])
    pack, calls = payloads.pack, []
    def dying(xml):
        calls.append(1)
        if len(calls) == at:
            os.kill(os.getpid(), signal.SIGKILL)
        return pack(xml)
    payloads.pack = dying
    open_state(path)
    print("migrated")
""")


def test_a_run_killed_in_the_middle_of_the_migration_leaves_the_old_state(sandbox):
    made_new = a_first_exchange(sandbox)
    previous_layout(sandbox.state_path)
    before = everything(sandbox.state_path)
    objects = len(before["inbox"])

    proc = subprocess.run([sys.executable, "-c", KILLED, str(sandbox.state_path), str(objects + 1)],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(f.REPO)},
                          timeout=60)

    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert everything(sandbox.state_path) == before  # the old layout, every row, unharmed
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sandbox.dump() == forgotten(sandbox.state_path, made_new)


def test_a_text_payload_of_an_old_state_is_moved_as_its_utf8_bytes(sandbox):
    """review3 #9: one old row whose xml was TEXT stopped the migration on every run."""
    made_new = a_first_exchange(sandbox)
    previous_layout(sandbox.state_path)
    with sqlite3.connect(sandbox.state_path) as c:
        c.execute("UPDATE inbox SET xml = CAST(xml AS TEXT)")
        c.execute("UPDATE registrations SET xml = CAST(xml AS TEXT) WHERE xml IS NOT NULL")
        assert c.execute("SELECT DISTINCT typeof(xml) FROM inbox").fetchall() == [("text",)]
    c.close()
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sandbox.dump() == forgotten(sandbox.state_path, made_new)


def test_a_payload_that_is_no_xml_at_all_is_named_with_a_remedy_that_works(sandbox):
    """An INTEGER where the XML should be: exit 3 naming the table, the row and the object,
    nothing moved; the remedy's statement, carried out, lets the next run migrate and go on."""
    a_first_exchange(sandbox)
    previous_layout(sandbox.state_path)
    with sqlite3.connect(sandbox.state_path) as c:
        row_id, ref = c.execute("SELECT id, ref FROM inbox WHERE type = 'Справочник.Валюты'"
                                ).fetchone()
        c.execute("UPDATE inbox SET xml = 42 WHERE id = ?", (row_id,))
    c.close()
    before = everything(sandbox.state_path)
    for _ in range(2):
        code, _, err = sandbox.run("run")
        assert code == 3, err
        line = next(ln for ln in err.splitlines() if "error:" in ln)
        assert (f"inbox row {row_id} (accounting, Справочник.Валюты {ref}) holds an INTEGER "
                "where its XML should be") in line
        assert "restore the state file from a backup" in line
        assert everything(sandbox.state_path) == before
    statement = line.split(f"sqlite3 {sandbox.state_path} '")[1].split("'")[0]
    with sqlite3.connect(sandbox.state_path) as c:
        c.executescript(statement)
    c.close()
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert everything(sandbox.state_path)["_migrations"] == MIGRATIONS.names()
    with sandbox.db() as c:
        assert c.execute("SELECT count(*) FROM inbox WHERE id = ?", (row_id,)).fetchone()[0] == 0


# Opens a state of the 0004 layout as a run does, killed by SIGKILL inside migration 0005 after
# its `at`-th statement (columns added, the versions table made: mid-transaction).
KILLED_0005 = textwrap.dedent("""
    import os, signal, sqlite3, sys
    from pathlib import Path
    import onecsync.state.migrations as migrations
    from onecsync.state import open_state
    path, at = Path(sys.argv[1]), int(sys.argv[2])
    def dying(db, script):
        statement, done = "", 0
        for line in script.splitlines(keepends=True):
            statement += line
            if sqlite3.complete_statement(statement):
                db.conn.execute(statement)
                statement, done = "", done + 1
                if done == at:
                    os.kill(os.getpid(), signal.SIGKILL)
    migrations.in_the_transaction = dying
    open_state(path)
    print("migrated")
""")


def test_a_run_killed_in_migration_0005_leaves_the_state_as_it_was_and_trace_says_what_it_lacks(
        sandbox):
    made_new = a_first_exchange(sandbox)
    previous_layout(sandbox.state_path, before="0005_trace")
    before = everything(sandbox.state_path)
    assert before["_migrations"] == [*OLD, "0004_payloads_apart"]
    code, _, err = sandbox.run("trace", f.ref(1))
    assert code == 3 and "from an older onecsync" in err and "run `onecsync run` once" in err

    proc = subprocess.run([sys.executable, "-c", KILLED_0005, str(sandbox.state_path), "7"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(f.REPO)},
                          timeout=60)

    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert everything(sandbox.state_path) == before
    code, _, err = sandbox.run("run")
    assert code == 0, err
    assert sandbox.dump() == forgotten(sandbox.state_path, made_new)
    assert applied(sqlite3.connect(sandbox.state_path)) == MIGRATIONS.names()
    code, report, err = sandbox.run("trace", f.ref(1))
    assert code == 0, err
    assert report["trace"]["versions"][0]["received_at"] is None
    assert "versions from accounting before the newest" in report["trace"]["unknown"]
