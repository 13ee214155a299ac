"""MessageNo and ReceivedNo are xs:integer: ASCII digits with an optional sign, nothing else once
XML's whitespace around them is collapsed (whiteSpace=collapse); `run` and `validate` read them with
the same function and agree on every header."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck
from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.protocol.check import check_message
from onecsync.protocol.reader import MessageReader
from tests import factory as f
from tests.conftest import Sandbox

GOOD = [f.counterparty(f.ref(1), "ООО Ромашка")]
# What Python's int() would take and xs:integer does not, and a few that both take.
ODD = ["٢", "２", "0_2", "\u00a02", "2\u3000", "+", "-", "", " ", "2 2", "+ 2", "2.0", "0x2", "²",
       "1" * 25, "9223372036854775808"]
# N: 2 for MessageNo, 1 for ReceivedNo; XML's whitespace around it is collapsed away.
FINE = ["N", "+N", "00N", "0" * 30 + "N", " N", "N ", "\tN", "N\n", "\r\n N \t"]


def with_number(field: str, text: str) -> bytes:
    """Message 2 from accounting with `text` (escaped as XML) as its MessageNo or ReceivedNo."""
    data = f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00", objects=GOOD).xml()
    old = {"MessageNo": b"<msg:MessageNo>2</msg:MessageNo>",
           "ReceivedNo": b"<msg:ReceivedNo>1</msg:ReceivedNo>"}[field]
    assert old in data
    return data.replace(old, f"<msg:{field}>{escape(text)}</msg:{field}>".encode())


def run_takes(data: bytes) -> bool:
    """Does the exchange's reader take the header (the numbers are read there, once)?"""
    try:
        MessageReader(io.BytesIO(data), "m.xml")
    except MessageRejected:
        return False
    return True


@pytest.mark.parametrize("field", ["MessageNo", "ReceivedNo"])
@pytest.mark.parametrize("text", ODD + FINE, ids=repr)
def test_run_and_validate_agree_on_a_header_number(sandbox, field, text):
    sandbox.put("accounting", f.Msg(objects=GOOD))
    assert sandbox.run("pull-catalogs")[0] == 0
    before = sandbox.dump()
    fine = text in FINE
    text = text.replace("N", "2" if field == "MessageNo" else "1")
    path = sandbox.put("accounting", with_number(field, text))

    code, report, err = sandbox.run("pull-catalogs")
    vcode, vout, verr = sandbox.human("validate", str(path))

    assert "Traceback" not in err + verr and "internal error" not in err + verr
    if fine:
        assert (code, vcode) == (0, 0), err + verr
        return
    assert (code, vcode) == (5, 5), err + verr
    (line,) = [ln for ln in err.splitlines() if "error" in ln]
    assert path.name in line and field in line, err
    assert any(w in line for w in ("is not a number", "is out of range", "is empty")), err
    assert f"{field}" in vout and "INVALID, 1 problem" in vout, vout
    assert sandbox.dump() == before
    assert sandbox.outgoing("accounting")["received_no"] == 1  # not confirmed


# Mostly near misses: a sign, digits of several scripts, blanks and underscores around them; and
# any text XML can carry (no control characters, no lone surrogates).
_NEAR = st.builds(lambda a, b, c: a + b + c, st.sampled_from(["", "+", "-", " ", "\u00a0", "+-"]),
                  st.text(st.sampled_from("0123456789٢２_ \t²"), max_size=6),
                  st.sampled_from(["", " ", "\n", "_", "\u3000"]))
_XML_TEXT = _NEAR | st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@given(field=st.sampled_from(["MessageNo", "ReceivedNo"]), text=_XML_TEXT)
def test_any_text_is_judged_alike_by_the_run_and_by_validate(tmp_path, field, text):
    data = with_number(field, text)
    path = tmp_path / "m.xml"
    path.write_bytes(data)
    assert run_takes(data) == check_message(path).valid, repr(text)
    if run_takes(data):
        digits = text.strip(" \t\n\r").lstrip("+-")
        assert digits.isascii() and digits.isdigit(), repr(text)


