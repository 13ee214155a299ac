"""An FTP folder read as the directory transport reads its own: the listing, name by name, and
the headers of the base's files that compete for "its message" (candidates.judge_rivals).

Public API: `list_files(ftp, where, wanted, odd_said)` → (listed files, message names),
`nlst(ftp, where)`, `heads(newest, left, spool, download, opener, senders, node)`, `ASKED`.

Sizes and times come from MLSD; a server without it (or without those facts) is asked SIZE and
MDTM for each file wanted, which is a round trip each: past ASKED of them (another writer's
flood of files under the base's names, empty ones included) the folder is exit 3, as a local
folder past theirs.MAX_NAMES is, rather than a run that outlasts its deadline every time.
A name MLSD lists twice with other facts (a stale cache line beside the file's own) is a
listing that contradicts itself: it is said, and that file's size and time are asked by SIZE
and MDTM, which name one file as the download does (exit 4 if the server answers neither), so
its last line never stands against the download forever.
"""

from __future__ import annotations

import ftplib
import logging
from dataclasses import replace
from pathlib import Path
from typing import IO
from typing import Callable
from typing import Iterator

from onecsync.answers import parse_int
from onecsync.errors import StrayEntry
from onecsync.errors import TemporaryError
from onecsync.messagefiles import message_like
from onecsync.text import one_line
from onecsync.transport.base import remove_quietly
from onecsync.transport.candidates import Head
from onecsync.transport.candidates import HeadMemo
from onecsync.transport.candidates import peek
from onecsync.transport.candidates import shown
from onecsync.transport.ftpconn import Listed
from onecsync.transport.ftpconn import listing
from onecsync.transport.ftpconn import not_a_file

ASKED = 1000
log = logging.getLogger("onecsync")


def nlst(ftp: ftplib.FTP, where: str) -> Iterator[str]:
    """NLST, streamed."""
    return listing(ftp, "NLST", where)


def list_files(ftp: ftplib.FTP, where: str, wanted: Callable[[str], bool],
               odd_said: Callable[[str], None] | None = None) -> tuple[dict[str, Listed], list[str]]:
    """Size and modification time of the files `wanted` in the folder (those that exist), and
    every message file's name listed (for telling a wrong code); `odd_said`: told the first
    name no file can have, if any."""
    try:
        ftp.sendcmd("OPTS MLST type;size;modify;")
    except ftplib.error_perm:
        pass  # the facts a server gives by default include these
    entries: dict[str, dict[str, str]] = {}
    seen: list[str] = []
    odd: list[str] = []
    twice: dict[str, list[str]] = {}  # a name listed again with other facts: what each said
    try:
        for line in listing(ftp, "MLSD", where):
            facts, _, name = line.partition(" ")
            if not_a_file(name):
                odd = odd or [name]
                continue
            seen += [name] if message_like(name) else []
            if wanted(name):
                said = dict(f.partition("=")[::2] for f in facts.lower().split(";") if f)
                if entries.get(name, said) != said and \
                        len(told := twice.setdefault(name, [_facts(entries[name])])) < 3:
                    told.append(_facts(said))  # a few show it: a listing may repeat it forever
                entries[name] = said
    except ftplib.error_perm as exc:
        if not str(exc).startswith(("500", "501", "502", "504")):
            raise
        listed = list(nlst(ftp, where))
        odd = [n for n in listed if not_a_file(n)][:1]
        seen = [n for n in listed if message_like(n) and not not_a_file(n)]
        entries = {n: {} for n in seen if wanted(n)}  # no MLSD: ask each file
    if odd and odd_said is not None:
        odd_said(odd[0])
    for name in twice:  # SIZE and MDTM are asked instead
        entries[name] = {"type": entries[name].get("type", "file")}
    files = {n: e for n, e in entries.items() if e.get("type", "file") == "file"}
    if (asked := [n for n, e in files.items() if not (e.get("size") and e.get("modify"))]) \
            and len(asked) > ASKED:
        raise StrayEntry(f"{where}: {len(asked)} files under the names of the exchange's "
                         f"messages ({shown(sorted(asked))}), each to be asked its size and "
                         "time; an exchange folder holds a few",
                         remedy="remove the files that neither 1C nor onecsync wrote there")
    found = {}
    for name, entry in files.items():  # RFC 3659: every fact optional, so ask
        try:
            found[name] = Listed(name, _size(ftp, where, name, entry.get("size")),
                                 entry.get("modify") or ftp.sendcmd(f"MDTM {name}")[4:].strip())
        except ftplib.error_perm as exc:
            if name not in twice:
                raise
            raise TemporaryError(
                f"{where}: the server lists {one_line(name)} more than once, saying other "
                f"things of it, and answers no SIZE or MDTM to tell which is true "
                f"({one_line(str(exc))[:80]})",
                remedy="the FTP server's listing contradicts itself (a stale cache?): the next "
                       "run retries; if it goes on, restart the server") from None
    for name, told in twice.items():
        if name in found:
            log.warning("%s: the server lists %s more than once, saying other things of it "
                        "(%s): its listing contradicts itself, so the file is taken as SIZE "
                        "and MDTM tell it (%s)", where, one_line(name), "; ".join(told),
                        _facts({"size": str(found[name].size), "modify": found[name].modify}))
    return found, seen


def _facts(said: dict[str, str]) -> str:
    return one_line(", ".join(f"{k} {said.get(k, '?')}" for k in ("size", "modify")))[:80]


def _size(ftp: ftplib.FTP, where: str, name: str, listed: str | None) -> int:
    if listed:
        return parse_int(listed, f"{where}: MLSD {one_line(name)}", "its size")
    ftp.voidcmd("TYPE I")  # many servers answer SIZE only in binary mode (550 in ASCII)
    reply = ftp.sendcmd(f"SIZE {name}")
    return parse_int(reply[3:] if reply.startswith("213") else reply,
                     f"{where}: SIZE {one_line(name)}", "the size")


def heads(newest: Listed, left: list[Listed], spool, download: Callable[[Listed], Path],
          opener: Callable[[Path, str], IO[bytes]], senders: tuple[str, ...],
          node: str) -> tuple[Head, list[Head]]:
    """The headers of the newest and of those beside it (none when it is alone), each
    downloaded once: what a file of one listed name, size and time says is kept in the spool
    (candidates.HeadMemo) while the file is there; one that cannot be told yet (it ends early)
    is asked again."""
    if not left:
        return Head(newest.name), []
    memo = HeadMemo(spool)

    def head(item: Listed) -> Head:
        def read() -> Head:
            temp = download(item)
            try:
                return peek(item.name, lambda: opener(temp, item.name), senders, node)
            finally:
                remove_quietly(temp)
        return memo.head(item.name, item.key, read)
    # Of a tie by time a line says "a tie" (candidates.judge_rivals); which one is read is
    # ftp.py's choice, 1C's own (the .zip).
    found = head(newest), [replace(head(item), tied=item.modify == newest.modify)
                           for item in left]
    memo.save()
    return found
