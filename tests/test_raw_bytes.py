"""Objects are stored as the bytes they were read from where those are provably the object parsed
(protocol.rawbytes), and serialized wherever anything makes that unsure (issue 15).

Each case of doubt has its message here: the object in doubt is serialized (and, where the place
of its end is unsure too, every object after it), and what is read is what the reader that
serialized every object read (tests/reference_reader.py), byte for byte. A property: random
objects written in every lexical form XML allows, where raw bytes are taken, mean (c14n) what the
serialized ones mean.
"""

from __future__ import annotations

import io
import random

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from lxml import etree

from bench import make_message
from onecsync.errors import MessageRejected
from onecsync.protocol import rawbytes
from onecsync.protocol.objects import parse_object
from onecsync.protocol.reader import MessageReader
from tests import factory as f
from tests import reference_reader

CP = "Справочник.Контрагенты"
NS = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8"


def read(data: bytes, reader_class=MessageReader) -> tuple[list, list[bool]]:
    """The objects read, and for each object the parser reported whether its bytes were taken
    from the input."""
    taken: list[bool] = []
    real = rawbytes.Held.take

    def spy(self, el, name):
        raw = real(self, el, name)
        taken.append(raw is not None)
        return raw

    rawbytes.Held.take = spy  # type: ignore[method-assign]
    try:
        objs = list(reader_class(io.BytesIO(data), "m.xml", check_schema=True).objects())
    finally:
        rawbytes.Held.take = real  # type: ignore[method-assign]
    return objs, taken


def same_as_reference(data: bytes) -> list[bool]:
    objs, taken = read(data)
    old = list(reference_reader.MessageReader(io.BytesIO(data), "m.xml",
                                              check_schema=True).objects())
    assert objs == old
    return taken


def cp(n: int, inside: str = "") -> str:
    return f.counterparty(f.ref(n), f"ООО Ромашка {n}", "7701234567").replace(
        f"</{CP}>", f"{inside}</{CP}>")


def three(middle: str) -> bytes:
    return f.Msg(objects=[cp(1), middle, cp(3)]).xml()


@pytest.mark.parametrize("path", sorted(f.FIXTURES.rglob("*.xml")), ids=lambda p: p.parent.name)
def test_the_fixtures_are_stored_as_they_were_read(path):
    data = path.read_bytes()
    taken = same_as_reference(data)
    assert taken and all(taken)
    objs, _ = read(data)
    assert all(o.xml in data for o in objs)


def test_the_bench_message_is_stored_as_it_was_read():
    """Both shapes bench/run.py measures: indented as 1C writes, and flat (no line breaks)."""
    for shape in ("bench", "flat"):
        out = io.StringIO()
        make_message.write_message(out, 300, seed=1, shape=shape)
        taken = same_as_reference(out.getvalue().encode("utf-8"))
        assert len(taken) >= 300 and all(taken), shape


def test_a_plain_message_is_stored_as_it_was_read():
    assert same_as_reference(three(cp(2))) == [True, True, True]


# What makes an object's bytes unsure, and whether the place of its end is unsure too (then the
# objects after it are serialized as well).
DOUBTS = {
    "comment before": ("<!-- a note -->" + cp(2), True),
    "pi before": ("<?note x?>" + cp(2), True),
    "comment inside": (cp(2, f"<!-- </{CP}> -->"), True),
    "cdata inside": (cp(2, f"<Комментарий><![CDATA[a </{CP}> b]]></Комментарий>"), True),
    "pi inside": (cp(2, f"<?note </{CP}>?>"), True),
    "nested same name": (cp(2, f"<Поле><{CP}><Поле/></{CP}></Поле>"), True),
    "self-closed": (f"<{CP}/>", True),
    "attributes": (cp(2).replace(f"<{CP}>", f'<{CP} note="a>b">', 1), True),
    "declaration on it": (cp(2).replace(f"<{CP}>", f'<{CP} xmlns:p="urn:p">', 1), True),
    "carriage return": (cp(2, "<Комментарий>a\r\nb</Комментарий>"), False),
}


