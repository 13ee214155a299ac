"""The reader that parses the Body by object reads every message as the one that parsed it by
element did: the same objects with the same bytes, digests, identities and problems, in the same
order, and the same refusal at the same point (issue 15).

`tests/reference_reader.py` is the reader as it was. Compared on the fixtures, the hostile corpus,
and messages made at random from the shapes a Body can take, hostile ones included (objects of
unknown types, an extension's, another namespace's, a Body or Header inside the Body, text
between objects, an object type's tag nested inside an object, elements beside the Body, a cut
file), read in chunks of random sizes so that every boundary falls somewhere, with OBJECT_LIMIT
lowered so that objects past it are among them.

The reader now takes most objects' bytes from its input (protocol.rawbytes) where the old one
serialized them: what these messages hold reads byte for byte the same both ways, so the bytes
and digests are compared as they are. Where raw bytes differ from tostring's (quotes, escapes),
tests/test_raw_bytes.py compares the two re-parsed.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.protocol import limits
from onecsync.protocol.reader import MessageReader
from tests import factory as f
from tests import reference_reader

NS = formats.namespace("1.8")
EXT = "http://example.com/ed-extension/1.0"
CORPUS = Path(__file__).parent / "corpus" / "files"


class Chunky(io.RawIOBase):
    """A stream that hands out at most a (seeded) random number of bytes per read."""

    def __init__(self, data: bytes, seed: int | None, most: int = 700) -> None:
        self._data, self._at = data, 0
        self._sizes = random.Random(seed) if seed is not None else None
        self._most = most

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            n = len(self._data)
        if self._sizes is not None:
            n = min(n, self._sizes.randint(1, self._most))
        out = self._data[self._at:self._at + n]
        self._at += len(out)
        return out


def outcome(reader_class, data: bytes, seed: int | None = None, check_schema: bool = True):
    """What one reader makes of a message: its header, its objects, and how it ended."""
    got: list = []
    try:
        reader = reader_class(Chunky(data, seed), "m.xml", check_schema=check_schema)
        got.append(reader.header)
        for obj in reader.objects():
            # Whether it passed OBJECT_LIMIT; by how much (its problem says the MiB) is measured
            # to where its end is seen, for a type the format lacks a few bytes later than before.
            got += [obj, reader.oversized > 0]
    except MessageRejected as exc:
        got.append(("rejected", str(exc), exc.ends_early))
    except formats.UnknownVersion as exc:  # the run refuses the version before it reads on
        got.append(("unknown version", str(exc), None))
    return got


def same(data: bytes, seed: int | None = None, check_schema: bool = True) -> list:
    new = outcome(MessageReader, data, seed, check_schema)
    old = outcome(reference_reader.MessageReader, data, seed, check_schema)
    if old and isinstance(old[-1], tuple) and "XML_PARSE_HUGE" in old[-1][1]:
        # On purpose (R2 F4): the refusal of a document nested too deep no longer passes on
        # libxml2's advice to lift the bound; the same refusal at the same place otherwise.
        old[-1] = (old[-1][0], old[-1][1].replace(", use XML_PARSE_HUGE option", " (elements "
                   "nested that deep; 1C nests about ten)"), old[-1][2])
    if new != old and isinstance(new[-1], tuple) and new[-1][1].startswith("m.xml: malformed XML"):
        # Where the parser meets malformed XML, the old reader still took the first event of
        # that chunk of input (lxml's iterparse hands out one more): an object, or the refusal of
        # what it starts. The new one refuses the chunk as malformed XML. Both refuse the
        # message, and staging is one transaction: what came before is not kept either way.
        assert isinstance(old[-1], tuple) and new[:-1] == old[:len(new) - 1], (new, old)
        assert len(old) - len(new) in (0, 2), (new, old)
        assert old[-1] == new[-1] or not old[-1][1].startswith("m.xml: malformed XML")
        return new
    assert new == old
    return new


@pytest.mark.parametrize("path", sorted(f.FIXTURES.rglob("*.xml")), ids=lambda p: p.parent.name)
def test_the_fixtures_read_the_same(path):
    got = same(path.read_bytes())
    assert len(got) > 2 and not isinstance(got[-1], tuple)
    same(path.read_bytes(), seed=1)


@pytest.mark.parametrize("path", sorted(CORPUS.glob("*.xml")), ids=lambda p: p.name)
def test_the_hostile_corpus_reads_the_same(path):
    same(path.read_bytes())
    same(path.read_bytes(), seed=2)


def _known(i: int) -> str:
    return [f.counterparty(f.ref(i), f"ООО Ромашка {i}", "7701234567"), f.currency(f.ref(i)),
            f.sale(f.ref(i), None), f.deletion("КонтрагентыСсылка", f.ref(i))][i % 4]


def _in(obj: str, ns: str) -> str:
    tag = obj[1:obj.index(">")]
    return obj.replace(f"<{tag}>", f'<{tag} xmlns="{ns}">', 1)


def _big(i: int, size: int) -> str:
    """A counterparty of about `size` bytes: many fields, tables and long texts."""
    rows = "".join(f"<Строка><Номер>{n}</Номер><Текст>{'я' * 40}</Текст></Строка>"
                   for n in range(size // 120))
    return f.counterparty(f.ref(i), "ООО Большой", "7701234567").replace(
        "</Справочник.Контрагенты>",
        f"<Таблица>{rows}</Таблица><Комментарий>конец</Комментарий></Справочник.Контрагенты>")


UNKNOWN = ("<Справочник.НетТакого><КлючевыеСвойства><Ссылка>{r}</Ссылка></КлючевыеСвойства>"
           "<Поле>x</Поле></Справочник.НетТакого>")
NESTED = ("<Справочник.Валюты><КлючевыеСвойства><Ссылка>{r}</Ссылка></КлючевыеСвойства>"
          "<Справочник.Контрагенты><КлючевыеСвойства/></Справочник.Контрагенты>"
          "<Body/></Справочник.Валюты>")
# The parts a Body is made of at random; a weight of rare hostile ones keeps most messages whole.
PARTS = {
    "known": lambda i: _known(i),
    "unknown": lambda i: UNKNOWN.format(r=f.ref(i)),
    "unknown big": lambda i: UNKNOWN.format(r=f.ref(i)).replace(
        "<Поле>x</Поле>", "".join(f"<Поле>{'ю' * 50}</Поле>" for _ in range(60))),
    "unknown huge": lambda i: UNKNOWN.format(r=f.ref(i)).replace(
        "<Поле>x</Поле>", "".join(f"<Поле>{'ю' * 50}</Поле>" for _ in range(250))),
    "extension": lambda i: _in(UNKNOWN.format(r=f.ref(i)), EXT),
    "nested tags": lambda i: NESTED.format(r=f.ref(i)),
    "blank": lambda i: "\n   \t",
    "comment": lambda i: "<!-- note -->",
    "big": lambda i: _big(i, 8000),
    "huge": lambda i: _big(i, 20000),
    "foreign": lambda i: _in(_known(i), "urn:evil"),
    "no namespace": lambda i: _in(_known(i), ""),
    "body inside": lambda i: f"<Body>{_known(i)}</Body>",
    "header inside": lambda i: "<msg:Header/>",
    "text": lambda i: "текст",
    "undeclared prefix": lambda i: "<d:Справочник.Валюты/>",
}
HOSTILE = ["foreign", "no namespace", "body inside", "header inside", "text", "undeclared prefix"]
AROUND = {  # what may stand beside the Body, and how the file may end
    "none": lambda data: data,
    "between": lambda data: data.replace(b"</msg:Header>", "</msg:Header><Лишнее/>".encode()),
    "after": lambda data: data.replace(b"</Body>", "</Body><Справочник.Валюты/>".encode()),
    "second body": lambda data: data.replace(b"</Body>", f'</Body><Body xmlns="{NS}"/>'.encode()),
    "after root": lambda data: data + b"<x/>",
    "cut": lambda data: data[:len(data) * 2 // 3],
}


def message(parts: list[str], around: str) -> bytes:
    objects = [PARTS[name](i) for i, name in enumerate(parts)]
    data = f.Msg(objects=objects).xml().replace(  # the extension named in Format
        f"{NS}</msg:Format>".encode(), f"{NS} {EXT}</msg:Format>".encode())
    return AROUND[around](data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.sampled_from(sorted(set(PARTS) - set(HOSTILE))), max_size=12),
       hostile=st.lists(st.tuples(st.integers(0, 12), st.sampled_from(HOSTILE)), max_size=1),
       around=st.one_of(st.just("none"), st.sampled_from(sorted(AROUND))),
       seed=st.integers(0, 2**16),
       check_schema=st.booleans())
def test_random_messages_read_the_same(parts, hostile, around, seed, check_schema):
    for at, name in hostile:
        parts.insert(min(at, len(parts)), name)
    limit = limits.OBJECT_LIMIT
    # "big" (~8 KB) stays under it at any chunking, "huge" (~20 KB) is well past it.
    limits.OBJECT_LIMIT = 12_000
    try:
        same(message(parts, around), seed=seed, check_schema=check_schema)
    finally:
        limits.OBJECT_LIMIT = limit


def test_a_flood_the_parser_does_not_report_is_judged_between_chunks():
    """Thousands of Body children the Body's parser does not report: an unknown type's objects
    are yielded one by one as they are parsed, not held until the next object or the Body's end;
    the first element of no namespace is refused where it is, as before."""
    flood = "<Справочник.НетТакого/>\n" * 3000
    known = f.counterparty(f.ref(1), "ООО Ромашка")
    data = f.Msg(objects=[known, flood, known]).xml()
    got = same(data, seed=3)
    assert [o.type for o in got[1::2]] == \
        ["Справочник.Контрагенты"] + ["Справочник.НетТакого"] * 3000 + ["Справочник.Контрагенты"]
    held = [len(el.getparent()) for el in MessageReader(Chunky(data, 3), "m.xml").elements()]
    assert max(held) < 50, max(held)  # a chunk's worth at most (700 bytes here)
    foreign = f.Msg(objects=[known, flood + "<x xmlns=\"\"/>" * 3000, known]).xml()
    got = same(foreign, seed=3)
    assert len(got) == 2 + 2 * 3001 and "the Body holds <x> in no namespace" in got[-1][1]
