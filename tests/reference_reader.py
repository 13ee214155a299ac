"""The message reader as it was before its Body was parsed by object (commit 08edd14: reader.py,
with the normal.py and keys.py it called), frozen as the reference that
tests/test_reader_equivalence.py holds the real one to, object for object and byte for byte.

Do not "fix" or share code with onecsync here: its worth is that it stays the old behaviour.
The one change: OBJECT_LIMIT is read from onecsync.protocol.limits when it is used, so that a
test can lower it for both readers.
"""
# ruff: noqa
# mypy: ignore-errors
from __future__ import annotations

import functools
import hashlib
from copy import deepcopy
from dataclasses import dataclass
from typing import IO
from typing import Iterator

from lxml import etree

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.progress import EVERY
from onecsync.progress import Task
from onecsync.protocol.bodyshape import NOT_OBJECTS
from onecsync.protocol.bodyshape import BodyObject
from onecsync.protocol.bodyshape import judge_child
from onecsync.protocol.bodyshape import text_between
from onecsync.protocol.envelope import MSG_NS
from onecsync.protocol.envelope import Header
from onecsync.protocol.envelope import judge_header
from onecsync.protocol.envelope import local_name
from onecsync.protocol.envelope import problem_text
from onecsync.protocol.envelope import too_many
from onecsync.protocol.envelope import ROOT_NSMAP
from onecsync.protocol import limits
from onecsync.protocol.limits import TOO_LARGE
from onecsync.protocol.prolog import Prefixed
from onecsync.protocol.prolog import sniff

# The header is held whole while it is read (1C's own is a few KB; one listing 30,000 object types
# is about 4 MB): past this it is refused before it can fill the memory.
HEADER_LIMIT = 8 * 1024 * 1024
_MSG = f"{{{MSG_NS}}}"
KEYS = "КлючевыеСвойства"
# A body object read from more bytes than this is cleared with `_clear` (a plain clear() is
# quicker for the usual few KB).
LARGE_OBJECT = 64 * 1024
DELETION = "УдалениеОбъекта"


def _clear(el, keep_tail: bool = False) -> None:
    """`el.clear()` in time linear in its size. Cleared at once, an element parsed by iterparse
    whose subtree is large (30,000 declared object types, a table of 30,000 rows) takes time
    quadratic in it inside lxml (4 s, 60 s at 100,000); its children cleared first, 0.02 s."""
    for child in el:
        child.clear()
    el.clear(keep_tail=keep_tail)


def _is_keys(el) -> bool:
    return isinstance(el.tag, str) and el.tag.endswith("}" + KEYS)



class _Malformed(MessageRejected):
    """The parser's own error: it names the place, so it is never taken for a cut file's end."""


