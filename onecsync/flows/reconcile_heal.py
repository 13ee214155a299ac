"""reconcile --heal: register again, for the next send, what reconcile found and can be healed.

Public API: `heal(config, state, drifts)`.
"""

from __future__ import annotations

import logging

from onecsync import topology
from onecsync.config import Config
from onecsync.flows import links
from onecsync.flows.reconcile import Drift
from onecsync.flows.route import Registrar
from onecsync.mapping import MappingError
from onecsync.state import State
from onecsync.state.inbox import Staged
from onecsync.topology import Peer

log = logging.getLogger("onecsync")


def heal(config: Config, state: State, drifts: list[Drift]) -> int:
    """Register what can be healed again, for the next send; returns how many. What goes is
    judged as routing judges it (the mapping for the target; for a document not forwarded, the
    organization filter and its links too); what cannot go is said, one line each."""
    healed = 0
    with state.atomic():
        for d in drifts:
            if not d.healable:
                continue
            if d.kind == "missing" and d.peer == Peer.ACCOUNTING:
                # The version the CRM holds: its own, or accounting's it imported from us.
                held = state.held.of(Peer.CRM, d.type, d.ref)
                if held is not None:
                    healed += _again(config, state, d, held.row)
            elif d.kind == "not-forwarded":
                healed += _forward(config, state, d)
            elif d.kind in ("missing", "unmarked") and d.peer == Peer.CRM:
                healed += state.outbox.reregister(Peer.CRM, d.type, d.ref)
    return healed


def _again(config: Config, state: State, d: Drift, row: Staged) -> int:
    """Accounting lost an invoice it had: the version the CRM holds goes again, mapped as
    push-invoices maps it (the echo check is no judge here: it is what accounting lost)."""
    spec = topology.flow(topology.PUSH_INVOICES)
    reg = Registrar(config, state, config.flows[spec.name], spec.source, spec.target)
    try:
        xml = reg.mapped(row)
    except MappingError as exc:
        log.warning("reconcile --heal: %s %s: not sent again: mapping for %s: %s", d.type,
                    d.ref, Peer.ACCOUNTING, exc)
        return 0
    state.outbox.register_one(Peer.ACCOUNTING, row, xml)
    return 1


def _forward(config: Config, state: State, d: Drift) -> int:
    """A document accounting holds for a CRM invoice, waiting in our inbox: it goes only if the
    copy we hold links (it may be an older version than accounting's, naming no invoice: that
    one would settle nothing in the CRM), through the flow's filter and mapping."""
    row = state.inbox.copy_of(Peer.ACCOUNTING, d.type, d.ref)
    flow = next((config.flows[s.name] for s in topology.FLOWS if s.source == Peer.ACCOUNTING
                 and s.links is not None and d.type in config.flows[s.name].objects), None)
    if row is None or flow is None:
        log.warning("reconcile --heal: %s %s: not forwarded: no flow with links carries its "
                    "type", d.type, d.ref)
        return 0
    named = links.refs(row, flow.links.get(row.type, ()))
    if not any(state.invoices.has(r) or any(state.outbox.was_registered(Peer.CRM, t, r)
                                            for t in flow.objects) for r in named):
        log.warning("reconcile --heal: %s %s: not forwarded: the copy we hold names no CRM "
                    "invoice (accounting changed it since); in accounting, register it again "
                    "for onecsync", d.type, d.ref)
        return 0
    outcome = Registrar(config, state, flow, Peer.ACCOUNTING, Peer.CRM).offer_linked(row)
    if outcome != "registered":
        log.warning("reconcile --heal: %s %s: not forwarded: %s", d.type, d.ref, outcome)
        return 0
    return 1
