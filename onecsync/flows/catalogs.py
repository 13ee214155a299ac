"""pull-catalogs routing: reference data staged from accounting is registered for the CRM.

Public API: `route_catalogs(config, state)`, `taken_types(config, source)`,
`restage_newly_taken(config, state, source)`.
"""

from __future__ import annotations

import hashlib
import json

from onecsync.config import Config
from onecsync.flows.route import Registrar
from onecsync.state import State


def taken_types(config: Config, source: str) -> set[str]:
    """Every type some flow takes from `source`; the rest is set aside when staged."""
    flows = config.flows
    if source == "crm":
        return set(flows["push-invoices"].objects)
    return set(flows["pull-catalogs"].objects) | set(flows["pull-settlements"].objects) | \
        set(flows["push-invoices"].objects)


def restage_newly_taken(config: Config, state: State, source: str) -> None:
    """When the flows take a type they did not take before, what was set aside of it is routed
    now (an admin who fixes a typo in flows.*.objects need not know of `state resend`)."""
    taken = sorted(taken_types(config, source))
    key = f"taken-types:{source}"
    signature = hashlib.sha256(json.dumps(taken, ensure_ascii=False).encode()).hexdigest()
    if state.meta.get(key) != signature:
        state.inbox.restage_untaken(source, taken)
        state.meta.set(key, signature)


def route_catalogs(config: Config, state: State) -> dict:
    """Register the staged catalog objects (and deletions of what the CRM got) for the CRM.

    Settlement and invoice documents stay staged for their own flows; types no flow takes from
    accounting are set aside so that they are not looked at again.
    """
    flow = config.flows["pull-catalogs"]
    types = list(flow.objects)
    with state.atomic():
        restage_newly_taken(config, state, "accounting")
        reg = Registrar(config, state, flow, "accounting", "crm")
        for row in reg.needs_a_look(types):
            reg.offer(row)
        reg.register_rest(types)
        reg.counts.ignored += state.inbox.ignore_other_types("accounting", taken_types(config, "accounting"))
    return reg.counts.as_dict()
