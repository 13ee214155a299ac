"""pull-catalogs routing: reference data staged from accounting is registered for the CRM.

Public API: `route_catalogs(config, state)`, `taken_types(config, source)`,
`restage_newly_taken(config, state, source)`.
"""

from __future__ import annotations

import hashlib
import json

from onecsync import topology
from onecsync.config import Config
from onecsync.flows.route import Registrar
from onecsync.runs import Routed
from onecsync.state import State


def taken_types(config: Config, source: str) -> set[str]:
    """Every type some flow takes from `source`; the rest is set aside when staged."""
    return {t for flow in topology.flows_from(source) for t in config.flows[flow].objects}


def restage_newly_taken(config: Config, state: State, source: str) -> None:
    """When the flows take a type they did not take before, what was set aside of it is routed
    now (an admin who fixes a typo in flows.*.objects need not know of `state resend`)."""
    taken = sorted(taken_types(config, source))
    key = f"taken-types:{source}"
    signature = hashlib.sha256(json.dumps(taken, ensure_ascii=False).encode()).hexdigest()
    if state.meta.get(key) != signature:
        state.inbox.restage_untaken(source, taken)
        state.meta.set(key, signature)


def route_catalogs(config: Config, state: State) -> Routed:
    """Register the staged catalog objects (and deletions of what the CRM got) for the CRM.

    Settlement and invoice documents stay staged for their own flows; types no flow takes from
    accounting are set aside so that they are not looked at again.
    """
    spec = topology.flow(topology.PULL_CATALOGS)
    flow, source = config.flows[spec.name], spec.source
    types = list(flow.objects)
    with state.atomic():
        restage_newly_taken(config, state, source)
        reg = Registrar(config, state, flow, source, spec.target)
        for row in reg.needs_a_look(types):
            reg.offer(row)
        reg.register_rest(types)
        reg.counts.add(ignored=state.inbox.ignore_other_types(source, taken_types(config, source)))
    return reg.counts.routed()
