"""Carry a body object to another version without walking it, when the walk would only rename it.

Public API: `relabel(element, target)`.

`adapt` walks every element in Python (about 1 ms an object). Most objects need nothing but their
namespace changed: what both versions declare alike. Such an object, read straight into the target
namespace, is already valid per the target's schema; and for an object valid there the walk keeps
every element, in its order, with its text, and drops only the indentation. So: read it into the
target namespace without the blanks, apply the one change the walk makes to valid content (a VAT
rate between its two shapes, at the places the target's types put one), and let the target's
schema (in C) say whether that is the result. When it is not, the walk decides, as before; and
so it does for the one other valid content the walk changes: a value of type xs:anyType (1.20
has three) that holds elements, which the walk drops as not a plain value.

What makes the walk differ from a plain rename even on valid content — attributes, elements of
other namespaces, comments, a blank value — is ruled out on the bytes before (see
`protocol.objects`), so this module only sees elements without them.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from . import vat
from .index import FormatIndex
from .index import ObjectType
from .index import TypeDef
from .index import ValueType
from .index import load
from .schema import object_schema

_ANY = "xs:anyType"  # the walk takes a property of a built-in type for a plain value


def relabel(element: etree._Element, target: str) -> bool:
    """Make `element` (a body object of another version, parsed in `target`'s namespace, blanks
    removed) what `adapt` would write for it; False (the element may be half changed) when only the walk
    can say, True when it is done: nothing dropped, and valid per the target's schema."""
    guide = _guide(target)
    t = guide.index.types.get(etree.QName(element).localname)
    if not isinstance(t, ObjectType) or not guide.carry(element, t):
        return False
    return bool(object_schema(target).validate(element))


class _Guide:
    """The way to every place of a version's objects where the walk changes valid content (a
    VAT rate, an xs:anyType value): for each object type that holds one somewhere below it, the
    children to go down to (a table built once per version)."""

    def __init__(self, index: FormatIndex) -> None:
        self.index = index
        self.steps: dict[int, dict[str, TypeDef]] = {}
        below: dict[int, tuple[ObjectType, list[tuple[str, TypeDef]]]] = {}
        todo = [t for t in index.types.values() if isinstance(t, ObjectType)]
        while todo:
            t = todo.pop()
            if id(t) in below:
                continue
            subs = [(f"{{{index.namespace}}}{p.name}", p.inline or index.types.get(p.type, p.type))
                    for p in t.properties]
            below[id(t)] = (t, subs)
            todo += [sub for _, sub in subs if isinstance(sub, ObjectType)]
        # The types may be recursive (a group of groups): a fixed point over all of them.
        rated = {key for key, (_, subs) in below.items() if any(_is_place(sub) for _, sub in subs)}
        grown = True
        while grown:
            grown = False
            for key, (_, subs) in below.items():
                if key not in rated and any(id(sub) in rated for _, sub in subs):
                    rated.add(key)
                    grown = True
        for key in rated:
            self.steps[key] = {tag: sub for tag, sub in below[key][1]
                               if _is_place(sub) or id(sub) in rated}

    def carry(self, el: etree._Element, t: ObjectType) -> bool:
        """Make the walk's changes below `el` (of type `t`); False where only the walk can."""
        steps = self.steps.get(id(t))
        if steps:
            for child in el:
                sub = steps.get(child.tag)
                if sub is None:
                    continue
                if sub == _ANY:
                    if any(isinstance(c.tag, str) for c in child):
                        return False
                elif _is_rate(sub):
                    if not _carry_rate(child, sub, self.index):
                        return False
                elif not self.carry(child, sub):
                    return False
        return True


@cache
def _guide(version: str) -> _Guide:
    return _Guide(load(version))


def _carry_rate(el: etree._Element, kind: TypeDef, index: FormatIndex) -> bool:
    """The walk's VAT step (`adapt._Walker.convert`) for one element; False where it would drop it."""
    if isinstance(kind, ObjectType):  # the target wants the structure
        if len(el) or not (el.text or "").strip():
            return True  # already a structure (or no value): the schema judges it
        fields = vat.to_structure(el.text.strip())
        if not fields:
            return False
        el.text = None
        ns = etree.QName(el).namespace
        for name, text in fields:
            etree.SubElement(el, f"{{{ns}}}{name}").text = text
        return True
    if not len(el):  # the target wants the enumeration value, and has one
        return True
    code = vat.code_of(el)
    in_force = index.enumeration_in_force(kind)
    if code is None or in_force is not None and code not in in_force.enumerations:
        return False
    el[:] = []
    el.text = code
    return True


def _is_place(t: TypeDef | str) -> bool:
    return t == _ANY or _is_rate(t)


def _is_rate(t: TypeDef | str) -> bool:
    return isinstance(t, ObjectType) and t.name == vat.STRUCTURE_TYPE or \
        isinstance(t, ValueType) and t.name == vat.ENUM_TYPE
