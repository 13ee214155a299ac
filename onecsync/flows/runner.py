"""Run one command: lock, open the state, do its steps in order, journal the outcome.

Public API: `execute(config, command, dry_run=False, progress)` → `Outcome` (flows/outcome.py),
whose `report()` is the typed `onecsync.runs.RunReport`; `commands()`, `scheduled()` and
`ROUTERS`, the commands' steps derived from onecsync/topology.py (flows/commands.py).

A step that fails for one base does not stop the others: a rejected message from accounting
must not keep the CRM from getting what is already staged. Only errors that make every step
pointless (config, state) stop the run. The exit code is that of the most serious failure.
A run that holds the lock pings the healthcheck URL, if one is configured, at its start and end
(a dry run and a busy exit ping nothing: they are not runs). Every run but those two writes the
metrics file, if one is configured, when it ends (failed runs too: metrics.py).
"""

from __future__ import annotations

import logging
import sqlite3
import time

from onecsync import stopping
from onecsync import topology
from onecsync.ceiling import RunCeiling
from onecsync.config import Config
from onecsync.errors import Busy
from onecsync.errors import ConfigError
from onecsync.errors import ExitCode
from onecsync.errors import Misnamed
from onecsync.errors import NumberingConflict
from onecsync.errors import OnecsyncError
from onecsync.errors import StateError
from onecsync.errors import clip_all
from onecsync.errors import ended_by
from onecsync.flows.commands import ROUTERS
from onecsync.flows.commands import commands
from onecsync.flows.commands import router
from onecsync.flows.commands import scheduled
from onecsync.flows.declared import refuse_bad_flow_types
from onecsync.flows.exchange import Exchange
from onecsync.flows.organizations import unknown_organizations
from onecsync.flows.outcome import DRIFT_LINES
from onecsync.flows.outcome import Outcome
from onecsync.flows.outcome import PeerSteps
from onecsync.flows.outcome import journal_report
from onecsync.flows.reconcile import reconcile_state
from onecsync.flows.reconcile_heal import heal as heal_drifts
from onecsync.flows.reconcile_odata import reconcile_odata
from onecsync.healthcheck import Healthcheck
from onecsync.metrics import write_metrics
from onecsync.progress import NO_PROGRESS
from onecsync.progress import Progress
from onecsync.runs import Received
from onecsync.runs import ReceivedKind
from onecsync.runs import Sent
from onecsync.state import RunLock
from onecsync.state import ensure_state_dir
from onecsync.state import lock_path
from onecsync.state import open_dry_run
from onecsync.state import open_readonly
from onecsync.state import open_state
from onecsync.state import sqlite_failure
from onecsync.state.lock import DryRunLock
from onecsync.transport import build_transport

log = logging.getLogger("onecsync")

def execute(config: Config, command: str, dry_run: bool = False,
            refs: tuple[str, ...] | None = None, progress: Progress = NO_PROGRESS,
            heal: bool = False) -> Outcome:
    """Run `command`; `refs` (retry only): the Ссылки to retry, None for every parked object;
    `heal` (reconcile): register what is missing again for the next send."""
    try:
        return _metered(config, command, dry_run, refs, progress, heal)
    except BaseException as exc:
        stop = stopping.wins(exc)  # a stop some library made an error of is still a stop
        if stop is not exc:
            raise stop from None
        raise
    finally:
        stopping.forget()  # the exception carries it from here; a caller's next run starts afresh


def _metered(config: Config, command: str, dry_run: bool, refs: tuple[str, ...] | None,
             progress: Progress, heal: bool) -> Outcome:
    if dry_run:
        return _execute(config, command, True, refs, progress, heal)
    started = time.monotonic()
    code: int | None = int(ExitCode.BUG)
    try:
        outcome = _execute(config, command, False, refs, progress, heal)
        code = int(outcome.exit_code)
        return outcome
    except Busy:
        code = None  # not a run: the one holding the lock writes the file
        raise
    except BaseException as exc:
        stop = stopping.wins(exc)
        code = int(stop.exit_code) if isinstance(stop, OnecsyncError) else \
            (ended_by(stop) or (int(ExitCode.BUG), ""))[0]
        raise
    finally:
        if code is not None:
            write_metrics(config, command, code, time.monotonic() - started)


