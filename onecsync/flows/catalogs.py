"""pull-catalogs routing: reference data staged from accounting is registered for the CRM.

Public API: `route_catalogs(config, state)`.
"""

from __future__ import annotations

from onecsync import topology
from onecsync.config import Config
from onecsync.flows.rejudge import rejudge
from onecsync.flows.rejudge import taken_types
from onecsync.flows.route import Registrar
from onecsync.runs import Routed
from onecsync.state import State


def route_catalogs(config: Config, state: State) -> Routed:
    """Register the staged catalog objects (and deletions of what the CRM got) for the CRM.

    Settlement and invoice documents stay staged for their own flows; types no flow takes from
    accounting are set aside so that they are not looked at again.
    """
    spec = topology.flow(topology.PULL_CATALOGS)
    flow, source = config.flows[spec.name], spec.source
    types = list(flow.objects)
    with state.atomic():
        rejudge(config, state, source)
        reg = Registrar(config, state, flow, source, spec.target)
        for row in reg.needs_a_look(types):
            reg.offer(row)
        reg.register_rest(types)
        reg.say_held_back(types)
        reg.counts.add(ignored=state.inbox.ignore_other_types(source, taken_types(config, source)))
    return reg.counts.routed()
