"""What every table of the state shares: the `State` it belongs to (its connection, its
transaction) and the clock its rows are stamped with.

Public API: `Table`, `now_text()`, `marks(values)`, `distinct(conn, column, rows, args)`.
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING
from typing import Sized

from onecsync import clock

if TYPE_CHECKING:
    from onecsync.state.store import State


def marks(values: Sized) -> str:
    """The `?, ?, …` of an `IN (…)` for these values."""
    return ", ".join(["?"] * len(values))


def distinct(conn: sqlite3.Connection, column: str, rows: str, args: tuple) -> list[str]:
    """The distinct values of `column` among `rows` (`FROM … WHERE …`, its `?`s bound to
    `args`), in order, one index seek each (a skip-scan): a million rows are a few values, and
    SQLite's own DISTINCT would walk every index entry to find them."""
    out: list[str] = []
    while (row := conn.execute(f"SELECT {column} {rows} AND {column} > ? ORDER BY {column} "
                               "LIMIT 1", (*args, out[-1] if out else "")).fetchone()) is not None:
        out.append(row[0])
    return out


def now_text() -> str:
    return clock.utc_now().isoformat(timespec="seconds")


class Table:
    """One table (or a few that always go together) of a `State`, seen through its connection.

    The connection and `atomic()` are the state's, read on each use: a transaction is the
    state's whole unit of work, whichever tables it writes."""

    def __init__(self, state: State) -> None:
        self._state = state

    @property
    def conn(self) -> sqlite3.Connection:
        return self._state.conn

    @property
    def path(self) -> str:
        return self._state.path
