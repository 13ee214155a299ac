"""An object and its deletion in one message (review R7 M2).

1C applies a message's deletions after its whole body and skips those of the objects the same
message imported (enterprisedata-protocol.md §5.5, XS ApplyObjectsDeletion): whatever their
order, the object stays, as the message carries it. onecsync takes such a message as 1C would,
for every flow that receives (catalogs, settlements).
"""

from __future__ import annotations

import sqlite3

import pytest
from lxml import etree

from onecsync.state.payloads import unpack
from tests import factory as f
from tests.conftest import parse_message
from tests.emulator import xmlio
from tests.emulator.store import Ref
from tests.emulator.users import BANK
from tests.emulator.world import assert_converged
from tests.test_e2e_scenario import imported
from tests.test_e2e_scenario import start

R1 = f.ref(1)
COUNTERPARTY = "Справочник.Контрагенты"


def sent_to_crm(box) -> list[str]:
    out = box.outgoing_path("crm")
    if out is None:
        return []
    _, _, body = parse_message(out)
    return [b.tag.split("}")[1] for b in body]


def both(name: str, order: str) -> list[str]:
    pair = [f.counterparty(R1, name), f.deletion("КонтрагентыСсылка", R1)]
    return pair if order == "object first" else pair[::-1]


@pytest.mark.parametrize("order", ["object first", "deletion first"])
def test_a_new_object_and_its_deletion_in_one_message_reach_the_crm_as_the_object(sandbox, order):
    sandbox.put("accounting", f.Msg(objects=both("Первый", order)))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sent_to_crm(sandbox) == [COUNTERPARTY]
    with sandbox.db() as db:
        [(kind, xml)] = db.execute(
            "SELECT i.kind, p.xml FROM inbox i JOIN inbox_payloads p ON p.inbox_id = i.id").fetchall()
    assert kind == "object"
    assert "Первый".encode() in unpack(xml)  # the object's payload, not the deletion's


@pytest.mark.parametrize("order", ["object first", "deletion first"])
def test_an_object_updated_and_deleted_in_one_message_is_updated_in_the_crm(sandbox, order):
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(R1, "Первый")]))
    assert sandbox.run("pull-catalogs")[0] == 0
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1, objects=both("Переименован", order)))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sent_to_crm(sandbox) == [COUNTERPARTY]
    _, _, body = parse_message(sandbox.outgoing_path("crm"))
    assert "Переименован" in etree.tostring(body[0], encoding="unicode")


def test_a_deletion_in_the_next_message_still_deletes(sandbox):
    """Only the same message's object outweighs a deletion: the next message's is taken."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(R1, "Первый")]))
    assert sandbox.run("pull-catalogs")[0] == 0
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1,
                                    objects=[f.deletion("КонтрагентыСсылка", R1)]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert "УдалениеОбъекта" in sent_to_crm(sandbox)


@pytest.mark.parametrize("how", ["staging NULL", "through migration 0014"])
def test_a_deletion_of_an_object_received_before_the_upgrade_deletes(sandbox, how):
    """Rows of a state older than migration 0014 hold no staging: no staging to come is theirs,
    so a deletion in a later message deletes them (review R9: NULL compared with `=` kept
    every such object for good, its deletion dropped)."""
    sandbox.put("accounting", f.Msg(objects=[f.counterparty(R1, "Первый")]))
    assert sandbox.run("pull-catalogs")[0] == 0
    with sqlite3.connect(sandbox.state_path) as db:
        if how == "staging NULL":  # what ALTER TABLE … ADD COLUMN leaves on older rows
            db.execute("UPDATE inbox SET staging = NULL")
        else:  # the state as the onecsync before 0014 left it: migrated by the next run
            db.execute("ALTER TABLE inbox DROP COLUMN staging")
            db.execute("DELETE FROM _sqlite_migrations WHERE name = '0014_staging'")
    db.close()
    sandbox.put("accounting", f.Msg(message_no=2, received_no=1,
                                    objects=[f.deletion("КонтрагентыСсылка", R1)]))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    with sandbox.db() as db:
        assert db.execute("SELECT kind, message_no FROM inbox").fetchone() == ("delete", 2)
    assert "УдалениеОбъекта" in sent_to_crm(sandbox)


# -- end to end, with the emulated bases ----------------------------------------------------
def with_its_deletion(world, r: Ref, order: str) -> None:
    """Accounting's message, as it lies in the folder, also carries the deletion of `r`
    (before or after the object): what a handler or another program may write."""
    path = world.theirs("accounting")
    root = etree.fromstring(path.read_bytes())
    body = root[1]
    pid = world.acc.store.public_id(r)
    [el] = [e for e in body if any(k.text == pid for k in e.iter() if k.tag.endswith("}Ссылка"))]
    version = body.tag.partition("}")[0].rpartition("/")[2]
    deletion = xmlio.render_deletion(r.type, pid, version)
    el.addprevious(deletion) if order == "deletion first" else el.addnext(deletion)
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


@pytest.mark.parametrize("order", ["object first", "deletion first"])
def test_a_catalog_edited_and_deleted_in_one_message_is_edited_in_the_crm(world, order):
    users, s = start(world)
    world.acc.edit(s.vector, Наименование="Вектор (переименован)")
    world.exchange("accounting")
    with_its_deletion(world, s.vector, order)
    run = world.run()
    assert run.code == 0, run.stderr
    since = len(world.crm.log)
    world.exchange("crm")
    assert ("delete", COUNTERPARTY, s.vector.id) not in imported(world, "crm", since)
    copy = world.copy_in("crm", s.vector)
    assert copy.fields["Наименование"] == "Вектор (переименован)" and not copy.deletion_mark
    world.settle(2)
    assert_converged(world)


@pytest.mark.parametrize("order", ["object first", "deletion first"])
def test_a_payment_and_its_deletion_in_one_message_reach_the_crm_as_the_payment(world, order):
    users, _ = start(world)
    crm_order = users.add_order()
    world.settle(2)
    payment = users.pay(world.copy_in("accounting", crm_order).ref)
    world.exchange("accounting")
    with_its_deletion(world, payment, order)
    run = world.run()
    assert run.code == 0, run.stderr
    world.exchange("crm")
    copy = world.copy_in("crm", payment)
    assert copy.type == BANK and not copy.deletion_mark
    world.settle(2)
    assert_converged(world)
