"""The emulated 1C base obeys the rules of enterprisedata-protocol.md §1, §2, §3.1 and §5.

These tests pin the emulator down on its own, against the protocol doc, so that the end-to-end
tests (test_e2e, test_convergence) prove onecsync against 1C's behaviour, not against whatever
the emulator happens to do. The bases talk to a `twin`: a second emulated base that plays our
node (code NODE), or to hand-written messages from tests.factory.
"""

from __future__ import annotations

import datetime
import os
import zipfile

import pytest
from lxml import etree

from tests import factory as f
from tests.conftest import assert_valid_message
from tests.emulator import data as d
from tests.emulator import xmlio
from tests.emulator.base import Base
from tests.emulator.base import ExchangeError
from tests.emulator.folder import incoming_name
from tests.emulator.folder import outgoing_name
from tests.emulator.folder import put_back
from tests.emulator.spec import CATALOGS
from tests.emulator.spec import DOCUMENTS
from tests.emulator.spec import SPECS
from tests.emulator.spec import VERSIONS
from tests.emulator.store import Ref

ALL = CATALOGS + DOCUMENTS
M = "{http://www.1c.ru/SSL/Exchange/Message}"


class Clock:
    def __init__(self) -> None:
        self.now = datetime.datetime(2026, 11, 20, 9, 0, tzinfo=datetime.timezone.utc)

    def __call__(self) -> datetime.datetime:
        self.now += datetime.timedelta(minutes=1)
        return self.now


def make(name="accounting", code=f.ACCOUNTING, versions=VERSIONS, registers=ALL, seed=1):
    return Base(name, code, f.NODE, versions, registers=registers, seed=seed, clock=Clock())


def twin(base: Base, versions=VERSIONS, registers=ALL) -> Base:
    """A node that talks to `base` as onecsync does: its messages are From NODE, To base."""
    return Base("twin", f.NODE, base.code, versions, registers=registers, seed=99, clock=Clock())


def info(data: bytes) -> dict:
    root = etree.fromstring(data)
    h = root[0]
    version = h.findtext(f"{M}Format").rsplit("/", 1)[1]
    objects = []
    body = root.find(f"{{{xmlio.namespace(version)}}}Body") if "." in version else None
    for el in (body if body is not None else []):
        name = etree.QName(el).localname
        if name == "УдалениеОбъекта":
            objects.append(("delete", el[0][0][0].text))
        else:
            objects.append((name, el[0][0].text))
    return {"message_no": int(h.findtext(f"{M}Confirmation/{M}MessageNo")),
            "received_no": int(h.findtext(f"{M}Confirmation/{M}ReceivedNo")),
            "from": h.findtext(f"{M}Confirmation/{M}From"),
            "to": h.findtext(f"{M}Confirmation/{M}To"),
            "version": version, "objects": objects,
            "versions": [v.text for v in h.findall(f"{M}AvailableVersion")]}


def ours(base: Base, message_no=1, received_no=0, objects=(), version="1.8",
         versions=f.BASE_VERSIONS, declared: dict | None = None) -> bytes:
    """A message from our node to `base`, hand-written; `declared`: our AvailableObjectTypes
    (type -> (Sending, Receiving))."""
    return f.Msg(sender=f.NODE, to=base.code, message_no=message_no, received_no=received_no,
                 objects=list(objects), version=version, versions=versions,
                 header_extra=f.declarations(declared) if declared is not None else "").xml()


def write_valid(tmp_path, data: bytes, name="m.xml"):
    p = tmp_path / name
    p.write_bytes(data)
    assert_valid_message(p)
    return p


