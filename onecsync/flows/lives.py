"""What a base's message says of its life, applied: a file delivered again, a new life after a
restore, a stale file, or a clock gone back (protocol/dating.py decides, state/headers.py
remembers what we took).

Public API: `taking(state, name, peer, header, numbers, decision, incoming)` -> `Taking` (the
one decision of whether a message is taken: NEW, RESTORED, or not, with what the peer's row
records and the problem the run reports), `verdict(...)` (what the header says of the base's
life), `unstalled(state, name, peer)`, `reference(name, created)`, `CLOCK_AHEAD`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from onecsync import clock
from onecsync.errors import NumberingConflict
from onecsync.i18n import counted
from onecsync.protocol import dating
from onecsync.protocol import numbering
from onecsync.protocol.dating import Verdict
from onecsync.protocol.envelope import Header
from onecsync.protocol.writer import utc_now_text
from onecsync.protocol.xsdate import instant
from onecsync.state import State
from onecsync.state.peers import FORCED
from onecsync.state.table import now_text
from onecsync.transport.base import Incoming
from onecsync.transport.base import same_bytes

log = logging.getLogger("onecsync")


# How far a base's clock may run ahead of ours before the run warns of it.
CLOCK_AHEAD = 86400


def reference(name: str, created: str) -> str:
    """What to keep as the date of the message we accepted: the base's own CreationDate, unless
    it is ahead of this host's clock by more than a zone explains (then our own time, the
    smaller). Kept as it is, a date in the future (a base's clock set wrong once) would make
    every later message look older: a base once 20 hours ahead and then set right stalled
    (review R5 L2), and a restore of it from a backup would go unnoticed."""
    when, now = instant(created), clock.utc_now().timestamp()
    if when is not None and when > now + dating.ZONE_SLACK:
        if when <= now + CLOCK_AHEAD:
            log.debug("%s: its message is dated %s, ahead of this host's clock (%s); our own "
                      "time is kept as the message's date", name, created.strip(), utc_now_text())
            return utc_now_text()
        log.warning("%s: its message is dated %s, ahead of this host's clock (%s): check the "
                    "clock of the 1C server; our own time is kept as the message's date",
                    name, created.strip(), utc_now_text())
        return utc_now_text()
    return created


@dataclass(frozen=True)
class Taking:
    """Whether a message is taken and, when it is not, what the peer's row records (its
    fingerprint, the stall counters, the numbers a typed skip settles) and the problem the run
    reports. A problem that `stops` ends this base's receive (raised: nothing is sent to it);
    any other is the run's exit code, the exchange going on."""

    taken: Verdict | None  # NEW or RESTORED; None: skipped, the body not read
    record: dict[str, Any] = field(default_factory=dict)
    problem: NumberingConflict | None = None
    stops: bool = False


def taking(state: State, name: str, peer, h: Header, numbers: numbering.Numbers,
           decision: numbering.Decision, incoming: Incoming) -> Taking:
    """The one decision of whether the message is taken, by what it says of the base's life: a
    second restore too soon is held for the admin, a message skipped by a number a human typed
    is a conflict unless --force said so, one delivered again or stale is skipped (and a stall
    said once it lasts)."""
    judged = verdict(state, name, peer, h, numbers, decision, incoming.fingerprint)
    if judged is Verdict.RESTORED:
        held = _again_too_soon(name, peer, h, incoming.name)
        return Taking(judged) if held is None else Taking(None, problem=held)
    if judged is Verdict.NEW:
        return Taking(judged)
    if judged is Verdict.AGAIN and peer.received_set is not None:
        return _typed_skip(name, incoming, peer, h)
    return _skip(name, peer, h, judged, incoming)


def verdict(state: State, name: str, peer, h: Header, numbers: numbering.Numbers,
            decision: numbering.Decision, fingerprint: str | None = None) -> Verdict:
    """What the header says of the base's life (protocol/dating.py), judged against the
    headers we took from it; a file with the bytes of the last one judged (`fingerprint`) is
    that one again, whatever the header we recorded says (an older onecsync's, review R5 M2)."""
    if h.message_no is None or decision is numbering.Decision.APPLY_UNNUMBERED:
        return Verdict.NEW
    if decision is numbering.Decision.DUPLICATE and same_bytes(fingerprint, peer.in_fingerprint):
        return Verdict.AGAIN  # the bytes of the file we last judged: its header is the same
    seen = state.headers.seen(name, h.message_no, h.creation_date, h.received_no)
    around = state.headers.around(name, h.message_no) \
        if seen is None and decision is numbering.Decision.DUPLICATE else None
    return dating.judge(decision, numbers, h.message_no, h.creation_date, h.received_no,
                        peer.received_created, seen, around)


