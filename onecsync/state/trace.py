"""`onecsync trace`: an object's journey through onecsync, read from the state without a lock.

Public API: `trace(path, query, now=None)` → `TraceReport` (state/trace_report.py; its
`to_json()` is the stable document `--json` prints), `parse_query`,
`stored_xml(path, type, ref)`.

Read-only: the file is opened with SQLite's `mode=ro` (a run may be writing meanwhile; this sees
its last commit and waits for nothing). Every lookup is an index seek (migration 0005), so the
answer does not grow with the state. Rows from before migration 0005 lack the times of stamping
and confirming, the versions before the newest, and a document's number and ИНН: the document
lists what it cannot know under `unknown` instead of guessing.
"""

from __future__ import annotations

import datetime
import re
import sqlite3
from pathlib import Path
from typing import NoReturn

from onecsync import clock
from onecsync import state as _state
from onecsync.errors import Misnamed
from onecsync.errors import StateError
from onecsync.errors import clip
from onecsync.state import readonly_uri
from onecsync.state.inbox import UNTAKEN
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.migrations import applied
from onecsync.state.payloads import unpack
from onecsync.state.trace_report import CrmInvoice
from onecsync.state.trace_report import Delivery
from onecsync.state.trace_report import InvoiceName
from onecsync.state.trace_report import Journey
from onecsync.state.trace_report import Match
from onecsync.state.trace_report import NamedBy
from onecsync.state.trace_report import Query
from onecsync.state.trace_report import Routing
from onecsync.state.trace_report import TraceReport
from onecsync.state.trace_report import Version
from onecsync.state.vetting import vet_file
from onecsync.state.vetting import vet_schema
from onecsync.state.vetting import wal_path
from onecsync.topology import ORGANIZATION
from onecsync.topology import PEERS

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_INN = re.compile(r"^\d{10}$|^\d{12}$", re.ASCII)  # an organization's ИНН has 10 digits, a person's 12
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$", re.ASCII)
# An ИНН lists its counterparty's objects; past this many the list says how many more.
LIST_LIMIT = 50
# Versions kept per object and base (the trigger versions_changed of migration 0005).
KEEP_VERSIONS = 20
# The JSON document's version: bumped only when a key changes meaning or goes away.
SCHEMA = 1


def parse_query(words: tuple[str, ...] | list[str]) -> tuple[str, str, str | None]:
    """(kind, value, date): a Ссылка, an ИНН, or a document number with an optional date."""
    words = [w.strip() for w in words if w.strip()]
    if not words:
        raise Misnamed("trace needs a Ссылка, a document number or an ИНН",
                       remedy="e.g. onecsync trace СЧ-000123 2026-12-01")
    if len(words) == 1 and _UUID.match(words[0]):
        return "ref", words[0].lower(), None
    if len(words) == 1 and _INN.match(words[0]):
        return "inn", words[0], None
    if len(words) == 2 and _DATE.match(words[1]):
        try:  # the shape is a date's; the day must be one (2026-13-45 is none)
            datetime.date.fromisoformat(words[1])
        except ValueError:
            raise Misnamed(f"trace: {clip(words[1], quoted=True)} is not a date: there is no "
                           "such day", remedy="give a date as YYYY-MM-DD after the number") from None
        return "number", words[0], words[1]
    if len(words) == 1:
        return "number", words[0], None
    asked = clip(" ".join(words), quoted=True)
    raise Misnamed(f"trace: {asked} is not a Ссылка, an ИНН, or a number and a date",
                   remedy="give a date as YYYY-MM-DD after the number")


