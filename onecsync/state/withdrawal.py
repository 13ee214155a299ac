"""Which forwarded documents are known to name nothing of the target's any more: the one
judgement a withdrawal (the target sent their deletion) is made by.

Public API: `Withdrawals` (as `State.withdrawals`: `no_longer_linked`, `known`, `judged`,
`take_judged`, `forwarded_naming`), `DEPTH`.

"Withdraw only when sure": 1C imports a deletion as a deletion mark, which no later version
clears, so a document is withdrawn only when everything it names is known NOT to be the
target's. Known is, of a Ссылка the target never sent us and the registry does not hold:
an object the source sent that was judged its own (ignored as OWN_INVOICE: an order not in
the registry; set aside for want of a flow, or a version that lost a crossing, is no such
judgement), or whose deletion was sent (withdrawn), or a document waiting in the source's
inbox that names only what is known (a sale of accounting's own order: no order itself, it
is never judged OWN_INVOICE). Naming nothing at all is known. What we have not seen, or not
judged yet, may still turn out to be the target's (an order that reached accounting first):
the document waits, as a new one does.

A judgement may be made in a later run than the document's (push-invoices judges an order its
own after pull-settlements routed the payment; a flow widened; a CRM order sent after
accounting's copy was judged): the Ссылки judged are kept (`judged`) until pull-settlements
takes them (`take_judged`) and judges again only the forwarded documents naming them.
"""

from __future__ import annotations

import json
from typing import Iterable
from typing import Sequence

from onecsync.state.inbox import OWN_INVOICE
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.table import Table
from onecsync.state.table import marks

# How many Ссылки deep a chain is followed, the one asked about first (what a payment of a
# return of a sale of an order names is three deep: the return, the sale, the order): beyond
# it, what is named is not known, and the document waits. A cycle of documents naming each
# other is never known either (nothing in it is known first).
DEPTH = 6


def _theirs(ref: str, forwarded: list[str]) -> str:
    """Is the Ссылка `ref` (a column) what may be the target's: a registry invoice, a document
    of the `forwarded` types registered for it, or an object of its own it sent us (an order
    that reached the source first and was judged its own there is the target's all the same;
    its copy of a document of the `forwarded` types is a copy of the source's)?
    Params: target, *forwarded, target, *forwarded."""
    types = marks(forwarded)
    return (f"({ref} IN (SELECT ref FROM invoices) OR EXISTS (SELECT 1 FROM registrations r "
            f"WHERE r.peer = ? AND r.ref = {ref} AND r.kind = 'object' AND r.type IN ({types})) "
            f"OR EXISTS (SELECT 1 FROM inbox t WHERE t.ref = {ref} AND +t.peer = ? AND "
            f"t.type NOT IN ({types})))")  # by inbox_ref: a peer's rows are most of the inbox


