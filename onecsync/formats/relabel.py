"""Carry a body object to another version without walking it, when the walk would only rename it
and drop what the target lacks.

Public API: `relabel(element, source, target)`.

`adapt` walks every element in Python (about 1 ms an object). Most objects need nothing but their
namespace changed, and the fields the target version no longer declares left out (a document's
`Ответственный` from 1.8 to 1.17), and the rest put in the target's order. An object read
straight into the target namespace, with those fields removed and its fields sorted where the
two versions order them differently, is what the walk writes when it is valid per the target's
schema: for an object valid there the walk keeps every element, in its order, with its text, and
drops only the indentation. So: read it into the target namespace without the blanks, make the
changes the walk makes to valid content — drop, sort, and carry a VAT rate between its two shapes
— at the places a table derived from both versions' types names, and let the target's schema
(in C) say whether that is the result. When it is not, the walk decides, as before; and so it
does for the other content the walk changes: a value of type xs:anyType (1.20 has three) that
holds elements, which the walk drops as not a plain value; an element emptied by the drops (an
emptied choice is dropped itself); a comment that moves between its two places (1.10 → 1.11).

What makes the walk differ from a plain rename even on valid content — attributes, elements of
other namespaces, comments, a blank value — is ruled out on the bytes before (see
`protocol.objects`), so this module only sees elements without them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from functools import lru_cache

from lxml import etree

from . import vat
from .adapt import COMMON
from .adapt import Path
from .adapt import comment_to_move
from .adapt import comment_way
from .adapt import move_comment
from .index import FormatIndex
from .index import ObjectType
from .index import TypeDef
from .index import ValueType
from .index import load
from .proof import Doubts
from .proof import moved as comment_moved
from .proof import proved
from .schema import object_schema

_ANY = "xs:anyType"  # the walk takes a property of a built-in type for a plain value
# A VAT rate as the target's schema judged it: (id of its target type, its tag, its content):
# the text of a rate left without children, the text a structure was made from, or the bytes
# of a structure kept as it was. Each is a function of what the rate holds afterwards alone,
# and serializing every rate rewritten to say so was a tenth of a document's cost.
_Rate = tuple[int, str, "str | tuple[str] | bytes"]
# Rates are values of an enumeration: a few dozen contents per type. A bound all the same.
_CHECKED_RATES = 4096


def relabel(element: etree._Element, source: str, target: str,
            valid: bool = False) -> list[str] | None:
    """Make `element` (a body object of `source`, parsed in `target`'s namespace, blanks removed)
    what `adapt` would write for it, and return the paths of what it dropped, named as the walk
    names them; None (the element may be half changed) when only the walk can say.

    With `valid` (the caller knows the object valid per `source`'s schema), the target's schema
    is not asked where `formats.proof` shows the result valid by construction; of the VAT
    rates rewritten, each new content is checked once, with the first object that carries it."""
    guide = _guide(source, target)
    name = etree.QName(element).localname
    plan = guide.roots.get(name)
    if plan is None:
        return None
    way = comment_way(guide.source, guide.target, name)
    moved = way if way is not None and comment_to_move(element, way) else None
    # Whether the result is valid by construction (formats.proof), VAT rates aside.
    proof = proved(source, target, name) if valid else None
    sure = proof is not None and (not moved or comment_moved(source, target, name, way)) \
        and _holds(element, proof)
    if moved:  # as the walk does first; then the group and the object are sorted like all else
        move_comment(element, moved)
    dropped: list[str] = []
    schema = object_schema(target)
    if not moved and not plan.rewrites:
        # No value here the walk rewrites: valid as it is, it has nothing to drop or sort
        # (either would make it invalid here) — most catalogs, checked once.
        if sure and not plan.places or not sure and schema.validate(element):
            return dropped
        if not plan.places:
            return None
    rates: list[_Rate] = []
    if plan.places and not guide.carry(element, plan, name, dropped, rates):
        return None
    if moved:
        t = guide.target.object_type(name)
        guide.sort(element, t)
        if moved == "in":  # into the group, which `comment_way` found declared as an object type
            group = guide.target.resolve(next(p for p in t.properties if p.name == COMMON))
            if isinstance(group, ObjectType):
                guide.sort(element.find(guide.ns + COMMON), group)
    if sure and guide.checked.issuperset(rates):
        return dropped
    if not schema.validate(element):
        return None
    if sure and len(guide.checked) < _CHECKED_RATES:
        # A rate's validity is its type's and its content's alone: the next object with the
        # same rate of the same type needs no check for it.
        guide.checked.update(rates)
    return dropped


@dataclass(eq=False)
class _Plan:
    """What the walk changes in valid content below an element of one type (of the source, as
    the target declares it): children it drops, the order it sorts them into, and the children
    to go down to (a VAT rate, an xs:anyType value, or a type with a plan of its own)."""

    drop: frozenset[str]
    order: dict[str, int] | None  # by tag, when the source orders the shared fields otherwise
    steps: dict[str, TypeDef | str | _Plan]
    rewrites: bool = False  # a VAT rate or an xs:anyType value somewhere below
    # The tags `_Guide.carry` looks for below an object of this type (a root's plan only):
    # what is dropped, rewritten or sorted anywhere below.
    hits: tuple[str, ...] = ()

    @property
    def places(self) -> bool:
        return bool(self.drop or self.order or self.steps)


# Below a field, as the plans are built: the (source, target) type pair to go down to, by
# identity, or the place itself (a VAT rate, an xs:anyType value).
_Sub = tuple[int, int] | TypeDef | str


class _Guide:
    """Every object type's plan for one pair of versions, built once from both versions' types."""

    def __init__(self, source: FormatIndex, target: FormatIndex) -> None:
        self.source, self.target = source, target
        # The rates rewritten (see _Rate) that the target's schema accepted: the process's
        # history, which decides whether the schema is asked, never the result (the schemas
        # `schema.py` writes have no identity constraints, nor ID or QName values; a rate's
        # validity is its type's and its content's): tests/test_convert_history.py.
        self.checked: set[_Rate] = set()
        self.ns = ns = f"{{{target.namespace}}}"
        self.orders: dict[int, dict[str, int]] = {}
        pairs: dict[tuple[int, int], tuple[ObjectType, ObjectType, list[tuple[str, _Sub]]]] = {}
        todo = [(source.object_type(n), target.object_type(n)) for n in target.object_types
                if isinstance(source.types.get(n), ObjectType)]
        roots = {n: (id(source.types[n]), id(target.types[n])) for n in target.object_types
                 if isinstance(source.types.get(n), ObjectType)}
        while todo:
            s, t = todo.pop()
            if (id(s), id(t)) in pairs:
                continue
            theirs = {p.name: p for p in s.properties}
            subs: list[tuple[str, _Sub]] = []
            for p in t.properties:
                sub = target.resolve(p)
                q = theirs.get(p.name)
                src = source.resolve(q) if q is not None else None
                if isinstance(sub, ObjectType) and isinstance(src, ObjectType):
                    todo.append((src, sub))
                    subs.append((ns + p.name, (id(src), id(sub))))
                elif _is_place(sub):
                    subs.append((ns + p.name, sub))
            pairs[(id(s), id(t))] = (s, t, subs)
        plans: dict[tuple[int, int], _Plan] = {}
        for key, (s, t, _) in pairs.items():
            declared = {p.name for p in t.properties}
            index = self.order(t)
            shared = [index[ns + p.name] for p in s.properties if p.name in declared]
            sort = t.ordered and s.ordered and shared != sorted(shared)
            plans[key] = _Plan(frozenset(ns + p.name for p in s.properties if p.name not in declared),
                               index if sort else None, {})
        # The types may be recursive (a group of groups): a fixed point over all of them.
        grown = True
        while grown:
            grown = False
            for key, (_, _, subs) in pairs.items():
                plan = plans[key]
                for tag, below in subs:
                    if tag in plan.steps:
                        continue
                    if not isinstance(below, tuple):
                        plan.steps[tag] = below
                    elif plans[below].places:
                        plan.steps[tag] = plans[below]
                    else:
                        continue
                    grown = True
        grown = True
        while grown:
            grown = False
            for plan in plans.values():
                if not plan.rewrites and any(not isinstance(sub, _Plan) or sub.rewrites
                                             for sub in plan.steps.values()):
                    plan.rewrites = grown = True
        self.roots = {n: plans[key] for n, key in roots.items()}
        for plan in self.roots.values():
            plan.hits = tuple(sorted({t for p in _below(plan) for t in _acted_on(p)}))

    def order(self, t: ObjectType) -> dict[str, int]:
        """The place of each field of `t` by tag (a name given twice: its last place, as the walk)."""
        order = self.orders.get(id(t))
        if order is None:
            order = self.orders[id(t)] = {self.ns + p.name: i for i, p in enumerate(t.properties)}
        return order

    def sort(self, el: etree._Element, t: ObjectType) -> None:
        """Sort the children of `el` into the order of `t`, as the walk does (stably: rows stay)."""
        if t.ordered:
            order = self.order(t)
            el[:] = sorted(el, key=lambda c: order.get(c.tag, -1))

    def carry(self, root: etree._Element, plan: _Plan, path: str, dropped: list[str],
              rates: list[_Rate] | None = None) -> bool:
        """Make the walk's changes below `root`; False where only the walk can. Each VAT rate
        rewritten goes into `rates` (see _Rate).

        The elements the walk would change are found in one pass in C (`iter` over the tags
        the plans below name), each placed by its ancestors' tags on the plans: going down
        the plans in Python, child by child, was most of a document's cost."""
        hits = list(root.iter(*plan.hits)) if plan.hits else []
        gone: dict[etree._Element, list[etree._Element]] = {}
        found, sorts = [], []
        for el in hits:
            chain, up = [], el.getparent()
            while up is not root and up is not None:
                chain.append(up)
                up = up.getparent()
            if up is None:  # the root itself (iter yields it too)
                continue
            at: _Plan | None = plan
            for a in reversed(chain):  # the plans from the root down to el's parent
                down = at.steps.get(a.tag) if at is not None else None
                at = down if isinstance(down, _Plan) else None
            if at is None:
                continue  # not where the walk goes, or below what it drops or rewrites
            tag = el.tag
            if tag in at.drop:
                where: Path | str = path
                for a in reversed(chain):
                    where = Path(where, a)
                dropped.append(str(Path(where, el)))
                gone.setdefault(el.getparent(), []).append(el)
                continue
            sub = at.steps.get(tag)
            if isinstance(sub, _Plan):
                if sub.order is not None:
                    sorts.append((el, sub.order))
            elif sub == _ANY:
                if any(isinstance(c.tag, str) for c in el):
                    return False
            elif isinstance(sub, (ObjectType, ValueType)):
                found.append((el, sub))
        for parent, children in gone.items():
            if len(children) == len(parent):
                return False  # emptied: the walk drops an emptied choice, and says so
        for el, kind in found:
            rate = _carry_rate(el, kind, self.target)
            if rate is None:
                return False
            if rates is not None:
                rates.append((id(kind), el.tag, rate))
        for parent, children in gone.items():
            for child in children:
                parent.remove(child)
        if plan.order is not None:
            sorts.append((root, plan.order))
        for el, order in sorts:
            el[:] = sorted(el, key=lambda c: order.get(c.tag, -1))
        return True


def _holds(root: etree._Element, doubts: Doubts) -> bool:
    """Whether `root`'s elements of the tags `formats.proof` doubts hold what it asks."""
    if not doubts:
        return True
    for el in root.iter(*doubts):
        where = doubts[el.tag]
        if None in where:
            return False
        up = el.getparent()
        if up is None or up.tag not in where:
            continue  # the root itself, or a field this tag names where it is proved
        bound = where[up.tag]
        if bound is None or len(el):
            return False
        text = el.text or ""
        if text not in bound if isinstance(bound, frozenset) else len(text) > bound:
            return False
    return True


def _below(plan: _Plan) -> list[_Plan]:
    """`plan` and every plan below it, once each (the plans may be recursive)."""
    seen: dict[int, _Plan] = {}
    todo = [plan]
    while todo:
        p = todo.pop()
        if id(p) not in seen:
            seen[id(p)] = p
            todo += [s for s in p.steps.values() if isinstance(s, _Plan)]
    return list(seen.values())


def _acted_on(plan: _Plan) -> list[str]:
    """The tags of `plan`'s children that `carry` changes: dropped, rewritten, or sorted."""
    return [*plan.drop, *(t for t, s in plan.steps.items()
                          if not isinstance(s, _Plan) or s.order is not None)]


@cache
def _guide(source: str, target: str) -> _Guide:
    return _Guide(load(source), load(target))
def _carry_rate(el: etree._Element, kind: TypeDef,
                index: FormatIndex) -> str | tuple[str] | bytes | None:
    """The walk's VAT step (`adapt._Walker.convert`) for one element, and what the rate holds
    then (see _Rate); None where the walk would drop it."""
    if isinstance(kind, ObjectType):  # the target wants the structure
        if len(el):
            return etree.tostring(el)  # already a structure: the schema judges it
        value = (el.text or "").strip()
        if not value:
            return el.text or ""  # no value: the schema judges it
        fields = _structure(value)
        if not fields:
            return None
        el.text = None
        tag = el.tag
        ns = tag[:tag.index("}") + 1]
        for name, text in fields:
            etree.SubElement(el, ns + name).text = text
        return (value,)
    if not len(el):  # the target wants the enumeration value, and has one
        return el.text or ""
    code = vat.code_of(el)
    in_force = index.enumeration_in_force(kind)
    if code is None or in_force is not None and code not in in_force.enumerations:
        return None
    el[:] = []
    el.text = code
    return code


@lru_cache(maxsize=256)  # bounded: the text is the sender's
def _structure(value: str) -> tuple[tuple[str, str], ...] | None:
    """`vat.to_structure`, once per value (a message holds a handful of rates)."""
    fields = vat.to_structure(value)
    return tuple(fields) if fields else None


def _is_place(t: TypeDef | str) -> bool:
    return t == _ANY or _is_rate(t)


def _is_rate(t: TypeDef | str) -> bool:
    return isinstance(t, ObjectType) and t.name == vat.STRUCTURE_TYPE or \
        isinstance(t, ValueType) and t.name == vat.ENUM_TYPE
