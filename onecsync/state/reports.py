"""What `status`, `state show` and `state export` report: read-only views of the state.

Public API: `status(config)` → `StatusReport`; `numbers(config)` → `Numbers`; `export(config,
with_parked_xml=False)` → `ExportReport` (the types are in state/status_report.py; each
`to_json` is what --json prints); `peer_summary(state, name, settlement_types, routed_by)` →
`Backlog`; `routers_by_type(config, peer)`; `unconfirmed_sent(state, name)` → `SentBacklog`
(what makes a base "stuck": reconcile and status judge it alike), `STUCK_AFTER_RUNS`.

Everything here reads a state opened read-only (`open_readonly`), never takes the run lock and
never writes: an admin can look at any moment, even while a run is going. Payloads are left out
(an export is for support, and small), and so is anything secret: the state holds none, and the
config is reported only by path.
"""

from __future__ import annotations

import dataclasses
import datetime
import logging
from typing import Iterable
from typing import Iterator
from typing import Mapping

from onecsync import __version__
from onecsync import clock
from onecsync import topology
from onecsync.config import Config
from onecsync.protocol import numbering
from onecsync.runs import RunReport
from onecsync.state import State
from onecsync.state import holder_if_locked
from onecsync.state import lock_path
from onecsync.state import open_readonly
from onecsync.state.inbox import UNTOLD_LIKE
from onecsync.state.inbox import InboxStatus as S
from onecsync.state.journal import DIED
from onecsync.state.journal import UNRECORDED
from onecsync.state.lock import ended_in
from onecsync.state.payloads import unpack
from onecsync.state.status_report import Backlog
from onecsync.state.status_report import Count
from onecsync.state.status_report import ExportReport
from onecsync.state.status_report import FormatStatus
from onecsync.state.status_report import InProgress
from onecsync.state.status_report import Numbers
from onecsync.state.status_report import Parked
from onecsync.state.status_report import ParkedItem
from onecsync.state.status_report import PeerNumbers
from onecsync.state.status_report import PeerStatus
from onecsync.state.status_report import RunSummary
from onecsync.state.status_report import SentBacklog
from onecsync.state.status_report import StatusReport
from onecsync.state.status_report import Stuck
from onecsync.state.status_report import Unconfirmed
from onecsync.state.table import distinct
from onecsync.stored import BadValue
from onecsync.stored import typed

log = logging.getLogger("onecsync")

RUNS = 10
STUCK_AFTER_RUNS = 12      # an hour at one run every five minutes
RECENT_DAYS = 30  # settlement documents received this recently may still find their invoice


def _peer_numbers(config: Config, state: State | None, name: str) -> PeerNumbers:
    base = config.bases[name]
    peer = None
    if state is not None:
        peer = next((p for p in state.peers.all() if p.name == name), None)
    if peer is None:
        return PeerNumbers(code=base.code, known=False)
    return PeerNumbers(code=base.code, known=True, sent_no=peer.sent_no,
                       received_no=peer.received_no, confirmed_no=peer.confirmed_no,
                       last_received_at=peer.last_received_at, last_sent_at=peer.last_sent_at,
                       state_code=peer.code if peer.code != base.code else None)


def unconfirmed_sent(state: State, name: str) -> SentBacklog:
    """Objects sent to the base and not confirmed: how many, since which message, and how many
    finished runs since the oldest was registered. `stuck` once that reaches STUCK_AFTER_RUNS:
    the base is not importing our messages. The first message and the oldest are index seeks;
    the count, the one read that grows with the state (650,000 entries at a million objects,
    at every run's reconcile), is made only when the base is stuck (None otherwise)."""
    oldest, first_no = _oldest(state.conn, name, sent=True)
    sent = _stuck(state, int(first_no is not None), oldest, first_no)
    if sent.stuck:
        return dataclasses.replace(sent, count=state.conn.execute(
            "SELECT count(*) FROM registrations WHERE peer = ? AND confirmed_no IS NULL AND "
            "parked IS NULL AND message_no IS NOT NULL", (name,)).fetchone()[0])
    if first_no is not None:
        return dataclasses.replace(sent, count=None)
    return sent


