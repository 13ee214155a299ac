"""What a received message must be before anything of it is applied (exit 5 otherwise)."""

from __future__ import annotations

import pytest

from tests import factory as f

GOOD = [f.counterparty(f.ref(1), "ООО Ромашка")]


def rejected(sandbox, data: bytes, fragment: str, suffix: str = ".xml", cut: bool = False) -> str:
    """Exit 5, one line naming the file and the problem, exchange state untouched. A `cut`
    file (it ends early, as one the base is still writing) is first only noted, exit 0, until
    it has stayed the same for settle_minutes."""
    sandbox.put("accounting", f.Msg(objects=GOOD))
    sandbox.run("pull-catalogs")
    dump = sandbox.dump()
    # put() would zip the bytes again: a .zip is left as given
    path = (sandbox.put_raw if suffix == ".zip" else sandbox.put)("accounting", data, suffix=suffix)
    code, report, err = sandbox.run("pull-catalogs")
    if cut:
        assert code == 0, err
        # (the .xml of the first message, older, is named too: it is left unread)
        (note,) = [ln for ln in err.splitlines() if "warning" in ln and "left unread" not in ln]
        assert path.name in note and "is not complete yet" in note and fragment in note, err
        assert report["peers"]["accounting"]["received"]["incomplete"] is True
        assert sandbox.dump() == dump
        assert not list((sandbox.state_path.parent / "quarantine").glob("*.json"))
        sandbox.settle()
        code, report, err = sandbox.run("pull-catalogs")
    assert code == 5, err
    lines = [ln for ln in err.splitlines() if "error" in ln]
    assert lines and path.name in lines[-1] and fragment in lines[-1], err
    assert "Traceback" not in err
    assert sandbox.dump() == dump
    # Not confirmed: accounting keeps our message 1 with ReceivedNo 1.
    assert sandbox.outgoing("accounting")["received_no"] == 1
    return err


def msg2(**kw) -> bytes:
    kw.setdefault("objects", GOOD)
    return f.Msg(message_no=2, received_no=1, created="2026-11-21T09:00:00", **kw).xml()


@pytest.mark.parametrize("data, fragment", [
    (b"<Message><msg:Header", "malformed XML"),
    (msg2()[:-40], "malformed XML"),
    (b"\x00" * 4096, "not an XML document"),
    (b"\xef\xbb", "not an XML document"),
    (msg2()[:msg2().index(b"</Body>") - 30] + b"\x00" * 3000, "Char 0x0 out of allowed range"),
])
def test_a_cut_message_is_rejected_once_it_stays_so(sandbox, data, fragment):
    rejected(sandbox, data, fragment, cut=True)


@pytest.mark.parametrize("data, fragment", [
    (msg2().replace(b"</Body>", b"<Broken></Body>"), "malformed XML"),
    (msg2()[:msg2().index(b"</Body>") - 30] + b"\x00" * 3000 + b"</Body></Message>",
     "Char 0x0 out of allowed range"),
    (msg2().replace("Ромашка".encode(), b"\xff\xfe\xfa"), "malformed XML"),
    (msg2().replace(b"<Message ", b"<Envelope ").replace(b"</Message>", b"</Envelope>"),
     "root element is 'Envelope'"),
    (msg2().replace(b"http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8</msg:Format>",
                    b"http://example.com/Other/1.0</msg:Format>"), "not EnterpriseData"),
    (f.Msg(message_no=2, version="1.21", objects=[]).xml(), "version 1.21 is not one we offer"),
    (msg2().replace(f.NODE.encode(), b"11111111-2222-3333-4444-555555555555"),
     "not our node code"),
    (msg2().replace(f"<msg:From>{f.ACCOUNTING}".encode(),
                    f"<msg:From>{f.CRM}".encode()), "not the accounting base's code"),
    (msg2().replace(b"<msg:MessageNo>2<", b"<msg:MessageNo>two<"), "MessageNo 'two' is not a number"),
    (msg2().replace(b"<msg:MessageNo>2<", b"<msg:MessageNo>1" + b"0" * 30 + b"<"),
     "out of range"),
    (msg2().replace(b"<msg:CreationDate>", b"<msg:X/><msg:CreationDate>")
     .replace(b"<msg:Format>", b"<msg:AvailableVersion>1.8</msg:AvailableVersion><msg:Format>"),
     "Header is out of order"),
    (msg2().replace("<?xml version=\"1.0\" encoding=\"UTF-8\"?>".encode(),
                    b'<?xml version="1.0" encoding="windows-1251"?>'), "not UTF-8"),
    ("<?xml version=\"1.0\" encoding=\"UTF-16\"?><Message/>".encode("utf-16"), "UTF-16"),
    (b'<?xml version="1.0"?>\n<!DOCTYPE Message [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
     b"<Message>&x;</Message>", "DTD"),
])
def test_rejected_messages_leave_the_state_untouched(sandbox, data, fragment):
    rejected(sandbox, data, fragment)


def test_an_empty_file_is_ignored_as_1c_ignores_it(sandbox):
    sandbox.put("accounting", f.Msg(objects=GOOD))
    sandbox.run("pull-catalogs")
    dump = sandbox.dump()
    sandbox.put("accounting", b"")
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0
    assert "is empty: ignored" in err
    assert sandbox.dump() == dump


def test_a_message_with_no_header_is_rejected(sandbox):
    data = msg2()
    start, end = data.index(b"<msg:Header>"), data.index(b"</msg:Header>") + 13
    rejected(sandbox, data[:start] + data[end:], "does not start with a Header")


def test_a_utf8_bom_is_accepted(sandbox):
    sandbox.put("accounting", b"\xef\xbb\xbf" + f.Msg(objects=GOOD).xml())
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert report["peers"]["accounting"]["received"]["objects"] == 1


def test_a_broken_zip_is_rejected(sandbox):
    rejected(sandbox, b"PK\x03\x04 this is not a zip", "it has no end record", suffix=".zip",
             cut=True)
    rejected(sandbox, b"this is not a zip at all", "not a readable zip", suffix=".zip")


def test_after_a_rejection_a_good_message_goes_through(sandbox):
    rejected(sandbox, b"<Message>", "malformed", cut=True)
    sandbox.put("accounting", msg2(objects=[f.counterparty(f.ref(2), "АО Василек")]))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 0, err
    assert sandbox.numbers("accounting") == (2, 2, 1)
    assert ("Справочник.Контрагенты", f.ref(2)) in sandbox.outgoing("crm")["objects"]


def test_the_entity_in_a_rejected_message_is_never_expanded(sandbox, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-VALUE")
    data = (f'<?xml version="1.0"?><!DOCTYPE Message [<!ENTITY x SYSTEM "file://{secret}">]>'
            "<Message>&x;</Message>").encode()
    err = rejected(sandbox, data, "DTD")
    assert "TOP-SECRET-VALUE" not in err
