"""MessageNo and ReceivedNo are xs:integer: ASCII digits with an optional sign, nothing else; `run`
and `validate` read them with the same function and agree on every header."""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

import pytest
from hypothesis import given
from hypothesis import strategies as st

from onecsync.errors import MessageRejected
from onecsync.protocol.check import check_message
from onecsync.protocol.reader import MessageReader
from tests import factory as f

GOOD = [f.counterparty(f.ref(1), "ООО Ромашка")]
# What Python's int() would take and xs:integer does not, and a few that both take.
ODD = ["٢", "２", "0_2", " 2", "2 ", "\u00a02", "\t2", "+", "-", "", "2.0", "0x2", "²", "2\n",
       "1" * 25, "9223372036854775808"]
FINE = ["N", "+N", "00N", "0" * 30 + "N"]  # N: 2 for MessageNo, 1 for ReceivedNo


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
    assert "is not a number" in line or "is out of range" in line, err
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
        assert text.lstrip("+-").isascii() and text.lstrip("+-").isdigit(), repr(text)
