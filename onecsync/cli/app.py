"""The group and the exit mapping: `main(argv)` runs a command and turns what it raised into the
exit code and one line (an error's remedy, Ctrl-C, SIGTERM, a bug without its traceback), and
what its output met (a reader gone, a full disk) into the code its work left.

Public API: `cli` (the click group, every command added), `main(argv)`, `READER_GONE`.
"""

from __future__ import annotations

import errno
import inspect
import logging
import re
import signal
import sys
from typing import TextIO
from typing import cast

import click

from onecsync import console
from onecsync import stopping
from onecsync.cli import admin
from onecsync.cli import exchange
from onecsync.cli import i18n as cli_i18n
from onecsync.cli import manpage
from onecsync.cli import setup
from onecsync.cli.options import global_options
from onecsync.cli.options import version_option
from onecsync.errors import READER_GONE
from onecsync.errors import READER_GONE_MEANING
from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError
from onecsync.errors import Stopped
from onecsync.errors import clip
from onecsync.errors import exit_codes
from onecsync.i18n import N_
from onecsync.i18n import tr

log = logging.getLogger("onecsync")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@global_options
def cli():
    """Sync 1C:CRM and 1C:Бухгалтерия 3.0 as a node of their EnterpriseData exchange.

    The options below go before the command or after it: `onecsync -q run` is `onecsync run -q`.
    """


# The exit codes' meanings come from ExitCode, said once there.
cli.help = (f"{inspect.cleandoc(cli.help or '')}\n\nExit codes: {exit_codes()}, "
            f"{READER_GONE} {READER_GONE_MEANING}.")


# click writes its own lines (--help, --version, its usage errors, a prompt) to the stream it
# finds: given ours, a full disk or a closed stream there ends no command either.
click.utils._default_text_stdout = lambda: cast(TextIO, console.STDOUT)
click.utils._default_text_stderr = lambda: cast(TextIO, console.STDERR)


for command in (*exchange.COMMANDS, *setup.COMMANDS, *admin.COMMANDS, manpage.manpage):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    console.fill_closed()
    console.readers_back()
    stopping.forget()  # a new command (tests run many in one process)
    previous = _stop_on_sigterm()
    try:
        try:
            code = _main(args)
        except (Stopped, KeyboardInterrupt) as stop:  # came as _main returned, before it settled
            code = _failure(stop, args)
        code = _as_output_left(code)
    finally:
        if argv is None:
            # The process ends here, its outcome said: a stop during the interpreter's exit
            # must not turn it into 143 (a handler in Python is gone before the exit is).
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
        else:  # a caller in this process (a test) gets its own handlers back
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])
    sys.exit(code)


def _as_output_left(code: int) -> int:
    """`code`, or what stdout and stderr made of it. A command that did its work but could not
    write all its output (a full disk, an I/O error) exits 4, the next run's report will be
    written; one whose reader went away, 141. A command that failed keeps its own code; a run's
    journal (`status`) keeps the code of its work either way."""
    console.flush()
    if lost := console.lost():
        stream, why = lost
        if stream == "stdout":  # stderr may still take the line; stdout is the report's
            console.error_line(N_(f"{stream} could not be written: {why}: what it shows is "
                                  "incomplete; what the command did stands (a run's own exit "
                                  "code is in `onecsync status`)"))
            console.flush()
        return int(ExitCode.TEMPORARY) if code == 0 else code
    return READER_GONE if code == 0 and console.reader_gone() else code


# Click echoes a wrong value whole ("'…' is not one of", "File '…' does not exist"): a word
# this long is an argument, not a word, and is cut as every error line cuts one.
_LONG_WORD = re.compile(r"\S{200,}")


def _cut_words(message: str) -> str:
    return _LONG_WORD.sub(lambda m: clip(m.group()), message)


def _main(args: list[str]) -> int:
    cli_i18n.localize(cli)  # help texts and click's own words in the locale's language
    try:
        code = _command(args)
    except (Exception, KeyboardInterrupt, Stopped) as exc:
        try:
            code = _failure(exc, args)
        except (Stopped, KeyboardInterrupt) as stop:  # came before a word of the error was said
            code = _failure(stop, args)
    stopping.settle()
    return code


def _command(args: list[str]) -> int:
    try:
        code = cli.main(args=args, prog_name="onecsync", standalone_mode=False)
    except Exception as exc:
        # A stop that SQLite or lxml swallowed and reported as its own error is a stop.
        if (stop := stopping.pending()) is None or isinstance(exc, click.exceptions.Exit):
            raise
        raise stop from None
    return code if isinstance(code, int) else 0


