"""Walk a message's Body with a parser that reports its objects alone: the reader's hot loop.

Public API: `BodyScan(reader).elements()`, `Tape`, `OPTIONS`, `clear_all(el)`, `is_keys(el)`.

The Body's parser is given the tags of the format's object types, the Body's and the root's,
so it reports two events per object instead of two per element (a catalog of 60 elements was
120 Python iterations). What it does not report is judged at the next event, or where nothing
is left to parse: between two chunks of input, once every event so far was handled. There the
Body's children that no event named (an object of a type the format lacks, an extension's,
what has no place in a Body) are judged in message order, in the reader's words, and what
passed is yielded; an element beside the Body is refused; and an object read from more than
OBJECT_LIMIT bytes or TAG_LIMIT markup items (`<`, and `=` weighted) loses what it holds but the first part of its first
КлючевыеСвойства. So what the parser builds between two such points is one chunk's worth,
whatever the input (the `<` and `=` are counted on each chunk's bytes, in C, as they are fed).

Only what the parser has finished is removed: libxml2 may still append text to the last child
of an open element, so every open element keeps its last child.

The Header was read by a parser of its own, before the format (and so the tags) was known: what
it read is replayed to this one from the Tape, chunk for chunk, so that this parser reads the
same chunks as one parser reading the whole file (the same events, lines and errors).

Where this differs from the reader that saw every element (tests/reference_reader.py): an object
is past OBJECT_LIMIT when the bytes read from its start to its end are (before: once an element
inside it ended past the limit), and an unreported one ends where its end is seen (its tail,
the next element, </Body>); a chunk with malformed XML is refused as that, nothing of it judged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any
from typing import Iterator

from lxml import etree

from onecsync import formats
from onecsync.errors import MessageRejected
from onecsync.progress import EVERY
from onecsync.protocol import limits
from onecsync.protocol.bodyshape import NOT_OBJECTS
from onecsync.protocol.bodyshape import judge_child
from onecsync.protocol.bodyshape import text_between
from onecsync.protocol.envelope import local_name
from onecsync.protocol.keys import KEYS
from onecsync.protocol.prolog import Prefixed
from onecsync.protocol.rawbytes import Held

if TYPE_CHECKING:
    from onecsync.protocol.reader import MessageReader

OPTIONS = dict(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
               remove_comments=True, remove_pis=True)
CHUNK = 32 * 1024  # what lxml's iterparse reads at a time
# A body object read from more bytes than this is cleared with `clear_all` (a plain clear() is
# quicker for the usual few KB).
LARGE_OBJECT = 64 * 1024
# What an object past OBJECT_LIMIT keeps of its КлючевыеСвойства besides its Ссылка: 1C's hold
# a dozen fields of a few dozen characters; a flood in them must not be kept whole.
KEPT_ELEMENTS, KEPT_TEXT = 256, 16 * 1024
REF = "}Ссылка"
_BEFORE, _IN, _AFTER, _DONE = range(4)  # where the parse is, as to the Body


def clear_all(el, keep_tail: bool = False) -> None:
    """`el.clear()` in time linear in its size. Cleared at once, an element parsed by iterparse
    whose subtree is large (30,000 declared object types, a table of 30,000 rows) takes time
    quadratic in it inside lxml (4 s, 60 s at 100,000); its children cleared first, 0.02 s."""
    for child in el:
        child.clear()
    el.clear(keep_tail=keep_tail)


def is_keys(el) -> bool:
    return isinstance(el.tag, str) and el.tag.endswith("}" + KEYS)


class Tape:
    """A stream that keeps what is read from it, chunk by chunk, until `replay()`."""

    def __init__(self, stream: Prefixed) -> None:
        self._stream = stream
        self._chunks: list[bytes] | None = []

    def read(self, n: int = -1) -> bytes:
        data = self._stream.read(n)
        if self._chunks is not None:
            self._chunks.append(data)
        return data

    def replay(self) -> list[bytes]:
        chunks, self._chunks = self._chunks or [], None
        return chunks


class BodyScan:
    """Parses the message again after its Header and yields the Body's children in order."""

    def __init__(self, reader: MessageReader) -> None:
        self.r = reader
        version = reader.header.version
        self.own = reader._own_prefix()
        tags = [reader._root.tag, "{*}Body"]
        if version in formats.VERSIONS:  # else every child takes the careful way
            tags += [f"{self.own}{name}" for name in formats.load(version).object_types]
        self.parser = etree.XMLPullParser(events=("start", "end"), tag=tags, **OPTIONS)
        self.phase, self.bodies, self.count, self.fed, self.tags = _BEFORE, 0, 0, 0, 0
        self.root: Any = None
        self.body: Any = None
        self.last: Any = None
        self.current: Any = None
        self.kept: Any = None  # the last КлючевыеСвойства of the current object a trim kept
        self.evented = False  # the current object is one the parser reported
        self.begun = self.tags_begun = 0  # bytes and `<` fed when the current object started
        self.held = Held()  # what each object was read from (protocol.rawbytes)

    def elements(self) -> Iterator[etree._Element]:
        replay = self.r._tape.replay()
        while True:
            data = replay.pop(0) if replay else self.r._input.read(CHUNK)
            self.fed += len(data)
            # Markup items: an attribute costs what four elements do once built (limits).
            self.tags += data.count(b"<") + limits.ATTRIBUTE_WEIGHT * data.count(b"=")
            self.held.feed(data)
            try:
                self.parser.feed(data) if data else self.parser.close()
            except etree.XMLSyntaxError as exc:
                # Nothing of the chunk is judged: the message is malformed XML (at its end, the
                # parser closes every open element, and a cut file must read as one).
                raise self.r._malformed(exc) from None
            body = self.body
            for event, el in self.parser.read_events():
                if body is None or el.getparent() is not body:
                    yield from self._event(event, el)
                    body = self.body
                elif event == "end":  # of an object: the hot path, two events per object
                    size = self._ready(el)
                    # The parser reported it, so its tag is the format's: `own` and a name.
                    self.r.raw = self.held.take(el, el.tag[len(self.own or ""):])
                    yield el
                    self._done(el, size)
                else:  # an object starts (or a Body, refused by _judge)
                    last = self.last
                    if (last.getnext() if last is not None else body[0]) is not el:
                        yield from self._unreported(el)
                    self._judge(el)
                    self.current, self.evented, self.kept = el, True, None
                    self.begun, self.tags_begun = self.fed, self.tags
            if not data:
                break
            yield from self._settle()
        if self.phase != _DONE:
            raise MessageRejected("the message ends before its Body is complete",
                                  source=self.r.source, ends_early=True)
        self.r._progress.update(self.count, self.r._input.count)

    def _event(self, event: str, el) -> Iterator[etree._Element]:
        """An event of anything but a child of the Body."""
        parent = el.getparent()
        if self.phase == _IN:
            if el is self.body:  # </Body>
                yield from self._unreported(None)
                body = self.body
                text_between(body[-1] if len(body) else None, body, self.r.source)
                self.phase = _AFTER
        elif parent is self.root and parent is not None and event == "start":  # a Body
            self._beside(el)
            self._root_child(el)
        elif el is self.root and event == "end":  # </Message>
            self._beside(None)
            self.phase = _DONE
        elif self.root is None:
            self.root = el

    def _root_child(self, el) -> None:
        """A child of the root after the Header: the one Body, or a malformed message."""
        name, line = local_name(el, self.r.source), el.sourceline
        if name == "Body" and self.bodies:
            raise MessageRejected(f"a second Body at line {line} (a message has one Header "
                                  "and one Body)", source=self.r.source)
        if name != "Body":
            raise MessageRejected(
                f"unexpected element {name!r} after the Body, at line {line} (a message has "
                "one Header and one Body)" if self.bodies else
                f"unexpected element {name!r} after the Header, at line {line} (a message "
                "has one Header and one Body)", source=self.r.source)
        self.bodies += 1
        self.r._check_body(el)
        if self.r.header.version is not None:
            self.held.body(el, formats.namespace(self.r.header.version))
        self.phase, self.body = _IN, el
        del self.root[0]  # the Header: the reader has it, and the Body follows it

    def _beside(self, upto) -> None:
        """Refuse an element the parser did not report between the Header or the Body and
        `upto` (the element it did report next; None: whatever there is)."""
        if self.phase == _BEFORE:
            el = self.root[0].getnext() if self.root is not None and len(self.root) else None
        else:
            el = self.body.getnext() if self.phase == _AFTER else None
        if el is not None and el is not upto:
            self._root_child(el)  # never another Body: the parser reports every Body

    def _judge(self, el) -> None:
        """What the reader judged as each child of the Body started."""
        own, tag = self.own, el.tag  # a tag is a new string at every read of it
        if own is not None and not tag.startswith(own) or tag[len(own or ""):] in NOT_OBJECTS:
            judge_child(el, self.r.header, self.r.source)
        text_between(el.getprevious(), self.body, self.r.source)

    def _unreported(self, upto, final: bool = True) -> Iterator[etree._Element]:
        """Judge and yield, in order, the children of the Body before `upto` (None: all there
        are) that the parser did not report. Unless `final`, the last may still be open."""
        body = self.body
        el = self.last.getnext() if self.last is not None else (body[0] if len(body) else None)
        while el is not None and el is not upto:
            if el is self.current and self.evented:
                return  # reported, and still open
            if el is not self.current:
                self._judge(el)
            following = el.getnext()
            if following is None and not final and el.tail is None:
                if el is not self.current:  # its size counts from here, as from a start event
                    self.current, self.evented, self.kept = el, False, None
                    self.begun, self.tags_begun = self.fed, self.tags
                return
            size = self._ready(el)
            # Its bytes lie between two reported objects' as well: where the next one starts is
            # not known.
            self.held.lose()
            self.r.raw = None
            yield el
            self._done(el, size)
            el = following

    def _ready(self, el) -> int:
        """Before a child of the Body is yielded: its size, and what is dropped if too large."""
        size, tags = (self.fed - self.begun, self.tags - self.tags_begun) \
            if el is self.current else (0, 0)
        # Past both bounds, it is said by the one it passed first (the farther past it now):
        # 120 MiB of real rows is too large by its bytes, not by its tags.
        crowded = tags > limits.TAG_LIMIT and tags * limits.OBJECT_LIMIT > size * limits.TAG_LIMIT
        self.r.oversized = size if crowded or size > limits.OBJECT_LIMIT else 0
        self.r.crowded = tags if crowded else 0
        if self.r.oversized:
            _trim(el, self.kept, final=True)
        return size

    def _too_large(self) -> bool:
        """The current object, still open, is past one of its bounds."""
        return self.current is not None and (self.fed - self.begun > limits.OBJECT_LIMIT
                                             or self.tags - self.tags_begun > limits.TAG_LIMIT)

    def _done(self, el, size: int) -> None:
        """Once the consumer moved on from a child of the Body: it is cleared, what came
        before it removed."""
        # The tail stays: the parser may have read it already, and `_judge` looks at it when
        # the next object starts.
        if size > LARGE_OBJECT:
            clear_all(el, keep_tail=True)
        else:
            el.clear(keep_tail=True)
        # One slice in C, not a proxy made per sibling to learn whether one is left.
        before = self.body.index(el)
        if before:
            del self.body[:before]
        self.last, self.current = el, None
        self.count += 1
        if self.count % EVERY == 0:
            self.r._progress.update(self.count, self.r._input.count)

    def _settle(self) -> Iterator[etree._Element]:
        """Between two chunks: what no event named is judged, an object too large trimmed."""
        if self.phase == _IN:
            yield from self._unreported(None, final=False)
            if self._too_large():
                self.kept = _trim(self.current, self.kept)
        elif self.phase in (_BEFORE, _AFTER):
            self._beside(None)


