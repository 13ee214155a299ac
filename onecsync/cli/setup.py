"""The setup commands: `init` (a starting config and the settings messages), `settings-message`
(what a base's setup wizard loads) and `check` (the config, the transports, what each base can do).

Public API: `COMMANDS` (the click commands, for the group).
"""

from __future__ import annotations

import io
import sys

import click

from onecsync import api
from onecsync import console
from onecsync import topology
from onecsync.cli.options import Options
from onecsync.cli.options import global_options
from onecsync.errors import Refused


@click.command("settings-message")
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
            message = io.BytesIO()  # a header alone: small
            handshake.write_to(message, config, peer)
            console.write_bytes(message.getvalue())
        return 0
    target = Path(output) if output else Path(handshake.default_file_name(config, peer))
    if opts.dry_run:
        path = target / handshake.default_file_name(config, peer) if target.is_dir() else target
    else:
        path = handshake.write_settings_message(config, peer, target, force=force)
    report = handshake.SettingsMessageReport(
        dry_run=opts.dry_run, peer=peer, file=str(path), to=config.bases[peer].code,
        sender=config.node.code, versions=tuple(config.node.formats))
    if opts.as_json:
        console.print_json(report.to_json())
    elif opts.verbosity >= 0:
        console.print_settings_message(report)
    return 0


@click.command("check")
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
    report = api.check(opts.config(), dry_run=opts.dry_run, strict=strict)
    if opts.as_json:
        console.print_json(report.to_json())
    # With --strict a warning is a problem: -q, which hides warnings, must not hide those.
    console.print_check(report, summary=not opts.as_json and opts.verbosity >= 0,
                        warnings=opts.verbosity >= 0 or strict)
    return report.exit_code


def _interactive() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()  # None: started with it closed (`<&-`)


@click.command("init")
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
        console.print_json(report.to_json())
    elif opts.verbosity >= 0:
        console.print_init(report)
    return 0


COMMANDS = (settings_message, check, init)
