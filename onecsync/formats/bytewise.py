"""Carry a stored body object to another version on its bytes, where `relabel` would change it
only at places its tags name: no parse, no serialization.

Public API: `bytewise(xml, source, target)`.

`relabel` parses an object into the target's namespace without its blanks, drops the fields the
target lacks, rewrites VAT rates, moves a comment, sorts, and writes it out again: for a 10 KB
document the parse and the writing were half of the cost. The bytes are what lxml wrote (the
state holds nothing else), so the same result is the bytes without their indentation and with
those few changes spliced in, where they can be placed without a tree: for an object valid in
its own version (the caller vouches, as for `formats.proof`), by tag, and by the tag of the
element's parent where `relabel` treats the tag otherwise under different parents. Per pair of
versions and object type a table says what to do with each tag (found by one regular expression,
in C): drop it (named by its one possible path), rewrite it as a VAT rate, check its value as
`formats.proof` doubts it, move it (the object's comment, into a group that is the target's last
field), or decline. Anything else — a sort, another move, a path that needs an index, an entity
or a blank text where it matters, a rate content the target's schema has not judged yet,
xs:anyType — returns None, and the caller takes the parse path, which decides as before. The
result is byte for byte what the parse path writes (tests/test_convert_bytewise.py holds it to
the walk)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field
from functools import cache

from . import vat
from .adapt import COMMENT
from .adapt import COMMON
from .adapt import comment_way
from .index import ObjectType
from .index import TypeDef
from .index import load
from .proof import moved
from .proof import proved
from .relabel import _ANY
from .relabel import _guide
from .relabel import _Plan
from .relabel import _structure

# The blanks lxml keeps between tags (the indentation 1C writes), which relabel's parse drops.
_BLANKS = re.compile(rb">[ \t\n]+<")
# After the blanks are gone: a start tag closed at once. It held a blank text (or none), which
# the parse keeps (and the walk then decides on) or writes as an empty tag. Sought in the bytes
# reversed, where it is an end tag's "></" not followed by its "</" but by a start tag's name:
# the search then starts at "></" only, not at every "<" (8 µs instead of 14 over 10 KB).
_EMPTIED = re.compile(rb"/<>[^/<>]++<")
# Text that starts with a blank, or with a character reference: `protocol.objects` sends such
# an object to the walk (which strips a value).
BLANK_TEXT = re.compile(rb">(?:[ \t\r\n]|&#)")
# The prefixes whose declarations a stored object leaves to the envelope (protocol.envelope):
# an element in one of them is not the body's, and `protocol.objects` refuses to read it so.
_FOREIGN = re.compile(rb"<(?:msg|xsi?):")
_STEPS = 48  # tags stepped back over to find a parent
_RATES = 256  # contents of a rate kept per tag: bounded, the contents are the sender's
_RATE_FIELD = re.compile(rb"<([^<>/]+)>([^<&]*)</\1>")


@dataclass
class _Tag:
    """What `relabel` does with an element of one tag, wherever the object's types allow it."""

    drop: str | None = None  # its path below the object, when it is dropped
    move: bool = False  # the object's own comment, to move into the group (_Table.group)
    rate: TypeDef | None = None  # the target's type, when it is a VAT rate to rewrite
    # What its value must be where `formats.proof` doubts it (a value the target's enumeration
    # lists, or a length), each bound it has under its parents: within all, it holds under any.
    # None: present, only the parse path can say.
    doubt: tuple[frozenset | int, ...] | None = ()
    close: bytes = b""
    # Where the tag is treated otherwise under one parent than under another, or doubted: what
    # to do under each parent's tag (the occurrence's parent found in the bytes, see _parent).
    parents: dict[bytes, _Tag] | None = None
    # A rate's contents met so far, with what `_rate` made of them (a message holds a handful).
    rates: dict[bytes, tuple[bytes | None, object] | None] = field(default_factory=dict)


@dataclass
class _Table:
    """The tags of one object type, for one pair of versions, that the bytes need acted on."""

    tags: dict[bytes, _Tag] = field(default_factory=dict)
    find: re.Pattern | None = None  # an occurrence of any of `tags`
    comment: bytes | None = None  # a tag whose presence means the comment may have to move
    # Moved into the group instead (1.10 → 1.11 and on, see adapt.move_comment), where the group
    # is the target's last field: the object's own comment, taken out, closes the object in it.
    group: bytes | None = None


