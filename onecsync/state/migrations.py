"""The state schema, created and upgraded by sqlite-utils migrations.

Public API: `MIGRATIONS`, `upgrade(conn, path)`, `known_migrations()`.

Every migration runs in one transaction together with the record that it ran. A state file that
records a migration this onecsync does not know was upgraded by a newer onecsync: opening it
could silently drop what the newer code relies on, so `vetting.vet_schema` refuses it first.

sqlite-utils is imported only when a migration is due: importing it costs more than all the
rest of a cron run with nothing to do. Whether one is due is read from sqlite-utils' own table.
"""

from __future__ import annotations

import logging
import sqlite3
from typing import TYPE_CHECKING
from typing import Callable

if TYPE_CHECKING:
    from sqlite_utils import Database


class _Registry:
    """The decorator of sqlite-utils' `Migrations`, recording the functions for later."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._registered: list[tuple[str, Callable, bool]] = []

    def __call__(self, *, name: str | None = None, transactional: bool = True) -> Callable:
        def inner(fn: Callable) -> Callable:
            self._registered.append((name or fn.__name__, fn, transactional))
            return fn

        return inner

    def names(self) -> list[str]:
        return [name for name, _, _ in self._registered]

    def migrations(self):
        """The sqlite-utils `Migrations` of everything registered (imports sqlite-utils)."""
        from sqlite_utils.migrations import Migrations

        migrations = Migrations(self.name)
        for name, fn, transactional in self._registered:
            migrations(name=name, transactional=transactional)(fn)
        return migrations


MIGRATIONS = _Registry("onecsync")


@MIGRATIONS(name="0001_initial")
def _initial(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE peers (
            name TEXT PRIMARY KEY,
            code TEXT NOT NULL,
            sent_no INTEGER NOT NULL DEFAULT 0,
            received_no INTEGER NOT NULL DEFAULT 0,
            confirmed_no INTEGER NOT NULL DEFAULT 0,
            versions TEXT,              -- JSON: the peer's last AvailableVersion list
            format_version TEXT,        -- the version of the last message from the peer
            object_types TEXT,          -- JSON: the peer's AvailableObjectTypes
            prefix TEXT,
            last_received_at TEXT,
            last_sent_at TEXT,
            received_created TEXT,      -- CreationDate of the peer's message numbered received_no
            in_fingerprint TEXT,        -- the last incoming file read: size, mtime, sampled hash
            out_no INTEGER,             -- the last message written to the peer ...
            out_received_no INTEGER,    -- ... the ReceivedNo it carried ...
            out_fingerprint TEXT        -- ... and its file as written
        );
        -- The newest version of every object each peer sent us: the one copy of its payload.
        CREATE TABLE inbox (
            id INTEGER PRIMARY KEY,
            peer TEXT NOT NULL,
            type TEXT NOT NULL,
            ref TEXT NOT NULL,
            kind TEXT NOT NULL,         -- object | delete
            message_no INTEGER,
            version TEXT NOT NULL,      -- format version the xml is written in
            xml BLOB NOT NULL,          -- namespace-relative, see protocol.reader
            digest TEXT NOT NULL,
            status TEXT NOT NULL,       -- staged | routed | ignored | parked
            reason TEXT,
            line INTEGER,
            updated_at TEXT NOT NULL,
            UNIQUE (peer, type, ref)
        );
        CREATE INDEX inbox_status ON inbox (peer, status, type);
        -- "This object, in its newest version, must reach this peer": 1C's change registration.
        CREATE TABLE registrations (
            id INTEGER PRIMARY KEY,
            peer TEXT NOT NULL,
            type TEXT NOT NULL,
            ref TEXT NOT NULL,
            kind TEXT NOT NULL,
            inbox_id INTEGER NOT NULL REFERENCES inbox (id),
            message_no INTEGER,         -- the message that first carried it; NULL: not yet sent
            confirmed_no INTEGER,       -- the peer's ReceivedNo that confirmed it; NULL: pending
            parked TEXT,                -- why it cannot be sent (e.g. no such type in the
                                        -- peer's version); NULL: it can
            registered_at TEXT NOT NULL,
            UNIQUE (peer, type, ref)
        );
        -- Confirmed rows are kept (without payload): if the peer is restored from a backup, they
        -- say what it lost and must get again.
        CREATE INDEX registrations_pending ON registrations (peer, id) WHERE confirmed_no IS NULL;
        CREATE INDEX registrations_message ON registrations (peer, message_no);
        CREATE TABLE runs (
            id INTEGER PRIMARY KEY,
            command TEXT NOT NULL,
            started_at TEXT NOT NULL,
            ended_at TEXT,
            exit_code INTEGER,
            counts TEXT,                -- JSON report
            error TEXT
        );
        """
    )


