"""The conversion on the bytes (formats.bytewise) writes what the reference walk writes, or
declines: random valid objects and the benchmark's mix come out of it byte for byte as from
tests/reference_convert.py, and each object crafted to need what only the parse path can do
(a blank value, a comment to move, a doubtful value, an emptied element, another namespace...)
is declined, and converted by `convert` as the walk converts it all the same.
"""

from __future__ import annotations

import io
import re
import sys
from functools import cache

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from lxml import etree

from bench import make_message
from onecsync import formats
from onecsync.errors import StateError
from onecsync.formats.bytewise import bytewise
from onecsync.protocol import objects
from onecsync.protocol.normal import normalize_object
from onecsync.protocol.objects import convert
from onecsync.protocol.objects import parse_object
from onecsync.protocol.reader import MessageReader
from tests import reference_convert as reference
from tests.conversions import against_a_bank_loan
from tests.conversions import objects_of
from tests.conversions import outcome
from tests.conversions import random_valid_object
from tests.conversions import valid_in

NS = formats.namespace("1.8")


def as_the_walk(xml: bytes, source: str, target: str) -> bool:
    """Whether `bytewise` wrote what the walk writes (True), or declined (False)."""
    convert(xml, source, target, check=True, valid=True)  # the parse path judges the VAT rates
    if not objects._plain(xml):
        return False  # comments, attributes: `convert` does not ask (nor could the bytes)
    got = bytewise(xml, source, target)
    if got is None:
        return False
    want = outcome(reference.convert, xml, source, target, True)
    assert (got[0], list(got[1])) == want, (source, target, xml)
    assert valid_in(target, got[0])
    return True


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_valid_objects_come_out_as_the_walk_writes_them(data):
    source, target, xml = random_valid_object(data)
    as_the_walk(xml, source, target)


@cache
def bench_objects() -> tuple[bytes, ...]:
    out = io.StringIO()
    make_message.write_message(out, 300, seed=5)
    reader = MessageReader(io.BytesIO(out.getvalue().encode()), "bench.xml")
    return tuple(o.xml for o in reader.objects())


@pytest.mark.parametrize("kind", ["Справочник.", "Документ."])
def test_most_of_the_benchmarks_objects_go_on_their_bytes(kind):
    """Not a timing: that the benchmark's objects, 1.8 → 1.17 and back, mostly take the byte
    path, and that each one that does comes out as the walk writes it."""
    chosen = [x for x in bench_objects() if x.startswith(f"<{kind}".encode())]
    there = [convert(x, "1.8", "1.17", check=True, valid=True)[0] for x in chosen]
    taken = sum(as_the_walk(x, "1.8", "1.17") for x in chosen)
    back = sum(as_the_walk(x, "1.17", "1.8") for x in there)
    assert len(chosen) > 60 and taken > len(chosen) * 0.7 and back > len(chosen) * 0.7


@cache
def _document() -> bytes:
    """A 1.8 sale with a VAT rate in its rows and a responsible person 1.17 drops."""
    for x in bench_objects():
        if x.startswith("<Документ.РеализацияТоваровУслуг>".encode()) and "<Комментарий>".encode() \
                not in x and "<СтавкаНДС>".encode() in x and "<Ответственный>".encode() in x:
            return x
    raise AssertionError("no such document in the benchmark's mix")


def _swap(xml: bytes, old: str, new: str) -> bytes:
    assert old.encode() in xml
    return xml.replace(old.encode(), new.encode(), 1)


@cache
def _crafted() -> dict[str, bytes]:
    doc = _document()
    el = parse_object(doc, "1.8")
    first_leaf = next(e for e in el.iter() if not len(e) and (e.text or "").strip())
    name, text = etree.QName(first_leaf).localname, first_leaf.text
    leaf = f"<{name}>{text}</{name}>"
    rate = el.find(f".//{{{NS}}}СтавкаНДС")
    return {
        "a blank value": _swap(doc, leaf, f"<{name}>  </{name}>"),
        "a value starting with a blank": _swap(doc, leaf, f"<{name}> {text}</{name}>"),
        "a value starting with a character reference": _swap(doc, leaf, f"<{name}>&#13;x</{name}>"),
        "an empty pair of tags": _swap(doc, leaf, f"<{name}></{name}>"),
        "a carriage return": _swap(doc, leaf, f"<{name}>a\rb</{name}>"),
        "an element of the envelope's namespace": _swap(doc, leaf, f"<xs:x>1</xs:x>{leaf}"),
        "something after the object": doc + b"<x/>",
        "a rate with an entity": _swap(doc, f">{rate.text}</СтавкаНДС>", ">НДС20&amp;</СтавкаНДС>"),
        "a rate 1.17 has not": _swap(doc, f">{rate.text}</СтавкаНДС>", ">НДС99</СтавкаНДС>"),
    }


@pytest.mark.parametrize("case", sorted(_crafted()))
def test_what_only_the_parse_path_can_do_is_declined(case):
    xml = _crafted()[case]
    convert(_document(), "1.8", "1.17", check=True, valid=True)  # rates judged: not why
    assert bytewise(xml, "1.8", "1.17") is None
    for check in (True, False):  # and `convert` still writes what the walk writes
        got = _outcome(lambda *a, **k: convert(*a, **k, valid=True), xml, check)
        assert got == _outcome(reference.convert, xml, check), case


def _outcome(fn, xml: bytes, check: bool, source: str = "1.8", target: str = "1.17"):
    try:
        return outcome(fn, xml, source, target, check)
    except StateError as exc:  # not one element: the state is damaged, alike
        return str(exc)


