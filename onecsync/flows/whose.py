"""Whose is the file under our message's name, when it is not the one this state wrote?

Public API: `judge_outgoing(config, name, transport, peer)`: raises what a human must settle
before anything is written over that file (exchange.py calls it once `in_place` found other
bytes than we wrote there, or none), returns when writing over it is safe.

1C never deletes our message (only our next one replaces it), so our file gone from a local
folder (directory transport) is never the exchange going on. Gone from the same folder: someone removed it,
said, and it is written again. Gone from a path that is no longer the folder it was put in
(transport/whereabouts.py: the mount point of an unmounted share, a link to another folder):
exit 4 on every run, whether or not anything is owed, and nothing is written, since it would
land where the base never looks (review R7 H1).

The evidence is always in the content, never in a time, owner or mode alone, so a touch, a
`cp -p` or a backup restoring our file byte for byte is still ours (base.same_bytes). A file
there that is no message onecsync can read (a broken zip, XML cut short, a zip under another
archive password) was damaged or put there by another writer: it is not written over either,
since only a human can tell which (and the other writer's base may read it); the error names
the file and says how to let the exchange go on. The rest of the run goes on (runner.py: a
ConfigError stops that one base's send, nothing else).
"""

from __future__ import annotations

import logging

from onecsync.config import Config
from onecsync.errors import ConfigError
from onecsync.errors import MessageRejected
from onecsync.errors import NumberingConflict
from onecsync.errors import TemporaryError
from onecsync.protocol.envelope import Header
from onecsync.protocol.reader import MessageReader
from onecsync.transport.base import Transport

log = logging.getLogger("onecsync")


def judge_outgoing(config: Config, name: str, transport: Transport, peer) -> None:
    """Our message was replaced by one From our code that this state never wrote: a number
    past our last one, or our last one's number with other bytes than we wrote (after
    `state set-numbers` we no longer know those bytes: only the first counts). Another onecsync
    (a config copied with only `state:` changed, a state restored or made anew) writes there;
    writing over it again would give the base two different messages under one number, and it
    skips one of them as "ранее принято". Refused, every run, until a human decides."""
    there, h = _header(name, transport)
    if not there:
        _vanished(name, transport, peer)
    if h is None:
        return
    if (h.sender or "").lower() != config.node.code \
            or (h.to or "").lower() != config.bases[name].code \
            or not h.message_no:
        return
    ours_differ = h.message_no == peer.out_no and peer.out_fingerprint is not None
    if peer.sent_no < h.message_no <= (peer.out_no or 0) and peer.out_fingerprint is None:
        # Not another writer: our own last message, numbered above what `state set-numbers`
        # set by hand (it forgets the file, not the number). The base may have read it.
        raise NumberingConflict(
            f"{name}: the message in {transport.description} is number {h.message_no} From "
            f"our code: this state wrote it before its numbers were set by hand to "
            f"{peer.sent_no} (`state set-numbers`); {name} may have read it, and would skip "
            "our next messages up to that number as 'ранее принято'",
            remedy=f"run `onecsync state set-numbers {name} --sent {h.message_no}`; only if "
                   f"the exchange's numbers in {name} were reset to 0, delete that file "
                   "instead")
    if h.message_no > peer.sent_no or ours_differ:
        raise ConfigError(
            f"{name}: another onecsync (another state) writes to {transport.description}: "
            f"the message there is number {h.message_no} From our code, which this state "
            f"did not write (its last is {peer.sent_no})",
            remedy="let one config with one state exchange with the base (stop the other's "
                   f"timer); if this state was restored or made anew, run `onecsync state "
                   f"set-numbers {name} --sent {h.message_no}`")


def _vanished(name: str, transport: Transport, peer) -> None:
    """No file under our name, where this state wrote one (see the module docstring)."""
    moved = getattr(transport, "moved", None)
    if peer.out_fingerprint is None or moved is None:
        # None written since the numbers were set by hand (or ever); or no local folder (an
        # FTP listing that leaves it out is judged by the FTP transport itself).
        return
    where = transport.description
    if moved():
        raise TemporaryError(
            f"{name}: our message {peer.out_no} is gone from {where}, and that path is no "
            "longer the folder it was put in (another device or folder: a share not mounted "
            "there now, or the path made a link to another folder); nothing is written there",
            remedy=f"is the share mounted? Mount it, or point the path back at the folder "
                   f"shared with {name}: the next run goes on. If {name} now really uses this "
                   f"folder, run `onecsync state set-numbers {name} --sent {peer.sent_no} "
                   "--yes`: the next run writes the message there")
    log.warning("%s: our message %s is gone from %s, though 1C never deletes it (removed by "
                "hand, or by a cleanup job?): it is written again", name, peer.out_no, where)


def _header(name: str, transport: Transport) -> tuple[bool, Header | None]:
    """Is a file under our name (a transport without files says yes), and its header (None:
    none, or one that cannot be read now: a read error is no evidence of anything)?"""
    look = getattr(transport, "open_outgoing", None)
    try:
        # The transport's own failures (a session refused, a download cut) go up as they are;
        # what is wrong with the file itself comes as MessageRejected (messagefiles.outgoing_entry).
        stream = look() if look is not None else None
    except MessageRejected as exc:
        raise _unreadable(name, transport, exc) from None
    if stream is None:
        return look is None, None
    try:
        with stream:  # a wrong archive password shows only as the entry is read: a ConfigError
            return True, MessageReader(stream, getattr(transport, "outgoing_name", "")).header
    except OSError:
        return True, None
    except (MessageRejected, ConfigError, ValueError) as exc:
        raise _unreadable(name, transport, exc) from None


def _unreadable(name: str, transport: Transport, exc: Exception) -> ConfigError:
    file = getattr(transport, "outgoing_name", "")
    why = str(exc).rsplit(f"{file}: ", 1)[-1]  # the cause, without the file named again
    return ConfigError(
        f"{name}: {file} in {transport.description}, where onecsync puts its message to "
        f"{name}, is no message onecsync can read ({why}): damaged, or written by another "
        "onecsync; nothing is written over it",
        remedy=f"if no other onecsync writes there, delete that file: the next run sends "
               f"{name} all it has not confirmed")
