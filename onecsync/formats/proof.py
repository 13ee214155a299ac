"""Which body object types `relabel` turns into objects valid per the target's schema by
construction, so that an object known valid per its own version's schema needs no check there.

Public API: `proved(source, target, name)`, `moved(source, target, name, way)`.

`relabel` reads the object into the target's namespace, drops the fields the target does not
declare, sorts the shared ones into the target's order and rewrites VAT rates. For an object
valid per the source's schema, the result is valid per the target's when, for every pair of
types the two versions give one element (the object's, then each shared field's, down):
- both are sequences, or both choices, on the same base, with no name declared twice;
- each shared field's occurrences fit the target's bounds whatever the source's allowed
  (its lower bound no higher, its upper no lower), and a field only the target declares is
  optional in a sequence; an empty choice the source allows the target allows too;
- the field's types are such a pair again; or two value types whose values the target's all
  admits (the same definition, or its enumeration a superset of the source's, or its facets
  wider); or the target's xs:anyType (relabel leaves an element inside one to the walk).
Where that fails below the object, the tag it is reached by is doubtful: an object with no
element of that tag is proved all the same, and one whose elements of that tag (under a parent
of the tag the field's type is reached by) hold only values the target's enumeration lists (or
no longer than its maxLength), when that is the only difference, too. An object with any
other doubtful element is checked by the target's schema.
A VAT rate `relabel` rewrites from one shape to the other is the one exception: its new
content is a function of its value alone, which `relabel` checks by example (see there). A
comment moved between its two places is proved apart (`moved`). Drops that empty an element,
and all that `protocol.objects` sends to the walk (attributes, other namespaces, blank values)
are never relabelled unchecked.

Proved once per pair of versions and object type (`_Prover`).
"""

from __future__ import annotations

from functools import cache

from .adapt import COMMENT
from .adapt import COMMON
from .index import FormatIndex
from .index import ObjectType
from .index import Prop
from .index import TypeDef
from .index import ValueType
from .index import load

_ANY = "xs:anyType"
_RATES = ("КлючевыеСвойстваСтавкиНДС", "СтавкиНДС")  # vat.STRUCTURE_TYPE, vat.ENUM_TYPE


# What an element of a doubtful tag must hold for the proof to stand: one of these values,
# at most this many characters, or (None) nothing at all: the target's schema decides.
Doubt = frozenset | int | None
Doubts = dict[str, dict[str | None, Doubt]]


@cache
def proved(source: str, target: str, name: str) -> Doubts | None:
    """For an object of type `name` valid in `source`: None when its relabelled form needs the
    target's schema whatever it holds; else the tags (in the target's namespace) whose elements
    must hold what their `Doubt` says, by their parent's tag (None: under any parent), for it to
    be valid in `target` without the check."""
    s, t = load(source).types.get(name), load(target).types.get(name)
    if not (isinstance(s, ObjectType) and isinstance(t, ObjectType)):
        return None
    return _prover(source, target).root(s, t)


@cache
def moved(source: str, target: str, name: str, way: str) -> bool:
    """Whether an object of type `name` valid in `source` stays valid in `target` with its
    comment moved `way` (`adapt.move_comment`), given `proved` holds for the rest of it: "in",
    into a group the source does not declare, made for it, that needs nothing else; "out", to
    the object's own field, from a group that holds one at most and the target drops."""
    s_index, t_index = load(source), load(target)
    s, t = s_index.types.get(name), t_index.types.get(name)
    if not (isinstance(s, ObjectType) and isinstance(t, ObjectType)):
        return False
    theirs, ours = {q.name: q for q in s.properties}, {p.name: p for p in t.properties}
    prover = _prover(source, target)
    if way == "in":
        if COMMON in theirs or COMMENT not in theirs or COMMENT in ours or COMMON not in ours:
            return False
        group = _resolve(t_index, ours[COMMON])
        if not isinstance(group, ObjectType) or not group.ordered:
            return False
        field = next((p for p in group.properties if p.name == COMMENT), None)
        return field is not None and theirs[COMMENT].max == 1 and ours[COMMON].max != 0 \
            and all(p.min == 0 for p in group.properties if p is not field) \
            and prover._values(_resolve(s_index, theirs[COMMENT]), _resolve(t_index, field))
    if COMMENT in theirs or COMMON in ours or COMMENT not in ours or COMMON not in theirs:
        return False
    group = _resolve(s_index, theirs[COMMON])
    field = next((p for p in group.properties if p.name == COMMENT), None) \
        if isinstance(group, ObjectType) else None
    return field is not None and field.max == 1 and ours[COMMENT].max != 0 \
        and prover._values(_resolve(s_index, field), _resolve(t_index, ours[COMMENT]))


