"""Each command's steps, derived from onecsync/topology.py: which bases it receives from, which
flows it routes, which bases it sends to, in order; and which commands the scheduler runs.

Public API: `commands()`, `scheduled()`, `ROUTERS`, `router(spec)`.
"""

from __future__ import annotations

import importlib
from typing import Callable

from onecsync import topology
from onecsync.config import Config
from onecsync.runs import Routed
from onecsync.state import State


def router(spec: topology.FlowSpec) -> Callable[[Config, State], Routed]:
    """The routing function the flow's table row names (`module:function`)."""
    module, _, name = spec.router.partition(":")
    return getattr(importlib.import_module(module), name)


# The routing function of each flow, by its name; a flow added to the table later (a test does)
# is looked up when it routes.
ROUTERS: dict[str, Callable[[Config, State], Routed]] = {f.name: router(f) for f in topology.FLOWS}


def _unique(peers) -> list[str]:
    return list(dict.fromkeys(p.value for p in peers))


def commands() -> dict[str, list[tuple[str, str]]]:
    """Each command's steps, (action, argument) in order; a command is receive → route → send,
    once. A flow receives from each base it takes from, sends its target what it routed, then its
    source the confirmation of what it took (and, when it returns, what came back); `run` and
    `retry` route every flow in the table's order; `reconcile` by hand, a run a slice of it."""
    flows = topology.FLOWS
    routes = [("route", f.name) for f in flows]
    sends = [("send", p) for p in _unique([*(f.target for f in flows), *(f.source for f in flows)])]
    # A flow receives from every base it takes its objects from (both, when the target's changes
    # return), so that nothing it confirms to a base waits for another command to be routed.
    out = {f.name: [*(("receive", p) for p in _unique(frm for frm, _ in f.ways)), ("route", f.name),
                    *(("send", p) for p in _unique([*(to for _, to in f.ways), f.source]))]
           for f in flows}
    out[topology.RUN] = [*(("receive", p) for p in _unique([*(f.source for f in flows),
                                                            *(f.target for f in flows)])),
                         *routes, *sends, ("reconcile", "")]
    out[topology.RECONCILE] = [("reconcile", topology.RECONCILE)]
    out[topology.RETRY] = [("unpark", ""), *routes, *sends]
    return out


def scheduled() -> frozenset[str]:
    """What cron and the timer run: finding the lock taken is no failure for these
    (errors.Busy); retry and reconcile are an admin's decision, not carried out when a run
    holds the lock."""
    return frozenset({topology.RUN, *topology.flow_names()})


