"""pull-settlements routing: what accounting did about CRM invoices goes back to the CRM.

Public API: `route_settlements(config, state)`.

A settlement document (sale, return, bank or cash receipt or payment) from accounting goes to
the CRM here when it names a CRM invoice or a document already forwarded along one of the
configured link paths (a CRM invoice changed in accounting is push-invoices' way back).
A settlement document that names none waits in the inbox: its invoice may still arrive, or the
sale it pays may be linked later. Its references are read once, when it is staged, so each run
links waiting documents with a join, repeated until nothing new links (a sale links its return).
A forwarded document that comes to name none, and only what is known not to be the CRM's, is
withdrawn: the CRM is sent its deletion. A forwarded document goes without its references (in
a payment's rows, in a sale's or return's header) to what is known not to be the CRM's
(`links.without_foreign`).
"""

from __future__ import annotations

from array import array
from typing import Sequence

from onecsync import topology
from onecsync.config import Config
from onecsync.flows.links import forwarded_types
from onecsync.flows.links import refs
from onecsync.flows.rejudge import rejudge
from onecsync.flows.rejudge import taken_types
from onecsync.flows.route import Registrar
from onecsync.runs import Routed
from onecsync.signature import signature
from onecsync.state import State
from onecsync.state.inbox import InboxStatus as S


def route_settlements(config: Config, state: State) -> Routed:
    spec = topology.flow(topology.PULL_SETTLEMENTS)
    flow, source, target = config.flows[spec.name], spec.source, spec.target
    types, forwarded = list(flow.objects), forwarded_types(flow)
    with state.atomic():
        rejudge(config, state, source)
        reg = Registrar(config, state, flow, source, target)
        touched, changed = False, array("q")  # ids only: a first exchange stages many
        for row in state.inbox.staged(source, types):
            touched = True
            if row.kind == "delete":
                reg.offer(row)  # forwarded only if the document itself was
                continue
            state.inbox.set_links(row.id, refs(row, flow.links.get(row.type, ())))
            state.inbox.set_status(row.id, S.WAITING)
            changed.append(row.id)
        linked: list[str] = []  # what the CRM is sent now: the CRM's from now on
        while ids := state.inbox.link_waiting(source, target, types, forwarded):
            touched = True
            for row in state.inbox.rows(ids):
                reg.offer_linked(row)
                linked.append(row.ref)
        judged = state.withdrawals.take_judged(source)
        withdrawn = _withdraw_unlinked(state, reg, types, forwarded, changed, judged)
        _offer_again(state, reg, types, [*judged, *linked], withdrawn, changed)
        reg.counts.add(ignored=state.inbox.ignore_other_types(source, taken_types(config, source)))
        reg.counts.set(waiting=_waiting(state, source, types, touched))
        reg.say_held_back(types)
    return reg.counts.routed()


def _withdraw_unlinked(state: State, reg: Registrar, types: list[str], forwarded: list[str],
                       changed: Sequence[int], judged: Sequence[str]) -> list[str]:
    """What the CRM got and no longer settles a CRM invoice is withdrawn from it.

    A forwarded document changed in accounting may name nothing of the CRM's any more (a
    payment re-assigned to accounting's own order, a link removed): routing it by what it names
    now would leave the CRM's copy settling an order it no longer pays, for ever. Its deletion
    goes instead, and so, in turn, does that of each document forwarded only through it (the
    return or payment of a sale no longer linked).

    Only when it is sure: 1C imports a deletion as a deletion mark, and a later version does
    not clear it (EnterpriseData carries no ПометкаУдаления), so what names an order not seen or
    not judged yet waits instead (review 7 #7; state/withdrawal.py). What it names may be
    judged in a later run than the document's (`judged`, the Ссылки judged since the last
    routing): the documents naming those are looked at again then (review R1 #3).

    Returns the Ссылки withdrawn.
    """
    ids: Sequence[int] = changed
    naming: Sequence[str] = judged
    withdrawn: list[str] = []
    while found := state.withdrawals.no_longer_linked(reg.source, reg.target, types, forwarded,
                                                       ids, naming):
        rows = list(state.inbox.rows(found))
        for row in rows:
            reg.withdraw(row)
        ids, naming = [], [row.ref for row in rows]
        withdrawn.extend(naming)
    return withdrawn


def _offer_again(state: State, reg: Registrar, types: list[str], before: list[str],
                 withdrawn: list[str], changed: Sequence[int]) -> None:
    """Which of a forwarded document's rows keep their reference is judged when it is offered
    (`links.without_foreign`): when what a row names is judged again (the CRM's now, or known
    not to be: withdrawn, judged own), the CRM is offered the document again, or its copy
    would go on settling what it does not, or never settle what it does (review R1 #4).

    `before`: judged before this routing offered what changed (judged in an earlier run, or
    forwarded now: what changed named it as it is now); `withdrawn`: after, by this routing."""
    offered = set(changed)
    ids = {i for i in state.withdrawals.forwarded_naming(reg.source, reg.target, types, before)
           if i not in offered}
    ids.update(state.withdrawals.forwarded_naming(reg.source, reg.target, types, withdrawn))
    for row in state.inbox.rows(sorted(ids)):
        reg.offer_again(row)


def _waiting(state: State, source: str, types: list[str], touched: bool) -> int:
    """How many documents wait for their invoice.

    Counting walks an index entry per waiting document (0.1 s per 350,000, most of a cron run
    with nothing new). Only this routing moves documents into or out of waiting, so a run in
    which it staged and linked nothing reports the count of the last run that did.
    """
    # A list's JSON has no keys to sort: the key states have kept since before signature().
    key = f"{topology.PULL_SETTLEMENTS}.waiting:" + signature(types)[:16]
    cached = state.meta.get(key)
    if not touched and cached is not None:
        return int(cached)
    count = state.inbox.count_status(source, S.WAITING, types)
    state.meta.set(key, str(count))
    return count
