"""The global options (--config, --json, --dry-run, -v, -q, --log-format), said once and accepted
before the command and after it alike: `onecsync -q run` and `onecsync run -q` are the same.

Public API: `Options` (what the options say, shared by the whole command line),
`global_options` (the decorator every group and command carries), `NAMES` (their parameter names),
`version_option` (--version: ours and what a bug report needs besides), `versions()`.

click gives a group's options to the group only; admins type `onecsync run -q --json` all the
same. So every command carries the same options and merges what it was given into the one
`Options` of the invocation, which then (re)applies logging: the last word wins, and
`-v` before the command plus `-v` after it counts twice.
"""

from __future__ import annotations

import functools

import click

from onecsync import console
from onecsync.api import load_config

# name → the click.option that declares it: the one table every command's options derive from.
_DECLARED = {
    "config": click.option("--config", "config", metavar="PATH", default=None,
                           help="Config file (default: $ONECSYNC_CONFIG, else the first of "
                                "./onecsync.yaml, /etc/onecsync/onecsync.yaml, "
                                "$XDG_CONFIG_HOME/onecsync/onecsync.yaml)."),
    "as_json": click.option("--json", "as_json", is_flag=True, default=None,
                            help="Print one JSON report on stdout."),
    "dry_run": click.option("--dry-run", is_flag=True, default=None,
                            help="Write nothing at all; say what would be sent."),
    "verbose": click.option("-v", "--verbose", count=True, help="Debug output, with tracebacks."),
    "quiet": click.option("-q", "--quiet", is_flag=True, default=None, help="Errors only."),
    "log_format": click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
                               help="json: one JSON object per log line (for journald); "
                                    "default text."),
}

NAMES = tuple(_DECLARED)


class Options:
    """What the global options say, wherever on the command line they were given."""

    def __init__(self) -> None:
        self.config_path: str | None = None
        self.as_json = False
        self.dry_run = False
        self.verbose = 0
        self.quiet = False
        self.log_format = "text"

    @property
    def verbosity(self) -> int:
        return -1 if self.quiet else self.verbose

    @property
    def progress(self) -> bool:
        # A progress bar only where a human watches: a terminal, not -q, not JSON log lines.
        return self.verbosity >= 0 and self.log_format != "json"

    def config(self):
        return load_config(self.config_path)

    def merge(self, given: dict) -> None:
        config = given["config"]
        if config is not None:
            if self.config_path is not None and config != self.config_path:
                raise click.UsageError(f"--config given twice: {self.config_path} and {config}")
            self.config_path = config
        self.as_json = self.as_json or bool(given["as_json"])
        self.dry_run = self.dry_run or bool(given["dry_run"])
        self.quiet = self.quiet or bool(given["quiet"])
        self.verbose += given["verbose"] or 0
        self.log_format = given["log_format"] or self.log_format
        if self.verbose and self.quiet:
            raise click.UsageError("use either -v or -q, not both")
        console.setup_logging(self.verbosity, json_lines=self.log_format == "json")


def versions() -> str:
    """Ours and the versions of what behaves differently between releases: a bug report's line."""
    import platform
    import sqlite3

    from lxml import etree

    from onecsync import __version__

    def dotted(v: tuple) -> str:
        return ".".join(map(str, v[:3]))

    return (f"onecsync {__version__} (Python {platform.python_version()}, "
            f"lxml {dotted(etree.LXML_VERSION)} with libxml2 {dotted(etree.LIBXML_VERSION)}, "
            f"SQLite {sqlite3.sqlite_version})")


def _print_versions(ctx: click.Context, _param, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(versions())
        ctx.exit()


version_option = click.option("--version", is_flag=True, expose_value=False, is_eager=True,
                              callback=_print_versions,
                              help="Show the versions (onecsync, Python, lxml, SQLite) and exit.")


def global_options(f):
    """Declare the global options on a group or command (put it right above the `def`, so that
    --help lists them after the command's own) and merge them before `f` runs."""

    @functools.wraps(f)
    def merged(*args, **kwargs):
        given = {name: kwargs.pop(name) for name in _DECLARED}
        click.get_current_context().ensure_object(Options).merge(given)
        return f(*args, **kwargs)

    for declare in reversed(_DECLARED.values()):
        merged = declare(merged)
    return merged
