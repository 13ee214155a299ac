"""An object past OBJECT_LIMIT keeps of its КлючевыеСвойства what says which object it was (its
Ссылка, the first part), however large they are and however many (R2 F2: 100 MB of keys took
6.7 GB, and were parked whole, past what the state can unpack: F3)."""

from __future__ import annotations

import io

import pytest

from onecsync.protocol import bodyscan
from onecsync.protocol import limits
from onecsync.protocol.reader import MessageReader
from tests import factory as f


def trims_held(monkeypatch) -> list[int]:
    """The elements the object being trimmed still holds after each of bodyscan's trims: what
    the reader keeps in memory of an object past its bounds."""
    held: list[int] = []
    trim = bodyscan._trim

    def counted(*args, **kw):
        kept = trim(*args, **kw)
        held.append(sum(1 for _ in args[0].iter()))
        return kept

    monkeypatch.setattr(bodyscan, "_trim", counted)
    return held

KEYS = "<КлючевыеСвойства><Ссылка>{ref}</Ссылка><Наименование>ООО Большой</Наименование>"
SHAPES = {  # what floods the object, past the limit
    "a flood in its keys": KEYS + "{flood}</КлючевыеСвойства>",
    "a flood of keys": KEYS + "</КлючевыеСвойства>" + "<КлючевыеСвойства/>" * 200_000,
    "long texts in its keys": KEYS + "<Поле>" + "ж" * 900_000 + "</Поле>" * 1
    + "<Поле>" + "ж" * 900_000 + "</Поле>" + "</КлючевыеСвойства>",
    "a nested flood in its keys": KEYS + "<Поле>{flood}</Поле></КлючевыеСвойства>",
}


@pytest.mark.parametrize("shape", SHAPES)
def test_keys_past_the_limit_are_bounded_while_parsed_and_in_the_stub(shape, monkeypatch):
    monkeypatch.setattr(limits, "OBJECT_LIMIT", 256 << 10)
    body = SHAPES[shape].format(ref=f.ref(1), flood="<a/>" * 500_000)  # 2 MB of elements
    huge = f"<Справочник.Контрагенты>{body}</Справочник.Контрагенты>"
    msg = f.Msg(objects=[huge, f.counterparty(f.ref(2), "ООО Малый")]).xml()
    held = trims_held(monkeypatch)
    reader = MessageReader(io.BytesIO(msg), "m.xml")
    first, second = reader.objects()
    assert first.ref == f.ref(1) and "larger than 0 MiB" in first.problem
    assert f.ref(1).encode() in first.xml and "ООО Большой".encode() in first.xml
    # What a chunk of input adds, and the kept part: never what came before.
    assert max(held) < 20_000, max(held)  # 2 chunks of <a/>: 16,384
    assert len(first.xml) < 100_000, len(first.xml)
    assert second.ref == f.ref(2) and second.problem is None


@pytest.mark.parametrize("spaces", [6, 20_000])
def test_a_ссылка_written_with_spaces_after_a_long_text_is_kept_whole(spaces, monkeypatch):
    # R3 #2a: past the text budget the Ссылка was cut to 36 characters before it was stripped
    # (a shortened or a ~hash ref: the parked stub named another object for good).
    monkeypatch.setattr(limits, "OBJECT_LIMIT", 256 << 10)
    keys = ("<КлючевыеСвойства><b>" + "ж" * 20_000 + "</b><Ссылка>\n" + " " * spaces
            + f"{f.ref(1)}\n    </Ссылка>" + "<a/>" * 500_000 + "</КлючевыеСвойства>")
    msg = f.Msg(objects=[f"<Справочник.Контрагенты>{keys}</Справочник.Контрагенты>"]).xml()
    stub = next(iter(MessageReader(io.BytesIO(msg), "m.xml").objects()))
    assert stub.problem and stub.ref == f.ref(1).lower()


NAMED_LATER = {  # where the Ссылка is when the first КлючевыеСвойства has none (R3 #2b)
    "in a second КлючевыеСвойства": "<КлючевыеСвойства><Наименование>ООО Большой</Наименование>"
    "</КлючевыеСвойства>{flood}<КлючевыеСвойства><Код>1</Код><Ссылка>{ref}</Ссылка>"
    "</КлючевыеСвойства>",
    "after an empty first one": "<КлючевыеСвойства/><КлючевыеСвойства><Ссылка>{ref}</Ссылка>"
    "</КлючевыеСвойства>{flood}",
    "after many without one": "<КлючевыеСвойства/>" + "<КлючевыеСвойства><a/></КлючевыеСвойства>"
    * 50_000 + "<КлючевыеСвойства><Ссылка>{ref}</Ссылка></КлючевыеСвойства>{flood}",
    "never": "<КлючевыеСвойства/>" + "<КлючевыеСвойства><a/></КлючевыеСвойства>" * 50_000
    + "{flood}",
}


@pytest.mark.parametrize("shape", NAMED_LATER)
def test_a_stub_is_named_by_the_ссылка_the_whole_object_is_named_by(shape, monkeypatch):
    """R3 #2b: the trim kept the first КлючевыеСвойства alone, so a Ссылка only in a later one
    was lost and the stub got a ~hash ref: every later run found the parked object drifted."""
    body = NAMED_LATER[shape].format(ref=f.ref(1), flood="<a/>" * 300_000)
    huge = f"<Справочник.Контрагенты>{body}</Справочник.Контрагенты>"
    msg = f.Msg(objects=[huge, f.counterparty(f.ref(2), "ООО Малый")]).xml()
    whole, _ = MessageReader(io.BytesIO(msg), "m.xml").objects()  # under the limit
    assert whole.problem is None
    monkeypatch.setattr(limits, "OBJECT_LIMIT", 256 << 10)
    stub, second = MessageReader(io.BytesIO(msg), "m.xml").objects()
    assert "larger than 0 MiB" in stub.problem and second.ref == f.ref(2)
    assert stub.ref == whole.ref and (stub.ref == f.ref(1)) == (shape != "never"), stub.ref
    # What the stub keeps of later КлючевыеСвойства: the one Ссылка, never a flood of them.
    assert len(stub.xml) < 2_000, len(stub.xml)
