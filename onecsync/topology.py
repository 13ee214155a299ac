"""Which flow carries what from whom to whom: the one table the rest derive from.

Public API: `Peer`, `PEERS`, the flow names (`PULL_CATALOGS`, `PUSH_INVOICES`,
`PULL_SETTLEMENTS`) and command names (`RUN`, `RECONCILE`, `RETRY`), `FlowSpec`, `FLOWS`,
`flow(name)`, `flow_names()`, `flows_from(peer)`, `flows_to(peer)`; a spec's `ways`.

A top-level module, not part of `onecsync.flows`: config and state read it, and they must not
import the flows (which import them). It imports nothing of onecsync.

Derived from `FLOWS`: config's default flows and their keys, the runner's commands and the order
of their steps (a flow's command receives from each base it takes from, and its router routes
every way it carries), the `AvailableObjectTypes` we declare to each base and expect from it, the types
set aside when staged (no flow takes them), and which types `state resend` sends each base.
Adding a flow is one entry here (plus the routing function it names).

`Peer` is a `StrEnum`: `Peer.CRM == "crm"`, it hashes as "crm", formats as "crm" and is written
as "crm" by json and sqlite, so state rows, journal entries and `--json` output are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from enum import StrEnum
from types import MappingProxyType
from typing import Mapping


class Peer(StrEnum):
    """The two bases onecsync is a node between, by their key in `bases:` of the config."""

    ACCOUNTING = "accounting"
    CRM = "crm"


# Their names as plain text, in config order (click matches an enum choice by its member name).
PEERS: tuple[str, ...] = tuple(p.value for p in Peer)

PULL_CATALOGS = "pull-catalogs"
PUSH_INVOICES = "push-invoices"
PULL_SETTLEMENTS = "pull-settlements"

# The commands that are no flow: every flow at once, the reconciliation, the parked objects again.
RUN = "run"
RECONCILE = "reconcile"
RETRY = "retry"


@dataclass(frozen=True)
class FlowSpec:
    """One flow: the objects of `default_types` come from `source` and are registered for
    `target` by the function `router` names ("module:function", imported when it routes).

    `returns`: the target's changes to these objects come back to the source (an invoice edited
    in accounting goes back to the CRM), so they travel, and are declared, both ways: the flow's
    command receives from both bases and its router routes both `ways`.
    `links`: the default link paths by type, for a flow that forwards a document only when it
    names one already forwarded; None for a flow that takes no `links` key.
    `kinds` (derived from `default_types`): the kinds of object its router handles.
    """

    name: str
    source: Peer
    target: Peer
    default_types: tuple[str, ...]
    router: str
    returns: bool = False
    links: Mapping[str, tuple[str, ...]] | None = field(default=None)

    @property
    def kinds(self) -> tuple[str, ...]:
        """The kinds (the part of a type's name before the dot) of its default types: a router
        handles those only. push-invoices keeps what it routes in the invoice registry, so a
        catalog there would be taken for an invoice (config's check refuses other kinds)."""
        return tuple(dict.fromkeys(t.split(".", 1)[0] for t in self.default_types))

    @property
    def ways(self) -> tuple[tuple[Peer, Peer], ...]:
        """(from, to) of each way the flow carries its objects: to the target, and back."""
        return ((self.source, self.target),) + (((self.target, self.source),) if self.returns else ())


ORGANIZATION = "Справочник.Организации"  # what `flows.*.organizations` names by ИНН

_PAYMENT_LINKS = ("РасшифровкаПлатежа/Строка/Заказ/ЗаказКлиента/Ссылка",
                  "РасшифровкаПлатежа/Строка/Заказ/СчетПокупателю/Ссылка",
                  "РасшифровкаПлатежа/Строка/ДокументРасчетов/ЗаказКлиентаСсылка/Ссылка",
                  "РасшифровкаПлатежа/Строка/ДокументРасчетов/РеализацияТоваровУслугСсылка/Ссылка")

# In routing order: invoices are routed before settlements so that a payment arriving in the
# same run as its invoice is linked at once.
FLOWS: tuple[FlowSpec, ...] = (
    FlowSpec(
        PULL_CATALOGS, Peer.ACCOUNTING, Peer.CRM,
        (ORGANIZATION, "Справочник.БанковскиеСчета", "Справочник.Банки",
         "Справочник.Контрагенты", "Справочник.КонтрагентыГруппа", "Справочник.Договоры",
         "Справочник.Номенклатура", "Справочник.НоменклатураГруппа",
         "Справочник.ГруппыАналитическогоУчетаНоменклатуры", "Справочник.Валюты",
         "Справочник.ТипыЦен", "Справочник.ЕдиницыИзмерения", "Справочник.Пользователи",
         "Справочник.Подразделения"),
        router="onecsync.flows.catalogs:route_catalogs"),
    FlowSpec(
        PUSH_INVOICES, Peer.CRM, Peer.ACCOUNTING,
        ("Документ.СчетПокупателю", "Документ.ЗаказКлиента"),
        router="onecsync.flows.invoices:route_invoices", returns=True),
    FlowSpec(
        PULL_SETTLEMENTS, Peer.ACCOUNTING, Peer.CRM,
        ("Документ.РеализацияТоваровУслуг", "Документ.ВозвратТоваровОтПокупателя",
         "Документ.ПБДСРасчетыСКонтрагентами", "Документ.СБДСРасчетыСКонтрагентами",
         "Документ.ПКОРасчетыСКонтрагентами", "Документ.РКОРасчетыСКонтрагентами"),
        router="onecsync.flows.settlements:route_settlements",
        # Where a settlement document names the invoice (or the linked sale) it settles. A
        # document is forwarded to the CRM when any of these holds the Ссылка of a CRM invoice
        # or of a document already forwarded (a return of a forwarded sale, a payment for it).
        links=MappingProxyType({
            "Документ.РеализацияТоваровУслуг": (
                "Заказ/Ссылка", "СчетПокупателю/Ссылка", "Товары/Строка/Заказ/Ссылка",
                "Услуги/Строка/Заказ/Ссылка"),
            "Документ.ВозвратТоваровОтПокупателя": (
                "Заказ/Ссылка", "ДокументРеализации/РеализацияТоваровУслугСсылка/Ссылка"),
            "Документ.ПБДСРасчетыСКонтрагентами": _PAYMENT_LINKS,
            "Документ.СБДСРасчетыСКонтрагентами": _PAYMENT_LINKS,
            "Документ.ПКОРасчетыСКонтрагентами": _PAYMENT_LINKS,
            "Документ.РКОРасчетыСКонтрагентами": _PAYMENT_LINKS,
        })),
)


# The derivations read FLOWS when called (not at import), so that a flow added to the table,
# as a test does, shows everywhere at once.

def flow(name: str) -> FlowSpec:
    """The spec of the flow `name`; KeyError if there is none."""
    for spec in FLOWS:
        if spec.name == name:
            return spec
    raise KeyError(name)


def flow_names() -> tuple[str, ...]:
    return tuple(spec.name for spec in FLOWS)


def flows_from(peer: str, returned: bool = True) -> tuple[str, ...]:
    """The flows whose objects we take from `peer`: those it is the source of, then (unless
    not `returned`) those whose changes it returns."""
    return (tuple(s.name for s in FLOWS if s.source == peer)
            + (tuple(s.name for s in FLOWS if s.returns and s.target == peer) if returned else ()))


def flows_to(peer: str, returned: bool = True) -> tuple[str, ...]:
    """The flows whose objects we send `peer`: those it is the target of, then (unless not
    `returned`) those whose changes come back to it."""
    return (tuple(s.name for s in FLOWS if s.target == peer)
            + (tuple(s.name for s in FLOWS if s.returns and s.source == peer) if returned else ()))
