"""What a run did: its steps' outcome by base, the exit code of its most serious failure, and
its report, as the command prints it and as the journal keeps it.

Public API: `Outcome` (its `exit_code` and `report()`, the typed `onecsync.runs.RunReport`),
`PeerSteps`, `SEVERITY`, `journal_report(report)`, `DRIFT_LINES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import TypedDict

from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError
from onecsync.runs import PeerRun
from onecsync.runs import Received
from onecsync.runs import RoutedItem
from onecsync.runs import RunError
from onecsync.runs import RunReport
from onecsync.runs import Sent

# Most serious first: the exit code of a run is the first of these that occurred.
SEVERITY = (ExitCode.BUG, ExitCode.CONFIG, ExitCode.CONFLICT, ExitCode.REJECTED,
            ExitCode.TEMPORARY, ExitCode.PARTIAL, ExitCode.DRIFT, ExitCode.OK)


# Drift lines a run logs, and drift items its journal entry keeps (with the counts by kind).
DRIFT_LINES = 30
JOURNAL_DRIFT = 20


def journal_report(report: RunReport) -> dict:
    """The run report as the journal keeps it: the drift summarized, so that an idle run with
    4,000 parked objects adds a few KB to the state, not 1 MB."""
    data = report.to_json()
    drift = data.get("drift")
    if not drift:
        return data
    by_kind: dict[str, int] = {}
    for d in drift:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + 1
    return {**data, "drift": drift[:JOURNAL_DRIFT],
            "drift_summary": {"total": len(drift), "by_kind": by_kind}}


class PeerSteps(TypedDict, total=False):
    """What the steps did with one base so far: the report's PeerRun once they are done."""

    received: Received
    sent: Sent


@dataclass
class Outcome:
    command: str
    dry_run: bool
    peers: dict[str, PeerSteps] = field(default_factory=dict)  # by name, filled as the steps go
    routed: dict[str, RoutedItem] = field(default_factory=dict)
    errors: list[OnecsyncError] = field(default_factory=list)
    parked: int = 0
    drifts: list | None = None   # None: not reconciled in this command

    @property
    def exit_code(self) -> ExitCode:
        codes = {e.exit_code for e in self.errors}
        if self.parked:
            codes.add(ExitCode.PARTIAL)
        if self.drifts:
            codes.add(ExitCode.DRIFT)
        return next((c for c in SEVERITY if c in codes), ExitCode.OK)

    def report(self) -> RunReport:
        peers = {name: PeerRun(p.get("received"), p.get("sent")) for name, p in self.peers.items()}
        return RunReport(
            command=self.command, exit_code=int(self.exit_code), dry_run=self.dry_run,
            peers=peers, routed=dict(self.routed),
            errors=tuple(RunError(int(e.exit_code), e.line()) for e in self.errors),
            drift=tuple(d.as_dict() for d in self.drifts) if self.drifts is not None else None)