def bytewise(xml: bytes, source: str, target: str) -> tuple[bytes, list[str]] | None:
    """What `protocol.objects.convert(xml, source, target, valid=True)` returns for `xml` (a
    stored object of `source`, valid per its schema, without markup: `convert` asks only then),
    or None where only the parse path can say."""
    end = xml.find(b">")
    name = xml[1:end]
    if not xml.startswith(b"<") or not name or b" " in name or b"/" in name or b"\r" in xml \
            or _FOREIGN.search(xml) is not None or xml.count(b"<" + name) != 1 \
            or not xml.endswith(b"</" + name + b">"):
        return None
    table = _table(source, target, name.decode(errors="replace"))
    if table is None or table.comment is not None and table.comment in xml:
        return None
    out = _BLANKS.sub(b"><", xml)
    if _EMPTIED.search(out[::-1]) is not None or BLANK_TEXT.search(out) is not None:
        return None
    if table.find is None:
        return out, []
    edits: list[tuple[int, int, bytes]] = []
    dropped: list[str] = []
    rates: list = []
    comment = b""
    for m in table.find.finditer(out):
        tag = table.tags[m.group(1)]
        start, empty = m.start(), out[m.end()] == 0x2F  # "/"
        if tag.parents is not None:
            under = tag.parents.get(_parent(out, start))
            if under is None:
                return None
            tag = under
        if empty:
            stop, content = m.end() + 2, b""
        else:
            stop = out.find(tag.close, m.end())
            content = out[m.end() + 1:stop]
            stop += len(tag.close)
            if tag.close[1:-1].replace(b"/", b"<", 1) in content:
                return None  # the tag within itself: its first end tag may not be its own
        if tag.doubt != () and not _holds(tag.doubt, content):
            return None
        if tag.move:
            if comment:
                return None
            comment = out[start:stop]
            edits.append((start, stop, b""))
        elif tag.drop is not None:
            if edits and edits[-1][1] > start:
                continue  # inside what is dropped already
            edits.append((start, stop, b""))
            dropped.append(tag.drop)
        elif tag.rate is not None:
            if edits and edits[-1][1] > start:
                continue
            if content in tag.rates:
                carried = tag.rates[content]
            else:
                carried = _rate(tag.rate, content, target)
                if len(tag.rates) < _RATES:
                    tag.rates[content] = carried
            if carried is None:
                return None
            new, key = carried
            rates.append((id(tag.rate), tag.close[2:-1], key))
            if new is not None:
                edits.append((start, stop, b"<" + tag.close[2:] + new + tag.close))
    guide = _guide(source, target)
    if rates and not guide.checked.issuperset(_keys(rates, guide.ns)):
        return None  # a content the target's schema has not judged yet: the parse path does
    if comment and table.group is not None:
        end = len(out) - len(name) - 3  # before the object's end tag
        edits.append((end, end, b"<" + table.group + b">" + comment + b"</" + table.group + b">"))
    if not edits:
        return out, dropped
    parts: list[bytes] = []
    at = 0
    for start, stop, new in edits:
        if not new and _emptied(out, start, stop, edits):
            return None  # the walk drops an emptied element itself, and says so
        parts += (out[at:start], new)
        at = stop
    parts.append(out[at:])
    return b"".join(parts), dropped


def _parent(out: bytes, start: int) -> bytes:
    """The tag of the element the element at `start` is in: the nearest start tag before it
    not closed again, found by stepping back over its elder siblings' tags (a few, mostly);
    b"" past a bound (the caller declines, no occurrence costs more than that)."""
    at, closed = start, 0
    for _ in range(_STEPS):
        at = out.rfind(b"<", 0, at)
        if out[at + 1] == 0x2F:  # "/": an end tag, of a sibling (or of one of its children)
            closed += 1
        elif out[out.find(b">", at) - 1] != 0x2F:  # a start tag (not an empty one)
            if not closed:
                return out[at + 1:out.find(b">", at)]
            closed -= 1
    return b""


def _keys(rates: list, ns: str) -> list:
    # relabel's keys (_Rate) name the tag in the target's namespace.
    return [(kind, ns + tag.decode(), key) for kind, tag, key in rates]