def _trim(obj, kept, final: bool = False):
    """Drop what `obj` holds beyond its first КлючевыеСвойства, as far as the parser is done with
    it (`final`: it is done with all), and of that one all but its first part (`_bound`).
    Where that one has no Ссылка, a later КлючевыеСвойства's first Ссылка is kept as well (alone,
    in its КлючевыеСвойства): the one `object_ref` names the object by, as the object whole would
    be (R3 #2b: else a ~hash named the stub, and every later run found it drifted).
    `kept`: the last КлючевыеСвойства a trim before kept whole (the children before it are gone,
    not looked at again); returns the one to pass next time."""
    child = kept.getnext() if kept is not None else (obj[0] if len(obj) else None)
    while child is not None and ((following := child.getnext()) is not None or final):
        if is_keys(child) and _unnamed(kept):
            if kept is not None and kept is not obj[0]:
                obj.remove(kept)  # a later one that held no Ссылка either: nothing to keep
            _bound(child, _budget(kept), final=True)
            kept = child
        else:
            obj.remove(child)
        child = following
    el = child  # the last child, open
    if el is not None and is_keys(el) and _unnamed(kept):
        _bound(el, _budget(kept), final=False)
        return kept
    while el is not None and len(el):
        # In C, without a Python proxy per child: past TAG_LIMIT the first trim meets millions.
        del el[:-1]
        el = el[0]
    return kept


