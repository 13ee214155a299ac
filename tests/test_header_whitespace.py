"""Whitespace around a header value: xs:dateTime and xs:integer collapse it, and the codes,
versions and URIs (xs:string) never hold any of their own; so every header field, padded with
XML's whitespace, reads as the unpadded one. A non-breaking space is text, not whitespace, and a
value that is empty once collapsed is refused with one line."""

from __future__ import annotations

import re

import pytest

from tests import factory as f
from tests.conftest import Sandbox

GOOD = [f.counterparty(f.ref(1), "ООО Ромашка")]
TYPES = ("<msg:AvailableObjectTypes><msg:ObjectType><msg:Name>Справочник.Контрагенты</msg:Name>"
         "<msg:Sending>*</msg:Sending><msg:Receiving>*</msg:Receiving></msg:ObjectType>"
         "</msg:AvailableObjectTypes><msg:Prefix>БП</msg:Prefix>")
# Every leaf of the header this message has (NewFrom: the sender's own code, as 1C writes it
# while it still uses an old alias in From).
FIELDS = ("Format", "CreationDate", "ExchangePlan", "To", "From", "MessageNo", "ReceivedNo",
          "AvailableVersion", "NewFrom", "Name", "Sending", "Receiving", "Prefix")
PADS = {"spaces": " {} ", "newlines and tabs": "\n\t {}\t\n", "CR LF": "\r\n{}\r\n"}
# What the run keeps of a header, compared between the padded and the plain message.
KEPT = ("sent_no", "received_no", "confirmed_no", "versions", "format_version", "object_types",
        "prefix", "received_created")


def message() -> bytes:
    data = f.Msg(message_no=2, received_no=0, objects=GOOD,
                 header_extra=f"<msg:NewFrom>{f.ACCOUNTING}</msg:NewFrom>{TYPES}").xml()
    return data.replace(b"<msg:AvailableVersion>1.8</msg:AvailableVersion>",
                        b"<msg:AvailableVersion>1.8</msg:AvailableVersion>\n", 1)


def padded(data: bytes, name: str, pad: str) -> bytes:
    """Every `name` field of the header with its value inside `pad` ("{}" is the value)."""
    text = data.decode("utf-8")
    new, n = re.subn(f"<msg:{name}>([^<]*)</msg:{name}>",
                     lambda m: f"<msg:{name}>{pad.format(m.group(1))}</msg:{name}>", text)
    assert n, name
    return new.encode("utf-8")


def kept(box: Sandbox) -> tuple:
    with box.db() as c:
        peer = c.execute(f"SELECT {', '.join(KEPT)} FROM peers WHERE name = 'accounting'").fetchone()
        inbox = c.execute("SELECT type, ref, status, digest FROM inbox ORDER BY 1, 2").fetchall()
    return peer, inbox


_PLAIN: list = []


@pytest.fixture
def plain(tmp_path_factory, capsys):
    """What the run keeps of the unpadded message (made once)."""
    if not _PLAIN:
        box = Sandbox(tmp_path_factory.mktemp("plain"), capsys)
        box.put("accounting", message())
        assert box.run("pull-catalogs")[0] == 0
        _PLAIN.append(kept(box))
    return _PLAIN[0]


@pytest.mark.parametrize("pad", PADS.values(), ids=PADS.keys())
@pytest.mark.parametrize("name", FIELDS)
def test_a_padded_header_field_reads_as_the_plain_one(sandbox, plain, name, pad):
    path = sandbox.put("accounting", padded(message(), name, pad))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert kept(sandbox) == plain
    vcode, vout, _ = sandbox.human("validate", str(path))
    assert vcode == 0, vout


@pytest.mark.parametrize("name", ["CreationDate", "MessageNo", "ReceivedNo"])
@pytest.mark.parametrize("pad", [" \n\t ", ""], ids=["blank", "empty"])
def test_a_header_value_empty_once_collapsed_is_refused_with_one_line(sandbox, name, pad):
    data = re.sub(f"<msg:{name}>[^<]*</msg:{name}>".encode(),
                  f"<msg:{name}>{pad}</msg:{name}>".encode(), message())
    path = sandbox.put("accounting", data)
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    (line,) = [ln for ln in err.splitlines() if "error" in ln]
    assert f"{name} is empty" in line and path.name in line, err
    assert not kept(sandbox)[1]  # nothing staged


@pytest.mark.parametrize("name", ["CreationDate", "MessageNo", "To"])
def test_a_non_breaking_space_is_not_whitespace(sandbox, name):
    sandbox.put("accounting", padded(message(), name, "\u00a0{}"))
    code, _, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    assert not kept(sandbox)[1]
