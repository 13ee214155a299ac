"""Parse a config's YAML text so that no document can hang, exhaust or silently mislead us.

Public API: `load(text, name)` → the plain data, or ConfigError; `load_with_sources(text, name)`
→ the data and the source text of each value and mapping key YAML typed (see `_typed_scalars`),
`Sources`; `MAX_DEPTH`, `MAX_NODES`.
The one module that imports yaml (tests/test_package.py holds the rest of onecsync to it).

PyYAML's safe loader expands every alias into a shared object that the validator then walks as
a tree (a "billion laughs" of nested aliases is a few hundred bytes), recurses once per nesting
level (RecursionError), and keeps the last of two equal keys without a word. The composer below
counts the values as they are composed (an alias costs the expanded size of what it names), so a
bomb is refused after a few hundred events and a flood after MAX_NODES, before anything is
constructed or walked; it bounds the depth and refuses a recursive alias. Then a repeated key is
refused with its dotted path and both lines (the walk is bounded by the expanded size): written
twice in one mapping (a `<<` beside them or not), `<<` twice in one mapping, or set by two of the
mappings one `<<` merges. A key written beside `<<` overrides what it merges, as YAML means: legal.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from onecsync.errors import ConfigError

MAX_DEPTH = 64          # a config is a handful of levels deep
MAX_NODES = 100_000     # values once every alias is expanded; a big mapping section is ~10,000
_MERGE = "tag:yaml.org,2002:merge"
# What YAML typed otherwise than as written → (the text as written, its line): a value by its
# dotted path (`a.b[0]`), a mapping key by (the mapping's dotted path, the key as YAML read it).
Sources = dict[str | tuple[str, Any], tuple[str, int]]


class _Refused(Exception):
    def __init__(self, mark, what: str) -> None:
        super().__init__(what)
        self.mark = mark


try:  # libyaml's parser makes the events 5× faster; the composing is ours either way
    from yaml._yaml import CParser as _Parser
except ImportError:  # PyYAML built without libyaml: its pure-Python reader, scanner and parser
    from yaml.parser import Parser
    from yaml.reader import Reader
    from yaml.scanner import Scanner

    class _Parser(Reader, Scanner, Parser):  # type: ignore[no-redef]  # stands in for CParser
        def __init__(self, text: str) -> None:
            Reader.__init__(self, text)
            Scanner.__init__(self)
            Parser.__init__(self)  # not super(): that is Reader's, which wants the text again


class _Loader(Composer, _Parser, SafeConstructor, Resolver):
    def __init__(self, text: str) -> None:
        _Parser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self._depth = 0
        self._total = 0  # values composed so far, each alias counted as what it names
        self._sizes: dict[int, int] = {}  # id(node) → its expanded size, once it is complete

    def _count(self, mark, size: int) -> None:
        self._total += size
        if self._total > MAX_NODES:
            raise _Refused(mark, f"more than {MAX_NODES:,} values (aliases expanded)")

    def compose_node(self, parent, index):
        event = self.peek_event()
        assert event is not None, "the composer asks for a node only with an event ahead"
        mark = event.start_mark
        if self.check_event(yaml.AliasEvent):
            node = super().compose_node(parent, index)
            if id(node) not in self._sizes:  # anchored on a collection still being composed
                raise _Refused(mark, "an alias refers to the collection that contains it")
            self._count(mark, self._sizes[id(node)])
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(mark, f"nested more than {MAX_DEPTH} levels deep")
        self._count(mark, 1)
        node = super().compose_node(parent, index)
        self._depth -= 1
        self._sizes[id(node)] = 1 + sum(self._sizes[id(child)] for child in _children(node))
        return node


def _children(node) -> list:
    if isinstance(node, yaml.SequenceNode):
        return node.value
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def _key_text(node) -> str:
    return node.value if isinstance(node, yaml.ScalarNode) else f"<{node.id}>"


def _twice(name: str, found: tuple) -> ConfigError:
    """The line for a key given twice, by how it came twice (`_repeated_key`)."""
    how, path, first, second = found
    a, b = first.start_mark.line + 1, second.start_mark.line + 1
    if how == "merged":
        return ConfigError(f"{name}: {path} is given twice through `<<` (lines {a} and {b})",
                           remedy="write the value you mean beside `<<`, or keep the key in one "
                           "of them: YAML would silently use the first")
    return ConfigError(f"{name}: {path} is given twice (lines {a} and {b})",
                       remedy="merge them in one: `<<: [*a, *b]`" if how == "merge"
                       else "keep one of them: YAML would silently use the last")


def _merge_sources(value) -> list:
    """The mappings a `<<` merges: one, or a list of them (anything else PyYAML refuses)."""
    items = value.value if isinstance(value, yaml.SequenceNode) else [value]
    return [n for n in items if isinstance(n, yaml.MappingNode)]


def _keys(node, memo: dict) -> dict:
    """The keys the mapping `node` ends up with, its merges included: (tag, text) → the key
    node that sets it (a key beside `<<` overrides; within a merge the first source wins)."""
    if id(node) not in memo:
        merged: dict = {}
        own = {}
        for key, value in node.value:
            if key.tag == _MERGE:
                for source in _merge_sources(value):
                    for k, where in _keys(source, memo).items():
                        merged.setdefault(k, where)
            elif isinstance(key, yaml.ScalarNode):
                own[(key.tag, key.value)] = key
        memo[id(node)] = {**merged, **own}
    return memo[id(node)]


def _merge_clash(node, explicit: set, where: str, memo: dict) -> tuple | None:
    """A key two merged mappings both set (and none written beside `<<` overrides), or a
    second `<<` in one mapping: (how, path, first key node, second key node)."""
    merges = [(key, value) for key, value in node.value if key.tag == _MERGE]
    if len(merges) > 1:
        return "merge", f"{where}.<<" if where else "<<", merges[0][0], merges[1][0]
    by_key: dict = {}
    for source in (_merge_sources(merges[0][1]) if merges else ()):
        for k, key in _keys(source, memo).items():
            if k in explicit:
                continue
            if k in by_key and by_key[k] is not key:  # one anchor merged twice is no clash
                return "merged", f"{where}.{k[1]}" if where else k[1], by_key[k], key
            by_key.setdefault(k, key)
    return None


def _repeated_key(node, where: str, memo: dict) -> tuple | None:
    """(how, dotted path, first key node, second key node) of the first key given twice in
    one mapping, at any depth: written twice (a merge beside them or not), set by two merged
    mappings, or `<<` itself twice."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if found := _repeated_key(item, f"{where}[{i}]", memo):
                return found
    elif isinstance(node, yaml.MappingNode):
        seen: dict = {}
        for key, value in node.value:
            if key.tag == _MERGE:
                continue  # `<<: *defaults`: keys written beside it override, as YAML means
            text = _key_text(key)
            path = f"{where}.{text}" if where else text
            if isinstance(key, yaml.ScalarNode):
                if (key.tag, key.value) in seen:
                    return "written", path, seen[(key.tag, key.value)], key
                seen[(key.tag, key.value)] = key
            if found := _repeated_key(value, path, memo):
                return found
        return _merge_clash(node, set(seen), where, memo)
    return None


