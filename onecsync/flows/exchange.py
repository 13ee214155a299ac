"""Receive from a peer and send to a peer: the numbering protocol applied to state and transport.

Public API: `Exchange(config, state, transports, dry_run, progress)` with `receive(peer)` and
`send(peer)`, each returning a JSON-ready dict for the run report.

Ordering is what makes a crash harmless (DESIGN.md §2):
- receive: the whole body is staged and the numbers advance in ONE transaction; until it commits
  nothing is confirmed to the peer, and a crash leaves the state as it was.
- send: the message is written to a temporary file, then the stamps and `sent_no` are committed,
  then the file is renamed into place. A crash before the commit wastes the file (the number is
  reused for a superset next time); a crash after it leaves our previous message in place, which
  `in_place()` notices, so the next run writes a new one carrying everything still unconfirmed.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Any
from typing import Iterator

from onecsync import formats
from onecsync.config import Config
from onecsync.errors import OnecsyncError
from onecsync.errors import StrayEntry
from onecsync.errors import TemporaryError
from onecsync.flows import lives
from onecsync.flows.addressing import by_header
from onecsync.flows.addressing import scan
from onecsync.flows.declared import declared_to
from onecsync.flows.declared import keep_receiving
from onecsync.flows.declared import newly_receiving
from onecsync.flows.whose import judge_outgoing
from onecsync.progress import NO_PROGRESS
from onecsync.progress import Progress
from onecsync.protocol import numbering
from onecsync.protocol.dating import Verdict
from onecsync.protocol.envelope import Header
from onecsync.protocol.envelope import check_incoming
from onecsync.protocol.objects import convert
from onecsync.protocol.reader import MessageReader
from onecsync.protocol.writer import utc_now_text
from onecsync.protocol.writer import write_message
from onecsync.quarantine import Quarantine
from onecsync.runs import Received
from onecsync.runs import ReceivedKind
from onecsync.runs import Sent
from onecsync.settling import NotYet
from onecsync.state import State
from onecsync.state.admin import resend_route
from onecsync.state.table import now_text
from onecsync.transport.base import Incoming
from onecsync.transport.base import Transport
from onecsync.transport.base import os_failure

log = logging.getLogger("onecsync")


class _Sink:
    """Where a dry run writes its message: counts the bytes, keeps nothing."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)

    def flush(self) -> None:
        pass


