"""Routing judged again when the config it was judged by changes: one signature per input.

Public API: `rejudge(config, state, source)`, `taken_types(config, source)`, `ways_from(source)`,
`Way`, `INPUTS`.

A routing decision that depends on the config (a type no flow takes, an organization the filter
leaves out, a document naming nothing along the link paths, a mapping rule that cannot apply),
or on what the source sent (the organizations an object names by Ссылка alone, review R5 H2),
is stored with the row it judged, and a run does not look at that row again unless something
changes. When the config does, the rows it judged must be judged again by the next run, or what
the admin now lets through is held for ever while every run says exit 0. Each input is one entry
of `INPUTS`: the value the decision depended on, kept in the state as a signature, and the rows
it judged, staged again when the signature changes (routing then judges them by the current
config: newly admitted rows go, the rest are held back again, counted in `status`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from onecsync import topology
from onecsync.config import Config
from onecsync.flows import organizations
from onecsync.flows.links import reread_waiting
from onecsync.signature import signature
from onecsync.state import State
from onecsync.state.inbox import InboxStatus as S


def taken_types(config: Config, source: str) -> set[str]:
    """Every type some flow takes from `source`; the rest is set aside when staged."""
    return {t for flow in topology.flows_from(source) for t in config.flows[flow].objects}


@dataclass(frozen=True)
class Way:
    """One way a flow carries its objects: `returned` for the target's changes coming back."""

    flow: str
    source: str
    target: str
    returned: bool

    @property
    def name(self) -> str:
        """The flow as its keys name it: the returned way has keys of its own."""
        return f"{self.flow}:returned" if self.returned else self.flow


@dataclass(frozen=True)
class Input:
    """A config input that routing depends on, for one way of a flow: `key` (formatted with the
    way's `flow` name and `source`) is where its signature is kept, `value` what it is now,
    `again` stages again what it judged."""

    key: str
    value: Callable[[Config, State, Way], object]
    again: Callable[[Config, State, Way], object]


def _mapping(config: Config, state: State, way: Way) -> dict:
    rules = config.mapping.get(way.target, {})
    return {t: dataclasses.asdict(rules[t]) for t in config.flows[way.flow].objects if rules.get(t)}


INPUTS: tuple[Input, ...] = (
    # A type the flows take now: what was set aside of it when no flow took it.
    Input("taken-types:{source}",
          lambda config, state, way: sorted(taken_types(config, way.source)),
          lambda config, state, way: state.inbox.restage_untaken(
              way.source, taken_types(config, way.source))),
    # The organizations a flow carries: what the filter held back.
    Input("{flow}.organizations",
          lambda config, state, way: sorted(config.flows[way.flow].organizations),
          lambda config, state, way: state.inbox.restage(
              way.source, config.flows[way.flow].objects, S.FILTERED)),
    # The organizations the source has sent (Ссылка → ИНН): what named one by Ссылка alone, not
    # sent yet (UNTOLD), or sent without ИНН and given one since. The pattern takes the reason an
    # older onecsync wrote too: its key is new, so the first run after the upgrade judges them.
    Input("{flow}.organizations-sent",
          lambda config, state, way: organizations.sent(state, way.source)
          if config.flows[way.flow].organizations else None,
          lambda config, state, way: state.inbox.restage(
              way.source, config.flows[way.flow].objects, S.FILTERED, "its organization %")),
    # The link paths: what the waiting documents name is read again.
    Input("{flow}.links",
          lambda config, state, way: config.flows[way.flow].links,
          lambda config, state, way: reread_waiting(state, way.source, config.flows[way.flow])),
    # The mapping rules for the way's target: what they could not apply to.
    Input("{flow}.mapping",
          _mapping,
          lambda config, state, way: state.inbox.restage(
              way.source, config.flows[way.flow].objects, S.PARKED,
              f"mapping for {way.target}:%")),
)


def ways_from(source: str) -> list[Way]:
    """Every way of every flow that takes objects from `source`: the returned way of
    push-invoices too, whose own mapping (`mapping.crm`) parks what accounting changed."""
    return [Way(spec.name, frm, to, returned=i > 0) for spec in topology.FLOWS
            for i, (frm, to) in enumerate(spec.ways) if frm == source]


def rejudge(config: Config, state: State, source: str) -> None:
    """Stage again, for this run's routing, what an input of the flows from `source` judged
    before it changed (in the caller's transaction: the signature and the rows commit together)."""
    for way in ways_from(source):
        for entry in INPUTS:
            key = entry.key.format(flow=way.name, source=source)
            signature_now = signature(entry.value(config, state, way))
            if state.meta.get(key) != signature_now:
                entry.again(config, state, way)
                state.meta.set(key, signature_now)
