"""What a Body may hold: objects of the message's format, nothing else, and nothing dropped unseen.

1C looks a body object's type up by (namespace, local name) and skips what it does not find. A
known object written in another namespace would so be lost with the message confirmed: refused
(exit 5, one line naming the element, its namespace and its line, nothing applied or confirmed).
What 1C skips legitimately, a type the format lacks in the format's own namespace, is parked:
kept, not sent on, and seen (the run's line, exit 7, `status`)."""

from __future__ import annotations

import pytest

from onecsync import formats
from tests import factory as f
from tests.test_receive_checks import GOOD
from tests.test_receive_checks import msg2
from tests.test_receive_checks import rejected

NS8 = formats.namespace("1.8")
NS17 = formats.namespace("1.17")
OTHER = f.counterparty(f.ref(3), "АО Василек")
UNKNOWN = (f"<Справочник.НетТакого><КлючевыеСвойства><Ссылка>{f.ref(4)}</Ссылка>"
           "</КлючевыеСвойства></Справочник.НетТакого>")


def with_objects(*objects: str) -> bytes:
    return msg2(objects=[*GOOD, *objects])


def first(*objects: str) -> bytes:
    """The base's first message (nothing of ours to confirm yet)."""
    return f.Msg(objects=[*GOOD, *objects]).xml()


def in_namespace(obj: str, ns: str) -> str:
    tag = obj[1:obj.index(">")]
    return obj.replace(f"<{tag}>", f'<{tag} xmlns="{ns}">', 1)


@pytest.mark.parametrize("ns", ["urn:evil", NS17, ""], ids=["urn:evil", "1.17 in 1.8", "none"])
def test_a_known_object_in_another_namespace_is_a_malformed_message(sandbox, ns):
    obj = in_namespace(OTHER, ns)
    data = with_objects(obj)
    err = rejected(sandbox, data, "the Body holds <Справочник.Контрагенты> in ")
    line = [ln for ln in err.splitlines() if "error" in ln][-1]
    where = data[:data.index(obj[:obj.index(">")].encode())].count(b"\n") + 1
    assert (f"in namespace {ns!r}" if ns else "in no namespace") in line, err
    assert f"at line {where}, not an object of format 1.8 ({NS8})" in line, err
    path = sandbox.incoming("accounting")
    vcode, vout, _ = sandbox.human("validate", str(path))
    assert vcode == 5 and "the Body holds <Справочник.Контрагенты>" in vout, vout


@pytest.mark.parametrize("data, fragment", [
    (with_objects(OTHER).replace(b"</Body>", b"\xd0\xa6\xd0\xa000-000153</Body>"),
     "directly in the Body, after the object that starts at line"),
    (with_objects(OTHER).replace(f'<Body xmlns="{NS8}">'.encode(),
                                 f'<Body xmlns="{NS8}">lead'.encode()),
     "text 'lead' directly in the Body, before its first object"),
    (with_objects(OTHER).replace(b"</\xd0\xa1\xd0\xbf\xd1\x80\xd0\xb0\xd0\xb2\xd0\xbe\xd1\x87"
                                 b"\xd0\xbd\xd0\xb8\xd0\xba.\xd0\x9a\xd0\xbe\xd0\xbd\xd1\x82"
                                 b"\xd1\x80\xd0\xb0\xd0\xb3\xd0\xb5\xd0\xbd\xd1\x82\xd1\x8b>",
                                 "</Справочник.Контрагенты>x".encode(), 1),
     "text 'x' directly in the Body"),
    (with_objects(f"<Body>{OTHER}</Body>"), "the Body holds a <Body> at line"),
    (with_objects('<msg:Header/>'), "the Body holds a <Header> at line"),
    (msg2().replace(b"</Body>", f'</Body><Body xmlns="{NS8}">{OTHER}</Body>'.encode()),
     "a second Body at line"),
    (msg2().replace(b"</Body>", f"</Body>{in_namespace(OTHER, NS8)}".encode()),
     "unexpected element 'Справочник.Контрагенты' after the Body, at line"),
    (msg2().replace(b"</Message>", f"</Message>{OTHER}".encode()), "malformed XML"),
    (msg2().replace(b"</msg:Header>", f"{in_namespace(OTHER, NS8)}</msg:Header>".encode()),
     f"the Header holds <Справочник.Контрагенты> of namespace {NS8} at line"),
])
def test_what_is_no_object_of_the_body_is_a_malformed_message(sandbox, data, fragment):
    rejected(sandbox, data, fragment)
    vcode, vout, _ = sandbox.human("validate", str(sandbox.incoming("accounting")))
    assert vcode == 5, vout