def _failure(exc: BaseException, args: list[str]) -> int:
    """Say how the command failed (`exc`), once: the line, and --json's document; the code."""
    stopping.settle()  # the outcome is this error: a stop from now on must not add another
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"})
                  for a in args)
    as_json = "--json" in args
    quiet = any(a in ("-q", "--quiet") for a in args)
    if isinstance(exc, click.exceptions.Exit):
        return exc.exit_code
    if isinstance(exc, click.ClickException):
        # click worded its own errors in the locale's language; ours are English until shown.
        english = _cut_words((cli_i18n.english_usage_error(cli, args) if as_json else None)
                             or exc.format_message())
        # click declares it Final, yet every format_message() of its errors reads it: no other way in.
        exc.message = console.shown(tr(_cut_words(exc.message)))  # type: ignore[misc]
        exc.show(file=console.STDERR)
        console.json_failure(as_json, exc.exit_code, english, head=_head(args, as_json))
        return exc.exit_code
    if isinstance(exc, (click.Abort, KeyboardInterrupt)):  # Ctrl-C (click: Abort), a prompt left
        interrupted = isinstance(exc, KeyboardInterrupt) or \
            isinstance(exc.__context__, KeyboardInterrupt)
        line = N_("interrupted (Ctrl-C)") if interrupted else N_("aborted")
        console.error_line(line)
        console.json_failure(as_json, 130, line, head=_head(args, as_json))
        return 130
    if isinstance(exc, Stopped):  # what it was doing is undone, and journaled
        console.error_line(f"{exc}: {exc.remedy}")
        console.json_failure(as_json, exc.exit_code, f"{exc}: {exc.remedy}",
                             head=_head(args, as_json))
        return exc.exit_code
    if isinstance(exc, OnecsyncError):
        code = int(exc.exit_code)
        if exc.silent_when_quiet and quiet and not as_json:
            pass  # not an error: the run that holds the lock does the work (cron mail stays empty)
        else:
            _fail(exc.line(), code, as_json, verbose, exc, _head(args, as_json))
        return code
    if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
        # a path no config check foresaw (a $VARIABLE in a secret's path): still the admin's
        code = int(ExitCode.CONFIG)
        _fail(N_(f"the path {str(exc.filename)[:80]}… is too long for the system "
              "(ENAMETOOLONG): shorten the config key or variable that names it"),
              code, as_json, verbose, exc, _head(args, as_json))
        return code
    code = int(ExitCode.BUG)  # a bug: one line, the traceback only with -v
    _fail(N_(f"internal error: {type(exc).__name__}: {exc} (run with -v for the "
             "traceback, and please report it)"), code, as_json, verbose, exc,
          _head(args, as_json))
    return code


# Commands that change nothing: stopped, they have nothing to undo (the stop line says so).
READ_ONLY = frozenset({"check", "status", "validate", "manpage", "state show", "state export"})


def _stop_on_sigterm():
    """SIGTERM (systemctl stop) ends the run as Ctrl-C would: undone, journaled, one line. Once:
    a second one kills at once, which the state survives just as well. Once the outcome is
    settled (stopping.settle: the work done, its report begun), neither changes anything. Both are remembered
    (onecsync.stopping): a library that swallows the exception must not turn the stop into an
    error of its own. The handlers they replace, to be put back."""
    def stop(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        if stopping.settled():
            return  # the outcome is decided and being said: the command ends with its own code
        ctx = click.get_current_context(silent=True)  # the command the signal stops
        command = ctx.command_path.partition(" ")[2] if ctx else ""
        raise stopping.asked(Stopped("SIGTERM", read_only=command in READ_ONLY))

    def interrupt(signum, frame) -> None:
        if stopping.settled():
            signal.signal(signal.SIGINT, signal.SIG_DFL)  # as SIGTERM: a second one ends it
            return
        raise stopping.asked(KeyboardInterrupt())

    return signal.signal(signal.SIGTERM, stop), signal.signal(signal.SIGINT, interrupt)


def _head(args: list[str], as_json: bool) -> dict | None:
    """The command and dry_run of --json's failure document (console.json_failure)."""
    if not as_json:
        return None
    return {"command": cli_i18n.command_of(cli, args), "dry_run": "--dry-run" in args}


def _fail(line: str, code: int, as_json: bool, verbose: bool, exc: BaseException,
          head: dict | None) -> None:
    if verbose:
        log.debug("traceback", exc_info=exc)
    console.print_failure(line, code, as_json, getattr(exc, "problems", None),
                          getattr(exc, "more_problems", 0), head)
