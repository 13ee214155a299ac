"""Everything the admin sees: log lines, run reports, errors. The only module that imports rich.

Public API: `setup_logging(verbosity, json_lines)`, `print_json(data)`, `print_run(report)`,
`error_line(text)`, `progress(enabled)`, `print_status(data)`, `print_numbers(data)`,
`print_validation(report)`, `print_plan(plan)`.

Every line for a person goes through `i18n._` (a constant) or `i18n.tr` (a line the core
built, marked there with `N_(f"…")` or raised as an error), so that it shows in the locale's
language; JSON never does. A new printer does the same, and `python tools/po.py` adds its texts
to the catalog for translation (tests/test_i18n.py names any left untranslated).

Human text goes to stderr and JSON to stdout (DESIGN.md §3), so `onecsync --json run | jq`
works while cron mail still shows what happened. Colour only on a terminal, never with
NO_COLOR set.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import logging
import os
import sys
from typing import TYPE_CHECKING
from typing import Iterator

from onecsync.i18n import N_
from onecsync.i18n import _
from onecsync.i18n import tr
from onecsync.progress import NO_PROGRESS
from onecsync.progress import Progress
from onecsync.progress import Task

if TYPE_CHECKING:
    from rich.console import Console

_stderr: Console | None = None
_gone: set[str] = set()  # "stdout", "stderr": streams whose reader went away
_null = None


class _Guarded:
    """sys.stdout or sys.stderr (looked up on each use), for a reader that may go away: `| head`,
    `| true`, a closed pipe. Then what is left to write goes to /dev/null instead of raising
    BrokenPipeError in the middle of a command whose work is done; `reader_gone()` tells."""

    def __init__(self, name: str) -> None:
        self._name = name

    def _stream(self):
        stream = getattr(sys, self._name)
        if stream is None:  # started with the descriptor closed (`2>&-`)
            global _null
            _gone.add(self._name)
            _null = _null or open(os.devnull, "w", encoding="utf-8")
            return _null
        return stream

    def write(self, text: str) -> int:
        try:
            return self._stream().write(text)
        except BrokenPipeError:
            _reader_left(self._name)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream().flush()
        except BrokenPipeError:
            _reader_left(self._name)

    def __getattr__(self, name: str):
        return getattr(self._stream(), name)


def _reader_left(name: str) -> None:
    """Point the stream's descriptor at /dev/null: its buffer, flushed at exit, goes nowhere."""
    _gone.add(name)
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(null, getattr(sys, name).fileno())
        finally:
            os.close(null)
    except (OSError, ValueError, AttributeError):
        pass  # not a real descriptor (a test's capture): nothing more will be written to it


@contextlib.contextmanager
def to_reader() -> Iterator[None]:
    """Around a write to stdout that does not go through `STDOUT` (bytes, click's echo): a reader
    gone ends it as quietly (click would turn it into exit 1)."""
    try:
        yield
    except BrokenPipeError:
        reader_lost()


def reader_gone() -> bool:
    """Did the reader of stdout or stderr go away?"""
    return bool(_gone)


def readers_back() -> None:
    """A new command (main is called again in-process): no reader has gone yet. A stream whose
    encoding cannot hold Cyrillic (PYTHONIOENCODING=ascii, a latin-1 terminal) writes what it
    cannot as \\uXXXX instead of failing the command: in --json that is still the same JSON."""
    _gone.clear()
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if hasattr(stream, "reconfigure") and getattr(stream, "errors", None) != "backslashreplace":
            with contextlib.suppress(ValueError, OSError):
                stream.reconfigure(errors="backslashreplace")


def reader_lost() -> None:
    """A write outside these streams (a message on stdout's buffer, click's own lines) found its
    reader gone: neither stream can be trusted to take more."""
    for name in ("stdout", "stderr"):
        _reader_left(name)


STDOUT, STDERR = _Guarded("stdout"), _Guarded("stderr")


def stderr() -> Console:
    # rich is imported on first use: a quiet cron run that has nothing to say never pays for it.
    from rich.console import Console

    global _stderr
    if _stderr is None:
        _stderr = Console(file=STDERR, highlight=False, soft_wrap=True,
                          no_color="NO_COLOR" in os.environ)
    return _stderr