def _oldest(c, name: str, sent: bool) -> tuple[str | None, int | None]:
    """(min(registered_at), min(message_no)) of the peer's unconfirmed registrations (`sent`:
    those stamped into a message only) by seeks instead of a scan: in registrations_open the
    entries of one message_no are in registered_at order (its confirmed_no and parked are NULL),
    so the oldest is the least of each message's first entry — one seek per message not yet
    confirmed, a handful."""
    where = "FROM registrations WHERE peer = ? AND confirmed_no IS NULL AND parked IS NULL"
    first = "ORDER BY registered_at LIMIT 1"  # in the index's order: no sort
    firsts = []
    if not sent:
        row = c.execute(f"SELECT registered_at {where} AND message_no IS NULL {first}",
                        (name,)).fetchone()
        if row:
            firsts.append(row[0])
    first_no = number = c.execute(f"SELECT min(message_no) {where}", (name,)).fetchone()[0]
    while number is not None:
        firsts.append(c.execute(f"SELECT registered_at {where} AND message_no = ? {first}",
                                (name, number)).fetchone()[0])
        number = c.execute(f"SELECT message_no {where} AND message_no > ? ORDER BY message_no "
                           "LIMIT 1", (name, number)).fetchone()
        number = number[0] if number else None
    return (min(firsts) if firsts else None), first_no


def _stuck(state: State, count: int, oldest: str | None, first_no: int | None) -> SentBacklog:
    runs = state.conn.execute("SELECT count(*) FROM runs WHERE started_at > ? AND exit_code IS "
                              "NOT NULL", (oldest,)).fetchone()[0] if count else 0
    return SentBacklog(count, first_no, runs, runs >= STUCK_AFTER_RUNS)


