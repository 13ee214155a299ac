"""The flows run as cron may run them, one command each: what a flow takes from a base, its
command receives and routes."""

from __future__ import annotations

from onecsync import topology
from onecsync.flows import runner
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
