"""The local state: one SQLite file holding numbers, inbox, registrations and the run journal.

Public API: `open_state(path)`, `open_dry_run(path)` (for --dry-run), `open_readonly(path)`
(for status and exports), `read_peers(path)` (read-only), `State`, `PeerState`, `Pending`,
`RunLock`, `lock_path`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable

from onecsync.errors import StateError
from onecsync.state import dryrun
from onecsync.state.failures import sqlite_failure
from onecsync.state.lock import RunLock
from onecsync.state.lock import holder_if_locked
from onecsync.state.lock import lock_path
from onecsync.state.migrations import known_migrations
from onecsync.state.migrations import upgrade
from onecsync.state.store import PeerState
from onecsync.state.store import Pending
from onecsync.state.store import State

log = logging.getLogger("onecsync")

__all__ = ["ensure_state_dir", "open_state", "open_dry_run", "open_readonly", "State", "PeerState",
           "Pending", "RunLock", "lock_path", "holder_if_locked", "read_peers", "read_connection",
           "sqlite_failure"]

# How long a run waits for another program (a backup, an sqlite3 shell) to let go of the file.
BUSY_TIMEOUT = 5.0
# Bytes of write-ahead log kept after a checkpoint (the rest is given back to the disk).
WAL_KEEP = 64 * 1024 * 1024
# Judge access as the file system will (a setuid wrapper, or tests dropping privileges).
_EFFECTIVE = os.access in os.supports_effective_ids
# How long a reader (status, check) waits: in WAL mode only a checkpoint makes it wait at all.
READ_TIMEOUT = 5.0


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT)
    # FULL: a commit is on disk before we confirm to 1C what it carried.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def _use_wal(conn: sqlite3.Connection) -> None:
    """Write-ahead log: readers (`status` during a first exchange of an hour) see the last commit
    and never wait for the writer, and a killed run leaves no journal a reader would have to roll
    back. With synchronous FULL a commit is on disk (in the log) before it returns, as before.
    The mode stays with the file; a file system that cannot share memory keeps the old one."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if mode != "wal":
        log.debug("state: journal mode stays %s (WAL not available here)", mode)
    # The log of a first exchange is as big as the exchange: give the space back afterwards.
    conn.execute(f"PRAGMA journal_size_limit = {WAL_KEEP}")


def _open(path: str, wal: bool = False) -> State:
    try:
        conn = _connect(path)
        if wal:
            _use_wal(conn)
        upgrade(conn, path)
    except sqlite3.DatabaseError as exc:
        raise sqlite_failure(exc, path) from None
    return State(conn, path)


def ensure_state_dir(path: Path) -> None:
    """The state's folder, created private (0700) if it does not exist yet."""
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"cannot create the state folder {path.parent}: {exc.strerror}") \
                from None


def open_state(path: Path) -> State:
    """Open (creating with mode 0600 if needed) and upgrade the state file."""
    ensure_state_dir(path)
    if not path.exists():
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            pass
        except OSError as exc:
            raise StateError(f"cannot create state file {path}: {exc.strerror}") from None
    else:
        _make_private(path)
        _must_be_writable(path)
    return _open(str(path), wal=True)


def _must_be_writable(path: Path) -> None:
    """Refused before SQLite opens it: opened read-only, it would leave its log files beside the
    state with the state's read-only mode, and they would still refuse a run once the state
    itself was made writable again."""
    for p in (path, _wal_path(path), path.with_name(path.name + "-shm")):
        if p.exists() and not os.access(p, os.R_OK | os.W_OK, effective_ids=_EFFECTIVE):
            raise StateError(f"state file {p} cannot be written: permission denied",
                             remedy="make the state file, its -wal and -shm files and its "
                                    "folder writable by the user that runs onecsync")


def _make_private(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError as exc:  # not our file: it still works, but others may read it
        log.warning("state file %s is readable by others and cannot be made private: %s",
                    path, exc.strerror or exc)


def open_dry_run(path: Path) -> tuple[State, Callable[[], None]]:
    """The state for --dry-run and `finish()`, which undoes everything it did (state/dryrun.py):
    the real file in a transaction never committed, not a copy of it."""
    try:
        return dryrun.open_dry_run(path, _connect, upgrade)
    except sqlite3.DatabaseError as exc:
        raise sqlite_failure(exc, path) from None


def _wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _log_is_empty(path: Path) -> bool:
    """No write-ahead log, or an empty one: everything committed is in the file itself."""
    try:
        return _wal_path(path).stat().st_size == 0
    except FileNotFoundError:
        return True


def read_connection(path: Path, factory: type = sqlite3.Connection) -> sqlite3.Connection:
    """A connection that cannot write the state (query_only) yet leaves no trace: opened like a
    run's, it finishes what a killed run left (rolls back its journal, rebuilds the log's index,
    as any reader of SQLite must) and, as the last one out, removes the log files it used. Where
    the log's files cannot be made (a folder this user may not write, a full disk), a state that
    was closed cleanly (no log left) is read as the unchanging file it then is."""
    conn = None
    try:
        conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False,
                               timeout=READ_TIMEOUT, factory=factory)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.DatabaseError as exc:
        if conn is not None:
            conn.close()
        name = getattr(exc, "sqlite_errorname", "")
        if name.startswith(("SQLITE_READONLY_DIRECTORY", "SQLITE_CANTOPEN", "SQLITE_IOERR",
                            "SQLITE_FULL")) and _log_is_empty(path):
            conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True,
                                   check_same_thread=False, factory=factory)
            conn.execute("PRAGMA query_only = ON")
            return conn
        if name in ("SQLITE_READONLY_ROLLBACK", "SQLITE_READONLY_RECOVERY"):
            raise StateError(
                f"state file {path} was left half-written by a run that was killed, and this "
                "user may not finish undoing it",
                remedy="run `onecsync status` once as the user that owns the state file; "
                       "nothing is lost") from None
        raise


def open_readonly(path: Path) -> State | None:
    """The state opened read-only (no lock, no migration, no write possible), or None if it does
    not exist yet. A run may be writing meanwhile: this shows its last commit, and waits for
    nothing (see `read_connection`); a run killed at any moment leaves nothing that stops it."""
    if not path.exists():
        return None
    try:
        conn = read_connection(path)
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_sqlite_migrations'") \
                .fetchone() is None:
            conn.close()
            return None  # created, but no run got as far as making the tables
        applied = [r[0] for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'onecsync' ORDER BY rowid")]
    except sqlite3.DatabaseError as exc:
        failure = sqlite_failure(exc, path)
        if isinstance(failure, StateError):
            raise StateError(f"state file {path} cannot be read: {exc}") from None
        raise failure from None
    unknown = [m for m in applied if m not in set(known_migrations())]
    if unknown:
        conn.close()
        raise StateError(f"state file {path} was written by a newer onecsync (schema {unknown[-1]})",
                         remedy="use that onecsync to look at it")
    return State(conn, str(path))


def read_peers(path: Path) -> list[PeerState] | None:
    """The peers as the state file holds them, without writing, migrating or locking anything.

    None when there is no state file yet. For diagnostics (`check`) that must not change the
    file, nor wait for a running exchange, nor copy a state of gigabytes.
    """
    if not path.exists():
        return None
    state = open_readonly(path)
    if state is None:
        return []  # created, but no run has got as far as the schema
    try:
        return state.peers()
    except sqlite3.DatabaseError as exc:
        raise StateError(f"state file {path} cannot be used: {exc}") from None
    finally:
        state.close()
