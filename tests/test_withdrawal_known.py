"""What state/withdrawal.py counts as known not to be the CRM's, on a state built row by row:
a chain of waiting documents is followed `DEPTH` deep, a cycle of them is never known, and
what the CRM sent us itself is never known, whatever accounting's copy was judged."""

from __future__ import annotations

import pytest

from onecsync.state import open_state
from onecsync.state.inbox import OWN_INVOICE
from onecsync.state.withdrawal import DEPTH

SALE = "Документ.РеализацияТоваровУслуг"
ORDER = "Документ.ЗаказКлиента"
FORWARDED = [SALE]


@pytest.fixture
def state(tmp_path):
    st = open_state(tmp_path / "state.sqlite")
    yield st
    st.close()


def add(state, ref: str, status: str, names=(), peer="accounting", type_name=SALE,
        reason=None) -> None:
    """An inbox row from `peer` that names `names` along the link paths."""
    [inbox_id] = state.conn.execute(
        "INSERT INTO inbox (peer, type, ref, kind, version, digest, status, reason, updated_at) "
        "VALUES (?, ?, ?, 'object', '1.8', ?, ?, ?, '2026-11-01') RETURNING id",
        (peer, type_name, ref, ref, status, reason)).fetchone()
    state.conn.executemany("INSERT INTO inbox_links (inbox_id, ref) VALUES (?, ?)",
                           [(inbox_id, n) for n in names])


def known(state, *refs: str) -> set[str]:
    return state.withdrawals.known("accounting", "crm", FORWARDED, set(refs))


def test_a_chain_of_waiting_documents_down_to_an_own_order_is_known_to_its_depth(state):
    add(state, "own", "ignored", type_name=ORDER, reason=OWN_INVOICE)
    chain = [f"doc{i}" for i in range(DEPTH)]  # doc0 names the order, doc1 doc0, …
    for i, ref in enumerate(chain):
        add(state, ref, "waiting", [chain[i - 1] if i else "own"])
    assert known(state, "own", *chain[:-1]) == {"own", *chain[:-1]}
    assert known(state, chain[-2]) == {chain[-2]}  # the order is DEPTH Ссылки down
    assert known(state, chain[-1]) == set()  # one more: not known, it waits


def test_documents_naming_each_other_are_never_known(state):
    add(state, "a", "waiting", ["b"])
    add(state, "b", "waiting", ["a"])
    add(state, "c", "waiting", ["a", "b"])
    assert known(state, "a", "b", "c") == set()


def test_a_waiting_document_naming_one_unknown_or_the_crms_is_not_known(state):
    add(state, "own", "ignored", type_name=ORDER, reason=OWN_INVOICE)
    add(state, "unseen", "waiting", ["own", "never-received"])
    add(state, "first", "ignored", type_name=ORDER, reason=OWN_INVOICE)  # came before the CRM's
    add(state, "first", "parked", peer="crm", type_name=ORDER)
    add(state, "of-first", "waiting", ["own", "first"])
    add(state, "nothing", "waiting")
    add(state, "sold", "waiting", ["own"])
    add(state, "sold", "staged", peer="crm")  # the CRM's copy of what it got: no order of its own
    assert known(state, "unseen", "first", "of-first", "nothing", "own", "sold") == \
        {"nothing", "own", "sold"}
