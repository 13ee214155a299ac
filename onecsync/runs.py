"""What an exchange command did, typed: the report `--json` prints and the run journal keeps.

Public API: `ReceivedKind`, `Received`, `Sent`, `PeerRun`, `Routed`, `RunError`, `RunReport`;
each has `to_json()`,
the `--json` contract (key order included: tests/golden/json pins it), and `from_json(data)`,
which reads that document back, as the journal (state's `runs` table) holds it, rows written
by older versions included (a key they lack takes its default). What the journal holds is
checked as it is read: a value of the wrong kind is `stored.BadValue`, never a report that
fails later where it is shown.

Pure data: no I/O, imported by the flows that build reports, by state.reports that reads the
journal, and by the console that prints them.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from dataclasses import field
from types import MappingProxyType
from typing import Any
from typing import Mapping

from onecsync.stored import typed


class ReceivedKind(enum.Enum):
    """What became of the base's message file in this run."""

    NONE = "none"                    # no message from the base
    UNCHANGED = "unchanged"          # the same file as in the last run
    REJECTED_BEFORE = "rejected_before"  # rejected in an earlier run: skipped (quarantine)
    INCOMPLETE = "incomplete"        # looks unfinished: read again on the next run
    SETTINGS_ONLY = "settings_only"  # versions and object types recorded
    DUPLICATE = "duplicate"          # a number we already hold: skipped
    APPLIED = "applied"              # staged, confirmations taken
    FAILED = "failed"                # the step failed: `error`, `code`


_EMPTY: Mapping[str, Any] = MappingProxyType({})
_NUMBER = (int, type(None))
_TEXT = (str, type(None))


def _obj(value: Any, what: str) -> Mapping[str, Any]:
    return typed(value, dict, what)


def _num(d: Mapping[str, Any], key: str, default: int | None = 0) -> Any:
    return typed(d.get(key, default), _NUMBER if default is None else int, key)


def _text(d: Mapping[str, Any], key: str) -> Any:
    return typed(d.get(key), _TEXT, key)


def _tally(value: Any, what: str) -> Mapping[str, int] | None:
    """type → count, as `by_type` and `skipped_unknown` keep them."""
    if value is None:
        return None
    for key, n in _obj(value, what).items():
        typed(n, int, f"{what}.{key}")
    return value


@dataclass(frozen=True)
class Received:
    kind: ReceivedKind
    file: str | None = None
    # (MessageNo, ReceivedNo) once the header was read; None before.
    numbers: tuple[int | None, int | None] | None = None
    restored: bool = False           # the base went back to an older number (a restore)
    resent: int = 0                  # objects registered again after that restore
    confirmed: int | None = None     # registrations the base's ReceivedNo confirmed
    objects: int = 0
    deletions: int = 0
    parked: int = 0
    skipped_unknown: Mapping[str, int] | None = None  # type → count, unknown in the version
    # What the quarantine says of a file rejected before or not complete yet, as it says it
    # (rejected_before, reason, quarantine; incomplete, since, why, reason, settle_minutes).
    note: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    error: str | None = None
    code: int | None = None

    @property
    def message_no(self) -> int | None:
        return self.numbers[0] if self.numbers else None

    @property
    def received_no(self) -> int | None:
        return self.numbers[1] if self.numbers else None

    def to_json(self) -> dict:
        k = ReceivedKind
        if self.kind is k.FAILED:
            return {"error": self.error, "code": self.code}
        out: dict[str, Any] = {"file": self.file}
        if self.kind is k.NONE:
            return out
        if self.kind is k.UNCHANGED:
            return {**out, "unchanged": True, "duplicate": True}
        if self.numbers is not None:
            out.update(message_no=self.numbers[0], received_no=self.numbers[1])
        if self.kind in (k.REJECTED_BEFORE, k.INCOMPLETE):
            return {**out, **self.note}
        if self.kind is k.SETTINGS_ONLY:
            return {**out, "settings_only": True}
        if self.kind is k.DUPLICATE:
            return {**out, "duplicate": True}
        if self.restored:
            out.update(restored=True, resent=self.resent)
        if self.confirmed is not None:
            out["confirmed"] = self.confirmed
        out.update(objects=self.objects, deletions=self.deletions, parked=self.parked,
                   duplicate=False)
        if self.skipped_unknown:
            out["skipped_unknown"] = dict(self.skipped_unknown)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Received:
        k = ReceivedKind
        d = _obj(d, "received")
        numbers = (_num(d, "message_no", None), _num(d, "received_no", None)) \
            if "message_no" in d else None
        if "error" in d:
            return cls(k.FAILED, error=_text(d, "error"), code=_num(d, "code", None))
        file = _text(d, "file")
        if file is None and len(d) <= 1:
            return cls(k.NONE)
        if d.get("unchanged"):
            return cls(k.UNCHANGED, file)
        note_keys = ("rejected_before", "incomplete")
        if any(key in d for key in note_keys):
            kind = k.REJECTED_BEFORE if "rejected_before" in d else k.INCOMPLETE
            note = {key: v for key, v in d.items()
                    if key not in ("file", "message_no", "received_no")}
            return cls(kind, file, numbers, note=MappingProxyType(note))
        if d.get("settings_only"):
            return cls(k.SETTINGS_ONLY, file, numbers)
        if d.get("duplicate"):
            return cls(k.DUPLICATE, file, numbers)
        return cls(k.APPLIED, file, numbers, restored=bool(d.get("restored")),
                   resent=_num(d, "resent"), confirmed=_num(d, "confirmed", None),
                   objects=_num(d, "objects"), deletions=_num(d, "deletions"),
                   parked=_num(d, "parked"),
                   skipped_unknown=_tally(d.get("skipped_unknown"), "skipped_unknown"))


