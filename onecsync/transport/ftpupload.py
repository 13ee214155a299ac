"""Our message put in place on an FTP server, and proved to be there, since a server's "250" to
a rename is only its word (a quota-bound, read-only or broken server says it and renames
nothing, and our previous message would pass for the new one).

Public API: `put(ftp, where, path, name, listed)` → (the file now under `name`, proved),
`not_ours(where, name, why)`, `TEMP_PREFIX`.

The message is stored under a temporary name in the same folder (1C's mask never takes it),
checked to have our size, and renamed over `name`. A server that refuses to rename over a file
(IIS) has our previous message moved aside first, and back when the second rename fails too:
it is deleted only once the listing proved the new one in its place, so a refused rename never leaves the base
without a message of ours. A killed run's leftovers are removed by the next upload, and its
previous message, left aside with none under `name`, is put back.

After the rename the one listing of the temporary name and `name` must show the temporary name
gone and under `name` our size and the time the server gave the file we stored (a rename keeps
a file's time): then the file is proved ours with no download. When the time is another (a
server renaming by copying) or the previous message had our size and time too, the caller
reads the file back and compares its bytes (`proved` False).
"""

from __future__ import annotations

import ftplib
import secrets
from pathlib import Path
from typing import Callable

from onecsync.errors import TemporaryError
from onecsync.i18n import N_
from onecsync.transport.ftpconn import Listed
from onecsync.transport.ftpfolder import nlst

TEMP_PREFIX = ".onecsync-tmp-"
ASIDE = TEMP_PREFIX + "old-"  # our previous message while the new one takes its name

Lister = Callable[[ftplib.FTP, list[str]], dict[str, Listed]]


def not_ours(where: str, name: str, why: str) -> TemporaryError:
    """The server said it renamed our upload to `name`, and `name` is not that file."""
    return TemporaryError(
        f"{where}: the server answered that it renamed our upload to {name}, but {why}: the "
        "message is not in place",
        remedy="the FTP server does not rename as it says: see its log for why (a quota, a "
               "read-only folder); the next run sends again")


def put(ftp: ftplib.FTP, where: str, path: Path, name: str,
        listed: Lister) -> tuple[Listed, bool]:
    """Upload `path` as `name` (see the module docstring); the file then under `name`, and
    whether it is proved ours without reading it back."""
    size = path.stat().st_size
    temp = f"{TEMP_PREFIX}{secrets.token_hex(8)}-{name}"
    _tidy(ftp, where, name)
    try:
        with open(path, "rb") as f:
            ftp.storbinary(f"STOR {temp}", f)
        before = listed(ftp, [temp, name])
        stored, previous = before.get(temp), before.get(name)
        if stored is None or stored.size != size:
            raise TemporaryError(f"{where}: the upload was cut: the server holds "
                                 f"{stored.size if stored else 0} of {size} bytes")
        aside = _rename(ftp, temp, name, previous is not None)
        after = listed(ftp, [temp, name])
    except BaseException:
        _delete_quietly(ftp, temp)
        raise
    placed = after.get(name)
    why = (N_("our upload is still under its temporary name") if temp in after else
           N_("no file is there") if placed is None else
           N_(f"the file there has {placed.size} bytes, ours {size}") if placed.size != size
           else None)
    if why is not None or placed is None:
        # Our previous message, moved aside, goes back before anything else: a server that
        # only said it renamed must not leave the base without a message of ours (review R8).
        _delete_quietly(ftp, temp)
        if aside is not None:
            _put_back(ftp, aside, name)
        raise not_ours(where, name, why or "")
    if aside is not None:
        _delete_quietly(ftp, aside)
    ambiguous = previous is not None and (previous.size, previous.modify) == (size, stored.modify)
    return placed, placed.modify == stored.modify and not ambiguous


def _rename(ftp: ftplib.FTP, temp: str, name: str, occupied: bool) -> str | None:
    """`temp` renamed to `name`; over a server refusing to rename over a file, the file there
    moved aside first (its name returned, for the caller to delete once the listing proved
    `temp` in its place), and put back when the second rename is refused."""
    try:
        ftp.rename(temp, name)
        return None
    except ftplib.error_perm:
        if not occupied:
            raise  # nothing was in the way: the rename itself is refused
    aside = f"{ASIDE}{secrets.token_hex(8)}-{name}"
    ftp.rename(name, aside)  # refused too: our previous message stays where it was
    try:
        ftp.rename(temp, name)
    except BaseException:
        _put_back(ftp, aside, name)
        raise
    return aside


def _put_back(ftp: ftplib.FTP, aside: str, name: str) -> None:
    try:
        ftp.rename(aside, name)
    except (ftplib.Error, OSError, EOFError):
        pass  # the next upload puts it back (_tidy)


def _tidy(ftp: ftplib.FTP, where: str, name: str) -> None:
    """A killed run's leftovers gone (we hold the lock): its uploads deleted, and its previous
    message, left aside, put back when none is under `name`, else deleted."""
    ours, present = [], False
    for listed in nlst(ftp, where):  # streamed: only our own names kept
        present = present or listed == name
        if listed.startswith(TEMP_PREFIX) and listed.endswith("-" + name):
            ours.append(listed)
    for left in ours:
        if not left.startswith(ASIDE):
            _delete_quietly(ftp, left)
        elif not present:
            try:
                ftp.rename(left, name)
                present = True
            except ftplib.error_perm:
                pass  # kept: our previous message is never deleted before another is there
        else:
            _delete_quietly(ftp, left)


def _delete_quietly(ftp: ftplib.FTP, name: str) -> None:
    try:
        ftp.delete(name)
    except (ftplib.Error, OSError, EOFError):
        pass
