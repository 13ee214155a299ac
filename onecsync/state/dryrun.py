"""The state a --dry-run works on: the real file, inside one transaction that is rolled back.

Public API: `open_dry_run(path, exists, open_connection, migrate)` → (State, finish) (used through
`onecsync.state.open_dry_run`).

A copy of the state would cost as much as the state (1.5 GB and 12 s at 200k objects); the
transaction costs what the run would change, since nothing else is read or written. It never
commits: an authorizer refuses COMMIT, and any write once the transaction has ended (an error
can end it), so no code path of the run can make a change stick. The main file is not touched:
in WAL mode what the transaction writes goes to the log, and a rollback drops it.

Where that cannot be (no state yet, a state that needs a migration first, a state this user
may not write), the run works on a scratch database instead: in memory, or a copy as before.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from pathlib import Path
from typing import Callable

from onecsync.state.failures import sqlite_failure
from onecsync.state.migrations import applied
from onecsync.state.migrations import known_migrations
from onecsync.state.store import State
from onecsync.state.vetting import vet_schema

log = logging.getLogger("onecsync")

_WRITES = {sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE,
           sqlite3.SQLITE_CREATE_TABLE, sqlite3.SQLITE_CREATE_INDEX, sqlite3.SQLITE_DROP_TABLE,
           sqlite3.SQLITE_DROP_INDEX, sqlite3.SQLITE_ALTER_TABLE}


def _never_commit(conn: sqlite3.Connection) -> None:
    def authorize(action: int, arg1, arg2, db, trigger) -> int:
        if action == sqlite3.SQLITE_TRANSACTION and arg1 == "COMMIT":
            return sqlite3.SQLITE_DENY
        if action in _WRITES and not conn.in_transaction:
            return sqlite3.SQLITE_DENY
        return sqlite3.SQLITE_OK

    conn.set_authorizer(authorize)


def _writable(path: Path) -> bool:
    eff = os.access in os.supports_effective_ids
    return os.access(path, os.R_OK | os.W_OK, effective_ids=eff) and \
        os.access(path.parent, os.W_OK | os.X_OK, effective_ids=eff)


def open_dry_run(path: Path, exists: bool, connect: Callable[[str], sqlite3.Connection],
                 migrate: Callable[[sqlite3.Connection, str], None]) -> tuple[State, Callable]:
    """(the state to run on, `finish()` that throws away whatever the run did); `exists`: the
    file at `path` is there (and was vetted as a file)."""
    if not exists:
        return _scratch(":memory:", connect, migrate)
    conn = connect(str(path))
    try:
        vet_schema(conn, path)
        due = set(known_migrations()) - set(applied(conn))
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise sqlite_failure(exc, path) from None
    except Exception:
        conn.close()
        raise
    if due or not _writable(path):
        conn.close()
        log.debug("dry run: working on a copy of the state (%s)",
                  "a migration is due" if due else "it is not writable by this user")
        return _copy(path, connect, migrate)
    conn.execute("BEGIN")
    _never_commit(conn)

    def finish() -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            conn.close()

    return State(conn, str(path)), finish


def _scratch(where: str, connect, migrate) -> tuple[State, Callable]:
    conn = connect(where)
    migrate(conn, where)
    return State(conn, where), conn.close


def _copy(path: Path, connect, migrate) -> tuple[State, Callable]:
    fd, tmp = tempfile.mkstemp(prefix="onecsync-dry-run-", suffix=".sqlite")
    os.close(fd)
    src = sqlite3.connect(str(path))
    dst = sqlite3.connect(tmp)
    try:
        src.execute("PRAGMA query_only = ON")
        src.backup(dst)
    except sqlite3.DatabaseError as exc:
        os.unlink(tmp)
        raise sqlite_failure(exc, path) from None
    finally:
        src.close()
        dst.close()
    state, close = _scratch(tmp, connect, migrate)

    def finish() -> None:
        try:
            close()
        finally:
            os.unlink(tmp)

    return state, finish
