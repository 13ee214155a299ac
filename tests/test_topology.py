"""The topology table: what it says is what the hand-written tables said before it."""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
from pathlib import Path

import pytest

from onecsync import topology
from onecsync.config import load_config
from onecsync.flows import runner
from onecsync.flows.rejudge import taken_types
from onecsync.state.admin import resend_route
from onecsync.state.admin import resend_types
from onecsync.topology import PULL_CATALOGS
from onecsync.topology import PULL_SETTLEMENTS
from onecsync.topology import PUSH_INVOICES
from onecsync.topology import Peer
from tests import factory as f
from tests.test_declared import declared


def test_a_peer_is_its_name_in_json_sql_and_text():
    assert Peer.CRM == "crm" and Peer.ACCOUNTING == "accounting"
    assert {"crm": 1}[Peer.CRM] == 1
    assert json.dumps({Peer.CRM: [Peer.ACCOUNTING]}) == '{"crm": ["accounting"]}'
    assert f"{Peer.CRM}: {Peer.ACCOUNTING!s}" == "crm: accounting"
    row = sqlite3.connect(":memory:").execute("SELECT ?, typeof(?)", (Peer.CRM, Peer.CRM)).fetchone()
    assert row == ("crm", "text")
    assert topology.PEERS == ("accounting", "crm") and all(type(p) is str for p in topology.PEERS)


def test_the_flows_in_routing_order_with_their_directions():
    assert topology.flow_names() == (PULL_CATALOGS, PUSH_INVOICES, PULL_SETTLEMENTS)
    # What we send each base and take from it (push-invoices: accounting's edits come back).
    assert topology.flows_to("accounting") == (PUSH_INVOICES,)
    assert topology.flows_from("accounting") == (PULL_CATALOGS, PULL_SETTLEMENTS, PUSH_INVOICES)
    assert topology.flows_to("crm") == (PULL_CATALOGS, PULL_SETTLEMENTS, PUSH_INVOICES)
    assert topology.flows_from("crm") == (PUSH_INVOICES,)
    assert topology.flows_to("crm", returned=False) == (PULL_CATALOGS, PULL_SETTLEMENTS)
    assert topology.flows_to("accounting", returned=False) == (PUSH_INVOICES,)
    assert topology.flow(PULL_SETTLEMENTS).links["Документ.ВозвратТоваровОтПокупателя"] == (
        "Заказ/Ссылка", "ДокументРеализации/РеализацияТоваровУслугСсылка/Ссылка")
    assert topology.flow(PULL_CATALOGS).links is None


# -- adding a flow is one entry ------------------------------------------------------------------

CURRENCY = "Справочник.Валюты"


def route_currencies(config, state):
    """The router the added flow names: registers what it takes for its target, as catalogs do."""
    from onecsync.flows.route import Registrar

    spec = topology.flow("pull-currencies")
    flow = config.flows[spec.name]
    with state.atomic():
        reg = Registrar(config, state, flow, spec.source, spec.target)
        reg.register_rest(list(flow.objects))
    return reg.counts.routed()


@pytest.fixture
def currencies_flow(monkeypatch):
    """Currencies moved out of pull-catalogs into a flow of their own, by the table alone."""
    catalogs = topology.flow(PULL_CATALOGS)
    added = topology.FlowSpec("pull-currencies", Peer.ACCOUNTING, Peer.CRM, (CURRENCY,),
                              router=f"{__name__}:route_currencies")
    flows = tuple(dataclasses.replace(s, default_types=tuple(t for t in s.default_types
                                                             if t != CURRENCY))
                  if s is catalogs else s for s in topology.FLOWS)
    monkeypatch.setattr(topology, "FLOWS", (*flows, added))
    return added


def test_a_flow_added_to_the_table_has_its_command_route_and_config_key(currencies_flow, sandbox):
    steps = runner.commands()
    assert steps["pull-currencies"] == [("receive", "accounting"), ("route", "pull-currencies"),
                                        ("send", "crm"), ("send", "accounting")]
    assert ("route", "pull-currencies") in steps["run"] and ("route", "pull-currencies") in steps["retry"]
    assert "pull-currencies" in runner.scheduled()
    assert topology.flows_to("crm") == (PULL_CATALOGS, PULL_SETTLEMENTS, "pull-currencies",
                                        PUSH_INVOICES)
    config = load_config(sandbox.config)
    assert config.flows["pull-currencies"].objects == (CURRENCY,)
    assert CURRENCY not in config.flows[PULL_CATALOGS].objects
    assert CURRENCY in taken_types(config, "accounting")
    assert resend_route("crm") == ("accounting", (PULL_CATALOGS, PULL_SETTLEMENTS, "pull-currencies"))
    assert CURRENCY in resend_types(config, "crm")
    sandbox.write_config(sandbox.config.read_text(encoding="utf-8")
                         + "flows:\n  pull-currencies:\n    objects: [Справочник.Валюты]\n")
    assert load_config(sandbox.config).flows["pull-currencies"].objects == (CURRENCY,)


def test_a_flow_added_to_the_table_runs_and_is_declared(currencies_flow, sandbox):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка"),
                                             f.currency(f.ref(50))]))
    sandbox.put("crm", f.Msg(sender=f.CRM, message_no=1, received_no=0))
    code, report, err = sandbox.run("run")
    assert code == 0, err
    assert report["routed"]["pull-currencies"] == {"registered": 1}
    assert report["routed"][PULL_CATALOGS] == {"registered": 1}
    out = sandbox.outgoing("crm")
    assert ("Справочник.Валюты", f.ref(50)) in out["objects"]
    assert declared(out["path"])[CURRENCY] == ("*", "")
    assert declared(sandbox.outgoing("accounting")["path"])[CURRENCY] == ("", "*")


# -- the table is the one place ------------------------------------------------------------------

PACKAGE = Path(topology.__file__).parent
_LITERAL = re.compile(r"""(["'])(accounting|crm|pull-catalogs|push-invoices|pull-settlements)\1""")


def test_no_peer_or_flow_name_is_written_outside_the_table():
    """Code names peers and flows through onecsync/topology.py, SQL takes them as parameters;
    texts for the user (docstrings, help, catalog messages) may say them in words."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "topology.py" and path.parent == PACKAGE:
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _LITERAL.search(line):
                found.append(f"{path.relative_to(PACKAGE)}:{no}: {line.strip()}")
    assert not found, "\n".join(found)


def test_the_literal_check_sees_code_and_sql_but_not_words():
    assert _LITERAL.search("""state.staged("crm", types)""")
    assert _LITERAL.search("""WHERE peer = 'accounting' AND""")
    assert not _LITERAL.search("""Receive from accounting; route catalogs to the CRM""")