class MessageReader:
    """Streams one message: `header` is read on construction, `objects()` yields the body."""

    def __init__(self, stream: IO[bytes], source: str, progress: Task | None = None,
                 check_schema: bool = False) -> None:
        # check_schema: objects that 1C's schema of their version refuses are marked for
        # parking, so that one bad object never makes a base refuse our whole message.
        self.check_schema = check_schema
        self.source = source
        self._progress = progress or Task()
        head = sniff(stream, source)
        self._input = Prefixed(head, stream, source)
        self._events = etree.iterparse(
            self._input, events=("start", "end"), resolve_entities=False,
            no_network=True, load_dtd=False, huge_tree=False, remove_comments=True,
            remove_pis=True)
        self._root = None
        self._body = None
        try:
            self.header: Header = self._read_header()
        except MessageRejected as exc:
            raise self._judged(exc) from None

    def _judged(self, exc: MessageRejected) -> MessageRejected:
        """A problem found once the whole file was parsed is one of a file that ends early:
        what the parser makes of the last, cut tag (a root named 'Messa', no Header yet)."""
        if self._input.at_end and not isinstance(exc, _Malformed):
            exc.ends_early = True
        return exc

    def _next(self):
        try:
            return next(self._events)
        except StopIteration:
            raise MessageRejected("the message ends before its Body is complete",
                                  source=self.source, ends_early=True) from None
        except etree.XMLSyntaxError as exc:
            raise self._malformed(exc) from None

    def _malformed(self, exc: etree.XMLSyntaxError) -> MessageRejected:
        lineno = getattr(exc, "lineno", None)
        line = f" at line {lineno}" if lineno else ""
        msg = str(getattr(exc, "msg", exc) or exc).split(", line ")[0]
        # libxml2 reports a cut document only once the stream has ended, on its last line; an
        # error met while data was still coming (a NUL, a bad byte) is in the file itself.
        return _Malformed(f"malformed XML{line}: {msg}", source=self.source,
                          ends_early=self._input.at_end and lineno == self._input.lines)

    def _read_header(self) -> Header:
        event, el = self._next()
        self._root = el
        # Second line of defence behind sniff: whatever slipped past it, a document with a DTD
        # never gets further than its root element.
        docinfo = el.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.system_url:
            raise MessageRejected("the message has a DTD (<!DOCTYPE>); DTDs and entities are "
                                  "refused", source=self.source)
        if local_name(el, self.source) != "Message":
            raise MessageRejected(f"the root element is {local_name(el)!r}, "
                                  "not 'Message'", source=self.source)
        event, el = self._next()
        if event != "start" or local_name(el, self.source) != "Header":
            raise MessageRejected("the message does not start with a Header",
                                  source=self.source)
        if el.tag != f"{_MSG}Header":
            raise MessageRejected(f"the Header is in namespace {etree.QName(el).namespace!r}, "
                                  f"not {MSG_NS}", source=self.source)
        self._read_to_end_of_header()
        header = self._parse_header(el)
        _clear(el)
        return header

    def _read_to_end_of_header(self) -> None:
        """Parse on to </Header>, refusing as soon as the header outgrows 1C's schema (101
        AvailableVersion) or HEADER_LIMIT, so that a flood in it never fills the memory."""
        start, depth = self._input.count, 1
        counts: dict[str, int] = {}
        while depth:
            event, el = self._next()
            if event == "end":
                depth -= 1
            else:
                depth += 1
                if depth == 2 and el.tag.startswith(_MSG):
                    name = el.tag[len(_MSG):]
                    counts[name] = counts.get(name, 0) + 1
                    too_many("Header", name, counts[name], self.source)
            if self._input.count - start > HEADER_LIMIT:
                raise MessageRejected(f"the Header is larger than {HEADER_LIMIT >> 20} MiB "
                                      "(1C writes a few KB)", source=self.source)

    def _parse_header(self, el) -> Header:
        """The Header element, parsed in full, to its model, or the first of its problems
        (`onecsync validate` overrides it to list them all)."""
        header, problems = judge_header(el, self.source)
        if header is None or problems:  # no header comes without its problems
            raise MessageRejected(problem_text(problems[0]), source=self.source)
        return header

    def objects(self) -> Iterator[BodyObject]:
        """Yield every body object; a settings-only message (no Body) yields nothing."""
        if self.header.version is None:  # the run reads no Body of a settings-only message
            return
        ns = formats.namespace(self.header.version)
        index = formats.load(self.header.version)
        try:
            for el in self.elements():
                yield self._object(el, ns, index)
        except MessageRejected as exc:
            raise self._judged(exc) from None

    def elements(self) -> Iterator[etree._Element]:
        """Yield every child of the Body, parsed in full; it is cleared once the consumer moves
        on, so only one object is ever held in memory.

        What the Body holds is judged as each child starts (`_judge_child`): an element that is
        not an object of the message's format, or text between the objects, is a malformed
        message, refused before anything of it is staged. The hot loop of a big message (two
        events per element): it iterates the parser directly, with nothing but the depth to keep
        per event.
        """
        count, bodies = 0, 0
        own = self._own_prefix()
        while True:
            event, el = self._next()
            if event == "end":  # </Message>
                self._drain()
                self._progress.update(count, self._input.count)
                return
            name, line = local_name(el, self.source), el.sourceline
            if name == "Body" and bodies:
                raise MessageRejected(f"a second Body at line {line} (a message has one Header "
                                      "and one Body)", source=self.source)
            if name != "Body":
                raise MessageRejected(
                    f"unexpected element {name!r} after the Body, at line {line} (a message has "
                    "one Header and one Body)" if bodies else
                    f"unexpected element {name!r} after the Header, at line {line} (a message "
                    "has one Header and one Body)", source=self.source)
            bodies += 1
            self._check_body(el)
            self._body = body = el
            depth, begun, current = 1, 0, None
            try:
                for event, el in self._events:
                    if event == "start":
                        depth += 1
                        if depth == 2:
                            begun, current = self._input.count, el
                            self.oversized = 0
                            if own is not None and not el.tag.startswith(own) \
                                    or el.tag[len(own or ""):] in NOT_OBJECTS:
                                judge_child(el, self.header, self.source)
                            text_between(el.getprevious(), body, self.source)
                        continue
                    depth -= 1
                    if depth >= 2:  # inside an object
                        if self.oversized or self._input.count - begun > limits.OBJECT_LIMIT:
                            self._drop_fields(current, el)
                        continue
                    if depth == 1:
                        if self.oversized:
                            self.oversized = self._input.count - begun
                        yield el
                        # The tail stays: the parser may have read it already, and
                        # `_text_between` looks at it when the next object starts.
                        if self._input.count - begun > LARGE_OBJECT:
                            _clear(el, keep_tail=True)
                        else:
                            el.clear(keep_tail=True)
                        while el.getprevious() is not None:
                            del body[0]
                        count += 1
                        if count % EVERY == 0:
                            self._progress.update(count, self._input.count)
                    elif depth == 0:  # </Body>
                        text_between(body[-1] if len(body) else None, body, self.source)
                        break
                else:
                    raise MessageRejected("the message ends before its Body is complete",
                                          source=self.source, ends_early=True)
            except etree.XMLSyntaxError as exc:
                raise self._malformed(exc) from None

    def _own_prefix(self) -> str | None:
        """'{namespace}' of the message's format, which every Body child's tag starts with."""
        return f"{{{formats.namespace(self.header.version)}}}" if self.header.version else None

    def extensions(self) -> tuple[str, ...]:
        """The format extensions' namespaces, which Format lists after the format (XS 2281)."""
        return tuple(self.header.format.split()[1:])

    oversized = 0  # bytes of the object being read, once they passed OBJECT_LIMIT

    def _drop_fields(self, obj, el) -> None:
        """The object passed OBJECT_LIMIT: what it holds and will hold is dropped as it is
        parsed, its КлючевыеСвойства aside (they still say which object it was). Only what
        the events have reached is touched: the parser may have built further already."""
        top = el  # the field of the object el is in (still open, unless it is el)
        while top.getparent() is not obj:
            top = top.getparent()
        if not self.oversized:
            self.oversized = 1
            for child in top.itersiblings(preceding=True):  # the fields already read
                if not _is_keys(child):
                    _clear(child)
        if _is_keys(top):
            return
        el.clear()
        parent, prev = el.getparent(), el.getprevious()
        while prev is not None and not _is_keys(prev):
            parent.remove(prev)
            prev = el.getprevious()

    def _check_body(self, el) -> None:
        """A Body in another namespace than its Format's holds no object of that format: 1C
        would skip them all, and the message would pass for an empty one."""
        if self.header.version is None:
            return
        ns = formats.namespace(self.header.version)
        if el.tag != f"{{{ns}}}Body":
            raise MessageRejected(f"the Body is in namespace {etree.QName(el).namespace!r}, "
                                  f"but Format says {ns}", source=self.source)

    def _drain(self) -> None:
        try:
            for _ in self._events:  # anything after </Message> is a syntax error worth reporting
                pass
        except etree.XMLSyntaxError as exc:
            raise self._malformed(exc) from None

    def _object(self, el, ns: str, index) -> BodyObject:
        local_name(el, self.source)
        qname = etree.QName(el)
        type_name = qname.localname
        if self.oversized:
            return self._too_large(el, ns, type_name)
        if qname.namespace != ns:  # a format extension's (`elements` refused any other)
            return self._untaken(el, ns, f"{{{qname.namespace}}}{type_name}",
                                 f"an object of the format extension {qname.namespace}, "
                                 "which onecsync does not know")
        if type_name not in index.object_types:
            return self._untaken(el, ns, type_name, f"{type_name} is not an object type of "
                                 f"EnterpriseData {index.version}")
        if type_name == DELETION:
            return self._deletion(el, ns, index)
        el = own_namespaces(el)
        xml = normalize_object(el, ns)
        digest = hashlib.sha256(xml).hexdigest()[:32]
        keys = read_keys(el, ns, type_name)
        if keys is None:
            return BodyObject(type_name, "~" + digest, "object", xml, digest, el.sourceline,
                              problem="the object has no КлючевыеСвойства")
        # 1C may leave Ссылка out and match by search fields; the key properties are then the
        # object's identity for us too.
        ref = keys.ref or "~" + hashlib.sha256(etree.tostring(keys.element)).hexdigest()[:32]
        return BodyObject(type_name, ref, "object", xml, digest, el.sourceline,
                          self._schema_problem(el, index), keys.number, keys.date, keys.inn)

    def _untaken(self, el, ns: str, type_name: str, what: str, kind: str = "object",
                 ref: str | None = None) -> BodyObject:
        """What 1C skips (a type its format lacks) is parked, not dropped: kept in the state
        with its bytes, never sent on, and counted where a human looks (the run's line, exit 7,
        `status`), rather than confirmed to the base as delivered while nobody took it."""
        el = own_namespaces(el)
        xml = normalize_object(el, ns)
        digest = hashlib.sha256(xml).hexdigest()[:32]
        ref = ref or object_ref(el, ns) or "~" + digest
        problem = (f"{what}: 1C skips it, and so does onecsync (kept here, not sent on); "
                   "if it matters, have the bases exchange it in a version that has it")
        return BodyObject(type_name, ref, kind, xml, digest, el.sourceline, problem=problem)

    def _too_large(self, el, ns: str, type_name: str) -> BodyObject:
        """Parked by its keys alone: the rest of the message goes on."""
        for child in list(el):
            if not _is_keys(child):
                el.remove(child)
        el = own_namespaces(el)
        xml = normalize_object(el, ns)
        digest = hashlib.sha256(xml).hexdigest()[:32]
        ref = object_ref(el, ns) if el.find(f"{{{ns}}}{KEYS}") is not None else None
        problem = (f"{TOO_LARGE} {limits.OBJECT_LIMIT >> 20} MiB ({self.oversized >> 20} MiB in the "
                   "message): parked by its key properties alone; make it smaller in the base "
                   "(or its attachments), then register it again")
        kind = "delete" if type_name == DELETION else "object"
        return BodyObject(type_name, ref or "~" + digest, kind, xml, digest, el.sourceline,
                          problem=problem)

    def _schema_problem(self, el, index) -> str | None:
        if not self.check_schema or formats.object_schema(index.version).validate(el):
            return None
        first = formats.validate_object(index.version, el)[0]
        return f"not valid per EnterpriseData {index.version}: {first.path}: {first.message}"

    def _deletion(self, el, ns: str, index) -> BodyObject:
        el = own_namespaces(el)
        xml = normalize_object(el, ns)
        digest = hashlib.sha256(xml).hexdigest()[:32]
        target = el.find(f"{{{ns}}}СсылкаНаОбъект/{{{ns}}}СсылкаНаОбъект")
        ref_el = next((c for c in target if isinstance(c.tag, str)), None) \
            if target is not None else None
        if ref_el is None or not (ref_el.text or "").strip():
            return BodyObject(DELETION, "~" + digest, "delete", xml, digest, el.sourceline,
                              problem="the deletion names no object")
        ref_name = etree.QName(ref_el)
        target_type = index.ref_element_to_type(ref_name.localname) \
            if ref_name.namespace == ns else None
        if target_type is None:
            what = f"{{{ref_name.namespace}}}{ref_name.localname}" \
                if ref_name.namespace != ns else ref_name.localname
            return self._untaken(el, ns, DELETION, f"a deletion of a {what[:120]}, a reference "
                                 f"no object type of EnterpriseData {index.version} has",
                                 kind="delete", ref=(ref_el.text or "").strip().lower()[:200])
        return BodyObject(target_type, ref_el.text.strip().lower(), "delete", xml, digest,
                          el.sourceline, problem=self._schema_problem(el, index))

