"""The inbox: every object a peer sent, its newest version, its status and what it links to.

Public API: `Inbox` (as `State.inbox`), `InboxStatus`, `StoredObject`, `Staged`, `StageCounts`,
`UNTAKEN`.

Staging is batched with prepared statements because a first exchange can carry a million
objects; routing reads them back a page at a time.
"""

from __future__ import annotations

import enum
from array import array
from dataclasses import dataclass
from dataclasses import field
from itertools import count
from typing import TYPE_CHECKING
from typing import Iterable
from typing import Iterator

from onecsync.state import held
from onecsync.state.firstfill import FirstFill
from onecsync.state.payloads import pack
from onecsync.state.payloads import unpack
from onecsync.state.table import Table
from onecsync.state.table import distinct
from onecsync.state.table import marks
from onecsync.state.table import now_text

if TYPE_CHECKING:
    from onecsync.protocol.reader import BodyObject

# Objects per executemany while staging: a few MB of payloads at a time.
BATCH = 500
# Rows read back for routing at a time: a first exchange must not be read into memory whole.
PAGE = 500
# The reason of a row set aside only because no flow took its type when it came.
UNTAKEN = "no flow takes its type"
# The reason of an invoice or order accounting made itself (flows/invoices.py): the one judgement
# that says an object is not the other base's (state/withdrawal.py reads it).
OWN_INVOICE = "not an invoice from the CRM"
# The reason of a version that lost a crossing (flows/route.py), and its LIKE pattern: the base
# imports the winner over it, so a copy of it that comes again is a new change, never a re-send.
SUPERSEDED = "superseded: the {target} base's version is on its way to the {source} base"
# A version from a base we sent the other base's deletion of it: the deletion wins the crossing.
DELETED_THERE = ("superseded: the {source} base is sent the {target} base's deletion of it, and "
                 "keeps its copy marked for deletion once it has imported it")
SUPERSEDED_LIKE = SUPERSEDED.partition(":")[0] + ":%"
UNTOLD = ("its organization {ref} is not among the organizations the {source} base has sent: held back until "
          "it is (it goes then if its ИНН is in {key})")  # named by Ссылка alone: flows/organizations.py
UNTOLD_LIKE = "its organization % is not among the organizations %"


class InboxStatus(enum.StrEnum):
    """Where an inbox row stands; the value is what the state stores."""

    STAGED = "staged"  # received, not routed yet
    PARKED = "parked"  # has a problem: kept, routed when the operator says so
    ROUTED = "routed"  # registered for the other base
    IGNORED = "ignored"  # kept, never routed (no flow takes it, or nothing to delete there)
    WAITING = "waiting"  # a document waiting for what it names to be forwarded first
    FILTERED = "filtered"  # a flow's rule holds it back
    ECHO = "echo"  # what we sent the peer, come back: not sent on again

    @property
    def literal(self) -> str:
        """As an SQL literal: partial indexes are used only for a status written in the query."""
        return f"'{self.value}'"


S = InboxStatus
# The statuses an unchanged copy keeps when 1C sends it again (see `Inbox.stage`).
_SETTLED = ", ".join(s.literal for s in (S.ROUTED, S.IGNORED, S.WAITING, S.FILTERED, S.ECHO))


# Is the incoming copy (`excluded`) 1C sending again what it sent before, because we have not
# confirmed it yet? Then it keeps the judgement it had (a first exchange re-sent is not routed
# again object by object). It is only if it is byte for byte the last version from that base,
# and the base has held nothing of ours since (it confirmed none that it has not overtaken:
# 1C writes an object as it is when it writes the message, so after an import an equal copy
# is an undo, a change), and that version did not lose a crossing (the base imported the
# winner over it: equal again, it is the change made again). Anything else is a new version,
# judged again by routing (whose echo check asks what the other base holds).
_RESENT = (f"(inbox.digest = excluded.digest AND inbox.status IN ({_SETTLED}) "
           f"AND coalesce(inbox.reason, '') NOT LIKE '{SUPERSEDED_LIKE}' "
           f"AND NOT {held.CONFIRMED_OURS_SQL})")


