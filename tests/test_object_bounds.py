"""One body object costs a bounded memory whatever it is made of: past TAG_LIMIT `<` (as past
OBJECT_LIMIT bytes) it is parked by its keys alone; what libxml2 nests as deep as it allows goes
through without a RecursionError, and deeper is refused in one line (review R2 F4: 64 MiB of
`<a/>` under the byte limit was built whole, 2.2 GB)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import pytest

from bench import make_message
from bench import object_memory
from onecsync import formats
from onecsync.protocol import bodyscan
from onecsync.protocol import limits
from onecsync.protocol.reader import MessageReader
from tests import factory as f
from tests.test_keys_bound import trims_held


def _sale(rows: str) -> str:
    return f.sale(f.ref(1), None).replace("</Документ.РеализацияТоваровУслуг>",
                                          f"<Товары>{rows}</Товары></Документ.РеализацияТоваровУслуг>")


def test_what_1c_writes_reaches_the_byte_limit_before_the_tag_limit():
    row = f.GOODS_ROW.format(i=1).encode()
    at_the_byte_limit = limits.OBJECT_LIMIT // len(row) * row.count(b"<")
    assert at_the_byte_limit < limits.TAG_LIMIT * 0.7, at_the_byte_limit  # 2.0 of 4.2 million
    assert 20_000 * row.count(b"<") < limits.TAG_LIMIT / 2  # a table of 20,000 rows
    assert row.count(b"=") == 0  # 1C writes no attributes in a row: their weight costs it nothing


def test_what_1c_writes_has_few_attributes_beside_its_tags():
    """The attribute weight (review R5 H1) leaves every real object far below TAG_LIMIT: the
    factory's objects, the fixtures' and the bench's messages count under twice their `<`."""
    out = io.StringIO()
    make_message.write_message(out, 300)
    fixtures = sorted((Path(__file__).resolve().parents[1] / "fixtures").rglob("*.xml"))
    assert fixtures
    texts = [f.counterparty(f.ref(1), "ООО"), f.sale(f.ref(2), None), f.currency(f.ref(3)),
             _sale("".join(f.GOODS_ROW.format(i=i) for i in range(100))), out.getvalue()]
    for data in [t.encode() for t in texts] + [p.read_bytes() for p in fixtures]:
        body = data[max(data.find(b"Body"), 0):]  # the objects, not the Header
        items = body.count(b"<") + limits.ATTRIBUTE_WEIGHT * body.count(b"=")
        assert items < 2 * body.count(b"<"), (items, body.count(b"<"))


FLOODS = {
    "flat": "<a/>" * 300_000,
    "nested": ("<a>" * 200 + "</a>" * 200) * 800,
    "in its keys": None,
}


@pytest.mark.parametrize("flood", FLOODS)
def test_an_object_of_tiny_elements_past_the_tag_limit_is_parked_by_its_keys(flood, monkeypatch):
    monkeypatch.setattr(limits, "TAG_LIMIT", 64 << 10)
    if FLOODS[flood] is None:
        huge = _sale("").replace("</КлючевыеСвойства>", "<a/>" * 300_000 + "</КлючевыеСвойства>", 1)
    else:
        huge = _sale(FLOODS[flood])
    assert len(huge.encode()) < limits.OBJECT_LIMIT
    msg = f.Msg(objects=[huge, f.currency(f.ref(2))]).xml()
    held = trims_held(monkeypatch)
    stub, second = MessageReader(io.BytesIO(msg), "m.xml", check_schema=True).objects()
    assert stub.ref == f.ref(1)
    assert stub.problem.startswith("the object is larger than 65,536 tags ("), stub.problem
    assert "parked by its key properties alone" in stub.problem
    assert stub.xml.count(b"<a") <= bodyscan.KEPT_ELEMENTS and len(stub.xml) < 5000, len(stub.xml)
    assert second.ref == f.ref(2) and second.problem is None
    # What stays built is the tag limit and a chunk's worth, never the whole flood (300,000).
    assert held and max(held) < (64 << 10) + 20_000, max(held)