def _holds(doubt: tuple[frozenset | int, ...] | None, content: bytes) -> bool:
    if doubt is None or b"<" in content or b"&" in content:
        return False
    text = content.decode(errors="replace")  # (lxml wrote UTF-8; else the parse path says)
    return all(text in b if isinstance(b, frozenset) else len(text) <= b for b in doubt)


def _emptied(out: bytes, start: int, stop: int, edits: list[tuple[int, int, bytes]]) -> bool:
    """Whether the drops around [start, stop) leave their parent without children."""
    first = start
    while True:
        before = next((e for e in edits if e[1] == first and not e[2]), None)
        if before is None:
            break
        first = before[0]
    last = stop
    while True:
        after = next((e for e in edits if e[0] == last and not e[2]), None)
        if after is None:
            break
        last = after[1]
    opened = out.rfind(b"<", 0, first)
    return out[opened + 1] != 0x2F and out[first - 2] != 0x2F and out.startswith(b"</", last)


def _rate(kind: TypeDef, content: bytes, target: str) -> tuple[bytes | None, object] | None:
    """The new content of a VAT rate (None: as it is) and relabel's key for it (_carry_rate)."""
    if b"&" in content:
        return None
    children = b"<" in content
    if isinstance(kind, ObjectType):  # the target wants the structure
        if children:
            return None  # kept as it is; its key would be its serialization: the parse path
        value = content.decode(errors="replace").strip()
        if not value:
            return None, content.decode(errors="replace")
        fields = _structure(value)
        if not fields or any(c in t for _, t in fields for c in "<>&"):
            return None
        return b"".join(f"<{n}>{t}</{n}>".encode() for n, t in fields), (value,)
    if not children:
        return None, content.decode(errors="replace")
    found = _RATE_FIELD.findall(content)
    if b"".join(b"<%s>%s</%s>" % (n, t, n) for n, t in found) != content:
        return None
    code = vat.to_code({n.decode(errors="replace"): t.decode(errors="replace").strip()
                        for n, t in found})
    in_force = load(target).enumeration_in_force(kind)
    if code is None or in_force is not None and code not in in_force.enumerations:
        return None
    return code.encode(), code


@cache
def _table(source: str, target: str, name: str) -> _Table | None:
    """The table for objects of type `name`, or None where the bytes cannot do (see module)."""
    s_index = load(source)
    guide = _guide(source, target)
    plan = guide.roots.get(name)
    doubts = proved(source, target, name)
    root = s_index.types.get(name)
    if plan is None or doubts is None or not isinstance(root, ObjectType) or plan.order:
        return None
    ns = guide.ns
    table = _Table()
    way = comment_way(guide.source, guide.target, name)
    target_root = guide.target.types.get(name)
    if way == "in" and moved(source, target, name, way) and isinstance(target_root, ObjectType) \
            and root.ordered and target_root.ordered and target_root.properties[-1].name == COMMON:
        table.group = COMMON.encode()
    elif way is not None:
        table.comment = f"<{COMMENT}".encode()
    # Every (source type, plan, element tag) an object of this type can hold, once each, with
    # what `relabel.carry` does to each field of it there, and how each is reached.
    states: dict[_State, list[tuple[str, object, bool]]] = {}
    into: dict[_State, list[tuple[_State, str, bool]]] = {}
    first: _State = (id(root), id(plan), ns + name)
    todo: list[tuple[ObjectType, _Plan | None, str]] = [(root, plan, ns + name)]
    while todo:
        s, at, tag = todo.pop()
        state = (id(s), id(at), tag)
        if state in states:
            continue
        # An open type admits other namespaces' elements; a stored object can only hold one
        # with a declaration (a "=", which `protocol.objects` sends to the walk) or a prefix of
        # the envelope's (refused above): in the bytes taken here, every element is the body's.
        fields = states[state] = []
        for p in s.properties:
            sub, t = s_index.resolve(p), ns + p.name
            if sub == _ANY:
                return None
            step = at.steps.get(t) if at is not None else None
            what: object = None
            if at is not None and t in at.drop:
                what = "drop"
            elif isinstance(step, _Plan):
                what = "sort" if step.order is not None else None
            elif step == _ANY:
                what = "any"
            elif step is not None:
                what = step  # a VAT rate's target type
            fields.append((p.name, what, p.max == 1))
            if isinstance(sub, ObjectType):
                down = step if isinstance(step, _Plan) else None
                into.setdefault((id(sub), id(down), t), []).append((state, p.name, p.max == 1))
                todo.append((sub, down, t))
    paths = _paths(first, into)
    found: dict[str, list[tuple[object, str, str | None]]] = {}
    for state, fields in states.items():
        for local, what, single in fields:
            here = paths.get(state)
            path = f"{here}/{local}" if here is not None and single else None
            found.setdefault(local, []).append((what, state[2], path))
    for local, places in found.items():
        where = doubts.get(ns + local)
        entry = _entry(local, places, where, name)
        under: dict[str, list] = {}
        for place in places:
            under.setdefault(place[1], []).append(place)
        if entry is not None and entry.doubt != () and len(under) > 1:
            # Doubted, or not alike everywhere: judged under the occurrence's parent instead.
            entry = _Tag(close=entry.close, parents={
                parent[len(ns):].encode(): _entry(local, group, where, name) or _Tag(close=entry.close)
                for parent, group in under.items()})
        if entry is not None:
            table.tags[local.encode()] = entry
    if table.group is not None:
        entry = table.tags.get(COMMENT.encode())
        own = entry.parents.get(name.encode()) if entry is not None and entry.parents else entry
        if own is None or own.drop is None or own.doubt is None:
            table.group, table.comment = None, f"<{COMMENT}".encode()
        else:
            own.move = True
    if table.tags:
        table.find = re.compile(b"<(" + _trie(sorted(table.tags)) + b")(?=[>/])")
    return table


