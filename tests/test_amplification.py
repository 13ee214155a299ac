"""What a base's header or root costs us is proportional to its size: unused namespace
declarations are not copied into every object, a long AvailableObjectTypes is read in one pass."""

from __future__ import annotations

import io

from lxml import etree

from onecsync.protocol import bodyscan
from onecsync.protocol import limits
from onecsync.protocol import reader as reader_module
from onecsync.protocol.normal import normalize_object
from onecsync.protocol.reader import MessageReader
from onecsync.state.payloads import unpack
from tests import factory as f

JUNK = " ".join(f'xmlns:j{i}="urn:onecsync-test:unused:{i}"' for i in range(4000))


def amplified(msg: f.Msg) -> bytes:
    data = msg.xml()
    return data.replace(b"<Message ", f"<Message {JUNK} ".encode(), 1)


def test_4000_unused_namespaces_on_the_root_cost_neither_the_state_nor_the_relayed_message(sandbox):
    objects = [f.counterparty(f.ref(i), f"ООО Ромашка {i}") for i in range(200)]
    data = amplified(f.Msg(objects=objects))
    assert len(data) > 150_000  # a third of it declarations that nothing uses
    sandbox.put("accounting", data)

    code, report, err = sandbox.run("pull-catalogs")

    assert code == 0, err
    assert report["peers"]["crm"]["sent"]["objects"] == 200
    with sandbox.db() as c:
        staged = [unpack(r[0]) for r in c.execute("SELECT xml FROM inbox_payloads")]
    assert len(staged) == 200 and not any(b"urn:onecsync-test" in x for x in staged)
    # 4,000 declarations per object: 200 × 150 KB
    assert sum(map(len, staged)) < len(data) and max(map(len, staged)) < 1000
    out = sandbox.outgoing("crm")  # valid per 1C's schema, every object in it
    assert len(out["objects"]) == 200
    assert out["path"].stat().st_size < 2 * len(data)
    assert sandbox.state_path.stat().st_size < 2 * 1024 * 1024


def test_a_prefix_an_object_uses_is_kept_and_nothing_else():
    ns = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8"
    xml = (f'<Message {JUNK} xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
           'xmlns:t="urn:types" xmlns:a="urn:attrs" xmlns:n="urn:names">'
           f'<Body xmlns="{ns}"><Справочник.Валюты a:x="1"><n:Поле xsi:type="t:Тип"/>'
           "</Справочник.Валюты></Body></Message>").encode()
    el = etree.fromstring(xml)[0][0]
    out = normalize_object(el, ns).decode()
    assert 'xmlns:t="urn:types"' in out and 'xmlns:a="urn:attrs"' in out
    assert 'xmlns:n="urn:names"' in out
    assert "unused" not in out and f'xmlns="{ns}"' not in out
    assert out.startswith("<Справочник.Валюты ")


def test_a_message_as_1c_writes_it_keeps_its_bytes():
    """The usual message takes the fast path: its objects are stored byte for byte as before."""
    data = f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]).xml()
    (obj,) = MessageReader(io.BytesIO(data), "m.xml").objects()
    assert obj.xml == f.counterparty(f.ref(1), "ООО Ромашка").encode()


def test_a_long_header_and_a_large_object_are_cleared_children_first(monkeypatch):
    """lxml's clear() of an iterparsed element with a large subtree is quadratic in it (30,000
    declared types: 4 s; bench/header_size.py compares 1× and 8×): the reader clears the Header,
    and any object read from more than LARGE_OBJECT bytes, children first. Counted here."""
    cleared = []
    real = bodyscan.clear_all

    def counted(el, **kw):
        cleared.append(etree.QName(el).localname)
        real(el, **kw)
    monkeypatch.setattr(reader_module, "_clear", counted)  # the Header's
    monkeypatch.setattr(bodyscan, "clear_all", counted)  # the Body's objects'

    decl = "".join(f"<msg:ObjectType><msg:Name>Справочник.Тип{i}</msg:Name><msg:Sending>*</msg:Sending>"
                   "</msg:ObjectType>" for i in range(3000))
    rows = "".join(f"<Строка><Номер>{i}</Номер></Строка>" for i in range(4000))
    large = f.counterparty(f.ref(2), "ООО Большой").replace(
        "</Справочник.Контрагенты>", f"<Таблица>{rows}</Таблица></Справочник.Контрагенты>")
    assert len(large.encode()) > 2 * bodyscan.LARGE_OBJECT
    small = [f.counterparty(f.ref(i), "ООО Малый") for i in range(3, 50)]
    data = f.Msg(objects=[f.currency(f.ref(1)), large, *small],
                 header_extra=f"<msg:AvailableObjectTypes>{decl}</msg:AvailableObjectTypes>").xml()

    reader = MessageReader(io.BytesIO(data), "m.xml")
    assert len(reader.header.object_types) == 3000
    assert len(list(reader.elements())) == 49

    assert cleared == ["Header", "Справочник.Контрагенты"]


def test_one_huge_object_is_parked_by_its_keys_and_the_rest_of_the_message_goes(sandbox,
                                                                                 monkeypatch):
    """Review2 #16: one Контрагенты of 40 × 9 MB fields took 1.5 GB and left 360 MB in the
    state. Past OBJECT_LIMIT (here 1 MiB) its fields are dropped while parsed; it is parked by
    its keys alone (exit 7, one line), the others are sent, and a retry cannot send the stub."""
    monkeypatch.setattr(limits, "OBJECT_LIMIT", 1 << 20)
    blob = f"<Комментарий>{'ж' * 200_000}</Комментарий>"  # 400 KB each
    huge = f.counterparty(f.ref(1), "ООО Большой", "7701234567").replace(
        "</Справочник.Контрагенты>", blob * 8 + "</Справочник.Контрагенты>")
    sandbox.put("accounting", f.Msg(objects=[huge, f.counterparty(f.ref(2), "ООО Малый")]))

    code, report, err = sandbox.run("pull-catalogs")

    assert code == 7, err
    assert report["peers"]["crm"]["sent"]["objects"] == 1
    assert [o[1] for o in sandbox.outgoing("crm")["objects"]] == [f.ref(2)]
    with sandbox.db() as c:
        [(status, reason, xml)] = c.execute(
            "SELECT status, reason, xml FROM inbox JOIN inbox_payloads ON inbox_id = inbox.id "
            "WHERE ref = ?", (f.ref(1),)).fetchall()
    assert status == "parked" and reason.startswith("the object is larger than 1 MiB (3 MiB in "
                                                    "the message): parked by its key"), reason
    kept = unpack(xml)
    assert len(kept) < 1000 and f.ref(1).encode() in kept and "ООО Большой".encode() in kept
    assert "the object is larger than 1 MiB" in err
    # The stub holds the keys alone: sent, it would empty the object in the CRM.
    code, report, err = sandbox.run("retry", f.ref(1))
    with sandbox.db() as c:
        assert c.execute("SELECT status FROM inbox WHERE ref = ?", (f.ref(1),)).fetchall() == [
            ("parked",)]
        assert not c.execute("SELECT 1 FROM registrations WHERE ref = ?", (f.ref(1),)).fetchall()