_STR = "tag:yaml.org,2002:str"
_NULL = "tag:yaml.org,2002:null"


def _typed_scalars(node, where: str, out: Sources, budget: list[int], construct) -> None:
    """Every unquoted scalar YAML typed as other than text (a number, a boolean, a date), by its
    dotted path as the config checks name it (`a.b[0]`): (its text as written, its line); and
    every mapping key so typed, by (the mapping's path, the key as `construct` makes it). Run
    on the constructed document, whose mappings have their merges already folded in (the last
    of a key wins, as in the data). `budget` bounds the walk by the values composed."""
    budget[0] -= 1
    if budget[0] < 0:
        return
    if isinstance(node, yaml.ScalarNode):
        if _typed(node):
            out[where] = (node.value, node.start_mark.line + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, child in enumerate(node.value):
            _typed_scalars(child, f"{where}[{i}]", out, budget, construct)
    elif isinstance(node, yaml.MappingNode):
        for key, child in node.value:
            name = _key_text(key)
            if isinstance(key, yaml.ScalarNode) and _typed(key) and key.tag != _MERGE:
                out[(where, construct(key))] = (key.value, key.start_mark.line + 1)
            _typed_scalars(child, f"{where}.{name}" if where else name, out, budget, construct)


def _typed(node) -> bool:
    return node.tag not in (_STR, _NULL) and not node.style  # plain: libyaml says "", PyYAML None


def load(text: str, name: str) -> Any:
    """The YAML document `text` (from the file `name`) as plain dicts, lists and scalars."""
    return load_with_sources(text, name)[0]


def load_with_sources(text: str, name: str) -> tuple[Any, Sources]:
    """`load`, and the text and line of every scalar YAML typed otherwise than as written
    (`_typed_scalars`): `027400000064` is read as the octal 3154116660, `no` as false; a key
    whose value is text names what the admin wrote, not what YAML made of it."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        if found := _repeated_key(node, "", {}):
            raise _twice(name, found)
        data = loader.construct_document(node)
        sources: Sources = {}
        _typed_scalars(node, "", sources, [MAX_NODES], loader.construct_object)
        return data, sources
    except _Refused as exc:
        raise ConfigError(f"{name}: refused at line {exc.mark.line + 1}: {exc}",
                          remedy="write the config out plainly") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{name}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
