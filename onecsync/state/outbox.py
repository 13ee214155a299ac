"""The registrations: what is owed to each peer, its stamp (the message that carried it) and its
confirmation, and the mapped copies sent instead of the object as received.

Public API: `Outbox` (as `State.outbox`), `Pending`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Callable
from typing import Iterable
from typing import Iterator

from onecsync.errors import StateError
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.inbox import Staged
from onecsync.state.inbox import StoredObject
from onecsync.state.payloads import pack
from onecsync.state.payloads import unpack
from onecsync.state.table import Table
from onecsync.state.table import marks
from onecsync.state.table import now_text

# Ids per bulk statement over a range (see _in_id_ranges).
CHUNK = 20000
# Over `registrations r JOIN inbox i ON i.id = r.inbox_id`, for a peer (the parameter): the last
# we registered for it is the other base's deletion (`deleted_there`).
_DELETED = "r.peer = ? AND r.kind = 'delete' AND r.parked IS NULL AND i.peer != r.peer"


@dataclass(frozen=True)
class Pending(StoredObject):
    """One registration ready to be written: its payload and the version it is written in
    (`id`: the registration's), the message it was stamped into, whether it is a mapped copy."""

    message_no: int | None
    mapped: bool = False

    @classmethod
    def of(cls, row: tuple) -> Pending:
        """From a row of `Outbox.pending`, its payload still deflated, and the digest the reader
        took of the object 1C sent (None for a mapped copy, which is checked when converted).

        Such an object goes out as it is stored, parsed by no one: a payload that is not what
        was received (an edited or damaged state) must not reach the base as if it were."""
        pending = cls(row[0], row[1], row[2], row[3], row[4], unpack(row[5]), row[6], row[7])
        digest = row[8]
        if digest is not None and hashlib.sha256(pending.xml).hexdigest()[:32] != digest:
            raise StateError(f"the stored copy of {pending.type} {pending.ref} is not the object "
                             "that was received (its digest differs)",
                             remedy="restore the state file from a backup")
        return pending


class Outbox(Table):
    # -- confirmations ------------------------------------------------------------------
    def confirm(self, peer: str, upto: int) -> int:
        """The peer holds everything we stamped up to `upto`: those are no longer pending.

        A registration's `marked` once its peer confirmed its deletion, which 1C imports as a
        deletion mark: its copy stays marked whatever version comes after (EnterpriseData has
        no ПометкаУдаления), until a user unmarks it (`marked_again`). What it confirmed, as
        everything else: a deletion that a version replaced before the peer confirmed it is not
        taken to have reached it (review R1 #8; whether it did, only the base can tell:
        reconcile with OData reads its marks)."""
        where = "peer = ? AND confirmed_no IS NULL AND message_no IS NOT NULL AND message_no <= ?"
        stamp = now_text()
        count = self._in_id_ranges(
            f"SELECT min(id), max(id) FROM registrations WHERE {where}", (peer, upto),
            lambda lo, hi: self.conn.execute(
                f"UPDATE registrations SET confirmed_no = ?, confirmed_at = ? WHERE {where} "
                "AND id >= ? AND id < ?", (upto, stamp, peer, upto, lo, hi)).rowcount)
        # Apart, by the partial index of the few (registrations_marked): the deletions.
        self.conn.execute("UPDATE registrations SET marked = 1 WHERE peer = ? AND kind = 'delete' "
                          "AND marked IS NULL AND confirmed_no IS NOT NULL", (peer,))
        return count

    def _in_id_ranges(self, span_sql: str, params: tuple, apply: Callable[[int, int], int]) -> int:
        """`apply(lo, hi)` over consecutive id ranges [lo, hi) covering what `span_sql` spans.

        One UPDATE over a first exchange would remember every row it changes, and an ORDER BY
        would sort them all, before the first write: tens of MB per million objects. By ranges,
        the memory stays what one range needs, in the same transaction.
        """
        lo, hi = self.conn.execute(span_sql, params).fetchone()
        if lo is None:
            return 0
        return sum(apply(start, start + CHUNK) for start in range(lo, hi + 1, CHUNK))

    def unconfirm_after(self, peer: str, received_no: int) -> int:
        """The peer went back to `received_no` (a restored backup): what it confirmed later is
        pending again, to be sent in full (a deletion among it is no longer taken for marked
        there until it is confirmed again)."""
        # A new obligation: its clock (what `reconcile` calls stuck) starts now, not when the
        # object was first registered, or every object a restored base lost is "stuck" at once.
        cur = self.conn.execute(
            "UPDATE registrations SET confirmed_no = NULL, message_no = NULL, stamped_at = NULL, "
            "confirmed_at = NULL, overtaken = NULL, registered_at = ?, marked = CASE WHEN "
            "kind = 'delete' THEN NULL ELSE marked END "
            "WHERE peer = ? AND confirmed_no IS NOT NULL AND message_no > ?",
            (now_text(), peer, received_no))
        return cur.rowcount

    # -- registering --------------------------------------------------------------------
    def was_registered(self, peer: str, type_name: str, ref: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM registrations WHERE peer = ? AND type = ? AND ref = ?",
            (peer, type_name, ref)).fetchone() is not None

    def owed(self, peer: str, type_name: str, ref: str) -> bool:
        """Is a version of this object registered for `peer` and not yet confirmed by it, made
        by the other base? (Its own version, resent, is no version it has to import over its
        newer one: what it writes to us then goes on.)"""
        return self.conn.execute(
            "SELECT 1 FROM registrations r JOIN inbox i ON i.id = r.inbox_id WHERE r.peer = ? "
            "AND r.type = ? AND r.ref = ? AND r.confirmed_no IS NULL AND r.parked IS NULL "
            "AND i.peer != r.peer", (peer, type_name, ref)).fetchone() is not None

    def deleted_there(self, peer: str, type_name: str, ref: str) -> bool:
        """Is the last we registered for `peer` of this object the other base's deletion of it?
        Once `peer` imports it, 1C holds its copy marked for deletion, and no version it imports
        or sends after that clears the mark (EnterpriseData carries none): only a user can."""
        return self.conn.execute(
            f"SELECT 1 FROM registrations r JOIN inbox i ON i.id = r.inbox_id WHERE {_DELETED} "
            "AND r.type = ? AND r.ref = ?", (peer, type_name, ref)).fetchone() is not None

    def deletions_imported(self, peer: str, types: Iterable[str]) -> list[tuple[str, str]]:
        """(type, Ссылка) of `types` that `peer` confirmed the other base's deletion of, the
        last we registered for it: 1C holds them marked for deletion there, unless a user
        unmarked them (reconcile asks the base)."""
        types = list(types)
        return self.conn.execute(
            f"SELECT r.type, r.ref FROM registrations r JOIN inbox i ON i.id = r.inbox_id WHERE "
            f"{_DELETED} AND r.confirmed_no IS NOT NULL AND r.type IN ({marks(types)}) "
            "ORDER BY r.id", (peer, *types)).fetchall()

    def unconfirmed(self, peer: str) -> set[tuple[str, str]]:
        """(type, Ссылка) of every object registered for `peer` that it has not confirmed."""
        return set(self.conn.execute(
            "SELECT type, ref FROM registrations WHERE peer = ? AND confirmed_no IS NULL", (peer,)))

    def register_one(self, target: str, row: Staged, xml: bytes | None = None,
                     kind: str | None = None) -> None:
        """Register one inbox object for `target` (`xml`: its payload after the mapping; `kind`
        "delete" with the deletion notice as `xml`: the target is to delete its copy)."""
        [rid] = self.conn.execute(
            "INSERT INTO registrations (peer, type, ref, kind, inbox_id, message_no, registered_at) "
            "VALUES (?, ?, ?, ?, ?, NULL, ?) "
            "ON CONFLICT (peer, type, ref) DO UPDATE SET "
            "kind = excluded.kind, inbox_id = excluded.inbox_id, message_no = NULL, "
            "confirmed_no = NULL, overtaken = NULL, parked = NULL, stamped_at = NULL, "
            "confirmed_at = NULL, registered_at = excluded.registered_at RETURNING id",
            (target, row.type, row.ref, kind or row.kind, row.id, now_text())).fetchone()
        if xml is None:
            self.conn.execute("DELETE FROM registration_payloads WHERE registration_id = ?", (rid,))
        else:
            self.conn.execute(
                "INSERT INTO registration_payloads (registration_id, xml) VALUES (?, ?) "
                "ON CONFLICT (registration_id) DO UPDATE SET xml = excluded.xml", (rid, pack(xml)))
        self._state.inbox.set_status(row.id, S.ROUTED)

    def register(self, source: str, target: str, types: Iterable[str]) -> int:
        """Register every staged object of `types` from `source` for `target`, in bulk.

        Deletions go only where the object itself went: a base is never told to delete what
        we never sent it. A new version replaces an older registration and clears its stamp: the
        peer must get it again even if it confirms the message that carried the older one.
        """
        types = list(types)
        if not types:
            return 0
        in_types = marks(types)
        where = (f"peer = ? AND status = {S.STAGED.literal} AND type IN ({in_types}) AND "
                 "(kind = 'object' OR EXISTS (SELECT 1 FROM registrations r WHERE r.peer = ? "
                 "AND r.type = inbox.type AND r.ref = inbox.ref))")
        stamp = now_text()

        def register_range(lo: int, hi: int) -> int:
            # Mapped copies are rare (types with mapping rules): most states have none to drop.
            mapped_before = self.conn.execute(
                "SELECT max(registration_id) FROM registration_payloads").fetchone()[0]
            cur = self.conn.execute(
                "INSERT INTO registrations (peer, type, ref, kind, inbox_id, message_no, registered_at)"
                f" SELECT ?, type, ref, kind, id, NULL, ? FROM inbox WHERE {where} AND id >= ? AND id < ? "
                "ORDER BY id ON CONFLICT (peer, type, ref) DO UPDATE SET kind = excluded.kind, "
                "inbox_id = excluded.inbox_id, message_no = NULL, confirmed_no = NULL, "
                "overtaken = NULL, parked = NULL, stamped_at = NULL, confirmed_at = NULL, "
                "registered_at = excluded.registered_at",
                (target, stamp, source, *types, target, lo, hi))
            count = cur.rowcount
            if mapped_before is not None:  # what was mapped before is stale now
                self.conn.execute(
                    "DELETE FROM registration_payloads WHERE registration_id IN (SELECT r.id FROM "
                    "registration_payloads p CROSS JOIN registrations r ON r.id = p.registration_id "
                    "WHERE r.peer = ? AND r.inbox_id >= ? AND r.inbox_id < ? AND r.inbox_id IN "
                    f"(SELECT id FROM inbox WHERE {where} AND id >= ? AND id < ?))",
                    (target, lo, hi, source, *types, target, lo, hi))
            self.conn.execute(f"UPDATE inbox SET status = {S.ROUTED.literal} WHERE {where} "
                              "AND id >= ? AND id < ?", (source, *types, target, lo, hi))
            return count

        count = self._in_id_ranges(
            f"SELECT min(id), max(id) FROM inbox WHERE peer = ? AND status = {S.STAGED.literal} "
            f"AND type IN ({in_types})", (source, *types), register_range)
        # What is left is a deletion of something the target never got.
        self.conn.execute(
            f"UPDATE inbox SET status = {S.IGNORED.literal} WHERE peer = ? AND status = "
            f"{S.STAGED.literal} AND type IN ({in_types}) AND kind = 'delete'", (source, *types))
        return count

    def forwarded_for(self, source: str, target: str,
                      invoice_refs: Iterable[str]) -> dict[str, dict[str, str]]:
        """invoice Ссылка -> {document Ссылка: type} of what `source` sent that we registered
        for `target`, naming it."""
        out: dict[str, dict[str, str]] = {}
        refs = list(invoice_refs)
        for i in range(0, len(refs), 500):
            chunk = refs[i:i + 500]
            cur = self.conn.execute(
                "SELECT l.ref, r.ref, r.type FROM registrations r JOIN inbox i ON i.peer = ? "
                "AND i.type = r.type AND i.ref = r.ref JOIN inbox_links l ON l.inbox_id = i.id "
                f"WHERE r.peer = ? AND r.kind = 'object' AND l.ref IN ({marks(chunk)})",
                (source, target, *chunk))
            for inv, doc, type_name in cur:
                out.setdefault(inv, {})[doc] = type_name
        return out

    def confirmed_registrations(self, peer: str, types: Iterable[str],
                                kind: str = "object") -> list[tuple[str, str]]:
        """(type, Ссылка) of what `peer` confirmed, of `kind`: a version, or a deletion."""
        types = list(types)
        cur = self.conn.execute(
            "SELECT type, ref FROM registrations WHERE peer = ? AND kind = ? AND confirmed_no "
            f"IS NOT NULL AND type IN ({marks(types)}) ORDER BY id", (peer, kind, *types))
        return list(cur)

    def marked_again(self, peer: str) -> set[tuple[str, str]]:
        """(type, Ссылка) of what `peer` was sent a version of after it confirmed its deletion:
        1C holds its copy marked for deletion, unless a user unmarked it (`unmarked`)."""
        return set(self.conn.execute("SELECT type, ref FROM registrations WHERE peer = ? AND "
                                     "kind = 'object' AND marked IS NOT NULL", (peer,)))

    def unmarked(self, peer: str, type_name: str, ref: str) -> None:
        """`peer`'s copy is seen not marked for deletion (reconcile read it)."""
        self.conn.execute("UPDATE registrations SET marked = NULL WHERE peer = ? AND type = ? AND "
                          "ref = ? AND kind = 'object'", (peer, type_name, ref))

    def reregister(self, peer: str, type_name: str, ref: str) -> int:
        """Send it again in the next message, whatever the peer confirmed."""
        return self.conn.execute(
            "UPDATE registrations SET message_no = NULL, confirmed_no = NULL, overtaken = NULL, "
            "parked = NULL, stamped_at = NULL, confirmed_at = NULL, registered_at = ? "
            "WHERE peer = ? AND type = ? AND ref = ?",
            (now_text(), peer, type_name, ref)).rowcount

    def reregister_types(self, peer: str, types: Iterable[str]) -> int:
        """Send everything of `types` registered for `peer` again, whatever it confirmed."""
        types = list(types)
        return self.conn.execute(
            "UPDATE registrations SET message_no = NULL, confirmed_no = NULL, overtaken = NULL, "
            "parked = NULL, stamped_at = NULL, confirmed_at = NULL, registered_at = ? "
            f"WHERE peer = ? AND type IN ({marks(types)})", (now_text(), peer, *types)).rowcount

    def count_by_type(self, peer: str, types: Iterable[str]) -> dict[str, int]:
        """Registrations for `peer` of each of `types`, by type in order (none: not there)."""
        types = list(types)
        return dict(self.conn.execute(
            f"SELECT type, count(*) FROM registrations WHERE peer = ? AND type IN ({marks(types)}) "
            "GROUP BY type ORDER BY type", (peer, *types)).fetchall())

    # -- sending ------------------------------------------------------------------------
    def pending(self, peer: str) -> Iterator[Pending]:
        """Every registration the peer has not confirmed, in registration order, streamed."""
        cur = self.conn.execute(
            "SELECT r.id, r.type, r.ref, r.kind, i.version, coalesce(m.xml, p.xml), r.message_no, "
            "m.xml IS NOT NULL, CASE WHEN m.xml IS NULL THEN i.digest END "
            "FROM registrations r JOIN inbox i ON i.id = r.inbox_id "
            "JOIN inbox_payloads p ON p.inbox_id = r.inbox_id "
            "LEFT JOIN registration_payloads m ON m.registration_id = r.id "
            "WHERE r.peer = ? AND r.confirmed_no IS NULL AND r.parked IS NULL ORDER BY r.id",
            (peer,))
        for row in cur:
            yield Pending.of(row)

    def counts(self, peer: str) -> tuple[int, int]:
        """(unconfirmed registrations, of which never sent) for the peer.

        Both come from the covering index registrations_open: the never-sent ones are a range of
        it (empty when nothing is new), the unconfirmed ones a count of its entries.
        """
        where = "FROM registrations WHERE peer = ? AND confirmed_no IS NULL AND parked IS NULL"
        unsent = self.conn.execute(f"SELECT count(*) {where} AND message_no IS NULL", (peer,)).fetchone()[0]
        pending = self.conn.execute(f"SELECT count(*) {where}", (peer,)).fetchone()[0]
        return pending, unsent

    def stamp(self, peer: str, message_no: int) -> int:
        where = "peer = ? AND message_no IS NULL AND confirmed_no IS NULL AND parked IS NULL"
        stamp = now_text()
        return self._in_id_ranges(
            f"SELECT min(id), max(id) FROM registrations WHERE {where}", (peer,),
            lambda lo, hi: self.conn.execute(
                f"UPDATE registrations SET message_no = ?, stamped_at = ? WHERE {where} "
                "AND id >= ? AND id < ?", (message_no, stamp, peer, lo, hi)).rowcount)

    def in_flight(self, peer: str) -> int:
        """Registrations sent to `peer` and not confirmed by it."""
        return self.conn.execute(
            "SELECT count(*) FROM registrations WHERE peer = ? AND confirmed_no IS NULL "
            "AND message_no IS NOT NULL", (peer,)).fetchone()[0]

    def unstamp(self, peer: str) -> int:
        """Whatever `peer` has not confirmed goes in the next message, whichever carried it."""
        return self.conn.execute(
            "UPDATE registrations SET message_no = NULL, stamped_at = NULL WHERE peer = ? AND "
            "confirmed_no IS NULL", (peer,)).rowcount

    def parked(self) -> list[tuple[str, str, str, str]]:
        """(peer, type, Ссылка, reason) of every registration that cannot be sent."""
        return self.conn.execute(
            "SELECT peer, type, ref, parked FROM registrations WHERE parked IS NOT NULL "
            "ORDER BY id").fetchall()

    def park(self, reasons: dict[int, str]) -> None:
        self.conn.executemany("UPDATE registrations SET parked = ? WHERE id = ?",
                              [(why, rid) for rid, why in reasons.items()])