@dataclass(frozen=True)
class StoredObject:
    """An object as the state holds it, payload unpacked: its row's id (inbox or registration),
    type, Ссылка, kind (object or delete), the format version and the XML in that version."""

    id: int
    type: str
    ref: str
    kind: str
    version: str
    xml: bytes


@dataclass(frozen=True)
class Staged(StoredObject):
    """An inbox row as routing sees it."""

    @classmethod
    def of(cls, row: tuple) -> Staged:
        """From (id, type, ref, kind, version, deflated payload)."""
        return cls(row[0], row[1], row[2], row[3], row[4], unpack(row[5]))


# The columns `Staged.of` takes, for a query over `inbox i JOIN inbox_payloads p`.
_STAGED = "i.id, i.type, i.ref, i.kind, i.version, p.xml"


@dataclass
class StageCounts:
    objects: int = 0
    deletions: int = 0
    parked: int = 0
    parked_items: list = field(default_factory=list)  # (type, ref, line, why), the first 100


# A new inbox row (staging upserts it: see `Inbox.stage`).
_ADD = ("INSERT INTO inbox (peer, type, ref, kind, message_no, version, digest, status, reason, "
        f"line, updated_at, number, date, inn, staging) VALUES ({marks(range(15))})")
# 1C skips the deletions of what the same message imported (XS ApplyObjectsDeletion; review R7
# M2); `IS`, since an older row's NULL staging is none of ours (`=` kept it for good: R9).
_KEPT = "excluded.kind = 'delete' AND inbox.kind = 'object' AND inbox.staging IS excluded.staging"
# A payload, for the inbox row whose id is given, or (for a row just made or an older
# version's) looked up by the unique index if the row is of the payload's kind (a deletion
# skipped for its object leaves the object's).
_PAYLOAD = "INSERT INTO inbox_payloads (inbox_id, xml) {} ON CONFLICT (inbox_id) DO UPDATE SET xml = excluded.xml"
_PAYLOAD_BY_ID = _PAYLOAD.format("VALUES (?, ?)")
_PAYLOAD_BY_KEY = _PAYLOAD.format("SELECT id, ? FROM inbox WHERE peer = ? AND type = ? AND ref = ? AND kind = ?")
# A row whose reason is not LIKE the parameter (given twice); NULL: any row.
_UNLESS = "(? IS NULL OR coalesce(reason, '') NOT LIKE ?)"


