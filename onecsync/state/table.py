"""What every table of the state shares: the `State` it belongs to (its connection, its
transaction) and the clock its rows are stamped with.

Public API: `Table`, `now_text()`.
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