def _unnamed(kept) -> bool:
    """No КлючевыеСвойства kept yet, or the last one kept holds no Ссылка."""
    return kept is None or not any(isinstance(c.tag, str) and c.tag.endswith(REF) for c in kept)


def _budget(kept) -> list[int]:
    """The first КлючевыеСвойства keeps its first part; a later one, its Ссылка alone."""
    return [KEPT_ELEMENTS, KEPT_TEXT] if kept is None else [0, 0]


def _bound(el, budget: list[int], final: bool, top: bool = True) -> None:
    """Keep of `el`, in document order, its first `budget` elements and characters, and its
    Ссылка (what says which object it was). An open element (unless `final`) keeps its last
    child, which libxml2 may still be filling."""
    child = el[0] if len(el) else None
    while child is not None:
        following = child.getnext()
        is_open = following is None and not final
        ref = top and isinstance(child.tag, str) and child.tag.endswith(REF)
        if budget[0] > 0 or ref:
            budget[0] -= 1
            # Text libxml2 may still be adding to is never touched: one text node at most.
            for part in ("text", "tail") if not is_open and isinstance(child.tag, str) else ():
                if value := getattr(child, part):
                    keep = max(budget[1], 36 if ref else 0)
                    # The Ссылка is read stripped: its spaces are never what is kept of it.
                    cut = value.strip()[:100] if ref and part == "text" and len(value) > keep \
                        else value[:keep]
                    setattr(child, part, cut or None)
                    budget[1] -= len(value)
            _bound(child, budget, final=not is_open, top=False)
        elif is_open:
            _bound(child, [0, 0], final=False, top=False)
        else:
            el.remove(child)
        child = following
