"""The metrics file: what a run leaves for Prometheus's node_exporter (textfile collector).

Public API: `write_metrics(config, command, exit_code, duration)`, `render(status, run, pair)`,
`METRICS` (name → type and help: the one table the file and README derive from).

Written at the end of every run that got the lock, failed ones too, whole or not at all (a new
file beside it, then a rename: node_exporter never reads half a file; the temporary name does not
end in .prom, so the collector skips it). Per base: the three numbers, unconfirmed, stuck and
parked counts, the oldest unconfirmed object's age, the last receive and send; per run: its exit
code, duration and end time. Every sample carries `pair` (the config file's name without .yaml),
so that the files of several pairs on one host never collide in the collector. A file that
cannot be written is a warning: the run's exchange went through all the same, and the alert on
`onecsync_run_timestamp_seconds` growing old is what catches it.
"""

from __future__ import annotations

import datetime
import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from onecsync import clock
from onecsync.config import Config
from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError
from onecsync.errors import exit_codes
from onecsync.files import replace_with
from onecsync.text import utf8

if TYPE_CHECKING:
    from onecsync.state.status_report import PeerStatus
    from onecsync.state.status_report import StatusReport

log = logging.getLogger("onecsync")

# What a run that got the lock can end with (a usage error or busy writes no metrics; an
# interrupted run writes 130 or 143).
_RUN_CODES = (ExitCode.OK, ExitCode.BUG, ExitCode.CONFIG, ExitCode.TEMPORARY, ExitCode.REJECTED, ExitCode.CONFLICT,
              ExitCode.PARTIAL, ExitCode.DRIFT)

# name → (type, help). Message numbers only ever grow (a counter), as 1C's own numbering does.
METRICS: dict[str, tuple[str, str]] = {
    "onecsync_run_exit_code": ("gauge", f"Exit code of the last run ({exit_codes(_RUN_CODES)})."),
    "onecsync_run_duration_seconds": ("gauge", "How long the last run took."),
    "onecsync_run_timestamp_seconds": ("gauge", "When the last run ended (Unix time)."),
    "onecsync_run_info": ("gauge", "The last run's command, as a label; always 1."),
    "onecsync_sent_messages_total": ("counter", "Our last message number to the base "
                                                "(1C: Номер отправленного)."),
    "onecsync_received_messages_total": ("counter", "The base's last message number we took "
                                                    "(1C: Номер принятого)."),
    "onecsync_confirmed_messages_total": ("counter", "Our last message number the base "
                                                     "confirmed holding."),
    "onecsync_unconfirmed_objects": ("gauge", "Objects the base has not confirmed yet."),
    "onecsync_stuck_objects": ("gauge", "Unconfirmed objects sent to the base more than 12 runs "
                                        "ago: the base is not importing our messages."),
    "onecsync_parked_objects": ("gauge", "Objects parked: received from the base and unusable, "
                                         "or not sendable to it."),
    "onecsync_oldest_unconfirmed_age_seconds": ("gauge", "Age of the oldest unconfirmed object "
                                                         "at the end of the run (0: none)."),
    "onecsync_last_receive_timestamp_seconds": ("gauge", "When a message of the base was last "
                                                         "taken (Unix time; 0: never)."),
    "onecsync_last_send_timestamp_seconds": ("gauge", "When we last wrote the base a message "
                                                      "(Unix time; 0: never)."),
}


def _unix(iso: str | None) -> float:
    if not iso:
        return 0.0
    try:
        t = datetime.datetime.fromisoformat(iso)
    except ValueError:
        return 0.0
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    return t.timestamp()


def _label(value: str) -> str:
    return utf8(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _base_samples(peer: PeerStatus, now: float) -> dict[str, float]:
    n = peer.numbers
    out = {"onecsync_sent_messages_total": n.sent_no,
           "onecsync_received_messages_total": n.received_no,
           "onecsync_confirmed_messages_total": n.confirmed_no,
           "onecsync_last_receive_timestamp_seconds": _unix(n.last_received_at),
           "onecsync_last_send_timestamp_seconds": _unix(n.last_sent_at)}
    if peer.backlog is not None:  # only once a state exists
        unconfirmed = peer.backlog.unconfirmed
        oldest = _unix(unconfirmed.oldest) if unconfirmed.count else 0.0
        out.update({"onecsync_unconfirmed_objects": unconfirmed.count,
                    "onecsync_stuck_objects": peer.backlog.stuck.count,
                    "onecsync_parked_objects": peer.backlog.parked.total,
                    "onecsync_oldest_unconfirmed_age_seconds":
                        max(0.0, round(now - oldest)) if oldest else 0.0})
    return out


def render(status: StatusReport | None, run: dict, pair: str) -> str:
    """The file's text. `status`: reports.status() after the run (None: the state could not be
    read); `run`: command, exit_code, duration, ended (Unix time)."""
    common = f'pair="{_label(pair)}"'
    samples: dict[str, list[str]] = {name: [] for name in METRICS}

    def add(name: str, labels: str, value: float) -> None:
        samples[name].append(f"{name}{{{labels}}} {_number(value)}")

    add("onecsync_run_exit_code", common, run["exit_code"])
    add("onecsync_run_duration_seconds", common, round(run["duration"], 3))
    add("onecsync_run_timestamp_seconds", common, round(run["ended"], 3))
    add("onecsync_run_info", f'{common},command="{_label(run["command"])}"', 1)
    for name, peer in (status.peers if status is not None else {}).items():
        for metric, value in _base_samples(peer, run["ended"]).items():
            add(metric, f'{common},base="{_label(name)}"', value)
    lines = []
    for name, (kind, text) in METRICS.items():
        if samples[name]:
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}", *samples[name]]
    return "\n".join(lines) + "\n"


def write_metrics(config: Config, command: str, exit_code: int, duration: float) -> None:
    """Write config.metrics_file for a run that just ended; never raises for the file's sake."""
    target: Path | None = config.metrics_file
    if target is None:
        return
    from onecsync.state import reports

    try:
        status = reports.status(config, runs=0)
    except (OnecsyncError, sqlite3.Error, OSError) as exc:
        # a broken state: the run's exit code says so, and is written all the same
        why = exc.line() if isinstance(exc, OnecsyncError) else str(exc)
        log.warning("metrics: the state could not be read (%s); only the run is written", why)
        status = None
    run = {"command": command, "exit_code": int(exit_code), "duration": duration,
           "ended": clock.utc_now().timestamp()}
    text = render(status, run, config.path.name.removesuffix(".yaml").removesuffix(".yml"))
    try:
        # 0644: node_exporter runs as its own user; nothing in the file is secret.
        replace_with(target, lambda f: f.write(text.encode("utf-8")), mode=0o644)
    except OSError as exc:
        log.warning("metrics: cannot write %s: %s (the run itself went through)", target,
                    exc.strerror or exc)
