"""Staging into an empty inbox (a first exchange): what SQLite would do for each new row, done
once for a batch of rows instead, in the same transaction, with the same result.

Public API: `FirstFill.start(state)` (None unless the inbox is empty), `rows(add, upsert, count)`,
`finish()`.

Staged row by row, a first exchange pays more for the inbox's secondary indexes (filled entry
by entry, in random order) and triggers than for its rows (issue 15): `versions_new`, which
keeps each row's first version, runs once per row (two thirds of the upserts' time), and
`versions_changed`, on updates, costs every upsert something even when none conflicts. So the
indexes are dropped and made again at the end from the sorted rows; a trigger of the simple
form "after insert, copy these columns of the new row into another table" is dropped and run
as one INSERT … SELECT over each batch's new ids; one on updates is dropped, since into an
empty inbox only an object twice in the message updates a row, and that batch goes again with
every trigger back. The DDL is inside the staging transaction (a crash or an error rolls it
back with the rows), and what is made again is the schema's own text.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Callable

if TYPE_CHECKING:
    from onecsync.state.store import State

# A trigger that copies columns of each new inbox row into another table, and does nothing
# else: what it does for a batch of rows is one INSERT … SELECT, in the rows' order.
_COPYING = re.compile(
    r"CREATE TRIGGER \w+ AFTER INSERT ON inbox BEGIN\s+"
    r"(?P<insert>INSERT INTO \w+ \([\w\s,]+\))\s+"
    r"VALUES \((?P<values>new\.\w+(?:,\s*new\.\w+)*)\);\s+END")
# A trigger on updates: in an empty inbox only an object twice in the message updates a row,
# and that batch is run again with the triggers back. Present, it slows every upsert (SQLite
# prepares for it on each row, conflict or not).
_ON_UPDATE = re.compile(r"CREATE TRIGGER \w+ AFTER UPDATE\b")


@dataclass
class FirstFill:
    state: State
    indexes: list[str]  # the inbox's secondary indexes, as the schema holds them
    triggers: list[str] = field(default_factory=list)  # dropped: made again by `finish`
    copies: list[str] = field(default_factory=list)  # what they do, over the ids after `?`

    @classmethod
    def start(cls, state: State) -> FirstFill | None:
        """Into an empty inbox, drop what is filled after the rows; else None (row by row)."""
        conn = state.conn
        if conn.execute("SELECT 1 FROM inbox LIMIT 1").fetchone() is not None:
            return None
        found = conn.execute(
            "SELECT type, name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') "
            "AND tbl_name = 'inbox' AND sql IS NOT NULL AND sql NOT LIKE 'CREATE UNIQUE%' "
            "ORDER BY type, name").fetchall()
        triggers = {name: (sql, _COPYING.fullmatch(sql)) for kind, name, sql in found
                    if kind == "trigger"}
        # Another kind of trigger on inserts must see each row: then every trigger stays.
        if not all(m is not None or _ON_UPDATE.match(sql) for sql, m in triggers.values()):
            triggers = {}
        fill = cls(state, [sql for kind, _, sql in found if kind == "index"])
        for kind, name, _ in found:
            if kind == "index" or name in triggers:
                conn.execute(f'DROP {kind.upper()} "{name}"')
        for sql, m in triggers.values():
            fill.triggers.append(sql)
            if m is not None:
                columns = ", ".join(v.strip()[len("new."):] for v in m["values"].split(","))
                fill.copies.append(f"{m['insert']} SELECT {columns} FROM inbox WHERE id > ? "
                                   "ORDER BY id")
        return fill

    def rows(self, add: Callable[[], object], upsert: Callable[[], object],
             count: int) -> int | None:
        """Stage a batch of `count` objects: `add` them as new rows (a plain INSERT, which
        fails on an object the inbox holds already), then do what the dropped triggers would
        have done for them; returns the id of the first when they are the `count` ids from
        there on, in order (SQLite gives a new row the highest id + 1).

        A batch with an object the inbox holds already (twice in the message) is undone and
        staged by `upsert` with the triggers back, as is every batch after it (None): an update
        must be seen by them. Undone by deleting what it added, not by a savepoint: a savepoint
        journals every page the batch changes to a temporary file (2 MB on 20,000 objects)."""
        if not self.triggers:
            upsert()
            return None
        conn = self.state.conn
        before = conn.execute("SELECT coalesce(max(id), 0) FROM inbox").fetchone()[0]
        try:
            add()
        except sqlite3.IntegrityError:  # a row the schema refuses fails again in `upsert`
            conn.execute("DELETE FROM inbox WHERE id > ?", (before,))
            self._triggers_back()
            upsert()
            return None
        for copy in self.copies:
            conn.execute(copy, (before,))
        in_order = conn.execute("SELECT max(id) FROM inbox").fetchone()[0] == before + count
        return before + 1 if in_order else None

    def _triggers_back(self) -> None:
        for sql in self.triggers:
            self.state.conn.execute(sql)
        self.triggers, self.copies = [], []

    def finish(self) -> None:
        """The indexes filled from the rows, and the triggers back for the rows to come."""
        for sql in self.indexes:
            self.state.conn.execute(sql)
        self._triggers_back()
