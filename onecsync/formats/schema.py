"""Write XML Schemas from the format indexes, in memory, and compile them with lxml.

Public API: `object_schema(version)`, `header_schema()`.

One schema per EnterpriseData version (plus the envelope schema it imports), rendered the way 1C's
own XSD export of 1.8 renders the XDTO package (ordered types as ``xs:sequence``, ``ordered="false"``
types as ``xs:choice``, open types with a trailing wildcard and ``xs:anyAttribute``), with the two
changes libxml2 needs (see docs/validating-with-1c-schemas.md) and one global element per body
object type so that a body object can be validated as the root of its own document.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from .index import ENVELOPE_NS
from .index import FormatIndex
from .index import ObjectType
from .index import Prop
from .index import ValueType
from .index import load
from .index import load_envelope

XS_NS = "http://www.w3.org/2001/XMLSchema"
# What the ED schemas' xs:import names; served from memory by _EnvelopeResolver, never fetched.
_ENVELOPE_LOCATION = "onecsync-envelope.xsd"


def _xs(tag: str) -> str:
    return f"{{{XS_NS}}}{tag}"


class _Writer:
    """Renders one index as one xs:schema element."""

    def __init__(self, index: FormatIndex, parser: etree.XMLParser) -> None:
        self.index = index
        nsmap = {"xs": XS_NS, "tns": index.namespace, "msg": ENVELOPE_NS}
        self.root = parser.makeelement(
            _xs("schema"), nsmap=nsmap, targetNamespace=index.namespace, elementFormDefault="qualified"
        )

    def sub(self, parent: etree._Element, tag: str, **attrib: str) -> etree._Element:
        return etree.SubElement(parent, _xs(tag), attrib)

    def qname(self, name: str) -> str:
        return name if name.startswith(("xs:", "msg:")) else f"tns:{name}"

    def types(self, skip: tuple[tuple[str, str], ...] = ()) -> None:
        for name, t in self.index.types.items():
            if isinstance(t, ValueType):
                self.simple_type(self.root, t, name=name)
            else:
                props = [p for p in t.properties if (name, p.name) not in skip]
                self.complex_type(self.root, t, props, name=name)

    def simple_type(self, parent: etree._Element, t: ValueType, **attrib: str) -> None:
        simple = self.sub(parent, "simpleType", **attrib)
        if t.variety == "Union":
            self.sub(simple, "union", memberTypes=" ".join(self.qname(m) for m in t.member_types))
            return
        assert t.base is not None, "every shipped value type but a union restricts a base"
        restriction = self.sub(simple, "restriction", base=self.qname(t.base))
        for facet, value in t.facets:
            self.sub(restriction, facet, value=value)
        for value in t.enumerations:
            self.sub(restriction, "enumeration", value=value)

    def complex_type(self, parent: etree._Element, t: ObjectType, props: list[Prop], **attrib: str) -> None:
        if t.abstract:
            attrib["abstract"] = "true"
        content = self.sub(parent, "complexType", **attrib)
        if t.base:
            content = self.sub(self.sub(content, "complexContent"), "extension", base=self.qname(t.base))
        # An open unordered type would need its choice wrapped so the wildcard can follow it.
        outer = self.sub(content, "sequence" if t.ordered or t.open else "choice")
        group = outer if t.ordered or not t.open else self.sub(outer, "choice")
        for prop in props:
            self.element(group, prop)
        if t.open:
            # 1C writes namespace="##any"; next to optional declared elements libxml2 rejects that as
            # non-deterministic. ##other keeps declared fields strict and still admits extensions.
            wildcard = {"namespace": "##other", "processContents": "lax", "minOccurs": "0", "maxOccurs": "unbounded"}
            self.sub(outer, "any", **wildcard)
            self.sub(content, "anyAttribute", namespace="##any", processContents="lax")

    def element(self, group: etree._Element, prop: Prop) -> None:
        if prop.form not in (None, "Element"):
            raise ValueError(f"property {prop.name}: XDTO form {prop.form} is not rendered")
        attrib = {"name": prop.name}
        if prop.type:
            attrib["type"] = self.qname(prop.type)
        if prop.nillable:
            attrib["nillable"] = "true"
        if prop.min != 1:
            attrib["minOccurs"] = str(prop.min)
        if prop.max != 1:
            attrib["maxOccurs"] = "unbounded" if prop.max is None else str(prop.max)
        element = self.sub(group, "element", **attrib)
        if isinstance(prop.inline, ObjectType):
            self.complex_type(element, prop.inline, list(prop.inline.properties))
        elif isinstance(prop.inline, ValueType):
            self.simple_type(element, prop.inline)


def _envelope_schema_tree(parser: etree.XMLParser) -> etree._Element:
    writer = _Writer(load_envelope(), parser)
    # The abstract Object's optional AdditionalInfo, followed by each body object's optional first
    # fields, is ambiguous for libxml2; the objects' open content (xs:any ##other) still admits it.
    writer.types(skip=(("Object", "AdditionalInfo"),))
    writer.sub(writer.root, "element", name="Header", type="tns:Header")
    return writer.root


class _EnvelopeResolver(etree.Resolver):
    def resolve(self, url, pubid, context):
        if url.endswith(_ENVELOPE_LOCATION):
            return self.resolve_string(etree.tostring(_envelope_schema_tree(etree.XMLParser())), context)
        return None


@cache
def object_schema(version: str) -> etree.XMLSchema:
    """Schema of one EnterpriseData version with a global element per body object type."""
    index = load(version)
    parser = etree.XMLParser()
    parser.resolvers.add(_EnvelopeResolver())
    writer = _Writer(index, parser)
    writer.sub(writer.root, "import", namespace=ENVELOPE_NS, schemaLocation=_ENVELOPE_LOCATION)
    writer.types()
    for name in index.types:
        if name in index.object_types:
            writer.sub(writer.root, "element", name=name, type=f"tns:{name}")
    return etree.XMLSchema(writer.root)


@cache
def header_schema() -> etree.XMLSchema:
    """Schema of the envelope namespace with a global ``Header`` element."""
    return etree.XMLSchema(_envelope_schema_tree(etree.XMLParser()))
