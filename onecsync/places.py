"""Where our files may go: one judgement of a path we write against the places it must never be.

Public API: `forbidden_place(path, state, config_path, exchange_folders) -> str | None`,
`too_long(path) -> str | None`, `own_folders(state)`, `NAME_MAX`, `PATH_MAX`,
`QUARANTINE_FOLDER`, `SPOOL_FOLDER`.

A file we replace by a rename (the metrics file) lands wherever its name points. Put at the state,
its -wal/-shm/-journal or run lock, or the config, the rename destroys it; put in the quarantine,
it mixes with evidence; put in an exchange folder, the base's users (or whoever mounts the share)
can plant a link on the way and have us replace a file of theirs choosing. Each place is compared
twice: as written (absolute, `..` folded, links not followed: what a link planted later would
redirect) and as it really is now (links resolved: a link already there, a bind mount).
"""

from __future__ import annotations

import os
from pathlib import Path

# Linux's limits (most file systems; SMB and FTP shares are no wider). A name we make from an
# admin's name (the state's .lock, -wal, -journal) is up to 8 bytes longer; a path we make
# below an admin's (a message, a quarantined file) adds one name at most.
NAME_MAX = 255
PATH_MAX = 4096
_OUR_TAIL = 8
# The folders onecsync makes beside its state: rejected messages, and downloads on their way.
QUARANTINE_FOLDER = "quarantine"
SPOOL_FOLDER = "onecsync-transfers"


def own_folders(state: Path) -> dict[str, Path]:
    """What each folder onecsync makes beside the state is for → where it is."""
    return {"the quarantine": state.parent / QUARANTINE_FOLDER,
            "the download spool": state.parent / SPOOL_FOLDER}


def too_long(path: Path | str, tail: int = _OUR_TAIL) -> str | None:
    """Why the system would refuse `path`, or the names we make from it (ENAMETOOLONG), before a
    run opens it; None: it fits. `tail`: how much longer a name we make from its last one is."""
    raw = os.fsencode(os.path.abspath(path))
    if len(raw) + 1 + NAME_MAX >= PATH_MAX:
        return f"is {len(raw)} bytes long; paths are limited to {PATH_MAX - NAME_MAX - 2}"
    longest = max(raw.split(b"/"), key=len)
    if len(longest) + tail > NAME_MAX:
        return (f"has a name of {len(longest)} bytes ({os.fsdecode(longest[:20])}…); names are "
                f"limited to {NAME_MAX - tail} bytes")
    return None


def _forms(path: Path) -> set[str]:
    lexical = os.path.normpath(os.path.abspath(path))
    try:
        real = os.path.realpath(path)
    except (OSError, ValueError):
        real = lexical
    return {lexical, real}


def _inside(child: str, folder: str) -> bool:
    return child == folder or child.startswith(folder.rstrip(os.sep) + os.sep)


def forbidden_place(path: Path, state: Path, config_path: Path,
                    exchange_folders: dict[str, Path]) -> str | None:
    """What `path` would overwrite or expose, in the words of an error line; None: a safe place."""
    mine = _forms(path)
    files = {f"the state file {state}": state, f"the config file {config_path}": config_path}
    for tail in ("-wal", "-shm", "-journal", ".lock"):
        files[f"the state's {tail.lstrip('-.')} file"] = state.with_name(state.name + tail)
    for what, other in files.items():
        if mine & _forms(other):
            return f"is {what}"
    quarantine = state.parent / QUARANTINE_FOLDER
    if any(_inside(m, q) for m in mine for q in _forms(quarantine)):
        return f"is inside the quarantine {quarantine}"
    for name, folder in exchange_folders.items():
        if any(_inside(m, f) for m in mine for f in _forms(folder)):
            return (f"is inside the exchange folder bases.{name}.transport.path ({folder}), "
                    "where the base's users could redirect it")
    return None
