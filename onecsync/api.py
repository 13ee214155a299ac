"""The library API: what the command line does, as calls that return reports and raise errors.

Public API (re-exported by `onecsync`): `load_config(path)`, `run(config, flow=None,
dry_run=False)`, `retry(config, refs=None)`, `reconcile(config, heal=False)`,
`validate_message(path, config=None)`, `status(config)`, `trace(config, query)`,
`check(config)`. Each returns its report (a `RunReport`, `CheckReport`, `MessageCheck`,
`StatusReport` or `TraceReport`, whose `to_json()` is what `--json` prints), and
raises an `OnecsyncError` subclass, whose `exit_code` and `line()` the command line shows; none
calls `sys.exit`. A stop (SIGTERM, `run_timeout`) raises `Stopped`/`TimedOut`, BaseExceptions
like KeyboardInterrupt. Nothing is rendered: `onecsync.console` draws what these return.

A run takes the lock, journals itself and pings the healthcheck exactly as `onecsync run` does.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Sequence

from onecsync import topology
from onecsync.errors import Misnamed
from onecsync.progress import NO_PROGRESS
from onecsync.progress import Progress
from onecsync.progress import Task

if TYPE_CHECKING:  # the config, lxml and the formats load at the first call, not at import
    from onecsync.config import Config
    from onecsync.flows.check import CheckReport
    from onecsync.protocol.check import MessageCheck
    from onecsync.state.status_report import StatusReport
    from onecsync.state.trace_report import TraceReport

# The flows one `run` runs in order; `run(config, flow=…)` runs one of them alone.


def load_config(path: str | os.PathLike | None = None) -> Config:
    """The config at `path` (default: $ONECSYNC_CONFIG, then the usual places), validated:
    ConfigError lists every problem at once."""
    from onecsync import config

    return config.load_config(path)


def _execute(config: Config, command: str, dry_run: bool, progress: Progress,
             refs: tuple[str, ...] | None = None, heal: bool = False) -> Any:
    from onecsync.flows.runner import execute

    outcome = execute(config, command, dry_run=dry_run, refs=refs, progress=progress, heal=heal)
    return outcome.report()


def run(config: Config, flow: str | None = None, dry_run: bool = False,
        progress: Progress = NO_PROGRESS) -> Any:
    """Receive, route and send: every flow (`flow=None`, the cron entry) or one of the flows of onecsync/topology.py.
    Returns the run report; its exit code is that of the most serious failure of a step."""
    flows = topology.flow_names()  # read each call: the table is the one list of flows
    if flow is not None and flow not in flows:
        raise Misnamed(f"no flow {flow!r}", remedy=f"give one of {', '.join(flows)}")
    return _execute(config, flow or "run", dry_run, progress)


def retry(config: Config, refs: Sequence[str] | None = None, dry_run: bool = False,
          progress: Progress = NO_PROGRESS) -> Any:
    """Evaluate parked objects again (`refs`: their Ссылки; None: every one), route and send."""
    if isinstance(refs, str):  # one Ссылка, not its characters
        refs = (refs,)
    return _execute(config, "retry", dry_run, progress, None if refs is None else tuple(refs))


def reconcile(config: Config, heal: bool = False, dry_run: bool = False,
              progress: Progress = NO_PROGRESS) -> Any:
    """Compare what the bases hold with the state; the report's exit code is 9 on drift.
    `heal`: register what is missing again for the next send."""
    return _execute(config, "reconcile", dry_run, progress, heal=heal)


def validate_message(path: str | os.PathLike, config: Config | None = None,
                     max_problems: int = 100, progress: Task | None = None) -> MessageCheck:
    """Check a message file (.xml or .zip) against EnterpriseData and, with a config, against
    whose codes and versions its exchange expects. `.valid`, `.problems`, `.report()`."""
    from onecsync import validate

    return validate.validate_message(Path(path), config, max_problems=max_problems,
                                     progress=progress)


def status(config: Config, runs: int = 5) -> StatusReport:
    """Per base the message numbers, unconfirmed and parked objects; the last `runs` runs and
    the lock's holder. Read-only."""
    from onecsync.flows.waiting import rejected_waiting
    from onecsync.state import reports

    data = reports.status(config, runs=runs)
    # The base's message in its folder, if a run rejected it: every later run skips it, exit 0.
    return dataclasses.replace(data, peers={
        name: dataclasses.replace(p, rejected=rejected_waiting(config, name))
        for name, p in data.peers.items()})


def trace(config: Config, query: str | Sequence[str]) -> TraceReport:
    """An object's journey (a Ссылка), a document's (number, optional date) or a counterparty's
    objects (an ИНН). `query` as the command line takes it: words, or one string of them."""
    from onecsync.state import trace as tracing

    words = tuple(query.split()) if isinstance(query, str) else tuple(query)
    return tracing.trace(config.state, words)


def check(config: Config, dry_run: bool = False, strict: bool = False) -> CheckReport:
    """The config, every transport reached, what each base can do; warnings count as problems
    with `strict`."""
    from onecsync.flows.check import run_check

    return run_check(config, dry_run=dry_run, strict=strict)