# -- what the base writes --------------------------------------------------------------------
@pytest.mark.parametrize("version", VERSIONS)
def test_every_object_type_is_written_valid_in_every_version(tmp_path, version):
    base = make()
    s = d.seed_accounting(base)
    order = base.create("Документ.ЗаказКлиента", d.order_fields(s, "ЦР00-000153",
                                                                "2026-11-17T11:04:37"))
    base.create("Документ.СчетПокупателю", d.invoice_fields(s, "ЦР00-000219",
                                                            "2026-11-17T11:20:05"))
    sale = base.create("Документ.РеализацияТоваровУслуг",
                       d.sale_fields(s, "ТС00-000301", "2026-11-20T10:00:00", order))
    base.create("Документ.ВозвратТоваровОтПокупателя",
                d.return_fields(s, "ТС00-000011", "2026-11-25T10:00:00", sale))
    base.create("Документ.ПБДСРасчетыСКонтрагентами",
                d.bank_receipt_fields(s, "ТС00-000412", "2026-11-19T10:32:15", "123000.00", order))
    base.create("Документ.ПКОРасчетыСКонтрагентами",
                d.cash_receipt_fields(s, "ТС00-000013", "2026-11-19T12:00:00", "1000.00", order))
    base.peer_versions = (version,)
    m = info(write_valid(tmp_path, base.export_message()).read_bytes())
    assert m["version"] == version
    assert {t for t, _ in m["objects"]} == set(SPECS)  # every type the emulator knows


@pytest.mark.parametrize("version", VERSIONS)
def test_what_a_base_writes_another_reads_back_the_same(version):
    """Writing and reading are inverse: the semantic content survives a trip in any version."""
    src = make()
    s = d.seed_accounting(src)
    order = src.create("Документ.ЗаказКлиента", d.order_fields(s, "Н-1", "2026-11-17T11:04:37"))
    src.create("Документ.ПБДСРасчетыСКонтрагентами",
               d.bank_receipt_fields(s, "П-1", "2026-11-19T10:00:00", "500.00", order))
    src.peer_versions = (version,)
    dst = make("crm", f.CRM)
    src.node_code, src.code = dst.code, f.NODE  # src plays our node towards dst
    dst.import_message(src.export_message())
    from tests.emulator.world import comparable

    for obj in src.objects():
        copy = dst.get(Ref(obj.type, obj.ref.id))
        assert not copy.from_keys
        assert comparable(dst, copy, (version,)) == comparable(src, obj, (version,)), obj.ref


def test_vat_is_an_enumeration_up_to_1_16_and_a_structure_from_1_17():
    base = make()
    s = d.seed_accounting(base)
    obj = base.get(s.keyboard)
    old = xmlio.render(obj, "1.16", base.store)
    new = xmlio.render(obj, "1.17", base.store)
    assert old.findtext("{*}СтавкаНДС") == "НДС20"
    assert new.find("{*}СтавкаНДС/{*}ВидСтавки").text == "Общая"
    assert new.find("{*}СтавкаНДС/{*}Ставка").text == "20"
    assert xmlio.parse(old).fields["СтавкаНДС"] == xmlio.parse(new).fields["СтавкаНДС"] == "НДС20"


def test_a_reference_is_written_as_the_key_properties_of_its_object():
    base = make()
    s = d.seed_accounting(base)
    el = xmlio.render(base.get(s.vector_contract), "1.8", base.store)
    cp = el.find("{*}КлючевыеСвойства/{*}Контрагент")
    assert cp.findtext("{*}Ссылка") == s.vector.id
    assert cp.findtext("{*}ИНН") == "7705432193"
    assert cp.find("{*}Группа/{*}Ссылка").text == s.customers.id
    # Only key properties travel inline: the counterparty's main contract does not.
    assert cp.find("{*}ОсновнойДоговор") is None


# -- numbering (§2, sending) -----------------------------------------------------------------
def test_first_message_is_1_with_received_0_in_the_lowest_version_it_offers():
    base = make(versions=("1.17", "1.16", "1.11", "1.10", "1.8", "1.15", "1.12"))
    d.seed_accounting(base)
    m = info(base.export_message())
    assert (m["message_no"], m["received_no"]) == (1, 0)
    assert m["version"] == "1.8"
    assert (m["from"], m["to"]) == (f.ACCOUNTING, f.NODE)
    assert m["versions"] == ["1.17", "1.16", "1.11", "1.10", "1.8", "1.15", "1.12"]
    assert base.sent_no == 1