@dataclass(frozen=True)
class Sent:
    """Our message to a base: written (`message_no`), nothing new (`message_no` None, the
    `pending` ones already sent), `skipped` (why), or failed (`error`, `code`)."""

    message_no: int | None = None
    objects: int = 0
    pending: int = 0
    version: str | None = None
    by_type: Mapping[str, int] = field(default_factory=lambda: _EMPTY)
    parked: int = 0
    file: str | None = None
    skipped: str | None = None
    error: str | None = None
    code: int | None = None

    def to_json(self) -> dict:
        if self.error is not None:
            return {"error": self.error, "code": self.code}
        if self.skipped is not None:
            return {"skipped": self.skipped}
        if self.message_no is None:
            return {"message_no": None, "objects": self.objects, "pending": self.pending}
        out = {"message_no": self.message_no, "version": self.version, "objects": self.objects,
               "by_type": dict(self.by_type), "parked": self.parked}
        if self.file is not None:
            out["file"] = self.file
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Sent:
        d = _obj(d, "sent")
        return cls(message_no=_num(d, "message_no", None), objects=_num(d, "objects"),
                   pending=_num(d, "pending"), version=_text(d, "version"),
                   by_type=MappingProxyType(dict(_tally(d.get("by_type"), "by_type") or {})),
                   parked=_num(d, "parked"), file=_text(d, "file"), skipped=_text(d, "skipped"),
                   error=_text(d, "error"), code=_num(d, "code", None))


@dataclass(frozen=True)
class PeerRun:
    received: Received | None = None
    sent: Sent | None = None

    def to_json(self) -> dict:
        out = {}
        if self.received is not None:
            out["received"] = self.received.to_json()
        if self.sent is not None:
            out["sent"] = self.sent.to_json()
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> PeerRun:
        r, s = _obj(d, "a peer").get("received"), d.get("sent")
        return cls(Received.from_json(r) if r else None, Sent.from_json(s) if s else None)


@dataclass(frozen=True)
class Routed:
    """What routing one flow did (flows/route.py counts it); `to_json` names the non-zero."""

    registered: int = 0
    filtered: int = 0
    echo: int = 0
    parked: int = 0
    waiting: int = 0
    ignored: int = 0

    def to_json(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Routed:
        d = _obj(d, "routed")
        return cls(**{k: typed(d.get(k) or 0, int, k) for k in cls.__dataclass_fields__})


# routed: flow → Routed; besides the flows, "retry" → {"unparked": n} and "healed" → n.
RoutedItem = Routed | Mapping[str, Any] | int


def _routed_json(item: RoutedItem) -> Any:
    if isinstance(item, Routed):
        return item.to_json()
    return dict(item) if isinstance(item, Mapping) else item


def _routed_item(name: str, item: Any) -> RoutedItem:
    if isinstance(item, Mapping) and name != "retry":
        return Routed.from_json(item)
    if isinstance(item, Mapping):
        return _tally(item, name) or {}
    return typed(item, int, name)


@dataclass(frozen=True)
class RunError:
    code: int
    message: str

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message}


@dataclass(frozen=True)
class RunReport:
    """An exchange command's report. `routed`: flow → what its routing counted, and `retry`
    (unparked), `healed` (what reconcile --heal registered again); `drift`: None when the command
    did not reconcile, else each drift as reconcile describes it (kind, peer, type, ref,
    detail, healable); `extra`: keys the journal adds (drift_summary) or a newer version wrote,
    kept as they are."""

    command: str
    exit_code: int
    dry_run: bool
    peers: Mapping[str, PeerRun] = field(default_factory=lambda: _EMPTY)
    routed: Mapping[str, RoutedItem] = field(default_factory=lambda: _EMPTY)
    errors: tuple[RunError, ...] = ()
    drift: tuple[Mapping[str, Any], ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)

    @property
    def parked(self) -> int:
        """Objects parked in this run: received, routed or sent."""
        return (sum(p.received.parked for p in self.peers.values() if p.received)
                + sum(p.sent.parked for p in self.peers.values() if p.sent)
                + sum(r.parked for r in self.routed.values() if isinstance(r, Routed)))

    def to_json(self) -> dict:
        out = {"command": self.command, "exit_code": self.exit_code, "dry_run": self.dry_run,
               "peers": {name: p.to_json() for name, p in self.peers.items()},
               "routed": {name: _routed_json(r) for name, r in self.routed.items()},
               "errors": [e.to_json() for e in self.errors]}
        if self.drift is not None:
            out["drift"] = [dict(d) for d in self.drift]
        return {**out, **self.extra}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RunReport:
        """The report `d` holds; `BadValue` naming the first value of a wrong kind."""
        known = ("command", "exit_code", "dry_run", "peers", "routed", "errors", "drift")
        d = _obj(d, "the report")
        drift = typed(d.get("drift"), (list, type(None)), "drift")
        errors = typed(d.get("errors") or [], list, "errors")
        return cls(command=typed(d.get("command", ""), str, "command"),
                   exit_code=_num(d, "exit_code"), dry_run=bool(d.get("dry_run")),
                   peers={name: PeerRun.from_json(p or {})
                          for name, p in _obj(d.get("peers") or {}, "peers").items()},
                   routed={name: _routed_item(name, r)
                           for name, r in _obj(d.get("routed") or {}, "routed").items()},
                   errors=tuple(RunError(_num(e, "code"), typed(e.get("message", ""), str,
                                                                 "an error's message"))
                                for e in (_obj(e, "an error") for e in errors)),
                   drift=tuple(_obj(x, "a drift") for x in drift) if drift is not None else None,
                   extra={key: v for key, v in d.items() if key not in known})

