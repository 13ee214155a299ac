"""What a SQLite error means for the admin: the state file is busy, full, read-only, or broken.

Public API: `sqlite_failure(exc, path)` → the `OnecsyncError` to raise instead (or the stop
a signal asked for, which SQLite reports as the error of the callback it landed in).

Another program holding the file (a backup, an `sqlite3` shell left open) and a full disk pass:
the next run retries (exit 4). A file or folder this user cannot write, and a damaged file, need
a human (exit 3). Our own runs never meet each other here: they wait for the run lock first.
"""

from __future__ import annotations

import sqlite3

from onecsync import stopping
from onecsync.errors import OnecsyncError
from onecsync.errors import StateError
from onecsync.errors import TemporaryError

_READ_ONLY = ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")


def sqlite_failure(exc: sqlite3.Error, path) -> OnecsyncError | BaseException:
    if (stop := stopping.pending()) is not None:
        return stop  # "user-defined function raised exception": our own handler's stop
    name = getattr(exc, "sqlite_errorname", "") or ""
    text = str(exc)
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "is locked" in text:
        return TemporaryError(
            f"state file {path} is locked by another program (a backup? an sqlite3 shell?)",
            remedy="nothing to do if a backup holds it: the next run retries; close any "
                   "sqlite3 shell left open on it")
    if name.startswith("SQLITE_FULL") or "disk is full" in text:
        return TemporaryError(f"state file {path}: no space left on the device",
                              remedy="free disk space; the next run retries")
    if name.startswith(_READ_ONLY) or "readonly" in text or "unable to open" in text:
        return StateError(f"state file {path} cannot be written: {text}",
                          remedy="make the state file and its folder writable by the user "
                                 "that runs onecsync")
    if name.startswith("SQLITE_IOERR") or "disk I/O error" in text:
        return TemporaryError(f"state file {path}: {text} (disk full, or the disk failing?)",
                              remedy="check the disk; the next run retries")
    return StateError(f"state file {path} cannot be used: {text}")
