"""What a settlement document names along the configured link paths (`flows.*.links`).

Public API: `refs(row, paths)`, `reread_waiting(state, source, flow)`, `forwarded_types(flow)`,
`without_foreign(state, flow, source, target, row)`.
"""

from __future__ import annotations

from onecsync import topology
from onecsync.config import Flow
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


# A table's rows, where a reference names what one row settles (a payment's order, the sale it
# pays): the element a link path takes after it is optional there (EnterpriseData 1.8:
# РасшифровкаПлатежа.Строка/Заказ, ДокументРасчетов, minOccurs 0).
_ROWS = "Строка"
# A row that settled a document no longer named is settled automatically.
_SETTLED_BY = ("СпособПогашенияЗадолженности", "ПоДокументу", "Автоматически")


def without_foreign(state: State, flow: Flow, source: str, target: str, row: Staged) -> tuple:
    """(the document parsed, or None if it was not; whether it was changed): without the
    references of its rows to what is known not to be `target`'s (state/withdrawal.py).

    1C creates an object it does not hold from a reference's key properties alone (a stub,
    "объект не найден"): a payment of a CRM order and of accounting's own order would make the
    own order appear in the CRM. Sent without it, the row keeps its sum, and the CRM sees a
    payment of no order for it, which is what the CRM knows of it. A reference not judged yet
    goes as it is: it may still turn out to be the CRM's."""
    by_row = [p.split(f"/{_ROWS}/", 1) for p in flow.links.get(row.type, ()) if f"/{_ROWS}/" in p]
    if not by_row or f"<{_ROWS}".encode() not in row.xml:
        return None, False
    element = parse_object(row.xml, row.version)
    named: dict[str, list[tuple]] = {}  # Ссылка -> (the row, the element naming it)
    for table, rest in by_row:
        for line in find_all(element, f"{table}/{_ROWS}"):
            head = rest.split("/", 1)[0]
            for ref in find_all(line, rest):
                child = find_all(line, head)[0]
                named.setdefault((ref.text or "").strip().lower(), []).append((line, child))
    known = state.withdrawals.known(source, target, forwarded_types(flow), set(named) - {""})
    if not known:
        return element, False
    for ref in known:
        for line, child in named[ref]:
            if child.getparent() is line:
                line.remove(child)
                way = find_all(line, _SETTLED_BY[0])
                if way and (way[0].text or "").strip() == _SETTLED_BY[1] and \
                        not find_all(line, "ДокументРасчетов"):
                    way[0].text = _SETTLED_BY[2]
    return element, True
