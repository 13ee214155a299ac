"""Parse a config's YAML text so that no document can hang, exhaust or silently mislead us.

Public API: `load(text, name)` → the plain data, or ConfigError; `MAX_DEPTH`, `MAX_NODES`.
The one module that imports yaml (tests/test_package.py holds the rest of onecsync to it).

PyYAML's safe loader expands every alias into a shared object that the validator then walks as
a tree (a "billion laughs" of nested aliases is a few hundred bytes), recurses once per nesting
level (RecursionError), and keeps the last of two equal keys without a word. The composer below
counts the values as they are composed (an alias costs the expanded size of what it names), so a
bomb is refused after a few hundred events and a flood after MAX_NODES, before anything is
constructed or walked; it bounds the depth and refuses a recursive alias. Then a repeated key is refused with its dotted
path (the walk is bounded by the expanded size).
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


def _repeated_key(node, where: str) -> tuple[str, Any] | None:
    """(dotted path, mark) of the first key given twice in one mapping, at any depth."""
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            if found := _repeated_key(item, f"{where}[{i}]"):
                return found
    elif isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key, value in node.value:
            if key.tag == _MERGE:
                continue  # `<<: *defaults`: keys written beside it override, as YAML means
            text = _key_text(key)
            path = f"{where}.{text}" if where else text
            if isinstance(key, yaml.ScalarNode):
                if (key.tag, key.value) in seen:
                    return path, key.start_mark
                seen.add((key.tag, key.value))
            if found := _repeated_key(value, path):
                return found
    return None


def load(text: str, name: str) -> Any:
    """The YAML document `text` (from the file `name`) as plain dicts, lists and scalars."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if found := _repeated_key(node, ""):
            path, mark = found
            raise ConfigError(f"{name}: {path} is given twice (line {mark.line + 1})",
                              remedy="keep one of them: YAML would silently use the last")
        return loader.construct_document(node)
    except _Refused as exc:
        raise ConfigError(f"{name}: refused at line {exc.mark.line + 1}: {exc}",
                          remedy="write the config out plainly") from None
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{name}: not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None
    finally:
        loader.dispose()
