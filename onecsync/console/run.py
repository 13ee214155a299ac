"""The report of an exchange command (run, a flow, retry, reconcile): its head line, the drift
found, what each base sent and was sent; under -q the one line cron mail must still show.
"""

from __future__ import annotations

import os

from onecsync.console import _meaning
from onecsync.console import error_line
from onecsync.console import stderr
from onecsync.i18n import N_
from onecsync.i18n import _
from onecsync.i18n import tr


def _received(r: dict) -> str:
    if "error" in r:
        return tr(f"receive failed: {r['error']}")
    if r.get("file") is None:
        return _("no message from the base")
    if r.get("rejected_before"):
        return tr(f"{os.path.basename(r['file'])} skipped: rejected on {r['rejected_before']} "
                  f"({r.get('reason')}); see {r.get('quarantine')}")
    if r.get("incomplete"):
        return tr(f"{os.path.basename(r['file'])} is not complete yet ({r.get('why')}, since "
                  f"{r.get('since')}): read again on the next run")
    if r.get("unchanged"):
        return tr(f"message file unchanged since the last run ({os.path.basename(r['file'])})")
    if r.get("settings_only"):
        return _("settings-only message (versions recorded)")
    if r.get("duplicate"):
        return tr(f"message {r.get('message_no')} was received earlier: skipped")
    text = tr(f"received message {r.get('message_no')}: {r.get('objects', 0)} objects, "
              f"{r.get('deletions', 0)} deletions")
    if r.get("parked"):
        text += tr(f", {r['parked']} parked")
    return text


def _sent(s: dict, dry_run: bool) -> str:
    if "error" in s:
        return tr(f"send failed: {s['error']}")
    if "skipped" in s:
        return tr(f"nothing sent ({s['skipped']})")
    if s.get("message_no") is None:
        return tr(f"nothing new to send ({s.get('pending', 0)} unconfirmed already sent)")
    if dry_run:
        text = tr(f"would send message {s['message_no']} (format {s['version']}): {s['objects']} objects")
    else:
        text = tr(f"sent message {s['message_no']} (format {s['version']}): {s['objects']} objects")
    if s.get("by_type"):
        text += " — " + ", ".join(f"{k} {v}" for k, v in s["by_type"].items())
    return text


# The kinds of drift (flows/reconcile*.py), as words of the display.
DRIFT_KINDS = (N_("amount"), N_("deleted"), N_("missing"), N_("orphan"), N_("parked"), N_("silent"),
               N_("stuck"), N_("unposted"), N_("not-forwarded"))

# Drift lines printed for a run: a few dozen, then how many more (all are in --json and status).
DRIFT_LINES = 30


def print_run(report: dict) -> None:
    code = report["exit_code"]
    out = stderr()
    dry = _(" (dry run)") if report["dry_run"] else ""
    head = f"onecsync {report['command']}{dry}: {_meaning(code)} ({_('exit')} {code})"
    out.print(head, style="bold green" if code == 0 else "bold yellow", markup=False)
    drift = report.get("drift") or []
    for d in drift[:DRIFT_LINES]:
        what = " ".join(x for x in (d["peer"], d["type"], d["ref"]) if x)
        out.print(f"  {_('drift')}: {_(d['kind'])}: {what}: {tr(d['detail'])}", markup=False)
    if len(drift) > DRIFT_LINES:
        out.print("  " + tr(f"drift: … and {len(drift) - DRIFT_LINES} more (onecsync status)"),
                  markup=False)
    for name, peer in report["peers"].items():
        parts = []
        if "received" in peer:
            parts.append(_received(peer["received"]))
        if "sent" in peer:
            parts.append(_sent(peer["sent"], report["dry_run"]))
        out.print(f"  {name}: " + "; ".join(parts), markup=False)


def print_run_line(report: dict) -> None:
    """Under -q, the one line of a run that exits non-zero without an error line of its own
    (objects parked, drift: warnings, which -q hides), so that cron mail still says a human
    must look."""
    code = report["exit_code"]
    parked = sum(int(part.get("parked", 0) or 0) for peer in report["peers"].values()
                 for part in peer.values() if isinstance(part, dict))
    parked += sum(int(r.get("parked", 0) or 0) for r in report["routed"].values()
                  if isinstance(r, dict))
    parts = [tr(f"{parked} object(s) parked in this run")] if parked else []
    by_kind: dict[str, int] = {}
    for d in report.get("drift") or []:
        by_kind[d["kind"]] = by_kind.get(d["kind"], 0) + 1
    if by_kind:
        parts.append(_("drift") + ": " + ", ".join(f"{n} {_(kind)}" for kind, n in by_kind.items()))
    what = "; ".join(parts) or _("see the run journal")
    error_line(f"{report['command']}: {_meaning(code)} ({_('exit')} {code}): {what} "
               f"({_('`onecsync status` lists them, with why')})")
