"""The version converter as it was before it was made fast (commit d0fc4dd), frozen as the
reference that tests/test_convert_equivalence.py holds the real one to, byte for byte.

Do not "fix" or share code with onecsync here: its worth is that it stays the old behaviour.
"""
# ruff: noqa
from __future__ import annotations

from collections import Counter
from copy import deepcopy
from dataclasses import dataclass

from lxml import etree

from onecsync.formats import vat
from onecsync.formats.index import FormatIndex
from onecsync.formats.index import ObjectType
from onecsync.formats.index import Prop
from onecsync.formats.index import TypeDef
from onecsync.formats.index import ValueType

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


from onecsync.formats import Unconvertible  # the same class, so that outcomes compare


class _Lost(Unconvertible):
    """One value cannot be carried over; its parent decides whether losing it is fatal."""


@dataclass(frozen=True)
class Adapted:
    element: etree._Element
    dropped: list[str]  # paths (in the source object) of elements left out


def adapt(element: etree._Element, source: FormatIndex, target: FormatIndex) -> Adapted:
    """A new element for ``target`` with the content of ``element`` (a body object of ``source``)."""
    if source.version == target.version:
        return Adapted(element, [])
    qname = etree.QName(element)
    if qname.namespace != source.namespace:
        raise ValueError(f"{qname.localname} is not in the namespace of EnterpriseData {source.version}")
    name = qname.localname
    if name not in target.object_types:
        raise Unconvertible(name, f"there is no object type {name} in EnterpriseData {target.version}")
    element = _move_comment(element, source, target, name)
    walker = _Walker(source.namespace, target)
    new = etree.Element(f"{{{target.namespace}}}{name}", nsmap={None: target.namespace})
    walker.fill(element, new, target.types[name], name)
    return Adapted(new, walker.dropped)


_COMMON, _COMMENT = "ОбщиеСвойстваОбъектовФормата", "Комментарий"


def _declares(index: FormatIndex, type_name: str, *steps: str) -> bool:
    t: TypeDef | str | None = index.types.get(type_name)
    for step in steps:
        prop = next((p for p in t.properties if p.name == step), None) \
            if isinstance(t, ObjectType) else None
        if prop is None:
            return False
        t = prop.inline or index.types.get(prop.type, prop.type)
    return True


def _move_comment(element: etree._Element, source: FormatIndex, target: FormatIndex,
                  name: str) -> etree._Element:
    """The document's comment is one field that moved: a `Комментарий` of its own up to 1.10,
    `ОбщиеСвойстваОбъектовФормата/Комментарий` from 1.11 (1C fills both from the document's one
    attribute). Walking by name would drop it between the two; it is moved instead."""
    flat = (_declares(source, name, _COMMENT), _declares(target, name, _COMMENT))
    nested = (_declares(source, name, _COMMON, _COMMENT), _declares(target, name, _COMMON, _COMMENT))
    ns = source.namespace
    if flat[0] and nested[1] and not flat[1]:
        moved = element.find(f"{{{ns}}}{_COMMENT}")
        if moved is None:
            return element
        element = deepcopy(element)
        moved = element.find(f"{{{ns}}}{_COMMENT}")
        element.remove(moved)
        group = element.find(f"{{{ns}}}{_COMMON}")
        if group is None:
            group = etree.SubElement(element, f"{{{ns}}}{_COMMON}")
        group.insert(0, moved)
    elif nested[0] and flat[1] and not nested[1]:
        if element.find(f"{{{ns}}}{_COMMON}/{{{ns}}}{_COMMENT}") is None:
            return element
        element = deepcopy(element)
        moved = element.find(f"{{{ns}}}{_COMMON}/{{{ns}}}{_COMMENT}")
        group = moved.getparent()  # the group that holds it (an object may hold two)
        element.append(moved)  # lxml moves it out of the group
        if not len(group):
            element.remove(group)
    return element


