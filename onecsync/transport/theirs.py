"""The base's message in a folder others write to: which of its files is the one to read, opened
how (the directory transport's reading half).

Public API: `open_theirs(folder, name)`, `folder_names(folder)`, `MAX_NAMES`, `Listing`,
`list_folder(folder)`, `newest(folder, senders, node, listing)` → `Newest` or None.

The names are 1C's receive mask (messagefiles.addressed: any infobase prefix, the codes in any
case, the base's code or its alias); of several, the newest non-empty one by modification time
is taken, as SSL's FILE transport takes it (`GetMessage`), a .zip winning a tie, unless the
other file of the tie holds the later message (heads: candidates.tie_winner). Every candidate
is opened under the same rules, whatever its name: never through a link that leaves the folder,
never blocking on a FIFO, judged by the fstat of the descriptor that is then read. A folder is
listed up to MAX_NAMES entries (another writer's flood of files must not make every run take
hours), once per receive (`list_folder`): the check for what 1C takes for our message, the choice
of the base's message and the scan for a wrong code (flows/addressing.py) all judge that one
listing, so a folder that changes meanwhile never gets two verdicts that contradict each other.
"""

from __future__ import annotations

import functools
import logging
import os
import stat
from dataclasses import dataclass
from dataclasses import replace
from pathlib import Path
from typing import IO
from typing import Callable

from onecsync.errors import StrayEntry
from onecsync.files import NotRegular
from onecsync.files import open_regular
from onecsync.messagefiles import addressed
from onecsync.messagefiles import unlisted_names
from onecsync.transport.candidates import PEEKED
from onecsync.transport.candidates import Head
from onecsync.transport.candidates import HeadMemo
from onecsync.transport.candidates import peek
from onecsync.transport.candidates import shadows
from onecsync.transport.candidates import shown
from onecsync.transport.candidates import tie_winner
from onecsync.transport.candidates import warn_empty

log = logging.getLogger("onecsync")

# An exchange folder holds a handful of files; past this many entries another writer floods it,
# and every run would spend minutes looking at them (the FTP listing is capped alike).
MAX_NAMES = 100_000


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


@dataclass(frozen=True)
class Listing:
    """A folder's names as one listing gave them; `listed` False: a share we may use but not
    list (mode 0300), whose `names` are only those of the base's message that need no listing."""

    names: list[str]
    listed: bool = True


def list_folder(folder: Path, senders: tuple[str, ...], node: str) -> Listing:
    try:
        return Listing(folder_names(folder))
    except PermissionError:
        return Listing(unlisted_names(senders, node), False)


@dataclass
class Newest:
    fd: int  # open; the caller closes it
    st: os.stat_result
    path: Path
    left: list[str]  # the names of the others, older, the newest of them first


def newest(folder: Path, senders: tuple[str, ...], node: str, listing: Listing) -> Newest | None:
    """The newest non-empty of the base's messages of `listing`, open, and the names of the
    others, newest first; None when there is none. At most two descriptors are open at once,
    however many names."""
    best: tuple[tuple[int, bool, str], int, os.stat_result, Path] | None = None
    left: list[tuple[tuple[int, bool, str], str]] = []
    empty: list[str] = []
    names = sorted(n for n in listing.names if any(addressed(n, s, node) for s in senders))
    try:
        for name in names:
            if (opened := open_theirs(folder, name)) is None:
                continue
            fd, st, path = opened
            if st.st_size == 0:  # as 1C, which skips them
                os.close(fd)
                empty.append(name)
                continue
            key = (st.st_mtime_ns, path.suffix.lower() == ".zip", name)
            if best is not None:  # the older of the two is closed, its name kept
                older, best = sorted([best, (key, fd, st, path)], key=lambda b: b[0])
                os.close(older[1])
                left.append((older[0], older[3].name))
            else:
                best = (key, fd, st, path)
    except BaseException:
        if best is not None:
            os.close(best[1])
        raise
    if best is None:
        if empty:
            warn_empty(str(folder), empty)
        elif not listing.listed:
            # A base with an infobase prefix (any UUID-coded one) writes Message_<prefix>_…,
            # which only a listing finds: "no message" every run would hide the missing right.
            log.warning("%s: this user may not list the folder, so only the names without a "
                        "prefix were tried (%s), and none is there; a base with an infobase "
                        "prefix writes Message_<prefix>_%s_%s.xml, which cannot be found so "
                        "(give this user the right to read the folder's list of files)", folder,
                        shown(names), senders[0], node)
        return None
    return Newest(best[1], best[2], best[3], [n for _, n in sorted(left, reverse=True)])


