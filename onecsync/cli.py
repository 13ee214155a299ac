"""The command line: parse options, load the config, call the core, render, exit with the code.

Public API: `cli` (the click group), `main(argv)`. No logic lives here: each command is a few
lines of wiring around `onecsync.flows` and `onecsync.console`.
"""

from __future__ import annotations

import errno
import logging
import signal
import sys

import click

from onecsync import cli_admin
from onecsync import cli_i18n
from onecsync import cli_manpage
from onecsync import console
from onecsync import topology
from onecsync.cli_options import Options
from onecsync.cli_options import global_options
from onecsync.cli_options import version_option
from onecsync.errors import ExitCode
from onecsync.errors import OnecsyncError
from onecsync.errors import Refused
from onecsync.errors import Stopped
from onecsync.i18n import N_
from onecsync.i18n import tr

log = logging.getLogger("onecsync")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@version_option
@global_options
def cli():
    """Sync 1C:CRM and 1C:Бухгалтерия 3.0 as a node of their EnterpriseData exchange.

    The options below go before the command or after it: `onecsync -q run` is `onecsync run -q`.

    Exit codes: 0 done, 1 bug, 2 usage, 3 config, 4 temporary (retry), 5 message rejected,
    6 numbering conflict, 7 objects parked, 8 busy, 9 drift, 141 the output's reader went away.
    """


def _run(opts: Options, command: str, refs: tuple[str, ...] | None = None,
         heal: bool = False) -> int:
    from onecsync.flows.runner import execute

    config = opts.config()
    with console.progress(opts.progress) as progress:
        outcome = execute(config, command, dry_run=opts.dry_run, refs=refs, progress=progress,
                          heal=heal)
    report = outcome.report()
    if opts.as_json:
        console.print_json(report.to_json())
    elif opts.verbosity >= 0:
        console.print_run(report)
    elif report.exit_code and not report.errors:  # -q: no error line said it yet
        console.print_run_line(report)
    return report.exit_code


@cli.command(topology.PULL_CATALOGS)
@click.pass_obj
@global_options
def pull_catalogs(opts: Options) -> int:
    """Receive from accounting; route catalogs to the CRM; send to both.

    \b
    Example:
        onecsync --config /etc/onecsync/onecsync.yaml pull-catalogs
    """
    return _run(opts, topology.PULL_CATALOGS)


@cli.command(topology.PUSH_INVOICES)
@click.pass_obj
@global_options
def push_invoices(opts: Options) -> int:
    """Receive from the CRM; route its invoices to accounting; send to both.

    Every invoice that comes from the CRM is kept in the invoice registry: only documents
    linked to one of them ever go back to the CRM.
    """
    return _run(opts, topology.PUSH_INVOICES)


@cli.command(topology.PULL_SETTLEMENTS)
@click.pass_obj
@global_options
def pull_settlements(opts: Options) -> int:
    """Receive from accounting; route linked settlements and edited CRM invoices to the CRM.

    A sale, return, bank or cash document goes to the CRM only when it names a CRM invoice
    (or a document already forwarded) along the link paths of flows.pull-settlements.links;
    the others wait in the inbox for their invoice.
    """
    return _run(opts, topology.PULL_SETTLEMENTS)


@cli.command(topology.RETRY)
@click.option("--all", "all_", is_flag=True, help="Retry every parked object.")
@click.argument("refs", nargs=-1, metavar="[REF]...")
@click.pass_obj
@global_options
def retry(opts: Options, all_: bool, refs: tuple[str, ...]) -> int:
    """Evaluate parked objects again (after a mapping fix), then route and send.

    \b
    Example:
        onecsync retry --all
        onecsync retry 6756910a-0bfc-4326-badf-9380a959021a
    """
    if all_ == bool(refs):
        raise click.UsageError("give either --all or the Ссылки of the objects to retry")
    return _run(opts, topology.RETRY, None if all_ else refs)


