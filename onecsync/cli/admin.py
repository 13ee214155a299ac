"""The operator's commands: `status`, `trace QUERY`, `validate FILE` and the `state` group.

Public API: `COMMANDS` (the click commands, for the group). Wiring only: the
work is in `onecsync.state.reports`, `onecsync.state.admin` and `onecsync.protocol.check`, the
rendering in `onecsync.console`. What the command was asked for goes to stdout (so that it pipes
into `less`, `grep` or `jq`); errors go to stderr.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path

import click

from onecsync import api
from onecsync import console
from onecsync.cli.options import global_options
from onecsync.config import find_config_path
from onecsync.errors import ExitCode
from onecsync.errors import clip_all
from onecsync.topology import PEERS

_YES = click.option("--yes", is_flag=True, help="Do it. Without it, only say what would change.")


@click.command("status", short_help="Numbers, unconfirmed and parked objects, last runs, lock.")
@click.option("--runs", default=5, show_default=True, type=click.IntRange(0, 1000),
              help="How many of the last runs to show.")
@click.option("--all", "all_", is_flag=True,
              help="One line per pair of bases: every config file named, or in the folders "
                   "named (default: /etc/onecsync).")
@click.argument("paths", nargs=-1, metavar="[PATH]...", type=click.Path(path_type=Path))
@click.pass_obj
@global_options
def status(opts, runs: int, all_: bool, paths: tuple[Path, ...]) -> int:
    """Show per base the message numbers, format versions, unconfirmed and parked objects, the
    last runs and who holds the lock. Read-only: safe at any time, even during a run.

    With --all, one line per pair (one config file each): its last run and exit code, and
    how many objects are stuck, parked and unconfirmed. A config or state that cannot be read
    is its pair's line and makes the exit code non-zero; the other pairs are shown all the same.

    \b
    Example:
        onecsync --config /etc/onecsync/onecsync.yaml status
        onecsync status --json | jq '.peers.crm.unconfirmed'
        onecsync status --all /etc/onecsync
    """
    if all_:
        from onecsync import pairs

        if opts.config_path is not None:
            raise click.UsageError("--all reads the config files named after it; drop --config")
        every = pairs.summaries(list(paths) or [pairs.pairs_dir()])
        if opts.as_json:
            console.print_json(every.to_json())
        else:
            console.print_pairs(every)
        return every.exit_code
    if paths:
        raise click.UsageError("config files go after --all (status --all PATH...); for one "
                               "pair use --config PATH")
    data = api.status(opts.config(), runs=runs)
    if opts.as_json:
        console.print_json(data.to_json())
    else:
        console.print_status(data)
    return 0


@click.command("trace", short_help="An object's journey: received, routed, sent, confirmed.")
@click.argument("query", nargs=-1, required=True, metavar="QUERY")
@click.option("--xml", "as_xml", is_flag=True, help="Print the stored XML of its newest version.")
@click.pass_obj
@global_options
def trace(opts, query: tuple[str, ...], as_xml: bool) -> int:
    """Show where an object went, newest last: from which base and message it came, in which
    format version, what routing decided and why, in which of our messages it went to the
    other base, and whether that base has confirmed it. Read-only: safe during a run.

    QUERY is a Ссылка (UUID), a document number with an optional date, or an ИНН (then the
    counterparty's objects, as a list).

    \b
    Example:
        onecsync trace 6a1b0c52-3e36-4f0e-9d3b-8f1d2c7a9e01
        onecsync trace СЧ-000123 2026-12-01
        onecsync trace 7705432193
        onecsync trace СЧ-000123 --json | jq '.trace.deliveries'
    """
    from onecsync.state import trace as tracing

    data = api.trace(opts.config(), query)
    if as_xml:
        if data.trace is None:
            raise click.UsageError("--xml needs a QUERY that names one object: give its Ссылка")
        xml = tracing.stored_xml(opts.config().state, data.trace.type, data.trace.ref)
        console.print_xml(xml or b"")
    elif opts.as_json:
        console.print_json(data.to_json())
    else:
        console.print_trace(data)
    return 0


def _optional_config(opts):
    """The config if one is named or present; validate works on a lone file too."""
    if opts.config_path is None and not find_config_path(None).exists():
        return None
    return api.load_config(opts.config_path)


@click.command("validate", short_help="Check a message file against the EnterpriseData format.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--max-problems", default=100, show_default=True, type=click.IntRange(1),
              help="Report at most this many problems (all are counted).")
@click.pass_obj
@global_options
def validate(opts, file: Path, max_problems: int) -> int:
    """Check an exchange message (.xml or .zip) against the EnterpriseData format: the header
    (structure, order, and, with a config, whose codes), then every body object against 1C's
    schema of the message's version. Exit 0 valid, 5 invalid.

    Each problem names the line, the object (type and Ссылка) and the field. The file is read as
    a stream: any size will do.

    \b
    Example:
        onecsync validate /srv/exchange/crm/Message_4c1d…_8d0e….xml
        onecsync --config /etc/onecsync/onecsync.yaml validate message.zip --json
    """
    from onecsync.files import entry_kind

    mode = file.stat().st_mode
    if not stat.S_ISREG(mode):  # a FIFO would hang the read, /dev/zero never end it
        raise click.BadParameter(f"{file} is a {entry_kind(mode)}, not a message file",
                                 param_hint="FILE")
    config = _optional_config(opts)
    size = file.stat().st_size if file.suffix.lower() == ".xml" else None
    with console.progress(opts.verbosity >= 0) as progress:
        with progress.task(f"checking {file.name}", total_bytes=size) as task:
            check = api.validate_message(file, config, max_problems=max_problems,
                                         progress=task)
    if opts.as_json:
        console.print_json(check.to_json())
    else:
        console.print_validation(check)
    return 0 if check.valid else int(ExitCode.REJECTED)


class _MessageNo(click.ParamType):
    """A message number as 1C writes one (ASCII digits: `٣` or `３` are refused, as in a
    header), at most numbering.LAST_SETTABLE: the state stores it as an SQLite INTEGER and our
    next message is one more."""

    name = "N"

    def convert(self, value, param, ctx) -> int:
        from onecsync.protocol.numbering import LAST_SETTABLE

        if isinstance(value, int):
            return value
        text = str(value).strip()
        if not re.fullmatch(r"[0-9]+", text) or len(text) > 19 or int(text) > LAST_SETTABLE:
            self.fail(f"{text[:40]!r} is not a message number from 0 to {LAST_SETTABLE} "
                      "(ASCII digits)", param, ctx)
        return int(text)


_MESSAGE_NO = _MessageNo()


@click.group("state", short_help="Show, set numbers, resend, export: rare human decisions.")
@global_options
def state() -> None:
    """Look at the state, and make the rare decisions only a human can: set a base's message
    numbers, send everything again, export the state for support. Changes need --yes.
    """


@state.command("show", short_help="The three message numbers per base.")
@click.pass_obj
@global_options
def state_show(opts) -> int:
    """Show the three numbers per base: sent (our last message to it), received (its last
    message we took) and confirmed (the last of ours it says it holds). Read-only.

    \b
    Example:
        onecsync state show
    """
    from onecsync.state import reports

    data = reports.numbers(opts.config())
    if opts.as_json:
        console.print_json(data.to_json())
    else:
        console.print_numbers(data)
    return 0


def _finish(opts, plan) -> int:
    code = 0 if plan.applied or opts.dry_run else int(ExitCode.USAGE)
    if opts.as_json:
        console.print_json({**plan.to_json(), "exit_code": code})
    else:
        console.print_plan(plan, dry_run=opts.dry_run)
    return code


@state.command("set-numbers", short_help="Set a base's numbers: the numbering-conflict remedy.")
@click.argument("peer", type=click.Choice(PEERS))
@click.option("--sent", type=_MESSAGE_NO, metavar="N",
              help="Our last message to the base was number N; the next one is N+1.")
@click.option("--received", type=_MESSAGE_NO, metavar="N",
              help="The base's last message we took was number N; its next one is read.")
@click.option("--force", is_flag=True,
              help="Take a --sent below what the base holds (only after its numbers were "
                   "reset), or a --received that skips the base's message in its folder.")
@_YES
@click.pass_obj
@global_options
def state_set_numbers(opts, peer: str, sent: int | None, received: int | None,
                      force: bool, yes: bool) -> int:
    """Set a base's message numbers by hand: the remedy for a numbering conflict (exit 6).

    \b
    When to use it:
    - exit 6, "confirms our message N, but the last message we wrote to it is M": our state
      file is older than the base (restored from a backup, or copied). First make sure it
      is the newest state you have. Then `--sent N` (the number from the error): our next
      message is N+1, which the base takes. Objects received between the backup and now
      are not in the state: have the base register them again (see README).
    - the run report keeps saying a base's new message "was received earlier: skipped"
      (the base was restored from a backup and numbers from an older point; onecsync
      usually notices that by itself): `--received N-1`, N the MessageNo of the message
      now in its folder, which is then read.
    A --sent below what the base has confirmed, or below the last message this state wrote
    to it, is refused (exit 2, naming the lowest allowed): the base would skip our messages
    as "ранее принято". --force takes it, for a base whose exchange numbers were reset to 0.
    A --received at or above the number of the base's message in its folder, or above the
    last message ever received from it, is refused too (exit 2): that message and the next
    ones would be skipped, and the base would drop them. With --force only the message in
    the folder is skipped; a run that finds the base's messages skipped under a typed
    number stops (exit 6) and says so.
    Without --yes nothing changes; the plan is printed (exit 2).

    \b
    Example:
        onecsync state set-numbers crm --sent 57
        onecsync state set-numbers crm --sent 57 --yes
    """
    from onecsync.state import admin

    if sent is None and received is None:
        raise click.UsageError("give --sent N, --received N or both")
    from onecsync.flows.waiting import waiting_message

    config = opts.config()
    found = waiting_message(config, peer) if received is not None and not force else None
    plan = admin.set_numbers(config, peer, sent, received, apply=yes and not opts.dry_run,
                             force=force, waiting=(found.number, found.name)
                             if found is not None and found.number is not None else None)
    return _finish(opts, plan)


@state.command("resend", short_help="Send a base everything again (all, or one type).")
@click.argument("peer", type=click.Choice(PEERS))
@click.option("--type", "types", multiple=True, metavar="TYPE",
              help="Only this object type, e.g. Справочник.Контрагенты (repeatable).")
@_YES
@click.pass_obj
@global_options
def state_resend(opts, peer: str, types: tuple[str, ...], yes: bool) -> int:
    """Send a base again everything onecsync holds for it (a full resend), or all of one type.

    For the CRM: every catalog object (and settlement document) that came from accounting. Use
    it after the CRM was restored from a backup, or when objects are missing there. Objects
    of a type added to flows.*.objects after they came are routed now too.
    For accounting: every CRM invoice; accounting's copies are overwritten with the CRM's last
    version, so use it only after accounting was restored from a backup.
    The next run writes them all in one message. Without --yes nothing changes (exit 2).

    \b
    Example:
        onecsync state resend crm --type Справочник.Номенклатура --yes
    """
    from onecsync.state import admin

    config = opts.config()
    allowed = admin.resend_types(config, peer)
    wrong = [t for t in types if t not in allowed]
    if wrong:
        raise click.BadParameter(f"onecsync does not send {clip_all(wrong)} to {peer}; it sends "
                                 f"{', '.join(allowed)}", param_hint="--type")
    plan = admin.resend(config, peer, types or None, apply=yes and not opts.dry_run)
    return _finish(opts, plan)


@state.command("export", short_help="The state as JSON for support (no payloads, no secrets).")
@click.option("--with-parked-xml", is_flag=True,
              help="Include the XML of parked objects (it holds business data).")
@click.pass_obj
@global_options
def state_export(opts, with_parked_xml: bool) -> int:
    """Print the state as JSON for support: numbers, counts per type and status, parked objects
    and why, the last 50 runs. No payloads unless asked, never a secret. Read-only.

    \b
    Example:
        onecsync state export > onecsync-state.json
    """
    from onecsync.state import reports

    console.print_json(reports.export(opts.config(), with_parked_xml=with_parked_xml).to_json())
    return 0


COMMANDS = (status, trace, validate, state)