class _Walker:
    def __init__(self, source_ns: str, target: FormatIndex) -> None:
        self.source_ns = source_ns
        self.target = target
        self.dropped: list[str] = []

    def resolve(self, prop: Prop) -> TypeDef | str:
        """The property's type definition, or its name for xs:/msg: built-ins."""
        return prop.inline or self.target.types.get(prop.type, prop.type)

    def convert(self, src: etree._Element, parent: etree._Element, t: TypeDef | str, path: str) -> etree._Element:
        """The converted ``src``, appended to ``parent``."""
        tag = f"{{{self.target.namespace}}}{etree.QName(src).localname}"
        new = etree.SubElement(parent, tag, src.attrib)
        has_children = any(isinstance(c.tag, str) for c in src)
        if isinstance(t, ObjectType):
            if not has_children and (src.text or "").strip():
                if t.name == vat.STRUCTURE_TYPE and vat.to_structure(src.text.strip()):
                    for name, text in vat.to_structure(src.text.strip()):
                        etree.SubElement(new, f"{{{self.target.namespace}}}{name}").text = text
                    return new
                raise _Lost(path, f"is a structure in EnterpriseData {self.target.version}, not a plain value")
            self.fill(src, new, t, path)
        elif has_children:
            code = vat.to_code({etree.QName(c).localname: (c.text or "").strip() for c in src
                                if isinstance(c.tag, str)}) \
                if isinstance(t, ValueType) and t.name == vat.ENUM_TYPE else None
            if code is None:
                raise _Lost(path, f"is a plain value in EnterpriseData {self.target.version}, not a structure")
            try:
                self.check_enumeration(code, t, path)
            except Unconvertible as e:  # a rate the older list lacks: lost, like any other value
                raise _Lost(path, e.reason) from None
            new.text = code
        else:
            if src.get(_XSI_NIL) != "true":
                self.check_enumeration(src.text or "", t, path)
            new.text = src.text
        return new

    def fill(self, src: etree._Element, new: etree._Element, t: ObjectType, path: str) -> None:
        order = {p.name: i for i, p in enumerate(t.properties)}
        counts = Counter(c.tag for c in src if isinstance(c.tag, str))
        seen: Counter[str] = Counter()
        kept: list[tuple[int, etree._Element]] = []
        lost: dict[str, str] = {}
        for child in src:
            if not isinstance(child.tag, str):
                continue
            qname = etree.QName(child)
            seen[child.tag] += 1
            step = qname.localname if counts[child.tag] == 1 else f"{qname.localname}[{seen[child.tag]}]"
            child_path = f"{path}/{step}"
            if qname.namespace != self.source_ns:
                # Extension fields (other namespaces) may follow the declared ones in an open type.
                if t.open:
                    new.append(deepcopy(child))
                    kept.append((len(order), new[-1]))
                else:
                    self.dropped.append(child_path)
                continue
            if qname.localname not in order:
                self.dropped.append(child_path)
                continue
            i = order[qname.localname]
            try:
                kept.append((i, self.convert(child, new, self.resolve(t.properties[i]), child_path)))
            except _Lost as e:
                new.remove(new[-1])
                self.dropped.append(child_path)
                lost[qname.localname] = e.reason
        if not t.ordered:
            # The properties are alternatives: an emptied choice no longer says anything.
            if counts and not kept:
                raise _Lost(path, f"none of its alternatives exists in EnterpriseData {self.target.version}")
            return
        # A stable sort: repeated elements (table rows) keep their relative order.
        new[:] = [el for _, el in sorted(kept, key=lambda pair: pair[0])]
        present = Counter(i for i, _ in kept)
        for i, prop in enumerate(t.properties):
            if present[i] < prop.min:
                reason = lost.get(prop.name, f"required in EnterpriseData {self.target.version} but missing")
                raise Unconvertible(f"{path}/{prop.name}", reason)

    def check_enumeration(self, value: str, t: ValueType | str, path: str) -> None:
        # Follow restriction bases inside the package: the nearest enumeration is the one in force.
        while isinstance(t, ValueType):
            if t.enumerations:
                if value not in t.enumerations:
                    allowed = f"the values of {t.name}" if t.name else "its allowed values"
                    version = self.target.version
                    raise Unconvertible(path, f"{value!r} is not one of {allowed} in EnterpriseData {version}")
                return
            t = self.target.types.get(t.base, t.base)


def convert(xml: bytes, source: str, target: str, check: bool = False) -> tuple[bytes, list[str]]:
    """protocol.objects.convert as it was."""
    from onecsync import formats
    from onecsync.protocol.objects import parse_object
    from onecsync.protocol.normal import normalize_object

    if source == target and not check:
        return xml, []
    adapted = adapt(parse_object(xml, source), formats.load(source), formats.load(target))
    if check:
        problems = formats.validate_object(target, adapted.element)
        if problems:
            p = problems[0]
            raise formats.Unconvertible(p.path, f"not valid in EnterpriseData {target}: {p.message}")
    return normalize_object(adapted.element, formats.namespace(target)), list(adapted.dropped)
