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


def previous_layout(state_path: Path) -> None:
    """Rewrite the state as the previous onecsync held it: the same rows, payloads inline."""
    old = state_path.with_name("old.sqlite")
    conn = sqlite3.connect(old, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")  # as every run left it
    MIGRATIONS.migrations().apply(Database(conn), stop_before="0004_payloads_apart")
    conn.create_function("unpack", 1, unpack)
    conn.execute("ATTACH ? AS new", (str(state_path),))
    payload = {"inbox": "(SELECT unpack(xml) FROM new.inbox_payloads WHERE inbox_id = t.id)",
               "registrations": "(SELECT unpack(xml) FROM new.registration_payloads "
                                "WHERE registration_id = t.id)"}
    for table in ("peers", "inbox", "registrations", "runs", "invoices", "inbox_links", "meta"):
        cols = [r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")]
        values = [payload[table] if c == "xml" else f"t.{c}" for c in cols]
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
    assert sandbox.dump() == made_new
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
    assert sandbox.dump() == made_new
