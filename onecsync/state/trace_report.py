"""What `trace` reports, typed: `TraceReport`, the objects a query names and one's `Journey`.

Public API: `Query`, `Match`, `Version`, `InvoiceName`, `Routing`, `Delivery`, `NamedBy`,
`CrmInvoice`, `Journey`, `TraceReport`. Each `to_json()` is the `trace --json` contract (key
order included: tests/golden/json pins it; `TraceReport.schema` is its version). Pure data:
state/trace.py builds these, console/trace.py prints them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    """What was asked: kind ref (a Ссылка), inn or number; a number's optional date."""

    kind: str
    value: str
    date: str | None

    def to_json(self) -> dict:
        return {"kind": self.kind, "value": self.value, "date": self.date}


@dataclass(frozen=True)
class Match:
    """An object the query names."""

    type: str
    ref: str
    number: str | None
    date: str | None
    inn: str | None

    def to_json(self) -> dict:
        return {"type": self.type, "ref": self.ref, "number": self.number, "date": self.date,
                "inn": self.inn}


@dataclass(frozen=True)
class Version:
    """A copy received from a base (`from_`): in its message `message_no`, in `format`; a
    `kind` delete is a deletion. `received_at` None: received before onecsync recorded it."""

    from_: str
    kind: str
    message_no: int | None
    format: str | None
    digest: str
    received_at: str | None
    newest: bool

    def to_json(self) -> dict:
        return {"kind": self.kind, "message_no": self.message_no, "format": self.format,
                "digest": self.digest, "received_at": self.received_at, "from": self.from_,
                "newest": self.newest}


@dataclass(frozen=True)
class InvoiceName:
    """A CRM invoice a settlement document names."""

    ref: str
    type: str
    number: str | None

    def to_json(self) -> dict:
        return {"ref": self.ref, "type": self.type, "number": self.number}


@dataclass(frozen=True)
class Routing:
    """What routing decided for the copy from `from_`, and why."""

    from_: str
    decision: str
    reason: str | None
    message_no: int | None
    names_invoices: tuple[InvoiceName, ...]

    def to_json(self) -> dict:
        return {"from": self.from_, "decision": self.decision, "reason": self.reason,
                "message_no": self.message_no,
                "names_invoices": [n.to_json() for n in self.names_invoices]}


@dataclass(frozen=True)
class Delivery:
    """The object registered for base `to`: `state` parked, confirmed, waiting for
    confirmation or not sent yet; `waiting_seconds` only while it waits."""

    to: str
    kind: str
    state: str
    parked: str | None
    registered_at: str | None
    message_no: int | None
    sent_at: str | None
    confirmed_no: int | None
    confirmed_at: str | None
    waiting_seconds: int | None

    def to_json(self) -> dict:
        return {"to": self.to, "kind": self.kind, "state": self.state, "parked": self.parked,
                "registered_at": self.registered_at, "message_no": self.message_no,
                "sent_at": self.sent_at, "confirmed_no": self.confirmed_no,
                "confirmed_at": self.confirmed_at, "waiting_seconds": self.waiting_seconds}


@dataclass(frozen=True)
class NamedBy:
    """A document that names this one (an invoice's payment, a sale's return)."""

    from_: str
    type: str
    ref: str
    number: str | None
    date: str | None
    status: str

    def to_json(self) -> dict:
        return {"from": self.from_, "type": self.type, "ref": self.ref, "number": self.number,
                "date": self.date, "status": self.status}


@dataclass(frozen=True)
class CrmInvoice:
    """What the invoice registry holds of a CRM invoice."""

    number: str | None
    date: str | None
    counterparty: str | None
    amount: str | None
    currency: str | None
    deleted: bool
    first_seen: str | None

    def to_json(self) -> dict:
        return {"number": self.number, "date": self.date, "counterparty": self.counterparty,
                "amount": self.amount, "currency": self.currency, "deleted": self.deleted,
                "first_seen": self.first_seen}


@dataclass(frozen=True)
class Journey:
    """One object's way through onecsync; `unknown`: what the onecsync of the time did not
    record (each once)."""

    type: str
    ref: str
    number: str | None
    date: str | None
    inn: str | None
    crm_invoice: CrmInvoice | None
    versions: tuple[Version, ...]
    routing: tuple[Routing, ...]
    deliveries: tuple[Delivery, ...]
    named_by: tuple[NamedBy, ...]
    unknown: tuple[str, ...]

    def to_json(self) -> dict:
        return {"type": self.type, "ref": self.ref, "number": self.number, "date": self.date,
                "inn": self.inn,
                "crm_invoice": self.crm_invoice.to_json() if self.crm_invoice else None,
                "versions": [v.to_json() for v in self.versions],
                "routing": [r.to_json() for r in self.routing],
                "deliveries": [d.to_json() for d in self.deliveries],
                "named_by": [n.to_json() for n in self.named_by], "unknown": list(self.unknown)}


@dataclass(frozen=True)
class TraceReport:
    """`trace`: the objects the query names (`more`: past the list's limit) and the journey
    of the one it names (`trace`; None when it names several)."""

    schema: int
    query: Query
    peers: tuple[str, ...]
    objects: tuple[Match, ...]
    more: bool
    trace: Journey | None

    def to_json(self) -> dict:
        return {"schema": self.schema, "query": self.query.to_json(), "peers": list(self.peers),
                "objects": [o.to_json() for o in self.objects], "more": self.more,
                "trace": self.trace.to_json() if self.trace else None}
