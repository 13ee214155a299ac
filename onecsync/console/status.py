"""What `status`, `status --all`, `state show` and the `state` changes print on stdout.

Public API: `print_status`, `print_pairs`, `print_numbers`, `print_plan`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import Mapping

from onecsync import stopping
from onecsync.console import _when
from onecsync.console import error_line
from onecsync.console import shown
from onecsync.console import stdout
from onecsync.i18n import N_
from onecsync.i18n import _
from onecsync.i18n import plural
from onecsync.i18n import tr
from onecsync.runs import ReceivedKind
from onecsync.state.plans import NumbersPlan
from onecsync.state.plans import StatePlan
from onecsync.state.status_report import InProgress
from onecsync.state.status_report import Numbers
from onecsync.state.status_report import PeerStatus
from onecsync.state.status_report import RunSummary
from onecsync.state.status_report import StatusReport
from onecsync.state.status_report import received_nothing_new

if TYPE_CHECKING:
    from onecsync.pairs import PairsReport
    from onecsync.pairs import PairStatus


def _lock_text(lock: Mapping[str, Any] | None) -> str:
    if lock is None:
        return _("free")
    pid = lock.get("pid", "?")
    held = tr(f"held by pid {lock.get('pid', '?')} ({lock.get('command', '?')}), "
              f"started {lock.get('started', '?')}")
    if lock.get("stuck"):  # it will not end by itself: nothing is exchanged until a human acts
        return held + tr(f"; STUCK: {lock['stuck']}, nothing is exchanged until it ends "
                         f"(kill -CONT {pid}, or kill {pid})")
    return held


def _peer_rows(name: str, p: PeerStatus) -> list[tuple[str, str]]:
    n, fmt = p.numbers, p.format
    rows = [(_("code"), n.code),
            (_("numbers"), tr(f"sent {n.sent_no} · received {n.received_no} · "
                              f"confirmed {n.confirmed_no}"))]
    if n.state_code is not None:
        rows.append((_("WARNING"), tr(f"the state belongs to a base with code {n.state_code}")))
    offered = ", ".join(fmt.offered or []) or _("not known yet")
    if fmt.problem:
        rows.append((_("PROBLEM"), tr(fmt.problem)))
    if p.rejected is not None:
        rows.append((_("REJECTED"), tr(p.rejected.line(name))))
    ours = fmt.ours or _("nothing")
    rows.append((_("format"), tr(f"we write {ours} · its last message {fmt.theirs or '—'} · "
                                 f"it offers {offered}")))
    types = p.object_types
    rows.append((_("object types"),
                 _("not declared") if types is None else tr(f"{len(types)} declared")))
    rows.append((_("last received"), _when(n.last_received_at)))
    rows.append((_("last sent"), _when(n.last_sent_at)))
    if p.backlog is not None:
        b = p.backlog
        u = b.unconfirmed
        objects = plural(u.count, "{n} object", "{n} objects")
        text = tr(f"{objects} ({u.unsent} not sent yet)")
        if u.count:
            text += tr(f", oldest registered {_when(u.oldest)}")
        rows.append((_("unconfirmed"), text))
        st = b.stuck
        objects, runs = plural(st.count, "{n} object", "{n} objects"), \
            plural(st.runs, "{n} run", "{n} runs")
        rows.append((_("stuck"), tr(f"unconfirmed for {runs}: {objects}; is the base importing "
                                    "our messages?") if st.count else "0"))
        pk = b.parked
        rows.append((_("parked"), tr(f"{pk.total} ({pk.received} received from it, "
                                     f"{pk.unsendable} that cannot be sent to it)")))
        if b.inbox.get("filtered"):
            rows.append((_("held back"), tr(f"{b.inbox['filtered']} objects received from it that "
                                            "flows.*.organizations leaves out")))
        for reason, count in b.untold.items():  # the organization may still come: said apart
            rows.append((_("held back"), tr(f"{count} of them: {reason}")))
        if b.awaiting_link:
            rows.append((_("awaiting link"), tr(f"{b.awaiting_link} settlement documents "
                                                f"({b.awaiting_link_recent} received in the last "
                                                f"{b.recent_days} days)")))
        if b.withdrawn:
            rows.append((_("withdrawn"), tr(f"{b.withdrawn} documents it was sent the deletion of: "
                                            "they no longer settle an order of the CRM")))
        if b.marked_again:
            rows.append((_("marked"), tr(f"{b.marked_again} documents sent to it again after their "
                                         "deletion stay marked for deletion there: unmark them in "
                                         "the base (reconcile with OData lists them)")))
        for flow, count in b.held.items():  # a cron line that runs flows one by one skipped it
            rows.append((_("held"), tr(f"{count} objects wait for {flow} to route them: no "
                                       f"command run since they came runs it (schedule `{flow}` "
                                       f"or `run`)")))
    return rows


def _run_text(run: RunSummary) -> str:
    parts = []
    for name, peer in run.peers.items():
        bits = []
        r, s = peer.received, peer.sent
        if r is not None:
            if r.kind is ReceivedKind.FAILED:
                bits.append(_("receive failed"))
            elif received_nothing_new(peer):
                bits.append(_("nothing new"))
            elif r.message_no is not None:
                bits.append(tr(f"got #{r.message_no} ({r.objects} obj)"))
        if s is not None:
            if s.error is not None:
                bits.append(_("send failed"))
            elif s.skipped is None and s.message_no is not None:
                bits.append(tr(f"sent #{s.message_no} ({s.objects} obj)"))
        if bits:
            parts.append(f"{name}: {', '.join(bits)}")
    text = "; ".join(parts)
    if run.error:
        text += (" — " if text else "") + tr(run.error)
    return text


def _in_progress_text(run: InProgress) -> str:
    return tr(f"a run is in progress since {_when(run.since)} (pid {run.pid}, "
              f"{run.command}); what is shown is its last commit")


def _run_state(state: str, exit_code: int | None) -> str:
    if state in ("running", "died"):
        return _({"running": N_("running"), "died": N_("died")}[state])
    return "?" if exit_code is None else str(exit_code)


@stopping.settles
def print_status(data: StatusReport) -> None:
    out = stdout()
    if not data.exists:
        out.print(tr(f"no state yet ({data.state}): nothing has run with this config"), markup=False)
    formats = ", ".join(data.formats)
    head = [(_("config"), data.config), (_("state"), data.state),
            (_("node"), tr(f"{data.node_code} · offers {formats}")),
            (_("lock"), _lock_text(data.lock))]
    if data.in_progress:
        head.append((_("run"), _in_progress_text(data.in_progress)))
    runs = [(_when(r.started_at), r.command, _run_state(r.state, r.exit_code), _run_text(r))
            for r in data.runs]
    if not out.is_terminal:
        for k, v in head:
            out.print(f"{k}: {v}", markup=False)
        for name, p in data.peers.items():
            out.print(f"\n{name}", markup=False)
            rows = _peer_rows(name, p)
            width = max(14, *(len(k) for k, _v in rows))
            for k, v in rows:
                out.print(f"  {k:<{width}} {v}", markup=False)
        if runs:
            out.print("\n" + _("last runs"), markup=False)
            for when, command, code, text in runs:
                out.print(f"  {when}  {command:<15} {_('exit')} {code:<7} {text}", markup=False)
        return
    from rich.markup import escape
    from rich.table import Table

    for k, v in head:
        out.print(f"[bold]{k}[/] {escape(shown(v))}")
    table = Table(show_lines=False, header_style="bold")
    table.add_column("")
    names = list(data.peers)
    for name in names:
        table.add_column(escape(shown(name)))
    columns = [dict(_peer_rows(n, data.peers[n])) for n in names]
    for key in dict.fromkeys(k for c in columns for k in c):
        table.add_row(key, *(escape(shown(c.get(key, ""))) for c in columns))
    out.print(table)
    if runs:
        t = Table(title=_("last runs"), header_style="bold", title_justify="left")
        for col in (N_("started"), N_("command"), N_("exit"), N_("what happened")):
            t.add_column(_(col))
        for when, command, code, text in runs:
            style = None if code in ("0", _("running")) else "yellow"
            # a cell is read as markup: a "[/]" in a path or an error would end the command
            t.add_row(when, escape(shown(command)), code, escape(shown(text)), style=style)
        out.print(t)


def _pair_text(p: PairStatus) -> str:
    if p.error is not None:
        return tr(f"error (exit {p.exit_code}): {p.error}")
    run = p.last_run
    if run is None:
        head = _("never run")
    else:
        head = (f"{run.command} {_('exit')} {_run_state(run.state, run.exit_code)} "
                f"{_when(run.started_at)}")
    if p.in_progress:
        head += tr(f" · running now (pid {p.in_progress.pid})")
    return head + tr(f" · stuck {p.stuck} · parked {p.parked} · unconfirmed {p.unconfirmed}")


@stopping.settles
def print_pairs(data: PairsReport) -> None:
    """`status --all`: one line per pair, errors included, so that `grep` finds any pair."""
    out = stdout()
    if not data.pairs:
        error_line(tr(f"no config files (*.yaml) in {', '.join(data.paths)}"))
        return
    names = [shown(p.pair) for p in data.pairs]
    width = max(len(n) for n in names)
    for name, p in zip(names, data.pairs, strict=True):
        out.print(f"{name:<{width}}  {_pair_text(p)}", markup=False)


@stopping.settles
def print_numbers(data: Numbers) -> None:
    out = stdout()
    if not data.exists:
        out.print(tr(f"no state yet ({data.state})"), markup=False)
        return
    for name, p in data.peers.items():
        out.print(tr(f"{name}: sent {p.sent_no}, received {p.received_no}, confirmed "
                     f"{p.confirmed_no} (last received {_when(p.last_received_at)}, "
                     f"last sent {_when(p.last_sent_at)})"), markup=False)



@stopping.settles
def print_plan(plan: StatePlan, dry_run: bool = False) -> None:
    """What a `state` command changes; without --yes, what it would change."""
    out = stdout()
    verb = _("changed") if plan.applied else _("would change")
    if isinstance(plan, NumbersPlan):
        b, a = plan.before, plan.after
        changes = [f"{k} {b[k]} → {a[k]}" for k in ("sent_no", "received_no", "confirmed_no")
                   if a[k] != b[k]]
        out.print(f"{plan.peer}: {verb}: {', '.join(changes) or _('nothing')}", markup=False)
        if plan.resent:
            resent = plural(plan.resent, "{n} object", "{n} objects")
            out.print("  " + tr(f"again in that message, sent but not confirmed before: {resent}"),
                      markup=False)
    else:
        regs = ", ".join(f"{t} {n}" for t, n in plan.registrations.items()) or _("none")
        types = plural(len(plan.types), "{n} type", "{n} types")
        out.print(f"{plan.peer}: {verb}: " + tr(f"send again every object of {types}, "
                                                f"{plan.total} in all"), markup=False)
        out.print("  " + tr(f"registered before: {regs}"), markup=False)
        if plan.rerouted:
            out.print("  " + _("set aside when they came, judged again by the current config:")
                      + " " + ", ".join(
                f"{t} {n}" for t, n in plan.rerouted.items()), markup=False)
    for note in plan.notes:
        out.print(f"  {tr(note)}", markup=False)
    if plan.applied:
        out.print("  " + _("the next run sends it"), markup=False)
    elif not dry_run:
        out.print(_("nothing changed: add --yes to do it"), markup=False, style="bold yellow")