@cli.command(topology.RECONCILE)
@click.option("--heal", is_flag=True, help="Register what is missing again for the next send.")
@click.pass_obj
@global_options
def reconcile(opts: Options, heal: bool) -> int:
    """Compare what the bases hold with what onecsync believes; exit 9 on drift.

    From the state: objects the bases have not confirmed for many runs, parked objects, and
    settlement documents that name an invoice nobody sent. Through OData, where configured:
    every CRM invoice in accounting with its amount, posted; the payments and sales accounting
    holds for it forwarded to the CRM; what the CRM confirmed present in it. `run` ends with
    the same check (without --heal).
    """
    return _run(opts, topology.RECONCILE, heal=heal)


@cli.command(topology.RUN)
@click.pass_obj
@global_options
def run(opts: Options) -> int:
    """Receive from both, route every flow, send to both (the cron entry).

    \b
    Example:
        */5 * * * * onecsync --config /etc/onecsync/onecsync.yaml -q run
    """
    return _run(opts, topology.RUN)


@cli.command("settings-message")
@click.argument("peer", type=click.Choice(topology.PEERS))
@click.option("-o", "--output", metavar="FILE",
              help="Where to write it: a file, a folder, or - for stdout "
                   "(default: Message_<our code>_<base code>.xml in the current folder).")
@click.option("--force", is_flag=True, help="Replace FILE even if it is not a settings message.")
@click.pass_obj
@global_options
def settings_message(opts: Options, peer: str, output: str | None, force: bool) -> int:
    """Write the settings-only message for a base: load it in its setup wizard, or drop it
    in the exchange folder. It says who we are and which object types we exchange with it.

    \b
    Example:
        onecsync settings-message accounting
        onecsync settings-message crm -o /mnt/exchange/crm/
    """
    from pathlib import Path

    from onecsync.flows import handshake

    config = opts.config()
    if output == "-":
        if opts.as_json:
            raise click.UsageError("-o - writes the message on stdout; it cannot go with --json")
        if not opts.dry_run:
            with console.to_reader():
                handshake.write_to(sys.stdout.buffer, config, peer)
                sys.stdout.flush()
        return 0
    target = Path(output) if output else Path(handshake.default_file_name(config, peer))
    if opts.dry_run:
        path = target / handshake.default_file_name(config, peer) if target.is_dir() else target
    else:
        path = handshake.write_settings_message(config, peer, target, force=force)
    report = {"command": "settings-message", "exit_code": 0, "dry_run": opts.dry_run,
              "peer": peer, "file": str(path), "to": config.bases[peer].code,
              "from": config.node.code, "versions": list(config.node.formats)}
    if opts.as_json:
        console.print_json(report)
    elif opts.verbosity >= 0:
        console.print_settings_message(report)
    return 0


@cli.command("check")
@click.option("--strict", is_flag=True, help="Warnings count as problems (exit 3).")
@click.pass_obj
@global_options
def check(opts: Options, strict: bool) -> int:
    """Validate the config, reach every transport, and say what each base can do.

    Exits 3 on a config or setup problem, 4 when a transport is unreachable; warnings (a flow
    type a base does not send or receive, a base not heard from yet) exit 0 unless --strict.

    \b
    Example:
        onecsync --config /etc/onecsync/onecsync.yaml check
    """
    from onecsync.flows.check import run_check

    report = run_check(opts.config(), dry_run=opts.dry_run, strict=strict)
    if opts.as_json:
        console.print_json(report.to_json())
    # With --strict a warning is a problem: -q, which hides warnings, must not hide those.
    console.print_check(report, summary=not opts.as_json and opts.verbosity >= 0,
                        warnings=opts.verbosity >= 0 or strict)
    return report.exit_code


def _interactive() -> bool:
    return sys.stdin.isatty()


@cli.command("init")
@click.argument("folder", required=False, type=click.Path(file_okay=False))
@click.option("--transport", "kind", type=click.Choice(["directory", "ftp", "http"]),
              help="How the bases' messages travel (default: what --accounting and --crm "
                   "are: a folder, ftp:// or http(s)://).")
