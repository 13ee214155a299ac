"""Are the ИНН of `flows.*.organizations` organizations of the flow's source base? (run and check)

Public API: `unknown_organizations(config, state, flow)` → the `ConfigError` to report, or None.

A filter on an ИНН that no organization of the base has (a typo, two digits swapped) lets none
of that organization's objects through: the run would end in exit 0 while nothing of it is
exchanged. It can be told only once the base has sent its organizations (Справочник.Организации,
in every exchange of its catalogs); before that nothing is said.
"""

from __future__ import annotations

from onecsync.config import Config
from onecsync.errors import ConfigError
from onecsync.mapping import org_inn
from onecsync.protocol.objects import parse_object
from onecsync.state import State
from onecsync.topology import ORGANIZATION
from onecsync.topology import flow as flow_spec


def unknown_organizations(config: Config, state: State, flow: str) -> ConfigError | None:
    wanted = config.flows[flow].organizations if flow in config.flows else ()
    if not wanted:
        return None
    source = flow_spec(flow).source
    known = set()
    for version, xml in state.inbox.objects_of(source, ORGANIZATION):
        inn = org_inn(parse_object(xml, version))
        if inn:
            known.add(inn)
    missing = [inn for inn in wanted if inn not in known]
    if not known or not missing:
        return None
    shown = ", ".join(sorted(known)[:10]) + (", …" if len(known) > 10 else "")
    return ConfigError(
        f"flows.{flow}.organizations: {', '.join(missing)} is the ИНН of no organization the "
        f"{source} base has sent (its organizations: {shown}), so nothing of it is exchanged",
        remedy=f"correct the ИНН in flows.{flow}.organizations")
