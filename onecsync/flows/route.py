"""Registering staged objects for a peer: organization filter, mapping, echo check, parking.

Public API: `Registrar(config, state, flow, source, target)` with `offer(row)`,
`offer_linked(row)`, `offer_again(row)`, `mapped(row)`, `withdraw(row)`, `register_rest(types)` and
`say_held_back(types)`; `WITHDRAWN`;
`RouteCounts` (the tally; `routed()` is the report).

Most objects need none of this and go in one SQL statement (`register_rest`); only objects of a
type with mapping rules, under an organization filter, or of which the target base already sent
us a copy are looked at one by one (`offer`). The echo check is what keeps an invoice from
bouncing between the bases: an object is not sent to a base that holds exactly this version
now (state/held.py).
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Iterator

from onecsync import formats
from onecsync.config import Config
from onecsync.config import Flow
from onecsync.flows import links
from onecsync.flows import organizations
from onecsync.i18n import N_
from onecsync.mapping import MappingError
from onecsync.mapping import apply_rules
from onecsync.mapping import organization_of
from onecsync.mapping import restore_dropped
from onecsync.protocol.normal import normalize_object
from onecsync.protocol.objects import canonical_digest
from onecsync.protocol.objects import convert
from onecsync.protocol.objects import deletion_of
from onecsync.protocol.objects import parse_object
from onecsync.runs import Routed
from onecsync.state import State
from onecsync.state.held import Held
from onecsync.state.inbox import DELETED_THERE
from onecsync.state.inbox import SUPERSEDED
from onecsync.state.inbox import UNTOLD
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.inbox import Staged

log = logging.getLogger("onecsync")
# The reason of a waiting document whose copy the target was told to delete (`withdraw`).
WITHDRAWN = "no longer linked: its deletion was sent to the {target} base"


class RouteCounts:
    """The tally a router keeps while it works, held as the frozen `Routed` it hands back: the
    six counts are declared once, there (`add(ignored=3)`, `set(waiting=n)`, by their names)."""

    def __init__(self) -> None:
        self._routed = Routed()

    def add(self, **counts: int) -> None:
        now = self._routed
        self._routed = dataclasses.replace(now, **{k: getattr(now, k) + n for k, n in counts.items()})

    def set(self, **counts: int) -> None:
        self._routed = dataclasses.replace(self._routed, **counts)

    def routed(self) -> Routed:
        return self._routed


class Registrar:
    def __init__(self, config: Config, state: State, flow: Flow, source: str, target: str) -> None:
        self.state = state
        self.flow = flow
        self.source = source
        self.target = target
        self.rules = config.mapping.get(target, {})
        # The rules we applied on the way to the source: what they dropped, it never had.
        self.back_rules = config.mapping.get(source, {})
        self.counts = RouteCounts()
        self._inns: dict[str, str | None] | None = None  # organizations.sent, read once

    def needs_a_look(self, types: list[str]) -> Iterator[Staged]:
        """Staged rows that the bulk statement must not register blindly."""
        mapped = [t for t in types if self.rules.get(t)]
        return self.state.inbox.needs_a_look(self.source, self.target, types, mapped,
                                             objects=bool(self.flow.organizations))

    def offer(self, row: Staged, element=None, edited: bool = False) -> str:
        """Register one object for the target, or say why not: registered, filtered, echo,
        parked, ignored. `element`: the row parsed, and, if `edited`, changed for the target."""
        if self.superseded(row):
            why = DELETED_THERE if self._deleted_there(row) else SUPERSEDED
            return self._status(row, S.IGNORED, why.format(target=self.target, source=self.source))
        if row.kind == "delete":
            if self.state.outbox.was_registered(self.target, row.type, row.ref):
                return self._register(row, None)
            return self._status(row, S.IGNORED)
        element = element if element is not None else parse_object(row.xml, row.version)
        if element.find(f"{{{formats.namespace(row.version)}}}КлючевыеСвойства") is None:
            return self._status(row, S.PARKED, N_("the object has no КлючевыеСвойства"))
        # What the target has (we sent it, or it made it) goes on getting its new versions,
        # whatever organization it names now: held back, its copy there would stay as it was.
        if self.flow.organizations and not self.state.held.has_any(self.target, row.type, row.ref):
            if (kept_out := self._other_organization(element)) is not None:
                return self._status(row, S.FILTERED, kept_out)
        xml = normalize_object(element, formats.namespace(row.version)) if edited else None
        held = self.state.held.of(self.target, row.type, row.ref)  # nothing below writes
        restored = self._restore_dropped(row, element, held)
        if restored is not None:
            element = restored
            xml = normalize_object(element, formats.namespace(row.version))
        try:
            mapped = self.mapped(row, element)
        except MappingError as exc:
            log.warning("%s %s: parked: mapping for %s: %s", row.type, row.ref, self.target, exc)
            return self._status(row, S.PARKED, N_(f"mapping for {self.target}: {exc}"))
        if mapped is not None:
            xml = mapped
        if self._echo(row, xml or row.xml, held):
            return self._status(row, S.ECHO)
        return self._register(row, xml)

    def _other_organization(self, element) -> str | None:
        """Why the flow's organization filter keeps this object out, or None. An organization
        named without its ИНН is told by its Ссылка from the organizations the source sent;
        one not sent yet holds the object back until it is (`UNTOLD`); one sent
        without an ИНН (a non-resident's) is not one of the filter's, which takes ИНН."""
        named = organization_of(element)
        if named is None:
            return None  # names no organization: nothing to filter on
        inn, ref = named
        key = f"flows.{self.flow.name}.organizations"
        if inn is None and ref is not None:
            if self._inns is None:
                self._inns = organizations.sent(self.state, self.source)
            if ref not in self._inns:
                return UNTOLD.format(ref=ref, source=self.source, key=key)
            inn = self._inns[ref]
        if inn is None:
            return f"its organization {ref or ''} has no ИНН, and {key} takes organizations by ИНН"
        return None if inn in self.flow.organizations else f"organization ИНН {inn} is not in {key}"

    def say_held_back(self, types: list[str]) -> None:
        """Warn of what waits for an organization the source has not sent (each run it waits)."""
        if self.flow.organizations:
            organizations.say_untold(self.state, self.flow.name, self.source, types)

    def offer_linked(self, row: Staged) -> str:
        """`offer` a document forwarded for what it names, without the references of its rows
        and header to what is known not to be the target's (`links.without_foreign`)."""
        element, edited = links.without_foreign(self.state, self.flow, self.source, self.target, row)
        return self.offer(row, element, edited)

    def offer_again(self, row: Staged) -> None:
        """`offer_linked` a document forwarded already: what the target holds of it may be
        this very version (nothing it names was stripped or kept otherwise), and it stays
        forwarded all the same."""
        if self.offer_linked(row) == S.ECHO.value:
            self.state.inbox.set_status(row.id, S.ROUTED)
            self.counts.add(echo=-1)

    def mapped(self, row: Staged, element=None) -> bytes | None:
        """The object as the target is sent it, after the mapping rules for its type (None: no
        rules, it goes as stored); MappingError when a rule cannot apply."""
        rules = self.rules.get(row.type)
        if not rules:
            return None
        element = element if element is not None else parse_object(row.xml, row.version)
        mapped = apply_rules(element, rules, formats.load(row.version))
        return normalize_object(mapped, formats.namespace(row.version))

    def withdraw(self, row: Staged) -> None:
        """The target is sent the deletion of its copy of this document, which no longer names
        anything that took it there (a payment re-assigned to another order): it stays waiting,
        and goes again if it comes to name something that does. 1C keeps the mark the deletion
        left on its copy: the registration remembers it (status and reconcile report it)."""
        log.info("%s %s: no longer linked: its deletion goes to the %s base", row.type, row.ref,
                 self.target)
        try:
            notice = deletion_of(row.type, row.ref, row.version)
        except formats.Unconvertible as exc:
            self._status(row, S.PARKED, N_(f"its deletion cannot be written for {self.target}: {exc}"))
            return
        self.state.outbox.register_one(self.target, row, notice, kind="delete")
        self.state.inbox.set_status(row.id, S.WAITING, WITHDRAWN.format(target=self.target))
        self.counts.add(registered=1)

    def superseded(self, row: Staged) -> bool:
        """Will the source base import, over this version, one the target base made?

        An object both bases change (an invoice) can cross on its way: each base sends its own
        version before it has imported the other's. A base imports what we send over whatever
        it holds, so the version we owe the source wins there; passing this one on would swap
        the versions (each base would end with the other's). What we owe the source is
        unconfirmed exactly while it has not imported it: its confirmation comes with its next
        message, and is taken before this routing.

        A deletion we owed the source wins there for good: 1C imports it as a deletion mark that
        nothing it imports clears, and the versions the source sends after it (its crossing
        edit, exported after the import) are of its copy marked for deletion. Passed on, such a
        version would bring the object back in the target base, which deleted it, while the
        source keeps it marked.
        """
        return (self.state.outbox.owed(self.source, row.type, row.ref)
                or self._deleted_there(row))

    def _deleted_there(self, row: Staged) -> bool:
        return row.kind == "object" and self.state.outbox.deleted_there(self.source, row.type,
                                                                       row.ref)

    def _restore_dropped(self, row: Staged, element, held: Held | None):
        """The source's version with what the mapping to the source dropped (it never had it)
        taken from `held`, the version the target holds; None if no drop rule applies."""
        dropped = getattr(self.back_rules.get(row.type), "drop", ())
        if not dropped or held is None or held.row.kind != "object":
            return None
        try:
            kept, _ = convert(held.xml, held.row.version, row.version)
        except formats.Unconvertible:
            return None
        return restore_dropped(element, parse_object(kept, row.version), dropped,
                               formats.load(row.version))

    def _echo(self, row: Staged, xml: bytes, held: Held | None) -> bool:
        """Is `held` (what the target holds now, state/held.py) this very version? Not merely
        the last it sent us: since then it may have imported a newer one from us, and this one
        undoes it.

        Or is it the target's own version, which it still holds, come back from the source as
        we sent it there? A mapping makes that copy differ from the target's (a field dropped,
        a value renamed): passed on, it would overwrite the target's own data with the mapped."""
        if held is None:
            return False
        if held.own:
            back = self.state.held.delivered(self.source, row.type, row.ref)
            if back is not None and back.row.id == held.row.id and _same(row.xml, row, back):
                return True
        return _same(xml, row, held)

    def _register(self, row: Staged, xml: bytes | None) -> str:
        self.state.outbox.register_one(self.target, row, xml)
        self.counts.add(registered=1)
        return "registered"

    def _status(self, row: Staged, status: S, reason: str | None = None) -> str:
        self.state.inbox.set_status(row.id, status, reason)
        self.counts.add(**{status.value: 1})
        return status.value

    def register_rest(self, types: list[str]) -> None:
        self.counts.add(registered=self.state.outbox.register(self.source, self.target, types))


def _same(xml: bytes, row: Staged, held: Held) -> bool:
    """Is `xml` (`row`'s, in its version) the version `held` is, compared in the held one's?"""
    if held.row.kind != row.kind:
        return False
    version = held.row.version
    try:
        ours, _ = convert(xml, row.version, version)
    except formats.Unconvertible:
        return False
    return (canonical_digest(ours, version, empty=False)
            == canonical_digest(held.xml, version, empty=False))
