"""pull-catalogs routing: reference data staged from accounting is registered for the CRM.

Public API: `route_catalogs(config, state)`.
"""

from __future__ import annotations

import logging

from onecsync.config import Config
from onecsync.state import State

log = logging.getLogger("onecsync")


def route_catalogs(config: Config, state: State) -> dict:
    """Register the staged catalog objects (and their deletions) for the CRM.

    Settlement and invoice documents stay staged for their own flows; types no flow takes from
    accounting are set aside so that they are not looked at again.
    """
    flows = config.flows
    catalogs = flows["pull-catalogs"].objects
    taken = set(catalogs) | set(flows["pull-settlements"].objects) | \
        set(flows["push-invoices"].objects)
    with state.atomic():
        registered = state.register("accounting", "crm", catalogs)
        ignored = state.ignore_other_types("accounting", taken)
    if registered:
        log.debug("pull-catalogs: %d catalog object(s) registered for the CRM", registered)
    if ignored:
        log.debug("pull-catalogs: %d object(s) of types no flow takes were set aside", ignored)
    return {"registered": registered, "ignored": ignored}