def _again_too_soon(name: str, peer, h: Header, file: str) -> NumberingConflict | None:
    """A restore judged before the base confirmed our message of the last one's resend is not
    taken: each would send the base everything again (gigabytes on a big state), and a
    rewritten file of a few bytes (a hostile writer, a node number set back) is enough to make
    one (review R5 M3). So one resend at a time, each only after the base imported the last;
    until then the run ends with exit 6 each time, for the admin to say."""
    if peer.restored_at is None or peer.confirmed_no > (peer.restored_sent or 0):
        return None
    before = (h.message_no or 1) - 1
    return NumberingConflict(
        f"{name}: {file}, its message {h.message_no} dated {h.creation_date.strip()}, says the "
        f"base was restored from a backup again, after a restore seen at {peer.restored_at}: "
        "not taken, as that would send it everything again; a message file rewritten, or the "
        "base's exchange node numbers set back?",
        remedy=f"compare the numbers of the exchange node in 1C with `onecsync state show`; "
               f"if the base was restored again, take it: `onecsync state set-numbers {name} "
               f"--received {before}`, then `onecsync state resend {name} "
               f"--yes`; if not, remove {file}")


def unstalled(state: State, name: str, peer) -> None:
    """The base has no message now: the early-dated one skipped before is gone, and so is the
    stall it was counted for (review R5 L1). Left, days later the base's next early-dated file
    would be exit 6 on its first run, as if skipped all that time."""
    if peer.stale_runs is not None or peer.stale_since is not None:
        with state.atomic():
            state.peers.update(name, stale_since=None, stale_runs=None)


def _typed_skip(name: str, incoming: Incoming, peer, h: Header) -> Taking:
    """A duplicate under a typed number: exit 6, but the message skipped with --force."""
    try:
        numbering.refuse_typed_skip(name, incoming.name, h.message_no or 0, peer.received_no,
                                    peer.received_set == FORCED, peer.received_high)
    except NumberingConflict as refused:
        return Taking(None, problem=refused, stops=True)  # nothing recorded: asked every run
    log.warning("%s: %s, its message %s, is skipped, as `state set-numbers --received %s "
                "--force` said", name, incoming.name, h.message_no, h.message_no)
    return Taking(None, {"in_fingerprint": incoming.fingerprint, "received_set": None,
                         "received_created": reference(name, h.creation_date),
                         "received_high": max(peer.received_high, h.message_no or 0)})


def _skip(name: str, peer, h: Header, verdict: Verdict, incoming: Incoming) -> Taking:
    """A message not taken. One we know for what it is is skipped once (its file is not read
    again); one dated before the last taken, by a clock set back or as a file we never saw
    of a life a restore abandoned, is read again each run, and after STALE_RUNS runs or
    STALE_SECONDS the run says so with its exit code: a stall is never silent. 1C itself would
    apply a stale file (its number is above the new life's): its objects would overwrite the
    new life's, and its ReceivedNo take our confirmed number back."""
    if verdict is not Verdict.UNSURE:
        # The base's current message is no longer one dated before: a stall counted before
        # has ended (review R5 L1), and a later one is counted from its own first run.
        ended = {"in_fingerprint": incoming.fingerprint, "stale_since": None, "stale_runs": None}
        if verdict is Verdict.STALE:
            log.warning("%s: %s is its message %s dated %s, which we took before the base "
                        "was restored from a backup: a file of the life the restore "
                        "abandoned, delivered again; skipped as received earlier", name,
                        incoming.name, h.message_no, h.creation_date.strip())
        else:
            log.debug("%s: message %s was received earlier (we hold up to %s); skipped",
                      name, h.message_no, peer.received_no)
        return Taking(None, ended)
    since, runs = peer.stale_since or now_text(), (peer.stale_runs or 0) + 1
    counted_runs = {"stale_since": since, "stale_runs": runs}
    by = dating.span(dating.earlier(h.creation_date, peer.received_created) or 0)
    started = instant(since)
    lasted = clock.utc_now().timestamp() - float(started) if started is not None else 0.0
    if runs <= dating.STALE_RUNS and lasted < dating.STALE_SECONDS:
        log.warning("%s: %s is its message %s dated %s, %s before its message %s accepted "
                    "last (%s): its clock went back? (or a file of a life a restore "
                    "abandoned, delivered again); skipped, %d of %d runs before this is an "
                    "error", name, incoming.name, h.message_no, h.creation_date.strip(), by,
                    peer.received_no, peer.received_created, runs, dating.STALE_RUNS)
        return Taking(None, counted_runs)
    times = counted(runs, "{n} run", "{n} runs")
    return Taking(None, counted_runs, NumberingConflict(
        f"{name}: its messages are dated before its message {peer.received_no} accepted "
        f"last ({peer.received_created}), by {by}, and have been skipped since {since} "
        f"({times}): the clock of the 1C server went back, or they are files of a life "
        "a restore abandoned",
        remedy=f"set the clock of the 1C server right (its next message is then taken); if "
               f"its clock is right now, take them: `onecsync state set-numbers {name} "
               f"--received {peer.received_no}`"))
