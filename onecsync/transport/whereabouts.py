"""Is an exchange folder still the folder our message was put in?

Public API: `remember(spool, folder)`, `moved(spool, folder)`.

A share unmounted leaves its mount point, an empty folder of this host's disk, under the same
path; a folder replaced by a link to another one leaves the path too. Neither is an error a
listing shows, so the folder's identity (device and inode) is kept in the run's notes (spool)
whenever our message is written there or found in place, and compared when it is found gone
(flows/whose.py): another identity is another folder, where the base never looks.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from onecsync.errors import OnecsyncError

NOTE = "folder.json"


def _identity(folder: Path) -> dict | None:
    try:
        st = os.stat(folder)  # through a link: where the path leads now
    except OSError:
        return None
    return {"device": st.st_dev, "inode": st.st_ino}


def remember(spool, folder: Path) -> None:
    """Our message is in `folder` (or goes there now): its identity kept, written on change."""
    if spool is None or (now := _identity(folder)) is None or spool.note(NOTE) == now:
        return
    with contextlib.suppress(OnecsyncError):  # unkept, a folder gone is only judged less well
        spool.write_note(NOTE, now)


def moved(spool, folder: Path) -> bool:
    """Is `folder` another folder than the one our message was last in (False: the same, or
    not known)?"""
    kept = spool.note(NOTE) if spool is not None else None
    return isinstance(kept, dict) and (now := _identity(folder)) is not None and kept != now