@pytest.mark.parametrize("case", sorted(DOUBTS))
def test_an_object_in_doubt_is_serialized(case):
    middle, lost = DOUBTS[case]
    taken = same_as_reference(three(middle))
    assert taken == [True, False, not lost]


def test_a_declaration_inside_is_no_doubt():
    """Declared below the object's start tag, a namespace is written by tostring as it was read:
    the bytes are the same either way. In a text it is 1C's contact information (escaped XML,
    `xmlns` and all, in every counterparty)."""
    text = ('<Комментарий>&lt;КонтактнаяИнформация xmlns="http://www.v8.1c.ru/ssl/contactinfo" '
            'Представление="a"&gt;&lt;/КонтактнаяИнформация&gt;</Комментарий>')
    inside = ('<Поле xmlns:p="urn:p"><p:Поле>x</p:Поле></Поле>'
              '<Поле xmlns="urn:q"><Поле/></Поле>')
    assert same_as_reference(three(cp(2, text + inside))) == [True, True, True]


def test_an_object_the_parser_does_not_report_loses_the_place():
    unknown = ("<Справочник.НетТакого><КлючевыеСвойства><Ссылка>x</Ссылка></КлючевыеСвойства>"
               "</Справочник.НетТакого>")
    assert same_as_reference(three(unknown)) == [True, False]


@pytest.mark.parametrize("root", [
    ' xmlns:extra="urn:extra"',  # own_namespaces would copy every object
    ' xmlns:msg="urn:not-msg"',
])
def test_a_root_with_other_namespaces_is_serialized_whole(root):
    data = three(cp(2))
    if "msg=" in root:  # the Header keeps its own binding
        data = data.replace(b"<msg:Header>", b'<msg:Header xmlns:msg="http://www.1c.ru/SSL/'
                            b'Exchange/Message">')
        data = data.replace(b'xmlns:msg="http://www.1c.ru/SSL/Exchange/Message" xmlns:xs',
                            b'xmlns:msg="urn:not-msg" xmlns:xs', 1)
    else:
        data = data.replace(b"<Message ", f"<Message{root} ".encode(), 1)
    assert same_as_reference(data) == [False, False, False]


def test_a_root_without_a_standard_prefix_is_serialized_whole():
    data = three(cp(2)).replace(b' xmlns:xs="http://www.w3.org/2001/XMLSchema"', b"", 1)
    assert same_as_reference(data) == [False, False, False]


def test_a_body_with_attributes_is_serialized_whole():
    data = three(cp(2)).replace(b"<Body ", b'<Body note="a>b" ', 1)
    assert same_as_reference(data) == [False, False, False]


def test_a_comment_before_the_body_is_doubt():
    """Before the first object, its place is found through the one `<Body` of the file: a
    comment could hide another."""
    data = three(cp(2)).replace(b"<msg:Header>", f"<!-- <Body> {cp(9)} -->".encode()
                                + b"<msg:Header>", 1)
    assert same_as_reference(data) == [False, False, False]


@pytest.mark.parametrize("where", ["without a declaration", "after the declaration",
                                   "after a BOM", "a stylesheet"])
def test_a_pi_before_the_root_is_doubt(where):
    """A PI before the root is dropped by the parser, and what it holds is no element: a PI
    holding `<Body>` and another object must not be taken for the first object (review R8)."""
    real = three(cp(2))
    declaration, rest = real.split(b"\n", 1)
    pi = f"<?note <Body>{cp(9)}?>".encode()
    data = {"without a declaration": pi + b"\n" + rest,
            "after the declaration": declaration + pi + b"\n" + rest,
            "after a BOM": b"\xef\xbb\xbf" + declaration + pi + b"\n" + rest,
            "a stylesheet": declaration + f"<?xml-stylesheet <Body>{cp(9)}?>".encode() + b"\n"
            + rest}[where]
    assert same_as_reference(data) == [False, False, False]
    objs, _ = read(data)
    assert "Ромашка 9".encode() not in objs[0].xml and f.ref(9).encode() not in objs[0].xml


def test_the_declaration_alone_leads_and_the_bytes_are_taken():
    """The XML declaration (after a BOM too) is the one PI that may lead: the objects are then
    taken from the input."""
    data = three(cp(2))
    assert data.startswith(b"<?xml ")
    assert same_as_reference(data) == [True, True, True]
    assert same_as_reference(b"\xef\xbb\xbf" + data) == [True, True, True]