def _message(record: logging.LogRecord) -> str:
    """The record's line in the admin's language: its format translated before the values go
    in, each value that is itself a line (an error's) translated too."""
    if not isinstance(record.msg, str):
        return record.getMessage()
    args = record.args
    if isinstance(args, tuple):
        args = tuple(tr(a) if isinstance(a, str) else a for a in args)
    try:
        return _(record.msg) % args if args else _(record.msg)
    except (TypeError, ValueError):  # a translation whose %s do not fit: English is still right
        return record.getMessage()


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        item = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                "level": record.levelname.lower(), "message": record.getMessage()}
        if record.exc_info:
            item["traceback"] = self.formatException(record.exc_info)
        return json.dumps(item, ensure_ascii=False)


# logging's level names, as the lines say them
LEVELS = (N_("debug"), N_("info"), N_("warning"), N_("error"), N_("critical"))


class _Plain(logging.Formatter):
    """`onecsync: warning: …` — one greppable line per event, as cron mail shows it."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"onecsync: {_(record.levelname.lower())}: {_message(record)}"
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        return text


class _Translated(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return _message(record)


# syslog priorities: journald reads a `<N>` line prefix as the line's priority (sd-daemon(3)).
_PRIORITY = {logging.CRITICAL: 2, logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6,
             logging.DEBUG: 7}


class _Journal(logging.Formatter):
    """Each line of a record prefixed with its priority, so `journalctl -p warning` works."""

    def __init__(self, inner: logging.Formatter) -> None:
        super().__init__()
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        prefix = f"<{_PRIORITY.get(record.levelno, 6)}>"
        return "\n".join(prefix + line for line in self.inner.format(record).splitlines())


def under_journal() -> bool:
    """Is stderr the journal? systemd sets JOURNAL_STREAM to its device:inode (systemd.exec(5))."""
    stream = os.environ.get("JOURNAL_STREAM")
    if not stream:
        return False
    try:
        st = os.fstat(sys.stderr.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return stream == f"{st.st_dev}:{st.st_ino}"


def setup_logging(verbosity: int, json_lines: bool = False) -> None:
    """-q: errors only; default: what was done; -v: debug with tracebacks."""
    level = {-1: logging.ERROR, 0: logging.INFO}.get(verbosity, logging.DEBUG)
    logger = logging.getLogger("onecsync")
    logger.handlers.clear()
    logger.setLevel(level)
    logger.propagate = False
    journal = under_journal()
    if json_lines or journal or not (sys.stderr.isatty() or os.environ.get("FORCE_COLOR")):
        handler: logging.Handler = logging.StreamHandler(STDERR)
        formatter: logging.Formatter = _JsonLines() if json_lines else _Plain()
        handler.setFormatter(_Journal(formatter) if journal else formatter)
    else:
        from rich.logging import RichHandler

        handler = RichHandler(console=stderr(), show_time=False, show_path=False,
                              markup=False, rich_tracebacks=verbosity > 0)
        handler.setFormatter(_Translated())
    logger.addHandler(handler)


def print_json(data: dict) -> None:
    STDOUT.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    STDOUT.flush()


def _tag(level: int) -> str:
    """The priority prefix of a line printed, not logged, at `level` (nothing off the journal)."""
    return f"<{_PRIORITY[level]}>" if under_journal() else ""


def error_line(text: str) -> None:
    stderr().print(f"{_tag(logging.ERROR)}onecsync: {_('error')}: {tr(text)}", style="bold red",
                   markup=False)


_MEANING = {0: N_("done"), 1: N_("internal error"), 3: N_("configuration error"),
            4: N_("temporary failure"), 5: N_("message rejected"), 6: N_("numbering conflict"),
            7: N_("partial: objects parked"), 8: N_("busy"), 9: N_("drift found")}


def _meaning(code: int, otherwise: str = N_("exit")) -> str:
    return _(_MEANING.get(code, otherwise))


def _received(r: dict) -> str:
    if "error" in r:
        return tr(f"receive failed: {r['error']}")
    if r.get("file") is None:
        return _("no message from the base")
    if r.get("rejected_before"):
        return tr(f"{os.path.basename(r['file'])} skipped: rejected on {r['rejected_before']} "
                  f"({r.get('reason')}); see {r.get('quarantine')}")
    if r.get("incomplete"):
        return tr(f"{os.path.basename(r['file'])} is not complete yet ({r.get('why')}, since "
                  f"{r.get('since')}): read again on the next run")
    if r.get("unchanged"):
        return tr(f"message file unchanged since the last run ({os.path.basename(r['file'])})")
    if r.get("settings_only"):
        return _("settings-only message (versions recorded)")
    if r.get("duplicate"):
        return tr(f"message {r.get('message_no')} was received earlier: skipped")
    text = tr(f"received message {r.get('message_no')}: {r.get('objects', 0)} objects, "
              f"{r.get('deletions', 0)} deletions")
    if r.get("parked"):
        text += tr(f", {r['parked']} parked")
    return text


def _sent(s: dict, dry_run: bool) -> str:
    if "error" in s:
        return tr(f"send failed: {s['error']}")
    if "skipped" in s:
        return tr(f"nothing sent ({s['skipped']})")
    if s.get("message_no") is None:
        return tr(f"nothing new to send ({s.get('pending', 0)} unconfirmed already sent)")
    if dry_run:
        text = tr(f"would send message {s['message_no']} (format {s['version']}): {s['objects']} objects")
    else:
        text = tr(f"sent message {s['message_no']} (format {s['version']}): {s['objects']} objects")
    if s.get("by_type"):
        text += " — " + ", ".join(f"{k} {v}" for k, v in s["by_type"].items())
    return text


# The kinds of drift (flows/reconcile*.py), as words of the display.
DRIFT_KINDS = (N_("amount"), N_("deleted"), N_("missing"), N_("orphan"), N_("parked"), N_("silent"),
               N_("stuck"), N_("unposted"), N_("not-forwarded"))

# Drift lines printed for a run: a few dozen, then how many more (all are in --json and status).
DRIFT_LINES = 30


def print_run(report: dict) -> None:
    code = report["exit_code"]
    out = stderr()
    dry = _(" (dry run)") if report["dry_run"] else ""
    head = f"onecsync {report['command']}{dry}: {_meaning(code)} ({_('exit')} {code})"
    out.print(head, style="bold green" if code == 0 else "bold yellow", markup=False)
    drift = report.get("drift") or []
    for d in drift[:DRIFT_LINES]:
        what = " ".join(x for x in (d["peer"], d["type"], d["ref"]) if x)
        out.print(f"  {_('drift')}: {_(d['kind'])}: {what}: {tr(d['detail'])}", markup=False)
    if len(drift) > DRIFT_LINES:
        out.print("  " + tr(f"drift: … and {len(drift) - DRIFT_LINES} more (onecsync status)"),
                  markup=False)
    for name, peer in report["peers"].items():
        parts = []
        if "received" in peer:
            parts.append(_received(peer["received"]))
        if "sent" in peer:
            parts.append(_sent(peer["sent"], report["dry_run"]))
        out.print(f"  {name}: " + "; ".join(parts), markup=False)


def print_run_line(report: dict) -> None:
    """Under -q, the one line of a run that exits non-zero without an error line of its own
    (objects parked, drift: warnings, which -q hides), so that cron mail still says a human
    must look."""
    code = report["exit_code"]
    parked = sum(int(part.get("parked", 0) or 0) for peer in report["peers"].values()
                 for part in peer.values() if isinstance(part, dict))
    parked += sum(int(r.get("parked", 0) or 0) for r in report["routed"].values()
                  if isinstance(r, dict))
    parts = [tr(f"{parked} object(s) parked in this run")] if parked else []
    by_kind: dict[str, int] = {}
    for d in report.get("drift") or []:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + 1
    if by_kind:
        parts.append(_("drift") + ": " + ", ".join(f"{n} {_(kind)}" for kind, n in by_kind.items()))
    what = "; ".join(parts) or _("see the run journal")
    error_line(f"{report['command']}: {_meaning(code)} ({_('exit')} {code}): {what} "
               f"({_('`onecsync status` lists them, with why')})")


# -- progress -----------------------------------------------------------------------------------
class _TerminalTask(Task):
    def __init__(self, bar, description: str,
                 total_bytes: int | None, total_objects: int | None) -> None:
        self._bar = bar
        self._by_bytes = total_bytes is not None
        self._of = f" / {_size(total_bytes)}" if total_bytes is not None else ""
        # No total at all (routing, say): rich shows a pulsing bar, the spinner and the clock.
        self._id = bar.add_task(description, total=total_bytes or total_objects,
                                objects=0, size=_size(0) + self._of)

    def update(self, objects: int, nbytes: int) -> None:
        self._bar.update(self._id, completed=nbytes if self._by_bytes else objects,
                         objects=objects, size=_size(nbytes) + self._of)

    def close(self) -> None:
        self._bar.remove_task(self._id)


class TerminalProgress(Progress):
    """A line per phase (reading, routing, writing a message): spinner, what, a bar with its
    percentage, objects, bytes of the total, time so far and left. Only made for a terminal;
    `get_time` is rich's clock (tests give their own)."""

    def __init__(self, console: Console, get_time=None) -> None:
        from rich import progress as rp

        self.bar = rp.Progress(
            rp.SpinnerColumn(), rp.TextColumn("{task.description}"), rp.BarColumn(),
            rp.TaskProgressColumn(), rp.TextColumn("{task.fields[objects]:>10,} " + _("objects")),
            rp.TextColumn("{task.fields[size]:>19}"), rp.TimeElapsedColumn(),
            rp.TextColumn(_("ETA")), rp.TimeRemainingColumn(),
            console=console, transient=True, get_time=get_time)

    def task(self, description: str, *, total_bytes: int | None = None,
             total_objects: int | None = None) -> Task:
        return _TerminalTask(self.bar, tr(description), total_bytes, total_objects)

    def __enter__(self) -> TerminalProgress:
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()


