"""The report of an exchange command (run, a flow, retry, reconcile): its head line, the drift
found, what each base sent and was sent; under -q the one line cron mail must still show.

Public API: `print_run`, `print_run_line`.
"""

from __future__ import annotations

import os

from onecsync import stopping
from onecsync.console import _meaning
from onecsync.console import error_line
from onecsync.console import stderr
from onecsync.i18n import N_
from onecsync.i18n import _
from onecsync.i18n import plural
from onecsync.i18n import tr
from onecsync.runs import Received
from onecsync.runs import ReceivedKind
from onecsync.runs import RunReport
from onecsync.runs import Sent


def _received(r: Received) -> str:
    k = ReceivedKind
    if r.kind is k.FAILED:
        return tr(f"receive failed: {r.error}")
    if r.kind is k.NONE:
        return _("no message from the base")
    file = os.path.basename(r.file or "")
    if r.kind is k.REJECTED_BEFORE:
        return tr(f"{file} skipped: rejected on {r.note.get('rejected_before')} "
                  f"({r.note.get('reason')}); see {r.note.get('quarantine')}")
    if r.kind is k.INCOMPLETE:
        return tr(f"{file} is not complete yet ({r.note.get('why')}, since "
                  f"{r.note.get('since')}): read again on the next run")
    if r.kind is k.UNCHANGED:
        return tr(f"message file unchanged since the last run ({file})")
    if r.kind is k.SETTINGS_ONLY:
        return _("settings-only message (versions recorded)")
    if r.kind is k.DUPLICATE:
        return tr(f"message {r.message_no} was received earlier: skipped")
    objects = plural(r.objects, "{n} object", "{n} objects")
    deletions = plural(r.deletions, "{n} deletion", "{n} deletions")
    text = tr(f"received message {r.message_no}: {objects}, {deletions}")
    if r.parked:
        text += tr(f", {r.parked} parked")
    return text


def _sent(s: Sent, dry_run: bool) -> str:
    if s.error is not None:
        return tr(f"send failed: {s.error}")
    if s.skipped is not None:
        return tr(f"nothing sent ({s.skipped})")
    if s.message_no is None:
        return tr(f"nothing new to send ({s.pending} unconfirmed already sent)")
    objects = plural(s.objects, "{n} object", "{n} objects")
    if dry_run:
        text = tr(f"would send message {s.message_no} (format {s.version}): {objects}")
    else:
        text = tr(f"sent message {s.message_no} (format {s.version}): {objects}")
    if s.by_type:
        text += " — " + ", ".join(f"{k} {v}" for k, v in s.by_type.items())
    return text


# The kinds of drift (flows/reconcile*.py), as words of the display.
DRIFT_KINDS = (N_("amount"), N_("deleted"), N_("missing"), N_("orphan"), N_("parked"), N_("silent"),
               N_("stuck"), N_("unposted"), N_("not-forwarded"))

# Drift lines printed for a run: a few dozen, then how many more (all are in --json and status).
DRIFT_LINES = 30


@stopping.settles
def print_run(report: RunReport) -> None:
    code = report.exit_code
    out = stderr()
    dry = _(" (dry run)") if report.dry_run else ""
    head = f"onecsync {report.command}{dry}: {_meaning(code)} ({_('exit')} {code})"
    out.print(head, style="bold green" if code == 0 else "bold yellow", markup=False)
    drift = report.drift or ()
    for d in drift[:DRIFT_LINES]:
        what = " ".join(x for x in (d["peer"], d["type"], d["ref"]) if x)
        out.print(f"  {_('drift')}: {_(d['kind'])}: {what}: {tr(d['detail'])}", markup=False)
    if len(drift) > DRIFT_LINES:
        out.print("  " + tr(f"drift: … and {len(drift) - DRIFT_LINES} more (onecsync status)"),
                  markup=False)
    for name, peer in report.peers.items():
        parts = []
        if peer.received is not None:
            parts.append(_received(peer.received))
        if peer.sent is not None:
            parts.append(_sent(peer.sent, report.dry_run))
        out.print(f"  {name}: " + "; ".join(parts), markup=False)


@stopping.settles
def print_run_line(report: RunReport) -> None:
    """Under -q, the one line of a run that exits non-zero without an error line of its own
    (objects parked, drift: warnings, which -q hides), so that cron mail still says a human
    must look."""
    code = report.exit_code
    parked = report.parked
    objects = plural(parked, "{n} object", "{n} objects")
    parts = [tr(f"parked in this run: {objects}")] if parked else []
    by_kind: dict[str, int] = {}
    for d in report.drift or ():
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + 1
    if by_kind:
        parts.append(_("drift") + ": " + ", ".join(f"{n} {_(kind)}" for kind, n in by_kind.items()))
    what = "; ".join(parts) or _("see the run journal")
    error_line(f"{report.command}: {_meaning(code)} ({_('exit')} {code}): {what} "
               f"({_('`onecsync status` lists them, with why')})")
