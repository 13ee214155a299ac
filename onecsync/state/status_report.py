"""What `status` reports, typed: `StatusReport` of `PeerStatus` and `RunSummary`.

Public API: `PeerNumbers`, `Numbers` (`state show`), `StatusReport`, `PeerStatus`,
`FormatStatus`, `Rejected`, `Backlog`, `Unconfirmed`, `Stuck`, `Parked`, `RunSummary`, `InProgress`,
`SentBacklog`, `received_nothing_new(peer_run)`. Each `to_json()` is the `--json` contract
(key order included: tests/golden/json pins it). Pure data: state/reports.py builds these from
a handful of counts (never a row per object), console/status.py and pairs.py read them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from typing import Mapping

from onecsync.i18n import N_
from onecsync.runs import PeerRun
from onecsync.runs import ReceivedKind
from onecsync.text import one_line


@dataclass(frozen=True)
class PeerNumbers:
    """A peer's three message numbers and when it last exchanged: a line of `state show`, and
    the head of its `status` entry. `state_code`: the state belongs to another base (runs
    refuse it); None when it is this base's."""

    code: str
    known: bool
    sent_no: int = 0
    received_no: int = 0
    confirmed_no: int = 0
    last_received_at: str | None = None
    last_sent_at: str | None = None
    state_code: str | None = None

    def to_json(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "state_code"}
        if self.state_code is not None:
            out["state_code"] = self.state_code
        return out


@dataclass(frozen=True)
class Numbers:
    """`state show`: the numbers of every configured base; `exists`: is there a state yet."""

    state: str
    exists: bool
    peers: Mapping[str, PeerNumbers]

    def to_json(self) -> dict:
        return {"state": self.state, "exists": self.exists,
                "peers": {name: p.to_json() for name, p in self.peers.items()}}


# What a run summary keeps of each step's report (the rest is in `state export`).
_RECEIVED_KEYS = ("message_no", "objects", "deletions", "parked", "duplicate", "error")
_SENT_KEYS = ("message_no", "objects", "parked", "skipped", "error")


@dataclass(frozen=True)
class SentBacklog:
    """Objects sent to a base and not confirmed: `count` (None: not counted, the base is not
    stuck), since `first_message_no`, for `runs` finished runs; `stuck` at STUCK_AFTER_RUNS."""

    count: int | None
    first_message_no: int | None
    runs: int
    stuck: bool


@dataclass(frozen=True)
class Unconfirmed:
    count: int
    unsent: int
    oldest: str | None

    def to_json(self) -> dict:
        return {"count": self.count, "unsent": self.unsent, "oldest": self.oldest}


@dataclass(frozen=True)
class Stuck:
    count: int
    runs: int
    after_runs: int

    def to_json(self) -> dict:
        return {"count": self.count, "runs": self.runs, "after_runs": self.after_runs}


@dataclass(frozen=True)
class Parked:
    received: int
    unsendable: int

    @property
    def total(self) -> int:
        return self.received + self.unsendable

    def to_json(self) -> dict:
        return {"received": self.received, "unsendable": self.unsendable, "total": self.total}


@dataclass(frozen=True)
class Backlog:
    """What a base's registrations and inbox hold, counted (`peer_summary`). `awaiting_link`:
    settlement documents not forwarded yet, `awaiting_link_recent` of them received in the last
    `recent_days`; `withdrawn`: documents it was sent the deletion of while we hold them live
    (no longer linked); `marked_again`: copies sent to it again after their deletion, which 1C
    keeps marked for deletion until a user unmarks them; `staged`: type → count; `held`: flow →
    how many of the staged objects wait for that flow's routing (a command without it, as one
    flow from cron, leaves them staged); `inbox`: status → count; `untold`: of the held back,
    reason → count of those waiting for an organization the base has not sent (inbox.UNTOLD)."""

    unconfirmed: Unconfirmed
    stuck: Stuck
    parked: Parked
    awaiting_link: int
    awaiting_link_recent: int
    recent_days: int
    withdrawn: int
    marked_again: int
    staged: Mapping[str, int]
    held: Mapping[str, int]
    inbox: Mapping[str, int]
    untold: Mapping[str, int] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return {"unconfirmed": self.unconfirmed.to_json(), "stuck": self.stuck.to_json(),
                "parked": self.parked.to_json(), "awaiting_link": self.awaiting_link,
                "awaiting_link_recent": {"days": self.recent_days,
                                         "count": self.awaiting_link_recent},
                "withdrawn": self.withdrawn, "marked_again": self.marked_again,
                "staged": dict(self.staged), "held": dict(self.held), "inbox": dict(self.inbox),
                "untold": dict(self.untold)}


@dataclass(frozen=True)
class FormatStatus:
    """What we write to the base now (`ours`; None: no version in common, `problem` says so),
    what it wrote its last message in (`theirs`), and the versions it offers."""

    ours: str | None
    problem: str | None
    theirs: str | None
    offered: tuple[str, ...] | None

    def to_json(self) -> dict:
        return {"ours": self.ours, "problem": self.problem, "theirs": self.theirs,
                "offered": list(self.offered) if self.offered is not None else None}


@dataclass(frozen=True)
class Rejected:
    """The base's message in its folder now is one a run rejected (`file`, first rejected
    `since`, the `reason`, and the `quarantine` entry that keeps it): the exchange with the
    base is stuck until it writes a new message (review R4 #2: check and status said fine)."""

    file: str
    since: str | None
    reason: str | None
    quarantine: str

    def to_json(self) -> dict:
        return {"file": self.file, "since": self.since, "reason": self.reason,
                "quarantine": self.quarantine}

    def line(self, peer: str) -> str:
        """What check and status say of it, with the remedy."""
        return N_(f"{peer}: its message {one_line(self.file)} is rejected (since {self.since}: "
                  f"{self.reason}): nothing of it is received until the base writes a new one "
                  f"(fix what the reason names there and have it exchange again; the copy and "
                  f"the reason are in {self.quarantine})")


