"""push-invoices routing and the invoice registry: CRM invoices go to accounting.

Public API: `route_invoices(config, state)`, `invoice_fields(element)`.

The registry is the list of every invoice that came from the CRM. It decides what may go back:
only settlement documents linked to one of these invoices, and only these invoices themselves,
ever reach the CRM; an invoice made in accounting stays in accounting.
"""

from __future__ import annotations

from onecsync import topology
from onecsync.config import Config
from onecsync.flows.rejudge import rejudge
from onecsync.flows.rejudge import taken_types
from onecsync.flows.route import Registrar
from onecsync.mapping import first_text
from onecsync.protocol.objects import parse_object
from onecsync.runs import Routed
from onecsync.state import State


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
    spec = topology.flow(topology.PUSH_INVOICES)
    flow, source = config.flows[spec.name], spec.source
    with state.atomic():
        rejudge(config, state, source)
        reg = Registrar(config, state, flow, source, spec.target)
        for row in state.inbox.staged(source, flow.objects):
            if row.kind == "delete":
                if reg.offer(row) == "registered":
                    state.invoices.mark_deleted(row.ref)
                continue
            element = parse_object(row.xml, row.version)
            if reg.offer(row, element) in ("registered", "echo"):
                state.invoices.upsert(row.ref, row.type, invoice_fields(element))
        reg.counts.add(ignored=state.inbox.ignore_other_types(source, taken_types(config, source)))
    return reg.counts.routed()
