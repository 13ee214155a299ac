"""What a settlement document names along the configured link paths (`flows.*.links`).

Public API: `refs(row, paths)`, `reread_waiting(state, source, flow)`.
"""

from __future__ import annotations

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