@cache
def _prover(source: str, target: str) -> _Prover:
    return _Prover(load(source), load(target))


class _Prover:
    """Goes down every pair of types the two versions give one element, once each (types may
    recurse: a group of groups), and notes where the proof does not hold. Nothing propagates up:
    a pair that fails makes the tag it is reached by doubtful, and an object without an element
    of that tag never holds that pair; only the object's own pair failing fails it whole."""

    def __init__(self, source: FormatIndex, target: FormatIndex) -> None:
        self.source, self.target = source, target
        self.ns = f"{{{target.namespace}}}"
        # Per pair, once whatever object types share it: the pairs below, and the doubts of
        # its own fields (None: the pair may not hold).
        self.pairs: dict[tuple[int, int], tuple[list, dict[str, Doubt]] | None] = {}

    def root(self, s: ObjectType, t: ObjectType) -> Doubts | None:
        doubts: Doubts = {}
        seen: set[tuple[int, int, str]] = set()
        root = self.ns + t.name if t.name else ""
        todo: list[tuple[ObjectType, ObjectType, str | None]] = [(s, t, None)]
        while todo:
            s, t, tag = todo.pop()
            key = (id(s), id(t))
            if key not in self.pairs:
                here: dict[str, Doubt] = {}
                below = self._pair(s, t, here)
                self.pairs[key] = None if below is None else (below, here)
            pair = self.pairs[key]
            if pair is None:  # by whichever tag it is reached, under whatever parent
                if tag is None:
                    return None
                doubts.setdefault(tag, {})[None] = None
            elif (*key, tag or root) not in seen:
                seen.add((*key, tag or root))
                for k, v in pair[1].items():
                    _doubt(doubts.setdefault(k, {}), tag or root, v)
                todo += pair[0]
        return doubts

    def _pair(self, s: ObjectType, t: ObjectType, doubts: dict[str, Doubt]
              ) -> list[tuple[ObjectType, ObjectType, str]] | None:
        """The pairs of object types below (s, t), with the tags they are reached by, noting
        in `doubts` the values that need a look; None when the pair itself may not hold."""
        if s.ordered != t.ordered or s.base != t.base or t.abstract or s.abstract:
            return None
        if s.base is not None and not s.base.startswith("msg:"):
            return None  # a base in the package would add fields these lists do not show
        theirs = {q.name: q for q in s.properties}
        ours = {p.name: p for p in t.properties}
        if len(theirs) != len(s.properties) or len(ours) != len(t.properties):
            return None
        if any(p.form not in (None, "Element") for p in (*s.properties, *t.properties)):
            return None
        if not t.ordered and any(q.min == 0 for q in s.properties) \
                and not any(p.min == 0 for p in t.properties):
            return None
        below: list[tuple[ObjectType, ObjectType, str]] = []
        for p in t.properties:
            q = theirs.get(p.name)
            if q is None:
                if t.ordered and p.min > 0:
                    return None
                continue
            tag = self.ns + p.name
            if p.min > q.min:
                return None
            if p.max is not None and (q.max is None or q.max > p.max):
                doubts[tag] = None  # more of them than the target takes: present at all, check
                continue
            a, b = _resolve(self.source, q), _resolve(self.target, p)
            if b == _ANY:
                continue
            if isinstance(a, ObjectType) and isinstance(b, ObjectType):
                below.append((a, b, tag))
            elif _rate(b) and _rate(a) and type(a) is not type(b):
                continue  # rewritten by relabel; checked by example there
            elif not self._values(a, b):
                _doubt(doubts, tag, self._bound(a, b))
        return below

    def _bound(self, a: TypeDef | str, b: TypeDef | str) -> Doubt:
        """What a value of `a` must be to be one of `b` too, when a plain look can tell."""
        if not (isinstance(a, ValueType) and isinstance(b, ValueType)) or a.variety != b.variety \
                or a.member_types != b.member_types or a.base != b.base \
                or a.base is not None and not self._values(_named(self.source, a.base),
                                                           _named(self.target, b.base)):
            return None
        rest_a = tuple(f for f in a.facets if f[0] != "maxLength")
        rest_b = tuple(f for f in b.facets if f[0] != "maxLength")
        if b.enumerations and rest_a == rest_b and a.facets == b.facets:
            return frozenset(b.enumerations)
        if a.enumerations == b.enumerations and _narrower(rest_a, rest_b):
            longest = dict(b.facets).get("maxLength", "")
            return int(longest) if longest.isdigit() else None
        return None

    def _values(self, a: TypeDef | str, b: TypeDef | str) -> bool:
        """Whether every value of `a` (a source type) is one of `b` (a target type)."""
        if isinstance(a, str) or isinstance(b, str):
            return isinstance(a, str) and a == b  # a built-in, or the envelope's, by name
        if not (isinstance(a, ValueType) and isinstance(b, ValueType)):
            return False
        if a.variety != b.variety or not _narrower(a.facets, b.facets):
            return False
        if len(a.member_types) != len(b.member_types) or not all(
                self._values(_named(self.source, x), _named(self.target, y))
                for x, y in zip(a.member_types, b.member_types, strict=True)):
            return False
        if b.enumerations and not (a.enumerations and set(a.enumerations) <= set(b.enumerations)):
            return False
        if (a.base is None) != (b.base is None):
            return False
        return a.base is None or self._values(_named(self.source, a.base),
                                              _named(self.target, b.base))