@contextlib.contextmanager
def progress(enabled: bool) -> Iterator[Progress]:
    """A terminal progress display while the block runs, when `enabled` and stderr is a
    terminal; otherwise the core's no-op (cron mail and journald stay clean)."""
    if not (enabled and stderr().is_terminal):
        yield NO_PROGRESS
        return
    with TerminalProgress(stderr()) as p:
        yield p


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return ""


# -- status, state, validate ---------------------------------------------------------------------
_out: Console | None = None


def stdout() -> Console:
    """Where the data a command was asked for goes (status, validate): stdout, so it pipes."""
    global _out
    if _out is None:
        from rich.console import Console

        _out = Console(file=STDOUT, highlight=False, soft_wrap=True,
                       no_color="NO_COLOR" in os.environ)
    return _out


def _when(iso: str | None, now: datetime.datetime | None = None,
          clock: str = "%Y-%m-%d %H:%M") -> str:
    if not iso:
        return _("never")
    try:
        t = datetime.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    now = now or datetime.datetime.now(datetime.timezone.utc)
    secs = int((now - t).total_seconds())
    if secs < 0:
        age = _("in the future")
    elif secs < 90:
        age = tr(f"{secs} s ago")
    elif secs < 90 * 60:
        age = tr(f"{secs // 60} min ago")
    elif secs < 36 * 3600:
        age = tr(f"{secs // 3600} h ago")
    else:
        age = tr(f"{secs // 86400} days ago")
    return f"{t.astimezone().strftime(clock)} ({age})"