class Withdrawals(Table):
    def no_longer_linked(self, source: str, target: str, types: Iterable[str], forwarded: Iterable[str],
                         ids: Sequence[int] = (), naming: Sequence[str] = ()) -> list[int]:
        """Inbox ids of documents of `types` from `source` whose last registration for `target`
        is a version (not its deletion) and which now name only what is known not to be the
        target's (the module docstring): among the rows `ids`, and those that name one of
        `naming` (documents just withdrawn).

        `forwarded`: every type the flow may have forwarded, not only today's list (narrowing
        it must not look like unlinking). Only such candidates are looked at: the forwarded
        documents may be many, and this runs on every run."""
        types, forwarded = list(types), list(forwarded)
        names = self._candidates(source, target, types, forwarded, ids, naming)
        known = self.known(source, target, forwarded, {r for refs in names.values() for r in refs})
        return sorted(i for i, refs in names.items() if refs <= known)

    def _candidates(self, source: str, target: str, types: list[str], forwarded: list[str],
                    ids: Sequence[int], naming: Sequence[str]) -> dict[int, set[str]]:
        """id -> what it names, of the documents among `ids` or naming one of `naming` that
        are forwarded to `target` and name nothing that may be its (`_theirs`)."""
        # Driven from the few ids or Ссылки: the waiting documents may be many.
        picks = (("json_each(?) j CROSS JOIN inbox w ON w.id = j.value", list(ids)),
                 ("json_each(?) j CROSS JOIN inbox_links n ON n.ref = j.value CROSS JOIN inbox w "
                  "ON w.id = n.inbox_id", list(naming)))
        out: dict[int, set[str]] = {}
        for pick, values in picks:
            if not values:
                continue
            cur = self.conn.execute(
                f"SELECT w.id, k.ref FROM {pick} JOIN registrations r ON r.peer = ? AND "
                "r.type = w.type AND r.ref = w.ref AND r.kind = 'object' "
                "LEFT JOIN inbox_links k ON k.inbox_id = w.id WHERE w.peer = ? AND "
                f"w.kind = 'object' AND w.type IN ({marks(types)}) AND w.status IN "
                f"({S.WAITING.literal}, {S.ROUTED.literal}) AND NOT EXISTS (SELECT 1 FROM "
                f"inbox_links l WHERE l.inbox_id = w.id AND {_theirs('l.ref', forwarded)})",
                (json.dumps(values), target, source, *types, target, *forwarded, target, *forwarded))
            for inbox_id, ref in cur:
                refs = out.setdefault(inbox_id, set())
                if ref is not None:
                    refs.add(ref)
        return out

    def known(self, source: str, target: str, forwarded: list[str], refs: set[str]) -> set[str]:
        """Those of `refs` known not to be `target`'s: judged so, or waiting documents that name
        only such (followed `DEPTH` deep, each level one statement)."""
        known: set[str] = set()
        names: dict[str, set[str]] = {}  # waiting document's Ссылка -> what it names
        seen, frontier = set(refs), refs
        for _ in range(DEPTH):
            if not frontier:
                break
            cur = self.conn.execute(
                f"SELECT j.value, x.status, x.reason, k.ref, {_theirs('j.value', forwarded)}, "
                "EXISTS (SELECT 1 FROM registrations d WHERE d.peer = ? AND d.type = x.type AND "
                "d.ref = x.ref AND d.kind = 'delete') FROM json_each(?) j CROSS JOIN inbox x ON "
                "x.ref = j.value AND +x.peer = ? LEFT JOIN inbox_links k ON "
                f"k.inbox_id = x.id AND x.status = {S.WAITING.literal}",
                (target, *forwarded, target, *forwarded, target, json.dumps(sorted(frontier)), source))
            theirs, judged = set(), set()
            for ref, status, reason, named, is_theirs, deleted in cur:
                if is_theirs:
                    theirs.add(ref)
                elif deleted or (status == S.IGNORED and reason == OWN_INVOICE):
                    judged.add(ref)
                elif status == S.WAITING:
                    links = names.setdefault(ref, set())
                    if named is not None:
                        links.add(named)
            known |= judged - theirs
            for ref in theirs | judged:
                names.pop(ref, None)
            frontier = {r for links in names.values() for r in links} - seen
            seen |= frontier
        # Least fixpoint: a document is known once all it names is (a cycle never is).
        while grown := {ref for ref, links in names.items() if ref not in known and links <= known}:
            known |= grown
        return known & refs

    def judged(self, refs: Iterable[str]) -> None:
        """Whether `refs` are the target's or known not to be has changed: the forwarded
        documents naming them are judged again by the next pull-settlements routing."""
        self.conn.executemany("INSERT OR IGNORE INTO judged (ref) VALUES (?)", [(r,) for r in refs])

    def take_judged(self, source: str) -> list[str]:
        """The Ссылки judged since the last call, and those of the waiting documents of
        `source` that name them (`DEPTH` deep: a payment of a sale of an order judged own)."""
        if self.conn.execute("SELECT 1 FROM judged LIMIT 1").fetchone() is None:
            return []  # most runs: nothing written
        taken = {r for (r,) in self.conn.execute("DELETE FROM judged RETURNING ref")}
        frontier = taken
        for _ in range(DEPTH):
            if not frontier:
                break
            frontier = {r for (r,) in self.conn.execute(
                "SELECT DISTINCT w.ref FROM json_each(?) j CROSS JOIN inbox_links n ON "
                f"n.ref = j.value CROSS JOIN inbox w ON w.id = n.inbox_id WHERE +w.peer = ? AND "
                f"w.status = {S.WAITING.literal}", (json.dumps(sorted(frontier)), source))} - taken
            taken |= frontier
        return sorted(taken)

    def forwarded_naming(self, source: str, target: str, types: list[str],
                         refs: Sequence[str]) -> list[int]:
        """Inbox ids of the documents of `types` from `source` forwarded to `target` (their
        last registration there a version) that name one of `refs`."""
        if not refs:
            return []
        return [i for (i,) in self.conn.execute(
            "SELECT DISTINCT w.id FROM json_each(?) j CROSS JOIN inbox_links n ON n.ref = j.value "
            "CROSS JOIN inbox w ON w.id = n.inbox_id JOIN registrations r ON r.peer = ? AND "
            "r.type = w.type AND r.ref = w.ref AND r.kind = 'object' WHERE w.peer = ? AND "
            f"w.status = {S.ROUTED.literal} AND w.type IN ({marks(types)}) ORDER BY w.id",
            (json.dumps(list(refs)), target, source, *types))]