def known_migrations() -> list[str]:
    """Every migration this onecsync has, in order (what a fresh database would need)."""
    return MIGRATIONS.names()


def applied(conn: sqlite3.Connection) -> list[str]:
    """The migrations the state file records, in the order they ran."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' "
                    "AND name = '_sqlite_migrations'").fetchone() is None:
        return []
    return [r[0] for r in conn.execute("SELECT name FROM _sqlite_migrations WHERE migration_set = ? "
                                       "ORDER BY rowid", (MIGRATIONS.name,))]


def upgrade(conn: sqlite3.Connection, path: str) -> None:
    """Apply the migrations due. The file was vetted first (`vetting.vet_schema`: a newer or
    foreign one is refused) or is one this onecsync is creating."""
    known = known_migrations()
    done = applied(conn)
    due = [m for m in known if m not in set(done)]
    if due:
        from sqlite_utils import Database

        if done:  # an existing state, not one being created
            # Said before it starts: on a large state it takes minutes, and run_timeout does
            # not count it (one transaction: a run stopped in it would begin it again each time).
            logging.getLogger("onecsync").info(
                "upgrading the state file %s to this version's layout (%s), once: this may take "
                "minutes on a large state and is not counted in run_timeout", path, ", ".join(due))

        MIGRATIONS.migrations().apply(Database(conn, execute_plugins=False))


@MIGRATIONS(name="0002_invoices_links_mapping")
def _invoices_links_mapping(db: Database) -> None:
    db.executescript(
        """
        -- Every invoice (or customer order) that came from the CRM: only documents linked to
        -- one of these ever go back to the CRM.
        CREATE TABLE invoices (
            ref TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            number TEXT,
            date TEXT,
            counterparty_ref TEXT,
            counterparty TEXT,
            amount TEXT,
            currency TEXT,
            deleted INTEGER NOT NULL DEFAULT 0,
            first_seen TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        -- The references a staged settlement document makes along the configured link paths,
        -- read once so that later runs can link it with a join instead of re-parsing it.
        CREATE TABLE inbox_links (
            inbox_id INTEGER NOT NULL REFERENCES inbox (id) ON DELETE CASCADE,
            ref TEXT NOT NULL,
            PRIMARY KEY (inbox_id, ref)
        ) WITHOUT ROWID;
        CREATE INDEX inbox_links_ref ON inbox_links (ref);
        -- The payload for one peer after the mapping section was applied; NULL: the inbox copy.
        ALTER TABLE registrations ADD COLUMN xml BLOB;
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT);
        """
    )


@MIGRATIONS(name="0003_bench_open_registrations")
def _open_registrations(db: Database) -> None:
    db.executescript(
        """
        -- What a run with nothing new asks on every start: how many registrations the peer has
        -- not confirmed, and whether any was never sent. Covering, so that it is answered from
        -- this index alone, never from a million rows of the table.
        CREATE INDEX registrations_open ON registrations (peer, message_no, confirmed_no, parked)
            WHERE confirmed_no IS NULL AND parked IS NULL;
        """)


def in_the_transaction(db: Database, script: str) -> None:
    """`script`, statement by statement, in the migration's transaction: Python's executescript
    would commit that transaction first, and run the rest one autocommitted statement at a time
    (a crash in between would leave a state half migrated)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            db.conn.execute(statement)
            statement = ""


@MIGRATIONS(name="0004_payloads_apart")
def _payloads_apart(db: Database) -> None:
    """Payloads out of the rows, deflated (state/payloads.py), and the indexes a run with
    nothing new needs to answer every question it asks from a few pages.

    One transaction with its record, as every migration: a run killed while it copies a
    state of gigabytes leaves the state as it was, and the next run migrates it again."""
    from onecsync.state.payloads import pack
    from onecsync.state.payloads import packable

    packable(db.conn)
    db.conn.create_function("onecsync_pack", 1, pack, deterministic=True)
    in_the_transaction(db, """
        CREATE TABLE inbox_payloads (
            inbox_id INTEGER PRIMARY KEY REFERENCES inbox (id) ON DELETE CASCADE,
            xml BLOB NOT NULL           -- deflated
        );
        INSERT INTO inbox_payloads (inbox_id, xml) SELECT id, onecsync_pack(CAST(xml AS BLOB)) FROM inbox;
        ALTER TABLE inbox DROP COLUMN xml;
        -- A registration's payload after the mapping section was applied; none: the inbox copy.
        CREATE TABLE registration_payloads (
            registration_id INTEGER PRIMARY KEY REFERENCES registrations (id) ON DELETE CASCADE,
            xml BLOB NOT NULL           -- deflated
        );
        INSERT INTO registration_payloads (registration_id, xml)
            SELECT id, onecsync_pack(CAST(xml AS BLOB)) FROM registrations
            WHERE xml IS NOT NULL;
        ALTER TABLE registrations DROP COLUMN xml;
        -- What the closing reconcile and `status` list on every run: a handful of rows among
        -- a million, found without reading the others.
        CREATE INDEX inbox_parked ON inbox (status) WHERE status = 'parked';
        CREATE INDEX registrations_parked ON registrations (id) WHERE parked IS NOT NULL;
        -- How long the oldest unconfirmed registration waits (reconcile's "stuck", `status`),
        -- answered from the index as its count is.
        -- How many settlement documents wait, and how many of them came lately (`status`):
        -- from the index, not from 350,000 rows of the table.
        DROP INDEX inbox_status;
        CREATE INDEX inbox_status ON inbox (peer, status, type, updated_at);
        DROP INDEX registrations_open;
        CREATE INDEX registrations_open ON registrations
            (peer, message_no, confirmed_no, parked, registered_at)
            WHERE confirmed_no IS NULL AND parked IS NULL;
        """)