def peer_summary(state: State, name: str, settlement_types: tuple[str, ...],
                 routed_by: Mapping[str, str] | None = None) -> Backlog:
    """Registrations for the peer and what its inbox holds, counted.

    At a million objects every index entry read is felt (`status` ≤ 0.5 s): the unconfirmed
    registrations are counted once, the oldest of them is found by seeks (`_oldest`), and every
    other number is a count of an index range, which SQLite steps through without reading the
    entries' columns, or one seek. `routed_by`: type → the flow that routes it from this peer."""
    c = state.conn
    open_ = "FROM registrations WHERE peer = ? AND confirmed_no IS NULL AND parked IS NULL"
    unconfirmed = c.execute(f"SELECT count(*) {open_}", (name,)).fetchone()[0]
    oldest, _ = _oldest(c, name, sent=False)
    unsent = c.execute(f"SELECT count(*) {open_} AND message_no IS NULL", (name,)).fetchone()[0]
    if unsent:  # the rare case: the oldest sent one is not the oldest of all
        sent = unconfirmed_sent(state, name)
    else:
        first_no = c.execute(f"SELECT min(message_no) {open_}", (name,)).fetchone()[0]
        sent = _stuck(state, unconfirmed, oldest, first_no)
    # `+peer`: from the partial index of the parked few, not from every unconfirmed row.
    unsendable = c.execute("SELECT count(*) FROM registrations WHERE +peer = ? AND parked IS NOT "
                           "NULL AND confirmed_no IS NULL", (name,)).fetchone()[0]
    # Accounting's own documents (naming no CRM invoice) wait here for good: the recent ones are
    # what may still link, and what an administrator wants to tell apart.
    recent_since = (clock.utc_now()
                    - datetime.timedelta(days=RECENT_DAYS)).isoformat(timespec="seconds")
    # The staged and the waiting entries are counted type by type, in one pass that also counts
    # the recent settlement documents among them: their totals, the staged ones by type, and the
    # documents awaiting a link (staged or waiting, of a settlement type) come from those counts.
    inbox: dict[str, int] = {}
    by_type: dict[str, dict[str, tuple[int, int]]] = {}
    for status in _statuses(c, name):
        if status in ("staged", "waiting"):
            by_type[status] = _by_type(c, name, status, settlement_types, recent_since)
            inbox[status] = sum(n for n, _ in by_type[status].values())
        else:
            inbox[status] = _count(c, "status = ?", (name, status))
    staged = {t: n for t, (n, _) in by_type.get("staged", {}).items()}
    # Settlement documents not yet forwarded: 'waiting' for their invoice, or not yet routed.
    links = [v for counts in by_type.values() for t, v in counts.items() if t in settlement_types]
    # From the partial index of the few (registrations_marked): deletions a peer was sent,
    # confirmed or not, of a document we still hold live (withdrawn: it waits, but for no
    # invoice: not counted as awaiting a link); copies sent again after one it confirmed, which
    # 1C keeps marked.
    regs = "FROM registrations r WHERE r.peer = ? AND"
    withdrawn = c.execute(f"SELECT count(*) {regs} r.kind = 'delete' AND EXISTS (SELECT 1 FROM "
                          "inbox i WHERE i.id = r.inbox_id AND i.kind = 'object')",
                          (name,)).fetchone()[0]
    marked_again = c.execute(f"SELECT count(*) {regs} r.kind = 'object' AND r.marked IS NOT NULL",
                             (name,)).fetchone()[0]
    gone, gone_recent = c.execute(
        "SELECT count(*), count(CASE WHEN i.updated_at >= ? THEN 1 END) FROM registrations r "
        "JOIN inbox i ON i.id = r.inbox_id WHERE r.peer IN (SELECT name FROM peers) AND "
        "r.kind = 'delete' AND i.peer = ? AND i.kind = 'object' AND "
        f"i.status = 'waiting' AND i.type IN ({', '.join('?' * len(settlement_types))})",
        (recent_since, name, *settlement_types)).fetchone()
    awaiting, recent = sum(n for n, _ in links) - gone, sum(r for _, r in links) - gone_recent
    return Backlog(
        unconfirmed=Unconfirmed(unconfirmed, unsent, oldest),
        stuck=Stuck((sent.count or 0) if sent.stuck else 0, sent.runs, STUCK_AFTER_RUNS),
        parked=Parked(inbox.get("parked", 0), unsendable),
        awaiting_link=awaiting, awaiting_link_recent=recent, recent_days=RECENT_DAYS,
        withdrawn=withdrawn, marked_again=marked_again,
        staged=staged, held=held(staged, routed_by or {}), inbox=inbox,
        untold=dict(state.inbox.count_by_reason(name, S.FILTERED, list(routed_by or {}), UNTOLD_LIKE))
        if inbox.get("filtered") else {})


def routers_by_type(config: Config, peer: str) -> dict[str, str]:
    """Type → the flow whose routing takes it from `peer` (the first, in the table's order)."""
    out: dict[str, str] = {}
    for name in topology.flows_from(peer):
        for t in config.flows[name].objects if name in config.flows else ():
            out.setdefault(t, name)
    return out


def held(staged: Mapping[str, int], routed_by: Mapping[str, str]) -> dict[str, int]:
    """Flow → staged objects that wait for its routing. Every command routes what it received
    before it ends (one stopped between the two leaves it to the next), so what is still staged
    waits for a flow that no command run since has run."""
    out: dict[str, int] = {}
    for t, n in staged.items():
        if t in routed_by:
            out[routed_by[t]] = out.get(routed_by[t], 0) + n
    return out


def _count(c, where: str, args: tuple) -> int:
    """Inbox entries of a peer (`args[0]`) that `where` picks, counted on the index inbox_status."""
    return c.execute(f"SELECT count(*) FROM inbox WHERE peer = ? AND {where}", args).fetchone()[0]


