"""Read an EnterpriseData message as a stream: the header first, then one body object at a time.

Public API: `MessageReader(stream, source, progress)`, `BodyObject`, `normalize_object(el, body_ns)`.

Memory stays flat whatever the size of the body: every object is serialized and cleared as soon
as its end tag is parsed, and the parsed siblings are dropped from the tree. The Body is parsed
by object, not by element (protocol.bodyscan): the parser reports the format's object types
alone, and what it does not report is judged between two chunks of input. Parsing never
resolves entities, loads a DTD or touches the network, and a document that carries a DTD is
refused before the parser sees it. What the parser would build before anyone could judge it is
bounded while the bytes go in: a start tag's attributes (markup.MarkupGuard), the header's
repeats (1C's occurrence limits) and size (HEADER_LIMIT).

Objects are kept as *namespace-relative* XML: the bytes of the element as 1C wrote them, minus
the declarations of the body namespace and of the three prefixes 1C declares on the root
(`msg`, `xs`, `xsi`). Spliced into any `<Body xmlns="…/1.x">` whose root declares those
prefixes, they mean the same object again, so a relay never re-parses what it forwards.
"""

from __future__ import annotations

import hashlib
from typing import IO
from typing import Any
from typing import Iterator

from lxml import etree

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.progress import Task
from onecsync.protocol import limits
from onecsync.protocol.bodyscan import OPTIONS
from onecsync.protocol.bodyscan import BodyScan
from onecsync.protocol.bodyscan import Tape
from onecsync.protocol.bodyscan import clear_all as _clear
from onecsync.protocol.bodyshape import BodyObject
from onecsync.protocol.envelope import MSG_NS
from onecsync.protocol.envelope import Header
from onecsync.protocol.envelope import judge_header
from onecsync.protocol.envelope import local_name
from onecsync.protocol.envelope import problem_text
from onecsync.protocol.envelope import too_many
from onecsync.protocol.keys import KEYS
from onecsync.protocol.keys import read_keys
from onecsync.protocol.limits import TOO_LARGE
from onecsync.protocol.normal import normalize_object  # noqa: F401 (its public API)
from onecsync.protocol.normal import object_ref
from onecsync.protocol.normal import own_namespaces
from onecsync.protocol.normal import serialize
from onecsync.protocol.prolog import Prefixed
from onecsync.protocol.prolog import sniff