def test_every_message_carries_all_registrations_not_yet_confirmed():
    base = make()
    s = d.seed_accounting(base)
    first = info(base.export_message())
    assert len(first["objects"]) == len(s.catalog_refs())
    base.edit(s.vector, ОКПО="45872135")
    second = info(base.export_message())
    # Message 1 was not confirmed: everything goes again, with the edit, numbered 2.
    assert second["message_no"] == 2
    assert sorted(second["objects"]) == sorted(first["objects"])
    assert base.registrations[s.vector].message_no == 2
    assert base.registrations[s.org].message_no == 1


def test_nothing_to_send_still_writes_a_numbered_message_as_1c_does():
    base = make()
    assert info(base.export_message())["message_no"] == 1
    assert info(base.export_message())["message_no"] == 2
    quiet = make(seed=2)
    quiet.write_empty = False
    assert quiet.export_message() is None
    quiet.import_message(ours(quiet, message_no=1))
    assert info(quiet.export_message())["received_no"] == 1  # a confirmation is owed: written
    assert quiet.export_message() is None


def test_version_is_the_highest_common_one_from_our_available_versions():
    base = make()
    base.import_message(ours(base, versions=("1.8", "1.10", "1.16")))
    assert info(base.export_message())["version"] == "1.16"
    base.import_message(ours(base, message_no=2, versions=("1.17", "1.21")))
    assert info(base.export_message())["version"] == "1.17"
    crm = make("crm", f.CRM, versions=("1.8", "1.10", "1.11"))
    crm.import_message(ours(crm, versions=("1.16", "1.17")))
    assert info(crm.export_message())["version"] == "1.8"  # nothing in common: its lowest


# -- numbering (§2, receiving) ---------------------------------------------------------------
def test_our_received_no_drops_what_it_confirms_and_only_that():
    base = make()
    s = d.seed_accounting(base)
    base.export_message()                      # 1: everything
    base.edit(s.vector, ОКПО="45872135")       # changed after message 1: stamp cleared
    base.export_message()                      # 2: the edit is stamped 2
    new = base.create("Справочник.Пользователи", {"Наименование": "Новиков И. И."})  # unsent
    base.import_message(ours(base, message_no=1, received_no=1))
    assert set(base.registrations) == {s.vector, new}
    assert base.registrations[s.vector].message_no == 2
    # What message 1 carried is now bound to its own UUID for our node.
    assert base.store.public_ids[s.org] == s.org.id
    base.import_message(ours(base, message_no=2, received_no=2))
    assert list(base.registrations) == [new]


def test_registrations_are_sent_again_until_confirmed():
    base = make()
    s = d.seed_accounting(base)
    for n in (1, 2, 3):
        m = info(base.export_message())
        assert m["message_no"] == n and (s.rub.type, s.rub.id) in m["objects"]
    base.import_message(ours(base, message_no=1, received_no=3))
    assert info(base.export_message())["objects"] == []


def test_a_message_numbered_at_or_below_received_no_is_skipped_with_its_received_no():
    base = make()
    s = d.seed_accounting(base)
    base.export_message()
    c1 = f.counterparty(f.ref(1), "ООО Ромашка", "7701234567")
    base.import_message(ours(base, message_no=5, received_no=0, objects=[c1]))
    assert base.received_no == 5
    renamed = f.counterparty(f.ref(1), "ООО Ромашка и Ко", "7701234567")
    base.import_message(ours(base, message_no=5, received_no=1, objects=[renamed]))
    base.import_message(ours(base, message_no=4, received_no=1, objects=[renamed]))
    assert base.get(Ref("Справочник.Контрагенты", f.ref(1))).fields["Наименование"] == \
        "ООО Ромашка"                        # the body was not read
    assert s.org in base.registrations       # ReceivedNo 1 was not processed
    assert [e.kind for e in base.log[-2:]] == ["skipped", "skipped"]
    assert base.log[-1].note == "ранее принято"
    assert base.received_no == 5


def test_a_message_without_a_number_is_imported_and_confirms_nothing():
    base = make()
    s = d.seed_accounting(base)
    base.export_message()
    c1 = f.counterparty(f.ref(1), "ООО Ромашка", "7701234567")
    base.import_message(ours(base, message_no=0, received_no=1, objects=[c1]))
    assert Ref("Справочник.Контрагенты", f.ref(1)) in base.store.objects
    assert base.received_no == 0 and s.org in base.registrations
    data = f.Msg(sender=f.NODE, to=base.code, message_no=None, received_no=None,
                 objects=[c1]).xml()
    base.import_message(data)
    assert base.received_no == 0