# --- normal.py ---
_STANDARD_DECLS = [f' xmlns:{p}="{uri}"'.encode() for p, uri in ROOT_NSMAP.items()]
# What an object of a message as 1C writes it has in scope: the root's three and the Body's own.
_STANDARD_PREFIXES = frozenset({None, *ROOT_NSMAP})
_XSI_TYPE = f"{{{ROOT_NSMAP['xsi']}}}type"


def object_ref(el, ns: str) -> str | None:
    ref = el.find(f"{{{ns}}}КлючевыеСвойства/{{{ns}}}Ссылка")
    if ref is not None and (ref.text or "").strip():
        return ref.text.strip().lower()
    return None


def normalize_object(el, body_ns: str) -> bytes:
    """The namespace-relative bytes of a body object (see the module docstring)."""
    el = own_namespaces(el)
    raw = etree.tostring(el, encoding="utf-8", with_tail=False)
    end = raw.index(b">")
    start_tag = raw[:end]
    start_tag = start_tag.replace(f' xmlns="{body_ns}"'.encode(), b"", 1)
    for decl in _STANDARD_DECLS:
        start_tag = start_tag.replace(decl, b"", 1)
    if f'="{body_ns}"'.encode() in start_tag or el.prefix is not None:
        return _rebuild(el, body_ns)  # the body namespace is bound to a prefix: rare, slow path
    return start_tag + raw[end:]


