"""The command line in the admin's language: help texts and click's own words (Usage, Options…).

Public API: `localize(group)` (before each invocation: every help text in the language of the
locale, back to English when it says English), `help_texts(group)` (what tools/po.py extracts),
`english_usage_error(group, args)` (what --json says of a usage error, in any locale).

click looks its own texts up with `gettext.gettext` bound into each of its modules; those names
are pointed at our catalog, so "Usage:" and "No such option" follow the same locale as ours.
"""

from __future__ import annotations

import inspect
from typing import Iterator

import click

from onecsync import i18n

_CLICK_MODULES = ("core", "formatting", "exceptions", "decorators", "parser", "types")
_ORIGINAL = "_onecsync_english"


def _walk(cmd: click.Command, path: str = "onecsync") -> Iterator[tuple[object, str, str]]:
    """(object, attribute, where) of each help text of `cmd` and what is below it."""
    for attr in ("help", "short_help", "epilog"):
        yield cmd, attr, path
    for p in cmd.params:
        if isinstance(p, click.Option):
            yield p, "help", f"{path} {p.opts[-1]}"
    if isinstance(cmd, click.Group):
        for name, sub in sorted(cmd.commands.items()):
            yield from _walk(sub, f"{path} {name}")


def _english(obj: object, attr: str) -> str | None:
    saved = getattr(obj, _ORIGINAL, None)
    if saved is None:
        saved = {}
        setattr(obj, _ORIGINAL, saved)
    if attr not in saved:
        text = getattr(obj, attr, None)
        saved[attr] = inspect.cleandoc(text) if isinstance(text, str) and text else None
    return saved[attr]


def help_texts(group: click.Group) -> Iterator[tuple[str, str]]:
    for obj, attr, where in _walk(group):
        text = _english(obj, attr)
        if text:
            yield text, where


def localize(group: click.Group) -> None:
    for obj, attr, _where in _walk(group):
        text = _english(obj, attr)
        if text:
            setattr(obj, attr, i18n._(text))
        if isinstance(obj, click.Command) and hasattr(obj, "_help_option"):
            obj._help_option = None  # click keeps --help's text from its first use: made again
    for name in _CLICK_MODULES:
        module = getattr(click, name, None)
        if module is not None and hasattr(module, "_"):
            module._ = i18n._
        if module is not None and hasattr(module, "ngettext"):
            module.ngettext = lambda one, many, n: i18n.catalog().ngettext(one, many, n)


def english_usage_error(group: click.Group, args: list[str]) -> str | None:
    """The usage error click gives for `args`, worded in English: click words its errors as it
    raises them, in the locale's language, and --json is English in every locale. The command
    line is parsed again (every level, no command run) inside `i18n.english()`; None when that
    parse finds nothing wrong (an error a command raised itself is ours, and English already)."""
    with i18n.english():
        try:
            ctx = group.make_context("onecsync", list(args))
            command: click.Command = group
            while isinstance(command, click.Group) and (rest := [*_protected(ctx), *ctx.args]):
                name, sub, rest = command.resolve_command(ctx, rest)
                if sub is None or name is None:
                    return None
                command, ctx = sub, sub.make_context(name, rest, parent=ctx)
        except click.ClickException as exc:
            return exc.format_message()
        except (click.exceptions.Exit, click.Abort):
            return None
    return None


def command_of(group: click.Group, args: list[str]) -> str | None:
    """The command `args` name ("run", "state resend"), as click would resolve it, without
    running it or failing on what is wrong in them; None when they name none (--json's
    failure document says which command failed, whatever failed)."""
    names: list[str] = []
    with i18n.english():
        try:
            ctx = group.make_context("onecsync", list(args), resilient_parsing=True)
            command: click.Command = group
            while isinstance(command, click.Group) and (rest := [*_protected(ctx), *ctx.args]):
                name, sub, rest = command.resolve_command(ctx, rest)
                if sub is None or name is None:
                    break
                names.append(name)
                command, ctx = sub, sub.make_context(name, rest, parent=ctx,
                                                     resilient_parsing=True)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            pass
    return " ".join(names) or None


def _protected(ctx: click.Context) -> list[str]:
    """The subcommand and its arguments, which a group's parse sets aside (click 8.2 renamed
    the attribute, keeping the old name deprecated)."""
    if hasattr(ctx, "_protected_args"):  # an empty list must not fall back to the old name
        return list(ctx._protected_args)
    return list(getattr(ctx, "protected_args", []))