def _execute(config: Config, command: str, dry_run: bool, refs: tuple[str, ...] | None,
             progress: Progress, heal: bool) -> Outcome:
    steps = commands()[command]
    refuse_bad_flow_types(config)
    outcome = Outcome(command=command, dry_run=dry_run)
    try:
        if refs:
            _refuse_unparked(config, refs)
        if dry_run:
            with DryRunLock(lock_path(config.state), config.run_timeout):
                state, finish = open_dry_run(config.state)
                try:
                    with RunCeiling(config.run_timeout):
                        _steps(config, state, steps, outcome, dry_run=True, refs=refs,
                               progress=progress, heal=heal)
                finally:
                    finish()
            return outcome
        ensure_state_dir(config.state)
        with RunLock(lock_path(config.state), command, scheduled=command in scheduled(),
                     run_timeout=config.run_timeout) as lock:
            ping = Healthcheck.from_config(config)
            ping.start()
            try:
                _journaled(config, command, steps, outcome, progress, refs, heal, lock)
            except BaseException as exc:
                stop = stopping.wins(exc)
                if isinstance(stop, OnecsyncError):
                    ping.finish(stop.exit_code, f"onecsync {command}: exit {int(stop.exit_code)}"
                                                f"\n{stop.line()}")
                else:
                    code, why = ended_by(stop) or (ExitCode.BUG,
                                                   f"internal error {type(stop).__name__}")
                    ping.finish(code, f"onecsync {command}: {why}")
                if stop is not exc:
                    raise stop from None
                raise
            ping.finish(outcome.exit_code, _summary(outcome))
    except sqlite3.Error as exc:  # the state file itself: busy, full, read-only, damaged
        raise sqlite_failure(exc, config.state) from None
    return outcome


def _refuse_unparked(config: Config, refs: tuple[str, ...]) -> None:
    """`retry REF` of a Ссылка no parked object has would retry nothing and end in exit 0."""
    state = open_readonly(config.state)
    try:
        missing = list(refs) if state is None else state.not_parked(refs)
    finally:
        if state is not None:
            state.close()
    if missing:
        raise Misnamed(f"not parked: {clip_all(missing)}; nothing was retried",
                       remedy="`onecsync status` counts the parked objects and `onecsync state "
                              "export` lists them with their Ссылки; or use retry --all")


def _summary(outcome: Outcome) -> str:
    """The body of the end ping: what healthchecks.io shows as the run's log."""
    lines = [f"onecsync {outcome.command}: exit {int(outcome.exit_code)}"]
    lines += [e.line() for e in outcome.errors]
    return "\n".join(lines)


def _journaled(config: Config, command: str, steps, outcome: Outcome, progress: Progress,
               refs: tuple[str, ...] | None, heal: bool, lock: RunLock) -> None:
    state = open_state(config.state)
    try:
        run_id = state.journal.begin(command, lock.ended_before)
        lock.ceiling_begins(run_id)  # the upgrade of a big state is not the run's time
        try:
            with RunCeiling(config.run_timeout):  # inside: a run stopped there is journaled
                _steps(config, state, steps, outcome, dry_run=False, refs=refs,
                       progress=progress, heal=heal)
        except (OnecsyncError, sqlite3.Error) as exc:
            failure = sqlite_failure(exc, config.state) if isinstance(exc, sqlite3.Error) else \
                stopping.wins(exc)
            if not isinstance(failure, OnecsyncError):  # the stop a library swallowed
                code, why = ended_by(failure) or (int(ExitCode.BUG), repr(failure))
                _end_run(state, run_id, code, outcome, why)
                raise failure from None
            outcome.errors.append(failure)
            _end_run(state, run_id, int(outcome.exit_code), outcome, failure.line())
            raise failure from None
        except BaseException as exc:
            code, why = ended_by(exc) or (int(ExitCode.BUG), repr(exc))
            _end_run(state, run_id, code, outcome, why)
            raise
        state.journal.end(run_id, int(outcome.exit_code), journal_report(outcome.report()),
                      "; ".join(e.line() for e in outcome.errors) or None)
    finally:
        state.close()


def _end_run(state, run_id: int, code: int, outcome: Outcome, error: str) -> None:
    """Journal a failed run if the state still lets us; never mask the failure itself."""
    try:
        state.journal.end(run_id, code, journal_report(outcome.report()), error)
    except OnecsyncError as exc:
        log.warning("the run could not be recorded: %s", exc)


