"""push-invoices routing and the invoice registry: CRM invoices go to accounting, and back.

Public API: `route_invoices(config, state)`, `invoice_fields(element)`.

The registry is the list of every invoice that came from the CRM. It decides what may go back:
only settlement documents linked to one of these invoices, and only these invoices themselves,
ever reach the CRM; an invoice made in accounting stays in accounting. The flow returns
(topology: `returns`), so its command receives from both bases and this routes both ways.
"""

from __future__ import annotations

from onecsync import topology
from onecsync.config import Config
from onecsync.flows.rejudge import rejudge
from onecsync.flows.rejudge import taken_types
from onecsync.flows.route import Registrar
from onecsync.flows.route import RouteCounts
from onecsync.mapping import first_text
from onecsync.protocol.objects import parse_object
from onecsync.runs import Routed
from onecsync.state import State
from onecsync.state.inbox import OWN_INVOICE
from onecsync.state.inbox import InboxStatus as S


def invoice_fields(element) -> dict:
    return {
        "number": first_text(element, "КлючевыеСвойства/Номер"),
        "date": first_text(element, "КлючевыеСвойства/Дата"),
        "counterparty_ref": (first_text(element, "Контрагент/Ссылка") or "").lower() or None,
        "counterparty": first_text(element, "Контрагент/Наименование"),
        "amount": first_text(element, "Сумма"),
        "currency": first_text(element, "Валюта/ДанныеКлассификатора/Код"),
    }


def route_invoices(config: Config, state: State) -> Routed:
    """Both ways of the flow, in one transaction: the CRM's invoices to accounting, then the
    accountant's changes to them back to the CRM (what the CRM sent wins a crossing: `superseded`)."""
    spec = topology.flow(topology.PUSH_INVOICES)
    flow = config.flows[spec.name]
    counts = RouteCounts()
    with state.atomic():
        for (source, target), route in zip(spec.ways, (_from_source, _returned), strict=False):
            rejudge(config, state, source)
            reg = Registrar(config, state, flow, source, target)
            reg.counts = counts  # one report for the flow, both ways
            route(state, reg)
            reg.say_held_back(list(flow.objects))
            counts.add(ignored=state.inbox.ignore_other_types(source, taken_types(config, source)))
    return counts.routed()


def _from_source(state: State, reg: Registrar) -> None:
    """The CRM's invoices go to accounting and into the registry."""
    for row in state.inbox.staged(reg.source, reg.flow.objects):
        if row.kind == "delete":
            if reg.offer(row) == "registered":
                state.invoices.mark_deleted(row.ref)
            continue
        element = parse_object(row.xml, row.version)
        if reg.offer(row, element) in ("registered", "echo"):
            state.invoices.upsert(row.ref, row.type, invoice_fields(element))
            # Accounting's copy, judged its own when it came first (1C's own integration, a copy
            # loaded by hand keeps the Ссылка): the CRM's now, judged again by `_returned`.
            if state.invoices.unjudge_own(reg.target, row.type, row.ref):
                state.withdrawals.judged([row.ref])  # what names it settles a CRM order now


def _returned(state: State, reg: Registrar) -> None:
    """Accounting's changes to registry invoices go back to the CRM; its own invoices do not."""
    for row in state.inbox.staged(reg.source, reg.flow.objects):
        if not state.invoices.has(row.ref):
            state.inbox.set_status(row.id, S.IGNORED, OWN_INVOICE)
            state.withdrawals.judged([row.ref])  # what names it may have been forwarded already
            reg.counts.add(ignored=1)
        elif reg.superseded(row):
            reg.offer(row)  # the CRM's version will overwrite it in accounting: not passed on
        elif row.kind == "delete":
            # The CRM's own invoice was never registered for it: its deletion goes regardless.
            state.outbox.register_one(reg.target, row)
            state.invoices.mark_deleted(row.ref)
            reg.counts.add(registered=1)
        else:
            element = parse_object(row.xml, row.version)
            if reg.offer(row, element) == "registered":
                state.invoices.upsert(row.ref, row.type, invoice_fields(element))