def _open_ro(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(readonly_uri(path), uri=True, isolation_level=None,
                           check_same_thread=False, timeout=5.0)
    try:
        conn.execute("PRAGMA query_only = ON")
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except BaseException:
        conn.close()
        raise
    return conn


def _connect(path: Path) -> sqlite3.Connection:
    """The state opened `mode=ro` while a run (or any reader) has its write-ahead log open:
    the log's files are there, so this reads the run's last commit and leaves nothing behind.
    With no log (no run), a `mode=ro` reader would make the log's files and could not remove
    them; the reader `status` uses makes none that outlive it, and cannot write either."""
    if not vet_file(path):
        raise StateError(f"no state yet ({path}): nothing has run with this config",
                         remedy="run `onecsync run` first")
    conn = None
    if wal_path(path).exists() and path.with_name(path.name + "-shm").exists():
        try:
            conn = _open_ro(path)
        except sqlite3.OperationalError:
            conn = None  # the run ended meanwhile and took its log with it
    if conn is None:
        conn = _state.read_connection(path)
    try:
        vet_schema(conn, path)
        if "0005_trace" not in applied(conn):
            raise StateError(f"state file {path} is from an older onecsync: it does not record "
                             "what trace shows yet", remedy="run `onecsync run` once to upgrade it")
    except BaseException:
        conn.close()
        raise
    return conn


def _rows(conn: sqlite3.Connection, sql: str, params: tuple) -> list[dict]:
    cur = conn.execute(sql, params)
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur]


def _matches(conn: sqlite3.Connection, kind: str, value: str, date: str | None) -> list[Match]:
    """(type, ref, number, date, inn) of every object the query names, one per object."""
    cols = "type, ref, max(number) AS number, max(date) AS date, max(inn) AS inn"
    if kind == "ref":
        found = _rows(conn, f"SELECT {cols} FROM inbox WHERE ref = ? GROUP BY type, ref", (value,))
        found += _rows(conn, "SELECT type, ref, number, date, NULL AS inn FROM invoices "
                             "WHERE ref = ?", (value,))
    else:
        column = "number" if kind == "number" else "inn"
        extra = ""
        params: tuple[str, ...] = (value,)
        if date:
            extra, params = " AND substr(date, 1, 10) = ?", (value, date)
        found = _rows(conn, f"SELECT {cols} FROM inbox WHERE {column} = ?{extra} "
                            f"GROUP BY type, ref LIMIT {LIST_LIMIT + 1}", params)
        if kind == "number":  # the registry knows the CRM's invoices from before migration 0005
            found += _rows(conn, "SELECT type, ref, number, date, NULL AS inn FROM invoices "
                                 f"WHERE number = ?{extra}", params)
    seen, out = set(), []
    for row in found:
        if (row["type"], row["ref"]) not in seen:
            seen.add((row["type"], row["ref"]))
            out.append(Match(**row))
    return out


def _routing(row: dict) -> tuple[str, str | None]:
    """What routing decided for one received copy, as (decision, why)."""
    status, reason = row["status"], row["reason"]
    if status == S.ROUTED:
        return "forwarded", None
    if status == S.IGNORED and reason and reason.startswith("superseded"):
        return "superseded", reason
    if status == S.IGNORED and reason == UNTAKEN:
        return "ignored", reason
    if status == S.IGNORED and row["kind"] == "delete":
        return "ignored", "a deletion of what the other base never got"
    if status == S.STAGED:
        return "not routed yet", reason
    return status, reason  # waiting, parked, filtered, echo


def _age(since: str | None, now: datetime.datetime) -> int | None:
    if not since:
        return None
    try:
        t = datetime.datetime.fromisoformat(since)
    except ValueError:
        return None
    return int((now - t).total_seconds())


