"""Values read back from the state file, checked before use: the file is outside input too.

Public API: `Damaged`, `BadValue`, `stored_json(text)`, `typed(value, kinds, what)`.

SQLite keeps whatever a column is given, and the file can be edited by hand, restored from a
bad backup or damaged: a value this onecsync did not write is no value to compute with. A table's
reader checks each column it reads (`typed`, `stored_json`) and turns a `BadValue` into what its
table calls for: the run journal is history, so its reader leaves a damaged row out and says so;
a value the exchange depends on (a message number, a peer's versions) is `Damaged`, exit 3,
naming the table, the row and the remedy.
"""

from __future__ import annotations

from typing import Any

from onecsync import answers
from onecsync.errors import StateError

# The largest JSON value the state keeps (a run's report with every drift listed is well under).
JSON_LIMIT = 4 << 20


class BadValue(ValueError):
    """A stored value that is not what its column holds; its text says what it is instead."""


class Damaged(StateError):
    """A value the exchange depends on is damaged in the state file: exit 3, for a human."""

    remedy = "restore the state file from backup, or correct that value by hand with sqlite3"

    def __init__(self, path: object, table: str, row: object, what: str) -> None:
        super().__init__(f"the state file {path} is damaged: table {table}, row {row}: {what}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def typed(value: Any, kinds: type | tuple[type, ...], what: str) -> Any:
    """`value` if it is of `kinds` (an int is never a bool here), else `BadValue`."""
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise BadValue(f"{what} is {_shown(value)}")
    if not isinstance(value, kinds):
        raise BadValue(f"{what} is {_shown(value)}")
    return value


def stored_json(text: Any, what: str) -> Any:
    """The JSON value of a TEXT column: bounded in size and depth, one value per key."""
    typed(text, str, what)
    if len(text) > JSON_LIMIT:
        raise BadValue(f"{what} is {len(text)} characters long, more than any onecsync writes")
    try:
        return answers.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadValue(f"{what} is not valid JSON ({str(exc)[:80]})") from None