@click.option("--accounting-code", metavar="UUID|FILE",
              help="The accounting base's node code, or a message file it wrote.")
@click.option("--crm-code", metavar="UUID|FILE",
              help="The CRM base's node code, or a message file it wrote.")
@click.option("--accounting", "accounting_at", metavar="PATH|URL",
              help="The accounting exchange folder (or ftp://user@host/folder, https://…).")
@click.option("--crm", "crm_at", metavar="PATH|URL", help="The CRM exchange folder (or URL).")
@click.option("--node-code", metavar="UUID",
              help="Our node code (default: a new UUID; with --force, the replaced config's).")
@click.option("--prefix", metavar="XX", help="Our infobase prefix (at most 2 characters).")
@click.option("--state", "state_path", metavar="PATH",
              help="Where the state goes (default: onecsync-state.sqlite next to the config), "
                   "e.g. /var/lib/onecsync/state.sqlite under systemd.")
@click.option("--force", is_flag=True, help="Replace an existing config.")
@click.pass_obj
@global_options
def init(opts: Options, folder, kind, accounting_code, crm_code, accounting_at, crm_at,
         node_code, prefix, state_path, force) -> int:
    """Write a starting onecsync.yaml in FOLDER (default: here) and the two settings messages.

    Asks for what is missing on a terminal; elsewhere every value must be given as a flag.

    \b
    Example:
        onecsync init /etc/onecsync --accounting-code 0b7e4f2a-1c3d-4e5f-8a9b-0c1d2e3f4a5b \\
            --crm-code 4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f \\
            --accounting /mnt/exchange/bp --crm /mnt/exchange/crm
    """
    import uuid
    from pathlib import Path

    from onecsync import bootstrap

    if folder and opts.config_path:
        raise click.UsageError("give either FOLDER or --config, not both")
    config_path = Path(opts.config_path) if opts.config_path else \
        Path(folder or ".") / "onecsync.yaml"
    values = {"--accounting-code": accounting_code, "--crm-code": crm_code,
              "--accounting": accounting_at, "--crm": crm_at}
    missing = [flag for flag, v in values.items() if not v]
    if config_path.exists() and not force:  # before asking anything
        raise Refused(f"{config_path} already exists",
                      remedy="pass --force to replace it, or choose another folder")
    if missing and not _interactive():
        raise click.UsageError(f"missing {', '.join(missing)} (not on a terminal, so nothing "
                               "can be asked)")
    if missing and kind is None:
        kind = click.prompt("Transport", type=click.Choice(["directory", "ftp", "http"]),
                            default="directory", err=True)
    where = {"directory": "exchange folder", "ftp": "URL (ftp://user@host/folder)",
             "http": "URL (https://user@host/base)"}.get(kind, "exchange folder or URL")
    asks = {"--accounting-code": "Accounting base's node code (UUID, or a message file it wrote)",
            "--crm-code": "CRM base's node code (UUID, or a message file it wrote)",
            "--accounting": f"Accounting base's {where}", "--crm": f"CRM base's {where}"}
    for flag in missing:
        values[flag] = click.prompt(asks[flag], err=True)
    if node_code:
        try:
            node_code = str(uuid.UUID(node_code))
        except ValueError:
            raise click.UsageError(f"--node-code: {node_code!r} is not a UUID") from None
    elif config_path.exists():  # --force: the bases (and the state) know us by the old code
        node_code = bootstrap.previous_setup(config_path)[0]
    request = bootstrap.InitRequest(
        folder=config_path.parent, config_path=config_path, kind=kind,
        node_code=node_code or str(uuid.uuid4()),
        accounting=bootstrap.BaseSpec(bootstrap.base_code(values["--accounting-code"],
                                                          "--accounting-code"),
                                      values["--accounting"]),
        crm=bootstrap.BaseSpec(bootstrap.base_code(values["--crm-code"], "--crm-code"),
                               values["--crm"]),
        prefix=prefix, force=force, state=state_path)
    report = bootstrap.run_init(request, dry_run=opts.dry_run)
    if opts.as_json:
        console.print_json(report)
    elif opts.verbosity >= 0:
        console.print_init(report)
    return 0


