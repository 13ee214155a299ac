"""What a base holds of an object now: the one rule that echoes, resends and heals decide by.

Public API: `Holdings` (as `State.held`: `of`, `delivered`, `has_any`, `types_of_ours`, `resend`),
`Held`; the rule's SQL, for the statements that apply it in bulk: `CONFIRMED_OURS_SQL`,
`OVERTAKE_SQL`.

A base holds the newer, in the order things happened, of (a) the last copy it sent us and (b)
the version we registered for it: once it reads our message it holds that, whether it has
confirmed it yet or not. Its own copy is the newer only when it came after the base had
confirmed ours (1C writes an object as it is at the time: a copy sent after the import is what
the base made of it since). That moment is kept on the registration (`overtaken`, set as the
copy is staged). A registration made from the base's own copy (a resend of what it holds) is
its own copy. Whatever is not known (a parked registration, a version no longer stored) is
no version: a version we are not sure the base holds is sent to it, never dropped (1C imports
what it holds as a no-op; a dropped change is lost).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Iterable

from onecsync.state.payloads import unpack
from onecsync.state.table import Table
from onecsync.state.table import distinct
from onecsync.state.table import marks

if TYPE_CHECKING:
    from onecsync.state.inbox import Staged

# Over `registrations r JOIN inbox i ON i.id = r.inbox_id`: the base holds the version we
# registered for it (not its own copy), or will once it reads our message.
_OURS = ("r.parked IS NULL AND i.peer != r.peer AND "
         "(r.confirmed_no IS NULL OR r.overtaken IS NULL)")
# For an incoming copy (`excluded`, the upsert's new inbox row): did its base hold ours?
CONFIRMED_OURS_SQL = (
    "EXISTS (SELECT 1 FROM registrations r JOIN inbox i ON i.id = r.inbox_id WHERE "
    "r.peer = excluded.peer AND r.type = excluded.type AND r.ref = excluded.ref AND "
    f"r.confirmed_no IS NOT NULL AND {_OURS})")
# (peer, type, ref) of a copy just staged: the base sent its own over ours, which it confirmed.
# Before it has confirmed ours, it imports ours over its copy: ours stays the newer.
OVERTAKE_SQL = ("UPDATE registrations SET overtaken = 1 WHERE peer = ? AND type = ? AND ref = ? "
                "AND confirmed_no IS NOT NULL AND overtaken IS NULL")


@dataclass(frozen=True)
class Held:
    """A version a base holds: `row`, the inbox row with it as its maker sent it (the base's
    own copy when `own`, else the other base's, which we registered for it), and `sent`, what
    we sent instead of that row (a mapped copy), if anything."""

    row: Staged
    own: bool
    sent: bytes | None = None

    @property
    def xml(self) -> bytes:
        """The version as the base got it, in `row.version`."""
        return self.sent if self.sent is not None else self.row.xml


class Holdings(Table):
    def of(self, peer: str, type_name: str, ref: str) -> Held | None:
        """What `peer` holds of the object now, or None: nothing we know of."""
        from onecsync.state.inbox import InboxStatus  # inbox applies this module's rule

        reg = self.conn.execute(
            f"SELECT i.id, i.status, {_OURS}, r.parked IS NOT NULL, m.xml FROM registrations r "
            "JOIN inbox i ON i.id = r.inbox_id "
            "LEFT JOIN registration_payloads m ON m.registration_id = r.id "
            "WHERE r.peer = ? AND r.type = ? AND r.ref = ?", (peer, type_name, ref)).fetchone()
        if reg is None or not reg[2]:
            if reg is not None and reg[3]:
                return None  # never sent: it holds what an older registration left, unknown
            own = self._state.inbox.copy_of(peer, type_name, ref)
            return Held(own, own=True) if own is not None else None
        inbox_id, status, _, _, sent = reg
        if status != InboxStatus.ROUTED:
            return None  # the row holds a newer version from its base now, not the one we sent
        rows = list(self._state.inbox.rows([inbox_id]))
        if not rows:
            return None
        return Held(rows[0], own=False, sent=unpack(sent) if sent is not None else None)

    def delivered(self, peer: str, type_name: str, ref: str) -> Held | None:
        """The other base's version we last registered for `peer`, as we sent it (the mapped
        copy, if a mapping changed it), whether `peer` has sent its own since or not; None if
        nothing, or if that row carries a newer version now."""
        from onecsync.state.inbox import InboxStatus  # inbox applies this module's rule

        reg = self.conn.execute(
            "SELECT i.id, m.xml FROM registrations r JOIN inbox i ON i.id = r.inbox_id "
            "LEFT JOIN registration_payloads m ON m.registration_id = r.id "
            "WHERE r.peer = ? AND r.type = ? AND r.ref = ? AND r.parked IS NULL "
            "AND i.peer != r.peer AND i.status = ?",
            (peer, type_name, ref, InboxStatus.ROUTED)).fetchone()
        rows = list(self._state.inbox.rows([reg[0]])) if reg is not None else []
        if not rows:
            return None
        return Held(rows[0], own=False, sent=unpack(reg[1]) if reg[1] is not None else None)

    def has_any(self, peer: str, type_name: str, ref: str) -> bool:
        """Has `peer` a version of the object, whichever: we registered one for it last (not its
        deletion), or it sent us one. Two index seeks; no payload is read."""
        return bool(self.conn.execute(
            "SELECT EXISTS (SELECT 1 FROM registrations WHERE peer = ? AND type = ? AND ref = ? "
            "AND kind = 'object') OR EXISTS (SELECT 1 FROM inbox WHERE peer = ? AND type = ? AND "
            "ref = ?)", (peer, type_name, ref) * 2).fetchone()[0])

    def types_of_ours(self, peer: str) -> frozenset[str]:
        """The types anything is registered for `peer` of, one index seek each (a million
        catalog registrations are a few types)."""
        return frozenset(distinct(self.conn, "type", "FROM registrations WHERE peer = ?", (peer,)))

    def resend(self, target: str, holder: str, types: Iterable[str]) -> int:
        """Point `target`'s registrations of `types` at what `holder` holds: its own copy, or
        the target's own version that we registered for the holder (the target lost it, in a
        restore, and gets it back). Returns how many changed."""
        from onecsync.state.inbox import InboxStatus  # inbox applies this module's rule

        types = list(types)
        # The target's version, where the holder holds ours and that row still carries it.
        to_ours = self.conn.execute(
            "SELECT t.id, i.id, i.kind FROM registrations t JOIN registrations r ON r.peer = ? "
            "AND r.type = t.type AND r.ref = t.ref JOIN inbox i ON i.id = r.inbox_id "
            f"WHERE t.peer = ? AND t.type IN ({marks(types)}) AND i.status = ? AND {_OURS} "
            "AND t.inbox_id != i.id", (holder, target, *types, InboxStatus.ROUTED)).fetchall()
        # The holder's own copy, where an earlier resend pointed at the target's own version
        # and the holder holds its own copy now.
        to_own = [(rid, own.row.id, own.row.kind) for rid, type_name, ref in self.conn.execute(
            "SELECT t.id, t.type, t.ref FROM registrations t JOIN inbox i ON i.id = t.inbox_id "
            f"WHERE t.peer = ? AND t.type IN ({marks(types)}) AND i.peer = t.peer", (target, *types))
            if (own := self.of(holder, type_name, ref)) is not None and own.own]
        moved = to_ours + to_own
        self.conn.executemany("UPDATE registrations SET inbox_id = ?, kind = ? WHERE id = ?",
                              [(inbox_id, kind, rid) for rid, inbox_id, kind in moved])
        # A mapped copy was made from the row it no longer names.
        self.conn.executemany("DELETE FROM registration_payloads WHERE registration_id = ?",
                              [(rid,) for rid, _, _ in moved])
        return len(moved)
