"""The base's message in a folder others write to: which of its files is the one to read, opened
how (the directory transport's reading half).

Public API: `open_theirs(folder, name)`, `folder_names(folder)`, `MAX_NAMES`, `newest(folder,
senders, node)` → `Newest` or None, `shown(names)`.

The names are 1C's receive mask (messagefiles.addressed: any infobase prefix, the codes in any
case, the base's code or its alias); of several, the newest non-empty one by modification time
is taken, as SSL's FILE transport takes it (`GetMessage`), a .zip winning a tie. Every candidate
is opened under the same rules, whatever its name: never through a link that leaves the folder,
never blocking on a FIFO, judged by the fstat of the descriptor that is then read. A folder is
listed up to MAX_NAMES entries (another writer's flood of files must not make every run take
hours), and a list of names said in a warning is cut to SHOWN (`shown`).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from onecsync.errors import StrayEntry
from onecsync.files import NotRegular
from onecsync.files import open_regular
from onecsync.messagefiles import addressed
from onecsync.messagefiles import unlisted_names
from onecsync.text import one_line

log = logging.getLogger("onecsync")

# An exchange folder holds a handful of files; past this many entries another writer floods it,
# and every run would spend minutes looking at them (the FTP listing is capped alike).
MAX_NAMES = 100_000
# Names a warning lists before it counts the rest.
SHOWN = 3


def shown(names: list[str]) -> str:
    """`a, b, c, and 5 more`: a list of names for one warning line, however many there are."""
    text = ", ".join(one_line(str(n)) for n in names[:SHOWN])
    return text + (f", and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def folder_names(folder: Path) -> list[str]:
    """The names in `folder`, at most MAX_NAMES of them (past it: exit 3, naming the folder)."""
    names: list[str] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if len(names) == MAX_NAMES:
                raise StrayEntry(f"{folder} holds more than {MAX_NAMES} entries; an exchange "
                                 "folder holds a few message files",
                                 remedy="remove the files that neither 1C nor onecsync wrote "
                                        "there")
            names.append(entry.name)
    return names


def open_theirs(folder: Path, name: str) -> tuple[int, os.stat_result, Path] | None:
    """Open the base's file `name`: (fd, its fstat, its path), None when there is none.

    A link is followed only to a regular file in this same folder; anything else that is
    not a regular file is a StrayEntry, and nothing of it is read."""
    path = folder / name
    try:
        fd, st = open_regular(path)
        return fd, st, path
    except FileNotFoundError:
        return None
    except NotRegular as exc:
        if exc.kind != "symbolic link":
            raise StrayEntry(f"{path} is a {exc.kind}, not a message file") from None
    target = Path(os.path.realpath(path))
    if target.parent != Path(os.path.realpath(folder)):
        raise StrayEntry(f"{path} is a symbolic link to {target}, outside the exchange "
                         "folder: onecsync does not follow it",
                         remedy="put the message file itself there")
    try:
        fd, st = open_regular(folder / target.name)
    except FileNotFoundError:
        raise StrayEntry(f"{path} is a symbolic link to {target}, which does not exist") \
            from None
    except NotRegular as exc:
        raise StrayEntry(f"{path} is a symbolic link to a {exc.kind}, not a message "
                         "file") from None
    return fd, st, path


def _names(folder: Path, senders: tuple[str, ...], node: str) -> tuple[list[str], bool]:
    """The folder's names 1C's receiving side takes for the base's message to us, and whether
    the folder could be listed. A share we may use but not list (mode 0300) gets the names that
    need no listing (no prefix)."""
    try:
        return sorted(n for n in folder_names(folder)
                      if any(addressed(n, s, node) for s in senders)), True
    except PermissionError:
        return unlisted_names(senders, node), False


@dataclass
class Newest:
    fd: int  # open; the caller closes it
    st: os.stat_result
    path: Path
    left: list[str]  # the names of the others, older


def newest(folder: Path, senders: tuple[str, ...], node: str) -> Newest | None:
    """The newest non-empty of the base's messages, open, and the names of the others; None
    when there is none. At most two descriptors are open at once, however many names."""
    best: tuple[tuple[int, bool, str], int, os.stat_result, Path] | None = None
    left, empty = [], []
    names, listed = _names(folder, senders, node)
    try:
        for name in names:
            if (opened := open_theirs(folder, name)) is None:
                continue
            fd, st, path = opened
            if st.st_size == 0:  # as 1C, which skips them
                os.close(fd)
                empty.append(path)
                continue
            key = (st.st_mtime_ns, path.suffix.lower() == ".zip", name)
            if best is not None:  # the older of the two is closed, its name kept
                older, best = sorted([best, (key, fd, st, path)], key=lambda b: b[0])
                os.close(older[1])
                left.append(older[3].name)
            else:
                best = (key, fd, st, path)
    except BaseException:
        if best is not None:
            os.close(best[1])
        raise
    if best is None:
        if empty:
            if len(empty) == 1:
                log.warning("%s is empty: ignored, as 1C ignores it (the base may still be "
                            "writing it)", empty[0])
            else:  # named a few, the rest counted: 20,000 of them are not 20,000 lines
                log.warning("%s: %s are empty: ignored, as 1C ignores them (the base may still "
                            "be writing)", folder, shown([p.name for p in empty]))
        elif not listed:
            # A base with an infobase prefix (any UUID-coded one) writes Message_<prefix>_…,
            # which only a listing finds: "no message" every run would hide the missing right.
            log.warning("%s: this user may not list the folder, so only the names without a "
                        "prefix were tried (%s), and none is there; a base with an infobase "
                        "prefix writes Message_<prefix>_%s_%s.xml, which cannot be found so "
                        "(give this user the right to read the folder's list of files)", folder,
                        shown(names), senders[0], node)
        return None
    return Newest(best[1], best[2], best[3], left)