def _lock_text(lock: dict | None) -> str:
    if lock is None:
        return _("free")
    return tr(f"held by pid {lock.get('pid', '?')} ({lock.get('command', '?')}), "
              f"started {lock.get('started', '?')}")


def _peer_rows(p: dict) -> list[tuple[str, str]]:
    fmt = p.get("format") or {}
    rows = [(_("code"), p["code"]),
            (_("numbers"), tr(f"sent {p['sent_no']} · received {p['received_no']} · "
                              f"confirmed {p['confirmed_no']}"))]
    if "state_code" in p:
        rows.append((_("WARNING"), tr(f"the state belongs to a base with code {p['state_code']}")))
    offered = ", ".join(fmt.get("offered") or []) or _("not known yet")
    if fmt.get("problem"):
        rows.append((_("PROBLEM"), tr(fmt["problem"])))
    ours = fmt.get("ours") or _("nothing")
    rows.append((_("format"), tr(f"we write {ours} · its last message {fmt.get('theirs') or '—'} · "
                                 f"it offers {offered}")))
    types = p.get("object_types")
    rows.append((_("object types"),
                 _("not declared") if types is None else tr(f"{len(types)} declared")))
    rows.append((_("last received"), _when(p.get("last_received_at"))))
    rows.append((_("last sent"), _when(p.get("last_sent_at"))))
    if "unconfirmed" in p:
        u = p["unconfirmed"]
        text = tr(f"{u['count']} objects ({u['unsent']} not sent yet)")
        if u["count"]:
            text += tr(f", oldest registered {_when(u['oldest'])}")
        rows.append((_("unconfirmed"), text))
        st = p["stuck"]
        rows.append((_("stuck"), tr(f"{st['count']} objects unconfirmed for {st['runs']} runs: is the "
                                    "base importing our messages?") if st["count"] else "0"))
        pk = p["parked"]
        rows.append((_("parked"), tr(f"{pk['total']} ({pk['received']} received from it, "
                                     f"{pk['unsendable']} that cannot be sent to it)")))
        if p.get("awaiting_link"):
            recent = p["awaiting_link_recent"]
            rows.append((_("awaiting link"), tr(f"{p['awaiting_link']} settlement documents "
                                                f"({recent['count']} received in the last "
                                                f"{recent['days']} days)")))
    return rows