def _journey(conn: sqlite3.Connection, match: Match, now: datetime.datetime) -> Journey:
    type_name, ref = match.type, match.ref
    inbox = _rows(conn, "SELECT id, peer, kind, message_no, version, digest, status, reason, "
                        "updated_at, number, date, inn FROM inbox WHERE ref = ? AND type = ? "
                        "ORDER BY id", (ref, type_name))
    versions = []
    for row in inbox:
        versions += _rows(conn, "SELECT ? AS peer, kind, message_no, version AS format, digest, "
                                "received_at FROM versions WHERE inbox_id = ? ORDER BY id",
                          (row["peer"], row["id"]))
    unknown = []
    for row in inbox:
        if not any(v["peer"] == row["peer"] and v["digest"] == row["digest"] for v in versions):
            # received before migration 0005: the newest version is known, not when it came
            # first, nor the versions before it
            versions.append({"peer": row["peer"], "kind": row["kind"],
                             "message_no": row["message_no"], "format": row["version"],
                             "digest": row["digest"], "received_at": None})
            unknown.append(f"versions from {row['peer']} before the newest")
    for peer in {v["peer"] for v in versions}:
        if sum(v["peer"] == peer for v in versions) >= KEEP_VERSIONS:
            unknown.append(f"versions from {peer} before the last {KEEP_VERSIONS}")
    versions.sort(key=lambda v: v["received_at"] or "")
    newest = {row["peer"]: row["digest"] for row in inbox}
    received = tuple(Version(v["peer"], v["kind"], v["message_no"], v["format"], v["digest"],
                             v["received_at"], newest.get(v["peer"]) == v["digest"])
                     for v in versions)
    routing = []
    for row in inbox:
        decision, why = _routing(row)
        # What made a settlement document go to the CRM (or would): the invoices it names.
        names = _rows(conn, "SELECT l.ref, v.type, v.number FROM inbox_links l JOIN invoices v "
                            "ON v.ref = l.ref WHERE l.inbox_id = ? ORDER BY l.ref", (row["id"],))
        routing.append(Routing(row["peer"], decision, why, row["message_no"],
                               tuple(InvoiceName(**n) for n in names)))
    # The documents that name this one (an invoice's payments and sales, a sale's return).
    named_by = _rows(conn, "SELECT i.peer AS from_, i.type, i.ref, i.number, i.date, "
                           "i.status FROM inbox_links l JOIN inbox i ON i.id = l.inbox_id "
                           f"WHERE l.ref = ? ORDER BY i.id LIMIT {LIST_LIMIT}", (ref,))
    deliveries = []
    for reg in _rows(conn, "SELECT r.peer, r.kind, r.inbox_id, r.message_no, r.confirmed_no, "
                           "r.parked, r.registered_at, r.stamped_at, r.confirmed_at, "
                           "p.received_no FROM registrations r LEFT JOIN peers p ON p.name = r.peer "
                           f"WHERE r.peer IN ({', '.join('?' for _ in PEERS)}) AND r.type = ? "
                           "AND r.ref = ? ORDER BY r.id", (*PEERS, type_name, ref)):
        if reg["parked"]:
            state = "parked"
        elif reg["confirmed_no"] is not None:
            state = "confirmed"
        elif reg["message_no"] is not None:
            state = "waiting for confirmation"
        else:
            state = "not sent yet"
        if reg["message_no"] is not None and reg["stamped_at"] is None:
            unknown.append(f"when our message {reg['message_no']} to {reg['peer']} was written")
        if reg["confirmed_no"] is not None and reg["confirmed_at"] is None:
            unknown.append(f"when {reg['peer']} confirmed it")
        since = reg["stamped_at"] or reg["registered_at"]
        deliveries.append(Delivery(
            to=reg["peer"], kind=reg["kind"], state=state, parked=reg["parked"],
            registered_at=reg["registered_at"], message_no=reg["message_no"],
            sent_at=reg["stamped_at"], confirmed_no=reg["confirmed_no"],
            confirmed_at=reg["confirmed_at"],
            waiting_seconds=_age(since, now) if state == "waiting for confirmation" else None))
    invoice = _rows(conn, "SELECT number, date, counterparty, amount, currency, deleted, "
                          "first_seen FROM invoices WHERE ref = ?", (ref,))
    number = match.number or next((r["number"] for r in inbox if r["number"]), None)
    # A deletion carries the Ссылка alone: its lack of a number is no gap in the record.
    if number is None and any(r["kind"] != "delete" for r in inbox) and \
            type_name.startswith("Документ."):
        unknown.append("its number and date (received before this onecsync recorded them)")
    return Journey(
        type=type_name, ref=ref, number=number,
        date=match.date or next((r["date"] for r in inbox if r["date"]), None),
        inn=match.inn or next((r["inn"] for r in inbox if r["inn"]), None),
        crm_invoice=CrmInvoice(**dict(invoice[0], deleted=bool(invoice[0]["deleted"])))
        if invoice else None,
        versions=received, routing=tuple(routing), deliveries=tuple(deliveries),
        named_by=tuple(NamedBy(**n) for n in named_by), unknown=tuple(dict.fromkeys(unknown)))