def test_a_failing_import_leaves_received_no_and_the_same_message_is_taken_again():
    base = make("crm", f.CRM)
    objects = [f.counterparty(f.ref(i), f"Клиент {i}", d.inn10(i)) for i in range(1, 4)]
    message = ours(base, message_no=1, objects=objects)
    base.faults.fail_next_import = 2
    with pytest.raises(ExchangeError, match="locked"):
        base.import_message(message)
    assert base.received_no == 0
    assert base.errors and base.log[-1].kind == "failed"
    # 1C writes objects as it goes: the first two are in, the third is not.
    assert len(base.objects("Справочник.Контрагенты")) == 2
    base.import_message(message)
    assert base.received_no == 1
    assert len(base.objects("Справочник.Контрагенты")) == 3  # taken again, nothing doubled


def test_a_broken_file_is_an_error_and_changes_nothing(tmp_path):
    base = make()
    good = ours(base, message_no=1, objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
    with pytest.raises(ExchangeError, match="well-formed"):
        base.import_message(good[: len(good) // 2])
    assert base.received_no == 0 and not base.objects()


@pytest.mark.parametrize("change, error", [
    ({"sender": f.CRM}, "cannot find the exchange node"),
    ({"to": f.CRM}, "unexpected destination"),
    ({"version": "1.5"}, "not supported"),
])
def test_the_header_is_checked_as_1c_checks_it(change, error):
    base = make()
    kw = {"sender": f.NODE, "to": base.code, "message_no": 1, "received_no": 0,
          "objects": [f.counterparty(f.ref(1), "ООО Ромашка")], **change}
    with pytest.raises(ExchangeError, match=error):
        base.import_message(f.Msg(**kw).xml())
    assert base.received_no == 0 and not base.objects()


def test_a_settings_only_message_records_our_versions_and_nothing_else():
    base = make()
    base.import_message(ours(base, message_no=0, version=None, versions=("1.15",)))
    assert base.peer_versions == ("1.15",) and base.received_no == 0
    assert info(base.export_message())["version"] == "1.15"


# -- the object types our node declares (XS FillSupportedXDTOObjects) ------------------------
def test_a_base_sends_our_node_only_what_it_declares_it_receives_in_the_exchange_version():
    base = make()
    s = d.seed_accounting(base)
    base.import_message(ours(base, declared={"Справочник.Контрагенты": ("", "*"),
                                             "Справочник.Валюты": ("", "1.11,1.12"),
                                             "Справочник.Банки": ("*", "")}))
    m = info(base.export_message())
    assert m["version"] == "1.17"
    # Counterparties in every version; currencies not in 1.17; banks only sent by us; the
    # rest not declared at all.
    assert {t for t, _ in m["objects"]} == {"Справочник.Контрагенты"}
    assert "not declared by our node" in base.log[-1].note
    # Withheld registrations are stamped like the others: our next ReceivedNo drops them.
    assert base.registrations[s.rub].message_no == m["message_no"]
    base.import_message(ours(base, message_no=2, received_no=m["message_no"],
                             declared={"Справочник.Валюты": ("", "*")}))
    assert not base.registrations
    base.edit(s.rub, НаименованиеПолное="Российский рубль (RUB)")
    assert info(base.export_message())["objects"] == [("Справочник.Валюты", s.rub.id)]


def test_a_base_takes_from_our_node_only_what_it_declares_it_sends():
    crm = make("crm", f.CRM, registers=())
    objects = [f.counterparty(f.ref(1), "ООО Ромашка", "7701234567"), f.currency(f.ref(2))]
    crm.import_message(ours(crm, objects=objects, declared={
        "Справочник.Контрагенты": ("1.8", ""), "Справочник.Валюты": ("1.17", "")}))
    assert [o.ref.id for o in crm.objects()] == [f.ref(1)]  # currencies: not in 1.8
    assert ("skipped", "Справочник.Валюты", f.ref(2)) in crm.log[-1].objects
    assert crm.received_no == 1                              # skipping is no failure
    gone = [f.deletion("КонтрагентыСсылка", f.ref(1))]
    crm.import_message(ours(crm, message_no=2, objects=gone,
                            declared={"Справочник.Контрагенты": ("", "*")}))
    assert not crm.get(Ref("Справочник.Контрагенты", f.ref(1))).deletion_mark


def test_without_declarations_our_node_is_taken_to_handle_everything():
    crm = make("crm", f.CRM, registers=ALL)
    crm.import_message(ours(crm, declared={"Справочник.Валюты": ("*", "*")}))
    assert crm.peer_types == {"Справочник.Валюты": ("*", "*")}
    crm.import_message(ours(crm, message_no=2, objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert crm.peer_types is None and len(crm.objects()) == 1
    crm.create("Справочник.Пользователи", {"Наименование": "Новиков И. И."})
    assert [t for t, _ in info(crm.export_message())["objects"]] == ["Справочник.Пользователи"]


def test_the_bases_follow_what_onecsync_declares_for_its_flows(tmp_path):
    """onecsync declares the types of its flows: a type left out of pull-catalogs is never sent
    by accounting, and the CRM never takes from onecsync what onecsync does not send."""
    from tests.emulator.world import World
    from tests.emulator.world import scratch_dir

    with scratch_dir(tmp_path) as root:
        world = World(root, in_process=True)
        types = [t for t in CATALOGS if t != "Справочник.Пользователи"]
        world.config.write_text(world.config.read_text() + "flows:\n  pull-catalogs:\n"
                                f"    objects: [{', '.join(types)}]\n", encoding="utf-8")
        s = d.seed_accounting(world.acc)
        world.settle(3)
        assert "Справочник.Пользователи" not in world.acc.peer_types
        sent = {t for e in world.acc.log if e.kind == "exported" for t, *_ in e.objects}
        assert "Справочник.Пользователи" in sent                  # before onecsync's header
        assert "Справочник.Пользователи" not in {
            t for t, *_ in world.acc.log[-1].objects}             # and never after it
        assert not world.copies("crm", s.user) and world.copies("crm", s.department)
        assert world.crm.peer_types["Справочник.Контрагенты"][0] == "*"
        assert not world.acc.registrations and world.unconfirmed("crm") == 0


# -- matching (§5) ---------------------------------------------------------------------------
def test_an_incoming_object_is_matched_by_ссылка_then_by_search_fields():
    crm = make("crm", f.CRM, registers=())
    own = crm.create("Справочник.Контрагенты",
                     d.counterparty_fields("Вектор (CRM)", "7705432193"))
    acc = make()
    s = d.seed_accounting(acc)
    acc.code, acc.node_code = f.NODE, crm.code
    crm.import_message(acc.export_message())
    # Same ИНН+КПП, another Ссылка: the CRM's own counterparty, now bound to accounting's id.
    assert crm.get(own).fields["Наименование"] == "Вектор ООО"
    assert crm.store.public_ids[own] == s.vector.id
    assert len(crm.objects("Справочник.Контрагенты")) == 3
    # Later messages match it by the bound id, even after the ИНН changes.
    acc.edit(s.vector, ИНН="7705432194", КПП="770501002", Наименование="Вектор-М ООО")
    crm.import_message(acc.export_message())
    assert crm.get(own).fields["Наименование"] == "Вектор-М ООО"
    assert len(crm.objects("Справочник.Контрагенты")) == 3


@pytest.mark.parametrize("type_name, fields, search", [
    ("Справочник.Номенклатура", {"Наименование": "Монитор (CRM)", "Артикул": "MON-27Q-IPS",
                                 "ТипНоменклатуры": "Товар"}, "Артикул"),
    ("Справочник.Банки", {"ДанныеКлассификатораБанков": {"Наименование": "Меридиан",
                                                         "БИК": "044525674"}}, "БИК"),
    ("Справочник.Валюты", {"ДанныеКлассификатора": {"Код": "643", "Наименование": "RUB"}},
     "Код"),
    ("Справочник.ЕдиницыИзмерения", {"ДанныеКлассификатора": {"Код": "796"}}, "Код"),
    ("Справочник.Организации", {"Наименование": "ТехноСнаб (CRM)", "ИНН": d.ORG_INN,
                                "КПП": d.ORG_KPP,
                                "ЮридическоеФизическоеЛицо": "ЮридическоеЛицо"}, "ИНН+КПП"),
])
def test_search_fields_per_type(type_name, fields, search):
    crm = make("crm", f.CRM, registers=())
    own = crm.create(type_name, fields)
    acc = make()
    d.seed_accounting(acc)
    acc.code, acc.node_code = f.NODE, crm.code
    crm.import_message(acc.export_message())
    assert len(crm.objects(type_name)) == len(acc.objects(type_name)), search
    assert own in crm.store.public_ids


def test_documents_are_matched_by_date_and_number():
    crm = make("crm", f.CRM, registers=())
    mine = crm.create("Документ.ЗаказКлиента", d.order_fields(
        d.seed_accounting(crm), "ЦР00-000153", "2026-11-17T11:04:37"))
    acc = make()
    s = d.seed_accounting(acc)
    theirs = acc.create("Документ.ЗаказКлиента", d.order_fields(s, "ЦР00-000153",
                                                                 "2026-11-17T11:04:37", qty=5))
    acc.code, acc.node_code = f.NODE, crm.code
    crm.import_message(acc.export_message())
    assert [o.ref for o in crm.objects("Документ.ЗаказКлиента")] == [mine]
    assert crm.store.public_ids[mine] == theirs.id
    assert crm.get(mine).fields["Сумма"] == "142000.00"
    # Every catalog it references was matched by its own search fields: nothing doubled.
    assert len(crm.objects()) == len(acc.objects())


def test_an_object_bound_to_another_id_is_not_taken_by_search_fields():
    crm = make("crm", f.CRM, registers=())
    first = [f.counterparty(f.ref(1), "ООО Ромашка", "7701234567")]
    crm.import_message(ours(crm, message_no=1, objects=first))
    # Another object, same ИНН (a second card for the same company in accounting): a new one.
    second = [f.counterparty(f.ref(2), "ООО Ромашка", "7701234567")]
    crm.import_message(ours(crm, message_no=2, objects=second))
    assert sorted(o.ref.id for o in crm.objects()) == [f.ref(1), f.ref(2)]


def test_references_are_resolved_and_unknown_ones_created_from_key_properties():
    crm = make("crm", f.CRM, registers=())
    acc = make()
    s = d.seed_accounting(acc)
    contract = acc.get(s.vector_contract)
    el = xmlio.render(contract, "1.8", acc.store)
    only_contract = etree.tostring(el, encoding="unicode").replace(
        f' xmlns="{xmlio.namespace("1.8")}"', "")
    crm.import_message(ours(crm, message_no=1, objects=[only_contract]))
    stub = crm.get(s.vector)
    assert stub.from_keys and stub.fields["ИНН"] == "7705432193"
    assert crm.get(s.vector_contract).fields["Контрагент"] == s.vector
    # The full object arrives later: it fills the same object, no second one.
    acc.code, acc.node_code = f.NODE, crm.code
    acc.sent_no = 1
    crm.import_message(acc.export_message())
    assert not crm.get(s.vector).from_keys
    assert len(crm.objects("Справочник.Контрагенты")) == 3


def test_imported_objects_are_not_registered_back_for_our_node():
    crm = make("crm", f.CRM, registers=ALL)
    crm.import_message(ours(crm, objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    assert crm.objects() and not crm.registrations


# -- deletions (§4 УдалениеОбъекта, §5.5) ----------------------------------------------------
def test_a_physical_deletion_is_sent_as_УдалениеОбъекта_a_deletion_mark_as_the_object():
    base = make()
    s = d.seed_accounting(base)
    base.export_message()
    base.import_message(ours(base, message_no=1, received_no=1))
    base.mark_deleted(s.user)
    m = info(base.export_message())
    assert m["objects"] == [("Справочник.Пользователи", s.user.id)]
    with pytest.raises(ValueError, match="referenced"):
        base.delete(s.customers)
    base.delete(s.user)
    assert info(base.export_message())["objects"] == [("delete", s.user.id)]


def test_an_incoming_deletion_marks_the_object_and_only_by_its_id():
    crm = make("crm", f.CRM, registers=())
    objects = [f.counterparty(f.ref(1), "ООО Ромашка", "7701234567"),
               f.counterparty(f.ref(2), "АО Василек", "7702345678")]
    crm.import_message(ours(crm, message_no=1, objects=objects))
    gone = [f.deletion("КонтрагентыСсылка", f.ref(1)),
            f.deletion("КонтрагентыСсылка", f.ref(7)),               # unknown: ignored
            f.deletion("КонтрагентыСсылка", f.ref(2)),
            f.counterparty(f.ref(2), "АО Василек", "7702345678"),    # imported by the same message
            f.counterparty(f.ref(3), "ИП Петров", "7703456789"),     # ... in either order (R7 M2)
            f.deletion("КонтрагентыСсылка", f.ref(3))]
    crm.import_message(ours(crm, message_no=2, objects=gone))
    assert crm.get(Ref("Справочник.Контрагенты", f.ref(1))).deletion_mark
    assert not crm.get(Ref("Справочник.Контрагенты", f.ref(2))).deletion_mark
    assert not crm.get(Ref("Справочник.Контрагенты", f.ref(3))).deletion_mark
    assert len(crm.objects()) == 3  # marked, never removed, nothing created but what came


# -- backups ---------------------------------------------------------------------------------
def test_restoring_a_backup_takes_numbers_data_and_registrations_back():
    base = make()
    s = d.seed_accounting(base)
    base.export_message()
    saved = base.backup()
    base.import_message(ours(base, message_no=1, received_no=1))
    new = base.create("Справочник.Пользователи", {"Наименование": "Новиков И. И."})
    base.export_message()
    assert (base.sent_no, base.received_no) == (2, 1)
    base.restore(saved)
    assert (base.sent_no, base.received_no) == (1, 0)
    assert new not in base.store.objects and s.org in base.registrations
    m = info(base.export_message())
    assert m["message_no"] == 2 and (s.org.type, s.org.id) in m["objects"]


def test_a_restored_base_trusts_our_received_no_even_beyond_its_own_numbers():
    """1C checks ReceivedNo against its SentNo only outside XDTO exchange (protocol doc §2):
    after a restore, a ReceivedNo from the old days confirms messages of its new life."""
    base = make()
    d.seed_accounting(base)
    saved = base.backup()
    for _ in range(3):
        base.export_message()
    base.restore(saved)
    new = base.create("Справочник.Пользователи", {"Наименование": "Новиков И. И."})
    assert info(base.export_message())["message_no"] == 1     # new life: numbered 1 again
    base.import_message(ours(base, message_no=7, received_no=3))
    assert new not in base.registrations and new in base.confirmed


# -- the directory transport (§3.1) and its faults ---------------------------------------------
def test_exchange_reads_the_newest_file_keeps_it_and_replaces_its_own(tmp_path):
    base = make()
    d.seed_accounting(base)
    stem = tmp_path / incoming_name(base)
    old = ours(base, message_no=1)
    new = ours(base, message_no=2, objects=[f.counterparty(f.ref(1), "ООО Ромашка")])
    (stem.with_suffix(".xml")).write_bytes(old)
    with zipfile.ZipFile(stem.with_suffix(".zip"), "w") as zf:
        zf.writestr(stem.name + ".xml", new)
    os.utime(stem.with_suffix(".xml"), ns=(10**18, 10**18))
    os.utime(stem.with_suffix(".zip"), ns=(2 * 10**18, 2 * 10**18))
    (tmp_path / outgoing_name(base)).write_text("previous")
    result = base.exchange(tmp_path)
    assert result.read == stem.name + ".zip" and base.received_no == 2
    assert stem.with_suffix(".xml").read_bytes() == old       # never deleted nor changed
    written = tmp_path / outgoing_name(base)
    assert info(written.read_bytes())["message_no"] == 1
    assert_valid_message(written)


def test_exchange_ignores_an_empty_file_and_can_write_a_zip(tmp_path):
    base = make()
    (tmp_path / (incoming_name(base) + ".xml")).write_bytes(b"")
    result = base.exchange(tmp_path, compress=True)
    assert result.read is None and result.written.endswith(".zip")
    with zipfile.ZipFile(tmp_path / result.written) as zf:
        assert [i.filename for i in zf.infolist()] == [result.written[:-4] + ".xml"]


def test_fault_switches_act_once(tmp_path):
    base = make()
    d.seed_accounting(base)
    out = tmp_path / outgoing_name(base)
    base.faults.unreachable_next = True
    assert base.exchange(tmp_path).unreachable and not out.exists() and base.sent_no == 0
    base.faults.drop_next = True
    dropped = base.exchange(tmp_path)
    assert dropped.dropped and not out.exists() and base.sent_no == 1  # written, then lost
    base.faults.corrupt_next = "truncate"
    assert base.exchange(tmp_path).corrupted == "truncate"
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(out.read_bytes())
    base.exchange(tmp_path)
    assert info(out.read_bytes())["message_no"] == 3
    assert not base.faults.drop_next and base.faults.corrupt_next is None
    put_back(out, dropped.data)                           # the lost message turns up after all
    assert info(out.read_bytes())["message_no"] == 1


def test_an_unreadable_folder_is_unreachable(tmp_path):
    base = make()
    gone = tmp_path / "not-mounted"
    assert base.exchange(gone).unreachable and base.sent_no == 0


# -- what a user enters as an EnterpriseData element (Base.enter), send-only, refused imports ---
def test_entering_an_element_creates_edits_and_deletes_as_a_user_would(tmp_path):
    base = make()
    order = Ref("Документ.ЗаказКлиента", f.ref(1, "c0ffee00"))
    assert base.enter(f.order(order.id)) == order
    assert base.get(order).origin == "user" and order in base.created
    assert base.get(order).fields["Сумма"] == "123000.00"
    customer = base.get(order).fields["Контрагент"]            # a reference: made from its keys
    assert base.get(customer).from_keys and customer not in base.registrations
    m = info(base.export_message())
    assert ("Документ.ЗаказКлиента", order.id) in m["objects"]
    write_valid(tmp_path, base.export_message())           # valid per 1C's schema
    base.import_message(ours(base, message_no=1, received_no=2))  # confirmed: nothing pending
    assert base.enter(f.order(order.id, amount="1.00")) == order  # the same object, edited
    assert base.get(order).fields["Сумма"] == "1.00" and order in base.registrations
    assert base.enter(f.deletion("ЗаказКлиентаСсылка", order.id)) == order
    assert order not in base.store.objects and ("delete", order.id) in \
        info(base.export_message())["objects"]


def test_an_edit_entered_over_an_imported_object_keeps_it_imported():
    base = make()
    base.import_message(ours(base, objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    r = Ref("Справочник.Контрагенты", f.ref(1))
    base.enter(f.counterparty(f.ref(1), "ООО Ромашка-2"))
    assert base.get(r).origin == "import" and r not in base.created
    assert base.get(r).fields["Наименование"] == "ООО Ромашка-2" and r in base.registrations


def test_a_send_only_session_leaves_our_message_unread_and_entered_objects_go_in_it(tmp_path):
    base = make()
    (tmp_path / (incoming_name(base) + ".xml")).write_bytes(
        ours(base, objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    result = base.exchange(tmp_path, receive=False, entered=[f.currency(f.ref(9))])
    assert result.read is None and base.received_no == 0 and base.imported_numbers() == []
    assert info((tmp_path / result.written).read_bytes())["objects"] == \
        [("Справочник.Валюты", f.ref(9))]
    base.exchange(tmp_path)
    assert base.imported_numbers() == [1]
    assert base.received() == {f.ref(1): "Справочник.Контрагенты"}


def test_a_refused_import_fails_even_when_our_message_is_empty():
    base = make()
    base.faults.refuse_next_import = True
    with pytest.raises(ExchangeError, match="import refused"):
        base.import_message(ours(base))
    assert base.received_no == 0 and base.imported_numbers() == []
    base.import_message(ours(base))                      # once: the next import goes through
    assert base.imported_numbers() == [1]