@pytest.mark.parametrize("attribute", ['a{i}=""', 'xmlns:p{i}="u:{i}"'], ids=["plain", "xmlns"])
def test_an_object_of_few_tags_and_many_attributes_is_parked_by_its_keys(attribute, monkeypatch):
    """Review R5 H1: the per-element cap of attributes (10,000) did not bound an object: elements
    of 9,000 each, a few thousand `<`, were built whole (3.8 GB for 58 MB). Its `=` count too,
    namespace declarations as well."""
    monkeypatch.setattr(limits, "TAG_LIMIT", 64 << 10)
    attrs = " ".join(attribute.format(i=i) for i in range(9000))
    huge = f.counterparty(f.ref(1), "ООО Ромашка").replace(
        "</КлючевыеСвойства>", "</КлючевыеСвойства>" + f"<Комментарий {attrs}/>" * 10, 1)
    assert huge.count("<") < 100 and len(huge.encode()) < limits.OBJECT_LIMIT
    msg = f.Msg(objects=[huge, f.currency(f.ref(2))]).xml()
    stub, second = MessageReader(io.BytesIO(msg), "m.xml", check_schema=True).objects()
    assert stub.ref == f.ref(1) and stub.xml.count(b"=") < 20, stub.xml[:300]
    assert stub.problem.startswith("the object is larger than 65,536 tags ("), stub.problem
    assert "an attribute counting as 4" in stub.problem and "parked by its key" in stub.problem
    assert second.ref == f.ref(2) and second.problem is None


def test_a_document_of_many_rows_under_the_tag_limit_is_read_whole(monkeypatch):
    rows = "".join(f.GOODS_ROW.format(i=i) for i in range(1000))  # 66,000 `<`
    monkeypatch.setattr(limits, "TAG_LIMIT", 80_000)
    msg = f.Msg(objects=[_sale(rows)]).xml()
    [sale] = MessageReader(io.BytesIO(msg), "m.xml", check_schema=True).objects()
    assert sale.problem is None and sale.xml.count("<Строка>".encode()) == 1000


def test_past_the_tag_limit_it_is_parked_exit_7_in_one_line_and_stays_so(sandbox, monkeypatch):
    monkeypatch.setattr(limits, "TAG_LIMIT", 64 << 10)
    huge = f.counterparty(f.ref(1), "ООО Большой").replace(
        "</Справочник.Контрагенты>", "<a/>" * 200_000 + "</Справочник.Контрагенты>")
    sandbox.put("accounting", f.Msg(objects=[huge, f.counterparty(f.ref(2), "ООО Малый")]))

    code, report, err = sandbox.run("pull-catalogs")

    assert code == 7, err
    assert [o[1] for o in sandbox.outgoing("crm")["objects"]] == [f.ref(2)]
    [line] = [x for x in err.splitlines() if f.ref(1) in x]
    assert "parked: the object is larger than 65,536 tags (" in line, err
    sandbox.run("retry", f.ref(1))  # its stub holds its keys alone: never sent
    with sandbox.db() as c:
        assert c.execute("SELECT status FROM inbox WHERE ref = ?", (f.ref(1),)).fetchall() == [
            ("parked",)]


def _deep(levels: int) -> str:
    """Elements of another namespace nested `levels` deep: 1C's schema lets a КлючевыеСвойства
    end in any of them (`##other`), so the object is valid and goes all the way."""
    return '<x:a xmlns:x="urn:ext">' + "<x:a>" * (levels - 1) + "x" + "</x:a>" * levels


@pytest.mark.parametrize("version", ["1.8", "1.17"])  # sent as it is, and converted to 1.8
def test_an_object_as_deep_as_libxml2_reads_goes_through_without_a_recursion_error(sandbox,
                                                                                     version):
    assert bodyscan.OPTIONS["huge_tree"] is False  # libxml2's bound on depth (256) stays on
    # Message, Body, the object, its КлючевыеСвойства: 4 levels, and 252 more.
    deep = f.counterparty(f.ref(1), "ООО Глубокий").replace(
        "</КлючевыеСвойства>", _deep(252) + "</КлючевыеСвойства>", 1)
    sandbox.put("accounting", f.Msg(version=version, objects=[deep, f.counterparty(f.ref(2), "ООО")]))
    sandbox.put("crm", f.Msg(sender=f.CRM, objects=[], versions=("1.8",)))

    code, report, err = sandbox.run("pull-catalogs")

    assert code == 0, err
    out = sandbox.outgoing("crm")
    assert [o[1] for o in out["objects"]] == [f.ref(1), f.ref(2)]
    assert out["path"].read_bytes().count(b"<x:a") == 252
    # One more level, and libxml2 refuses the message, in one line and without its advice to
    # lift the bound (XML_PARSE_HUGE).
    sandbox.put("accounting", f.Msg(version=version, message_no=2, objects=[
        deep.replace(_deep(252), _deep(253))]))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 5 and "Excessive depth in document: 256 (elements nested that deep" in err, err
    assert "XML_PARSE_HUGE" not in err