def _by_type(c, name: str, status: str, settlement_types: tuple[str, ...],
             since: str) -> dict[str, tuple[int, int]]:
    """Type → (entries of the peer in `status`, of which updated since `since` when it is a
    settlement type, else 0), one index range each, the types found by seeks (a skip-scan)."""
    out: dict[str, tuple[int, int]] = {}
    for t in distinct(c, "type", "FROM inbox WHERE peer = ? AND status = ?", (name, status)):
        if t in settlement_types:
            out[t] = c.execute(
                "SELECT count(*), count(CASE WHEN updated_at >= ? THEN 1 END) FROM inbox WHERE "
                "peer = ? AND status = ? AND type = ?", (since, name, status, t)).fetchone()
        else:
            out[t] = (_count(c, "status = ? AND type = ?", (name, status, t)), 0)
    return out


def _statuses(c, name: str) -> list[str]:
    """The statuses the peer's inbox holds, in order, one index seek each (a skip-scan)."""
    return distinct(c, "status", "FROM inbox WHERE peer = ?", (name,))


def _run_summary(run: dict, running: bool = False, ended: tuple[int, str] | None = None) -> RunSummary:
    """`running`: this is the run that holds the lock now; `ended`: (row, end) the lock file
    says the last run ended, whose row the next run has yet to close (state/journal.py)."""
    report = RunReport.from_json(run.get("counts") or {})
    ended_at, error = run["ended_at"], run["error"]
    if ended_at is None and not running and error is None and ended and ended[0] == run["id"]:
        ended_at, error = ended[1], UNRECORDED
    if ended_at is not None:
        how = "ended"
    else:
        how = "running" if running else "died"
    if how == "died" and error is None:
        error = DIED
    return RunSummary(run["id"], run["command"], run["started_at"], ended_at,
                      run["exit_code"], error, how, report.peers)


def _not_before(started: str | None, lock_started: str | None) -> bool:
    """Did this journal entry start with the lock's holder (not before it: an older run that
    died, which the holder has not yet marked)? A few seconds pass between the two."""
    try:
        run = datetime.datetime.fromisoformat(started or "")
        held = datetime.datetime.fromisoformat(lock_started or "")
    except ValueError:
        return True
    return run >= held - datetime.timedelta(seconds=5)


def _in_progress(lock: dict | None, runs: list[dict]) -> InProgress | None:
    """The run going on now, as the lock names it; None when no run holds it."""
    if lock is None:
        return None
    since = lock.get("started")
    current = next((r for r in runs if r["ended_at"] is None and r["error"] is None
                    and _not_before(r["started_at"], since)), None)
    return InProgress(since or (current or {}).get("started_at"), lock.get("pid"),
                      lock.get("command"), current["id"] if current else None)


def _peer_status(config: Config, state: State | None, peer, name: str,
                 settlement_types: tuple[str, ...]) -> PeerStatus:
    theirs = peer.versions if peer else None
    problem = numbering.no_common_version(name, config.node.formats, theirs)
    fmt = FormatStatus(
        ours=None if problem else numbering.negotiate(config.node.formats, theirs),
        problem=problem.line() if problem else None,
        theirs=peer.format_version if peer else None,
        offered=tuple(peer.versions) if peer and peer.versions else None)
    types = peer.object_types if peer else None
    return PeerStatus(_peer_numbers(config, state, name), fmt,
                      tuple(types) if types is not None else None,
                      peer_summary(state, name, settlement_types, routers_by_type(config, name))
                      if state is not None else None)


def status(config: Config, runs: int = RUNS) -> StatusReport:
    state = open_readonly(config.state)
    lock = holder_if_locked(lock_path(config.state), config.run_timeout)
    settlement_types = config.flows[topology.PULL_SETTLEMENTS].objects if config.flows else ()
    try:
        by_name = {p.name: p for p in state.peers.all()} if state else {}
        peers = {name: _peer_status(config, state, by_name.get(name), name, settlement_types)
                 for name in config.bases}
        last = state.journal.last(max(runs, 1)) if state is not None else []
        in_progress = _in_progress(lock, last)
        current = in_progress.run if in_progress else None
        ended = ended_in(lock_path(config.state))
        summaries = tuple(_run_summary(r, r["id"] == current, ended) for r in last[:runs])
    finally:
        if state is not None:
            state.close()
    return StatusReport(str(config.path.resolve()), str(config.state), config.node.code,
                        tuple(config.node.formats), lock, state is not None, peers, summaries,
                        in_progress)


