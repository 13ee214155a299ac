"""What `trace` prints: an object's journey, newest last, and `trace --xml`'s stored payload.

Public API: `print_trace`, `print_xml`.
"""

from __future__ import annotations

from onecsync import stopping
from onecsync.console import STDOUT
from onecsync.console import _when
from onecsync.console import stdout
from onecsync.i18n import _
from onecsync.i18n import plural
from onecsync.i18n import tr
from onecsync.state.trace_report import Delivery
from onecsync.state.trace_report import Journey
from onecsync.state.trace_report import Match
from onecsync.state.trace_report import NamedBy
from onecsync.state.trace_report import Routing
from onecsync.state.trace_report import TraceReport


@stopping.settles
def print_xml(xml: bytes) -> None:
    """The stored payload of `trace --xml`, as it was received (namespace-relative). To a
    terminal, what one_line would escape (C1 controls such as U+009B, the 8-bit CSI, which
    xterm obeys; bidi overrides that reorder the line) is written as a character reference:
    the same XML document, and the base's text commands no terminal."""
    text = xml.decode("utf-8", "replace")
    if STDOUT.isatty() and not text.isprintable():
        text = "".join(c if c.isprintable() or c in "\t\n\r" else f"&#x{ord(c):X};"
                       for c in text)
    STDOUT.write(text if text.endswith("\n") else text + "\n")
    STDOUT.flush()


def _object_line(o: Match | Journey | NamedBy) -> str:
    number, date = o.number, (o.date or "")[:10]
    number = tr(f"{number} of {date}") if number and date else (number or "")
    inn = f"ИНН {o.inn}" if not isinstance(o, NamedBy) and o.inn else ""
    return " · ".join(filter(None, (o.type, number, inn, o.ref)))


def _decision_text(r: Routing) -> str:
    why = f": {tr(r.reason)}" if r.reason else ""
    if r.names_invoices:
        names = ", ".join(f"{n.type.removeprefix('Документ.')} {n.number or n.ref}"
                          for n in r.names_invoices)
        why += tr(f" (it names CRM {names})")
    decision = r.decision
    return {"forwarded": _("routing: forwarded to the other base"),
            "waiting": _("routing: waiting for its invoice (it names no CRM invoice, nor a "
                         "document already sent to the CRM)"),
            "echo": _("routing: not sent back (echo: the other base holds this very version)"),
            "superseded": _("routing: not sent on"),
            "filtered": _("routing: filtered"),
            "parked": _("routing: parked"),
            "ignored": _("routing: kept, not sent"),
            "not routed yet": _("routing: not routed yet (the next run routes it)")}.get(
        decision, tr(f"routing: {decision}")) + why


def _trace_events(t: Journey) -> list[tuple[str | None, str]]:
    """(when, what) of the journey, newest last; a step with no recorded time stays after
    the one before it."""
    events: list[tuple[str | None, str]] = []
    for peer in dict.fromkeys([v.from_ for v in t.versions]):
        for v in (v for v in t.versions if v.from_ == peer):
            what = _("deletion") if v.kind == "delete" else _("version")
            newest = _(", newest") if v.newest else ""
            number, fmt, digest = v.message_no, v.format, v.digest[:8]
            events.append((v.received_at, tr(f"received from {peer} in its message {number}, "
                                             f"format {fmt} ({what} {digest}{newest})")))
        for r in (r for r in t.routing if r.from_ == peer):
            events.append(("", _decision_text(r)))  # decided as it came: no time of its own
    for d in t.deliveries:
        to, number, confirmed = d.to, d.message_no, d.confirmed_no
        # What went may be the order to delete the base's copy (a withdrawal): say so.
        if d.kind == "delete":
            steps = (tr(f"deletion registered for {to}"),
                     tr(f"deletion sent to {to} in our message {number}"),
                     tr(f"deletion confirmed by {to} (its ReceivedNo {confirmed})"))
        else:
            steps = (tr(f"registered for {to}"), tr(f"sent to {to} in our message {number}"),
                     tr(f"confirmed by {to} (its ReceivedNo {confirmed})"))
        events.append((d.registered_at, steps[0]))
        if number is not None:
            events.append((d.sent_at, steps[1]))
        if d.state == "confirmed":
            events.append((d.confirmed_at, steps[2]))
    ordered, last = [], ""
    for i, (at, what) in enumerate(events):
        last = at or last
        ordered.append((last, i, at, what))
    ordered.sort()
    return [(at, what) for _, _, at, what in ordered]


def _delivery_end(d: Delivery, ref: str) -> str | None:
    to, number = d.to, d.message_no
    if d.state == "parked":
        why = tr(d.parked or "")
        return tr(f"parked for {to}: {why} (`onecsync retry {ref}` once fixed)")
    if d.state == "not sent yet":
        return tr(f"not sent to {to} yet: the next run sends it")
    if d.state == "waiting for confirmation":
        secs = d.waiting_seconds
        age = "" if secs is None else _duration(secs)
        return tr(f"waiting {age} for {to} to confirm our message {number}") if age else \
            tr(f"waiting for {to} to confirm our message {number}")
    return None


def _duration(secs: int) -> str:
    if secs < 90:
        n = max(secs, 0)
        return tr(f"{n} s")
    if secs < 90 * 60:
        n = secs // 60
        return tr(f"{n} min")
    if secs < 36 * 3600:
        n = secs // 3600
        return tr(f"{n} h")
    n = secs // 86400
    return tr(f"{n} days")


# A journey's steps are seconds apart: a run receives, routes and sends in one go.
_SECONDS = "%Y-%m-%d %H:%M:%S"


@stopping.settles
def print_trace(data: TraceReport) -> None:
    out = stdout()
    t = data.trace
    if t is None:
        more = _(" (and more: narrow it with a date or a Ссылка)") if data.more else ""
        objects = plural(len(data.objects), "{n} object", "{n} objects")
        out.print(tr(f"{objects}{more}; trace one by its Ссылка:"), markup=False)
        for o in data.objects:
            out.print(f"  {_object_line(o)}", markup=False)
        return
    out.print(_object_line(t), markup=False)
    if t.number is None and t.type.startswith("Документ.") and t.versions and \
            all(v.kind == "delete" for v in t.versions):
        out.print(_("a deletion carries no number or date, only the Ссылка"), markup=False)
    if t.crm_invoice:
        inv = t.crm_invoice
        deleted = _(" (deleted in the CRM)") if inv.deleted else ""
        out.print(tr(f"CRM invoice {inv.number or ''} for {inv.counterparty or '?'}, "
                     f"{inv.amount or '?'} {inv.currency or ''}, first seen "
                     f"{_when(inv.first_seen)}{deleted}"), markup=False)
    for at, what in _trace_events(t):
        when = _when(at, shown=_SECONDS) if at else ("" if at == "" else _("time not recorded"))
        out.print(f"  {when:<35} {what}", markup=False)
    for d in t.deliveries:
        end = _delivery_end(d, t.ref)
        if end:
            out.print(f"  {_('now'):<35} {end}", markup=False)
    if not t.deliveries and not any(r.decision == "forwarded" for r in t.routing):
        out.print(f"  {_('now'):<35} {_('not registered for any base')}", markup=False)
    if t.named_by:
        out.print(_("named by"), markup=False)
        for n in t.named_by:
            out.print(f"  {_object_line(n)} · " + tr(f"from {n.from_}, {n.status}"), markup=False)
    if t.unknown:
        out.print(tr(f"not recorded by the onecsync of the time: {'; '.join(t.unknown)}"),
                  markup=False)