def parked(sandbox, data: bytes, type_name: str, why: str) -> dict:
    """Exit 7, the parked object named in the run's line, under -q too, and in `status`;
    the rest of the message goes on; the parked one is kept and not sent."""
    sandbox.put("accounting", data)
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 7, err
    received = report["peers"]["accounting"]["received"]
    assert received["parked"] == 1 and "skipped_unknown" not in received, received
    (line,) = [ln for ln in err.splitlines() if "parked:" in ln]
    assert type_name in line and why in line, err
    assert ("Справочник.Контрагенты", f.ref(3)) in sandbox.outgoing("crm")["objects"]
    assert all(t == "Справочник.Контрагенты" for t, _ in sandbox.outgoing("crm")["objects"])
    with sandbox.db() as c:
        rows = c.execute("SELECT type, status, reason FROM inbox WHERE status = 'parked'").fetchall()
    assert [(t, s) for t, s, _ in rows] == [(type_name, "parked")] and why in rows[0][2]
    _, out, _ = sandbox.human("status")
    assert "parked         1 (1 received from it" in out, out
    return received


def test_an_unknown_type_in_the_format_namespace_is_parked_and_seen(sandbox):
    parked(sandbox, first(UNKNOWN, OTHER), "Справочник.НетТакого",
           "Справочник.НетТакого is not an object type of EnterpriseData 1.8: 1C skips it")
    # Seen in the one line -q leaves, too.
    sandbox.put("accounting", first(UNKNOWN, OTHER).replace(
        b"<msg:MessageNo>1<", b"<msg:MessageNo>2<"))
    code, out, err = sandbox.human("-q", "pull-catalogs")
    assert code == 7 and "parked in this run: 1 object" in err, err


def test_a_type_that_is_no_object_type_is_parked(sandbox):
    keys = (f"<КлючевыеСвойстваКонтрагент><Ссылка>{f.ref(5)}</Ссылка>"
            "</КлючевыеСвойстваКонтрагент>")
    parked(sandbox, first(keys, OTHER), "КлючевыеСвойстваКонтрагент",
           "is not an object type of EnterpriseData 1.8")


@pytest.mark.parametrize("ref_element, why", [
    ("НечтоСсылка", "a deletion of a НечтоСсылка, a reference no object type of"),
    ('КонтрагентыСсылка xmlns="urn:evil"', "a deletion of a {urn:evil}КонтрагентыСсылка"),
])
def test_a_deletion_of_what_the_format_has_no_reference_for_is_parked(sandbox, ref_element, why):
    deletion = f.deletion("КонтрагентыСсылка", f.ref(6)).replace(
        "<КонтрагентыСсылка>", f"<{ref_element}>").replace(
        "</КонтрагентыСсылка>", f"</{ref_element.split()[0]}>")
    parked(sandbox, first(deletion, OTHER), "УдалениеОбъекта", why)


@pytest.mark.parametrize("prefixed", [False, True], ids=["default namespace", "prefix"])
def test_an_object_of_a_format_extension_named_in_format_is_parked(sandbox, prefixed):
    """Written with a prefix (`<e:Thing/>`, R2 F1), it was serialized again and again: exit 1."""
    ext = "http://example.com/ed-extension/1.0"
    obj = in_namespace(UNKNOWN, ext) if not prefixed else \
        UNKNOWN.replace("<Справочник.НетТакого>", f'<e:Справочник.НетТакого xmlns:e="{ext}">') \
        .replace("</Справочник.НетТакого>", "</e:Справочник.НетТакого>")
    data = first(obj, OTHER).replace(
        f"{NS8}</msg:Format>".encode(), f"{NS8} {ext}</msg:Format>".encode())
    parked(sandbox, data, f"{{{ext}}}Справочник.НетТакого",
           f"an object of the format extension {ext}, which onecsync does not know")


def test_an_object_with_an_unknown_field_is_parked_by_the_schema_check(sandbox):
    odd = OTHER.replace("</Справочник.Контрагенты>", "<Зло>1</Зло></Справочник.Контрагенты>")
    sandbox.put("accounting", first(odd))
    code, report, err = sandbox.run("pull-catalogs")
    assert code == 7 and report["peers"]["accounting"]["received"]["parked"] == 1, err
    assert "Справочник.Контрагенты/Зло" in err
