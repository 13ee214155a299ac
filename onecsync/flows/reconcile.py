"""reconcile: what differs between the bases and what onecsync believes, as a list of drifts.

Public API: `Drift`, `reconcile_state(config, state)`.

The state alone tells a lot without asking either base anything:
- silent: a base has never been heard from, nor taken any of our messages, for many runs (its
  folder or address in the config is not the one it exchanges through, or it was never set up):
  otherwise every run would end in exit 0 while nothing is exchanged with it;
- stuck: a base has not confirmed what we sent it for many runs (it is not importing);
- parked: objects that could not be sent (a mapping rule, a version that cannot carry them);
- orphan: a settlement document in accounting names an order or invoice that neither the CRM
  sent us nor accounting made, for a long time (an invoice lost on its way).
Checks against the bases' OData views come on top of these (reconcile_odata).
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass

from onecsync import topology
from onecsync.config import Config
from onecsync.i18n import counted
from onecsync.state import State
from onecsync.state.reports import STUCK_AFTER_RUNS
from onecsync.state.reports import unconfirmed_sent

ORPHAN_AFTER_RUNS = 288    # a day


@dataclass(frozen=True)
class Drift:
    kind: str            # silent | stuck | parked | orphan | missing | amount | unposted | not-forwarded | …
    peer: str
    type: str
    ref: str
    detail: str
    healable: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def reconcile_state(config: Config, state: State) -> list[Drift]:
    drifts: list[Drift] = []
    # Runs since the first (which wrote our first message), as `stuck` counts them.
    since = state.journal.finished() - 1
    for peer in config.bases:
        heard = state.peers.heard(peer)
        if heard and heard[0] and not heard[1] and heard[2] is None and since >= STUCK_AFTER_RUNS:
            # The counts are `counted()`'s: a count's form is the language's (1 message, 21 запуск).
            span = counted(since, "in the {n} run since the first", "in the {n} runs since the first")
            written = counted(heard[0], "{n} message", "{n} messages")
            drifts.append(Drift("silent", peer, "", "", (
                f"no message from the {peer} base {span}, and it has taken none of the "
                f"{written} we wrote: is bases.{peer}.transport the folder or address the base "
                f"exchanges through (its exchange settings), and has it loaded "
                f"`onecsync settings-message {peer}`?")))
            continue  # what it has not confirmed is stuck for the same reason
        sent = unconfirmed_sent(state, peer)
        if sent.stuck:
            after = counted(sent.runs, "after {n} run", "after {n} runs")
            objects = counted(sent.count or 0, "{n} object sent", "{n} objects sent")
            drifts.append(Drift("stuck", peer, "", "", (
                f"still unconfirmed {after}: {objects} since message {sent.first_message_no}; "
                f"is the {peer} base importing our messages?")))
    for peer, type_name, ref, reason in state.inbox.parked():
        drifts.append(Drift("parked", peer, type_name, ref, f"received from {peer}, parked: {reason}"))
    for peer, type_name, ref, reason in state.outbox.parked():
        drifts.append(Drift("parked", peer, type_name, ref, f"not sent to {peer}: {reason}"))
    drifts += _orphans(config, state)
    return drifts


def _orphans(config: Config, state: State) -> list[Drift]:
    """Waiting documents that have waited ORPHAN_AFTER_RUNS runs for what they name."""
    # Waited that many runs: staged before the run that many back started (one look at the
    # journal, instead of counting the journal again for each of 350,000 waiting documents).
    before = state.journal.started_back(ORPHAN_AFTER_RUNS - 1)
    if before is None:
        return []
    settlements = topology.flow(topology.PULL_SETTLEMENTS)  # its documents wait in the inbox
    return [Drift("orphan", settlements.target, type_name, ref,
                  f"names {link}, which neither the CRM sent nor accounting made")
            for type_name, ref, link in state.inbox.orphans(
                settlements.source, before, config.flows[topology.PUSH_INVOICES].objects)]
