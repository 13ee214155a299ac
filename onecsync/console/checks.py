"""What `validate`, `check`, `settings-message` and `init` print: a message's problems, what
each base can do, the files written and the next steps.

Public API: `print_validation`, `print_settings_message`, `print_check`, `print_init`.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from onecsync import stopping
from onecsync.console import _meaning
from onecsync.console import _tag
from onecsync.console import stderr
from onecsync.console import stdout
from onecsync.i18n import N_
from onecsync.i18n import _
from onecsync.i18n import plural
from onecsync.i18n import tr

if TYPE_CHECKING:
    from onecsync.bootstrap import InitReport
    from onecsync.flows.check import CheckReport
    from onecsync.flows.handshake import SettingsMessageReport
    from onecsync.protocol.check import Finding
    from onecsync.protocol.check import MessageCheck


@stopping.settles
def print_validation(check: MessageCheck) -> None:
    out = stdout()
    name = check.file
    for p in check.problems:
        where = f"{name}:{p.line}" if p.line else name
        out.print(f"{where}: {_finding_text(p)}", markup=False)
    what = []
    if check.settings_only:
        what.append(_("a settings-only message"))
    elif check.version:
        what.append(f"EnterpriseData {check.version}")
    if check.message_no is not None:
        what.append(tr(f"message {check.message_no}"))
    if check.direction:
        what.append(tr(check.direction))
    what.append(plural(check.objects, "{n} object", "{n} objects"))
    summary = ", ".join(what)
    if check.valid:
        out.print(tr(f"{name}: valid ({summary})"), markup=False, style="green")
        if check.config is None:
            out.print("  " + _("(node codes not checked: no config given)"), markup=False)
        return
    more = check.problems_total - len(check.problems)
    if more:
        out.print(tr(f"… and {more} more problems (--max-problems to see them)"), markup=False)
    total = check.problems_total
    line = tr(f"{name}: INVALID, {total} problem ({summary})") if total == 1 else \
        tr(f"{name}: INVALID, {total} problems ({summary})")
    out.print(line, markup=False, style="bold red")


def _finding_text(p: Finding) -> str:
    """Finding.text(), its message in the admin's language."""
    where = " ".join(w for w in (p.type, p.ref) if w)
    parts = [where] if where else []
    if p.path and p.path != p.type:
        parts.append(p.path.removeprefix(f"{p.type}/") if p.type else p.path)
    parts.append(tr(p.message))
    return ": ".join(parts)


@stopping.settles
def print_settings_message(report: SettingsMessageReport) -> None:
    verb = _("would write") if report.dry_run else _("wrote")
    stderr().print("onecsync: " + tr(f"{verb} the settings message for {report.peer} (to "
                                     f"{report.to}, from {report.sender}) to {report.file}: "
                                     "load it in the base's synchronization setup, or copy it into "
                                     "its exchange folder"), markup=False)


@stopping.settles
def print_check(report: CheckReport, summary: bool = True, warnings: bool = True) -> None:
    """What each base can do, then one line per problem and warning, each with its remedy."""
    out = stderr()
    code = report.exit_code
    if summary:
        verdict = _("ok") if code == 0 else _meaning(code, N_("failed"))
        node = report.node["code"]
        out.print(f"onecsync check: {verdict} ({_('exit')} {code}); "
                  + tr(f"config {report.config}, node {node}"),
                  style="bold green" if code == 0 else "bold red", markup=False)
        for name, p in report.peers.items():
            t = p.transport
            state = _("ok") if t.get("ok") else (_("not checked") if t.get("ok") is None else _("FAILED"))
            out.print(f"  {name}: {_('transport')} {t['kind']} {state}: "
                      f"{tr(t.get('detail') or t.get('error', ''))}", markup=False)
            if p.odata is not None:
                o = p.odata
                said = _("ok") + ": " + tr(o["detail"]) if o["ok"] else _("FAILED") + ": " + tr(o["error"])
                out.print(f"    odata: {said}", markup=False)
            versions = ", ".join(p.versions or [])
            common = p.negotiated or _("none in common")
            if p.versions is None:
                out.print("    " + _("versions: unknown (no message from the base yet)"), markup=False)
            elif p.last_received_at is None:
                out.print("    " + tr(f"versions: {versions} (from its exchange service); "
                                      f"exchanging in {common}"), markup=False)
            else:
                last = p.last_message_version or _("(settings only)")
                out.print("    " + tr(f"versions: {versions}; exchanging in {common}; last message "
                                      f"{last} at {p.last_received_at}"), markup=False)
            types = p.object_types
            if p.versions is not None:
                out.print("    " + (
                    tr(f"object types: sends {len(types['sends'])}, receives {len(types['receives'])}")
                    if types is not None else _("object types: not declared (1C then assumes all)")),
                    markup=False)
    for item in report.problems:
        out.print(f"{_tag(logging.ERROR)}onecsync: {_('problem')}: {tr(item.message)}", style="red",
                  markup=False)
    if warnings:
        for item in report.warnings:
            out.print(f"{_tag(logging.WARNING)}onecsync: {_('warning')}: {tr(item.message)}",
                      style="yellow", markup=False)


@stopping.settles
def print_init(report: InitReport) -> None:
    out = stderr()
    verb = _("would write") if report.dry_run else _("wrote")
    out.print("onecsync: " + tr(f"{verb} {report.config} (our node code {report.node_code})"),
              style="bold green", markup=False)
    for name, path in report.settings_messages.items():
        out.print("onecsync: " + tr(f"{verb} the settings message for {name}: {path}"), markup=False)
    for text in report.warnings:
        out.print(f"onecsync: {_('warning')}: {tr(text)}", style="yellow", markup=False, soft_wrap=True)
    out.print(_("Next steps:"), style="bold", markup=False)
    for i, step in enumerate(report.next_steps, 1):
        out.print(f"  {i}. {tr(step)}", markup=False)
