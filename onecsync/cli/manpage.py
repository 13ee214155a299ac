"""`onecsync manpage`: the man page onecsync(1), in roff, made from the commands' own --help.

Public API: `manpage` (the click command), `render(group)` → roff text.

The page is never written by hand, so it cannot drift from the command line: each command's
help, usage and options are the ones `--help` prints. README says how to install it.
"""

from __future__ import annotations

import re
from typing import Iterator

import click

from onecsync import __version__
from onecsync import clock
from onecsync.cli import options as cli_options
from onecsync.cli.options import global_options
from onecsync.errors import READER_GONE
from onecsync.errors import READER_GONE_MEANING
from onecsync.errors import ExitCode

_ENVIRONMENT = (
    ("ONECSYNC_CONFIG", "The config file when --config is not given (else the first of "
                        "./onecsync.yaml, /etc/onecsync/onecsync.yaml, "
                        "$XDG_CONFIG_HOME/onecsync/onecsync.yaml)."),
    ("XDG_CONFIG_HOME", "Where the per-user config is looked for (default ~/.config)."),
    ("NO_COLOR", "No colour, even on a terminal."),
    ("JOURNAL_STREAM", "Set by systemd: each log line starts with its syslog priority (<3>…<7>)."),
    ("CREDENTIALS_DIRECTORY", "Set by systemd's LoadCredential=; the config names secret files "
                              "in it as ${CREDENTIALS_DIRECTORY}/<name>."),
)


def _esc(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    # A line starting with . or ' would be read as a roff request.
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


def _help_body(text: str) -> list[str]:
    """click's help text as roff paragraphs; a \\b paragraph keeps its lines, as --help does."""
    out: list[str] = []
    for para in re.split(r"\n\s*\n", text.strip()):
        if para.lstrip().startswith("\b"):
            lines = para.lstrip()[1:].strip("\n").splitlines()
            out += [".PP", ".nf", *(_esc(line) for line in lines), ".fi"]
        else:
            out += [".PP", _esc(" ".join(line.strip() for line in para.splitlines()))]
    return out


def _options(ctx: click.Context, own_only: bool = False) -> list[str]:
    """The options --help lists; `own_only`: not the global ones (and --help), said once."""
    out: list[str] = []
    helps = set(ctx.help_option_names)
    for param in ctx.command.get_params(ctx):
        if isinstance(param, click.Argument):
            continue  # the usage line names them; the help text says what they are
        if own_only and (param.name in cli_options.NAMES or set(param.opts) & helps):
            continue
        record = param.get_help_record(ctx)
        if record:
            out += [".TP", f"\\fB{_esc(record[0])}\\fR", _esc(record[1])]
    return out


def _commands(ctx: click.Context, group: click.Group, path: str) -> Iterator[tuple[str, click.Context]]:
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:  # listed but not there: nothing to document
            continue
        sub = click.Context(command, info_name=name, parent=ctx, **command.context_settings)
        yield f"{path} {name}", sub
        if isinstance(command, click.Group):
            yield from _commands(sub, command, f"{path} {name}")


def render(group: click.Group, prog: str = "onecsync") -> str:
    root = click.Context(group, info_name=prog, **group.context_settings)
    today = clock.today().isoformat()
    summary = (group.help or "").strip().splitlines()[0]
    lines = [f'.TH {prog.upper()} 1 "{today}" "{prog} {__version__}" "User Commands"',
             ".SH NAME", f"{prog} \\- {_esc(summary)}",
             ".SH SYNOPSIS", f"\\fB{prog}\\fR [\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
             ".SH DESCRIPTION", *_help_body(group.help or ""),
             ".SH OPTIONS", ".PP", "They go before the command or after it.", *_options(root),
             ".SH COMMANDS"]
    for path, ctx in _commands(root, group, prog):
        command = ctx.command
        usage = " ".join(command.collect_usage_pieces(ctx))
        lines += [f'.SS "{_esc(path)} {_esc(usage)}"', *_help_body(command.help or "")]
        if not isinstance(command, click.Group):
            lines += _options(ctx, own_only=True)
    lines += [".SH ENVIRONMENT"]
    for name, text in _ENVIRONMENT:
        lines += [".TP", f"\\fB{name}\\fR", _esc(text)]
    lines += [".SH EXIT STATUS"]
    for code in ExitCode:
        lines += [".TP", f"\\fB{int(code)}\\fR", _esc(code.meaning)]
    lines += [".TP", f"\\fB{READER_GONE}\\fR", READER_GONE_MEANING]
    lines += [".SH SEE ALSO", "The README of onecsync: the config keys, the exit codes and what "
              "to do for each, connecting the 1C bases, troubleshooting."]
    return "\n".join(lines) + "\n"


@click.command("manpage", short_help="Print the man page onecsync(1) (roff) on stdout.")
@click.pass_context
@global_options
def manpage(ctx: click.Context) -> int:
    """Print the man page onecsync(1), made from every command's --help, in roff on stdout.

    \b
    Example:
        onecsync manpage | sudo tee /usr/local/share/man/man1/onecsync.1 >/dev/null
        onecsync manpage | man -l -
    """
    from onecsync import console

    root = ctx.find_root()
    assert isinstance(root.command, click.Group), "the root of every command is onecsync's group"
    console.STDOUT.write(render(root.command, root.info_name or "onecsync"))
    return 0
