"""reconcile against the bases themselves, through their read-only OData views.

Public API: `reconcile_odata(config, state, clients, by_hand=False)`, the default entity-set
tables (what it finds, reconcile_heal heals).

For every invoice in the registry, accounting must hold it under the same Ссылка (1C keeps the
public id of an object it creates from an exchange), with the same amount, posted; and the
payments and sales accounting holds for it must be the ones onecsync forwarded to the CRM. Where
the CRM has OData too, it must hold what we forwarded and it confirmed. Names follow БП 3.0 and
the CRM on the УТ object model (docs/odata.md §3, §4); `bases.*.odata.entities` overrides them.

Both bases keep changing while we look. An invoice we have not seen accounting confirm is on its
way and not compared. What accounting's users did since its last export (a payment entered, a
sum changed) is in its OData before it can reach us: such a difference becomes drift only once
accounting has written us a message after reconcile first saw it (kept in the state's meta).
Which part of each list one reconcile compares is reconcile_window's: bounded, whatever the
history.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from decimal import Decimal
from decimal import InvalidOperation
from typing import TYPE_CHECKING
from typing import Iterable

from onecsync.config import Config
from onecsync.flows.reconcile import Drift
from onecsync.flows.reconcile_window import Window
from onecsync.flows.reconcile_window import pair_key
from onecsync.i18n import N_
from onecsync.i18n import counted
from onecsync.state import State
from onecsync.stored import BadValue
from onecsync.stored import Damaged
from onecsync.stored import stored_json
from onecsync.stored import typed
from onecsync.topology import Peer

if TYPE_CHECKING:  # requests is only worth importing when a base has OData
    from onecsync.odata import ODataClient

log = logging.getLogger("onecsync")

# EnterpriseData type of a CRM invoice -> the accounting entity set that holds it.
ACCOUNTING_INVOICES = {"Документ.ЗаказКлиента": "Document_СчетНаОплатуПокупателю",
                       "Документ.СчетПокупателю": "Document_СчетНаОплатуПокупателю"}
# Where accounting's documents name the invoice they settle: (entity set, its owner document set
# or None, invoice field, amount field, EnterpriseData type).
ACCOUNTING_SETTLEMENTS = (
    ("Document_ПоступлениеНаРасчетныйСчет_РасшифровкаПлатежа", "Document_ПоступлениеНаРасчетныйСчет",
     "СчетНаОплату_Key", "СуммаПлатежа", "Документ.ПБДСРасчетыСКонтрагентами"),
    ("Document_ПриходныйКассовыйОрдер_РасшифровкаПлатежа", "Document_ПриходныйКассовыйОрдер",
     "СчетНаОплату_Key", "СуммаПлатежа", "Документ.ПКОРасчетыСКонтрагентами"),
    ("Document_РеализацияТоваровУслуг", None, "СчетНаОплатуПокупателю_Key", "СуммаДокумента",
     "Документ.РеализацияТоваровУслуг"),
)
# EnterpriseData type of a CRM invoice -> the CRM entity set that holds it (the УТ model).
CRM_INVOICES = {"Документ.ЗаказКлиента": "Document_ЗаказКлиента",
                "Документ.СчетПокупателю": "Document_СчетНаОплатуКлиенту"}
CRM_DOCUMENTS = {
    "Документ.РеализацияТоваровУслуг": "Document_РеализацияТоваровУслуг",
    "Документ.ВозвратТоваровОтПокупателя": "Document_ВозвратТоваровОтКлиента",
    "Документ.ПБДСРасчетыСКонтрагентами": "Document_ПоступлениеБезналичныхДенежныхСредств",
    "Документ.СБДСРасчетыСКонтрагентами": "Document_СписаниеБезналичныхДенежныхСредств",
    "Документ.ПКОРасчетыСКонтрагентами": "Document_ПриходныйКассовыйОрдер",
    "Документ.РКОРасчетыСКонтрагентами": "Document_РасходныйКассовыйОрдер",
}
SEEN_KEY = "reconcile.first_seen"  # drift -> accounting's received_no when reconcile first saw it
CHUNK = 15  # GUIDs per $filter: 1C's URLs get too long well before a hundred
SEEN_KEPT = 10_000  # first-seen entries kept of drifts this reconcile did not compare again
# The lists reconcile compares a window of, as the lines about them name them.
INVOICES, CRM_CONFIRMED = N_("CRM invoices"), N_("documents the CRM confirmed")
CRM_DELETED = N_("document deletions the CRM confirmed")
IMPORTED: dict[str, str] = {Peer.ACCOUNTING: N_("invoice deletions accounting imported"),
                              Peer.CRM: N_("invoice deletions the CRM imported")}


def _chunks(items: list, size: int = CHUNK) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _money(value) -> Decimal | None:
    """An amount to the cent: one of the state's (None if it holds none), or one of an OData
    row, which its schema judged already (answers.AMOUNT: a malformed answer otherwise)."""
    try:
        return Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError):
        return None


def _by_ref(client: ODataClient, entity: str, refs: list[str], select: str) -> dict[str, dict]:
    found = {}
    for chunk in _chunks(sorted(set(refs))):
        for row in client.entities(entity, select=select, any_of=("Ref_Key", chunk)):
            found[str(row.get("Ref_Key", "")).lower()] = row
    return found


def reconcile_odata(config: Config, state: State, clients: dict[str, ODataClient],
                    by_hand: bool = False) -> list[Drift]:
    """The drift a window of the history shows (all of it, up to BY_HAND a list, `by_hand`)."""
    drifts: list[Drift] = []
    window = Window(state, by_hand)
    if Peer.ACCOUNTING in clients:
        found = _accounting(config, state, clients[Peer.ACCOUNTING], window)
        if Peer.CRM in clients:
            found = _unless_marked_in_crm(config, found, clients[Peer.CRM])
        # Compared again on the next runs until put right (what both bases marked is not
        # drift); a document not forwarded has its invoice compared again (_settlements).
        for d in found:
            if d.peer == Peer.ACCOUNTING:
                window.drifted(INVOICES, f"{d.ref} {d.type}")
        drifts += _once_accounting_exported(state, found, window)
    if Peer.CRM in clients:
        drifts += _crm(config, state, clients[Peer.CRM], window)
    for peer, invoices in ((Peer.ACCOUNTING, ACCOUNTING_INVOICES), (Peer.CRM, CRM_INVOICES)):
        if peer in clients:
            drifts += _unmarked(state, peer, clients[peer], {**invoices, **_entities(config, peer)},
                                window)
    window.save()  # only now: a reconcile that failed on the way compares the same slice again
    window.report()
    return drifts


def _unmarked(state: State, peer: str, client: ODataClient, names: dict[str, str],
              window: Window) -> list[Drift]:
    """Invoices that `peer` imported the other base's deletion of, yet holds live: a user
    unmarked them (1C marks what an exchange deletes; only a user clears a mark). The other
    base deleted them, and won the crossing: what `peer` sends of them does not go there."""
    other = next(p for p in (Peer.ACCOUNTING, Peer.CRM) if p != peer)
    deleted = window.pick(IMPORTED[peer], state.outbox.deletions_imported(peer, list(CRM_INVOICES)),
                          pair_key)
    return [Drift("unmarked", peer, type_name, ref, (
        f"the {other} base deleted it and the {peer} base imported the deletion, yet "
        f"holds it not marked for deletion (a user unmarked it): its versions no "
        f"longer go to the {other} base; mark it for deletion in the {peer} base"))
        for type_name, ref in _held_unmarked(client, names, deleted, window, IMPORTED[peer])]


def _held_unmarked(client: ODataClient, names: dict[str, str], items: list[tuple[str, str]],
                   window: Window, name: str) -> list[tuple[str, str]]:
    """Of these (type, Ссылка), what the base holds not marked for deletion, an entity set a
    query at a time; what it holds no more is not (Удаление помеченных объектов did that)."""
    by_entity: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for type_name, ref in items:
        by_entity[names[type_name]].append((type_name, ref))
    held = []
    for entity, group in by_entity.items():
        found = _by_ref(client, entity, [ref for _, ref in group], "Ref_Key,DeletionMark")
        held += [(t, r) for t, r in group if r in found and found[r].get("DeletionMark") is False]
    for item in held:
        window.drifted(name, pair_key(item))
    return held


def _on_its_way(d: Drift) -> bool:
    """May accounting's next message still explain it? What its users entered or changed since
    its last export (a payment, an invoice's sum) is in its OData already, not yet with us."""
    return d.kind in ("amount", "not-forwarded")


def _once_accounting_exported(state: State, drifts: list[Drift], window: Window) -> list[Drift]:
    """Such drifts count only once accounting wrote us a message after reconcile first saw
    them: that message carried all accounting had registered for us by then. What this
    reconcile did not compare keeps when it was first seen (up to SEEN_KEPT of them)."""
    try:
        received = state.peers.get(Peer.ACCOUNTING).received_no
    except KeyError:  # nothing ever received from accounting
        received = 0
    seen = _first_seen(state)
    now = dict(sorted((k, n) for k, n in seen.items()
                      if k.rsplit(" ", 1)[-1] not in window.compared)[:SEEN_KEPT])
    out = []
    for d in drifts:
        if _on_its_way(d):
            key = f"{d.kind} {d.type} {d.ref}"
            now[key] = seen.get(key, received)
            if received <= now[key]:
                log.debug("reconcile: %s %s %s: waiting for accounting's next message", d.kind,
                          d.type, d.ref)
                continue
        out.append(d)
    waiting = sum(map(_on_its_way, drifts)) - sum(map(_on_its_way, out))
    if waiting:
        log.info("reconcile: %s may still be on the way from accounting: drift if its next "
                 "message does not bring them", counted(waiting, "{n} difference", "{n} differences"))
    with state.atomic():
        state.meta.set(SEEN_KEY, json.dumps(now, sort_keys=True))
    return out


def _first_seen(state: State) -> dict[str, int]:
    """What reconcile kept of when it first saw each drift: accounting's number then."""
    try:
        seen = typed(stored_json(state.meta.get(SEEN_KEY) or "{}", "its value"), dict, "it")
        for n in seen.values():
            typed(n, int, "a number in it")
    except BadValue as exc:
        raise Damaged(state.path, "meta", repr(SEEN_KEY), str(exc)) from None
    return seen


def _entities(config: Config, peer: str) -> dict[str, str]:
    """The entity names `bases.<peer>.odata.entities` overrides (a base reconciled has odata)."""
    odata = config.bases[peer].odata
    return dict(odata.entities) if odata is not None else {}


def _accounting(config: Config, state: State, client: ODataClient, window: Window) -> list[Drift]:
    drifts = []
    names = {**ACCOUNTING_INVOICES, **_entities(config, Peer.ACCOUNTING)}
    # An invoice still on its way (sent, or not yet, and not confirmed) is not in accounting
    # yet, or not in this version: only what accounting confirmed can be compared.
    on_the_way = state.outbox.unconfirmed(Peer.ACCOUNTING)
    invoices = window.pick(INVOICES, [i for i in state.invoices.all() if not i["deleted"]
                                      and (i["type"], i["ref"]) not in on_the_way],
                           lambda i: f"{i['ref']} {i['type']}")
    window.compared.update(i["ref"] for i in invoices)
    groups: dict[str, list[str]] = defaultdict(list)
    for inv in invoices:
        groups[names.get(inv["type"], ACCOUNTING_INVOICES["Документ.ЗаказКлиента"])].append(inv["ref"])
    found: dict[str, dict] = {}
    for entity, refs in groups.items():
        found.update(_by_ref(client, entity, refs, "Ref_Key,Number,СуммаДокумента,Posted,DeletionMark"))
    for inv in invoices:
        row, what = found.get(inv["ref"]), f"invoice {inv['number']} of {(inv['date'] or '')[:10]}"
        if row is None:
            drifts.append(Drift("missing", Peer.ACCOUNTING, inv["type"], inv["ref"],
                                f"{what} from the CRM is not in accounting", healable=True))
        elif row.get("DeletionMark"):
            drifts.append(Drift("deleted", Peer.ACCOUNTING, inv["type"], inv["ref"],
                                f"{what} is marked for deletion in accounting, not in the CRM"))
        else:
            theirs, ours = _money(row.get("СуммаДокумента")), _money(inv["amount"])
            if ours is not None and theirs != ours:
                drifts.append(Drift("amount", Peer.ACCOUNTING, inv["type"], inv["ref"],
                                    f"{what}: accounting has {theirs}, the CRM sent {ours}"))
            if row.get("Posted") is False:
                drifts.append(Drift("unposted", Peer.ACCOUNTING, inv["type"], inv["ref"],
                                    f"{what} is not posted in accounting"))
    types = {i["ref"]: i["type"] for i in invoices if i["ref"] in found}
    return drifts + _settlements(state, client, types, window)


def _unless_marked_in_crm(config: Config, drifts: list[Drift], client: ODataClient) -> list[Drift]:
    """Without the invoices marked for deletion in accounting that the CRM holds marked too:
    both bases agree (a mark travels in no EnterpriseData message, so each user marks it)."""
    names = {**CRM_INVOICES, **_entities(config, Peer.CRM)}
    marked: dict[str, list[str]] = defaultdict(list)
    for d in drifts:
        if d.kind == "deleted" and d.type in names:
            marked[names[d.type]].append(d.ref)
    both = {ref for entity, refs in marked.items()
            for ref, row in _by_ref(client, entity, refs, "Ref_Key,DeletionMark").items()
            if row.get("DeletionMark") is True}
    return [d for d in drifts if not (d.kind == "deleted" and d.ref in both)]


def _settlements(state: State, client: ODataClient, types: dict[str, str],
                 window: Window) -> list[Drift]:
    """Payments and sales accounting holds for these invoices (Ссылка -> type) vs. what we
    forwarded; an invoice with such drift is compared again on the next runs."""
    refs = list(types)
    held: dict[str, dict[str, tuple[str, Decimal]]] = defaultdict(dict)  # invoice -> doc -> (type, sum)
    for entity, owner, field, amount, type_name in ACCOUNTING_SETTLEMENTS:
        docs: dict[str, tuple[str, str, Decimal]] = {}
        for chunk in _chunks(refs):
            # A payment's rows share its Ref_Key: without LineNumber its second row would look
            # like the first sent again (a server ignoring $skip) and stop every reconcile.
            key = "Ref_Key,LineNumber" if owner else "Ref_Key"
            for row in client.entities(entity, select=f"{key},{field},{amount}",
                                       any_of=(field, chunk), orderby=key):
                doc, inv = str(row["Ref_Key"]).lower(), str(row[field]).lower()
                prev = docs.get(doc, (inv, type_name, Decimal(0)))[2]
                docs[doc] = (inv, type_name, prev + (_money(row.get(amount)) or Decimal(0)))
        if owner and docs:  # rows do not say whether their document was deleted
            live = _by_ref(client, owner, list(docs), "Ref_Key,DeletionMark")
            docs = {d: v for d, v in docs.items() if d in live and not live[d].get("DeletionMark")}
        for doc, (inv, t, total) in docs.items():
            held[inv][doc] = (t, total)
            window.compared.add(doc)
    forwarded = state.outbox.forwarded_for(Peer.ACCOUNTING, Peer.CRM, refs)
    drifts = []
    for inv in refs:
        theirs, ours = held.get(inv, {}), forwarded.get(inv, {})
        for doc, (type_name, total) in sorted(theirs.items()):
            # Registered for the CRM without our link to this invoice: heal forwarded it (or a
            # link path forwarded it for another invoice); reporting it again heals nothing.
            if doc not in ours and not state.outbox.was_registered(Peer.CRM, type_name, doc):
                window.drifted(INVOICES, f"{inv} {types[inv]}")
                in_inbox = state.inbox.copy_of(Peer.ACCOUNTING, type_name, doc) is not None
                drifts.append(Drift(
                    "not-forwarded", Peer.CRM, type_name, doc,
                    f"accounting holds it for invoice {inv} ({total}); "
                    + ("it waits in our inbox (--heal forwards the copy we hold if it names a CRM "
                       "invoice; if accounting changed it since, register it again for onecsync "
                       "there)" if in_inbox else "onecsync never received it: "
                       "register it again for onecsync in accounting"), healable=in_inbox))
    return drifts


def _crm(config: Config, state: State, client: ODataClient, window: Window) -> list[Drift]:
    names = {**CRM_DOCUMENTS, **_entities(config, Peer.CRM)}
    confirmed = window.pick(CRM_CONFIRMED, state.outbox.confirmed_registrations(
        Peer.CRM, list(names)), pair_key)
    drifts = []
    by_type: dict[str, list[str]] = defaultdict(list)
    for type_name, ref in confirmed:
        by_type[type_name].append(ref)
    marked = state.outbox.marked_again(Peer.CRM)
    seen_unmarked = []
    for type_name, refs in by_type.items():
        found = _by_ref(client, names[type_name], refs, "Ref_Key,DeletionMark")
        for ref in refs:
            if ref not in found:
                drifts.append(Drift("missing", Peer.CRM, type_name, ref,
                                    "the CRM confirmed it but does not hold it", healable=True))
            elif found[ref].get("DeletionMark"):
                # What we forward settles a CRM order, yet 1C will unpost it and "Удаление
                # помеченных объектов" delete it; sending it again keeps the mark (it was
                # withdrawn once, and no version clears a mark), so only a user can.
                drifts.append(Drift("marked", Peer.CRM, type_name, ref,
                                    "the CRM holds it marked for deletion, though onecsync "
                                    "forwards it as live: unmark it in the CRM"))
            elif (type_name, ref) in marked:
                seen_unmarked.append((type_name, ref))
    if seen_unmarked:  # status stops counting what a user unmarked
        with state.atomic():
            for type_name, ref in seen_unmarked:
                state.outbox.unmarked(Peer.CRM, type_name, ref)
    for d in drifts:  # compared again on the next runs, until it is not
        window.drifted(CRM_CONFIRMED, pair_key((d.type, d.ref)))
    return drifts + _unmarked_deletions(state, client, names, window)


def _unmarked_deletions(state: State, client: ODataClient, names: dict[str, str],
                        window: Window) -> list[Drift]:
    """The CRM confirmed the deletion of its copy (1C marks it), yet holds it unmarked: a user
    unmarked what accounting deleted or no longer links (withdrawn), and the CRM's copy settles
    a CRM order again. Not held at all is what "Удаление помеченных объектов" does: no drift."""
    # An invoice's deletion is `_unmarked`'s: said once, whatever `entities` names.
    documents = [t for t in names if t not in CRM_INVOICES]
    deleted = window.pick(CRM_DELETED, state.outbox.confirmed_registrations(
        Peer.CRM, documents, "delete"), pair_key)
    return [Drift("unmarked", Peer.CRM, type_name, ref,
                  "the CRM holds it unmarked, though onecsync sent its deletion (accounting "
                  "deleted it, or it no longer settles a CRM order): mark it for deletion "
                  "in the CRM, or reconcile --heal sends the deletion again", healable=True)
            for type_name, ref in _held_unmarked(client, names, deleted, window, CRM_DELETED)]
