"""The message-number rules of DESIGN.md §2, as pure decisions.

Public API: `Numbers`, `Decision`, `decide(numbers, message_no, received_no)`,
`next_number(sent_no, peer)`, `LAST_SETTABLE`, `negotiate(ours, theirs)`,
`no_common_version(peer, ours, theirs)`, `refuse_typed_skip(...)`.

Glossary (per peer P): `sent_no` is the MessageNo of the last message we wrote to P;
`received_no` the MessageNo of the last message from P that we staged; `confirmed_no` the highest
ReceivedNo P has sent us (P holds everything we sent up to it).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from onecsync import formats
from onecsync.errors import ConfigError
from onecsync.errors import NumberingConflict

# Numbers are SQLite INTEGERs (at most 2**63 - 1) and our next message is sent_no + 1: the
# highest number a human may set, and a remedy may suggest, is one below that.
LAST_NUMBER = 2**63 - 1
LAST_SETTABLE = LAST_NUMBER - 1


def _exhausted(peer: str) -> str:
    return (f"reset the exchange's numbers in {peer} (its node's sent and received numbers to "
            f"0), then run `onecsync state set-numbers {peer} --sent 0 --received 0 --force`")


@dataclass(frozen=True)
class Numbers:
    sent_no: int = 0
    received_no: int = 0
    confirmed_no: int = 0


class Decision(enum.Enum):
    DUPLICATE = "duplicate"        # already staged: skip the body, ignore its ReceivedNo
    APPLY = "apply"                # stage, drop what P confirmed, advance the numbers
    APPLY_UNNUMBERED = "unnumbered"  # MessageNo missing or <= 0: stage, change no number


def decide(numbers: Numbers, message_no: int | None, received_no: int | None,
           peer: str = "the peer") -> Decision:
    if message_no is None or message_no <= 0:
        return Decision.APPLY_UNNUMBERED
    if message_no <= numbers.received_no:
        return Decision.DUPLICATE
    if received_no is not None and received_no > numbers.sent_no and received_no > LAST_SETTABLE:
        # `--sent` that number would make our next message one SQLite cannot hold
        raise NumberingConflict(
            f"{peer} confirms our message {received_no}, past the last number onecsync can "
            f"follow ({LAST_SETTABLE}): the base's exchange numbering is broken",
            remedy=_exhausted(peer))
    if (received_no or 0) > numbers.sent_no:
        raise NumberingConflict(
            f"{peer} confirms our message {received_no}, but the last message we wrote to it "
            f"is {numbers.sent_no}: our state is older than the base's (restored from a "
            "backup, or another state file)",
            remedy=f"see `onecsync status`; if this state file is the newest you have, run "
                   f"`onecsync state set-numbers {peer} --sent {received_no}`")
    return Decision.APPLY


def refuse_typed_skip(peer: str, file: str, message_no: int, received_no: int,
                      forced: bool, high: int) -> None:
    """A duplicate by a `received_no` typed with `state set-numbers`, not given by a message of
    the peer: no proof that the message was ever taken. Skipped, it and every later message up
    to that number would be lost (and our ReceivedNo would make the base drop them), so it is
    a conflict for a human (exit 6, nothing sent to the peer), every run while it lasts. Only
    the very message the admin skipped with --force is skipped (no raise). The remedy names a
    number set-numbers takes: at most `high`, the highest MessageNo ever taken from it."""
    if forced and message_no == received_no:
        return
    retake = f"`onecsync state set-numbers {peer} --received {min(high, message_no - 1)} --yes`"
    raise NumberingConflict(
        f"{peer}'s message {message_no} ({file}) is at or below {received_no}, the number set "
        f"by `state set-numbers` (no message of {peer} gave it): skipped as received earlier, "
        f"it and every later message of {peer} up to {received_no} would be lost; nothing is "
        f"sent to {peer} until this is settled",
        remedy=f"if {peer} did not send message {message_no} before, run {retake}; if it "
               f"did, `--received {message_no} --force --yes` skips it")


def next_number(sent_no: int, peer: str = "the peer") -> int:
    """The MessageNo of our next message to `peer`; NumberingConflict once none is left."""
    if sent_no >= LAST_NUMBER:
        raise NumberingConflict(f"our message numbers to {peer} are used up ({sent_no} sent)",
                                remedy=_exhausted(peer))
    return sent_no + 1


def negotiate(ours: tuple[str, ...], theirs: tuple[str, ...] | None) -> str:
    """The version we write to a peer: the highest common one; before we know, our lowest."""
    common = set(ours) & set(theirs or ())
    if common:
        return max(common, key=formats.version_key)
    return min(ours, key=formats.version_key)


def no_common_version(peer: str, ours: tuple[str, ...],
                      theirs: tuple[str, ...] | None) -> ConfigError | None:
    """The problem, when the peer's offered versions are known and none is ours: any message we
    wrote it would be refused by the base, so none is written (exit 3, the admin adds one)."""
    if not theirs or set(ours) & set(theirs):
        return None
    known = sorted((v for v in theirs if v in formats.VERSIONS), key=formats.version_key)
    remedy = (f"add {known[-1]} to node.formats" if known else
              f"onecsync knows {', '.join(formats.VERSIONS)}: update the base's configuration "
              "to a release that offers one of them")
    return ConfigError(f"{peer} offers {', '.join(theirs)}; node.formats has none of them: "
                       f"nothing is sent to it", remedy=remedy)
