"""Are the ИНН of `flows.*.organizations` organizations of the flow's source base? (run and check)

Public API: `unknown_organizations(config, state, flow)` → the `ConfigError` to report, or None;
`sent(state, source)`, `say_untold(state, flow, source, types)`, `UNTOLD` (state/inbox.py).

A filter on an ИНН that no organization of the base has (a typo, two digits swapped) lets none
of that organization's objects through: the run would end in exit 0 while nothing of it is
exchanged. It can be told only once the base has sent its organizations (Справочник.Организации,
in every exchange of its catalogs); before that nothing is said.

An object naming its organization by Ссылка alone (no ИНН: 1C may write only the reference) is
told by the organizations the base has sent. One whose organization has not come (yet: 1C sends
only what changed, and may send it in a later message) is held back under `UNTOLD`, judged again
when the organizations sent change (flows/rejudge.py), and said each run while it waits.
"""

from __future__ import annotations

import logging

from onecsync.config import Config
from onecsync.errors import ConfigError
from onecsync.i18n import counted
from onecsync.mapping import organization_of
from onecsync.protocol.objects import parse_object
from onecsync.state import State
from onecsync.state.inbox import UNTOLD_LIKE
from onecsync.state.inbox import InboxStatus as S
from onecsync.topology import ORGANIZATION
from onecsync.topology import flow as flow_spec

log = logging.getLogger("onecsync")


def sent(state: State, source: str) -> dict[str, str | None]:
    """Ссылка → ИНН (None: it has none, a non-resident's) of the organizations `source` has
    sent (a few)."""
    out: dict[str, str | None] = {}
    for version, xml in state.inbox.objects_of(source, ORGANIZATION):
        inn, ref = organization_of(parse_object(xml, version)) or (None, None)
        if ref:
            out[ref] = inn or None
    return out


def say_untold(state: State, flow: str, source: str, types: list[str]) -> None:
    """One warning line per organization that objects of `flow` wait for: a hold that lasts
    is never silent."""
    for reason, n in state.inbox.count_by_reason(source, S.FILTERED, types, UNTOLD_LIKE):
        log.warning("%s: %s held back: %s", flow, counted(n, "{n} object", "{n} objects"), reason)


def unknown_organizations(config: Config, state: State, flow: str) -> ConfigError | None:
    wanted = config.flows[flow].organizations if flow in config.flows else ()
    if not wanted:
        return None
    source = flow_spec(flow).source
    known = {inn for inn in sent(state, source).values() if inn}
    missing = [inn for inn in wanted if inn not in known]
    if not known or not missing:
        return None
    shown = ", ".join(sorted(known)[:10]) + (", …" if len(known) > 10 else "")
    return ConfigError(
        f"flows.{flow}.organizations: {', '.join(missing)} is the ИНН of no organization the "
        f"{source} base has sent (its organizations: {shown}), so nothing of it is exchanged",
        remedy=f"correct the ИНН in flows.{flow}.organizations")