# -- any header: generated with namespaces, prefixes, order, repeats, counts and attributes varied --
MSG = formats.ENVELOPE_NS
FORMAT = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8"
_CONFIRMATION = [("ExchangePlan", f.PLAN), ("To", f.NODE), ("From", f.ACCOUNTING),
                 ("MessageNo", "2"), ("ReceivedNo", "1")]
_ODD_ATTRS = ['a="1"', 'xsi:type="xs:string"', 'xsi:type="xs:int"', 'xsi:nil="true"',
              'o:x="1"', 'xmlns:q="urn:q"']


@st.composite
def _node(draw, name: str, value):
    """One element of the header as (name, prefix override, attributes, content)."""
    attrs = draw(st.lists(st.sampled_from(_ODD_ATTRS), max_size=2, unique=True)) \
        if draw(st.integers(0, 15)) == 0 else []
    ns = draw(st.sampled_from([None] * 30 + ["o", "none"]))  # another namespace, or none at all
    if isinstance(value, str):
        value = draw(st.sampled_from([value] * 25 + [f" {value}", f"{value}\n", "", "<!--c-->"
                                                    + value, value + "<?pi x?>", "x" * 90]))
    return name, ns, attrs, value


@st.composite
def _shuffled(draw, nodes: list) -> list:
    """The nodes, mostly in order, with an element dropped, repeated or moved now and then."""
    nodes = list(nodes)
    for _ in range(draw(st.integers(0, 2))):
        if not nodes:
            break
        i = draw(st.integers(0, len(nodes) - 1))
        op = draw(st.sampled_from(["keep"] * 6 + ["drop", "repeat", "move"]))
        if op == "drop":
            del nodes[i]
        elif op == "repeat":
            nodes.insert(i, nodes[i])
        elif op == "move":
            nodes.insert(draw(st.integers(0, len(nodes) - 1)), nodes.pop(i))
    return nodes


@st.composite
def headers(draw) -> bytes:
    """Message 2 from accounting whose header is drawn, and a good body."""
    prefix = draw(st.sampled_from(["msg:"] * 4 + ["m:", ""]))
    uri = draw(st.sampled_from([MSG] * 20 + ["urn:wrong", MSG + "/", MSG.upper()]))
    confirmation = draw(_shuffled([draw(_node(n, v)) for n, v in _CONFIRMATION]))
    versions = draw(st.sampled_from([1, 2, 7] * 3 + [100, 101, 0]))
    nodes = [draw(_node("Format", FORMAT)),
             draw(_node("CreationDate", draw(st.sampled_from(["2026-11-21T09:00:00"] * 5
                                                             + ["2026-11-21", "вчера"])))),
             draw(_node("Confirmation", confirmation)),
             *[draw(_node("AvailableVersion", v)) for v in (f.BASE_VERSIONS * 15)[:versions]]]
    if draw(st.booleans()):
        nodes.append(draw(_node("AvailableObjectTypes", [
            draw(_node("ObjectType", [("Name", None, [], "Справочник.Контрагенты"),
                                      ("Sending", None, [], "*")]))])))
    if draw(st.booleans()):
        nodes.append(draw(_node("Prefix", "БП")))
    if draw(st.integers(0, 4)) == 0:
        nodes.append(("Junk", "o", [], "open content"))
    nodes = draw(_shuffled(nodes))

    def render(name, ns, attrs, value) -> str:
        p = {None: prefix, "o": "o:", "none": ""}[ns]
        reset = ' xmlns=""' if ns == "none" and prefix == "" else ""
        inner = escape(value).replace("&lt;!--c--&gt;", "<!--c-->").replace(
            "&lt;?pi x?&gt;", "<?pi x?>") if isinstance(value, str) else "".join(
            render(*child) for child in value)
        return f"<{p}{name}{reset}{''.join(' ' + a for a in attrs)}>{inner}</{p}{name}>"

    decl = f'xmlns{":" + prefix[:-1] if prefix else ""}="{uri}" xmlns:o="urn:other"'
    header = render("Header", None, draw(st.sampled_from([[]] * 8 + [['a="1"'], ['xsi:type="x"']])),
                    nodes).replace(f"<{prefix}Header", f"<{prefix}Header {decl}", 1)
    return (b'<?xml version="1.0" encoding="UTF-8"?>\n<Message xmlns:msg="' + MSG.encode()
            + b'" xmlns:xs="http://www.w3.org/2001/XMLSchema" '
            b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' + header.encode()
            + b'<Body xmlns="' + FORMAT.encode() + b'">' + GOOD[0].encode() + b"</Body></Message>")