def test_a_deep_object_past_the_limit_is_trimmed_without_a_recursion_error(monkeypatch):
    monkeypatch.setattr(limits, "TAG_LIMIT", 64 << 10)
    keys = _deep(250).replace("x</x:a>", "x" + "<x:b/>" * 100_000 + "</x:a>", 1)
    huge = _sale("").replace("</КлючевыеСвойства>", keys + "</КлючевыеСвойства>", 1)
    stub, = MessageReader(io.BytesIO(f.Msg(objects=[huge]).xml()), "m.xml").objects()
    assert stub.ref == f.ref(1) and "larger than 65,536 tags" in stub.problem
    assert 200 < stub.xml.count(b"<x:a") <= 250 and len(stub.xml) < 20_000, len(stub.xml)


@pytest.mark.slow
@pytest.mark.parametrize("shape", ["flat", "text", "deep", "attrs"])
def test_63_mib_of_tiny_elements_cost_what_a_real_document_of_63_mib_does(shape):
    """Peak RSS of a fresh process reading one such object (bench/object_memory.py): 2.2 GB for
    `<a/>` before TAG_LIMIT, 0.54 GB after; a real document of 63 MiB (rows as 1C writes them)
    takes 0.47 GB. `attrs` (review R5 H1): 3.8 GB before attributes counted."""
    with tempfile.TemporaryDirectory() as folder:
        m = object_memory.measure(shape, 63, folder)
    assert m["objects"] == 3 and m["ref"] == f.ref(1) and m["stub"] < 2000, m
    assert m["problem"].startswith(f"the object is larger than {limits.TAG_LIMIT:,} tags"), m
    assert m["rss"] < 800, m  # MiB


EXT = "http://example.com/ed-extension/1.0"
NS = formats.namespace("1.8")


@pytest.mark.parametrize("prefixed", [False, True], ids=["default namespace", "prefix"])
def test_an_extension_object_past_the_limit_is_named_as_it_is_under_it(prefixed, monkeypatch):
    """It was parked under its bare local name: another object than the one it is under the limit
    (and an extension's УдалениеОбъекта, a deletion of ours)."""
    # With a prefix its keys are in the body namespace: its Ссылка names it, under the limit or
    # past it; in the extension's own, a digest does (of what was kept, past it).
    keys = f"<КлючевыеСвойства><Ссылка>{f.ref(4)}</Ссылка></КлючевыеСвойства>"
    for name in ("Справочник.НетТакого", "УдалениеОбъекта"):
        obj = (f'<e:{name} xmlns:e="{EXT}">{keys}{"<a/>" * 100_000}</e:{name}>' if prefixed
               else f'<{name} xmlns="{EXT}">{keys}{"<a/>" * 100_000}</{name}>')
        data = f.Msg(objects=[obj]).xml().replace(
            f"{NS}</msg:Format>".encode(), f"{NS} {EXT}</msg:Format>".encode())
        whole, = MessageReader(io.BytesIO(data), "m.xml").objects()
        monkeypatch.setattr(limits, "TAG_LIMIT", 64 << 10)
        stub, = MessageReader(io.BytesIO(data), "m.xml").objects()
        monkeypatch.undo()
        assert whole.type == stub.type == f"{{{EXT}}}{name}" and stub.kind == "object", stub
        assert "larger than 65,536 tags" in stub.problem
        assert (whole.ref == stub.ref == f.ref(4)) if prefixed else stub.ref.startswith("~")
