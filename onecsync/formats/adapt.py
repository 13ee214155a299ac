"""Carry one body object from one EnterpriseData version to another by walking both versions' types.

Public API: `adapt(element, source, target)` → `Adapted`, `Unconvertible`, `Path`; for formats.relabel:
`comment_way`, `comment_to_move`, `move_comment`.

What the target version does not declare is dropped (and reported); what it requires but cannot be
filled from the source makes the object unconvertible. No field is invented or renamed.
"""

from __future__ import annotations

from collections import Counter
from copy import deepcopy
from dataclasses import dataclass
from functools import cache

from lxml import etree

from . import vat
from .index import FormatIndex
from .index import ObjectType
from .index import TypeDef
from .index import ValueType

_XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"


class Unconvertible(ValueError):
    """The object cannot be written in the target version; ``path`` names the element at fault."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


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
    walker.fill(element, new, target.object_type(name), name)
    return Adapted(new, walker.dropped)


COMMON, COMMENT = "ОбщиеСвойстваОбъектовФормата", "Комментарий"


def _declares(index: FormatIndex, type_name: str, *steps: str) -> bool:
    t: TypeDef | str | None = index.types.get(type_name)
    for step in steps:
        prop = next((p for p in t.properties if p.name == step), None) \
            if isinstance(t, ObjectType) else None
        if prop is None:
            return False
        t = index.resolve(prop)
    return True


@cache
def comment_way(source: FormatIndex, target: FormatIndex, name: str) -> str | None:
    """Whether the comment of an object of `name` goes into the group ("in"), out of it ("out")."""
    flat = (_declares(source, name, COMMENT), _declares(target, name, COMMENT))
    nested = (_declares(source, name, COMMON, COMMENT), _declares(target, name, COMMON, COMMENT))
    if flat[0] and nested[1] and not flat[1]:
        return "in"
    if nested[0] and flat[1] and not nested[1]:
        return "out"
    return None


def _move_comment(element: etree._Element, source: FormatIndex, target: FormatIndex,
                  name: str) -> etree._Element:
    """The document's comment is one field that moved: a `Комментарий` of its own up to 1.10,
    `ОбщиеСвойстваОбъектовФормата/Комментарий` from 1.11 (1C fills both from the document's one
    attribute). Walking by name would drop it between the two; it is moved instead (in a copy)."""
    way = comment_way(source, target, name)
    if way is None or not comment_to_move(element, way):
        return element
    element = deepcopy(element)
    move_comment(element, way)
    return element


def comment_to_move(element: etree._Element, way: str) -> bool:
    """Whether `element` has the comment that `way` moves."""
    ns = etree.QName(element).namespace
    where = f"{{{ns}}}{COMMENT}" if way == "in" else f"{{{ns}}}{COMMON}/{{{ns}}}{COMMENT}"
    return element.find(where) is not None


def move_comment(element: etree._Element, way: str) -> None:
    """Move the comment of `element` (which has it, see `comment_to_move`) the `way` it goes."""
    ns = etree.QName(element).namespace
    if way == "in":
        moved = element.find(f"{{{ns}}}{COMMENT}")
        element.remove(moved)
        group = element.find(f"{{{ns}}}{COMMON}")
        if group is None:
            group = etree.SubElement(element, f"{{{ns}}}{COMMON}")
        group.insert(0, moved)
    else:
        # The group that holds it: an object may hold two groups (refused by the schema, but
        # the walk meets it before the check), and the first need not be the comment's.
        moved = element.find(f"{{{ns}}}{COMMON}/{{{ns}}}{COMMENT}")
        group = moved.getparent()
        element.append(moved)  # lxml moves it out of the group
        if not len(group):
            element.remove(group)


class Path:
    """Where an element is, spelled ("Товары/Строка[2]/Количество") only when a drop or an error
    names it: most elements of an object never need their path."""

    __slots__ = ("parent", "el")

    def __init__(self, parent: Path | str, el: etree._Element) -> None:
        self.parent, self.el = parent, el

    def __str__(self) -> str:
        el = self.el
        same = [c for c in el.getparent() if c.tag == el.tag]
        name = etree.QName(el).localname
        step = name if len(same) == 1 else f"{name}[{same.index(el) + 1}]"
        return f"{self.parent}/{step}"


@dataclass(frozen=True)
class _Field:
    """One property of a target type, as the walk needs it for a child of the source."""

    index: int  # its place among the type's properties
    name: str
    tag: str  # in the target namespace
    type: TypeDef | str
    allowed: frozenset[str] | None  # the values of the enumeration in force, if any
    allowed_from: ValueType | None  # the type that lists them


class _Walker:
    def __init__(self, source_ns: str, target: FormatIndex) -> None:
        self.source_ns = source_ns
        self.source_prefix = f"{{{source_ns}}}"
        self.target = target
        self.dropped: list[str] = []
        self.tables = _tables(target, source_ns)

    def table(self, t: ObjectType) -> tuple[dict[str, _Field], list[tuple[int, str, int]]]:
        """The type's fields by source tag (a repeated name: its last place), and the
        (place, name, lower bound) of those required, built once per type."""
        table = self.tables.get(id(t))
        if table is None:
            target, fields = self.target, {}
            for i, p in enumerate(t.properties):
                sub = target.resolve(p)
                in_force = target.enumeration_in_force(sub)
                fields[self.source_prefix + p.name] = _Field(
                    i, p.name, f"{{{target.namespace}}}{p.name}", sub,
                    frozenset(in_force.enumerations) if in_force else None, in_force)
            required = [(i, p.name, p.min) for i, p in enumerate(t.properties) if p.min > 0]
            table = self.tables[id(t)] = (fields, required)
        return table

    def convert(self, src: etree._Element, parent: etree._Element, field: _Field, path) -> etree._Element:
        """The converted ``src``, appended to ``parent``."""
        t = field.type
        new = etree.SubElement(parent, field.tag, src.attrib)
        has_children = len(src) > 0 and any(isinstance(c.tag, str) for c in src)
        if isinstance(t, ObjectType):
            if not has_children and (src.text or "").strip():
                pairs = vat.to_structure(src.text.strip()) if t.name == vat.STRUCTURE_TYPE else None
                if pairs:
                    for name, text in pairs:
                        etree.SubElement(new, f"{{{self.target.namespace}}}{name}").text = text
                    return new
                raise _Lost(str(path), f"is a structure in EnterpriseData {self.target.version}, not a plain value")
            self.fill(src, new, t, path)
        elif has_children:
            code = vat.code_of(src) if isinstance(t, ValueType) and t.name == vat.ENUM_TYPE else None
            if code is None:
                raise _Lost(str(path), f"is a plain value in EnterpriseData {self.target.version}, not a structure")
            if field.allowed is not None and code not in field.allowed:
                # a rate the older list lacks: lost, like any other value
                raise _Lost(str(path), self.not_allowed(code, field.allowed_from))
            new.text = code
        else:
            text = src.text
            if field.allowed is not None and (text or "") not in field.allowed and src.get(_XSI_NIL) != "true":
                raise Unconvertible(str(path), self.not_allowed(text or "", field.allowed_from))
            new.text = text
        return new

    def fill(self, src: etree._Element, new: etree._Element, t: ObjectType, path) -> None:
        fields, required = self.table(t)
        kept: list[tuple[int, etree._Element]] = []
        lost: dict[str, str] = {}
        any_child, in_order, last = False, True, -1
        for child in src:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            any_child = True
            field = fields.get(tag)
            if field is None:
                if not tag.startswith(self.source_prefix):
                    # Extension fields (other namespaces) may follow the declared ones in an open type.
                    if t.open:
                        new.append(deepcopy(child))
                        kept.append((len(fields), new[-1]))
                        in_order, last = in_order and last <= len(fields), len(fields)
                    else:
                        self.dropped.append(str(Path(path, child)))
                    continue
                self.dropped.append(str(Path(path, child)))
                continue
            child_path = Path(path, child)
            try:
                kept.append((field.index, self.convert(child, new, field, child_path)))
            except _Lost as e:
                new.remove(new[-1])
                self.dropped.append(str(child_path))
                lost[field.name] = e.reason
                continue
            in_order, last = in_order and last <= field.index, field.index
        if not t.ordered:
            # The properties are alternatives: an emptied choice no longer says anything.
            if any_child and not kept:
                raise _Lost(str(path), f"none of its alternatives exists in EnterpriseData {self.target.version}")
            return
        if not in_order:
            # A stable sort: repeated elements (table rows) keep their relative order.
            new[:] = [el for _, el in sorted(kept, key=lambda pair: pair[0])]
        if required:
            present = Counter(i for i, _ in kept)
            for i, name, least in required:
                if present[i] < least:
                    reason = lost.get(name, f"required in EnterpriseData {self.target.version} but missing")
                    raise Unconvertible(f"{path}/{name}", reason)

    def not_allowed(self, value: str, t: ValueType | None) -> str:
        allowed = f"the values of {t.name}" if t is not None and t.name else "its allowed values"
        return f"{value!r} is not one of {allowed} in EnterpriseData {self.target.version}"


@cache
def _tables(target: FormatIndex, source_ns: str) -> dict:
    """Per target type (by identity: inline types have no name), what `_Walker.table` built."""
    return {}