# The header is held whole while it is read (1C's own is a few KB; one listing 30,000 object types
# is about 4 MB): past this it is refused before it can fill the memory.
HEADER_LIMIT = 8 * 1024 * 1024
_MSG = f"{{{MSG_NS}}}"
DELETION = "УдалениеОбъекта"


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
        self._tape = Tape(self._input)
        self._events = etree.iterparse(self._tape, events=("start", "end"), **OPTIONS)
        self._root: Any = None
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
        # libxml2's advice (XML_PARSE_HUGE) is not the admin's to take: the bound stays on.
        msg = msg.replace(", use XML_PARSE_HUGE option", " (elements nested that deep; 1C nests "
                          "about ten)")
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

        What the Body holds is judged in message order: an element that is not an object of
        the message's format, or text between the objects, is a malformed message, refused
        before anything after it is staged (protocol.bodyscan, the hot loop of a big message).
        """
        self._events = None  # the Header's parser: the Body's reads the file again (a Tape)
        yield from BodyScan(self).elements()

    def _own_prefix(self) -> str | None:
        """'{namespace}' of the message's format, which every Body child's tag starts with."""
        return f"{{{formats.namespace(self.header.version)}}}" if self.header.version else None

    def extensions(self) -> tuple[str, ...]:
        """The format extensions' namespaces, which Format lists after the format (XS 2281)."""
        return tuple(self.header.format.split()[1:])

    raw: bytes | None = None  # the bytes the object just yielded was read from, when sure
    oversized = 0  # bytes of the object just yielded, when it passed OBJECT_LIMIT or TAG_LIMIT
    crowded = 0  # its markup items (`<`, `=` weighted), when they passed TAG_LIMIT

    def _check_body(self, el) -> None:
        """A Body in another namespace than its Format's holds no object of that format: 1C
        would skip them all, and the message would pass for an empty one."""
        if self.header.version is None:
            return
        ns = formats.namespace(self.header.version)
        if el.tag != f"{{{ns}}}Body":
            raise MessageRejected(f"the Body is in namespace {etree.QName(el).namespace!r}, "
                                  f"but Format says {ns}", source=self.source)

    def _object(self, el, ns: str, index) -> BodyObject:
        tag, own = el.tag, f"{{{ns}}}"
        if tag.startswith(own):
            namespace, type_name = ns, tag[len(own):]
        else:
            local_name(el, self.source)
            qname = etree.QName(el)
            namespace, type_name = qname.namespace, qname.localname
        if namespace != ns:  # a format extension's (`elements` refused any other)
            type_name = f"{{{namespace}}}{type_name}"
        if self.oversized:  # named as it would be under the limit
            return self._too_large(el, ns, type_name)
        if namespace != ns:
            return self._untaken(el, ns, type_name, f"an object of the format extension "
                                 f"{namespace}, which onecsync does not know")
        if type_name not in index.object_types:
            return self._untaken(el, ns, type_name, f"{type_name} is not an object type of "
                                 f"EnterpriseData {index.version}")
        if type_name == DELETION:
            return self._deletion(el, ns, index)
        xml, el = self._bytes(el, ns)
        keys = read_keys(el, ns, type_name)
        if keys is None:  # named by its digest: of the bytes any onecsync stores it as
            xml = serialize(el, ns)
            digest = hashlib.sha256(xml).hexdigest()[:32]
            return BodyObject(type_name, "~" + digest, "object", xml, digest, el.sourceline,
                              problem="the object has no КлючевыеСвойства")
        digest = hashlib.sha256(xml).hexdigest()[:32]
        # 1C may leave Ссылка out and match by search fields; the key properties are then the
        # object's identity for us too.
        ref = keys.ref or "~" + hashlib.sha256(etree.tostring(keys.element)).hexdigest()[:32]
        return BodyObject(type_name, ref, "object", xml, digest, el.sourceline,
                          self._schema_problem(el, index), keys.number, keys.date, keys.inn)

    def _bytes(self, el, ns: str) -> tuple[bytes, Any]:
        """The object's namespace-relative bytes, and the element its keys are read from: the
        bytes it was read from where they are sure to be it (protocol.rawbytes), else
        serialized."""
        raw, self.raw = self.raw, None
        own = own_namespaces(el)
        if raw is not None and own is el:
            return raw, el
        return serialize(own, ns), own

    def _untaken(self, el, ns: str, type_name: str, what: str, kind: str = "object",
                 ref: str | None = None) -> BodyObject:
        """What 1C skips (a type its format lacks) is parked, not dropped: kept in the state
        with its bytes, never sent on, and counted where a human looks (the run's line, exit 7,
        `status`), rather than confirmed to the base as delivered while nobody took it."""
        el = own_namespaces(el)
        xml = serialize(el, ns)
        digest = hashlib.sha256(xml).hexdigest()[:32]
        ref = ref or object_ref(el, ns) or "~" + digest
        problem = (f"{what}: 1C skips it, and so does onecsync (kept here, not sent on); "
                   "if it matters, have the bases exchange it in a version that has it")
        return BodyObject(type_name, ref, kind, xml, digest, el.sourceline, problem=problem)

    def _too_large(self, el, ns: str, type_name: str) -> BodyObject:
        """Parked by its keys alone (what protocol.bodyscan kept of them): the rest of the
        message goes on."""
        el = own_namespaces(el)
        xml = serialize(el, ns)
        digest = hashlib.sha256(xml).hexdigest()[:32]
        # Named as the object whole is (`_object`): what bodyscan kept of its keys holds the
        # Ссылка `object_ref` finds, else the first КлючевыеСвойства to hash.
        keys = el.find(f"{{{ns}}}{KEYS}")
        ref = object_ref(el, ns) if keys is not None else None
        if ref is None and keys is not None:
            ref = "~" + hashlib.sha256(etree.tostring(keys)).hexdigest()[:32]
        size = (f"{limits.TAG_LIMIT:,} tags ({self.crowded:,} in the message, an attribute "
                f"counting as {limits.ATTRIBUTE_WEIGHT}; 1C's largest documents have about a "
                "million)" if self.crowded else
                f"{limits.OBJECT_LIMIT >> 20} MiB ({self.oversized >> 20} MiB in the message)")
        problem = (f"{TOO_LARGE} {size}: parked by its key properties alone; make it smaller in "
                   "the base (or its attachments), then register it again")
        kind = "delete" if type_name == DELETION else "object"
        return BodyObject(type_name, ref or "~" + digest, kind, xml, digest, el.sourceline,
                          problem=problem)

    def _schema_problem(self, el, index) -> str | None:
        if not self.check_schema or formats.object_schema(index.version)(el):
            return None
        first = formats.validate_object(index.version, el)[0]
        return f"not valid per EnterpriseData {index.version}: {first.path}: {first.message}"

    def _deletion(self, el, ns: str, index) -> BodyObject:
        xml, el = self._bytes(el, ns)
        target = el.find(f"{{{ns}}}СсылкаНаОбъект/{{{ns}}}СсылкаНаОбъект")
        ref_el = next((c for c in target if isinstance(c.tag, str)), None) \
            if target is not None else None
        if ref_el is None or not (ref_el.text or "").strip():
            xml = serialize(el, ns)  # named by its digest, as in `_object`
            digest = hashlib.sha256(xml).hexdigest()[:32]
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
        digest = hashlib.sha256(xml).hexdigest()[:32]
        return BodyObject(target_type, ref_el.text.strip().lower(), "delete", xml, digest,
                          el.sourceline, problem=self._schema_problem(el, index))
