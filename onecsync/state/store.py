"""Typed access to the state file: peers' numbers, the inbox, registrations, the run journal.

Public API: `State` (open with `open_state`), `PeerState`, `Pending`.

The only module that writes SQL. Writes that belong together go through `State.atomic()`, so a
crash leaves either all of them or none; staging is batched with prepared statements because a
first exchange can carry a million objects.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import json
import sqlite3
from array import array
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from typing import TYPE_CHECKING
from typing import Iterable
from typing import Iterator

from onecsync.errors import StateError
from onecsync.i18n import N_
from onecsync.protocol.limits import TOO_LARGE
from onecsync.state.failures import sqlite_failure
from onecsync.state.payloads import pack
from onecsync.state.payloads import unpack

if TYPE_CHECKING:
    from sqlite_utils import Database

    from onecsync.protocol.reader import BodyObject

# Objects per executemany while staging: a few MB of payloads at a time.
BATCH = 500
# Rows read back for routing at a time: a first exchange must not be read into memory whole.
PAGE = 500
# Ids per bulk statement over a range (see _in_id_ranges).
CHUNK = 20000
_SAVEPOINTS = itertools.count()
# The run journal keeps this many runs or days, whichever keeps less.
KEEP_RUNS = 10000
KEEP_RUN_DAYS = 30
# What the journal says of a run that never got to say how it ended.
DIED = N_("died: ended without a word (killed with SIGKILL, out of memory, or the machine stopped)")


def now_text() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# The reason of a row set aside only because no flow took its type when it came.
UNTAKEN = "no flow takes its type"

@dataclass(frozen=True)
class PeerState:
    name: str
    code: str
    sent_no: int = 0
    received_no: int = 0
    confirmed_no: int = 0
    versions: tuple[str, ...] | None = None
    format_version: str | None = None
    object_types: list | None = None
    prefix: str | None = None
    last_received_at: str | None = None
    last_sent_at: str | None = None
    received_created: str | None = None
    in_fingerprint: str | None = None
    out_no: int | None = None
    out_received_no: int | None = None
    out_fingerprint: str | None = None


_PEER_COLUMNS = tuple(f.name for f in fields(PeerState))
_JSON_COLUMNS = ("versions", "object_types")


@dataclass(frozen=True)
class Pending:
    """One registration ready to be written: its payload and the version it is written in."""

    id: int
    type: str
    ref: str
    kind: str
    version: str
    xml: bytes
    message_no: int | None
    mapped: bool = False

    @classmethod
    def of(cls, row: tuple) -> Pending:
        """From a row of `State.pending`, its payload still deflated, and the digest the reader
        took of the object 1C sent (None for a mapped copy, which is checked when converted).

        Such an object goes out as it is stored, parsed by no one: a payload that is not what
        was received (an edited or damaged state) must not reach the base as if it were."""
        pending = cls(*row[:5], unpack(row[5]), *row[6:8])
        digest = row[8]
        if digest is not None and hashlib.sha256(pending.xml).hexdigest()[:32] != digest:
            raise StateError(f"the stored copy of {pending.type} {pending.ref} is not the object "
                             "that was received (its digest differs)",
                             remedy="restore the state file from a backup")
        return pending


@dataclass(frozen=True)
class Staged:
    """An inbox row as routing sees it."""

    id: int
    type: str
    ref: str
    kind: str
    version: str
    xml: bytes

    @classmethod
    def of(cls, row: tuple) -> Staged:
        """From (id, type, ref, kind, version, deflated payload)."""
        return cls(*row[:5], unpack(row[5]))


# The columns `Staged.of` takes, for a query over `inbox i JOIN inbox_payloads p`.
_STAGED = "i.id, i.type, i.ref, i.kind, i.version, p.xml"


@dataclass
class StageCounts:
    objects: int = 0
    deletions: int = 0
    parked: int = 0
    parked_items: list = field(default_factory=list)  # (type, ref, line, why), the first 100


class State:
    def __init__(self, conn: sqlite3.Connection | Database, path: str) -> None:
        # A sqlite-utils Database is taken too: its connection is what is used.
        self.conn: sqlite3.Connection = getattr(conn, "conn", conn)
        self.path = path

    @property
    def db(self) -> Database:
        """The connection seen through sqlite-utils, imported on first use (start-up stays light)."""
        from sqlite_utils import Database

        return Database(self.conn, execute_plugins=False)

    # -- transactions -------------------------------------------------------------------
    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """One transaction, or a savepoint inside one: everything in it commits, or nothing."""
        if self.conn.in_transaction:
            name = f"onecsync_{next(_SAVEPOINTS)}"
            self.conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                if self.conn.in_transaction:  # an error may have ended the transaction already
                    self.conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    self.conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            self.conn.execute(f"RELEASE SAVEPOINT {name}")
            return
        self.conn.execute("BEGIN")
        try:
            yield
            self.conn.execute("COMMIT")
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise

    # -- peers --------------------------------------------------------------------------
    def ensure_peer(self, name: str, code: str) -> PeerState:
        row = self.conn.execute("SELECT code, sent_no + received_no + confirmed_no FROM peers "
                                "WHERE name = ?", (name,)).fetchone()
        if row is None:
            with self.atomic():
                self.conn.execute("INSERT INTO peers (name, code) VALUES (?, ?)", (name, code))
        elif row[0] != code and not row[1]:
            # No message ever went either way under the old code: a code the admin has just
            # corrected (after run or check said it was wrong), not another base's state.
            with self.atomic():
                self.conn.execute("UPDATE peers SET code = ? WHERE name = ?", (code, name))
        elif row[0] != code:
            raise StateError(
                f"state file {self.path} belongs to a {name} base with code {row[0]}, "
                f"but the config names {code}",
                remedy="use the state file of this base, or restore the old code in the config")
        return self.peer(name)

    def peer(self, name: str) -> PeerState:
        cur = self.conn.execute(f"SELECT {', '.join(_PEER_COLUMNS)} FROM peers WHERE name = ?",
                                (name,))
        row = cur.fetchone()
        if row is None:
            raise KeyError(name)
        values = dict(zip(_PEER_COLUMNS, row, strict=True))
        for col in _JSON_COLUMNS:
            if values[col] is not None:
                values[col] = json.loads(values[col])
        if values["versions"] is not None:
            values["versions"] = tuple(values["versions"])
        return PeerState(**values)

    def peers(self) -> list[PeerState]:
        names = [r[0] for r in self.conn.execute("SELECT name FROM peers ORDER BY name")]
        return [self.peer(n) for n in names]

    def update_peer(self, name: str, **values) -> None:
        unknown = set(values) - set(_PEER_COLUMNS)
        if unknown:
            raise ValueError(f"unknown peer columns {unknown}")
        for col in _JSON_COLUMNS:
            if col in values and values[col] is not None:
                values[col] = json.dumps(list(values[col]), ensure_ascii=False)
        sets = ", ".join(f"{k} = ?" for k in values)
        self.conn.execute(f"UPDATE peers SET {sets} WHERE name = ?", (*values.values(), name))

    # -- receiving ----------------------------------------------------------------------
    def confirm(self, peer: str, upto: int) -> int:
        """The peer holds everything we stamped up to `upto`: those are no longer pending."""
        where = "peer = ? AND confirmed_no IS NULL AND message_no IS NOT NULL AND message_no <= ?"
        stamp = now_text()
        return self._in_id_ranges(
            f"SELECT min(id), max(id) FROM registrations WHERE {where}", (peer, upto),
            lambda lo, hi: self.conn.execute(
                f"UPDATE registrations SET confirmed_no = ?, confirmed_at = ? WHERE {where} "
                "AND id >= ? AND id < ?", (upto, stamp, peer, upto, lo, hi)).rowcount)

    def _in_id_ranges(self, span_sql: str, params: tuple, apply) -> int:
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
        pending again, to be sent in full."""
        # A new obligation: its clock (what `reconcile` calls stuck) starts now, not when the
        # object was first registered, or every object a restored base lost is "stuck" at once.
        cur = self.conn.execute(
            "UPDATE registrations SET confirmed_no = NULL, message_no = NULL, stamped_at = NULL, "
            "confirmed_at = NULL, registered_at = ? "
            "WHERE peer = ? AND confirmed_no IS NOT NULL AND message_no > ?",
            (now_text(), peer, received_no))
        return cur.rowcount

    def stage(self, peer: str, message_no: int | None, version: str,
              objects: Iterable[BodyObject]) -> StageCounts:
        """Keep the newest version of each object; objects with a problem are parked."""
        counts = StageCounts()
        sql = (
            "INSERT INTO inbox (peer, type, ref, kind, message_no, version, digest, status,"
            " reason, line, updated_at, number, date, inn) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (peer, type, ref) DO UPDATE SET kind = excluded.kind, "
            "message_no = excluded.message_no, version = excluded.version, "
            "digest = excluded.digest, reason = excluded.reason, "
            # 1C re-sends what we have not confirmed yet: an unchanged copy of an object that
            # was already routed must not be routed (and sent on) again.
            "status = CASE WHEN inbox.digest = excluded.digest AND inbox.status IN "
            "('routed', 'ignored', 'waiting', 'filtered', 'echo') THEN inbox.status "
            "ELSE excluded.status END, "
            "line = excluded.line, updated_at = excluded.updated_at, "
            # a deletion names no number: the object is still found by the one it had
            "number = coalesce(excluded.number, inbox.number), "
            "date = coalesce(excluded.date, inbox.date), inn = coalesce(excluded.inn, inbox.inn)")
        # The row's id, whether it was just made or is an older version's, by the unique index.
        payload_sql = (
            "INSERT INTO inbox_payloads (inbox_id, xml) VALUES ((SELECT id FROM inbox WHERE "
            "peer = ? AND type = ? AND ref = ?), ?) ON CONFLICT (inbox_id) DO UPDATE SET xml = "
            "excluded.xml")
        stamp = now_text()
        batch, payloads = [], []
        for obj in objects:
            if obj.problem:
                counts.parked += 1
                status = "parked"
                if len(counts.parked_items) < 100:
                    counts.parked_items.append((obj.type, obj.ref, obj.line, obj.problem))
            else:
                status = "staged"
                if obj.kind == "delete":
                    counts.deletions += 1
                else:
                    counts.objects += 1
            batch.append((peer, obj.type, obj.ref, obj.kind, message_no, version,
                          obj.digest, status, obj.problem, obj.line, stamp, obj.number,
                          obj.date, obj.inn))
            payloads.append((peer, obj.type, obj.ref, pack(obj.xml)))
            if len(batch) >= BATCH:
                self._stage_batch(sql, batch, payload_sql, payloads)
        if batch:
            self._stage_batch(sql, batch, payload_sql, payloads)
        return counts

    def _stage_batch(self, sql: str, batch: list, payload_sql: str, payloads: list) -> None:
        self.conn.executemany(sql, batch)
        self.conn.executemany(payload_sql, payloads)
        batch.clear()
        payloads.clear()

    # -- routing ------------------------------------------------------------------------
    def staged(self, source: str, types: Iterable[str], *, special: str | None = None,
               params: tuple = ()) -> Iterator[Staged]:
        """Staged rows of `types` from `source` (optionally only those matching `special`)."""
        types = list(types)
        if not types:
            return iter(())
        marks = ", ".join("?" for _ in types)
        extra = f" AND ({special})" if special else ""
        return self._by_ids(
            "SELECT s.id FROM inbox s "
            f"WHERE s.peer = ? AND s.status = 'staged' AND s.type IN ({marks}){extra} ORDER BY s.id",
            (source, *types, *params))

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
                f"WHERE i.id IN ({', '.join('?' for _ in page)})", tuple(page))
            found = {row[0]: row for row in cur}
            yield from (Staged.of(found[i]) for i in page if i in found)

    def set_status(self, inbox_id: int, status: str, reason: str | None = None) -> None:
        self.conn.execute("UPDATE inbox SET status = ?, reason = ? WHERE id = ?",
                          (status, reason, inbox_id))

    def copy_of(self, peer: str, type_name: str, ref: str) -> Staged | None:
        row = self.conn.execute(
            f"SELECT {_STAGED} FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id "
            "WHERE i.peer = ? AND i.type = ? AND i.ref = ?", (peer, type_name, ref)).fetchone()
        return Staged.of(row) if row else None

    def was_registered(self, peer: str, type_name: str, ref: str) -> bool:
        return self.conn.execute(
            "SELECT 1 FROM registrations WHERE peer = ? AND type = ? AND ref = ?",
            (peer, type_name, ref)).fetchone() is not None

    def owed(self, peer: str, type_name: str, ref: str) -> bool:
        """Is a version of this object registered for `peer` and not yet confirmed by it?"""
        return self.conn.execute(
            "SELECT 1 FROM registrations WHERE peer = ? AND type = ? AND ref = ? "
            "AND confirmed_no IS NULL AND parked IS NULL", (peer, type_name, ref)).fetchone() is not None

    def unconfirmed(self, peer: str) -> set[tuple[str, str]]:
        """(type, Ссылка) of every object registered for `peer` that it has not confirmed."""
        return set(self.conn.execute(
            "SELECT type, ref FROM registrations WHERE peer = ? AND confirmed_no IS NULL", (peer,)))

    def register_one(self, target: str, row: Staged, xml: bytes | None = None) -> None:
        """Register one inbox object for `target` (`xml`: its payload after the mapping)."""
        [rid] = self.conn.execute(
            "INSERT INTO registrations (peer, type, ref, kind, inbox_id, message_no, registered_at) "
            "VALUES (?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (peer, type, ref) DO UPDATE SET "
            "kind = excluded.kind, inbox_id = excluded.inbox_id, message_no = NULL, "
            "confirmed_no = NULL, parked = NULL, stamped_at = NULL, confirmed_at = NULL, "
            "registered_at = excluded.registered_at RETURNING id",
            (target, row.type, row.ref, row.kind, row.id, now_text())).fetchone()
        if xml is None:
            self.conn.execute("DELETE FROM registration_payloads WHERE registration_id = ?", (rid,))
        else:
            self.conn.execute(
                "INSERT INTO registration_payloads (registration_id, xml) VALUES (?, ?) "
                "ON CONFLICT (registration_id) DO UPDATE SET xml = excluded.xml", (rid, pack(xml)))
        self.set_status(row.id, "routed")

    def register(self, source: str, target: str, types: Iterable[str]) -> int:
        """Register every staged object of `types` from `source` for `target`, in bulk.

        Deletions go only where the object itself went: a base is never told to delete what
        we never sent it. A new version replaces an older registration and clears its stamp: the
        peer must get it again even if it confirms the message that carried the older one.
        """
        types = list(types)
        if not types:
            return 0
        marks = ", ".join("?" for _ in types)
        where = (f"peer = ? AND status = 'staged' AND type IN ({marks}) AND (kind = 'object' OR EXISTS "
                 "(SELECT 1 FROM registrations r WHERE r.peer = ? AND r.type = inbox.type "
                 "AND r.ref = inbox.ref))")
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
                "parked = NULL, stamped_at = NULL, confirmed_at = NULL, "
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
            self.conn.execute(f"UPDATE inbox SET status = 'routed' WHERE {where} AND id >= ? AND id < ?",
                              (source, *types, target, lo, hi))
            return count


        count = self._in_id_ranges(
            f"SELECT min(id), max(id) FROM inbox WHERE peer = ? AND status = 'staged' AND type IN ({marks})",
            (source, *types), register_range)
        # What is left is a deletion of something the target never got.
        self.conn.execute(
            f"UPDATE inbox SET status = 'ignored' WHERE peer = ? AND status = 'staged' "
            f"AND type IN ({marks}) AND kind = 'delete'", (source, *types))
        return count

    def objects_of(self, peer: str, type_name: str) -> Iterator[tuple[str, bytes]]:
        """(version, xml) of every object of a type the peer sent (a few: organizations)."""
        return iter([(version, unpack(xml)) for version, xml in self.conn.execute(
            "SELECT i.version, p.xml FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id "
            "WHERE i.peer = ? AND i.type = ? AND i.kind = 'object'", (peer, type_name))])

    def ignore_other_types(self, source: str, wanted: Iterable[str]) -> int:
        """Objects of types no flow takes from `source` are kept but never routed."""
        unwanted = [t for t in self._staged_types(source) if t not in set(wanted)]
        if not unwanted:
            return 0
        cur = self.conn.execute(
            f"UPDATE inbox SET status = 'ignored', reason = ? WHERE peer = ? AND status = 'staged' "
            f"AND type IN ({', '.join('?' for _ in unwanted)})", (UNTAKEN, source, *unwanted))
        return cur.rowcount

    def restage_untaken(self, source: str, wanted: Iterable[str]) -> int:
        """Objects set aside because no flow took their type, of a type some flow takes now.

        States from before UNTAKEN was written hold them as ignored objects with no reason
        (every other ignored object has one, or is a deletion)."""
        wanted = list(wanted)
        if not wanted:
            return 0
        return self.conn.execute(
            f"UPDATE inbox SET status = 'staged', reason = NULL WHERE peer = ? AND status = "
            f"'ignored' AND (reason = ? OR reason IS NULL AND kind = 'object') "
            f"AND type IN ({', '.join('?' for _ in wanted)})", (source, UNTAKEN, *wanted)).rowcount

    def _staged_types(self, source: str) -> list[str]:
        """The distinct types of staged rows, one index seek each.

        Documents that another flow has still to route may be staged by the hundred thousand;
        a run of one flow must not walk through them to find that there is nothing to do.
        """
        types: list[str] = []
        while True:
            row = self.conn.execute(
                "SELECT type FROM inbox WHERE peer = ? AND status = 'staged' AND type > ? "
                "ORDER BY type LIMIT 1", (source, types[-1] if types else "")).fetchone()
            if row is None:
                return types
            types.append(row[0])

    # -- the invoice registry and links ----------------------------------------------------
    def upsert_invoice(self, ref: str, type_name: str, fields: dict) -> None:
        stamp = now_text()
        self.conn.execute(
            "INSERT INTO invoices (ref, type, number, date, counterparty_ref, counterparty, amount, "
            "currency, deleted, first_seen, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?) "
            "ON CONFLICT (ref) DO UPDATE SET number = excluded.number, date = excluded.date, "
            "counterparty_ref = excluded.counterparty_ref, counterparty = excluded.counterparty, "
            "amount = excluded.amount, currency = excluded.currency, deleted = 0, "
            "updated_at = excluded.updated_at",
            (ref, type_name, fields.get("number"), fields.get("date"), fields.get("counterparty_ref"),
             fields.get("counterparty"), fields.get("amount"), fields.get("currency"), stamp, stamp))

    def mark_invoice_deleted(self, ref: str) -> None:
        self.conn.execute("UPDATE invoices SET deleted = 1, updated_at = ? WHERE ref = ?",
                          (now_text(), ref))

    def is_invoice(self, ref: str) -> bool:
        return self.conn.execute("SELECT 1 FROM invoices WHERE ref = ?", (ref,)).fetchone() is not None

    def invoices(self) -> list[dict]:
        cur = self.conn.execute("SELECT * FROM invoices ORDER BY first_seen, ref")
        cols = [d[0] for d in cur.description]
        return [dict(zip(cols, row, strict=True)) for row in cur]

    def set_links(self, inbox_id: int, refs: Iterable[str]) -> None:
        self.conn.execute("DELETE FROM inbox_links WHERE inbox_id = ?", (inbox_id,))
        self.conn.executemany("INSERT OR IGNORE INTO inbox_links (inbox_id, ref) VALUES (?, ?)",
                              [(inbox_id, r) for r in refs])

    def link_waiting(self, source: str, target: str, types: Iterable[str]) -> list[int]:
        """Ids of waiting documents that name a CRM invoice or a document already forwarded.

        Run to a fixpoint by the caller: forwarding a sale can link its return and its payment.
        """
        types = list(types)
        marks = ", ".join("?" for _ in types)
        # Driven from the invoices and forwarded documents, through inbox_links_ref: the
        # waiting documents (most of an accounting base's payments and sales) may be many more,
        # and this runs on every run.
        cur = self.conn.execute(
            "SELECT DISTINCT w.id FROM inbox_links l CROSS JOIN inbox w ON w.id = l.inbox_id "
            "WHERE l.ref IN (SELECT ref FROM invoices UNION ALL SELECT ref FROM registrations "
            f"WHERE peer = ? AND kind = 'object' AND type IN ({marks})) "
            f"AND w.peer = ? AND w.status = 'waiting' AND w.type IN ({marks}) ORDER BY w.id",
            (target, *types, source, *types))
        return [r[0] for r in cur]

    def ensure_node(self, code: str, plan: str) -> None:
        """The state belongs to one node of one exchange plan: made under another node code,
        its numbers and registrations are another node's, and every real message of the
        bases would be skipped as "received earlier". A state from before this was recorded
        adopts the config's on its first run."""
        if (wrong := self.other_node(code, plan)) is not None:
            raise wrong
        with self.atomic():
            for key, value in (("node_code", code), ("exchange_plan", plan)):
                if self.meta(key) != value:
                    self.set_meta(key, value)

    def _exchanged(self) -> bool:
        """Has any message gone either way? Until then a code is the admin's to correct."""
        return bool(self.conn.execute(
            "SELECT coalesce(sum(sent_no + received_no + confirmed_no), 0) FROM peers").fetchone()[0])

    def other_node(self, code: str, plan: str) -> StateError | None:
        """Why this state is not the config's node's (see `ensure_node`), or None."""
        for key, value, config_key in (("node_code", code, "node.code"),
                                       ("exchange_plan", plan, "node.exchange_plan")):
            held = self.meta(key)
            if held is not None and held != value and self._exchanged():
                return StateError(
                    f"state file {self.path} was made for {config_key} {held}, but the config "
                    f"names {value}",
                    remedy=f"set {config_key} back to {held}, or give the new node a new state "
                           "file (a new `state:` path) and a fresh start in both bases")
        return None

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        self.conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                          "DO UPDATE SET value = excluded.value", (key, value))

    def not_parked(self, refs: Iterable[str]) -> list[str]:
        """Those of `refs` that no parked object has (a typo, or retried already)."""
        out = []
        for ref in refs:
            if self.conn.execute(
                    "SELECT 1 FROM inbox WHERE ref = ? AND status = 'parked' UNION ALL "
                    "SELECT 1 FROM registrations WHERE ref = ? AND parked IS NOT NULL LIMIT 1",
                    (ref.lower(), ref.lower())).fetchone() is None:
                out.append(ref)
        return out

    def unpark(self, refs: Iterable[str] | None) -> int:
        """Parked objects (all, or those with these Ссылки) are evaluated again by the next
        routing and send; the reason stays until then, so routing looks at each one."""
        where, params = "", ()
        if refs is not None:
            refs = [r.lower() for r in refs]
            where = f" AND ref IN ({', '.join('?' for _ in refs)})"
            params = tuple(refs)
        # One parked for its size holds its keys alone: sent, it would empty the object.
        n = self.conn.execute("UPDATE inbox SET status = 'staged' WHERE status = 'parked' AND "
                              f"coalesce(reason, '') NOT LIKE '{TOO_LARGE}%'{where}",
                              params).rowcount
        n += self.conn.execute(f"UPDATE registrations SET parked = NULL WHERE parked IS NOT NULL{where}",
                               params).rowcount
        return n

    def forwarded_for(self, invoice_refs: Iterable[str], source: str,
                      target: str) -> dict[str, dict[str, str]]:
        """invoice Ссылка -> {document Ссылка: type} of what we registered for `target` (from
        `source`'s inbox) naming it."""
        out: dict[str, dict[str, str]] = {}
        refs = list(invoice_refs)
        for i in range(0, len(refs), 500):
            chunk = refs[i:i + 500]
            cur = self.conn.execute(
                "SELECT l.ref, r.ref, r.type FROM registrations r JOIN inbox i ON i.peer = ? "
                "AND i.type = r.type AND i.ref = r.ref JOIN inbox_links l ON l.inbox_id = i.id "
                f"WHERE r.peer = ? AND r.kind = 'object' AND l.ref IN ({', '.join('?' for _ in chunk)})",
                (source, target, *chunk))
            for inv, doc, type_name in cur:
                out.setdefault(inv, {})[doc] = type_name
        return out

    def confirmed_registrations(self, peer: str, types: Iterable[str]) -> list[tuple[str, str]]:
        types = list(types)
        cur = self.conn.execute(
            "SELECT type, ref FROM registrations WHERE peer = ? AND kind = 'object' AND confirmed_no "
            f"IS NOT NULL AND type IN ({', '.join('?' for _ in types)}) ORDER BY id", (peer, *types))
        return list(cur)

    def reregister(self, peer: str, type_name: str, ref: str) -> int:
        """Send it again in the next message, whatever the peer confirmed."""
        return self.conn.execute(
            "UPDATE registrations SET message_no = NULL, confirmed_no = NULL, parked = NULL, "
            "stamped_at = NULL, confirmed_at = NULL, registered_at = ? "
            "WHERE peer = ? AND type = ? AND ref = ?",
            (now_text(), peer, type_name, ref)).rowcount

    def count_status(self, peer: str, status: str, types: Iterable[str]) -> int:
        types = list(types)
        marks = ", ".join("?" for _ in types)
        return self.conn.execute(
            f"SELECT count(*) FROM inbox WHERE peer = ? AND status = ? AND type IN ({marks})",
            (peer, status, *types)).fetchone()[0]

    def waiting(self, source: str, types: Iterable[str]) -> Iterator[Staged]:
        types = list(types)
        marks = ", ".join("?" for _ in types)
        return self._by_ids(
            f"SELECT id FROM inbox WHERE peer = ? AND status = 'waiting' AND type IN ({marks}) "
            "ORDER BY id", (source, *types))

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

    def park_registrations(self, reasons: dict[int, str]) -> None:
        self.conn.executemany("UPDATE registrations SET parked = ? WHERE id = ?",
                              [(why, rid) for rid, why in reasons.items()])

    # -- journal ------------------------------------------------------------------------
    def begin_run(self, command: str) -> int:
        with self.atomic():
            # The caller holds the run lock: a run the journal has not seen end died (SIGKILL,
            # the OOM killer, a power cut). Its exit code stays unknown.
            self.conn.execute("UPDATE runs SET error = ? WHERE ended_at IS NULL AND error IS NULL",
                              (DIED,))
            cur = self.conn.execute("INSERT INTO runs (command, started_at) VALUES (?, ?)",
                                    (command, now_text()))
        return cur.lastrowid

    def end_run(self, run_id: int, exit_code: int, report: dict | None,
                error: str | None) -> None:
        try:
            with self.atomic():
                self.conn.execute(
                    "UPDATE runs SET ended_at = ?, exit_code = ?, counts = ?, error = ? "
                    "WHERE id = ?",
                    (now_text(), exit_code, _utf8(json.dumps(report, ensure_ascii=False))
                     if report is not None else None, _utf8(error), run_id))
                # Under cron for years: keep 30 days or 10,000 runs, whichever keeps less.
                since = (datetime.datetime.now(datetime.timezone.utc)
                         - datetime.timedelta(days=KEEP_RUN_DAYS)).isoformat(timespec="seconds")
                self.conn.execute("DELETE FROM runs WHERE id <= ? - ? OR started_at < ?",
                                  (run_id, KEEP_RUNS, since))
        except sqlite3.Error as exc:  # the journal must never mask the run's own outcome
            raise sqlite_failure(exc, self.path) from None

    def last_runs(self, limit: int = 10) -> list[dict]:
        cur = self.conn.execute(
            "SELECT id, command, started_at, ended_at, exit_code, counts, error FROM runs "
            "ORDER BY id DESC LIMIT ?", (limit,))
        cols = [d[0] for d in cur.description]
        out = []
        for row in cur:
            item = dict(zip(cols, row, strict=True))
            item["counts"] = json.loads(item["counts"]) if item["counts"] else None
            out.append(item)
        return out

    def close(self) -> None:
        self.conn.close()


def _utf8(text: str | None) -> str | None:
    """Text SQLite can store: a file name that is not UTF-8 reaches an error line as lone
    surrogates, which would fail the journal's write (and the run with it) when escaped nowhere
    else."""
    return None if text is None else text.encode("utf-8", "backslashreplace").decode("utf-8")
