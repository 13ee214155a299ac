"""What the names in a base's folder say, judged alike by every transport that lists one
(directory, FTP): the files 1C takes for our message, the base's empty files, its files left
beside the one read, and a newest file that hides the base's real message.

Public API: `shown(names)`, `SHOWN`, `shadows(outgoing, others, ours)`, `judge_shadows(where,
outgoing, newer, older)`, `judge_empty(where, names, finished)` (every transport's, HTTP's
too), `warn_empty(where, names)`, `say_left(read, left, spool)`, `Head`, `peek(name,
open_stream, senders, node)`, `tie_winner(newest, rivals)`, `judge_rivals(where, newest, rivals,
received_no)`, `judge_beside(where, judged, read, left, spool, received_no)`, `PEEKED`,
`HeadMemo(spool)`.

The rule for the base's message is 1C's own (protocol doc §3.1): of the names its mask takes, the
newest non-empty file by modification time, and only that one. The base writes exactly one of
those names (its prefix, its code, .xml or .zip), so a second one is a file it no longer writes
or one it never wrote. While the newest is the base's latest message, the others are only said
(once per change: an old name left beside it for ever is not a warning every five minutes). When
it is not (a file that is no message, or a copy of an older message with a newer time, review 7b
m1), 1C would read it and the base's real message beside it would sit unread: exit 3 naming both,
never exit 0. Times are whatever each transport lists (nanoseconds, an FTP MDTM text): only ever
compared with times of the same listing.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import IO
from typing import Callable
from typing import Sequence
from typing import TypeVar

from onecsync.errors import ConfigError
from onecsync.errors import MessageRejected
from onecsync.errors import OnecsyncError
from onecsync.errors import StrayEntry
from onecsync.errors import TemporaryError
from onecsync.i18n import N_
from onecsync.text import one_line

log = logging.getLogger("onecsync")
T = TypeVar("T")

# Names a warning lists before it counts the rest.
SHOWN = 3
# Of the files beside the newest, how many (the newest of them) are looked into for a message
# newer than it: a flood of thousands costs a few reads, and the newest of them hold the news.
PEEKED = 8
LEFT_NOTE = "beside.json"  # the files last said to be left beside the base's message
HEADS = "heads.json"  # what the headers of the base's files beside each other said


def shown(names: Sequence[str]) -> str:
    """`a, b, c, and 5 more`: a list of names for one warning line, however many there are."""
    text = ", ".join(one_line(str(n)) for n in names[:SHOWN])
    return text + (f", and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


# -- our message, and what 1C takes for it --------------------------------------------------
def shadows(outgoing: str, others: dict[str, T], ours: T | None) -> tuple[list[str], list[str]]:
    """Of the files 1C's receiving side takes for our message besides ours (`others`: name →
    time), those not older than ours (`ours`: its time, None when there is none yet), which 1C
    reads instead of it, and the older ones. Our own name under the other extension or spelling
    is a message this node wrote under an earlier `compress` or code spelling: the one written
    next is newer than it, so it never hides ours (judged before the write, it would stop every
    run, review 8 #6)."""
    own = outgoing.rsplit(".", 1)[0].lower()
    newer: list[str] = []
    older: list[str] = []
    for name in sorted(others):
        mine = name.rsplit(".", 1)[0].lower() == own
        hides = ours is not None and not mine and not others[name] < ours  # type: ignore[operator]
        (newer if hides else older).append(name)
    return newer, older


def judge_shadows(where: str, outgoing: str, newer: list[str], older: list[str]) -> None:
    """One not older than ours is what the base reads instead of it, for ever, while every run
    "sends": exit 3 naming it (every run and check); an older one, a warning."""
    if newer:
        raise StrayEntry(
            f"{where}: 1C reads {shown(newer)} instead of our message {outgoing}: the base takes "
            "that name for ours, and it is not older",
            remedy="remove it: until then the base imports nothing of what onecsync sends")
    if older:
        log.warning("%s: %s is named like our message to the base; it is older than ours, so 1C "
                    "reads ours (remove it)", where, shown(older))


# -- the base's message ---------------------------------------------------------------------
def judge_empty(where: str, names: list[str], finished: bool = False) -> None:
    """The base's empty message files, judged alike by every transport. In a folder (directory,
    FTP) the base may still be writing one, and 1C ignores it: one warning line however many
    (a flood of 20,000 is not 20,000 lines). One `finished`, handed over as a complete export
    (HTTP), is a broken service that will give nothing: exit 4 every run, never silence."""
    if finished:
        raise TemporaryError(
            f"{where}: {one_line(names[0])}: the base's message, exported as finished, is "
            "empty: nothing can be received (1C ignores an empty message file too)",
            remedy="nothing, if it happens once; if it lasts, look at the base's exchange "
                   "service (its event log)")
    if len(names) == 1:
        log.warning("%s/%s is empty: ignored, as 1C ignores it (the base may still be writing "
                    "it)", where, one_line(names[0]))
    elif names:
        log.warning("%s: %s are empty: ignored, as 1C ignores them (the base may still be "
                    "writing)", where, shown(names))


def warn_empty(where: str, names: list[str]) -> None:
    """judge_empty of a folder's files (the base may still be writing them)."""
    judge_empty(where, names)


def say_left(read: str, left: list[str], spool=None) -> None:
    """The base's files beside the one read (another prefix, the old unprefixed name, .xml
    beside .zip): named, since one of them may be what the admin expected to be read. A run
    (`spool`: where it keeps its notes) says it when the list changes, and at debug level
    while it stays; `check` says it every time."""
    if not left:
        return
    said = {"read": read, "left": sorted(left)}
    if spool is not None and spool.note(LEFT_NOTE) == said:
        log.debug("%s is read; left beside it, as said before: %s", read, shown(left))
        return
    log.warning("%s is read as the base's newest message; older beside it, left unread as 1C "
                "leaves them: %s (remove them if the base no longer writes them)",
                one_line(read), shown(left))
    if spool is not None:
        with contextlib.suppress(OnecsyncError):  # unkept, it is only said again next run
            spool.write_note(LEFT_NOTE, said)


@dataclass(frozen=True)
class Head:
    """What a candidate's header says: its MessageNo (`number`), or why it is no message of the
    base to us (`why`); neither while that cannot be told yet (it ends early, as one being
    written does; a zip that needs the archive password: the read says that itself)."""

    name: str
    number: int | None = None
    why: str | None = None
    tied: bool = False  # listed with the newest's own modification time


def tie_winner(newest: Head, rivals: list[Head]) -> Head | None:
    """Of the files tied with the newest by time, the one holding a later message of the base
    than it, both readable: the one to read. A tie says nothing of which is newer (a share
    keeping 2-second times, a base switching `compress`); 1C would break it for the .zip,
    blind to what each holds, and we read the base's messages ourselves (review R7)."""
    if newest.number is None:
        return None
    return max((r for r in rivals if r.tied and r.number is not None and r.number > newest.number),
               key=lambda r: r.number or 0, default=None)


def peek(name: str, open_stream: Callable[[], IO[bytes]], senders: tuple[str, ...],
         node: str) -> Head:
    """The header of the candidate `name` (`open_stream`: the file's XML, unzipped)."""
    from onecsync.protocol.reader import MessageReader  # read only when files compete

    try:
        with open_stream() as stream:
            h = MessageReader(stream, name).header
    except MessageRejected as exc:
        return Head(name) if exc.ends_early else \
            Head(name, why=str(exc).removeprefix(f"{exc.source}: "))
    except ConfigError:
        return Head(name)
    except (OnecsyncError, OSError, ValueError) as exc:
        return Head(name, why=one_line(str(exc))[:200])
    sender, to = (h.sender or "").lower(), (h.to or "").lower()
    if sender not in {s.lower() for s in senders} or to != node.lower():
        return Head(name, why=N_(f"its header says From {one_line(sender)[:40]} To "
                                 f"{one_line(to)[:40]}"))
    if not h.message_no:
        return Head(name, why=N_("its header carries no MessageNo"))
    return Head(name, h.message_no)


def _kept(value: object) -> bool:
    """A HEADS entry as written: [MessageNo or None, why or None], not both None."""
    return isinstance(value, list) and len(value) == 2 and value != [None, None] \
        and isinstance(value[0], (int, type(None))) and not isinstance(value[0], bool) \
        and isinstance(value[1], (str, type(None)))


class HeadMemo:
    """What the headers of the base's competing files said, kept in the spool (HEADS) by the
    key of each file as listed or opened, so that a run with nothing new reads none of them
    again (a folder on a share, a 100 MB zip: a megabyte each). A file under another key (it
    changed) is read again; one with no key (`None`: a link, no spool) is always read, never
    kept; one that cannot be told yet (it ends early) is read again. `save()` once all are in:
    only the files there now are kept."""

    def __init__(self, spool) -> None:
        self.spool = spool
        self.known = (spool.note(HEADS) or {}) if spool is not None else {}
        self.kept: dict[str, list] = {}

    def head(self, name: str, key: str | None, read: Callable[[], Head]) -> Head:
        got = self.known.get(key) if key is not None else None
        h = Head(name, got[0], got[1]) if _kept(got) else read()  # type: ignore[index]
        if key is not None and (h.number is not None or h.why is not None):
            self.kept[key] = [h.number, h.why]
        return h

    def save(self) -> None:
        if self.spool is not None and self.kept != self.known:
            with contextlib.suppress(OnecsyncError):  # unkept, they are only read again
                self.spool.write_note(HEADS, self.kept)


def judge_rivals(where: str, newest: Head, rivals: list[Head],
                 received_no: int | None = None) -> None:
    """1C reads the newest file only: when a file beside it holds a message of the base that
    it hides (one after `received_no`, the last we took, and after the newest's own; with no
    state to tell (check), one after the newest's), exit 3 naming both, every run while they are
    so. A newest that is no message hides one only if it is after `received_no`: beside the
    message already taken, it is the base's next message, broken, and is judged as one."""
    floor = received_no if received_no is not None else newest.number
    if floor is None or newest.number is None and newest.why is None:
        return  # nothing to tell yet (the newest ends early: the base may be writing it)
    best = max((r for r in rivals if r.number is not None and r.number > floor),
               key=lambda r: r.number or 0, default=None)
    if best is None:
        return
    # A tie is said as one: "the newest" would be untrue (1C takes the .zip of a tie).
    first = N_(f"{one_line(newest.name)} has the same modification time as "
               f"{one_line(best.name)} (a tie, which 1C breaks for the .zip)") if best.tied else \
        N_(f"{one_line(newest.name)} is the newest file under the name of the base's message")
    if newest.why is not None:
        raise StrayEntry(
            f"{where}: {first}, and it is no message of the base to us ({newest.why}); 1C "
            f"reads only the newest, so the base's message {best.number} in "
            f"{one_line(best.name)} beside it is not read",
            remedy=f"remove {one_line(newest.name)} if the base does not write it; else the "
                   f"base's next message replaces it")
    if (newest.number or 0) < (best.number or 0):
        raise StrayEntry(
            f"{where}: {first}, but it holds message {newest.number}, older than message "
            f"{best.number} in {one_line(best.name)} beside it; 1C reads only the newest, so "
            f"message {best.number} is not read",
            remedy=f"remove the file the base no longer writes: {one_line(newest.name)} if it "
                   f"is a copy of an old message, {one_line(best.name)} if the base was restored "
                   "from a backup")


def judge_beside(where: str, judged: tuple[Head, list[Head]], read: str, left: list[str],
                 spool=None, received_no: int | None = None) -> None:
    """The files beside the base's newest message `read`: exit 3 when one holds a later
    message that it hides (judge_rivals, `judged`: their headers), else named (say_left)."""
    judge_rivals(where, *judged, received_no)
    say_left(read, left, spool)
