"""The objects the conversion tests convert (tests/test_convert_*.py): the corpus, random changes
of its objects, and random objects valid in their own version.

The corpus is objects as 1C writes them (the benchmark's mix, the fixtures) and as every version
a node declares by default holds them; a change is one of `mutate`'s; a valid object is one of
the corpus changed at random, each change kept only if it leaves the object valid per its
version's schema (`random_valid_object`: what the receive path lets through).
"""

from __future__ import annotations

import io
from copy import deepcopy
from functools import cache
from typing import Callable

from hypothesis import strategies as st
from lxml import etree

from bench import make_message
from onecsync import formats
from onecsync.config import DEFAULT_FORMATS
from onecsync.protocol.normal import normalize_object
from onecsync.protocol.objects import parse_object
from onecsync.protocol.reader import MessageReader
from tests import factory as f
from tests import reference_convert as reference

# Every version a node declares by default, both ways between each two of them (config/model.py).
VERSIONS = DEFAULT_FORMATS
XSI = "http://www.w3.org/2001/XMLSchema-instance"


def outcome(fn, xml: bytes, source: str, target: str, check: bool):
    """What a converter `fn` makes of `xml`: (bytes, dropped fields), or (error, its text)."""
    try:
        out, dropped = fn(xml, source, target, check=check)
    except (formats.Unconvertible, ValueError, etree.XMLSyntaxError) as exc:
        return type(exc).__name__, str(exc)
    return out, list(dropped)


def _read(data: bytes) -> list[tuple[str, bytes]]:
    reader = MessageReader(io.BytesIO(data), "test.xml")
    return [(reader.header.version, o.xml) for o in reader.objects()]


@cache
def corpus() -> tuple[tuple[str, bytes], ...]:
    """(version, stored bytes) of objects as 1C writes them, in 1.8, and as each other version of
    `VERSIONS` holds them."""
    found: list[tuple[str, bytes]] = []
    out = io.StringIO()
    make_message.write_message(out, 160, seed=3)  # every kind of the benchmark's mix
    found += _read(out.getvalue().encode())
    for path in sorted(f.FIXTURES.glob("*/*.xml")):
        found += _read(path.read_bytes())
    found += _read(f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка", "7701234567"),
                                  f.currency(f.ref(2)),
                                  f.deletion("КонтрагентыСсылка", f.ref(3))]).xml())
    ups = []
    for version, xml in found:
        for other in VERSIONS if version == "1.8" else ():
            try:
                if other != version:
                    ups.append((other, reference.convert(xml, "1.8", other, check=True)[0]))
            except formats.Unconvertible:
                pass
    return tuple(found + ups)


# The pairs the conversion's shortcuts (formats.proof, formats.bytewise) must hold for: the
# benchmark's, and one more, both ways.
PAIRS = [("1.8", "1.17"), ("1.17", "1.8"), ("1.11", "1.16"), ("1.16", "1.11")]


def valid_in(version: str, xml: bytes) -> bool:
    return formats.object_schema(version).validate(parse_object(xml, version))


@cache
def objects_of(version: str) -> tuple[bytes, ...]:
    return tuple(x for v, x in corpus() if v == version and valid_in(v, x))


def against_a_bank_loan() -> bytes:
    """A 1.17 cash receipt settled against a bank loan (ВидРасчетов КредитБанка): valid in 1.17,
    a value 1.8's enumeration lacks."""
    xml = next(x for x in objects_of("1.17")
               if x.startswith("<Документ.ПКОРасчетыСКонтрагентами>".encode()))
    ns = formats.namespace("1.17")
    el = parse_object(xml, "1.17")
    el.find(f"{{{ns}}}ВидРасчетов").text = "КредитБанка"
    return normalize_object(el, ns)


def mutate(el, ns: str, data) -> None:
    """One random change of the element `el` (of namespace `ns`), drawn from `data`: a field
    dropped, doubled, swapped, emptied, renamed, given attributes, comments or blanks..."""
    nodes = list(el.iter(etree.Element))
    node = data.draw(st.sampled_from(nodes))
    parent = node.getparent()
    how = data.draw(st.sampled_from([
        "drop", "double", "swap", "text", "blank", "empty", "rename", "attribute", "nil",
        "foreign", "comment", "move_up", "structure_text", "vat"]))
    if how == "drop" and parent is not None:
        parent.remove(node)
    elif how == "double" and parent is not None:
        node.addnext(deepcopy(node))
    elif how == "swap" and parent is not None and node.getnext() is not None:
        node.getnext().addnext(node)
    elif how == "text":
        node[:] = []
        node.text = data.draw(st.sampled_from(["x", "НДС20", "БезНДС", "true", "10.00", " 1 ",
                                               "ЮридическоеЛицо", "&<>\"'", "\r\n"]))
    elif how == "blank":
        node[:] = []
        node.text = data.draw(st.sampled_from([" ", "\n\t", "\r", "\t \n"]))
    elif how == "empty":
        node[:] = []
        node.text = None
    elif how == "rename":
        name = data.draw(st.sampled_from(["НетТакогоПоля", "Ссылка", "Строка", "Комментарий",
                                          "ОбщиеСвойстваОбъектовФормата"]))
        node.tag = f"{{{ns}}}{name}"
    elif how == "attribute":
        node.set(data.draw(st.sampled_from(["a", f"{{{XSI}}}type"])), "Адрес")
    elif how == "nil":
        node[:] = []
        node.text = None
        node.set(f"{{{XSI}}}nil", "true")
    elif how == "foreign":
        etree.SubElement(node, "{urn:other}Extra").text = "1"
    elif how == "comment":
        node.append(etree.Comment("c"))
    elif how == "move_up" and parent is not None and parent.getparent() is not None:
        parent.addnext(node)
    elif how == "structure_text" and len(node):
        node.text = "lost"
    elif how == "vat":
        rate = etree.SubElement(node, f"{{{ns}}}СтавкаНДС")
        if data.draw(st.booleans()):
            rate.text = data.draw(st.sampled_from(["НДС20", "НДС4", "БезНДС", "НДС10_110"]))
        else:
            for name, text in [("Ставка", "20"), ("РасчетнаяСтавка", "false"),
                               ("НеОблагается", "false"), ("ВидСтавки", "Общая")]:
                etree.SubElement(rate, f"{{{ns}}}{name}").text = text


def _mutated(el, source: str, target: str, data) -> None:
    mutate(el, formats.namespace(source), data)


def random_valid_object(data, change: Callable = _mutated) -> tuple[str, str, bytes]:
    """(source, target, stored bytes): a pair of PAIRS and an object of the corpus valid in the
    source version, changed up to six times by `change(el, source, target, data)` (one of
    `mutate`'s by default), each change kept only if the object stays valid in its version."""
    source, target = data.draw(st.sampled_from(PAIRS))
    el = parse_object(data.draw(st.sampled_from(objects_of(source))), source)
    schema = formats.object_schema(source)
    for _ in range(data.draw(st.integers(0, 6))):
        before = deepcopy(el)
        change(el, source, target, data)
        if not schema.validate(el):
            el = before  # only objects valid in their own version are converted this way
    return source, target, normalize_object(el, formats.namespace(source))
