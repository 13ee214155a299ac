"""The headers of the base messages we took, a bounded record per peer (protocol/dating.py).

Public API: `Headers` (as `State.headers`), `KEEP`.

What tells a file delivered again from a restored base's new message under the same number is
the header we took under it; a restore marks the headers of the life the base left
`abandoned` (a file of that life turning up again is then known for what it is).
"""

from __future__ import annotations

from onecsync.protocol.dating import Taken
from onecsync.protocol.dating import same
from onecsync.state.table import Table

# Headers kept per peer, the oldest dropped first: two weeks of a base exchanging every five
# minutes, about 60 bytes each. A restore to an older backup is judged by its dates alone.
KEEP = 4096

_COLUMNS = "message_no, created, received_no, abandoned"


def _taken(row: tuple) -> Taken:
    return Taken(int(row[0]), str(row[1]), None if row[2] is None else int(row[2]), bool(row[3]))


class Headers(Table):
    def seen(self, peer: str, message_no: int, created: str,
             received_no: int | None) -> Taken | None:
        """The header we took that this one is, of this life first."""
        rows = self.conn.execute(f"SELECT {_COLUMNS} FROM received_headers WHERE peer = ? AND "
                                 "message_no = ? ORDER BY abandoned, id DESC LIMIT 64",
                                 (peer, message_no)).fetchall()
        return next((t for t in map(_taken, rows) if same(t, message_no, created, received_no)),
                    None)

    def around(self, peer: str,
               message_no: int) -> tuple[Taken | None, Taken | None] | None:
        """This life's headers nearest below and at-or-above `message_no`; None if none is kept."""
        q = (f"SELECT {_COLUMNS} FROM received_headers WHERE peer = ? AND abandoned = 0 AND "
             "message_no {} ? ORDER BY message_no {}, id DESC LIMIT 1")
        lower = self.conn.execute(q.format("<", "DESC"), (peer, message_no)).fetchone()
        higher = self.conn.execute(q.format(">=", "ASC"), (peer, message_no)).fetchone()
        if lower is None and higher is None:
            return None
        return (None if lower is None else _taken(lower), None if higher is None else _taken(higher))

    def take(self, peer: str, message_no: int, created: str, received_no: int | None,
             restored: bool) -> None:
        """Record a header taken; `restored`: this life's from its number on were another's."""
        if restored:
            self.abandon_from(peer, message_no)
        self.conn.execute("INSERT INTO received_headers (peer, message_no, created, received_no) "
                          "VALUES (?, ?, ?, ?)", (peer, message_no, created, received_no))
        self.conn.execute("DELETE FROM received_headers WHERE peer = ? AND id <= (SELECT id FROM "
                          "received_headers WHERE peer = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                          (peer, peer, KEEP))

    def abandon_from(self, peer: str, message_no: int) -> None:
        """The headers of this life numbered `message_no` and up are of a life the base left."""
        self.conn.execute("UPDATE received_headers SET abandoned = 1 WHERE peer = ? AND "
                          "abandoned = 0 AND message_no >= ?", (peer, message_no))

    def forget_above(self, peer: str, message_no: int) -> None:
        self.conn.execute("DELETE FROM received_headers WHERE peer = ? AND message_no > ?",
                          (peer, message_no))
