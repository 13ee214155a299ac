"""Routing judged again when the config it was judged by changes: one signature per input.

Public API: `rejudge(config, state, source)`, `taken_types(config, source)`, `INPUTS`.

A routing decision that depends on the config (a type no flow takes, an organization the filter
leaves out, a document naming nothing along the link paths, a mapping rule that cannot apply)
is stored with the row it judged, and a run does not look at that row again unless something
changes. When the config does, the rows it judged must be judged again by the next run, or what
the admin now lets through is held for ever while every run says exit 0. Each input is one entry
of `INPUTS`: the value the decision depended on, kept in the state as a signature, and the rows
it judged, staged again when the signature changes (routing then judges them by the current
config: newly admitted rows go, the rest are held back again, counted in `status`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Callable

from onecsync import topology
from onecsync.config import Config
from onecsync.flows.links import reread_waiting
from onecsync.state import State
from onecsync.state.inbox import InboxStatus as S


def taken_types(config: Config, source: str) -> set[str]:
    """Every type some flow takes from `source`; the rest is set aside when staged."""
    return {t for flow in topology.flows_from(source) for t in config.flows[flow].objects}


@dataclass(frozen=True)
class Input:
    """A config input that routing depends on, for one flow: `key` (formatted with the flow's
    `flow` and `source`) is where its signature is kept, `value` what it is now, `again` stages
    again what it judged."""

    key: str
    value: Callable[[Config, str], object]
    again: Callable[[Config, State, str], object]


def _spec(flow: str) -> topology.FlowSpec:
    return topology.flow(flow)


def _mapping(config: Config, flow: str) -> dict:
    rules = config.mapping.get(_spec(flow).target, {})
    return {t: dataclasses.asdict(rules[t]) for t in config.flows[flow].objects if rules.get(t)}


INPUTS: tuple[Input, ...] = (
    # A type the flows take now: what was set aside of it when no flow took it.
    Input("taken-types:{source}",
          lambda config, flow: sorted(taken_types(config, _spec(flow).source)),
          lambda config, state, flow: state.inbox.restage_untaken(
              _spec(flow).source, taken_types(config, _spec(flow).source))),
    # The organizations a flow carries: what the filter held back.
    Input("{flow}.organizations",
          lambda config, flow: sorted(config.flows[flow].organizations),
          lambda config, state, flow: state.inbox.restage(
              _spec(flow).source, config.flows[flow].objects, S.FILTERED)),
    # The link paths: what the waiting documents name is read again.
    Input("{flow}.links",
          lambda config, flow: config.flows[flow].links,
          lambda config, state, flow: reread_waiting(state, _spec(flow).source, config.flows[flow])),
    # The mapping rules for the flow's target: what they could not apply to.
    Input("{flow}.mapping",
          _mapping,
          lambda config, state, flow: state.inbox.restage(
              _spec(flow).source, config.flows[flow].objects, S.PARKED,
              f"mapping for {_spec(flow).target}:%")),
)


def _signature(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def rejudge(config: Config, state: State, source: str) -> None:
    """Stage again, for this run's routing, what an input of the flows from `source` judged
    before it changed (in the caller's transaction: the signature and the rows commit together)."""
    for flow in topology.flows_from(source, returned=False):
        for entry in INPUTS:
            key = entry.key.format(flow=flow, source=source)
            signature = _signature(entry.value(config, flow))
            if state.meta.get(key) != signature:
                entry.again(config, state, flow)
                state.meta.set(key, signature)