@dataclass(frozen=True)
class PeerStatus:
    """A base's entry: its numbers, format, declared object types and, once a state exists,
    its `backlog` (None before); `rejected`, its message in the folder if a run rejected it."""

    numbers: PeerNumbers
    format: FormatStatus
    object_types: tuple[str, ...] | None
    backlog: Backlog | None
    rejected: Rejected | None = None

    def to_json(self) -> dict:
        out = {**self.numbers.to_json(), "format": self.format.to_json(),
               "object_types": list(self.object_types) if self.object_types is not None
               else None, "rejected": self.rejected.to_json() if self.rejected else None}
        if self.backlog is not None:
            out.update(self.backlog.to_json())
        return out


@dataclass(frozen=True)
class RunSummary:
    """A journal entry as `status` shows it. `state`: ended, running (it holds the lock now)
    or died; `peers`: what each base's receive and send reported."""

    id: int
    command: str
    started_at: str | None
    ended_at: str | None
    exit_code: int | None
    error: str | None
    state: str
    peers: Mapping[str, PeerRun]

    def to_json(self) -> dict:
        peers = {}
        for name, peer in self.peers.items():
            item = {}
            if peer.received is not None:
                r = peer.received.to_json()
                item["received"] = {k: r[k] for k in _RECEIVED_KEYS if k in r}
            if peer.sent is not None:
                s = peer.sent.to_json()
                item["sent"] = {k: s[k] for k in _SENT_KEYS if k in s}
            peers[name] = item
        return {"id": self.id, "command": self.command, "started_at": self.started_at,
                "ended_at": self.ended_at, "exit_code": self.exit_code, "error": self.error,
                "state": self.state, "peers": peers}


def received_nothing_new(peer: PeerRun) -> bool:
    """The base's message was one we hold already (the same file, or its number)."""
    return peer.received is not None and peer.received.kind in (ReceivedKind.UNCHANGED,
                                                                ReceivedKind.DUPLICATE)


@dataclass(frozen=True)
class InProgress:
    """The run that holds the lock now: since when, its pid and command as the lock file
    names them, and its journal entry (`run`; None before it made one)."""

    since: str | None
    pid: Any
    command: Any
    run: int | None

    def to_json(self) -> dict:
        return {"since": self.since, "pid": self.pid, "command": self.command, "run": self.run}


@dataclass(frozen=True)
class StatusReport:
    """`status`: the config and state paths, our node, the lock's holder (the lock file's
    content, None when free), each configured base and the last runs."""

    config: str
    state: str
    node_code: str
    formats: tuple[str, ...]
    lock: Mapping[str, Any] | None
    exists: bool
    peers: Mapping[str, PeerStatus]
    runs: tuple[RunSummary, ...]
    in_progress: InProgress | None

    def to_json(self) -> dict:
        return {"config": self.config, "state": self.state,
                "node": {"code": self.node_code, "formats": list(self.formats)},
                "lock": dict(self.lock) if self.lock is not None else None,
                "exists": self.exists,
                "peers": {name: p.to_json() for name, p in self.peers.items()},
                "runs": [r.to_json() for r in self.runs],
                "in_progress": self.in_progress.to_json() if self.in_progress else None}


@dataclass(frozen=True)
class Count:
    """Rows of one (peer, what, type) counted: an inbox status or a registration's state."""

    peer: str
    what: str
    type: str
    count: int


@dataclass(frozen=True)
class ParkedItem:
    """A parked object: `received` from `peer`, or `unsendable` to it; `xml` only on request."""

    kind: str
    peer: str
    type: str
    ref: str
    reason: str | None
    line: int | None
    message_no: int | None
    at: str | None
    xml: str | None = None

    def to_json(self) -> dict:
        out = {"kind": self.kind, "peer": self.peer, "type": self.type, "ref": self.ref,
               "reason": self.reason, "line": self.line, "message_no": self.message_no,
               "at": self.at}
        if self.xml is not None:
            out["xml"] = self.xml
        return out


@dataclass(frozen=True)
class ExportReport:
    """`state export`: what support needs of a state, no payloads (but parked ones' on request).
    `peers`: each peer's row as stored, fingerprints left out; `runs`: journal entries as the
    journal holds them. Past `exists`, None when there is no state."""

    version: str
    config: str
    state: str
    node_code: str
    formats: tuple[str, ...]
    lock: Mapping[str, Any] | None
    exists: bool
    schema: tuple[str, ...] | None = None
    peers: Mapping[str, Mapping[str, Any]] | None = None
    inbox: tuple[Count, ...] = ()
    registrations: tuple[Count, ...] = ()
    parked: tuple[ParkedItem, ...] = ()
    runs: tuple[Mapping[str, Any], ...] = ()

    def to_json(self) -> dict:
        out = {"onecsync": self.version, "config": self.config, "state": self.state,
               "node": {"code": self.node_code, "formats": list(self.formats)},
               "lock": dict(self.lock) if self.lock is not None else None,
               "exists": self.exists}
        if not self.exists:
            return out
        return {**out, "schema": list(self.schema or ()), "peers": dict(self.peers or {}),
                "inbox": [{"peer": c.peer, "status": c.what, "type": c.type, "count": c.count}
                          for c in self.inbox],
                "registrations": [{"peer": c.peer, "type": c.type, "state": c.what,
                                   "count": c.count} for c in self.registrations],
                "parked": [p.to_json() for p in self.parked], "runs": list(self.runs)}
