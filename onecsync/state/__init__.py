"""The local state: one SQLite file holding numbers, inbox, registrations and the run journal.

Public API: `open_state(path)`, `open_dry_run(path)` (for --dry-run), `open_readonly(path)`
(for status and exports), `read_peers(path)` (read-only), `readonly_uri(path)`, `State`, `PeerState`, `Pending`,
`RunLock`, `lock_path`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Callable

from onecsync import stopping
from onecsync.errors import StateError
from onecsync.files import fsync_folder
from onecsync.state import dryrun
from onecsync.state.failures import sqlite_failure
from onecsync.state.lock import RunLock
from onecsync.state.lock import holder_if_locked
from onecsync.state.lock import lock_path
from onecsync.state.migrations import upgrade
from onecsync.state.outbox import Pending
from onecsync.state.peers import PeerState
from onecsync.state.store import State
from onecsync.state.vetting import vet_file
from onecsync.state.vetting import vet_schema
from onecsync.state.vetting import wal_path as _wal_path

log = logging.getLogger("onecsync")

__all__ = ["readonly_uri", "ensure_state_dir", "open_state", "open_dry_run", "open_readonly", "State", "PeerState",
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
# Bytes per page of a new state. A page holds whole payload rows (about 850 bytes deflated):
# with 4 KiB pages the part of a page that no next row fits in was 13% of the payloads' pages;
# 16 KiB pages waste a quarter of that (issue 15). Set as the file is made: SQLite keeps it.
PAGE_SIZE = 16384
# KiB of pages a connection caches. SQLite fills its cache up to this as a first exchange makes
# the state bigger, and sorting rows to make an index (state/firstfill.py) takes as much again:
# at 64 MiB a first exchange peaked at 149 MB at 100,000 objects and 169 MB at 200,000, growing
# with the message; at 8 MiB it stays near 80 MB (issue 15). The price grows with N: pages past
# it are read again from the OS's file cache, and a page changed again after it was spilled is
# written again (the inbox's and registrations' unique keys are filled in random order): at
# 400,000 objects 10% more CPU and 1.14× the message written against 1.07×, at 100,000 1.11×.
CACHE_KIB = 8 * 1024


def readonly_uri(path: Path) -> str:
    """The SQLite URI that opens `path` read-only. `#`, `?`, `%` and spaces are legal in a file
    name but mean something in a URI: `as_uri()` quotes them (an f"file:{path}" would open
    another file, or none)."""
    return f"{Path(path).resolve().as_uri()}?mode=ro"


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                           timeout=BUSY_TIMEOUT)
    # FULL: a commit is on disk before we confirm to 1C what it carried.
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
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
    # One checkpoint a run, as the state closes (`State.close`), not one after each commit of
    # over 1,000 pages: a first exchange's routing and sending rewrite the rows its receiving
    # wrote, and each checkpoint copied them into the file again (issue 15: 1.14× the message
    # written for the state of a flat first exchange, each page two to four times). Once at the
    # end, a page is copied once however many steps changed it. The log holds each step's
    # pages meanwhile (no more than the steps wrote: 234 MB beside the 145 MB state after a flat
    # first exchange of 100,000 objects, where a checkpoint a commit kept it to the largest
    # step's), and a killed run leaves them there, committed, for the next one.
    conn.execute("PRAGMA wal_autocheckpoint = 0")


def _open(path: str, wal: bool = False) -> State:
    conn = None
    try:
        conn = _connect(path)
        vet_schema(conn, path)
        if wal:
            _use_wal(conn)
        upgrade(conn, path)
    except BaseException as exc:
        if conn is not None:
            conn.close()  # the last one out removes the log files it made
        if isinstance(exc, sqlite3.DatabaseError):
            raise sqlite_failure(exc, path) from None
        raise
    return State(conn, path, checkpoint=wal)


def ensure_state_dir(path: Path) -> None:
    """The state's folder, created private (0700) if it does not exist yet."""
    if not path.parent.exists():
        try:
            path.parent.mkdir(parents=True, mode=0o700)
        except OSError as exc:
            raise StateError(f"cannot create the state folder {path.parent}: {exc.strerror}") \
                from None


def open_state(path: Path) -> State:
    """Open (creating with mode 0600 if needed) and upgrade the state file. The caller holds
    the run lock."""
    ensure_state_dir(path)
    if vet_file(path):
        _make_private(path)
        _must_be_writable(path)
    else:
        _create(path)
    return _open(str(path), wal=True)


def _create(path: Path) -> None:
    """A new state, built beside `path` and linked in whole: so a state file that is empty or
    has no tables is never onecsync's (a run killed while creating it leaves only the `.new`
    file, which the next run replaces), and `vetting` can refuse those as not a state."""
    new = path.with_name(path.name + ".new")
    try:
        for leftover in (new, new.with_name(new.name + "-journal")):
            leftover.unlink(missing_ok=True)
        os.close(os.open(new, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        conn = _connect(str(new))
        try:
            conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            upgrade(conn, str(new))  # synchronous FULL: on disk when this returns
        finally:
            conn.close()
        os.link(new, path)  # unlike a rename, never replaces a state made meanwhile
        fsync_folder(path.parent)
    except FileExistsError:
        pass  # made meanwhile (not by a run: we hold the lock); vetted as it is opened
    except sqlite3.DatabaseError as exc:
        raise sqlite_failure(exc, path) from None
    except OSError as exc:
        raise StateError(f"cannot create state file {path}: {exc.strerror}") from None
    finally:
        new.unlink(missing_ok=True)


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
        return dryrun.open_dry_run(path, vet_file(path), _connect, upgrade)
    except sqlite3.DatabaseError as exc:
        raise sqlite_failure(exc, path) from None


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
    conn: sqlite3.Connection | None = None
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
            conn = sqlite3.connect(f"{readonly_uri(path)}&immutable=1", uri=True,
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
    if not vet_file(path):
        return None
    conn = None
    try:
        conn = read_connection(path)
        vet_schema(conn, path)
    except sqlite3.DatabaseError as exc:
        failure = sqlite_failure(exc, path)
        if isinstance(failure, StateError):
            raise StateError(f"state file {path} cannot be read: {exc}") from None
        raise failure from None
    except StateError:
        if conn is not None:
            conn.close()
        raise
    return State(conn, str(path))


def read_peers(path: Path) -> list[PeerState] | None:
    """The peers as the state file holds them, without writing, migrating or locking anything.

    None when there is no state file yet. For diagnostics (`check`) that must not change the
    file, nor wait for a running exchange, nor copy a state of gigabytes.
    """
    state = open_readonly(path)
    if state is None:
        return None
    try:
        return state.peers.all()
    except sqlite3.DatabaseError as exc:
        raise stopping.wins(StateError(f"state file {path} cannot be used: {exc}")) from None
    finally:
        state.close()