@MIGRATIONS(name="0005_trace")
def _trace(db: Database) -> None:
    """What `onecsync trace` answers from (state/trace.py): every version received, when each
    registration was stamped and confirmed, a document's number and date, an ИНН; and the
    indexes that find an object by any of them without reading a million rows (its
    registrations are found by their unique (peer, type, ref) once the inbox names its type).

    Rows from before it have none of these: trace says so rather than guess. One transaction
    with its record: a run killed in it leaves the state as it was."""
    in_the_transaction(db, """
        ALTER TABLE inbox ADD COLUMN number TEXT;      -- a document's Номер
        ALTER TABLE inbox ADD COLUMN date TEXT;        -- ... and Дата
        ALTER TABLE inbox ADD COLUMN inn TEXT;         -- the counterparty's ИНН, or its own
        ALTER TABLE registrations ADD COLUMN stamped_at TEXT;    -- when message_no was set
        ALTER TABLE registrations ADD COLUMN confirmed_at TEXT;  -- when confirmed_no was set
        -- Every version of an object a base sent us (the inbox holds only the newest): one row
        -- per new digest, not per copy 1C sends again until it is confirmed.
        -- Its row is the inbox row's (whose peer, type and Ссылка it shares): an integer,
        -- not 100 bytes of names again per version.
        CREATE TABLE versions (
            id INTEGER PRIMARY KEY,
            inbox_id INTEGER NOT NULL REFERENCES inbox (id) ON DELETE CASCADE,
            kind TEXT NOT NULL,
            message_no INTEGER,
            version TEXT NOT NULL,
            digest TEXT NOT NULL,
            received_at TEXT NOT NULL
        );
        CREATE INDEX versions_inbox ON versions (inbox_id);
        CREATE TRIGGER versions_new AFTER INSERT ON inbox BEGIN
            INSERT INTO versions (inbox_id, kind, message_no, version, digest, received_at)
            VALUES (new.id, new.kind, new.message_no, new.version, new.digest, new.updated_at);
        END;
        -- An object edited every day for years keeps its last 20 versions (KEEP_VERSIONS in
        -- state/trace.py), not one row per edit for ever.
        CREATE TRIGGER versions_changed AFTER UPDATE OF digest ON inbox
            WHEN new.digest != old.digest BEGIN
            INSERT INTO versions (inbox_id, kind, message_no, version, digest, received_at)
            VALUES (new.id, new.kind, new.message_no, new.version, new.digest, new.updated_at);
            DELETE FROM versions WHERE inbox_id = new.id AND id <= (SELECT id FROM versions
                WHERE inbox_id = new.id ORDER BY id DESC LIMIT 1 OFFSET 20);
        END;
        CREATE INDEX inbox_ref ON inbox (ref);
        CREATE INDEX inbox_number ON inbox (number) WHERE number IS NOT NULL;
        CREATE INDEX inbox_inn ON inbox (inn) WHERE inn IS NOT NULL;
        """)


@MIGRATIONS(name="0006_overtaken")
def _overtaken(db: Database) -> None:
    """What a base holds now (state/held.py) is the newer of its own last copy and what we
    registered for it: a registration it confirmed and then sent its own version over is
    `overtaken`. Rows of an older state hold NULL: their base is taken to hold what we sent,
    which at worst sends it a version it already has (a no-op in 1C), never drops a change."""
    in_the_transaction(db, """
        ALTER TABLE registrations ADD COLUMN overtaken INTEGER;  -- 1: its peer sent its own since
        """)


# The later migrations, registered after these, in order (a module of their own: this one stays
# small). Imported here, so that whoever asks for `MIGRATIONS` gets them all.
from onecsync.state import migrations_routing  # noqa: E402, F401
