"""pull-settlements routing: what accounting did about CRM invoices goes back to the CRM.

Public API: `route_settlements(config, state)`.

A settlement document (sale, return, bank or cash receipt or payment) from accounting goes to
the CRM here when it names a CRM invoice or a document already forwarded along one of the
configured link paths (a CRM invoice changed in accounting is push-invoices' way back).
A settlement document that names none waits in the inbox: its invoice may still arrive, or the
sale it pays may be linked later. Its references are read once, when it is staged, so each run
links waiting documents with a join, repeated until nothing new links (a sale links its return).
"""

from __future__ import annotations

import hashlib
import json

from onecsync import topology
from onecsync.config import Config
from onecsync.flows.catalogs import restage_newly_taken
from onecsync.flows.catalogs import taken_types
from onecsync.flows.route import Registrar
from onecsync.mapping import find_all
from onecsync.protocol.objects import parse_object
from onecsync.runs import Routed
from onecsync.state import State
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.inbox import Staged

_LINKS_KEY = f"{topology.PULL_SETTLEMENTS}.links"


def _refs(row: Staged, paths: tuple[str, ...]) -> set[str]:
    # A path can match only if the start tag of each of its elements occurs in the bytes (stored
    # objects write the body namespace unprefixed). Most of an accounting base's documents name
    # no invoice at all: they are not parsed.
    paths = tuple(p for p in paths if all(f"<{step}".encode() in row.xml for step in p.split("/")))
    if not paths:
        return set()
    element = parse_object(row.xml, row.version)
    return {(el.text or "").strip().lower() for path in paths for el in find_all(element, path)
            if (el.text or "").strip()}


def route_settlements(config: Config, state: State) -> Routed:
    spec = topology.flow(topology.PULL_SETTLEMENTS)
    flow, source, target = config.flows[spec.name], spec.source, spec.target
    types = list(flow.objects)
    with state.atomic():
        restage_newly_taken(config, state, source)
        reg = Registrar(config, state, flow, source, target)
        signature = hashlib.sha256(json.dumps(flow.links, sort_keys=True, ensure_ascii=False)
                                   .encode()).hexdigest()
        if state.meta.get(_LINKS_KEY) != signature:  # link paths changed: read waiting documents again
            for row in state.inbox.waiting(source, types):
                state.inbox.set_links(row.id, _refs(row, flow.links.get(row.type, ())))
            state.meta.set(_LINKS_KEY, signature)
        touched = False
        for row in state.inbox.staged(source, types):
            touched = True
            if row.kind == "delete":
                reg.offer(row)  # forwarded only if the document itself was
                continue
            state.inbox.set_links(row.id, _refs(row, flow.links.get(row.type, ())))
            state.inbox.set_status(row.id, S.WAITING)
        while ids := state.inbox.link_waiting(source, target, types):
            touched = True
            for row in state.inbox.rows(ids):
                reg.offer(row)
        reg.counts.add(ignored=state.inbox.ignore_other_types(source, taken_types(config, source)))
        reg.counts.set(waiting=_waiting(state, source, types, touched))
    return reg.counts.routed()


def _waiting(state: State, source: str, types: list[str], touched: bool) -> int:
    """How many documents wait for their invoice.

    Counting walks an index entry per waiting document (0.1 s per 350,000, most of a cron run
    with nothing new). Only this routing moves documents into or out of waiting, so a run in
    which it staged and linked nothing reports the count of the last run that did.
    """
    key = f"{topology.PULL_SETTLEMENTS}.waiting:" + hashlib.sha256(json.dumps(types, ensure_ascii=False)
                                                       .encode()).hexdigest()[:16]
    cached = state.meta.get(key)
    if not touched and cached is not None:
        return int(cached)
    count = state.inbox.count_status(source, S.WAITING, types)
    state.meta.set(key, str(count))
    return count