def _run_text(run: dict) -> str:
    parts = []
    for name, peer in run.get("peers", {}).items():
        bits = []
        r, s = peer.get("received"), peer.get("sent")
        if r:
            if "error" in r:
                bits.append(_("receive failed"))
            elif r.get("duplicate"):
                bits.append(_("nothing new"))
            elif r.get("message_no") is not None:
                bits.append(tr(f"got #{r['message_no']} ({r.get('objects', 0)} obj)"))
        if s:
            if "error" in s:
                bits.append(_("send failed"))
            elif s.get("message_no") is not None:
                bits.append(tr(f"sent #{s['message_no']} ({s.get('objects', 0)} obj)"))
        if bits:
            parts.append(f"{name}: {', '.join(bits)}")
    text = "; ".join(parts)
    if run.get("error"):
        text += (" — " if text else "") + tr(run["error"])
    return text


def _in_progress_text(run: dict) -> str:
    return tr(f"a run is in progress since {_when(run.get('since'))} (pid {run.get('pid', '?')}, "
              f"{run.get('command', '?')}); what is shown is its last commit")


def _run_state(run: dict) -> str:
    if run.get("state") in ("running", "died"):
        return _({"running": N_("running"), "died": N_("died")}[run["state"]])
    return "?" if run["exit_code"] is None else str(run["exit_code"])


def print_status(data: dict) -> None:
    out = stdout()
    if not data["exists"]:
        out.print(tr(f"no state yet ({data['state']}): nothing has run with this config"), markup=False)
    formats = ", ".join(data["node"]["formats"])
    head = [(_("config"), data["config"]), (_("state"), data["state"]),
            (_("node"), tr(f"{data['node']['code']} · offers {formats}")),
            (_("lock"), _lock_text(data["lock"]))]
    if data.get("in_progress"):
        head.append((_("run"), _in_progress_text(data["in_progress"])))
    runs = [(_when(r["started_at"]), r["command"], _run_state(r), _run_text(r))
            for r in data["runs"]]
    if not out.is_terminal:
        for k, v in head:
            out.print(f"{k}: {v}", markup=False)
        for name, p in data["peers"].items():
            out.print(f"\n{name}", markup=False)
            rows = _peer_rows(p)
            width = max(14, *(len(k) for k, _v in rows))
            for k, v in rows:
                out.print(f"  {k:<{width}} {v}", markup=False)
        if runs:
            out.print("\n" + _("last runs"), markup=False)
            for when, command, code, text in runs:
                out.print(f"  {when}  {command:<15} {_('exit')} {code:<7} {text}", markup=False)
        return
    from rich.markup import escape
    from rich.table import Table

    for k, v in head:
        out.print(f"[bold]{k}[/] {escape(v)}")
    table = Table(show_lines=False, header_style="bold")
    table.add_column("")
    names = list(data["peers"])
    for name in names:
        table.add_column(name)
    rows = [dict(_peer_rows(data["peers"][n])) for n in names]
    for key in dict.fromkeys(k for r in rows for k in r):
        table.add_row(key, *(rows[i].get(key, "") for i in range(len(names))))
    out.print(table)
    if runs:
        t = Table(title=_("last runs"), header_style="bold", title_justify="left")
        for col in (N_("started"), N_("command"), N_("exit"), N_("what happened")):
            t.add_column(_(col))
        for when, command, code, text in runs:
            style = None if code in ("0", _("running")) else "yellow"
            t.add_row(when, command, code, text, style=style)
        out.print(t)


def _pair_text(p: dict) -> str:
    if "error" in p:
        return tr(f"error (exit {p['exit_code']}): {p['error']}")
    run = p["last_run"]
    if run is None:
        head = _("never run")
    else:
        head = f"{run['command']} {_('exit')} {_run_state(run)} {_when(run['started_at'])}"
    if p.get("in_progress"):
        head += tr(f" · running now (pid {p['in_progress'].get('pid', '?')})")
    return head + tr(f" · stuck {p['stuck']} · parked {p['parked']} · unconfirmed {p['unconfirmed']}")


def print_pairs(data: dict) -> None:
    """`status --all`: one line per pair, errors included, so that `grep` finds any pair."""
    out = stdout()
    if not data["pairs"]:
        error_line(tr(f"no config files (*.yaml) in {', '.join(data['paths'])}"))
        return
    width = max(len(p["pair"]) for p in data["pairs"])
    for p in data["pairs"]:
        out.print(f"{p['pair']:<{width}}  {_pair_text(p)}", markup=False)


