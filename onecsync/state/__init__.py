"""The local state: one SQLite file holding numbers, inbox, registrations and the run journal.

Public API: `open_state(path)`, `open_scratch_copy(path)` (for --dry-run), `State`,
`PeerState`, `Pending`, `RunLock`, `lock_path`.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

from onecsync.errors import StateError
from onecsync.state.lock import RunLock
from onecsync.state.lock import holder_if_locked
from onecsync.state.lock import lock_path
from onecsync.state.migrations import upgrade
from onecsync.state.store import PeerState
from onecsync.state.store import Pending
from onecsync.state.store import State

__all__ = ["ensure_state_dir", "open_state", "open_scratch_copy", "State", "PeerState", "Pending", "RunLock",
           "lock_path", "holder_if_locked"]


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
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
        raise StateError(f"state file {path} cannot be used: {exc}") from None
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
    elif path.stat().st_mode & 0o077:
        os.chmod(path, 0o600)
    return _open(str(path))


def open_scratch_copy(path: Path) -> tuple[State, str]:
    """A private copy of the state for --dry-run: the real file is only ever read."""
    fd, tmp = tempfile.mkstemp(prefix="onecsync-dry-run-", suffix=".sqlite")
    os.close(fd)
    if path.exists():
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        except sqlite3.DatabaseError as exc:
            raise StateError(f"state file {path} cannot be used: {exc}") from None
        finally:
            src.close()
            dst.close()
    return _open(tmp), tmp
