"""Fuzzing: mutated messages (bytes, and XML structure) never crash onecsync (exit 1, a
traceback) and a rejected one never changes the exchange state.

Each example is the accounting base's message 2 after a good message 1, run through the CLI as
cron runs it, in a fresh copy of a prepared sandbox. The `ci` profile (tests/conftest.py) keeps
it short; `HYPOTHESIS_PROFILE=fuzz` runs thousands.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from lxml import etree

from onecsync import formats
from tests import factory as f
from tests.conftest import Sandbox
from tests.conftest import parse_message

SEED = f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00", objects=[
    f.counterparty(f.ref(2), "АО Василек", inn="7707083893"),
    f.currency(f.ref(3)),
    f.deletion("КонтрагентСсылка", f.ref(1)),
]).xml()


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A sandbox that has received message 1: copied for every example."""
    root = tmp_path_factory.mktemp("fuzz-template")

    class _Quiet:
        def readouterr(self):
            return type("R", (), {"out": "", "err": ""})()

    box = Sandbox(root, _Quiet())
    box.put("accounting", f.Msg(objects=[f.counterparty(f.ref(1), "ООО Ромашка")]))
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        box.run("pull-catalogs")
    assert box.numbers("accounting") == (1, 1, 0)
    return root


# Each example fsyncs its state and messages: in memory when we can, so that more fit in a run.
_SCRATCH = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None


def check(template: Path, capsys, data: bytes, suffix: str = ".xml") -> None:
    with tempfile.TemporaryDirectory(dir=_SCRATCH) as tmp:
        root = Path(tmp) / "box"
        shutil.copytree(template, root)
        box = Sandbox.attach(root, capsys)
        before = box.dump()
        path = box.put_raw("accounting", data, suffix)
        code, report, err = box.run("pull-catalogs")
        assert code in (0, 5, 6, 7), err
        assert "Traceback" not in err and "internal error" not in err, err
        if code in (5, 6):
            assert box.dump() == before, err
            assert box.outgoing("accounting")["received_no"] == 1  # not confirmed
            (line,) = [ln for ln in err.splitlines() if "onecsync: error: " in ln]
            assert code == 6 or path.name in line
        else:  # taken: what we write is still well-formed, with a valid header
            # (not each object: a schema-invalid object is relayed as the base wrote it; see
            # test_a_schema_invalid_object_is_parked_not_relayed in test_corpus.py)
            for peer in ("accounting", "crm"):
                out = box.outgoing_path(peer)
                if out is not None:
                    header, _, _ = parse_message(out)
                    assert formats.validate_header(header) == []


# -- byte mutations --------------------------------------------------------------------------

_byte_op = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.binary(min_size=1, max_size=8)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
    st.tuples(st.just("repeat"), st.integers(0, 10**6), st.integers(1, 64)),
)


def mutate_bytes(data: bytes, ops) -> bytes:
    b = bytearray(data)
    for op, pos, arg in ops:
        pos = pos % (len(b) + 1)
        if op == "flip" and pos < len(b):
            b[pos] ^= arg
        elif op == "truncate":
            del b[pos:]
        elif op == "insert":
            b[pos:pos] = arg
        elif op == "delete":
            del b[pos:pos + arg]
        elif op == "repeat":
            b[pos:pos] = b[pos:pos + arg]
    return bytes(b)


def zipped(data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Message.xml", data)
    return buf.getvalue()


@given(ops=st.lists(_byte_op, min_size=1, max_size=4), as_zip=st.booleans())
def test_byte_mutations_never_crash_nor_leak_into_the_state(template, capsys, ops, as_zip):
    if as_zip:
        check(template, capsys, mutate_bytes(zipped(SEED), ops), ".zip")
    else:
        check(template, capsys, mutate_bytes(SEED, ops))


# -- XML structure mutations -----------------------------------------------------------------

_NAMES = ["Message", "Header", "Body", "Format", "Confirmation", "MessageNo", "ReceivedNo",
          "From", "To", "AvailableVersion", "КлючевыеСвойства", "Ссылка",
          "Справочник.Контрагенты", "УдалениеОбъекта", "x"]
_NUMBERS = st.one_of(st.integers(-5, 5).map(str), st.integers().map(str),
                     st.sampled_from(["", " 2 ", "2.0", "1e3", "٣", "0x10", "9" * 40]))
_xml_op = st.one_of(
    st.tuples(st.just("drop"), st.integers(0, 10**4), st.none()),
    st.tuples(st.just("duplicate"), st.integers(0, 10**4), st.none()),
    st.tuples(st.just("swap"), st.integers(0, 10**4), st.none()),
    st.tuples(st.just("rename"), st.integers(0, 10**4), st.sampled_from(_NAMES)),
    st.tuples(st.just("text"), st.integers(0, 10**4), st.text(max_size=12)),
    st.tuples(st.just("number"), st.sampled_from(["MessageNo", "ReceivedNo"]), _NUMBERS),
)


def mutate_xml(data: bytes, ops) -> bytes:
    root = etree.fromstring(data)
    for op, where, arg in ops:
        elements = list(root.iter())
        el = elements[where % len(elements)] if isinstance(where, int) else None
        parent = el.getparent() if el is not None else None
        if op == "drop" and parent is not None:
            parent.remove(el)
        elif op == "duplicate" and parent is not None:
            el.addnext(copy.deepcopy(el))
        elif op == "swap" and parent is not None and el.getnext() is not None:
            el.getnext().addnext(el)
        elif op == "rename" and el is not None:
            ns = etree.QName(el).namespace
            el.tag = f"{{{ns}}}{arg}" if ns else arg
        elif op == "text" and el is not None and len(el) == 0:
            el.text = "".join(c for c in arg if c.isprintable())
        elif op == "number":
            for n in root.iter(f"{{http://www.1c.ru/SSL/Exchange/Message}}{where}"):
                n.text = arg
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


@given(ops=st.lists(_xml_op, min_size=1, max_size=4))
def test_structure_mutations_never_crash_nor_leak_into_the_state(template, capsys, ops):
    check(template, capsys, mutate_xml(SEED, ops))
