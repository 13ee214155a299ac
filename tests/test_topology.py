"""The topology table: what it says is what the hand-written tables said before it."""

from __future__ import annotations

import json
import sqlite3

from onecsync import topology
from onecsync.topology import PULL_CATALOGS
from onecsync.topology import PULL_SETTLEMENTS
from onecsync.topology import PUSH_INVOICES
from onecsync.topology import Peer


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