# Facets whose value bounds the values from above (a greater one admits more), and below.
_UPPER, _LOWER = frozenset({"maxLength", "totalDigits", "fractionDigits"}), frozenset({"minLength"})


def _narrower(a: tuple[tuple[str, str], ...], b: tuple[tuple[str, str], ...]) -> bool:
    """Whether the facets `a` admit no value that the facets `b` refuse (on the same base)."""
    mine = dict(a)
    if len(mine) + sum(k == "pattern" for k, _ in a) - ("pattern" in mine) != len(a):
        return False  # a facet given twice other than a pattern: not worth reasoning about
    if {v for k, v in a if k == "pattern"} != {v for k, v in b if k == "pattern"}:
        return False
    for k, v in b:
        if k == "pattern":
            continue
        have = mine.get(k)
        if have is None:
            return False
        if k in _UPPER or k in _LOWER:
            if not (have.isdigit() and v.isdigit()):
                return False
            if int(have) > int(v) if k in _UPPER else int(have) < int(v):
                return False
        elif have != v:
            return False
    return True


def _doubt(doubts: dict, tag: str | None, bound: Doubt) -> None:
    """Note `bound` at `tag`; a tag doubtful at two places must satisfy both."""
    if tag not in doubts:
        doubts[tag] = bound
        return
    had = doubts[tag]
    if isinstance(had, int) and isinstance(bound, int):
        doubts[tag] = min(had, bound)
    elif isinstance(had, frozenset) and isinstance(bound, frozenset):
        doubts[tag] = had & bound
    else:  # either says nothing can be proved there, or the two are of different kinds
        doubts[tag] = None


def _resolve(index: FormatIndex, p: Prop) -> TypeDef | str:
    return p.inline or _named(index, p.type)


def _named(index: FormatIndex, name: str | None) -> TypeDef | str:
    return index.types.get(name, name) if name is not None else ""


def _rate(t: TypeDef | str) -> bool:
    return isinstance(t, (ObjectType, ValueType)) and t.name in _RATES
