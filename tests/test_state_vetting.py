"""A state file that is there but is not a onecsync state is never taken for a first run: an
empty file, another program's SQLite database, one without any table, one of a newer onecsync,
a log left without its state. Each is one line and exit 3 in every command that opens the state,
and the file is left exactly as it was."""

from __future__ import annotations

import shutil
import sqlite3

import pytest

from onecsync.state import open_state
from tests import factory as f
from tests.test_cli import tree_digest

COMMANDS = [("run",), ("pull-catalogs",), ("--dry-run", "run"), ("status",), ("check",),
            ("state", "show"), ("state", "export"), ("state", "set-numbers", "crm", "--sent", "5"),
            ("state", "set-numbers", "crm", "--sent", "5", "--yes"), ("state", "resend", "crm", "--yes"),
            ("retry", "--all"), ("reconcile",)]


def _empty(box):
    box.state_path.write_bytes(b"")


def _foreign(box):
    with sqlite3.connect(box.state_path) as c:
        c.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
        c.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    c.close()


def _no_tables(box):
    with sqlite3.connect(box.state_path) as c:
        c.execute("PRAGMA user_version = 7")  # writes the header: an SQLite file, nothing in it
    c.close()


def _newer(box):
    open_state(box.state_path).close()
    with sqlite3.connect(box.state_path) as c:
        c.execute("INSERT INTO _sqlite_migrations (migration_set, name, applied_at) "
                  "VALUES ('onecsync', '0099_from_the_future', '2030-01-01')")
    c.close()


def _log_without_state(box):
    """The state removed (or not restored) while its log, holding its last commits, stayed."""
    open_state(box.state_path).close()
    c = sqlite3.connect(box.state_path, isolation_level=None)
    c.execute("PRAGMA journal_mode = WAL")
    c.execute("PRAGMA wal_autocheckpoint = 0")
    c.execute("UPDATE peers SET sent_no = 41")
    c.execute("INSERT INTO runs (command, started_at) VALUES ('run', 'x')")
    wal = box.state_path.with_name(box.state_path.name + "-wal")
    shutil.copyfile(wal, box.root / "kept-wal")
    c.close()
    box.state_path.unlink()
    shutil.copyfile(box.root / "kept-wal", wal)
    (box.root / "kept-wal").unlink()


def _journal_without_state(box):
    """A hot rollback journal (an older onecsync's, or any SQLite's) where the state is gone."""
    box.state_path.with_name(box.state_path.name + "-journal").write_bytes(b"\xd9\xd5\x05\xf9" * 128)


def _link_into_share(box):
    """The state moved into an exchange folder and linked back (review 5): the config check,
    judging the state's folder, would pass it."""
    real = box.folders["crm"] / "state.sqlite"
    real.parent.mkdir(parents=True, exist_ok=True)
    open_state(real).close()
    box.state_path.symlink_to(real)


def _dangling_link(box):
    """A link whose target is not made yet: a run must not create it through the link."""
    (box.root / "elsewhere").mkdir()
    box.state_path.symlink_to(box.root / "elsewhere" / "state.sqlite")


def _log_link(box):
    """A real state whose write-ahead log is a link to another file SQLite would then write."""
    open_state(box.state_path).close()
    (box.root / "victim").write_bytes(b"not a log")
    box.state_path.with_name(box.state_path.name + "-wal").symlink_to(box.root / "victim")


S = "{state}"
KINDS = {
    "empty": (_empty, f"the state file {S} is empty: restore it from backup, or remove it to "
                      "start over (numbers restart at 1)"),
    "foreign": (_foreign, f"the state file {S} is an SQLite database but not a onecsync state "
                          "(its tables: customers, orders): point `state:` in the config at "
                          "onecsync's own state file, and leave this one to the program it "
                          "belongs to"),
    "no-tables": (_no_tables, f"the state file {S} is an SQLite database without any table: "
                              "restore it from backup, or remove it to start over (numbers "
                              "restart at 1)"),
    "newer": (_newer, f"the state file {S} was written by a newer onecsync (schema "
                      "0099_from_the_future, this one knows up to "),
    "log-left": (_log_without_state, f"the state file {S} is missing but its log "
                                     "onecsync.sqlite-wal is there (the state was removed or "
                                     "moved without it): restore the state file from backup, "
                                     "or remove onecsync.sqlite-wal and onecsync.sqlite-shm too "
                                     "to start over (numbers restart at 1)"),
    "journal-left": (_journal_without_state, f"the state file {S} is missing but its log "
                                             "onecsync.sqlite-journal is there"),
    "link-into-share": (_link_into_share, f"the state path {S} is a symbolic link (to "),
    "dangling-link": (_dangling_link, f"the state path {S} is a symbolic link (to "),
    "log-link": (_log_link, f"the state path {S}-wal is a symbolic link (to "),
}


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("kind", list(KINDS))
def test_a_state_that_is_not_one_is_refused_and_left_alone(sandbox, kind, command):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    sandbox.state_path.parent.mkdir(mode=0o700)
    make, line = KINDS[kind]
    make(sandbox)
    lock = "state/onecsync.sqlite.lock"  # the lock may be taken: it holds no state
    before = tree_digest(sandbox.root)
    code, _, err = sandbox.human(*command)
    assert code == 3, err
    expected = line.format(state=sandbox.state_path)
    lines = [x for x in err.splitlines() if expected in x]
    assert lines, err
    assert "Traceback" not in err
    after = tree_digest(sandbox.root)
    after.pop(lock, None)
    assert after == before  # not a byte written, no log files, no .new


def test_a_first_run_leaves_a_complete_state_or_none(sandbox, monkeypatch):
    """A run killed while it creates the state leaves no state file (so the next run is a first
    run again), never an empty one that the next run would have to refuse."""
    from onecsync.state import migrations

    def killed(conn, path):
        raise KeyboardInterrupt

    monkeypatch.setattr("onecsync.state.upgrade", killed)
    with pytest.raises(KeyboardInterrupt):
        open_state(sandbox.state_path)
    assert sorted(p.name for p in sandbox.state_path.parent.iterdir()) == []
    monkeypatch.setattr("onecsync.state.upgrade", migrations.upgrade)
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sandbox.numbers("crm")[0] == 1