def run_reason(data: bytes) -> str | None:
    """None when the exchange's reader takes the header, else the one line's reason."""
    try:
        MessageReader(io.BytesIO(data), "m.xml")
    except MessageRejected as exc:
        return str(exc).removeprefix("m.xml: ")
    return None


@given(data=headers())
def test_any_header_is_judged_alike_by_the_run_and_by_validate(tmp_path, data):
    path = tmp_path / "m.xml"
    path.write_bytes(data)
    reason, check = run_reason(data), check_message(path)
    assert (reason is None) == check.valid, (reason, [p.text() for p in check.problems], data)
    if reason is not None:  # the same reason: validate lists the run's first
        assert reason in check.problems[0].text(), (reason, check.problems[0].text())


@pytest.mark.slow
@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=headers())
def test_any_header_gets_the_same_exit_from_run_and_validate_and_a_refusal_changes_nothing(
        tmp_path_factory, capsys, data):
    """The CLI end to end, a fresh sandbox per header: exit 5 from both or from neither; a
    refused message leaves the state as it was and is not confirmed."""
    box = Sandbox(tmp_path_factory.mktemp("box"), capsys)
    box.put("accounting", f.Msg(objects=GOOD))
    assert box.run("pull-catalogs")[0] == 0
    before = box.dump()
    path = box.put("accounting", data)

    code, _, err = box.run("pull-catalogs")
    vcode, vout, verr = box.human("validate", str(path))

    assert "Traceback" not in err + verr and "internal error" not in err + verr
    assert (code == 5) == (vcode == 5), (err, vout)
    if code == 5:
        (line,) = [ln for ln in err.splitlines() if "error:" in ln]
        first = next(ln for ln in vout.splitlines() if ln.startswith(str(path)))
        assert first.split(": ", 2)[-1].split(" (")[0][:60] in line, (line, first)
        assert box.dump() == before
        assert box.outgoing("accounting")["received_no"] == 1


@pytest.mark.parametrize("text", ["-1", "-9223372036854775807", " -3 "])
def test_a_received_no_below_0_is_refused_before_anything_is_stored(sandbox, text):
    """A base that has received nothing says 0: a ReceivedNo below it is no number of ours
    (review 6, m6), refused as a bad message from the base by `run` and `validate` alike."""
    sandbox.put("accounting", f.Msg(objects=GOOD))
    assert sandbox.run("pull-catalogs")[0] == 0
    before = sandbox.dump()
    path = sandbox.put("accounting", with_number("ReceivedNo", text))
    code, _, err = sandbox.run("pull-catalogs")
    vcode, vout, _ = sandbox.human("validate", str(path))
    assert (code, vcode) == (5, 5), err
    assert f"{path.name}: ReceivedNo {text.strip()} is below 0: no message of ours has a number " \
           "below 1" in err, err
    assert "ReceivedNo" in vout and "INVALID, 1 problem" in vout, vout
    assert sandbox.dump() == before and sandbox.numbers("accounting")[2] == 0


def test_a_negative_number_stored_before_is_still_shown(sandbox):
    """A state that took a ReceivedNo of -1 before m6 is read as it is: numbers are checked by
    kind only when read back (onecsync/stored.py)."""
    sandbox.put("accounting", f.Msg(objects=GOOD))
    assert sandbox.run("pull-catalogs")[0] == 0
    import sqlite3

    with sqlite3.connect(sandbox.state_path) as c:
        c.execute("UPDATE peers SET confirmed_no = -1 WHERE name = 'accounting'")
    c.close()
    code, out, _ = sandbox.human("status")
    assert code == 0 and "confirmed -1" in out