class Inbox(Table):
    # -- receiving ----------------------------------------------------------------------
    def stage(self, peer: str, message_no: int | None, version: str | None,
              objects: Iterable[BodyObject]) -> StageCounts:
        """Keep the newest version of each object; objects with a problem are parked."""
        counts = StageCounts()
        sql = (
            f"{_ADD} ON CONFLICT (peer, type, ref) DO UPDATE SET kind = excluded.kind, "
            "message_no = excluded.message_no, version = excluded.version, "
            "digest = excluded.digest, "
            # A re-send keeps its judgement, and the reason said for it (`trace` shows it).
            f"reason = CASE WHEN {_RESENT} THEN inbox.reason ELSE excluded.reason END, "
            f"status = CASE WHEN {_RESENT} THEN inbox.status ELSE excluded.status END, "
            "line = excluded.line, updated_at = excluded.updated_at, "
            # a deletion names no number: the object is still found by the one it had
            "number = coalesce(excluded.number, inbox.number), "
            "date = coalesce(excluded.date, inbox.date), inn = coalesce(excluded.inn, inbox.inn), "
            f"staging = excluded.staging WHERE NOT ({_KEPT})")
        batch: list[tuple] = []
        payloads: list[tuple] = []
        with self._state.atomic():  # an error rolls what FirstFill dropped back with the rows
            stamp = now_text(), int(self._state.meta.get("stagings") or 0) + 1  # when, and which
            self._state.meta.set("stagings", str(stamp[1]))
            fill = FirstFill.start(self._state)
            self._stage_all(objects, counts, sql, batch, payloads, peer, message_no,
                            version, stamp, self._state.held.types_of_ours(peer), fill)
            if fill is not None:
                fill.finish()
        return counts

    def _stage_all(self, objects: Iterable[BodyObject], counts: StageCounts, sql: str, batch: list,
                   payloads: list, peer: str, message_no: int | None, version: str | None,
                   stamp: tuple[str, int], ours: frozenset[str], fill: FirstFill | None) -> None:
        for obj in objects:
            if obj.problem:
                counts.parked += 1
                status = S.PARKED.value
                if len(counts.parked_items) < 100:
                    counts.parked_items.append((obj.type, obj.ref, obj.line, obj.problem))
            else:
                status = S.STAGED.value
                counts.deletions += obj.kind == "delete"
                counts.objects += obj.kind != "delete"
            batch.append((peer, obj.type, obj.ref, obj.kind, message_no, version,
                          obj.digest, status, obj.problem, obj.line, stamp[0], obj.number,
                          obj.date, obj.inn, stamp[1]))
            payloads.append((peer, obj.type, obj.ref, obj.kind, obj.xml))
            if len(batch) >= BATCH:
                self._stage_batch(sql, batch, payloads, ours, fill)
        if batch:
            self._stage_batch(sql, batch, payloads, ours, fill)

    def _stage_batch(self, sql: str, batch: list, payloads: list, ours: frozenset[str], fill: FirstFill | None) -> None:
        first = None
        if fill is None:
            self.conn.executemany(sql, batch)
        else:
            first = fill.rows(lambda: self.conn.executemany(_ADD, batch),
                              lambda: self.conn.executemany(sql, batch), len(batch))
        # What the base sends is what it holds now, over what we delivered and it confirmed:
        # looked up only for the types it holds some of ours of (a first exchange: none).
        self.conn.executemany(held.OVERTAKE_SQL, ((p, t, r) for p, t, r, *_ in payloads if t in ours))
        # Deflated a batch at a time, not as each object is parsed: interleaved with the parser,
        # deflate's window and the parser's tree evict each other from the cache.
        if first is None:
            self.conn.executemany(_PAYLOAD_BY_KEY, ((pack(xml), p, t, r, k) for p, t, r, k, xml in payloads))
        else:  # the batch's rows are the ids from `first` on, in order: none looked up
            self.conn.executemany(_PAYLOAD_BY_ID, zip(count(first), (pack(xml) for *_, xml in payloads)))
        batch.clear()
        payloads.clear()

    # -- routing ------------------------------------------------------------------------
    def staged(self, source: str, types: Iterable[str]) -> Iterator[Staged]:
        """Staged rows of `types` from `source`."""
        return self._staged(source, list(types), "", ())

    def needs_a_look(self, source: str, target: str, types: Iterable[str],
                     mapped: Iterable[str], objects: bool) -> Iterator[Staged]:
        """Staged rows of `types` from `source` that a bulk registration for `target` must not
        take blindly: those `target` sent too (an echo, or versions crossing), those parked
        before and retried, those of the `mapped` types, and every object when `objects` (an
        organization filter looks at each)."""
        clauses = ["EXISTS (SELECT 1 FROM inbox t WHERE t.peer = ? AND t.type = s.type AND t.ref = s.ref)",
                   "s.reason IS NOT NULL"]  # parked before and retried: check it again
        params: list = [target]
        mapped = list(mapped)
        if mapped:
            clauses.append(f"s.type IN ({marks(mapped)})")
            params += mapped
        if objects:
            clauses.append("s.kind = 'object'")
        return self._staged(source, list(types), " OR ".join(clauses), tuple(params))

    def _staged(self, source: str, types: list[str], special: str, params: tuple) -> Iterator[Staged]:
        if not types:
            return iter(())
        extra = f" AND ({special})" if special else ""
        return self._by_ids(
            "SELECT s.id FROM inbox s "
            f"WHERE s.peer = ? AND s.status = {S.STAGED.literal} AND s.type IN ({marks(types)})"
            f"{extra} ORDER BY s.id",
            (source, *types, *params))

    def waiting(self, source: str, types: Iterable[str]) -> Iterator[Staged]:
        types = list(types)
        return self._by_ids(
            f"SELECT id FROM inbox WHERE peer = ? AND status = {S.WAITING.literal} "
            f"AND type IN ({marks(types)}) ORDER BY id", (source, *types))

    def _by_ids(self, sql: str, params: tuple) -> Iterator[Staged]:
        """The rows whose ids `sql` selects, as they were when it ran, a page at a time.

        Only the ids are held (8 bytes each), never the payloads of a whole first exchange; and
        the caller may change the rows' status as it goes, since each page is a query of its own.
        """
        ids = array("q", (r[0] for r in self.conn.execute(sql, params)))
        return self.rows(ids)

    def rows(self, ids: Iterable[int]) -> Iterator[Staged]:
        """The inbox rows with these ids, in that order, a page at a time."""
        ids = ids if isinstance(ids, (list, array)) else list(ids)
        for start in range(0, len(ids), PAGE):
            page = ids[start:start + PAGE]
            cur = self.conn.execute(
                f"SELECT {_STAGED} FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id "
                f"WHERE i.id IN ({marks(page)})", tuple(page))
            found = {row[0]: row for row in cur}
            yield from (Staged.of(found[i]) for i in page if i in found)

    def set_status(self, inbox_id: int, status: InboxStatus, reason: str | None = None) -> None:
        self.conn.execute("UPDATE inbox SET status = ?, reason = ? WHERE id = ?",
                          (status, reason, inbox_id))

    def copy_of(self, peer: str, type_name: str, ref: str) -> Staged | None:
        row = self.conn.execute(
            f"SELECT {_STAGED} FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id "
            "WHERE i.peer = ? AND i.type = ? AND i.ref = ?", (peer, type_name, ref)).fetchone()
        return Staged.of(row) if row else None

    def objects_of(self, peer: str, type_name: str) -> Iterator[tuple[str, bytes]]:
        """(version, xml) of every object of a type the peer sent (a few: organizations)."""
        return iter([(version, unpack(xml)) for version, xml in self.conn.execute(
            "SELECT i.version, p.xml FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id "
            "WHERE i.peer = ? AND i.type = ? AND i.kind = 'object'", (peer, type_name))])

    def count_status(self, peer: str, status: InboxStatus, types: Iterable[str]) -> int:
        types = list(types)
        return self.conn.execute(
            f"SELECT count(*) FROM inbox WHERE peer = ? AND status = ? AND type IN ({marks(types)})",
            (peer, status, *types)).fetchone()[0]

    def count_by_type(self, peer: str, status: InboxStatus, types: Iterable[str],
                      unless: str | None = None) -> dict[str, int]:
        """Rows of each of `types` from `peer` in `status` (but those with a reason LIKE
        `unless`), by type in order (none: not there)."""
        types = list(types)
        return dict(self.conn.execute(
            f"SELECT type, count(*) FROM inbox WHERE peer = ? AND status = {status.literal} "
            f"AND {_UNLESS} AND type IN ({marks(types)}) GROUP BY type ORDER BY type",
            (peer, unless, unless, *types)).fetchall())

    def count_by_reason(self, peer: str, status: InboxStatus, types: Iterable[str], like: str) -> list:
        """(reason, rows) of `types` from `peer` in `status` whose reason is LIKE `like`."""
        types = list(types)
        return self.conn.execute(
            f"SELECT reason, count(*) FROM inbox WHERE peer = ? AND status = {status.literal} AND "
            f"reason LIKE ? AND type IN ({marks(types)}) GROUP BY reason ORDER BY reason",
            (peer, like, *types)).fetchall()

    def restage(self, source: str, types: Iterable[str], status: InboxStatus, reason: str = "%",
                unless: str | None = None) -> int:
        """Rows of `types` from `source` in `status` (with a reason LIKE `reason`, and not LIKE
        `unless`) are routed again by the next run: the config that judged them has changed.
        Their reason stays, so that each is looked at one by one again (`needs_a_look`)."""
        types = list(types)
        if not types:
            return 0
        return self.conn.execute(
            f"UPDATE inbox SET status = {S.STAGED.literal} WHERE peer = ? AND status = ? AND "
            f"coalesce(reason, '') LIKE ? AND {_UNLESS} AND type IN ({marks(types)})",
            (source, status, reason, unless, unless, *types)).rowcount

    def parked(self) -> list[tuple[str, str, str, str]]:
        """(peer, type, Ссылка, reason) of every parked row, in the order received."""
        return self.conn.execute(
            f"SELECT peer, type, ref, reason FROM inbox WHERE status = {S.PARKED.literal} "
            "ORDER BY id").fetchall()

    def orphans(self, source: str, before: str, invoice_types: Iterable[str]) -> list[tuple[str, str, str]]:
        """(type, Ссылка, the first Ссылка it names) of documents from `source` waiting since
        before `before` for something that neither the invoices nor `source`'s own invoices
        (`invoice_types`) hold."""
        invoice_types = list(invoice_types)
        return self.conn.execute(
            "SELECT w.type, w.ref, min(l.ref) FROM inbox w JOIN inbox_links l ON l.inbox_id = w.id "
            f"WHERE w.peer = ? AND w.status = {S.WAITING.literal} AND w.updated_at < ? "
            "AND l.ref NOT IN (SELECT ref FROM invoices) "
            f"AND l.ref NOT IN (SELECT ref FROM inbox WHERE peer = ? AND type IN ({marks(invoice_types)})) "
            "GROUP BY w.id ORDER BY w.id", (source, before, source, *invoice_types)).fetchall()

    def ignore_other_types(self, source: str, wanted: Iterable[str]) -> int:
        """Objects of types no flow takes from `source` are kept but never routed."""
        unwanted = [t for t in self.staged_types(source) if t not in set(wanted)]
        if not unwanted:
            return 0
        cur = self.conn.execute(
            f"UPDATE inbox SET status = {S.IGNORED.literal}, reason = ? WHERE peer = ? "
            f"AND status = {S.STAGED.literal} AND type IN ({marks(unwanted)})",
            (UNTAKEN, source, *unwanted))
        return cur.rowcount

    def restage_untaken(self, source: str, wanted: Iterable[str]) -> int:
        """Objects set aside because no flow took their type, of a type some flow takes now.

        States from before UNTAKEN was written hold them as ignored objects with no reason
        (every other ignored object has one, or is a deletion)."""
        wanted = list(wanted)
        if not wanted:
            return 0
        return self.conn.execute(
            f"UPDATE inbox SET status = {S.STAGED.literal}, reason = NULL WHERE peer = ? AND "
            f"status = {S.IGNORED.literal} AND (reason = ? OR reason IS NULL AND kind = 'object') "
            f"AND type IN ({marks(wanted)})", (source, UNTAKEN, *wanted)).rowcount

    def staged_types(self, source: str) -> list[str]:
        """The distinct types of staged rows, one index seek each.

        Documents that another flow has still to route may be staged by the hundred thousand;
        a run of one flow must not walk through them to find that there is nothing to do.
        """
        return distinct(self.conn, "type", f"FROM inbox WHERE peer = ? AND status = "
                        f"{S.STAGED.literal}", (source,))

    # -- links --------------------------------------------------------------------------
    def set_links(self, inbox_id: int, refs: Iterable[str]) -> None:
        self.conn.execute("DELETE FROM inbox_links WHERE inbox_id = ?", (inbox_id,))
        self.conn.executemany("INSERT OR IGNORE INTO inbox_links (inbox_id, ref) VALUES (?, ?)",
                              [(inbox_id, r) for r in refs])

    def link_waiting(self, source: str, target: str, types: Iterable[str],
                     forwarded: Iterable[str]) -> list[int]:
        """Ids of waiting documents of `types` that name a CRM invoice or a document of
        `forwarded` already forwarded (whatever today's `types`: a sale forwarded before the
        admin took sales out of the flow still links its return).

        Run to a fixpoint by the caller: forwarding a sale can link its return and its payment.
        """
        types, forwarded = list(types), list(forwarded)
        in_types = marks(types)
        # Driven from the invoices and forwarded documents, through inbox_links_ref: the
        # waiting documents (most of an accounting base's payments and sales) may be many more,
        # and this runs on every run.
        cur = self.conn.execute(
            "SELECT DISTINCT w.id FROM inbox_links l CROSS JOIN inbox w ON w.id = l.inbox_id "
            "WHERE l.ref IN (SELECT ref FROM invoices UNION ALL SELECT ref FROM registrations "
            f"WHERE peer = ? AND kind = 'object' AND type IN ({marks(forwarded)})) "
            f"AND w.peer = ? AND w.status = {S.WAITING.literal} AND w.type IN ({in_types}) "
            "ORDER BY w.id",
            (target, *forwarded, source, *types))
        return [r[0] for r in cur]
