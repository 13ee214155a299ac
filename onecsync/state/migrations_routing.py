"""The migrations of the routing's and the exchange's bookkeeping (0007 on): deletion marks,
judgements, the headers of the messages taken, a received number typed by hand, the last
restore, the staging that wrote an inbox row.

Public API: none; importing it registers them in `migrations.MIGRATIONS` (migrations.py does).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onecsync.state.migrations import MIGRATIONS
from onecsync.state.migrations import in_the_transaction
from onecsync.topology import Peer

if TYPE_CHECKING:
    from sqlite_utils import Database


@MIGRATIONS(name="0007_marked")
def _marked(db: Database) -> None:
    """1C imports a deletion as a deletion mark, and no later version clears it (EnterpriseData
    carries no ПометкаУдаления): a registration records that its peer was sent the deletion,
    so that a version sent after it can be reported as marked there (status, reconcile).
    Rows of an older state hold NULL: what was deleted before is not known."""
    in_the_transaction(db, """
        ALTER TABLE registrations ADD COLUMN marked INTEGER;  -- 1: its peer was sent its deletion
        CREATE INDEX registrations_marked ON registrations (peer, kind) WHERE marked IS NOT NULL;
        """)


@MIGRATIONS(name="0008_marked_before")
def _marked_before(db: Database) -> None:
    """What 0007 did not know it could know: a registration whose last word is a deletion has
    had it sent (or will, unconfirmed: 1C marks its copy when it reads it), so its peer holds,
    or will hold, its copy marked, as 0007 records from then on. A document withdrawn before
    the upgrade and linked again later is then reported marked there like one withdrawn after
    (status, reconcile); left NULL, it stayed marked in the CRM unreported. Of one withdrawn
    and sent again before the upgrade nothing tells: it stays NULL. A new migration, not an edit
    of 0007: a state 0007 already upgraded is put right too."""
    in_the_transaction(db, """
        UPDATE registrations SET marked = 1 WHERE kind = 'delete' AND marked IS NULL;
        """)


@MIGRATIONS(name="0009_judged")
def _judged(db: Database) -> None:
    """The Ссылки whose judgement (the CRM's, or known not to be) changed since pull-settlements
    last looked (state/withdrawal.py): the forwarded documents naming them are judged again.
    An older onecsync never looked again at a forwarded document left waiting (review R1 #3),
    and sent a forwarded one's rows naming what is known not to be the CRM's as they were (an
    own order, a withdrawn sale: before 7a #6): what those name is entered once, so that the
    first run after the upgrade judges them again."""
    # The reason as this version writes it (OWN_INVOICE): a migration stays as it is. Driven
    # from the links (what names anything: a few of the inbox), each looked up by index.
    in_the_transaction(db, """
        CREATE TABLE judged (ref TEXT PRIMARY KEY) WITHOUT ROWID;
        """)
    db.conn.execute(
        "INSERT OR IGNORE INTO judged (ref) SELECT l.ref FROM inbox_links l CROSS JOIN inbox w "
        "ON w.id = l.inbox_id WHERE w.peer = :source AND w.status IN ('waiting', 'routed') "
        "AND EXISTS (SELECT 1 FROM registrations r WHERE r.peer = :target AND r.type = w.type "
        "AND r.ref = w.ref AND r.kind = 'object') AND (w.status = 'waiting' OR EXISTS (SELECT 1 "
        "FROM inbox o WHERE o.ref = l.ref AND (o.reason = 'not an invoice from the CRM' OR "
        "EXISTS (SELECT 1 FROM registrations d WHERE d.peer = :target AND d.type = o.type AND "
        "d.ref = o.ref AND d.kind = 'delete'))))",
        {"source": Peer.ACCOUNTING, "target": Peer.CRM})


@MIGRATIONS(name="0010_marked_confirmed")
def _marked_confirmed(db: Database) -> None:
    """`marked` says what the peer confirmed, as everything else (review R1 #8): 0007 set it
    when a deletion was registered, and it stayed when a version took the deletion's place
    unsent, so status and reconcile said 1C held a mark it was never sent. A deletion not
    confirmed yet is marked once it is. Of a version registered after a deletion, nothing tells
    whether the deletion had reached the peer: its `marked` stays (reconcile with OData reads the
    mark). The index of the few takes every deletion now: status counts the withdrawn from it."""
    in_the_transaction(db, """
        DROP INDEX registrations_marked;
        CREATE INDEX registrations_marked ON registrations (peer, kind)
            WHERE marked IS NOT NULL OR kind = 'delete';
        UPDATE registrations SET marked = NULL WHERE kind = 'delete' AND confirmed_no IS NULL;
        """)


@MIGRATIONS(name="0011_received_headers")
def _received_headers(db: Database) -> None:
    """The headers of the base messages we took (state/headers.py), so that a restored base's
    new message under a number we hold is told from a file delivered again whatever its date
    (review R3 #1), and the skipping of messages dated before the last one taken is bounded
    (R3 #3). An older state knows of each peer only the last message it took: that one is
    entered, its ReceivedNo unknown (NULL matches any)."""
    in_the_transaction(db, """
        CREATE TABLE received_headers (
            id INTEGER PRIMARY KEY,
            peer TEXT NOT NULL,
            message_no INTEGER NOT NULL,
            created TEXT NOT NULL,              -- its CreationDate, as written
            received_no INTEGER,                -- its ReceivedNo; NULL: not known
            abandoned INTEGER NOT NULL DEFAULT 0  -- 1: of a life the base left (restored)
        );
        CREATE INDEX received_headers_no ON received_headers (peer, abandoned, message_no);
        CREATE INDEX received_headers_peer ON received_headers (peer);
        ALTER TABLE peers ADD COLUMN stale_since TEXT;
        ALTER TABLE peers ADD COLUMN stale_runs INTEGER;
        INSERT INTO received_headers (peer, message_no, created)
            SELECT name, received_no, received_created FROM peers
            WHERE received_no > 0 AND received_created IS NOT NULL;
        """)


@MIGRATIONS(name="0012_received_set")
def _received_set(db: Database) -> None:
    """`state set-numbers --received` is remembered until a message of the base sets the number
    (a run that skips the base's messages under a typed number says so, exit 6), and so is the
    highest MessageNo ever taken from the base (above it, a typed number is refused)."""
    in_the_transaction(db, """
        ALTER TABLE peers ADD COLUMN received_set TEXT;  -- 'set' or 'forced': received_no typed
        ALTER TABLE peers ADD COLUMN received_high INTEGER NOT NULL DEFAULT 0;
        UPDATE peers SET received_high = max(received_no, coalesce((SELECT max(message_no)
            FROM inbox WHERE inbox.peer = peers.name), 0));
        """)


@MIGRATIONS(name="0013_restored_at")
def _restored_at(db: Database) -> None:
    """When a base was last taken for restored, and our last message then: another restore before
    the base confirmed the resend is held for the admin, not a second full resend
    (flows/lives.py, review R5 M2, M3).
    And what 0011 could not know: an older onecsync kept its own time as the date of a message
    dated more than a day ahead of it, and 0011 entered that time as the header's CreationDate,
    so the same file delivered again read as a restore. A header 0011 entered (ReceivedNo
    unknown, the peer's first) dated within a second of when we received it is such a date, or
    as good as one: its date is not known, and matches any."""
    in_the_transaction(db, """
        ALTER TABLE peers ADD COLUMN restored_at TEXT;
        ALTER TABLE peers ADD COLUMN restored_sent INTEGER;
        UPDATE received_headers SET created = ''
            WHERE received_no IS NULL
            AND id = (SELECT min(id) FROM received_headers h WHERE h.peer = received_headers.peer)
            AND abs(julianday(created) - (SELECT julianday(p.last_received_at) FROM peers p
                                          WHERE p.name = received_headers.peer)) * 86400 <= 1;
        """)


@MIGRATIONS(name="0014_staging")
def _staging(db: Database) -> None:
    """Which staging wrote an inbox row's version: 1C skips the deletion of an object the same
    message imports, whatever their order (state/inbox.py, review R7 M2). Rows of an older state
    hold NULL: no staging to come is theirs."""
    in_the_transaction(db, """
        ALTER TABLE inbox ADD COLUMN staging INTEGER;  -- meta's `stagings` then, one up a message
        """)
