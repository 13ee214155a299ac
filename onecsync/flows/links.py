"""What a settlement document names along the configured link paths (`flows.*.links`).

Public API: `refs(row, paths)`, `reread_waiting(state, source, flow)`, `forwarded_types(flow)`,
`without_foreign(state, flow, source, target, row)`.
"""

from __future__ import annotations

from onecsync import formats
from onecsync import topology
from onecsync.config import Flow
from onecsync.mapping import field_at
from onecsync.mapping import find_all
from onecsync.protocol.objects import parse_object
from onecsync.state import State
from onecsync.state.inbox import Staged


def refs(row: Staged, paths: tuple[str, ...]) -> set[str]:
    """The Ссылка values (lower case) the document holds along `paths`."""
    # A path can match only if the start tag of each of its elements occurs in the bytes (stored
    # objects write the body namespace unprefixed). Most of an accounting base's documents name
    # no invoice at all: they are not parsed.
    paths = tuple(p for p in paths if all(f"<{step}".encode() in row.xml for step in p.split("/")))
    if not paths:
        return set()
    element = parse_object(row.xml, row.version)
    return {(el.text or "").strip().lower() for path in paths for el in find_all(element, path)
            if (el.text or "").strip()}


def reread_waiting(state: State, source: str, flow: Flow) -> None:
    """The link paths changed: what each waiting document names is read again."""
    for row in state.inbox.waiting(source, flow.objects):
        state.inbox.set_links(row.id, refs(row, flow.links.get(row.type, ())))


def forwarded_types(flow: Flow) -> list[str]:
    """Every type `flow` may have forwarded: today's and its own defaults, so that taking a type
    out of the list neither unlinks what it forwarded nor sends its deletion (review 7 #3)."""
    return sorted(set(flow.objects) | set(topology.flow(flow.name).default_types))


# A table's rows: a link path through one names what one row settles (a payment's order, the
# sale it pays).
_ROWS = "Строка"
# A row that settled a document no longer named is settled automatically.
_SETTLED_BY = ("СпособПогашенияЗадолженности", "ПоДокументу", "Автоматически")


def without_foreign(state: State, flow: Flow, source: str, target: str, row: Staged) -> tuple:
    """(the document parsed, or None if it was not; whether it was changed): without its
    references, along the link paths, to what is known not to be `target`'s
    (state/withdrawal.py), in its rows (a payment row's order) and in its header (a sale's
    `Заказ`, a return's `ДокументРеализации`).

    1C creates an object it does not hold from a reference's key properties alone (a stub,
    "объект не найден"): a payment of a CRM order and of accounting's own order would make the
    own order appear in the CRM, and so would a sale of a CRM invoice whose `Заказ` is an order
    made in accounting. Sent without it, a row keeps its sum (the CRM sees a payment of no order
    for it, which is what the CRM knows of it), the header its other fields. A reference not
    judged yet goes as it is: it may still turn out to be the CRM's. So does one whose field
    the schema of the document's version requires (the element the path takes below the
    document or the row, removed whole): no built-in path has one (EnterpriseData 1.8 … 1.21:
    `Заказ`, `СчетПокупателю`, `ДокументРеализации`, `РасшифровкаПлатежа.Строка/Заказ`,
    `ДокументРасчетов` are each minOccurs 0), a path from the config may."""
    paths = [p for p in flow.links.get(row.type, ())
             if all(f"<{step}".encode() in row.xml for step in p.split("/"))]
    if not paths:
        return None, False
    element = parse_object(row.xml, row.version)
    index = formats.load(row.version)
    named: dict[str, list[tuple]] = {}  # Ссылка -> (the row or the document, the element naming it)
    for path in paths:
        table, _, rest = path.rpartition(f"/{_ROWS}/")
        head = rest.split("/", 1)[0]
        field = field_at(index, row.type, f"{table}/{_ROWS}/{head}" if table else head)
        if field is None or field.min > 0:
            continue
        for holder in find_all(element, f"{table}/{_ROWS}") if table else [element]:
            for ref in find_all(holder, rest):
                child = ref
                while child.getparent() is not holder:
                    child = child.getparent()
                named.setdefault((ref.text or "").strip().lower(), []).append((holder, child))
    known = state.withdrawals.known(source, target, forwarded_types(flow), set(named) - {""})
    if not known:
        return element, False
    for ref in known:
        for holder, child in named[ref]:
            if child.getparent() is not holder:
                continue  # removed already: it named two of them
            holder.remove(child)
            way = find_all(holder, _SETTLED_BY[0])
            if holder is not element and way and (way[0].text or "").strip() == _SETTLED_BY[1] \
                    and not find_all(holder, "ДокументРасчетов"):
                way[0].text = _SETTLED_BY[2]
    return element, True