def print_numbers(data: dict) -> None:
    out = stdout()
    if not data["exists"]:
        out.print(tr(f"no state yet ({data['state']})"), markup=False)
        return
    for name, p in data["peers"].items():
        out.print(tr(f"{name}: sent {p['sent_no']}, received {p['received_no']}, confirmed "
                     f"{p['confirmed_no']} (last received {_when(p['last_received_at'])}, "
                     f"last sent {_when(p['last_sent_at'])})"), markup=False)


def print_validation(report: dict) -> None:
    out = stdout()
    name = report["file"]
    for p in report["problems"]:
        where = f"{name}:{p['line']}" if p.get("line") else name
        out.print(f"{where}: {_finding_text(p)}", markup=False)
    what = []
    if report.get("settings_only"):
        what.append(_("a settings-only message"))
    elif report.get("version"):
        what.append(f"EnterpriseData {report['version']}")
    if report.get("message_no") is not None:
        what.append(tr(f"message {report['message_no']}"))
    if report.get("direction"):
        what.append(tr(report["direction"]))
    what.append(tr(f"{report['objects']} objects"))
    summary = ", ".join(what)
    if report["valid"]:
        out.print(tr(f"{name}: valid ({summary})"), markup=False, style="green")
        if report.get("config") is None:
            out.print("  " + _("(node codes not checked: no config given)"), markup=False)
        return
    more = report["problems_total"] - len(report["problems"])
    if more:
        out.print(tr(f"… and {more} more problems (--max-problems to see them)"), markup=False)
    total = report["problems_total"]
    line = tr(f"{name}: INVALID, {total} problem ({summary})") if total == 1 else \
        tr(f"{name}: INVALID, {total} problems ({summary})")
    out.print(line, markup=False, style="bold red")


def _finding_text(p: dict) -> str:
    where = " ".join(w for w in (p.get("type"), p.get("ref")) if w)
    parts = [where] if where else []
    path = p.get("path")
    if path and path != p.get("type"):
        parts.append(path.removeprefix(f"{p['type']}/") if p.get("type") else path)
    parts.append(tr(p["message"]))
    return ": ".join(parts)


def print_plan(plan: dict, dry_run: bool = False) -> None:
    """What a `state` command changes; without --yes, what it would change."""
    out = stdout()
    verb = _("changed") if plan["applied"] else _("would change")
    if plan["action"] == "set-numbers":
        b, a = plan["before"], plan["after"]
        changes = [f"{k} {b[k]} → {a[k]}" for k in ("sent_no", "received_no", "confirmed_no")
                   if a[k] != b[k]]
        out.print(f"{plan['peer']}: {verb}: {', '.join(changes) or _('nothing')}", markup=False)
        if plan["resent"]:
            out.print("  " + tr(f"{plan['resent']} objects sent but not confirmed go again in that "
                                "message"), markup=False)
    else:
        regs = ", ".join(f"{t} {n}" for t, n in plan["registrations"].items()) or _("none")
        out.print(f"{plan['peer']}: {verb}: " + tr(f"send again every object of {len(plan['types'])} "
                                                   f"type(s), {plan['total']} in all"), markup=False)
        out.print("  " + tr(f"registered before: {regs}"), markup=False)
        if plan["rerouted"]:
            out.print("  " + _("set aside when they came, now routed:") + " " + ", ".join(
                f"{t} {n}" for t, n in plan["rerouted"].items()), markup=False)
    for note in plan["notes"]:
        out.print(f"  {tr(note)}", markup=False)
    if plan["applied"]:
        out.print("  " + _("the next run sends it"), markup=False)
    elif not dry_run:
        out.print(_("nothing changed: add --yes to do it"), markup=False, style="bold yellow")


def print_settings_message(report: dict) -> None:
    verb = _("would write") if report["dry_run"] else _("wrote")
    stderr().print("onecsync: " + tr(f"{verb} the settings message for {report['peer']} (to "
                                     f"{report['to']}, from {report['from']}) to {report['file']}: "
                                     "load it in the base's synchronization setup, or copy it into "
                                     "its exchange folder"), markup=False)


