"""Everything the admin sees: log lines, run reports, errors. The only package that imports rich.

Public API (`__all__`): `setup_logging(verbosity, json_lines)`, `print_json(data)`, `error_line`,
`print_failure`, `json_failure`, `shown(text)`, `progress(enabled)`, and one printer per command, each in the
module of its job: `run` (print_run), `status` (print_status, print_pairs, print_numbers,
print_plan), `checks` (print_validation, print_check, print_init, print_settings_message),
`trace` (print_trace, print_xml), `bars` (the terminal progress), and `streams` (stdout and
stderr, whose failures end no command). This module keeps what the printers share: the two
rich consoles (created on first use), the log formatters.

A command's report, once it begins, is the command's outcome: each printer of one is
`@stopping.settles`, so that a stop coming then changes nothing (cli/app.py).

Every line for a person goes through `i18n._` (a constant) or `i18n.tr` (a line the core
built, marked there with `N_(f"…")` or raised as an error), so that it shows in the locale's
language; JSON never does. Whatever came from outside in a line (a name, a path, a server's
words, an element's text) is escaped by `shown` (onecsync.text.one_line), which both consoles
and the log formats apply to every line: a newline, ESC or U+202E in a name never reaches the
terminal raw. A new printer does the same, and `python tools/po.py` adds its texts
to the catalog for translation (tests/test_i18n.py names any left untranslated).

Human text goes to stderr and JSON to stdout (DESIGN.md §3), so `onecsync --json run | jq`
works while cron mail still shows what happened. Colour only on a terminal, never with
NO_COLOR set.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import sys
from typing import TYPE_CHECKING

from onecsync import clock
from onecsync import stopping
from onecsync.console.streams import STDERR
from onecsync.console.streams import STDOUT
from onecsync.console.streams import fill_closed
from onecsync.console.streams import flush
from onecsync.console.streams import lost
from onecsync.console.streams import reader_gone
from onecsync.console.streams import readers_back
from onecsync.console.streams import write_bytes
from onecsync.errors import ExitCode
from onecsync.i18n import N_
from onecsync.i18n import _
from onecsync.i18n import tr
from onecsync.text import one_line

if TYPE_CHECKING:
    from rich.console import Console

_stderr: Console | None = None


def stderr() -> Console:
    # rich is imported on first use: a quiet cron run that has nothing to say never pays for it.
    global _stderr
    if _stderr is None:
        _stderr = _console(STDERR)
    return _stderr


def _console(file) -> Console:
    """A rich console whose every line goes through `shown`: a printer cannot forget it."""
    from rich.console import Console

    class Shown(Console):
        def print(self, *objects, **kw) -> None:
            super().print(*(shown(o) if isinstance(o, str) else o for o in objects), **kw)

    return Shown(file=file, highlight=False, soft_wrap=True, no_color="NO_COLOR" in os.environ)


def _message(record: logging.LogRecord) -> str:
    """The record's line in the admin's language: its format translated before the values go
    in, each value that is itself a line (an error's) translated too."""
    if not isinstance(record.msg, str):
        return shown(record.getMessage())
    args = record.args
    if isinstance(args, tuple):  # a value (a file's name, a server's words) shown escaped, whole
        args = tuple(one_line(tr(a)) if isinstance(a, str) else a
                     if isinstance(a, (int, float)) else one_line(str(a)) for a in args)
    try:
        return shown(_(record.msg) % args if args else _(record.msg))
    except (TypeError, ValueError):  # a translation whose %s do not fit: English is still right
        return shown(record.getMessage())


def shown(text: str) -> str:
    """`text` with whatever came from outside in it escaped (onecsync.text.one_line): the one
    way a human output shows a name. One print is one line; only the blank lines a printer
    puts before or after it are kept."""
    if text.isprintable():
        return text
    body = text.strip("\n")
    if not body:
        return text
    at = text.index(body)
    return text[:at] + one_line(body) + text[at + len(body):]


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
    if json_lines or journal or not (STDERR.isatty() or os.environ.get("FORCE_COLOR")):
        handler: logging.Handler = logging.StreamHandler(STDERR)
        formatter: logging.Formatter = _JsonLines() if json_lines else _Plain()
        handler.setFormatter(_Journal(formatter) if journal else formatter)
    else:
        from rich.logging import RichHandler

        handler = RichHandler(console=stderr(), show_time=False, show_path=False,
                              markup=False, rich_tracebacks=verbosity > 0)
        handler.setFormatter(_Translated())
    logger.addHandler(handler)


@stopping.settles
def print_json(data: dict) -> None:
    STDOUT.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    STDOUT.flush()


def _tag(level: int) -> str:
    """The priority prefix of a line printed, not logged, at `level` (nothing off the journal)."""
    return f"<{_PRIORITY[level]}>" if under_journal() else ""


def error_line(text: str) -> None:
    stderr().print(f"{_tag(logging.ERROR)}onecsync: {_('error')}: {tr(text)}", style="bold red",
                   markup=False)


def _meaning(code: int, otherwise: str = N_("exit")) -> str:
    """What exit `code` means (errors.ExitCode), in the display's language; `otherwise` for a
    code that is no ExitCode (130, 141, 143)."""
    try:
        return _(ExitCode(code).meaning)
    except ValueError:
        return _(otherwise)



# -- stdout, and the times every printer shows ---------------------------------------------------
_out: Console | None = None


def stdout() -> Console:
    """Where the data a command was asked for goes (status, validate): stdout, so it pipes."""
    global _out
    if _out is None:
        _out = _console(STDOUT)
    return _out


def _when(iso: str | None, now: datetime.datetime | None = None,
          shown: str = "%Y-%m-%d %H:%M") -> str:
    if not iso:
        return _("never")
    try:
        t = datetime.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    now = now or clock.utc_now()
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
    return f"{t.astimezone().strftime(shown)} ({age})"




@stopping.settles
def print_failure(line: str, code: int, as_json: bool, problems: list | None = None,
                  more: int = 0, head: dict | None = None) -> None:
    """A command that failed: its one line, each of several config problems below it (`more`:
    how many more there are, not listed), and the --json document (`head`: json_failure's)."""
    error_line(line)
    if problems and len(problems) > 1:
        for p in problems:
            stderr().print(f"  - {tr(p)}", markup=False)
        if more:
            stderr().print(f"  … {tr(f'and {more} more problems')}", markup=False)
    json_failure(as_json, code, line, problems, more, head)


@stopping.settles
def json_failure(as_json: bool, code: int, line: str, problems: list | None = None,
                 more: int = 0, head: dict | None = None) -> None:
    """The one document a script reading --json gets from every command that ends without its
    report: a stop (SIGTERM, run_timeout), a usage or configuration error, a lock held, a bug.
    One shape whatever made it, with the keys a run's report has too: `command` (the command
    line's command, None when it names none), `dry_run`, `exit_code`; then `error`, `problems`,
    and `more_problems` only when some were not listed. `head`: the command and dry_run
    (cli/app.py finds them on the command line)."""
    if as_json:
        head = head or {}
        out = {"command": head.get("command"), "dry_run": bool(head.get("dry_run")),
               "exit_code": int(code), "error": line, "problems": problems or []}
        print_json({**out, "more_problems": more} if more else out)


# The printers, one module per job; imported last: they take the streams above from here.
from onecsync.console.bars import TerminalProgress  # noqa: E402
from onecsync.console.bars import progress  # noqa: E402
from onecsync.console.checks import print_check  # noqa: E402
from onecsync.console.checks import print_init  # noqa: E402
from onecsync.console.checks import print_settings_message  # noqa: E402
from onecsync.console.checks import print_validation  # noqa: E402
from onecsync.console.run import print_run  # noqa: E402
from onecsync.console.run import print_run_line  # noqa: E402
from onecsync.console.status import print_numbers  # noqa: E402
from onecsync.console.status import print_pairs  # noqa: E402
from onecsync.console.status import print_plan  # noqa: E402
from onecsync.console.status import print_status  # noqa: E402
from onecsync.console.trace import print_trace  # noqa: E402
from onecsync.console.trace import print_xml  # noqa: E402

__all__ = ["STDERR", "STDOUT", "TerminalProgress", "error_line", "fill_closed", "flush",
           "json_failure", "lost", "print_check", "print_failure", "print_init", "print_json",
           "print_numbers", "print_pairs", "print_plan", "print_run", "print_run_line",
           "print_settings_message", "print_status", "print_trace", "print_validation",
           "print_xml", "progress", "reader_gone", "readers_back", "setup_logging", "shown",
           "stderr", "stdout", "under_journal", "write_bytes"]
