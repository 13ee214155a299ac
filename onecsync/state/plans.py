"""What a `state` command changes (set-numbers, resend): its plan, typed.

Public API: `NumbersPlan`, `ResendPlan`, `StatePlan` (either). `to_json()` is the `--json`
document (without the exit code, which the command adds) and what the run journal keeps of
an applied change. `applied` says whether it was done or only planned.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any
from typing import Mapping


@dataclass(frozen=True)
class NumbersPlan:
    """`before` and `after`: sent_no, received_no, confirmed_no; `resent`: objects sent but
    not confirmed that go again; `notes`: what the admin must know, one line each."""

    peer: str
    before: Mapping[str, int]
    after: Mapping[str, int]
    resent: int
    notes: tuple[str, ...]
    applied: bool = False

    action = "set-numbers"

    def to_json(self) -> dict:
        return {"action": self.action, "peer": self.peer, "before": dict(self.before),
                "after": dict(self.after), "resent": self.resent, "notes": list(self.notes),
                "applied": self.applied}

    def done(self) -> NumbersPlan:
        return dataclasses.replace(self, applied=True)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> NumbersPlan:
        return cls(d["peer"], dict(d["before"]), dict(d["after"]), d.get("resent", 0),
                   tuple(d.get("notes") or ()), bool(d.get("applied")))


@dataclass(frozen=True)
class ResendPlan:
    """Every object of `types` the peer gets from `source` again: `registrations` (type →
    count) registered before, `rerouted` (type → count) set aside when they came and routed
    now, `total` of both."""

    peer: str
    source: str
    types: tuple[str, ...]
    registrations: Mapping[str, int]
    rerouted: Mapping[str, int]
    total: int
    notes: tuple[str, ...]
    applied: bool = False

    action = "resend"

    def to_json(self) -> dict:
        return {"action": self.action, "peer": self.peer, "source": self.source,
                "types": list(self.types), "registrations": dict(self.registrations),
                "rerouted": dict(self.rerouted), "total": self.total, "notes": list(self.notes),
                "applied": self.applied}

    def done(self) -> ResendPlan:
        return dataclasses.replace(self, applied=True)

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> ResendPlan:
        return cls(d["peer"], d["source"], tuple(d.get("types") or ()),
                   dict(d.get("registrations") or {}), dict(d.get("rerouted") or {}),
                   d.get("total", 0), tuple(d.get("notes") or ()), bool(d.get("applied")))


StatePlan = NumbersPlan | ResendPlan
