"""Run one command: lock, open the state, do its steps in order, journal the outcome.

Public API: `COMMANDS`, `execute(config, command, dry_run=False)` → `Outcome`.

A step that fails for one base does not stop the others: a rejected message from accounting
must not keep the CRM from getting what is already staged. Only errors that make every step
pointless (config, state) stop the run. The exit code is that of the most serious failure.
"""

from __future__ import annotations

import logging
import os
import sqlite3
from dataclasses import dataclass
from dataclasses import field

from onecsync.config import Config
from onecsync.errors import ExitCode
from onecsync.errors import NumberingConflict
from onecsync.errors import OnecsyncError
from onecsync.flows.catalogs import route_catalogs
from onecsync.flows.exchange import Exchange
from onecsync.state import RunLock
from onecsync.state import ensure_state_dir
from onecsync.state import lock_path
from onecsync.state import open_scratch_copy
from onecsync.state import open_state
from onecsync.state import sqlite_failure
from onecsync.transport import build_transport

log = logging.getLogger("onecsync")

# (action, argument) in order; a command is receive → route → send, once.
COMMANDS: dict[str, list[tuple[str, str]]] = {
    "pull-catalogs": [("receive", "accounting"), ("route", "pull-catalogs"),
                      ("send", "crm"), ("send", "accounting")],
    "run": [("receive", "accounting"), ("receive", "crm"), ("route", "pull-catalogs"),
            ("send", "crm"), ("send", "accounting")],
}

# Most serious first: the exit code of a run is the first of these that occurred.
SEVERITY = (ExitCode.BUG, ExitCode.CONFIG, ExitCode.CONFLICT, ExitCode.REJECTED,
            ExitCode.TEMPORARY, ExitCode.PARTIAL, ExitCode.DRIFT, ExitCode.OK)


@dataclass
class Outcome:
    command: str
    dry_run: bool
    peers: dict = field(default_factory=dict)
    routed: dict = field(default_factory=dict)
    errors: list[OnecsyncError] = field(default_factory=list)
    parked: int = 0

    @property
    def exit_code(self) -> ExitCode:
        codes = {e.exit_code for e in self.errors}
        if self.parked:
            codes.add(ExitCode.PARTIAL)
        return next((c for c in SEVERITY if c in codes), ExitCode.OK)

    def report(self) -> dict:
        return {
            "command": self.command,
            "exit_code": int(self.exit_code),
            "dry_run": self.dry_run,
            "peers": self.peers,
            "routed": self.routed,
            "errors": [{"code": int(e.exit_code), "message": e.line()} for e in self.errors],
        }


def execute(config: Config, command: str, dry_run: bool = False) -> Outcome:
    steps = COMMANDS[command]
    outcome = Outcome(command=command, dry_run=dry_run)
    try:
        if dry_run:
            state, scratch = open_scratch_copy(config.state)
            try:
                _steps(config, state, steps, outcome, dry_run=True)
            finally:
                state.close()
                os.unlink(scratch)
            return outcome
        ensure_state_dir(config.state)
        with RunLock(lock_path(config.state), command):
            state = open_state(config.state)
            try:
                _journaled(config, state, command, steps, outcome)
            finally:
                state.close()
    except sqlite3.Error as exc:  # the state file itself: busy, full, read-only, damaged
        raise sqlite_failure(exc, config.state) from None
    return outcome


def _journaled(config: Config, state, command: str, steps, outcome: Outcome) -> None:
    run_id = state.begin_run(command)
    try:
        _steps(config, state, steps, outcome, dry_run=False)
    except (OnecsyncError, sqlite3.Error) as exc:
        if isinstance(exc, sqlite3.Error):
            exc = sqlite_failure(exc, config.state)
        outcome.errors.append(exc)
        _end_run(state, run_id, int(outcome.exit_code), outcome, exc.line())
        raise exc from None
    except BaseException as exc:
        _end_run(state, run_id, int(ExitCode.BUG), outcome, repr(exc))
        raise
    state.end_run(run_id, int(outcome.exit_code), outcome.report(),
                  "; ".join(e.line() for e in outcome.errors) or None)


def _end_run(state, run_id: int, code: int, outcome: Outcome, error: str) -> None:
    """Journal a failed run if the state still lets us; never mask the failure itself."""
    try:
        state.end_run(run_id, code, outcome.report(), error)
    except OnecsyncError as exc:
        log.warning("the run could not be recorded: %s", exc)


def _steps(config: Config, state, steps, outcome: Outcome, dry_run: bool) -> None:
    transports = {name: build_transport(base, config.node.code)
                  for name, base in config.bases.items()}
    exchange = Exchange(config, state, transports, dry_run=dry_run)
    blocked: set[str] = set()
    for action, arg in steps:
        peer_report = outcome.peers.setdefault(arg, {}) if action != "route" else None
        try:
            if action == "receive":
                peer_report["received"] = exchange.receive(arg)
                outcome.parked += peer_report["received"].get("parked", 0)
            elif action == "route":
                outcome.routed[arg] = route_catalogs(config, state)
            elif action == "send":
                if arg in blocked:
                    peer_report["sent"] = {"skipped": "numbering conflict"}
                    continue
                peer_report["sent"] = exchange.send(arg)
                outcome.parked += peer_report["sent"].get("parked", 0)
        except OnecsyncError as exc:
            if exc.exit_code in (ExitCode.CONFIG,):
                raise
            log.error("%s", exc.line())
            outcome.errors.append(exc)
            if isinstance(exc, NumberingConflict):
                blocked.add(arg)
            if peer_report is not None:
                key = "sent" if action == "send" else "received"
                peer_report[key] = {"error": exc.line(), "code": int(exc.exit_code)}