def print_check(report: dict, summary: bool = True, warnings: bool = True) -> None:
    """What each base can do, then one line per problem and warning, each with its remedy."""
    out = stderr()
    code = report["exit_code"]
    if summary:
        verdict = _("ok") if code == 0 else _meaning(code, N_("failed"))
        out.print(f"onecsync check: {verdict} ({_('exit')} {code}); "
                  + tr(f"config {report['config']}, node {report['node']['code']}"),
                  style="bold green" if code == 0 else "bold red", markup=False)
        for name, p in report["peers"].items():
            t = p["transport"]
            state = _("ok") if t.get("ok") else (_("not checked") if t.get("ok") is None else _("FAILED"))
            out.print(f"  {name}: {_('transport')} {t['kind']} {state}: "
                      f"{tr(t.get('detail') or t.get('error', ''))}", markup=False)
            if "odata" in p:
                o = p["odata"]
                said = _("ok") + ": " + tr(o["detail"]) if o["ok"] else _("FAILED") + ": " + tr(o["error"])
                out.print(f"    odata: {said}", markup=False)
            versions = ", ".join(p["versions"] or [])
            common = p["negotiated"] or _("none in common")
            if p["versions"] is None:
                out.print("    " + _("versions: unknown (no message from the base yet)"), markup=False)
            elif p["last_received_at"] is None:
                out.print("    " + tr(f"versions: {versions} (from its exchange service); "
                                      f"exchanging in {common}"), markup=False)
            else:
                last = p["last_message_version"] or _("(settings only)")
                out.print("    " + tr(f"versions: {versions}; exchanging in {common}; last message "
                                      f"{last} at {p['last_received_at']}"), markup=False)
            types = p["object_types"]
            if p["versions"] is not None:
                out.print("    " + (
                    tr(f"object types: sends {len(types['sends'])}, receives {len(types['receives'])}")
                    if types is not None else _("object types: not declared (1C then assumes all)")),
                    markup=False)
    for item in report["problems"]:
        out.print(f"{_tag(logging.ERROR)}onecsync: {_('problem')}: {tr(item['message'])}", style="red",
                  markup=False)
    if warnings:
        for item in report["warnings"]:
            out.print(f"{_tag(logging.WARNING)}onecsync: {_('warning')}: {tr(item['message'])}",
                      style="yellow", markup=False)


def print_init(report: dict) -> None:
    out = stderr()
    verb = _("would write") if report["dry_run"] else _("wrote")
    out.print("onecsync: " + tr(f"{verb} {report['config']} (our node code {report['node_code']})"),
              style="bold green", markup=False)
    for name, path in report["settings_messages"].items():
        out.print("onecsync: " + tr(f"{verb} the settings message for {name}: {path}"), markup=False)
    for text in report.get("warnings", []):
        out.print(f"onecsync: {_('warning')}: {tr(text)}", style="yellow", markup=False, soft_wrap=True)
    out.print(_("Next steps:"), style="bold", markup=False)
    for i, step in enumerate(report["next_steps"], 1):
        out.print(f"  {i}. {tr(step)}", markup=False)


def print_xml(xml: bytes) -> None:
    """The stored payload of `trace --xml`, as it was received (namespace-relative)."""
    text = xml.decode("utf-8", "replace")
    STDOUT.write(text if text.endswith("\n") else text + "\n")
    STDOUT.flush()


def _object_line(o: dict) -> str:
    number, date = o.get("number"), (o.get("date") or "")[:10]
    number = tr(f"{number} of {date}") if number and date else (number or "")
    inn = f"ИНН {o['inn']}" if o.get("inn") else ""
    return " · ".join(filter(None, (o["type"], number, inn, o["ref"])))


def _decision_text(r: dict) -> str:
    why = f": {tr(r['reason'])}" if r.get("reason") else ""
    if r["names_invoices"]:
        names = ", ".join(f"{n['type'].removeprefix('Документ.')} {n['number'] or n['ref']}"
                          for n in r["names_invoices"])
        why += tr(f" (it names CRM {names})")
    decision = r["decision"]
    return {"forwarded": _("routing: forwarded to the other base"),
            "waiting": _("routing: waiting for its invoice (it names no CRM invoice, nor a "
                         "document already sent to the CRM)"),
            "echo": _("routing: not sent back (echo: the other base holds this very version)"),
            "superseded": _("routing: not sent on"),
            "filtered": _("routing: filtered"),
            "parked": _("routing: parked"),
            "ignored": _("routing: kept, not sent"),
            "not routed yet": _("routing: not routed yet (the next run routes it)")}.get(
        decision, tr(f"routing: {decision}")) + why