def own_namespaces(el):
    """`el`, or a copy declaring only the namespaces it uses when more are in scope than 1C
    declares. Serialized (or validated) in place, an element carries every declaration in
    scope: 4,000 unused ones on the root would go into every staged object and every message
    relayed (a 0.5 MB message, an 80 MB state), and make each schema check copy them."""
    if el.getparent() is None or _STANDARD_PREFIXES.issuperset(el.nsmap):
        return el
    # A copy declares what its names use; a prefix named only in an xsi:type value is used too.
    scope = el.nsmap
    named = {p for e in el.iter(etree.Element) if ":" in (v := e.get(_XSI_TYPE, ""))
             for p in (v.partition(":")[0],) if p in scope}
    copy = deepcopy(el)
    if named:
        etree.cleanup_namespaces(copy, top_nsmap={p: scope[p] for p in named},
                                 keep_ns_prefixes=sorted(named))
    return copy


def _rebuild(el, body_ns: str) -> bytes:
    nsmap: dict[str | None, str] = {None: body_ns}
    nsmap.update(ROOT_NSMAP)

    def copy(src, parent):
        tag = etree.QName(src)
        name = f"{{{body_ns}}}{tag.localname}" if tag.namespace == body_ns else src.tag
        dst = etree.Element(name, nsmap=nsmap) if parent is None \
            else etree.SubElement(parent, name)
        dst.attrib.update(src.attrib)
        dst.text = src.text
        dst.tail = src.tail if parent is not None else None
        for child in src:
            if isinstance(child.tag, str):
                copy(child, dst)
        return dst

    return normalize_object(copy(el, None), body_ns)


