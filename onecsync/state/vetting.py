"""Is the file at the state path a onecsync state? One clear line for each thing it may be instead.

Public API: `vet_file(path)` → whether a state exists (before anything opens it), and
`vet_schema(conn, path)` (once SQLite has it open).

A state that is not one must never be taken for a first run: that silently restarts the
message numbers at 1 (both bases then skip our messages as received earlier) and forgets what
was exchanged. onecsync itself never leaves a state file that is empty or has no tables
(`open_state` builds a new one beside it and links it in whole), so each of these is someone
else's doing (a failed restore, a full disk under a copy, a path pointed at another program's
database) and needs a human: exit 3, and the file is not touched.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from onecsync.errors import StateError
from onecsync.i18n import N_
from onecsync.state.migrations import applied
from onecsync.state.migrations import known_migrations

_START_OVER = N_("remove it to start over (numbers restart at 1)")


def _refused(what: str, remedy: str) -> StateError:
    """`what: remedy` as one line: the remedy is the sentence's second half, not an aside."""
    return StateError(f"{what}: {remedy}", remedy="")


def wal_path(path: Path) -> Path:
    return path.with_name(path.name + "-wal")


def _no_links(path: Path) -> None:
    """The state and the files SQLite keeps beside it are never reached through a link: a link
    would put them where the config check did not judge them (an exchange folder, another
    state), give them a lock of their own beside each link, and make a missing target an empty
    file created through it (mode 0644) that every later run refuses."""
    for p in (path, wal_path(path), path.with_name(path.name + "-shm"),
              path.with_name(path.name + "-journal")):
        if not p.is_symlink():
            continue
        try:
            target = os.readlink(p)
        except OSError:
            target = "?"
        raise _refused(f"the state path {p} is a symbolic link (to {target})",
                       "point `state:` in the config at the real file, in a folder of "
                       "onecsync's own, and remove the link")


def vet_file(path: Path) -> bool:
    """True: a state file is there (its tables are vetted once open); False: none yet, a first
    run. Raises `StateError` for what must not be opened as either."""
    _no_links(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        size = None
    except OSError as exc:
        raise StateError(f"the state file {path} cannot be looked at: {exc.strerror}") from None
    if size is None:
        # A new state would take the old one's log (or hot journal) for its own and be corrupt.
        for log_file in (wal_path(path), path.with_name(path.name + "-journal")):
            try:
                if not log_file.stat().st_size:
                    continue
            except OSError:
                continue
            raise _refused(
                f"the state file {path} is missing but its log {log_file.name} is there "
                "(the state was removed or moved without it)",
                f"restore the state file from backup, or remove {log_file.name} and "
                f"{path.name}-shm too to start over (numbers restart at 1)")
        return False
    if not path.is_file():
        raise _refused(f"the state path {path} is not a file",
                       "point `state:` in the config at onecsync's state file")
    if size == 0:
        raise _refused(f"the state file {path} is empty", f"restore it from backup, or {_START_OVER}")
    return True


def vet_schema(conn: sqlite3.Connection, path: object) -> None:
    """The open file is a onecsync state this onecsync can use; raises `StateError` if not."""
    done = applied(conn)
    unknown = [name for name in done if name not in set(known_migrations())]
    if unknown:
        raise _refused(f"the state file {path} was written by a newer onecsync (schema "
                       f"{unknown[-1]}, this one knows up to {known_migrations()[-1]})",
                       "upgrade onecsync to use it; do not edit the state file")
    if done:
        return
    tables = [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name LIMIT 6")]
    if not tables:
        raise _refused(f"the state file {path} is an SQLite database without any table",
                       f"restore it from backup, or {_START_OVER}")
    shown = ", ".join(tables[:5]) + (", …" if len(tables) > 5 else "")
    raise _refused(f"the state file {path} is an SQLite database but not a onecsync state "
                   f"(its tables: {shown})",
                   "point `state:` in the config at onecsync's own state file, and leave this "
                   "one to the program it belongs to")