def _reconcile(config: Config, state, outcome: Outcome, heal: bool, by_hand: bool) -> None:
    outcome.drifts = reconcile_state(config, state)
    with_odata = {name: base.odata for name, base in config.bases.items() if base.odata}
    if with_odata:
        from onecsync.odata import ODataClient  # requests: only worth importing when it is used

        clients = {name: ODataClient(odata) for name, odata in with_odata.items()}
        try:
            outcome.drifts += reconcile_odata(config, state, clients, by_hand)
        except OnecsyncError as exc:  # a base we cannot ask now must not hide the run's report
            log.error("reconcile: %s", exc.line())
            outcome.errors.append(exc)
    # A cron run logs a few dozen lines, not one per parked object (4,000 of them: 8,000 lines
    # in every idle run's mail); `status` and --json have them all.
    for d in outcome.drifts[:DRIFT_LINES]:
        log.warning("drift: %s %s %s %s: %s", d.kind, d.peer, d.type, d.ref, d.detail)
    if len(outcome.drifts) > DRIFT_LINES:
        log.warning("drift: … and %d more (onecsync status)", len(outcome.drifts) - DRIFT_LINES)
    if heal:
        outcome.routed["healed"] = heal_drifts(config, state, outcome.drifts)


def _steps(config: Config, state, steps, outcome: Outcome, dry_run: bool,
           refs: tuple[str, ...] | None = None, progress: Progress = NO_PROGRESS,
           heal: bool = False) -> None:
    state.meta.ensure_node(config.node.code, config.node.exchange_plan)
    transports = {name: build_transport(base, config.node.as_typed,
                                        exchange_plan=config.node.exchange_plan,
                                        state_dir=config.state_dir, dry_run=dry_run)
                  for name, base in config.bases.items()}
    exchange = Exchange(config, state, transports, dry_run=dry_run, progress=progress)
    blocked: set[str] = set()
    for action, arg in steps:
        peer_report = outcome.peers.setdefault(arg, PeerSteps()) if action in ("receive", "send") else None
        started = time.perf_counter()
        try:
            if action == "receive":
                received = outcome.peers[arg]["received"] = exchange.receive(arg)
                outcome.parked += received.parked
            elif action == "route":
                if (wrong := unknown_organizations(config, state, arg)) is not None:
                    log.error("%s", wrong.line())  # the filter still does as it is told
                    outcome.errors.append(wrong)
                with progress.task(f"routing {arg}…"):  # minutes at a first exchange: say so
                    routing = ROUTERS.get(arg) or router(topology.flow(arg))
                    routed = routing(config, state)
                outcome.routed[arg] = routed
                outcome.parked += routed.parked
            elif action == "reconcile":
                with progress.task("reconciling…"):
                    _reconcile(config, state, outcome, heal, by_hand=arg == topology.RECONCILE)
            elif action == "unpark":
                with state.atomic():
                    outcome.routed["retry"] = {"unparked": state.unpark(refs)}
            elif action == "send":
                if arg in blocked:
                    outcome.peers[arg]["sent"] = Sent(skipped="numbering conflict or setup problem")
                    continue
                sent = outcome.peers[arg]["sent"] = exchange.send(arg)
                outcome.parked += sent.parked
        except OnecsyncError as exc:
            stopping.check()  # a stop a library reported as this error: not the base's failure
            if isinstance(exc, StateError) or peer_report is None and exc.exit_code == ExitCode.CONFIG:
                raise  # nothing else can go right either
            log.error("%s", exc.line())
            outcome.errors.append(exc)
            if isinstance(exc, (NumberingConflict, ConfigError)):
                blocked.add(arg)  # one base's setup problem must not stop the other base
            if peer_report is not None:
                if action == "send":
                    peer_report["sent"] = Sent(error=exc.line(), code=int(exc.exit_code))
                else:
                    peer_report["received"] = Received(ReceivedKind.FAILED, error=exc.line(),
                                                       code=int(exc.exit_code))
        stopping.check()  # a stop swallowed on the way (and nothing raised for it) ends here
        for problem in exchange.take_problems():  # the step went through, yet needs a human
            log.error("%s", problem.line())
            outcome.errors.append(problem)
        # bench/run.py reads these to tell receiving, routing and writing a message apart.
        log.debug("step %s %s: %.3f s, peak RSS so far %s", action, arg or "-",
                  time.perf_counter() - started, _peak_rss())


def _peak_rss() -> str:
    try:
        import resource
    except ImportError:  # not on Unix
        return "unknown"
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024} MB"  # Linux: KiB
