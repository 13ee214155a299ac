"""The rare human decisions on the state: set a peer's numbers; send everything of a type again.

Public API: `set_numbers(config, peer, sent, received, apply)`, `resend(config, peer, types,
apply)`, `resend_types(config, peer)`, `resend_route(peer)`. Each returns its plan
(state/plans.py), which says what changes (and, with `apply`, that it did).

The plan is computed by the same code whether or not it is applied: without `apply` on a state
opened read-only; with it under the run lock, inside the one transaction that applies it, and the
change is written to the run journal (`runs`) so that support sees that a human decided.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from onecsync import topology
from onecsync.config import Config
from onecsync.errors import ConfigError
from onecsync.errors import Misnamed
from onecsync.errors import clip
from onecsync.errors import clip_all
from onecsync.i18n import N_
from onecsync.state import RunLock
from onecsync.state import State
from onecsync.state import lock_path
from onecsync.state import open_readonly
from onecsync.state import open_state
from onecsync.state.inbox import SUPERSEDED_LIKE
from onecsync.state.inbox import InboxStatus
from onecsync.state.peers import PeerState
from onecsync.state.plans import NumbersPlan
from onecsync.state.plans import ResendPlan
from onecsync.text import one_line
from onecsync.topology import Peer


def resend_route(peer: str) -> tuple[str, tuple[str, ...]]:
    """Who sends `peer` what: its registrations come from the source's inbox, by these flows
    (those whose target it is, onecsync/topology.py)."""
    flows = topology.flows_to(peer, returned=False)
    (source,) = {topology.flow(name).source for name in flows}  # one source per target
    return source, flows


_RESEND_NOTES: dict[str, str] = {
    Peer.CRM: N_(
        "The CRM loads each object again and finds it by its Ссылка: nothing is duplicated. "
        "Edits made in the CRM to these objects are overwritten by the accounting version "
        "(accounting is their master)."),
    Peer.ACCOUNTING: N_(
        "Accounting loads each invoice again and finds it by its Ссылка: nothing is "
        "duplicated, but its copy is overwritten by the version the CRM holds (the CRM's "
        "own, or accounting's edit that reached it): changes made in accounting that have "
        "not reached the CRM yet are lost. Resend to accounting only after a restore of "
        "its base."),
}


# What a resend routes again, as well as what was registered: the rows routing set aside, by
# status, but those with a reason LIKE the second: a version that lost a crossing is never
# revived (the other base's version won in both bases; sent now, it would undo it in one).
_REROUTED = ((InboxStatus.IGNORED, SUPERSEDED_LIKE), (InboxStatus.FILTERED, None))


def _check_peer(config: Config, peer: str) -> None:
    if peer not in config.bases:
        raise ConfigError(f"no base named {clip(peer, quoted=True)} (the bases are "
                          f"{', '.join(config.bases)})",
                          remedy="name one of them")


@contextlib.contextmanager
def _state(config: Config, command: str, apply: bool) -> Iterator[State | None]:
    """Read-only for a plan; locked, writable and journaled to apply it."""
    if not apply:
        state = open_readonly(config.state)
        try:
            yield state
        finally:
            if state is not None:
                state.close()
        return
    with RunLock(lock_path(config.state), command, run_timeout=config.run_timeout):
        state = open_state(config.state)
        try:
            yield state
        finally:
            state.close()


def _journal(state: State, command: str, plan: NumbersPlan | ResendPlan) -> None:
    run_id = state.journal.begin(command)
    state.journal.end(run_id, 0, plan.to_json(), None)


def set_numbers(config: Config, peer: str, sent: int | None, received: int | None,
                apply: bool, force: bool = False,
                waiting: tuple[int, str] | None = None) -> NumbersPlan:
    """Set `sent_no` and/or `received_no` of a peer (see the CLI help for when). `--sent` below
    what the base has confirmed or may have read, and `--received` at or above the number of
    its message `waiting` in its folder (number, file) or above any we took, are refused
    unless `force`."""
    _check_peer(config, peer)
    command = f"state set-numbers {peer}"
    with _state(config, command, apply) as state:
        if sent is not None and not force:
            _refuse_lower_sent(state, peer, sent)
        if received is not None and not force:
            _refuse_higher_received(_row(state, peer), peer, received, waiting)
        if apply:
            assert state is not None
            state.peers.ensure(peer, config.bases[peer].code)
            with state.atomic():
                plan = NumbersPlan.from_json(_numbers_plan(state, peer, sent, received)).done()
                _apply_numbers(state, peer, sent, received, force)
                _journal(state, command, plan)
            return plan
        return NumbersPlan.from_json(_numbers_plan(state, peer, sent, received))


def _row(state: State | None, peer: str) -> PeerState | None:
    try:
        return state.peers.get(peer) if state is not None else None
    except KeyError:
        return None


def _refuse_higher_received(row: PeerState | None, peer: str, received: int,
                            waiting: tuple[int, str] | None) -> None:
    """A received number is what we tell the base we hold (our ReceivedNo) and what we skip.
    At or above its message in the folder, that message and the base's next ones up to it are
    skipped as received earlier and dropped by the base: lost (review R4 #1, a typo). Above
    the highest it ever sent us, no message proves it. Unchanged, it changes nothing."""
    high = row.received_high if row is not None else 0
    taken = row.received_no if row is not None and row.received_set is None else 0
    if row is not None and row.received_set is None and received == row.received_no:
        return
    most = max(high if waiting is None else min(high, waiting[0] - 1), 0)
    if received <= most:
        return
    if waiting is not None and received >= waiting[0]:
        number, file = waiting[0], one_line(waiting[1])
        raise Misnamed(
            f"refused: --received {received} is at or above {number}, the number of {peer}'s "
            f"message in its folder now ({file}): it and every later message of {peer} up to "
            f"{received} would be skipped as received earlier, and our next message's "
            f"ReceivedNo would make {peer} drop them: their data lost",
            remedy=f"it was taken (we hold up to {taken}): nothing needs setting; to have it "
                   f"read again, use --received {most}; only if {peer} did send message "
                   f"{number} before and it must be skipped, add --force" if number <= taken
            else f"to have it read, use --received {most}; only if {peer} did send message "
                 f"{number} before and it must be skipped, add --force")
    raise Misnamed(
        f"refused: --received {received} is above {high}, the last message received from "
        f"{peer}: every message of {peer} up to {received} would be skipped as received "
        f"earlier, and our next message's ReceivedNo would make {peer} drop them: their data "
        "lost",
        remedy=f"use at most --received {most}; only if {peer}'s messages up to {received} did "
               "reach this state, add --force")


def _refuse_lower_sent(state: State | None, peer: str, sent: int) -> None:
    """Our next message is numbered sent + 1. One at or below a number the base has confirmed,
    or below the last message this state wrote to it (which the base may have read), is
    skipped by 1C as "ранее принято": every object in it lost, and each later run would take
    our own message in the folder for another onecsync's. Only a base whose numbering was
    reset to 0 wants that (`--force`)."""
    if (row := _row(state, peer)) is None:
        return
    confirmed, written = row.confirmed_no, row.out_no or 0
    lowest = max(confirmed, written)
    if sent >= lowest:
        return
    remedy = (f"use at least --sent {lowest}; only if the exchange's numbers in {peer} were "
              "reset to 0, add --force")
    if confirmed >= written:
        raise Misnamed(f"refused: --sent {sent} is below what {peer} holds ({peer} has confirmed "
                       f"our message {confirmed}); it would skip our next messages up to that "
                       "number as 'ранее принято'", remedy=remedy)
    raise Misnamed(f"refused: --sent {sent} is below what {peer} holds (the last message this "
                   f"state wrote to {peer} is number {written}, which it may have read); it "
                   "would skip our next messages up to that number as 'ранее принято'",
                   remedy=remedy)


def _numbers_plan(state: State | None, peer: str, sent: int | None, received: int | None) -> dict:
    row = state.peers.numbers(peer) if state is not None else None
    before = dict(zip(("sent_no", "received_no", "confirmed_no"), row or (0, 0, 0), strict=True))
    after = dict(before)
    plan: dict = {"action": "set-numbers", "peer": peer, "before": before, "after": after,
                  "resent": 0, "notes": [], "applied": False}
    if sent is not None:
        after["sent_no"] = sent
        after["confirmed_no"] = min(before["confirmed_no"], sent)
        plan["notes"].append(f"our next message to {peer} is numbered {sent + 1} and carries "
                             "everything it has not confirmed")
        if sent < before["confirmed_no"]:
            plan["notes"].append(
                f"WARNING: {peer} has confirmed our message {before['confirmed_no']}; it skips "
                f"messages numbered up to that as 'ранее принято'. Use at least "
                f"--sent {before['confirmed_no']}.")
        if state is not None:
            plan["resent"] = state.outbox.in_flight(peer)
    if received is not None:
        after["received_no"] = received
        plan["notes"].append(f"the next message from {peer} is taken if it is numbered above "
                             f"{received}; its current file is read again")
    return plan


def _apply_numbers(state: State, peer: str, sent: int | None, received: int | None,
                   force: bool) -> None:
    if sent is not None:
        # Whatever we sent and the peer has not confirmed goes again, stamped with the new
        # numbers. A stamp above the new number would never be released; one below it may be
        # a message the peer skipped as "ранее принято" (written after our state was restored,
        # numbered with numbers the peer had already seen), which its next ReceivedNo would
        # wrongly release. Sending an object twice is harmless; losing it is not.
        state.outbox.unstamp(peer)
        state.peers.renumber_sent(peer, sent)
    if received is not None:
        state.peers.renumber_received(peer, received, forced=force)


def resend_types(config: Config, peer: str) -> tuple[str, ...]:
    """The object types onecsync sends the peer, by the configured flows."""
    _check_peer(config, peer)
    _, flows = resend_route(peer)
    out: list[str] = []
    for flow in flows:
        out += [t for t in config.flows[flow].objects if t not in out]
    return tuple(out)


def resend(config: Config, peer: str, types: tuple[str, ...] | None, apply: bool) -> ResendPlan:
    """Register for the peer again everything of `types` (default: all it gets) onecsync holds."""
    allowed = resend_types(config, peer)
    types = tuple(types) if types else allowed
    wrong = [t for t in types if t not in allowed]
    if wrong:
        raise ConfigError(f"onecsync does not send {clip_all(wrong)} to {peer}",
                          remedy=f"name one of: {', '.join(allowed)}")
    command = f"state resend {peer}"
    with _state(config, command, apply) as state:
        if state is None:
            return ResendPlan.from_json(_resend_plan(None, peer, types))
        if apply:
            with state.atomic():
                plan = ResendPlan.from_json(_resend_plan(state, peer, types)).done()
                _apply_resend(state, peer, types)
                _journal(state, command, plan)
            return plan
        return ResendPlan.from_json(_resend_plan(state, peer, types))


def _resend_plan(state: State | None, peer: str, types: tuple[str, ...]) -> dict:
    source, _ = resend_route(peer)
    plan: dict = {"action": "resend", "peer": peer, "source": source, "types": list(types),
                  "registrations": {}, "rerouted": {}, "total": 0,
                  "notes": [_RESEND_NOTES[peer]], "applied": False}
    if state is None:
        return plan
    plan["registrations"] = state.outbox.count_by_type(peer, types)
    # Objects set aside when they came, because no flow took their type or a filter held them
    # back: the next run judges them again by the current config (and sends what it admits).
    rerouted: dict[str, int] = {}
    for status, unless in _REROUTED:
        for t, n in state.inbox.count_by_type(source, status, types, unless).items():
            rerouted[t] = rerouted.get(t, 0) + n
    plan["rerouted"] = dict(sorted(rerouted.items()))
    plan["total"] = sum(plan["registrations"].values()) + sum(plan["rerouted"].values())
    return plan


def _apply_resend(state: State, peer: str, types: tuple[str, ...]) -> None:
    source, _ = resend_route(peer)
    state.outbox.reregister_types(peer, types)
    # What the source holds, which is not always the last it sent us: what it imported from
    # the peer since (an accountant's edit) goes back to the peer, not the source's older copy.
    state.held.resend(peer, source, types)
    for status, unless in _REROUTED:
        state.inbox.restage(source, types, status, unless=unless)
