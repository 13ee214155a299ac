"""The fast version conversion writes exactly what the walk it replaces wrote (issue 19).

`tests/reference_convert.py` is the converter as it was; every object of the corpus, the
fixtures and the benchmark's mix, and those objects changed at random (fields dropped, doubled,
swapped, emptied, renamed, given attributes, comments or blanks), must come out of both with the
same bytes and dropped fields, or make both fail with the same error.
"""

from __future__ import annotations

import sys
from collections import Counter

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from lxml import etree

from onecsync import formats
from onecsync.protocol.normal import normalize_object
from onecsync.protocol.objects import convert
from onecsync.protocol.objects import parse_object
from tests import reference_convert as reference
from tests.conversions import VERSIONS
from tests.conversions import corpus
from tests.conversions import mutate
from tests.conversions import outcome


def same(xml: bytes, source: str, target: str) -> None:
    for check in (True, False):
        old = outcome(reference.convert, xml, source, target, check)
        assert outcome(convert, xml, source, target, check) == old, (source, target, check, xml)


def test_every_corpus_object_converts_to_the_same_bytes():
    objects = corpus()
    assert {v for v, _ in objects} >= set(VERSIONS) and len(objects) > 300
    taken: Counter = Counter()
    for version, xml in objects:
        kind = (version, xml[:xml.find(b">")].split()[0])
        taken[kind] += 1
        if version in ("1.8", "1.17") or taken[kind] <= 4:  # the other versions: a few per type
            for target in (*VERSIONS, "1.21"):
                if target != version:
                    same(xml, version, target)


@pytest.mark.parametrize("kind", ["Справочник.", "Документ."])
def test_the_fast_way_is_taken_by_most_objects(monkeypatch, kind):
    """Not a timing: that the objects that need only a rename, fields the target lacks dropped,
    fields sorted or the comment moved (1.8's documents to 1.17 and back) skip the walk."""
    calls = []
    real = formats.adapt
    monkeypatch.setattr(formats, "adapt", lambda *a: calls.append(a) or real(*a))
    chosen = [(v, x) for v, x in corpus() if v in ("1.8", "1.17") and x.startswith(f"<{kind}".encode())]
    dropped = []
    for version, xml in chosen:
        dropped += convert(xml, version, "1.8" if version == "1.17" else "1.17", check=True)[1]
    assert len(chosen) > 40 and len(calls) < len(chosen) / 10
    if kind == "Документ.":
        assert any(d.endswith("/Ответственный") for d in dropped)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changed_objects_convert_to_the_same_bytes_or_fail_alike(data):
    version, xml = data.draw(st.sampled_from(corpus()))
    el = parse_object(xml, version)
    ns = formats.namespace(version)
    for _ in range(data.draw(st.integers(1, 3))):
        mutate(el, ns, data)
    changed = normalize_object(el, ns)
    target = data.draw(st.sampled_from([t for t in (*VERSIONS, "1.21") if t != version]))
    same(changed, version, target)


def test_a_value_of_any_type_holding_elements_is_left_to_the_walk():
    """1.20 types three row fields xs:anyType: valid with elements inside, which the walk drops."""
    ns = formats.namespace("1.20")
    el = etree.fromstring(f'<Документ.ВыплатыСамозанятым xmlns="{ns}"><Выплаты><Строка><Количество>'
                          '<x/></Количество></Строка></Выплаты></Документ.ВыплатыСамозанятым>')
    guide = sys.modules["onecsync.formats.relabel"]._guide("1.20", "1.20")
    name = etree.QName(el).localname
    assert not guide.carry(el, guide.roots[name], name, [])
    el.find(f".//{{{ns}}}Количество")[:] = []
    assert guide.carry(el, guide.roots[name], name, [])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changed_documents_convert_to_the_same_bytes_or_fail_alike(data):
    """Documents alone (a third of the corpus above): their tables, rates and nested references
    are where the fast path finds what to change in one pass (formats.relabel)."""
    documents = [(v, x) for v, x in corpus() if x.startswith("<Документ.".encode())]
    version, xml = data.draw(st.sampled_from(documents))
    el = parse_object(xml, version)
    ns = formats.namespace(version)
    for _ in range(data.draw(st.integers(0, 4))):
        mutate(el, ns, data)
    target = data.draw(st.sampled_from([t for t in (*VERSIONS, "1.21") if t != version]))
    same(normalize_object(el, ns), version, target)


def test_the_comment_moves_out_of_the_group_that_holds_it():
    # Hypothesis found it: an object holding two ОбщиеСвойстваОбъектовФормата, the comment in the
    # second, made the walk take the first group's (missing) comment: TypeError, exit 1.
    from lxml import etree

    from onecsync.formats.adapt import move_comment

    ns = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.11"
    element = etree.fromstring(
        f'<Документ.РеализацияТоваровУслуг xmlns="{ns}"><ОбщиеСвойстваОбъектовФормата/>'
        '<ОбщиеСвойстваОбъектовФормата><Комментарий>к</Комментарий></ОбщиеСвойстваОбъектовФормата>'
        '</Документ.РеализацияТоваровУслуг>')
    move_comment(element, "out")
    assert [etree.QName(c).localname for c in element] == ["ОбщиеСвойстваОбъектовФормата",
                                                           "Комментарий"]
