"""The local state: one SQLite file holding numbers, inbox, registrations and the run journal.

Public API: `open_state(path)`, `open_scratch_copy(path)` (for --dry-run), `open_readonly(path)`
(for status and exports), `read_peers(path)` (read-only), `readonly_uri(path)`, `State`,
`PeerState`, `Pending`,
`RunLock`, `lock_path`.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import tempfile
from pathlib import Path

from onecsync.errors import StateError
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

__all__ = ["readonly_uri", "ensure_state_dir", "open_state", "open_scratch_copy", "open_readonly",
           "State", "PeerState",
           "Pending", "RunLock", "lock_path", "holder_if_locked", "read_peers", "sqlite_failure"]

# How long a run waits for another program (a backup, an sqlite3 shell) to let go of the file.
BUSY_TIMEOUT = 5.0


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
    conn.execute("PRAGMA cache_size = -65536")
    return conn


def _open(path: str) -> State:
    try:
        conn = _connect(path)
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
    return _open(str(path))


def _make_private(path: Path) -> None:
    try:
        if path.stat().st_mode & 0o077:
            os.chmod(path, 0o600)
    except OSError as exc:  # not our file: it still works, but others may read it
        log.warning("state file %s is readable by others and cannot be made private: %s",
                    path, exc.strerror or exc)


def open_scratch_copy(path: Path) -> tuple[State, str]:
    """A private copy of the state for --dry-run: the real file is only ever read."""
    fd, tmp = tempfile.mkstemp(prefix="onecsync-dry-run-", suffix=".sqlite")
    os.close(fd)
    if path.exists():
        src = sqlite3.connect(readonly_uri(path), uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        except sqlite3.DatabaseError as exc:
            os.unlink(tmp)
            raise sqlite_failure(exc, path) from None
        finally:
            src.close()
            dst.close()
    return _open(tmp), tmp


def open_readonly(path: Path) -> State | None:
    """The state opened read-only (no lock, no migration, no write possible), or None if it does
    not exist yet. A run may be writing meanwhile: SQLite shows the last committed state."""
    if not path.exists():
        return None
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True,
                               check_same_thread=False)
        conn.execute("PRAGMA busy_timeout = 5000")  # a run's commit takes milliseconds
        conn.execute("PRAGMA query_only = ON")
        if conn.execute("SELECT 1 FROM sqlite_master WHERE name = '_sqlite_migrations'") \
                .fetchone() is None:
            conn.close()
            return None  # created, but no run got as far as making the tables
        applied = [r[0] for r in conn.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'onecsync' ORDER BY rowid")]
    except sqlite3.DatabaseError as exc:
        raise StateError(f"state file {path} cannot be read: {exc}") from None
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
    try:
        conn = sqlite3.connect(readonly_uri(path), uri=True, timeout=10,
                               check_same_thread=False)
    except sqlite3.Error as exc:
        raise StateError(f"state file {path} cannot be read: {exc}") from None
    try:
        return State(conn, str(path)).peers()
    except sqlite3.OperationalError as exc:
        if "no such table" in str(exc):
            return []  # created, but no run has got as far as the schema
        raise StateError(f"state file {path} cannot be read: {exc}") from None
    except sqlite3.DatabaseError as exc:
        raise StateError(f"state file {path} cannot be used: {exc}") from None
    finally:
        conn.close()