cli_admin.register(cli)
cli.add_command(cli_manpage.manpage)


# The exit code of a command that did its work but whose reader went away (`| head`), as a shell
# reports a command killed by SIGPIPE; a command that failed keeps its own code.
READER_GONE = 141


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    console.readers_back()
    previous = _stop_on_sigterm()
    try:
        code = _main(args)
    finally:
        signal.signal(signal.SIGTERM, previous)
    if code == 0 and console.reader_gone():
        code = READER_GONE
    sys.exit(code)


def _main(args: list[str]) -> int:
    verbose = any(a in ("-v", "--verbose") or (a.startswith("-v") and set(a[1:]) == {"v"})
                  for a in args)
    as_json = "--json" in args
    quiet = any(a in ("-q", "--quiet") for a in args)
    cli_i18n.localize(cli)  # help texts and click's own words in the locale's language
    try:
        code = cli.main(args=args, prog_name="onecsync", standalone_mode=False)
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except click.ClickException as exc:
        exc.message = tr(exc.message)
        exc.show()
        code = exc.exit_code
        console.json_failure(as_json, code, exc.format_message())
    except click.Abort as exc:  # Ctrl-C (click turns it into Abort), or a prompt left
        interrupted = isinstance(exc.__context__, KeyboardInterrupt)
        line = N_("interrupted (Ctrl-C)") if interrupted else N_("aborted")
        console.error_line(line)
        code = 130
        console.json_failure(as_json, code, line)
    except Stopped as exc:  # what it was doing is undone, and journaled
        console.error_line(f"{exc}: {exc.remedy}")
        code = exc.exit_code
        console.json_failure(as_json, code, f"{exc}: {exc.remedy}")
    except OnecsyncError as exc:
        code = int(exc.exit_code)
        if exc.silent_when_quiet and quiet and not as_json:
            pass  # not an error: the run that holds the lock does the work (cron mail stays empty)
        else:
            _fail(exc.line(), code, as_json, verbose, exc)
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno == errno.ENAMETOOLONG:
            # a path no config check foresaw (a $VARIABLE in a secret's path): still the admin's
            code = int(ExitCode.CONFIG)
            _fail(N_(f"the path {str(exc.filename)[:80]}… is too long for the system "
                  "(ENAMETOOLONG): shorten the config key or variable that names it"),
                  code, as_json, verbose, exc)
        else:  # a bug: one line, the traceback only with -v
            code = int(ExitCode.BUG)
            _fail(N_(f"internal error: {type(exc).__name__}: {exc} (run with -v for the "
                     "traceback, and please report it)"), code, as_json, verbose, exc)
    return code if isinstance(code, int) else 0


# Commands that change nothing: stopped, they have nothing to undo (the stop line says so).
READ_ONLY = frozenset({"check", "status", "validate", "manpage", "state show", "state export"})


def _stop_on_sigterm():
    """SIGTERM (systemctl stop) ends the run as Ctrl-C would: undone, journaled, one line. Once:
    a second one kills at once, which the state survives just as well."""
    def stop(signum, frame) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        ctx = click.get_current_context(silent=True)  # the command the signal stops
        command = ctx.command_path.partition(" ")[2] if ctx else ""
        raise Stopped("SIGTERM", read_only=command in READ_ONLY)

    return signal.signal(signal.SIGTERM, stop)


def _fail(line: str, code: int, as_json: bool, verbose: bool, exc: BaseException) -> None:
    if verbose:
        log.debug("traceback", exc_info=exc)
    console.print_failure(line, code, as_json, getattr(exc, "problems", None))
