"""Every shape of prefix and namespace an object can be written with serializes, once, to bytes
that mean the same object in a Body as 1C declares it (R2 F1: a format extension's object with a
prefix, `<e:Thing/>`, made serialize and its slow path call each other forever, exit 1)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import settings
from hypothesis import strategies as st
from lxml import etree

from onecsync.protocol.envelope import ROOT_NSMAP
from onecsync.protocol.normal import normalize_object

BODY = "http://v8.1c.ru/edi/edi_stnd/EnterpriseData/1.8"
EXT = "http://example.com/ext/1.0"
ROOT = "".join(f' xmlns:{p}="{uri}"' for p, uri in ROOT_NSMAP.items())
# What a name can be written with: no prefix (the default namespace, maybe redeclared), the
# body namespace's own prefix, an extension's, one of the root's.
XSI_TYPE = f"{{{ROOT_NSMAP['xsi']}}}type"
PREFIXES = st.sampled_from(["", "b", "e", "z", "xs"])
URIS = st.sampled_from([BODY, EXT, "urn:z"])


@st.composite
def messages(draw) -> tuple[str, str]:
    """A message whose Body binds prefixes at random, and one object written with them."""
    body_decls = {p: draw(URIS) for p in draw(st.sets(st.sampled_from(["b", "e", "z"])))}
    body_decls.setdefault("b", BODY)

    def element(depth: int) -> str:
        prefix = draw(PREFIXES)
        decl = ""
        if draw(st.booleans()):  # redeclared on the element itself: default or prefixed
            decl = f' xmlns{":" + prefix if prefix else ""}="{draw(URIS)}"'
        elif prefix and prefix not in body_decls and prefix != "xs":
            prefix = ""
        name = f"{prefix}:Поле" if prefix else "Поле"
        # An xsi:type names a prefix as it is bound where the value is (XML's rule): declared on
        # the Body, redeclared below it, on the element itself, or not at all.
        attr = draw(st.sampled_from(["", ' a="1"', ' b:a="2"', f' c="{BODY}"', ' xsi:type="b:x"',
                                     ' xsi:type="e:x"', ' xsi:type="z:x"', ' xsi:type="xs:x"']))
        inner = "".join(element(depth + 1) for _ in range(draw(st.integers(0, 2)))) \
            if depth < 3 else ""
        return f"<{name}{decl}{attr}>т{inner}</{name}>х"

    decls = "".join(f' xmlns:{p}="{uri}"' for p, uri in body_decls.items())
    return f'<Message{ROOT}><Body xmlns="{BODY}"{decls}>{element(0)}</Body></Message>', BODY


def _meaning(el, top: bool = True) -> tuple:
    """What an element says, its prefixes aside (an object's tail is not its own)."""
    attrib = dict(el.attrib)
    if XSI_TYPE in attrib:  # a QName in a value: its prefix must stay bound to the same
        prefix, _, local = attrib[XSI_TYPE].rpartition(":")
        attrib[XSI_TYPE] = f"{{{el.nsmap.get(prefix or None)}}}{local}"
    return (el.tag, sorted(attrib.items()), el.text, None if top else el.tail,
            [_meaning(c, False) for c in el])


@settings(max_examples=300, deadline=None)
@given(messages())
def test_any_prefix_serializes_once_to_the_same_object(message):
    xml, ns = message
    obj = etree.fromstring(xml.encode())[0][0]
    relative = normalize_object(obj, ns)  # no RecursionError: one slow pass at most
    again = etree.fromstring(f'<Message{ROOT}><Body xmlns="{ns}">'.encode() + relative
                             + b"</Body></Message>")[0][0]
    assert _meaning(again) == _meaning(obj)


def test_a_prefix_an_xsi_type_names_is_bound_where_the_value_is():
    """Declared below the object alone, beside one the object's scope binds, it lost its
    declaration (the copy declared only what the object's scope named): `k:T` was left unbound."""
    xml = (f'<Message{ROOT}><Body xmlns="{BODY}" xmlns:d="urn:outer"><Объект><П xsi:type="d:U"/>'
           '<Г xmlns:d="urn:inner"><Поле xmlns:k="urn:k" xsi:type="k:T"/><Поле xsi:type="d:T"/>'
           '</Г></Объект></Body></Message>')
    obj = etree.fromstring(xml.encode())[0][0]
    relative = normalize_object(obj, BODY)
    again = etree.fromstring(f'<Message{ROOT}><Body xmlns="{BODY}">'.encode() + relative
                             + b"</Body></Message>")[0][0]
    assert _meaning(again) == _meaning(obj)
    assert [e.nsmap.get(e.get(XSI_TYPE).partition(":")[0]) for e in again.iter() if e.get(XSI_TYPE)] \
        == ["urn:outer", "urn:k", "urn:inner"]


def test_an_extension_object_with_a_prefix_keeps_it_and_is_read_in_linear_time():
    children = "<e:a/>" * 20000
    body = f'<Message{ROOT}><Body xmlns="{BODY}" xmlns:e="{EXT}"><e:Thing>{children}</e:Thing></Body></Message>'
    obj = etree.fromstring(body.encode())[0][0]
    relative = normalize_object(obj, BODY)
    assert relative.startswith(f'<e:Thing xmlns:e="{EXT}"><e:a/>'.encode())
    assert len(relative) < len(children) + 100