def _trace_events(t: dict) -> list[tuple[str | None, str]]:
    """(when, what) of the journey, newest last; a step with no recorded time stays after
    the one before it."""
    events: list[tuple[str | None, str]] = []
    for peer in dict.fromkeys([v["from"] for v in t["versions"]]):
        for v in (v for v in t["versions"] if v["from"] == peer):
            what = _("deletion") if v["kind"] == "delete" else _("version")
            newest = _(", newest") if v["newest"] else ""
            number, fmt, digest = v["message_no"], v["format"], v["digest"][:8]
            events.append((v["received_at"], tr(f"received from {peer} in its message {number}, "
                                                 f"format {fmt} ({what} {digest}{newest})")))
        for r in (r for r in t["routing"] if r["from"] == peer):
            events.append(("", _decision_text(r)))  # decided as it came: no time of its own
    for d in t["deliveries"]:
        to, number = d["to"], d["message_no"]
        events.append((d["registered_at"], tr(f"registered for {to}")))
        if number is not None:
            events.append((d["sent_at"], tr(f"sent to {to} in our message {number}")))
        if d["state"] == "confirmed":
            confirmed = d["confirmed_no"]
            events.append((d["confirmed_at"], tr(f"confirmed by {to} (its ReceivedNo "
                                                 f"{confirmed})")))
    ordered, last = [], ""
    for i, (at, what) in enumerate(events):
        last = at or last
        ordered.append((last, i, at, what))
    ordered.sort()
    return [(at, what) for _, _, at, what in ordered]


def _delivery_end(d: dict, ref: str) -> str | None:
    to, number = d["to"], d["message_no"]
    if d["state"] == "parked":
        why = tr(d["parked"])
        return tr(f"parked for {to}: {why} (`onecsync retry {ref}` once fixed)")
    if d["state"] == "not sent yet":
        return tr(f"not sent to {to} yet: the next run sends it")
    if d["state"] == "waiting for confirmation":
        secs = d["waiting_seconds"]
        age = "" if secs is None else _duration(secs)
        return tr(f"waiting {age} for {to} to confirm our message {number}") if age else \
            tr(f"waiting for {to} to confirm our message {number}")
    return None


def _duration(secs: int) -> str:
    if secs < 90:
        n = max(secs, 0)
        return tr(f"{n} s")
    if secs < 90 * 60:
        n = secs // 60
        return tr(f"{n} min")
    if secs < 36 * 3600:
        n = secs // 3600
        return tr(f"{n} h")
    n = secs // 86400
    return tr(f"{n} days")


# A journey's steps are seconds apart: a run receives, routes and sends in one go.
_SECONDS = "%Y-%m-%d %H:%M:%S"


def print_trace(data: dict) -> None:
    out = stdout()
    t = data["trace"]
    if t is None:
        more = _(" (and more: narrow it with a date or a Ссылка)") if data["more"] else ""
        out.print(tr(f"{len(data['objects'])} objects{more}; trace one by its Ссылка:"), markup=False)
        for o in data["objects"]:
            out.print(f"  {_object_line(o)}", markup=False)
        return
    out.print(_object_line(t), markup=False)
    if t["crm_invoice"]:
        inv = t["crm_invoice"]
        deleted = _(" (deleted in the CRM)") if inv["deleted"] else ""
        out.print(tr(f"CRM invoice {inv['number'] or ''} for {inv['counterparty'] or '?'}, "
                     f"{inv['amount'] or '?'} {inv['currency'] or ''}, first seen "
                     f"{_when(inv['first_seen'])}{deleted}"), markup=False)
    for at, what in _trace_events(t):
        when = _when(at, clock=_SECONDS) if at else ("" if at == "" else _("time not recorded"))
        out.print(f"  {when:<35} {what}", markup=False)
    for d in t["deliveries"]:
        end = _delivery_end(d, t["ref"])
        if end:
            out.print(f"  {_('now'):<35} {end}", markup=False)
    if not t["deliveries"] and not any(r["decision"] == "forwarded" for r in t["routing"]):
        out.print(f"  {_('now'):<35} {_('not registered for any base')}", markup=False)
    if t["named_by"]:
        out.print(_("named by"), markup=False)
        for o in t["named_by"]:
            out.print(f"  {_object_line(o)} · " + tr(f"from {o['from']}, {o['status']}"), markup=False)
    if t["unknown"]:
        out.print(tr(f"not recorded by the onecsync of the time: {'; '.join(t['unknown'])}"),
                  markup=False)


def print_failure(line: str, code: int, as_json: bool, problems: list | None = None) -> None:
    """A command that failed: its one line, each of several config problems below it, and the
    --json document."""
    error_line(line)
    if problems and len(problems) > 1:
        for p in problems:
            stderr().print(f"  - {tr(p)}", markup=False)
    json_failure(as_json, code, line, problems)


def json_failure(as_json: bool, code: int, line: str, problems: list | None = None) -> None:
    """What a script reading --json gets from every run that ends without its report: a stop
    (SIGTERM, run_timeout), a usage or configuration error, a lock held, a bug."""
    if as_json:
        print_json({"exit_code": int(code), "error": line, "problems": problems or []})