def test_an_object_past_the_bound_is_serialized_and_so_are_those_after(monkeypatch):
    data = f.Msg(objects=[cp(1), cp(2, "<Комментарий>" + "я" * 30_000 + "</Комментарий>"),
                          cp(3)]).xml()
    monkeypatch.setattr(rawbytes, "RAW_LIMIT", 40_000)  # over a chunk, under the object
    taken = same_as_reference(data)
    assert taken[0] and not any(taken[1:])


def test_a_message_not_in_utf8_is_refused_before_any_bytes_are_kept():
    data = three(cp(2)).replace(b'encoding="UTF-8"', b'encoding="windows-1251"', 1)
    with pytest.raises(MessageRejected, match="not UTF-8"):
        MessageReader(io.BytesIO(data), "m.xml")


# -- the property -------------------------------------------------------------------------------

_ESCAPES = {"<": ["&lt;", "&#60;", "&#x3C;"], "&": ["&amp;", "&#38;"], ">": [">", "&gt;"],
            '"': ['"', "&quot;"], "'": ["'", "&apos;"]}


def _written(text: str, rnd: random.Random, quote: str = "") -> str:
    """`text` as some writer could have put it: each character escaped or not, as XML allows."""
    out = []
    for ch in text:
        forms = [e for e in _ESCAPES.get(ch, [ch, f"&#x{ord(ch):x};", f"&#{ord(ch)};"])
                 if e != quote]
        out.append(rnd.choice(forms))
    return "".join(out)


def _element(rnd: random.Random, depth: int, texts: list[str]) -> str:
    name = rnd.choice(["Поле", "Строка", "Значение", "Комментарий"])
    attrs = ""
    for i in range(rnd.randint(0, 2)):
        q = rnd.choice(['"', "'"])
        attrs += f"{rnd.choice([' ', '  ', chr(10)])}a{i}={q}{_written(rnd.choice(texts), rnd, q)}{q}"
    if rnd.random() < 0.25:
        return f"<{name}{attrs}{rnd.choice(['', ' '])}/>"
    inner = _written(rnd.choice(texts), rnd)
    if depth < 3:
        inner += "".join(_element(rnd, depth + 1, texts) for _ in range(rnd.randint(0, 3)))
    extra = rnd.choice(["", "", "<!-- c -->", "<![CDATA[<&>]]>", "<?pi x?>", "\r\n",
                        ' <x:Поле xmlns:x="urn:x">y</x:Поле>', '<Поле xmlns="urn:y"><Поле/></Поле>',
                        f'<b:Поле a="1" xmlns:b="{NS}">z</b:Поле>'])
    return f"<{name}{attrs}>{inner}{extra}</{name}{rnd.choice(['', ' '])}>"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts=st.lists(st.text(alphabet="аz <>&\"'\t\n€", max_size=12), min_size=1, max_size=4),
       count=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_raw_bytes_when_taken_mean_what_serialized_ones_do(texts, count, seed):
    rnd = random.Random(seed)
    objects = [rnd.choice(["", " ", "\n\t", "\r\n"]) + cp(n, "".join(
        _element(rnd, 0, texts) for _ in range(rnd.randint(0, 3)))) for n in range(count)]
    data = f.Msg(objects=objects).xml()
    new, taken = read(data)
    old = list(reference_reader.MessageReader(io.BytesIO(data), "m.xml",
                                              check_schema=True).objects())
    assert len(new) == len(old) == len(taken) == count
    for a, b, raw in zip(new, old, taken, strict=True):
        assert (a.type, a.ref, a.kind, a.problem, a.number, a.date, a.inn) == \
            (b.type, b.ref, b.kind, b.problem, b.number, b.date, b.inn)
        assert _c14n(a.xml) == _c14n(b.xml)
        if raw:
            assert a.xml in data
        else:
            assert a.xml == b.xml


def _c14n(xml: bytes) -> bytes:
    return etree.tostring(parse_object(xml, "1.8"), method="c14n")
