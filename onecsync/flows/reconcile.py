"""reconcile: what differs between the bases and what onecsync believes, as a list of drifts.

Public API: `Drift`, `reconcile_state(config, state)`.

The state alone tells a lot without asking either base anything:
- stuck: a base has not confirmed what we sent it for many runs (it is not importing);
- parked: objects that could not be sent (a mapping rule, a version that cannot carry them);
- orphan: a settlement document in accounting names an order or invoice that neither the CRM
  sent us nor accounting made, for a long time (an invoice lost on its way).
Checks against the bases' OData views come on top of these (reconcile_odata).
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass

from onecsync.config import Config
from onecsync.state import State
from onecsync.state.reports import unconfirmed_sent

ORPHAN_AFTER_RUNS = 288    # a day


@dataclass(frozen=True)
class Drift:
    kind: str            # stuck | parked | orphan | missing | amount | unposted | not-forwarded | …
    peer: str
    type: str
    ref: str
    detail: str
    healable: bool = False

    def as_dict(self) -> dict:
        return asdict(self)


def reconcile_state(config: Config, state: State) -> list[Drift]:
    drifts: list[Drift] = []
    conn = state.conn
    for peer in config.bases:
        sent = unconfirmed_sent(state, peer)
        if sent["stuck"]:
            drifts.append(Drift("stuck", peer, "", "", (
                f"{sent['count']} object(s) sent since message {sent['first_message_no']} are "
                f"still unconfirmed after {sent['runs']} runs: is the {peer} base importing our "
                "messages?")))
    for peer, type_name, ref, reason in conn.execute(
            "SELECT peer, type, ref, reason FROM inbox WHERE status = 'parked' ORDER BY id"):
        drifts.append(Drift("parked", peer, type_name, ref, f"received from {peer}, parked: {reason}"))
    for peer, type_name, ref, reason in conn.execute(
            "SELECT peer, type, ref, parked FROM registrations WHERE parked IS NOT NULL ORDER BY id"):
        drifts.append(Drift("parked", peer, type_name, ref, f"not sent to {peer}: {reason}"))
    invoice_types = list(config.flows["push-invoices"].objects)
    marks = ", ".join("?" for _ in invoice_types)
    for type_name, ref, link in conn.execute(
            "SELECT w.type, w.ref, min(l.ref) FROM inbox w JOIN inbox_links l ON l.inbox_id = w.id "
            "WHERE w.peer = 'accounting' AND w.status = 'waiting' "
            "AND (SELECT count(*) FROM runs r WHERE r.started_at > w.updated_at) >= ? "
            "AND l.ref NOT IN (SELECT ref FROM invoices) "
            f"AND l.ref NOT IN (SELECT ref FROM inbox WHERE peer = 'accounting' AND type IN ({marks})) "
            "GROUP BY w.id ORDER BY w.id", (ORPHAN_AFTER_RUNS, *invoice_types)):
        drifts.append(Drift("orphan", "crm", type_name, ref,
                            f"names {link}, which neither the CRM sent nor accounting made"))
    return drifts
