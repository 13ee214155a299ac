"""Typed access to the state file: peers' numbers, the inbox, registrations, the run journal.

Public API: `State` (open with `open_state`), `PeerState`, `Pending`.

The only module that writes SQL. Writes that belong together go through `State.atomic()`, so a
crash leaves either all of them or none; staging is batched with prepared statements because a
first exchange can carry a million objects.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import sqlite3
from dataclasses import dataclass
from dataclasses import fields
from typing import Iterable
from typing import Iterator

from sqlite_utils import Database

from onecsync.errors import StateError
from onecsync.protocol.reader import BodyObject

BATCH = 5000


def now_text() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


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


@dataclass
class StageCounts:
    objects: int = 0
    deletions: int = 0
    parked: int = 0


class State:
    def __init__(self, db: Database, path: str) -> None:
        self.db = db
        self.path = path
        self.conn: sqlite3.Connection = db.conn

    # -- transactions -------------------------------------------------------------------
    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        with self.db.atomic():
            yield

    # -- peers --------------------------------------------------------------------------
    def ensure_peer(self, name: str, code: str) -> PeerState:
        row = self.conn.execute("SELECT code FROM peers WHERE name = ?", (name,)).fetchone()
        if row is None:
            with self.atomic():
                self.conn.execute("INSERT INTO peers (name, code) VALUES (?, ?)", (name, code))
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
        cur = self.conn.execute(
            "UPDATE registrations SET confirmed_no = ? WHERE peer = ? AND confirmed_no IS NULL "
            "AND message_no IS NOT NULL AND message_no <= ?", (upto, peer, upto))
        return cur.rowcount

    def unconfirm_after(self, peer: str, received_no: int) -> int:
        """The peer went back to `received_no` (a restored backup): what it confirmed later is
        pending again, to be sent in full."""
        cur = self.conn.execute(
            "UPDATE registrations SET confirmed_no = NULL, message_no = NULL WHERE peer = ? "
            "AND confirmed_no IS NOT NULL AND message_no > ?", (peer, received_no))
        return cur.rowcount

    def stage(self, peer: str, message_no: int | None, version: str,
              objects: Iterable[BodyObject]) -> StageCounts:
        """Keep the newest version of each object; objects with a problem are parked."""
        counts = StageCounts()
        sql = (
            "INSERT INTO inbox (peer, type, ref, kind, message_no, version, xml, digest, status,"
            " reason, line, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (peer, type, ref) DO UPDATE SET kind = excluded.kind, "
            "message_no = excluded.message_no, version = excluded.version, xml = excluded.xml, "
            "digest = excluded.digest, reason = excluded.reason, "
            # 1C re-sends what we have not confirmed yet: an unchanged copy of an object that
            # was already routed must not be routed (and sent on) again.
            "status = CASE WHEN inbox.digest = excluded.digest AND inbox.status IN "
            "('routed', 'ignored') THEN inbox.status ELSE excluded.status END, "
            "line = excluded.line, updated_at = excluded.updated_at")
        stamp = now_text()
        batch = []
        for obj in objects:
            if obj.problem:
                counts.parked += 1
                status = "parked"
            else:
                status = "staged"
                if obj.kind == "delete":
                    counts.deletions += 1
                else:
                    counts.objects += 1
            batch.append((peer, obj.type, obj.ref, obj.kind, message_no, version, obj.xml,
                          obj.digest, status, obj.problem, obj.line, stamp))
            if len(batch) >= BATCH:
                self.conn.executemany(sql, batch)
                batch.clear()
        if batch:
            self.conn.executemany(sql, batch)
        return counts

    # -- routing ------------------------------------------------------------------------
    def register(self, source: str, target: str, types: Iterable[str]) -> int:
        """Register the staged objects of `types` from `source` for `target`; mark them routed.

        A new version replaces an older registration and clears its stamp: the peer must get
        it again even if it confirms the message that carried the older one.
        """
        types = list(types)
        if not types:
            return 0
        marks = ", ".join("?" for _ in types)
        cur = self.conn.execute(
            "INSERT INTO registrations (peer, type, ref, kind, inbox_id, message_no, registered_at)"
            f" SELECT ?, type, ref, kind, id, NULL, ? FROM inbox WHERE peer = ? AND "
            f"status = 'staged' AND type IN ({marks}) ORDER BY id "
            "ON CONFLICT (peer, type, ref) DO UPDATE SET kind = excluded.kind, "
            "inbox_id = excluded.inbox_id, message_no = NULL, confirmed_no = NULL, parked = NULL, "
            "registered_at = excluded.registered_at",
            (target, now_text(), source, *types))
        count = cur.rowcount
        self.conn.execute(
            f"UPDATE inbox SET status = 'routed' WHERE peer = ? AND status = 'staged' "
            f"AND type IN ({marks})", (source, *types))
        return count

    def ignore_other_types(self, source: str, wanted: Iterable[str]) -> int:
        """Objects of types no flow takes from `source` are kept but never routed."""
        wanted = list(wanted)
        marks = ", ".join("?" for _ in wanted)
        cur = self.conn.execute(
            f"UPDATE inbox SET status = 'ignored' WHERE peer = ? AND status = 'staged' "
            f"AND type NOT IN ({marks})", (source, *wanted))
        return cur.rowcount

    # -- sending ------------------------------------------------------------------------
    def pending(self, peer: str) -> Iterator[Pending]:
        """Every registration the peer has not confirmed, in registration order, streamed."""
        cur = self.conn.execute(
            "SELECT r.id, r.type, r.ref, r.kind, i.version, i.xml, r.message_no "
            "FROM registrations r JOIN inbox i ON i.id = r.inbox_id "
            "WHERE r.peer = ? AND r.confirmed_no IS NULL AND r.parked IS NULL ORDER BY r.id",
            (peer,))
        for row in cur:
            yield Pending(*row)

    def counts(self, peer: str) -> tuple[int, int]:
        """(unconfirmed registrations, of which never sent) for the peer."""
        row = self.conn.execute(
            "SELECT count(*), count(*) - count(message_no) FROM registrations "
            "WHERE peer = ? AND confirmed_no IS NULL AND parked IS NULL", (peer,)).fetchone()
        return row[0], row[1]

    def stamp(self, peer: str, message_no: int) -> int:
        cur = self.conn.execute(
            "UPDATE registrations SET message_no = ? WHERE peer = ? AND message_no IS NULL "
            "AND confirmed_no IS NULL AND parked IS NULL", (message_no, peer))
        return cur.rowcount

    def park_registrations(self, reasons: dict[int, str]) -> None:
        self.conn.executemany("UPDATE registrations SET parked = ? WHERE id = ?",
                              [(why, rid) for rid, why in reasons.items()])

    # -- journal ------------------------------------------------------------------------
    def begin_run(self, command: str) -> int:
        with self.atomic():
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
                    (now_text(), exit_code, json.dumps(report, ensure_ascii=False)
                     if report is not None else None, error, run_id))
        except sqlite3.Error as exc:  # the journal must never mask the run's own outcome
            raise StateError(f"cannot record the run in {self.path}: {exc}") from None

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
