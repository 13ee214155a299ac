"""Run one command: lock, open the state, do its steps in order, journal the outcome.

Public API: `COMMANDS`, `execute(config, command, dry_run=False)` → `Outcome`.

A step that fails for one base does not stop the others: a rejected message from accounting
must not keep the CRM from getting what is already staged. Only errors that make every step
pointless (config, state) stop the run. The exit code is that of the most serious failure.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from dataclasses import field

from onecsync.config import Config
from onecsync.errors import ExitCode
from onecsync.errors import NumberingConflict
from onecsync.errors import OnecsyncError
from onecsync.flows.catalogs import route_catalogs
from onecsync.flows.exchange import Exchange
from onecsync.flows.invoices import route_invoices
from onecsync.flows.settlements import route_settlements
from onecsync.state import RunLock
from onecsync.state import ensure_state_dir
from onecsync.state import lock_path
from onecsync.state import open_scratch_copy
from onecsync.state import open_state
from onecsync.transport import build_transport

log = logging.getLogger("onecsync")

ROUTES = {"pull-catalogs": route_catalogs, "push-invoices": route_invoices,
          "pull-settlements": route_settlements}

_ALL_ROUTES = [("route", "pull-catalogs"), ("route", "push-invoices"), ("route", "pull-settlements")]
_SEND_BOTH = [("send", "crm"), ("send", "accounting")]

# (action, argument) in order; a command is receive → route → send, once.
COMMANDS: dict[str, list[tuple[str, str]]] = {
    "pull-catalogs": [("receive", "accounting"), ("route", "pull-catalogs"), *_SEND_BOTH],
    "push-invoices": [("receive", "crm"), ("route", "push-invoices"),
                      ("send", "accounting"), ("send", "crm")],
    "pull-settlements": [("receive", "accounting"), ("route", "pull-settlements"), *_SEND_BOTH],
    # Invoices are routed before settlements so that a payment arriving in the same run as its
    # invoice is linked at once.
    "run": [("receive", "accounting"), ("receive", "crm"), *_ALL_ROUTES, *_SEND_BOTH],
    "retry": [("unpark", ""), *_ALL_ROUTES, *_SEND_BOTH],
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


def execute(config: Config, command: str, dry_run: bool = False,
            refs: tuple[str, ...] | None = None) -> Outcome:
    """Run `command`; `refs` (retry only): the Ссылки to retry, None for every parked object."""
    steps = COMMANDS[command]
    outcome = Outcome(command=command, dry_run=dry_run)
    if dry_run:
        state, scratch = open_scratch_copy(config.state)
        try:
            _steps(config, state, steps, outcome, dry_run=True, refs=refs)
        finally:
            state.close()
            os.unlink(scratch)
        return outcome
    ensure_state_dir(config.state)
    with RunLock(lock_path(config.state), command):
        state = open_state(config.state)
        try:
            run_id = state.begin_run(command)
            try:
                _steps(config, state, steps, outcome, dry_run=False, refs=refs)
            except OnecsyncError as exc:
                outcome.errors.append(exc)
                state.end_run(run_id, int(outcome.exit_code), outcome.report(), exc.line())
                raise
            except BaseException as exc:
                state.end_run(run_id, int(ExitCode.BUG), outcome.report(), repr(exc))
                raise
            state.end_run(run_id, int(outcome.exit_code), outcome.report(),
                          "; ".join(e.line() for e in outcome.errors) or None)
        finally:
            state.close()
    return outcome


def _steps(config: Config, state, steps, outcome: Outcome, dry_run: bool,
           refs: tuple[str, ...] | None = None) -> None:
    transports = {name: build_transport(base, config.node.code)
                  for name, base in config.bases.items()}
    exchange = Exchange(config, state, transports, dry_run=dry_run)
    blocked: set[str] = set()
    for action, arg in steps:
        peer_report = outcome.peers.setdefault(arg, {}) if action in ("receive", "send") else None
        started = time.perf_counter()
        try:
            if action == "receive":
                peer_report["received"] = exchange.receive(arg)
                outcome.parked += peer_report["received"].get("parked", 0)
            elif action == "route":
                outcome.routed[arg] = ROUTES[arg](config, state)
                outcome.parked += outcome.routed[arg].get("parked", 0)
            elif action == "unpark":
                with state.atomic():
                    outcome.routed["retry"] = {"unparked": state.unpark(refs)}
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
        # bench/run.py reads these to tell receiving, routing and writing a message apart.
        log.debug("step %s %s: %.3f s, peak RSS so far %s", action, arg or "-",
                  time.perf_counter() - started, _peak_rss())


def _peak_rss() -> str:
    try:
        import resource
    except ImportError:  # not on Unix
        return "unknown"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"  # Linux: KiB