def _trie(words: list[bytes]) -> bytes:
    """An alternation of `words` (sorted, distinct) with their common prefixes factored out:
    tried at every "<", a flat one of a hundred tags tests each in turn (most of them start with
    the same byte in UTF-8), this one a byte or two of each."""
    if len(words) == 1:
        return re.escape(words[0])
    if not words[0]:
        return b"(?:" + _trie(words[1:]) + b")?"
    groups: dict[int, list[bytes]] = {}
    for w in words:
        groups.setdefault(w[0], []).append(w[1:])
    return b"(?:" + b"|".join(re.escape(bytes([c])) + _trie(rest)
                              for c, rest in groups.items()) + b")"


_State = tuple[int, int, str]  # ids of a source type and of its plan, and the element's tag


def _paths(first: _State, into: dict[_State, list[tuple[_State, str, bool]]]) -> dict[_State, str]:
    """The one path (below the object) of each state reached one way only, through fields that
    occur once at most: how `relabel` names a field dropped there (no index: never repeated)."""
    paths: dict[_State, str] = {first: ""}
    grown = True
    while grown:
        grown = False
        for state, ways in into.items():
            if state in paths or len(ways) != 1 or state is first:
                continue
            parent, local, single = ways[0]
            if single and parent in paths and parent is not state:
                paths[state] = f"{paths[parent]}/{local}"
                grown = True
    return paths


def _entry(local: str, places: list[tuple[object, str, str | None]],
           where: dict | None, name: str) -> _Tag | None:
    """What to do with the tag `local` found anywhere in the object (see _Tag), given what
    `relabel.carry` does with it at each of its `places` (what, parent tag, path when dropped)
    and what `formats.proof` doubts of it by parent tag (`where`)."""
    entry = _Tag(close=f"</{local}>".encode())
    acted = {id(what) if not isinstance(what, str) else what for what, _, _ in places} - {id(None)}
    if where is not None:
        parents = {parent for _, parent, _ in places}
        bounds = {where[p] for p in parents if p in where}
        if None in where or None in bounds:
            acted.add("bail")
        elif bounds:
            entry.doubt = tuple(bounds)
    if not acted:
        return entry if entry.doubt != () else None
    kinds = {what for what, _, _ in places if what is not None}
    if len(acted) > 1 or acted & {"bail", "sort", "any"} or \
            any(what is None for what, _, _ in places):
        entry.doubt = None  # present: only the parse path can say
        return entry
    what = kinds.pop()
    if what == "drop":
        paths = {path for _, _, path in places}
        if len(paths) != 1 or None in paths:
            entry.doubt = None
        else:
            entry.drop = f"{name}{paths.pop()}"
    else:
        entry.rate = what  # type: ignore[assignment]
    return entry