class Exchange:
    def __init__(self, config: Config, state: State, transports: dict[str, Transport],
                 dry_run: bool = False, progress: Progress = NO_PROGRESS) -> None:
        self.config = config
        self.state = state
        self.transports = transports
        self.dry_run = dry_run
        self.progress = progress
        self.quarantine = Quarantine(config, dry_run=dry_run)
        self.problems: list[OnecsyncError] = []

    # -- receive -------------------------------------------------------------------------
    def receive(self, name: str) -> Received:
        base = self.config.bases[name]
        peer = self.state.peers.ensure(name, base.code)
        incoming = self.transports[name].fetch()
        addressing = scan(self.config, name, self.transports[name])
        if addressing.warning:
            log.warning("%s", addressing.warning)
        if incoming is None:
            if addressing.wrong is not None:
                raise addressing.wrong
            log.debug("%s: no message from the base yet", name)
            lives.unstalled(self.state, name, peer)
            return Received(ReceivedKind.NONE)
        try:
            incoming.beside(peer.received_no)  # a later message beside it, which 1C never reads
            return self._receive(name, base, peer, incoming)
        finally:
            incoming.close()

    def _receive(self, name: str, base, peer, incoming: Incoming) -> Received:
        file = incoming.name
        header_numbers: tuple[int | None, int | None] | None = None
        if incoming.fingerprint == peer.in_fingerprint:
            log.debug("%s: %s is unchanged since the last run", name, incoming.name)
            return Received(ReceivedKind.UNCHANGED, file)
        # A file rejected before is skipped, not reported every run; a new rejection is kept.
        if (known := self.quarantine.known(name, incoming)) is not None:
            return Received(ReceivedKind.REJECTED_BEFORE, file, note=known)
        restored, again, confirmed = False, 0, None
        try:
            with self.quarantine.guard(name, incoming), incoming.open() as stream, self.progress.task(
                    f"{name}: reading…", total_bytes=incoming.size) as task:
                reader = MessageReader(stream, source=incoming.name, progress=task, check_schema=True)
                h = reader.header
                if (wrong := by_header(self.config, name, self.transports[name], h)) is not None:
                    raise wrong  # not the message's fault: nothing of it is kept or taken
                check_incoming(h, our_code=self.config.node.code, peer_code=base.code,
                               peer_name=name, offered=self.config.node.formats,
                               source=incoming.name)
                header_numbers = (h.message_no, h.received_no)
                seen: dict[str, Any] = {"versions": h.available_versions, "in_fingerprint": incoming.fingerprint,
                        "last_received_at": now_text()}
                if h.object_types is not None:
                    seen["object_types"] = [d.__dict__ for d in h.object_types]
                if h.prefix:
                    seen["prefix"] = h.prefix
                if h.settings_only:
                    with self.state.atomic():
                        self.state.peers.update(name, **seen)
                    log.debug("%s: settings-only message: versions %s", name,
                             ", ".join(h.available_versions))
                    return Received(ReceivedKind.SETTINGS_ONLY, file, header_numbers)
                numbers = numbering.Numbers(peer.sent_no, peer.received_no, peer.confirmed_no)
                decision = numbering.decide(numbers, h.message_no, h.received_no, peer=name)
                taking = lives.taking(self.state, name, peer, h, numbers, decision, incoming)
                if taking.taken is None:  # the body is not read: only the peer's row may change
                    if taking.record:
                        with self.state.atomic():
                            self.state.peers.update(name, **taking.record)
                    if taking.problem is not None and taking.stops:
                        raise taking.problem  # exit 6 for this base: nothing is sent to it
                    if taking.problem is not None:
                        self.problems.append(taking.problem)  # the run's exit code
                    return Received(ReceivedKind.DUPLICATE, file, header_numbers)
                restored = taking.taken is Verdict.RESTORED
                with self.state.atomic():
                    if restored:
                        # What does the restored base still hold? Not what its ReceivedNo says: it
                        # has just imported our newest message, which leaves out what it had
                        # confirmed before; and its message numbers, reused since the backup, no
                        # longer say which of its confirmations came from which life. So all of it
                        # goes again; 1C matches by Ссылка, so what it still has is not doubled.
                        # It goes as the other base holds it now, not as we last registered it:
                        # since then the restored base may have changed it itself (an
                        # accountant's edit or deletion, which reached the other base), and the
                        # backup may well be of after that change. Our older version would undo
                        # it in this base alone (a deleted invoice would come back to life).
                        self.state.held.resend(name, resend_route(name)[0],
                                               self.state.held.types_of_ours(name))
                        again = self.state.outbox.unconfirm_after(name, 0)
                        seen.update(restored_at=now_text(), restored_sent=peer.sent_no)
                        log.warning("%s: the base went back to message %s after we had received "
                                    "%s (restored from a backup?); accepting it and sending the "
                                    "%d objects it lost again", name, h.message_no,
                                    peer.received_no, again)
                    if decision is not numbering.Decision.APPLY_UNNUMBERED:
                        confirmed = self.state.outbox.confirm(name, h.received_no or 0)
                    counts = self.state.inbox.stage(name, h.message_no, h.version, reader.objects())
                    if decision is not numbering.Decision.APPLY_UNNUMBERED:
                        seen.update(received_no=h.message_no, received_created=lives.reference(name, h.creation_date),
                                    confirmed_no=h.received_no or 0, stale_since=None, stale_runs=None,
                                    received_set=None,
                                    received_high=max(peer.received_high, h.message_no))
                        self.state.headers.take(name, h.message_no or 0, h.creation_date,
                                                h.received_no, restored)
                    seen["format_version"] = h.version
                    self.state.peers.update(name, **seen)
        except NotYet as note:  # the base may still be writing it: nothing was applied
            return Received(ReceivedKind.INCOMPLETE, file, header_numbers, note=note.report)
        for type_name, ref, line, why in counts.parked_items:
            log.warning("%s: %s %s (line %s) parked: %s", name, type_name, ref, line, why)
        log.debug("%s: received message %s: %d objects, %d deletions, %d parked", name,
                 h.message_no, counts.objects, counts.deletions, counts.parked)
        return Received(ReceivedKind.APPLIED, file, header_numbers, restored=restored, resent=again,
                        confirmed=confirmed, objects=counts.objects, deletions=counts.deletions,
                        parked=counts.parked)

    # -- send ----------------------------------------------------------------------------
    def send(self, name: str) -> Sent:
        peer = self.state.peers.ensure(name, self.config.bases[name].code)
        transport = self.transports[name]
        self._report_strays(name, transport)
        if problem := numbering.no_common_version(name, self.config.node.formats, peer.versions):
            raise problem  # the base would refuse whatever we wrote: nothing is stamped
        pending, unsent = self.state.outbox.counts(name)
        version = numbering.negotiate(self.config.node.formats, peer.versions)
        owes_confirmation = peer.received_no != (peer.out_received_no or 0)
        # In a local folder our file is looked for on every run, owed or not: its going is
        # news (whose.py), and a look costs a stat. Over FTP it costs a session, over HTTP "in
        # place" is an import: asked only when something waits.
        files = peer.out_fingerprint is not None and hasattr(transport, "moved")
        lost = (pending > 0 or files) and not transport.in_place(peer.out_fingerprint)
        if not (unsent or owes_confirmation or lost):
            log.debug("%s: nothing new to send (%d unconfirmed, already in message %s)",
                     name, pending, peer.out_no)
            return Sent(pending=pending)
        if pending == 0 and not files:  # computed above only when something waits
            lost = not transport.in_place(peer.out_fingerprint)
        if lost:
            judge_outgoing(self.config, name, transport, peer)  # another writer's, or damage
        number = numbering.next_number(peer.sent_no, name)
        header = Header(
            format=formats.namespace(version), creation_date=utc_now_text(),
            exchange_plan=self.config.node.exchange_plan, to=self.config.bases[name].as_typed,
            sender=self.config.node.as_typed, message_no=number, received_no=peer.received_no,
            available_versions=self.config.node.formats,
            object_types=declared_to(self.config, name, self.state),
            prefix=self.config.node.prefix)
        by_type: Counter = Counter()
        parked: dict[int, str] = {}
        payloads = self._payloads(name, version, by_type, parked)
        task = self.progress.task(f"{name}: writing…", total_objects=pending)
        if self.dry_run:
            with task:
                count = write_message(_Sink(), header, payloads, version, task)
            return self._sent_report(name, number, version, count, by_type, parked, None)
        out = transport.prepare()
        try:
            with task:
                count = write_message(out.file, header, payloads, version, task)
            fp = out.fingerprint()
            with self.state.atomic():
                self.state.outbox.park(parked)
                self.state.outbox.stamp(name, number)
                newly = newly_receiving(self.state, name, header.object_types)
                keep_receiving(self.state, name, header.object_types)
                self.state.peers.update(name, sent_no=number, out_no=number,
                                       out_received_no=peer.received_no, out_fingerprint=fp,
                                       last_sent_at=now_text())
        except OSError as exc:  # a full disk included: nothing committed, nothing lost
            out.discard()
            raise os_failure(exc, f"{name}: writing to {out.where}") from None
        except BaseException:
            out.discard()
            raise
        if newly:  # said once: declared, they are kept declared (declared.py)
            log.warning("%s: %s declared as received from %s for the first time: 1C registers "
                        "for onecsync only the types it declares, so what %s made of them "
                        "before does not come, only what is made or changed from now on; to "
                        "have it too, in %s register those objects again for the onecsync node "
                        "(\"Зарегистрировать изменения\")", name, ", ".join(newly), name, name,
                        name)
        try:
            out.publish()
        except OSError as exc:  # committed: the next run sees the message is not in place
            out.discard()
            what = f"{name}: cannot put the message in place in {transport.description}"
            if isinstance(exc, FileNotFoundError):  # our temporary file was taken away
                raise TemporaryError(f"{what}: {exc.strerror or exc}") from None
            raise os_failure(exc, what) from None
        except BaseException:
            out.discard()
            raise
        return self._sent_report(name, number, version, count, by_type, parked,
                                 getattr(out, "final", None))

    def _report_strays(self, name: str, transport: Transport) -> None:
        """What sits under a name of ours and is not ours never stops the send; it still needs
        a human, so it is a problem of the run (exit 3), on every run while it is there."""
        look = getattr(transport, "strays", None)
        strays = look() if look is not None else []
        if strays:
            more = f" (and {len(strays) - 1} more)" if len(strays) > 1 else ""
            self.problems.append(StrayEntry(
                f"{name}: {strays[0]}{more} is named like onecsync's temporary files but is not "
                "one it made; it was left alone (the message was sent all the same)"))

    def take_problems(self) -> list[OnecsyncError]:
        """Problems met by steps that still went through; the run reports them."""
        problems, self.problems = self.problems, []
        return problems

    def _sent_report(self, name, number, version, count, by_type, parked, path) -> Sent:
        log.debug("%s: %s message %d (format %s): %d objects", name,
                 "would send" if self.dry_run else "sent", number, version, count)
        for rid, why in parked.items():
            log.warning("%s: registration %d parked: %s", name, rid, why)
        return Sent(number, count, version=version, by_type=dict(sorted(by_type.items())),
                    parked=len(parked), file=str(path) if path is not None else None)

    def _payloads(self, name: str, version: str, by_type: Counter,
                  parked: dict[int, str]) -> Iterator[bytes]:
        for p in self.state.outbox.pending(name):
            xml = p.xml
            # Objects 1C wrote in this version go as they came; what we converted or mapped is
            # checked against 1C's schema first, so that one object never spoils a message.
            if p.version != version or p.mapped:
                try:
                    # As received (not mapped), it passed its own version's schema at receive
                    # (check_schema above; what failed was parked): the conversion may rely on it.
                    xml, dropped = convert(p.xml, p.version, version, check=True,
                                           valid=not p.mapped)
                except formats.Unconvertible as exc:
                    parked[p.id] = f"{p.type} {p.ref}: cannot be written in format {version}: {exc}"
                    continue
                if dropped:
                    log.debug("%s: %s %s: dropped %s (not in format %s)", name, p.type, p.ref,
                              ", ".join(dropped), version)
            by_type["УдалениеОбъекта" if p.kind == "delete" else p.type] += 1
            yield xml
