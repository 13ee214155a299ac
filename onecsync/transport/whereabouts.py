"""Is an exchange folder still the folder our message was put in?

Public API: `remember(spool, folder)`, `moved(spool, folder)`.

A share unmounted leaves its mount point, an empty folder of this host's disk, under the same
path; a folder replaced by a link to another one leaves the path too. Neither is an error a
listing shows, so the folder's identity is kept in the run's notes (spool) whenever our message
is written there or found in place, and compared when it is found gone (flows/whose.py):
another identity is another folder, where the base never looks.

The identity is the device (a mount point is of this host's disk, the share of another) and the
real path (a link leads elsewhere), not the inode: a folder removed and made again at the same
path is the folder the base reads, and an inode told it apart (review R9: exit 4 every run for a
healthy exchange). A note of an earlier onecsync (device and inode) is judged by its device.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from onecsync.errors import OnecsyncError

NOTE = "folder.json"
_stat = os.stat  # (tests make a mount point of another device with it)


def _identity(folder: Path) -> dict | None:
    try:
        device = _stat(folder).st_dev  # through a link: where the path leads now
        return {"device": device, "path": os.path.realpath(folder)}
    except (OSError, ValueError):
        return None


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
    if not isinstance(kept, dict) or (now := _identity(folder)) is None:
        return False
    return kept.get("device") != now["device"] or kept.get("path", now["path"]) != now["path"]
