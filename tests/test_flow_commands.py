"""The flows run as cron may run them, one command each: what a command receives, it routes or
holds, and `status` says what is held for a flow no command runs."""

from __future__ import annotations

import itertools

import pytest

from onecsync import topology
from onecsync.config import load_config
from onecsync.flows import runner
from onecsync.protocol.reader import BodyObject
from onecsync.state import open_state
from onecsync.state.reports import routers_by_type
from onecsync.state.reports import status
from tests import factory as f
from tests.emulator import data as d
from tests.emulator.world import World
from tests.emulator.world import scratch_dir


def test_an_accountants_change_reaches_the_crm_with_the_flows_run_one_by_one(tmp_path):
    """Review 6, finding 7: cron runs pull-catalogs and push-invoices, not pull-settlements (no
    payments in the CRM). The accountant's change to a CRM invoice goes to the CRM all the same."""
    with scratch_dir(tmp_path) as root:
        w = World(root)
        s = w.seed()
        cs = w.seed_in("crm", s)

        def cron_round() -> list[tuple[str, int]]:
            w.exchange("accounting")
            w.exchange("crm")
            return [(cmd, w.cli("--json", cmd).code)
                    for cmd in (topology.PULL_CATALOGS, topology.PUSH_INVOICES)]

        inv = w.crm.create("Документ.СчетПокупателю",
                           d.invoice_fields(cs, "ЦР00-000780", "2026-11-21T10:00:00"))
        for _ in range(3):
            cron_round()
        acc_inv = w.copy_in("accounting", inv).ref
        w.acc.edit(acc_inv, Комментарий="изменено бухгалтером")
        for _ in range(3):
            assert cron_round() == [(topology.PULL_CATALOGS, 0), (topology.PUSH_INVOICES, 0)]
        assert w.crm.get(inv).fields["Комментарий"] == "изменено бухгалтером"


def _received(command: str) -> list[str]:
    return [arg for action, arg in runner.commands()[command] if action == "receive"]


def _routes(command: str) -> list[str]:
    return [arg for action, arg in runner.commands()[command] if action == "route"]


def test_a_flow_command_receives_from_every_base_it_takes_from():
    """Derived from the table: a flow's command receives from a base exactly when the flow
    takes objects from it (its source, and its target when the target's changes return)."""
    for spec in topology.FLOWS:
        assert set(_received(spec.name)) == {p for p in topology.PEERS
                                             if spec.name in topology.flows_from(p)}
        assert _routes(spec.name) == [spec.name]
    assert _received(topology.PUSH_INVOICES) == [topology.Peer.CRM, topology.Peer.ACCOUNTING]


SUBSETS = [c for n in range(1, len(topology.FLOWS) + 1)
           for c in itertools.combinations(topology.flow_names(), n)]


@pytest.mark.parametrize("flows", SUBSETS, ids="+".join)
def test_what_a_subset_of_flow_commands_receives_is_routed_or_held_for_status(flows, sandbox):
    """Cron lines may run any subset of the flow commands. Each command stages what it receives
    from its bases (and confirms it to them): one object of every type a flow takes from that
    base. What a flow of the subset routes from that base leaves the inbox by the next round;
    the rest stays staged and `status` counts it as held for the flow that routes it."""
    config = load_config(sandbox.config)
    routers = {p: routers_by_type(config, p) for p in topology.PEERS}
    state = open_state(config.state)
    staged: dict[tuple[str, str], int] = {}  # (peer, flow) → objects staged of the flow's types
    n = 0
    try:
        for command in flows:
            for peer in _received(command):
                objects = []
                for t, flow in routers[peer].items():
                    n += 1
                    xml = f.deletion(t.split(".")[1] + "Ссылка", f.ref(n)).encode()
                    objects.append(BodyObject(t, f.ref(n), "delete", xml, f"d{n}", None))
                    staged[peer, flow] = staged.get((peer, flow), 0) + 1
                with state.atomic():
                    state.inbox.stage(peer, n, "1.8", objects)
            for route in _routes(command):
                runner.ROUTERS[route](config, state)
        # The next cron round: what a later command received for a flow that ran before it in
        # this round (push-invoices receives accounting's catalogs) is routed then.
        for command in flows:
            for route in _routes(command):
                runner.ROUTERS[route](config, state)
    finally:
        state.close()
    report = status(config)
    for peer in topology.PEERS:
        held = report.peers[peer].backlog.held
        expected = {flow: count for (p, flow), count in staged.items()
                    if p == peer and flow not in flows}
        assert held == expected, (peer, held, staged)
