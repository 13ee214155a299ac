"""What a base's message header says of the life it belongs to, as pure decisions.

Public API: `Taken`, `Verdict`, `judge(...)`, `earlier(new, last)`, `same(taken, ...)`,
`span(seconds)`, `STALE_RUNS`, `STALE_SECONDS`, `UNKNOWN`.

1C's rule (a number at or below the last one taken is "ранее принято") loses data when a base
is restored from a backup: it numbers its new messages again from the backup's. Its dates alone
do not tell a new life either: a restored base's clock may be behind, or a clock set back makes
a new message look older than the last. What does tell is the header: a file delivered again is
a message we took (the same number, CreationDate and ReceivedNo: `Taken`, state/headers.py), or
at least one that fits between the messages of that life we took, whose numbers, dates and
ReceivedNo only go up together. Anything else under a number we hold is a new life.

Dates are compared like with like: two with a zone as the moments they name; two without one
(1C writes UTC, a misconfigured one local time) within an hour, a DST fall-back; one of each
within 14 hours, the widest zone offset, since a date without a zone is only read as UTC.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from fractions import Fraction

from onecsync.i18n import counted
from onecsync.protocol.numbering import Decision
from onecsync.protocol.numbering import Numbers
from onecsync.protocol.xsdate import instant
from onecsync.protocol.xsdate import zoned

DST_SLACK = 3600
ZONE_SLACK = 14 * 3600
# A base's newer messages skipped as dated before the last one taken for this many runs, or
# this long, and the run says so with its exit code: a clock set back never stalls silently.
STALE_RUNS = 3
STALE_SECONDS = 3600
# A taken header's CreationDate not known: an older onecsync kept its own time instead of the
# base's (state/migrations_routing.py 0013); it matches any date, as 1C's own rule does.
UNKNOWN = ""


@dataclass(frozen=True)
class Taken:
    """A header of a base's message that we took; `received_no` None: not known (older state)."""

    message_no: int
    created: str
    received_no: int | None
    abandoned: bool = False     # of a life the base left when it was restored


class Verdict(enum.Enum):
    NEW = "new"                 # taken as 1C takes it
    AGAIN = "again"             # a message of this life delivered again: skipped (ранее принято)
    STALE = "stale"             # one we took from a life a restore abandoned: skipped, warned
    RESTORED = "restored"       # a number we hold, from a new life: taken, all of it sent again
    UNSURE = "unsure"           # a newer number dated earlier: the clock, or an unseen stale file


def _slack(a: str, b: str) -> int:
    za, zb = zoned(a), zoned(b)
    return 0 if za and zb else DST_SLACK if not (za or zb) else ZONE_SLACK


def earlier(new: str | None, last: str | None) -> Fraction | None:
    """How many seconds `new` is dated before `last`, past what a zone mismatch explains; None
    when it is not (or either is no date)."""
    t, ref = instant(new), instant(last)
    if t is None or ref is None or new is None or last is None:
        return None
    gap = ref - t
    return gap if gap > _slack(new, last) else None


def _later(new: str | None, last: str | None) -> bool:
    """Dated after `last` at all (no slack: a restore missed is data lost, one seen wrongly is
    only everything sent again)."""
    t, ref = instant(new), instant(last)
    return t is not None and ref is not None and t > ref


def same(taken: Taken, message_no: int, created: str, received_no: int | None) -> bool:
    """Is this header the one we took? The moment, not its spelling, and a ReceivedNo or a
    CreationDate we did not record matches any."""
    return (taken.message_no == message_no and instant(created) is not None
            and (taken.created == UNKNOWN or instant(taken.created) == instant(created))
            and (taken.received_no is None or taken.received_no == (received_no or 0)))


def fits(message_no: int, created: str, received_no: int | None,
         lower: Taken | None, higher: Taken | None) -> bool:
    """Could a message of the life `lower` and `higher` belong to carry this header? Between
    them in date and ReceivedNo; never under a number of theirs (`same` said it is not that)."""
    rn = received_no or 0
    if higher is not None:
        if higher.message_no == message_no:
            return False
        if earlier(higher.created, created) is not None:
            return False
        if higher.received_no is not None and rn > higher.received_no:
            return False
    if lower is not None:
        if earlier(created, lower.created) is not None:
            return False
        if lower.received_no is not None and rn < lower.received_no:
            return False
    return True


def judge(decision: Decision, numbers: Numbers, message_no: int | None, created: str,
          received_no: int | None, last_created: str | None, seen: Taken | None,
          around: tuple[Taken | None, Taken | None] | None) -> Verdict:
    """`seen`: the header we took that this one is (`same`), if any; `around`: this life's
    taken headers nearest below and at-or-above `message_no`, None when the state has none of
    this life (a state from before they were kept)."""
    if decision is Decision.APPLY_UNNUMBERED or message_no is None:
        return Verdict.NEW
    if seen is not None:
        return Verdict.AGAIN if not seen.abandoned and decision is Decision.DUPLICATE \
            else Verdict.STALE
    if decision is Decision.DUPLICATE:
        if (received_no or 0) > numbers.sent_no:
            return Verdict.AGAIN  # confirms what we never wrote: no life of it we can judge
        if around is not None:
            return Verdict.AGAIN if fits(message_no, created, received_no, *around) \
                else Verdict.RESTORED
        # Nothing of this life kept: a later date, or a confirmation no file of it could carry
        # (ReceivedNo only grows in a life), is a new life.
        rn = received_no or 0
        if _later(created, last_created) or numbers.confirmed_no < rn <= numbers.sent_no:
            return Verdict.RESTORED
        return Verdict.AGAIN
    return Verdict.UNSURE if earlier(created, last_created) is not None else Verdict.NEW


def span(seconds: Fraction | float) -> str:
    """`1 day 2 hours`, `5 hours 3 minutes`, `40 minutes`, `12 seconds`: how far a clock went
    back, in its two largest units (`counted`: `tr` gives each the admin's form)."""
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    values = (days, hours, minutes, secs)
    texts = (counted(days, "{n} day", "{n} days"), counted(hours, "{n} hour", "{n} hours"),
             counted(minutes, "{n} minute", "{n} minutes"),
             counted(secs, "{n} second", "{n} seconds"))
    first = next((i for i, v in enumerate(values) if v), 3)
    shown = zip(texts[first:first + 2], values[first:first + 2], strict=True)
    return " ".join(t for t, v in shown if v) or texts[3]
