"""The schema check a conversion skips for an object valid in its own version (formats.proof)
skips nothing that matters: random valid objects of every type of the benchmark's mix, the
fixtures and the corpus come out of `convert(..., valid=True)` as the reference walk writes them
(tests/reference_convert.py), valid per the target's schema, or fail alike.

That staged objects are valid in their own version is the receive path's (an object its schema
refuses is parked: tests/test_corpus.py::test_a_schema_invalid_object_is_parked_not_relayed).
"""

from __future__ import annotations

import importlib
from functools import cache

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from lxml import etree

from onecsync import formats
from onecsync.formats.index import ObjectType
from onecsync.formats.proof import proved
from onecsync.protocol.objects import convert
from tests import reference_convert as reference
from tests.conversions import PAIRS
from tests.conversions import against_a_bank_loan
from tests.conversions import mutate
from tests.conversions import objects_of
from tests.conversions import outcome
from tests.conversions import random_valid_object
from tests.conversions import valid_in

# The modules (`formats.relabel` and `formats.bytewise` are their functions).
_relabel = importlib.import_module("onecsync.formats.relabel")
_bytewise = importlib.import_module("onecsync.formats.bytewise")


@cache
def values_by_field(version: str) -> dict[str, tuple[str, ...]]:
    """Per field name, the values the enumerations of `version`'s fields of that name list,
    and a string longer than a narrowed maxLength (ОКПО): what the proof's doubts are about."""
    index = formats.load(version)
    out: dict[str, set[str]] = {}
    todo = [t for t in index.types.values() if isinstance(t, ObjectType)]
    while todo:
        t = todo.pop()
        for p in t.properties:
            sub = p.inline or index.types.get(p.type)
            if isinstance(sub, ObjectType):
                if p.inline is not None:
                    todo.append(sub)
                continue
            enum = index.enumeration_in_force(sub)
            out.setdefault(p.name, {"1" * 14}).update(enum.enumerations if enum else ())
    return {name: tuple(sorted(v)) for name, v in out.items()}


def assert_like_the_walk(xml: bytes, source: str, target: str) -> None:
    for check in (True, False):
        got = outcome(lambda *a, **k: convert(*a, **k, valid=True), xml, source, target, check)
        assert got == outcome(reference.convert, xml, source, target, check), (source, target, xml)
    out = outcome(lambda *a, **k: convert(*a, **k, valid=True), xml, source, target, True)
    if isinstance(out[0], bytes):
        assert valid_in(target, out[0]), (source, target, xml)


def _another_value(el, source: str, target: str, data) -> None:
    """One of `mutate`'s changes, or another value of a field's enumeration (the target's may
    lack it), mostly of the fields the proof doubts (a few in an object of hundreds)."""
    ns, target_ns = formats.namespace(source), formats.namespace(target)
    if data.draw(st.booleans()):
        mutate(el, ns, data)
        return
    pool = values_by_field(source)
    leaves = [e for e in el.iter(etree.Element) if not len(e) and etree.QName(e).localname in pool]
    doubted = proved(source, target, etree.QName(el).localname) or {}
    leaves = [e for e in leaves if e.tag.replace(ns, target_ns) in doubted] \
        or leaves if data.draw(st.booleans()) else leaves
    if leaves:
        node = data.draw(st.sampled_from(leaves))
        node.text = data.draw(st.sampled_from(pool[etree.QName(node).localname]))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_valid_objects_convert_as_the_walk_and_valid(data):
    source, target, xml = random_valid_object(data, _another_value)
    assert_like_the_walk(xml, source, target)


@pytest.mark.parametrize("source,target", PAIRS)
def test_every_valid_corpus_object_converts_as_the_walk(source, target):
    for xml in objects_of(source):
        assert_like_the_walk(xml, source, target)


def _forget_rates(monkeypatch, source: str, target: str) -> set:
    """`relabel`'s memory of the VAT rates the target's schema accepted, emptied for the test: it
    is the process's, so that what a test sees otherwise depends on what ran before it."""
    guide = _relabel._guide(source, target)
    monkeypatch.setattr(guide, "checked", set())
    return guide.checked


def test_a_value_the_target_lacks_is_still_checked(monkeypatch):
    """1.17 settles a cash receipt against a bank loan (КредитБанка); 1.8 has no such kind of
    settlement: the object is valid in 1.17, its conversion fails the 1.8 schema, as the walk's.
    Its VAT rate is known good (the receipt as it was converted first): only the doubt about
    ВидРасчетов sends it to the schema, on the parse path and on the byte path alike."""
    checked = _forget_rates(monkeypatch, "1.17", "1.8")
    changed = against_a_bank_loan()
    receipt = next(x for x in objects_of("1.17")
                   if x.startswith("<Документ.ПКОРасчетыСКонтрагентами>".encode()))
    assert valid_in("1.17", changed) and "<СтавкаНДС>".encode() in changed
    convert(receipt, "1.17", "1.8", check=True, valid=True)
    assert checked and formats.bytewise(receipt, "1.17", "1.8") is not None
    with pytest.raises(formats.Unconvertible):
        convert(changed, "1.17", "1.8", check=True, valid=True)
    assert_like_the_walk(changed, "1.17", "1.8")
    # Sabotaged (the doubt ignored on either path), the invalid object would go out unchecked.
    for module in (_relabel, _bytewise):
        with monkeypatch.context() as m:
            m.setattr(module, "_holds", lambda *args: True)
            assert convert(changed, "1.17", "1.8", check=True, valid=True)


def test_the_check_is_spared_for_most_objects(monkeypatch):
    """Not a timing: that the benchmark's objects, both ways between 1.8 and 1.17, reach the
    target's schema rarely (a VAT rate's new content once; a doubtful value)."""
    calls = []

    class Counting:
        def __init__(self, version):
            self.schema = formats.object_schema(version)

        def validate(self, el):
            calls.append(el.tag)
            return self.schema.validate(el)

    monkeypatch.setattr(_relabel, "object_schema", Counting)
    _forget_rates(monkeypatch, "1.8", "1.17")  # from none known, as in a fresh process
    _forget_rates(monkeypatch, "1.17", "1.8")
    chosen = objects_of("1.8")
    for xml in chosen:
        out, _ = convert(xml, "1.8", "1.17", check=True, valid=True)
        convert(out, "1.17", "1.8", check=True, valid=True)
    assert len(chosen) > 100 and len(calls) < len(chosen) / 5
