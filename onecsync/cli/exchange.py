"""The exchange commands: `run`, `pull-catalogs`, `push-invoices`, `pull-settlements`, `retry`,
`reconcile`. Each is a call into `onecsync.api` whose run report the console renders.

Public API: `COMMANDS` (the click commands, for the group).
"""

from __future__ import annotations

from functools import partial

import click

from onecsync import api
from onecsync import console
from onecsync import stopping
from onecsync import topology
from onecsync.cli.options import Options
from onecsync.cli.options import global_options


def _run(opts: Options, call=api.run) -> int:
    config = opts.config()
    with console.progress(opts.progress) as progress:
        report = call(config, dry_run=opts.dry_run, progress=progress)
    stopping.settle()  # the run is committed and journaled: a stop now would only say it falsely
    if opts.as_json:
        console.print_json(report.to_json())
    elif opts.verbosity >= 0:
        console.print_run(report)
    elif report.exit_code and not report.errors:  # -q: no error line said it yet
        console.print_run_line(report)
    return report.exit_code


@click.command(topology.PULL_CATALOGS)
@click.pass_obj
@global_options
def pull_catalogs(opts: Options) -> int:
    """Receive from accounting; route catalogs to the CRM; send to both.

    \b
    Example:
        onecsync --config /etc/onecsync/onecsync.yaml pull-catalogs
    """
    return _run(opts, partial(api.run, flow=topology.PULL_CATALOGS))


@click.command(topology.PUSH_INVOICES)
@click.pass_obj
@global_options
def push_invoices(opts: Options) -> int:
    """Receive from both; route CRM invoices to accounting and back; send to both.

    Every invoice that comes from the CRM is kept in the invoice registry: the accountant's
    changes to one of them go back to the CRM with this command; an invoice made in
    accounting never does.
    """
    return _run(opts, partial(api.run, flow=topology.PUSH_INVOICES))


@click.command(topology.PULL_SETTLEMENTS)
@click.pass_obj
@global_options
def pull_settlements(opts: Options) -> int:
    """Receive from accounting; route the settlements linked to CRM invoices to the CRM.

    A sale, return, bank or cash document goes to the CRM only when it names a CRM invoice
    (or a document already forwarded) along the link paths of flows.pull-settlements.links;
    the others wait in the inbox for their invoice.
    """
    return _run(opts, partial(api.run, flow=topology.PULL_SETTLEMENTS))


@click.command(topology.RETRY)
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
    return _run(opts, partial(api.retry, refs=None if all_ else refs))


@click.command(topology.RECONCILE)
@click.option("--heal", is_flag=True, help="Register what is missing again for the next send.")
@click.pass_obj
@global_options
def reconcile(opts: Options, heal: bool) -> int:
    """Compare what the bases hold with what onecsync believes; exit 9 on drift.

    From the state: objects the bases have not confirmed for many runs, parked objects, and
    settlement documents that name an invoice nobody sent. Through OData, where configured:
    every CRM invoice in accounting with its amount, posted; the payments and sales accounting
    holds for it forwarded to the CRM; what the CRM confirmed present in it. `run` ends with
    the same check (without --heal) of a slice of the history in turn, and of what drifted;
    by hand, of all of it up to a bound (README: Reconcile).
    """
    return _run(opts, partial(api.reconcile, heal=heal))


@click.command(topology.RUN)
@click.pass_obj
@global_options
def run(opts: Options) -> int:
    """Receive from both, route every flow, send to both (the cron entry).

    \b
    Example:
        */5 * * * * onecsync --config /etc/onecsync/onecsync.yaml -q run
    """
    return _run(opts)


COMMANDS = (pull_catalogs, push_invoices, pull_settlements, retry, reconcile, run)