def numbers(config: Config) -> Numbers:
    """The three numbers per peer: `state show`."""
    state = open_readonly(config.state)
    try:
        return Numbers(str(config.state), state is not None,
                       {name: _peer_numbers(config, state, name) for name in config.bases})
    finally:
        if state is not None:
            state.close()


# What the export's rows hold, column by column (the payload, last in a parked row, is unpack's).
_TEXT, _NUMBER = (str, type(None)), (int, type(None))
_COUNTED = (str, str, str, int)
_PARKED = (str, str, str, str, _TEXT, _NUMBER, _NUMBER, _TEXT)


def _sound(rows: Iterable[tuple], kinds: tuple, what: str) -> Iterator[tuple]:
    """The rows whose values are of `kinds`; a damaged one is left out of the export, named."""
    for row in rows:
        try:
            for value, kind in zip(row, kinds, strict=False):  # a payload may follow
                typed(value, kind, "a value")
        except BadValue as exc:
            log.warning("state export: a row of %s is damaged: %s; it is left out", what, exc)
            continue
        yield row


def export(config: Config, with_parked_xml: bool = False, runs: int = 50) -> ExportReport:
    """Everything support needs to understand a state, without payloads: `state export`."""
    state = open_readonly(config.state)
    head = ExportReport(__version__, str(config.path.resolve()), str(config.state),
                        config.node.code, tuple(config.node.formats),
                        holder_if_locked(lock_path(config.state), config.run_timeout),
                        state is not None)
    if state is None:
        return head
    c = state.conn
    try:
        schema = tuple(r[0] for r in c.execute(
            "SELECT name FROM _sqlite_migrations WHERE migration_set = 'onecsync' ORDER BY rowid"))
        peers = {p.name: {k: v for k, v in p.__dict__.items()
                          if k not in ("name", "in_fingerprint", "out_fingerprint")}
                 for p in state.peers.all()}
        inbox = tuple(Count(peer, status, type_, n) for peer, status, type_, n in _sound(c.execute(
            "SELECT peer, status, type, count(*) FROM inbox GROUP BY peer, status, type "
            "ORDER BY peer, status, type"), _COUNTED, "inbox"))
        registrations = tuple(Count(peer, st, type_, n) for peer, type_, st, n in _sound(c.execute(
            "SELECT peer, type, CASE WHEN parked IS NOT NULL THEN 'parked' "
            "WHEN confirmed_no IS NOT NULL THEN 'confirmed' WHEN message_no IS NOT NULL "
            "THEN 'sent' ELSE 'unsent' END AS st, count(*) FROM registrations "
            "GROUP BY peer, type, st ORDER BY peer, type, st"), _COUNTED, "registrations"))
        xml = ", (SELECT p.xml FROM inbox_payloads p WHERE p.inbox_id = i.id)" \
            if with_parked_xml else ""
        parked = tuple(
            ParkedItem(row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7],
                       unpack(row[8]).decode("utf-8", "replace") if with_parked_xml else None)
            for row in _sound(c.execute(
                "SELECT 'received', i.peer, i.type, i.ref, i.reason, i.line, i.message_no, "
                f"i.updated_at{xml} FROM inbox i WHERE i.status = 'parked' UNION ALL "
                "SELECT 'unsendable', r.peer, r.type, r.ref, r.parked, NULL, r.message_no, "
                f"r.registered_at{xml} FROM registrations r JOIN inbox i ON i.id = r.inbox_id "
                "WHERE r.parked IS NOT NULL ORDER BY 2, 3, 4"), _PARKED, "parked objects"))
        journal = tuple(state.journal.last(runs))
    finally:
        state.close()
    return dataclasses.replace(head, schema=schema, peers=peers, inbox=inbox,
                               registrations=registrations, parked=parked, runs=journal)