# --- keys.py ---
# The key properties `_first_children` picks.
_FIELDS = ("Ссылка", "ИНН", "Номер", "Дата", "Контрагент")


@dataclass(frozen=True)
class Keys:
    element: object  # the КлючевыеСвойства element
    ref: str | None  # the Ссылка, lowercased; None when 1C left it out
    number: str | None
    date: str | None
    inn: str | None  # the counterparty's own, or that of the counterparty it names


@dataclass(frozen=True)
class _Paths:
    keys: str
    their_inn: str  # Контрагент/ИНН
    names: dict  # the tag of each of _FIELDS → its local name


@functools.cache
def _paths(ns: str) -> _Paths:
    return _Paths(f"{{{ns}}}{KEYS}", f"{{{ns}}}Контрагент/{{{ns}}}ИНН",
                  {f"{{{ns}}}{name}": name for name in _FIELDS})


def _first_children(keys, names: dict) -> dict:
    found: dict = {}
    for child in keys:
        name = names.get(child.tag)
        if name is not None and name not in found:
            found[name] = child
    return found


def _value(node) -> str | None:
    value = (node.text or "").strip() if node is not None else ""
    return value[:200] or None


def read_keys(el, ns: str, type_name: str) -> Keys | None:
    """The object's keys; None when it has no КлючевыеСвойства."""
    paths = _paths(ns)
    keys = el.find(paths.keys)
    if keys is None:
        return None
    found = _first_children(keys, paths.names)
    ref_el = found.get("Ссылка")
    text = (ref_el.text or "").strip() if ref_el is not None else ""
    # Not in the first КлючевыеСвойства: wherever object_ref finds it (the schema allows one).
    ref = text.lower() if text else object_ref(el, ns)
    inn = _value(found.get("ИНН")) if "Контрагент" in type_name else None
    inn = inn or _value(el.find(paths.their_inn)) or (
        _value(keys.find(paths.their_inn)) if "Контрагент" in found else None)
    return Keys(keys, ref, _value(found.get("Номер")), _value(found.get("Дата")), inn)