def trace(path: Path, words: tuple[str, ...] | list[str],
          now: datetime.datetime | None = None) -> TraceReport:
    """What `trace` shows (`to_json()`: the document `--json` prints): the objects the query
    names, and the journey of the one it names (None when it names several: an ИНН, or a
    number used twice)."""
    kind, value, date = parse_query(words)
    now = now or clock.utc_now()
    conn = _connect(path)
    try:
        matches = _matches(conn, kind, value, date)
        if not matches and kind == "inn":  # ten digits may be a document's number too
            matches = _matches(conn, "number", value, None)
        if not matches:
            _not_found(conn, kind, value, date)
        more = len(matches) > LIST_LIMIT
        matches = matches[:LIST_LIMIT]
        journey = _journey(conn, matches[0], now) if len(matches) == 1 else None
    finally:
        conn.close()
    return TraceReport(SCHEMA, Query(kind, value, date), tuple(PEERS), tuple(matches), more,
                       journey)


def _not_found(conn: sqlite3.Connection, kind: str, value: str, date: str | None) -> NoReturn:
    """Say the query names nothing, in a sentence per kind (each translated whole)."""
    asked = clip(" ".join(filter(None, (value, date))))
    if kind == "ref":
        raise Misnamed(f"trace: no object with Ссылка {asked} has passed through onecsync",
                       remedy="check it in 1C; an object received before onecsync recorded "
                              "numbers is found by its Ссылка")
    if kind == "number":
        raise Misnamed(f"trace: no object with number {asked} has passed through onecsync",
                       remedy="check it in 1C; an object received before onecsync recorded "
                              "numbers is found by its Ссылка")
    organization = _organization(conn, value)
    if organization is not None:  # our organization's ИНН, most likely
        raise Misnamed(f"trace: ИНН {value} is an organization's ({ORGANIZATION} {organization}): "
                       "only a counterparty is found by its ИНН",
                       remedy=f"trace the organization by its Ссылка: onecsync trace {organization}")
    raise Misnamed(f"trace: no counterparty with ИНН {value} has passed through onecsync",
                   remedy="check it in 1C; only counterparties (and documents naming one) are "
                          "found by an ИНН, an object received before onecsync recorded it by "
                          "its Ссылка")




def _organization(conn: sqlite3.Connection, inn: str) -> str | None:
    """The Ссылка of an organization whose ИНН this is (the index records a counterparty's ИНН
    only): a few objects, found by an index seek per base and status, their payloads read."""
    own = re.compile(rf"<(?:\w+:)?ИНН>\s*{inn}\s*</".encode())
    for peer in PEERS:
        for status in S:
            for ref, xml in conn.execute(
                    "SELECT i.ref, p.xml FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id "
                    "WHERE i.peer = ? AND i.status = ? AND i.type = ?",
                    (peer, status.value, ORGANIZATION)):
                if own.search(unpack(xml)):
                    return ref
    return None


def stored_xml(path: Path, type_name: str, ref: str) -> bytes | None:
    """The newest payload received for the object (namespace-relative, as stored)."""
    conn = _connect(path)
    try:
        row = conn.execute(
            "SELECT p.xml FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id WHERE i.ref = ? "
            "AND i.type = ? ORDER BY i.updated_at DESC LIMIT 1", (ref, type_name)).fetchone()
    finally:
        conn.close()
    return unpack(row[0]) if row else None