def test_the_document_itself_goes_on_its_bytes():
    """The crafted objects above are this one changed: unchanged, it is not declined."""
    assert as_the_walk(_document(), "1.8", "1.17")


def test_a_rate_content_the_target_has_not_judged_is_left_to_the_parse_path(monkeypatch):
    relabel = sys.modules["onecsync.formats.relabel"]
    doc = _document()
    guide = relabel._guide("1.8", "1.17")
    monkeypatch.setattr(guide, "checked", set())
    assert bytewise(doc, "1.8", "1.17") is None
    assert as_the_walk(doc, "1.8", "1.17")  # judged by the parse path, then known


def test_a_doubtful_value_is_left_to_the_parse_path():
    """1.17 → 1.8: a cash receipt's ВидРасчетов that 1.8's enumeration lacks (КредитБанка)."""
    changed = against_a_bank_loan()
    assert bytewise(changed, "1.17", "1.8") is None
    with pytest.raises(formats.Unconvertible):
        convert(changed, "1.17", "1.8", check=True, valid=True)


def test_a_drop_that_empties_its_parent_is_left_to_the_walk():
    """ПКО 1.8 → 1.17 drops ОбщиеДанные/Ответственный: alone there, the walk drops the group.
    (1.8 requires more of the group, so this object is made for the check alone: a schema whose
    group holds only optional fields admits it.)"""
    xml = next(x for x in objects_of("1.8")
               if x.startswith("<Документ.ПКОРасчетыСКонтрагентами>".encode())
               and "<ОбщиеДанные>".encode() in x)
    el = parse_object(xml, "1.8")
    group = el.find(f"{{{NS}}}ОбщиеДанные")
    group[:] = [c for c in group if etree.QName(c).localname == "Ответственный"]
    changed = normalize_object(el, NS)
    assert len(group) == 1
    assert bytewise(changed, "1.8", "1.17") is None
    assert outcome(lambda *a, **k: convert(*a, **k, valid=True), changed, "1.8", "1.17", True) \
        == outcome(reference.convert, changed, "1.8", "1.17", True)


def test_without_valid_the_bytes_are_not_trusted(monkeypatch):
    calls = []
    monkeypatch.setattr(formats, "bytewise", lambda *a: calls.append(a))
    convert(_document(), "1.8", "1.17", check=True)
    assert not calls
    convert(_document(), "1.8", "1.17", check=True, valid=True)
    assert calls


def test_a_tag_is_acted_on_by_its_parent(monkeypatch):
    """1.17 → 1.8: a catalog item's own СтавкаНДС is a VAT rate to rewrite; the same element
    under its key properties (which declare none) is not one relabel rewrites: found under a
    parent its types do not give it, it is declined, and the parse path writes it as it does."""
    item = next(x for x in bench_objects() if x.startswith("<Справочник.Номенклатура>".encode()))
    xml = convert(item, "1.8", "1.17", check=True, valid=True)[0]
    # Its ПризнакПредметаРасчета ("Товар") is one 1.8 lacks, which only the parse path checks.
    xml = re.sub("<ПризнакПредметаРасчета>[^<]*</ПризнакПредметаРасчета>".encode(), b"", xml)
    start = xml.index("<СтавкаНДС>".encode())
    rate = xml[start:xml.index("</СтавкаНДС>".encode()) + len("</СтавкаНДС>".encode())]
    deep = _swap(xml, "<КлючевыеСвойства>", "<КлючевыеСвойства>" + rate.decode())
    convert(xml, "1.17", "1.8", check=True, valid=True)  # the rate's content judged
    got = bytewise(xml, "1.17", "1.8")
    assert got is not None and rate not in got[0]
    assert bytewise(deep, "1.17", "1.8") is None
    monkeypatch.setattr(formats, "bytewise", lambda *a: None)
    assert got == convert(xml, "1.17", "1.8", valid=True)


def test_a_dropped_field_within_itself_is_declined():
    """Not valid (the caller vouches for validity), but not to be cut at the inner end tag."""
    doc = _document()
    start = doc.index("<Ответственный>".encode())
    inner = doc[start:doc.index("</Ответственный>".encode()) + len("</Ответственный>".encode())]
    nested = doc.replace(inner, inner.replace("</Ответственный>".encode(),
                                              inner + "</Ответственный>".encode(), 1), 1)
    assert bytewise(doc, "1.8", "1.17") is not None
    assert bytewise(nested, "1.8", "1.17") is None


def test_a_comment_moves_into_the_group_on_the_bytes():
    """1.8 → 1.17: the document's own comment goes into ОбщиеСвойстваОбъектовФормата, the last
    field of 1.17's document, as the walk moves it; 1.17 → 1.8 takes it out again, which only
    the parse path does (the comment's place in 1.8 is among the others)."""
    doc = next(x for x in bench_objects() if x.startswith("<Документ.Реализация".encode())
               and "<Комментарий>".encode() in x)
    assert as_the_walk(doc, "1.8", "1.17")
    there = bytewise(doc, "1.8", "1.17")[0]
    assert "<ОбщиеСвойстваОбъектовФормата><Комментарий>".encode() in there
    assert bytewise(there, "1.17", "1.8") is None
    assert _outcome(lambda *a, **k: convert(*a, **k, valid=True), there, True, "1.17", "1.8") \
        == _outcome(reference.convert, there, True, "1.17", "1.8")
