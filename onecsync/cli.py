"""The command line: parse options, load the config, call the core, render, exit with the code.

Public API: `cli` (the click group), `main(argv)`. No logic lives here: each command is a few
lines of wiring around `onecsync.flows` and `onecsync.console`.
"""

from __future__ import annotations

import logging
import sys

import click

from onecsync import __version__
from onecsync import cli_admin
from onecsync import console
from onecsync.config import load_config
from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError

log = logging.getLogger("onecsync")


class _Options:
    def __init__(self, config: str | None, as_json: bool, dry_run: bool, verbosity: int,
                 json_logs: bool = False) -> None:
        self.config_path = config
        self.as_json = as_json
        self.dry_run = dry_run
        self.verbosity = verbosity
        # A progress bar only where a human watches: a terminal, not -q, not JSON log lines.
        self.progress = verbosity >= 0 and not json_logs

    def config(self):
        return load_config(self.config_path)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", envvar=None,
              help="Config file (default: $ONECSYNC_CONFIG, else ./onecsync.yaml).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON report on stdout.")
@click.option("--dry-run", is_flag=True, help="Write nothing at all; say what would be sent.")
@click.option("-v", "--verbose", count=True, help="Debug output, with tracebacks.")
@click.option("-q", "--quiet", is_flag=True, help="Errors only.")
@click.option("--log-format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one JSON object per log line (for journald).")
@click.version_option(__version__, prog_name="onecsync")
@click.pass_context
def cli(ctx, config, as_json, dry_run, verbose, quiet, log_format):
    """Sync 1C:CRM and 1C:Бухгалтерия 3.0 as a node of their EnterpriseData exchange.

    Exit codes: 0 done, 1 bug, 2 usage, 3 config, 4 temporary (retry), 5 message rejected,
    6 numbering conflict, 7 objects parked, 8 busy, 9 drift.
    """
    if verbose and quiet:
        raise click.UsageError("use either -v or -q, not both")
    verbosity = -1 if quiet else verbose
    console.setup_logging(verbosity, json_lines=log_format == "json")
    ctx.obj = _Options(config, as_json, dry_run, verbosity, json_logs=log_format == "json")


def _run(opts: _Options, command: str) -> int:
    from onecsync.flows.runner import execute

    config = opts.config()
    with console.progress(opts.progress) as progress:
        outcome = execute(config, command, dry_run=opts.dry_run, progress=progress)
    report = outcome.report()
    if opts.as_json:
        console.print_json(report)
    elif opts.verbosity >= 0:
        console.print_run(report)
    return report["exit_code"]


@cli.command("pull-catalogs")
@click.pass_obj
def pull_catalogs(opts: _Options) -> int:
    """Receive from accounting; route catalogs to the CRM; send to both.

    \b
    Example:
        onecsync --config /etc/onecsync/onecsync.yaml pull-catalogs
    """
    return _run(opts, "pull-catalogs")


@cli.command("run")
@click.pass_obj
def run(opts: _Options) -> int:
    """Receive from both, route every flow, send to both (the cron entry).

    \b
    Example:
        */5 * * * * onecsync --config /etc/onecsync/onecsync.yaml -q run
    """
    return _run(opts, "run")


cli_admin.register(cli)


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"})
                  for a in args)
    as_json = "--json" in args
    quiet = any(a in ("-q", "--quiet") for a in args)
    try:
        code = cli.main(args=args, prog_name="onecsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.Abort:
        console.error_line("aborted")
        code = 130
    except OnecsyncError as exc:
        code = int(exc.exit_code)
        if code == ExitCode.BUSY and quiet and not as_json:
            pass  # not an error: the run that holds the lock does the work (cron mail stays empty)
        else:
            _fail(exc.line(), code, as_json, verbose, exc)
    except Exception as exc:  # a bug: one line, the traceback only with -v
        code = int(ExitCode.BUG)
        _fail(f"internal error: {type(exc).__name__}: {exc} (run with -v for the traceback, "
              "and please report it)", code, as_json, verbose, exc)
    sys.exit(code if isinstance(code, int) else 0)


def _fail(line: str, code: int, as_json: bool, verbose: bool, exc: BaseException) -> None:
    if verbose:
        log.debug("traceback", exc_info=exc)
    console.error_line(line)
    problems = getattr(exc, "problems", None)
    if problems and len(problems) > 1:
        for p in problems:
            console.stderr().print(f"  - {p}", markup=False)
    if as_json:
        console.print_json({"exit_code": code, "error": line, "problems": problems or []})
