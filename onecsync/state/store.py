"""The state as one unit of work: its connection, its transactions, and its tables.

Public API: `State` (open with `open_state`): `peers`, `inbox`, `outbox` (the registrations),
`invoices`, `journal` (the runs), `meta` and `headers` (of the messages taken), one module
each; what spans the inbox and the
registrations at once (parking) is here.

Only the state package writes SQL. Writes that belong together go through `State.atomic()`, so
a crash leaves either all of them or none.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sqlite3
from typing import TYPE_CHECKING
from typing import Iterable
from typing import Iterator

from onecsync.protocol.limits import TOO_LARGE
from onecsync.state.headers import Headers
from onecsync.state.held import Holdings
from onecsync.state.inbox import Inbox
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.invoices import Invoices
from onecsync.state.journal import Journal
from onecsync.state.meta import Meta
from onecsync.state.outbox import Outbox
from onecsync.state.peers import Peers
from onecsync.state.withdrawal import Withdrawals

if TYPE_CHECKING:
    from sqlite_utils import Database

_SAVEPOINTS = itertools.count()
log = logging.getLogger("onecsync")


class State:
    def __init__(self, conn: sqlite3.Connection | Database, path: str, checkpoint: bool = False) -> None:
        # A sqlite-utils Database is taken too: its connection is what is used.
        self.conn: sqlite3.Connection = conn if isinstance(conn, sqlite3.Connection) else conn.conn
        self.path = path
        # A run's state: its write-ahead log is copied into the file as it closes (see `close`).
        self.checkpoint = checkpoint
        self.peers = Peers(self)
        self.headers = Headers(self)
        self.inbox = Inbox(self)
        self.outbox = Outbox(self)
        self.held = Holdings(self)
        self.invoices = Invoices(self)
        self.journal = Journal(self)
        self.meta = Meta(self)
        self.withdrawals = Withdrawals(self)

    @property
    def db(self) -> Database:
        """The connection seen through sqlite-utils, imported on first use (start-up stays light)."""
        from sqlite_utils import Database

        return Database(self.conn, execute_plugins=False)

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

    # -- parked objects, both ways ----------------------------------------------------------
    def not_parked(self, refs: Iterable[str]) -> list[str]:
        """Those of `refs` that no parked object has (a typo, or retried already)."""
        out = []
        for ref in refs:
            if self.conn.execute(
                    f"SELECT 1 FROM inbox WHERE ref = ? AND status = {S.PARKED.literal} UNION ALL "
                    "SELECT 1 FROM registrations WHERE ref = ? AND parked IS NOT NULL LIMIT 1",
                    (ref.lower(), ref.lower())).fetchone() is None:
                out.append(ref)
        return out

    def unpark(self, refs: Iterable[str] | None) -> int:
        """Parked objects (all, or those with these Ссылки) are evaluated again by the next
        routing and send; the reason stays until then, so routing looks at each one."""
        where, params = "", ()  # type: tuple[str, tuple[str, ...]]
        if refs is not None:
            refs = [r.lower() for r in refs]
            where = f" AND ref IN ({', '.join('?' for _ in refs)})"
            params = tuple(refs)
        # One parked for its size holds its keys alone: sent, it would empty the object.
        n = self.conn.execute(f"UPDATE inbox SET status = {S.STAGED.literal} WHERE status = "
                              f"{S.PARKED.literal} AND coalesce(reason, '') NOT LIKE "
                              f"'{TOO_LARGE}%'{where}", params).rowcount
        n += self.conn.execute(f"UPDATE registrations SET parked = NULL WHERE parked IS NOT NULL{where}",
                               params).rowcount
        return n

    def close(self) -> None:
        """The connection closed; a run's, after the one checkpoint of its log (state/__init__.py
        turns the automatic ones off): SQLite makes it as the last connection closes, but a
        reader (`status`) still open keeps it from that. Passive: it copies what no reader still
        needs and waits for none. One that fails leaves the log as it is, every commit in it, for
        the next run's."""
        if self.checkpoint and not self.conn.in_transaction:
            try:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error as exc:
                log.debug("state: the closing checkpoint was not made (%s): the log keeps it", exc)
        self.conn.close()