def _key(folder: Path, name: str, st: os.stat_result) -> str | None:
    """What a file opened as `st` is known by in candidates.HeadMemo: its name, size, times,
    inode and device, ctime included (no one can set it back, as a touch sets the mtime, so
    bytes rewritten in place are read again). None, never trusted: a link, or a name no longer
    naming the file opened."""
    try:
        at = os.lstat(folder / name)
    except OSError:
        return None
    if not stat.S_ISREG(at.st_mode) or (at.st_ino, at.st_dev) != (st.st_ino, st.st_dev):
        return None
    return f"dir:{name}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}:{st.st_ino}:{st.st_dev}"


def heads(folder: Path, found: Newest, opener: Callable[[int, Path], IO[bytes]],
          senders: tuple[str, ...], node: str, spool=None) -> tuple[Head, list[Head]]:
    """The headers of the newest file and of the newest PEEKED beside it (none when it is
    alone), for candidates.judge_rivals; `opener` gives a descriptor's XML, unzipped. With a
    `spool`, what each said is kept (candidates.HeadMemo), so a run with nothing new opens
    them but reads none."""
    if not found.left:
        return Head(found.path.name), []
    memo = HeadMemo(spool)
    rivals = []
    for name in found.left[:PEEKED]:
        try:
            opened = open_theirs(folder, name)
        except StrayEntry:
            continue  # not a file: 1C reads none of it either
        if opened is not None:
            fd, st, path = opened
            try:
                h = memo.head(name, _key(folder, name, st), functools.partial(
                    peek, name, functools.partial(opener, fd, path), senders, node))
            finally:
                os.close(fd)
            rivals.append(replace(h, tied=st.st_mtime_ns == found.st.st_mtime_ns))
    name = found.path.name
    newest_head = memo.head(name, _key(folder, name, found.st), functools.partial(
        peek, name, functools.partial(opener, found.fd, found.path), senders, node))
    memo.save()
    if (winner := tie_winner(newest_head, rivals)) is not None and _take(folder, found, winner):
        rivals = [r for r in rivals if r is not winner] + [replace(newest_head, tied=True)]
        newest_head = winner
    return newest_head, rivals


def _take(folder: Path, found: Newest, winner: Head) -> bool:
    """`found` made the tied `winner` (candidates.tie_winner), opened anew: False, found left
    as it was, when it is no longer there as it was listed (changed or gone meanwhile)."""
    try:
        opened = open_theirs(folder, winner.name)
    except StrayEntry:
        return False
    if opened is None:
        return False
    if opened[1].st_mtime_ns != found.st.st_mtime_ns:
        os.close(opened[0])
        return False
    os.close(found.fd)
    old = found.path.name
    found.fd, found.st, found.path = opened
    found.left = [old] + [n for n in found.left if n != winner.name]
    return True


def shadowing(folder: Path, listing: Listing, outgoing: str, node: str,
              senders: tuple[str, ...]) -> tuple[list[str], list[str]]:
    """The files of `listing` that 1C's receiving side takes for our message `outgoing` besides
    it (its mask `Message*_<node>_<peer>.*`: a kept copy, a former integration's file under a
    prefix), split by time against ours (candidates.shadows). An unlistable folder shows none."""
    names = [n for n in listing.names if n != outgoing
             and any(addressed(n, node, s) for s in senders)]
    if not listing.listed or not names:
        return [], []
    try:
        ours: int | None = os.lstat(folder / outgoing).st_mtime_ns
    except FileNotFoundError:
        # None of ours yet (1C took it; compress or a code's case just changed, and the old
        # file is ours): the run writes a newer one, and a file newer still is caught then.
        ours = None
    except OSError:
        return [], []
    others = {}
    for name in names:
        try:
            others[name] = os.lstat(folder / name).st_mtime_ns
        except OSError:
            continue  # gone meanwhile
    return shadows(outgoing, others, ours)
