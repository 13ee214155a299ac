"""The peers table: each base's code, message numbers and what it declared.

Public API: `PeerState`, `Peers` (as `State.peers`), `SET`, `FORCED`.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from dataclasses import fields

from onecsync.errors import StateError
from onecsync.state.table import Table
from onecsync.stored import BadValue
from onecsync.stored import Damaged
from onecsync.stored import stored_json
from onecsync.stored import typed


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
    stale_since: str | None = None      # since when its newer messages are skipped as dated
    stale_runs: int | None = None       # before the last one taken, and for how many runs
    received_set: str | None = None  # SET or FORCED: received_no was typed (state set-numbers)
    received_high: int = 0           # the highest MessageNo ever taken from the peer
    restored_at: str | None = None   # when we last took it for restored and sent it all again
    restored_sent: int | None = None  # our last message then: the resend is in a later one


# How received_no came to be, when not from a message of the peer: typed, checked against its
# message and what we took (SET), or taken with --force (FORCED).
SET, FORCED = "set", "forced"
_PEER_COLUMNS = tuple(f.name for f in fields(PeerState))
_JSON_COLUMNS = ("versions", "object_types")
_NUMBERS = ("sent_no", "received_no", "confirmed_no")  # the message numbers: never NULL
_OPTIONAL_NUMBERS = ("out_no", "out_received_no", "stale_runs", "received_high",
                     "restored_sent")


def _checked_numbers(values: dict) -> None:
    for col in _NUMBERS + _OPTIONAL_NUMBERS:
        value = values.get(col)
        if col not in values or (value is None and col in _OPTIONAL_NUMBERS):
            continue
        typed(value, int, col)  # its range is numbering's to judge, as the message said it


def _checked(values: dict) -> dict:
    """A peers row as read, every column of the kind it holds; BadValue naming the first that
    is not: a message number or a version that is no value would be taken as one."""
    _checked_numbers(values)
    for col, value in values.items():
        if col in _NUMBERS or col in _OPTIONAL_NUMBERS:
            continue
        if col in _JSON_COLUMNS:
            if value is not None:
                values[col] = stored_json(value, col)
        else:
            typed(value, str if col in ("name", "code") else (str, type(None)), col)
    if values["versions"] is not None:
        values["versions"] = tuple(typed(v, str, "versions[]")
                                   for v in typed(values["versions"], list, "versions"))
    for decl in typed(values["object_types"] or [], list, "object_types"):
        typed(typed(decl, dict, "object_types[]").get("name"), str, "object_types[].name")
    return values


class Peers(Table):
    def ensure(self, name: str, code: str) -> PeerState:
        row = self.conn.execute("SELECT code, sent_no + received_no + confirmed_no FROM peers "
                                "WHERE name = ?", (name,)).fetchone()
        if row is None:
            with self._state.atomic():
                self.conn.execute("INSERT INTO peers (name, code) VALUES (?, ?)", (name, code))
        elif row[0] != code and not row[1]:
            # No message ever went either way under the old code: a code the admin has just
            # corrected (after run or check said it was wrong), not another base's state.
            with self._state.atomic():
                self.conn.execute("UPDATE peers SET code = ? WHERE name = ?", (code, name))
        elif row[0] != code:
            raise StateError(
                f"state file {self.path} belongs to a {name} base with code {row[0]}, "
                f"but the config names {code}",
                remedy="use the state file of this base, or restore the old code in the config")
        return self.get(name)

    @functools.cached_property
    def _present(self) -> tuple[str, ...]:
        """The peer columns this state file has: `status` and `check` read an older onecsync's
        state without migrating it, where a later column (0011's stale_since, 0012's
        received_high) is not there yet and stands at its default."""
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(peers)")}
        return tuple(c for c in _PEER_COLUMNS if c in have)

    def get(self, name: str) -> PeerState:
        columns = self._present
        row = self.conn.execute(f"SELECT {', '.join(columns)} FROM peers WHERE name = ?",
                                (name,)).fetchone()
        if row is None:
            raise KeyError(name)
        values = dict.fromkeys(_PEER_COLUMNS) | dict(zip(columns, row, strict=True))
        if "received_high" not in columns:  # what migration 0012 would take, at the least
            values["received_high"] = values["received_no"]
        try:
            return PeerState(**_checked(values))
        except BadValue as exc:
            raise Damaged(self.path, "peers", repr(name), str(exc)) from None

    def all(self) -> list[PeerState]:
        names = [r[0] for r in self.conn.execute("SELECT name FROM peers ORDER BY name")]
        return [self.get(n) for n in names]

    def update(self, name: str, **values) -> None:
        unknown = set(values) - set(_PEER_COLUMNS)
        if unknown:
            raise ValueError(f"unknown peer columns {unknown}")
        for col in _JSON_COLUMNS:
            if col in values and values[col] is not None:
                values[col] = json.dumps(list(values[col]), ensure_ascii=False)
        sets = ", ".join(f"{k} = ?" for k in values)
        self.conn.execute(f"UPDATE peers SET {sets} WHERE name = ?", (*values.values(), name))

    def numbers(self, name: str) -> tuple[int, int, int] | None:
        """(sent_no, received_no, confirmed_no), or None for a peer the state has never met."""
        row = self.conn.execute("SELECT sent_no, received_no, confirmed_no FROM peers "
                                "WHERE name = ?", (name,)).fetchone()
        return None if row is None else self._numbers(name, row, _NUMBERS)

    def _numbers(self, name: str, row: tuple, cols: tuple[str, ...]) -> tuple:
        try:
            _checked_numbers(dict(zip(cols, row, strict=True)))
        except BadValue as exc:
            raise Damaged(self.path, "peers", repr(name), str(exc)) from None
        return row

    def heard(self, name: str) -> tuple[int, int, str | None] | None:
        """(sent_no, confirmed_no, last_received_at): has the peer ever answered?"""
        row = self.conn.execute("SELECT sent_no, confirmed_no, last_received_at FROM peers "
                                "WHERE name = ?", (name,)).fetchone()
        return None if row is None else \
            self._numbers(name, row, ("sent_no", "confirmed_no", "last_received_at"))

    def renumber_sent(self, name: str, sent: int) -> None:
        """Our next message is numbered `sent + 1`; the last file we wrote is forgotten, so the
        next run writes one in the new numbering."""
        self.conn.execute("UPDATE peers SET sent_no = ?, confirmed_no = min(confirmed_no, ?), "
                          "out_received_no = NULL, out_fingerprint = NULL WHERE name = ?",
                          (sent, sent, name))

    def renumber_received(self, name: str, received: int, forced: bool = False) -> None:
        """The peer's next message is taken if numbered above `received`, its file read again,
        whatever its date: the headers we took above `received` are forgotten (a human said so),
        and the number is remembered as typed until a message of the peer sets it."""
        self.conn.execute("UPDATE peers SET received_no = ?, in_fingerprint = NULL, "
                          "received_created = NULL, stale_since = NULL, stale_runs = NULL, "
                          "received_set = ? WHERE name = ?",
                          (received, FORCED if forced else SET, name))
        self._state.headers.forget_above(name, received)

    def exchanged(self) -> bool:
        """Has any message gone either way? Until then a code is the admin's to correct."""
        return bool(self.conn.execute(
            "SELECT coalesce(sum(sent_no + received_no + confirmed_no), 0) FROM peers").fetchone()[0])
