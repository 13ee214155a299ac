"""Each body object's bytes as they were read, where they are provably the object the parser built.

Public API: `Held` (fed what the Body's parser is fed; `take(el, name)` at an object's end),
`RAW_LIMIT`.

`etree.tostring` of every object cost a tenth of a first exchange (issue 15). The bytes the parser
was fed hold the object already: kept from the end of the previous object, they are its bytes
when, at its end event, they read: optional blanks, `<name` (the local name: a Body in the
standard namespaces binds no prefix to the format), blanks, `>`, and on to the first `</name>`.
Nothing the parser drops or rewrites may be in them: no comment, PI or CDATA (`<!`, `<?`), no
`\\r` (the parser makes line ends `\\n`), no second `<name` (a nested element of that name: its end
would be taken for the object's). The start tag holds no attribute, so no declaration of its own
either (tostring makes those relative to the Body). One declared inside is written by tostring
as it was read (libxml2 keeps an element's own declarations where they are; `normal.serialize`
rewrites the top start tag alone), so it is no doubt: 1C's contact information, escaped XML with
`xmlns` in a text of every counterparty, made a search for `xmlns` cost what tostring saved.
The message's Body must declare exactly the standard namespaces (envelope.ROOT_NSMAP and the
format's as the default) and have no attributes, so that the bytes mean the same spliced into our
Body. Anything else is doubt: that object's bytes are serialized (`take` returns None), and where
the place of its end is in doubt too (all but `\\r`), every object after it (the place of the next
start is not known).

The bytes kept are those since the previous object's end, at most RAW_LIMIT of them: memory stays
a chunk and an object's bytes (an object past it is serialized, and the rest of the message).

Raw bytes can differ from tostring's where both mean the same (attribute quotes, `>` or `"` left
as the writer put them, a character reference): they parse back to the same object. So an object
stored by an earlier onecsync that differs only so has another digest now, and reads as "changed"
once, after the upgrade. What the fixtures and bench/make_message.py write, shaped after 1C's
messages, reads byte for byte the same both ways.
"""

from __future__ import annotations

import re

from onecsync.protocol.envelope import ROOT_NSMAP

RAW_LIMIT = 4 << 20
_BLANKS = re.compile(rb"[ \t\r\n]*")  # XML's white space: between objects, what it is matters not
_BODY_TAGS = tuple(b"<Body" + c for c in (b" ", b"\t", b"\r", b"\n", b">"))
_DECLARATIONS = tuple(b"<?xml" + c for c in (b" ", b"\t", b"\r", b"\n"))
_FIRST = -1  # where the first object starts is found through the Body's start tag


class Held:
    """The bytes fed to the Body's parser since the end of the last object taken."""

    def __init__(self) -> None:
        self.buf: bytearray | None = bytearray()  # None: in doubt for the rest of the message
        self.mark = _FIRST  # where the last object taken ended in `buf`
        self._names: dict[str, tuple[bytes, bytes]] = {}

    def feed(self, data: bytes) -> None:
        buf = self.buf
        if buf is None:
            return
        if self.mark > 0:  # once a chunk, not once an object: what was taken goes
            del buf[:self.mark]
            self.mark = 0
        buf += data
        if len(buf) - max(self.mark, 0) > RAW_LIMIT:
            self.lose()

    def lose(self) -> None:
        """Where the next object starts is unknown: the rest of the message is serialized."""
        self.buf = None

    def _doubt(self) -> bytes | None:
        self.lose()
        return None

    def body(self, el, ns: str) -> None:
        """The Body started: its declarations and attributes decide for the whole message."""
        standard: dict[str | None, str] = {None: ns}
        standard.update(ROOT_NSMAP)
        if el.attrib or el.nsmap != standard:
            self.lose()

    def take(self, el, name: str) -> bytes | None:
        """At the end event of the Body's child `el`, of local name `name` and no prefix: its
        bytes, or None where they are not sure to be `el`'s (see the module docstring)."""
        buf = self.buf
        if buf is None:
            return None
        if el.prefix is not None:
            return self._doubt()
        names = self._names.get(name)
        if names is None:
            names = self._names[name] = (f"<{name}".encode(), f"</{name}>".encode())
        opening, closing = names
        start = self._first(opening) if self.mark == _FIRST else _blanks(buf, self.mark)
        if start < 0 or not buf.startswith(opening, start):
            return self._doubt()  # something the parser dropped or did not report came before
        gt = start + len(opening)
        if not buf.startswith(b">", gt):
            gt = _blanks(buf, gt)
            if not buf.startswith(b">", gt):
                return self._doubt()  # a longer name, attributes, or self-closed
        end = buf.find(closing, gt)
        if end < 0:
            return self._doubt()
        end += len(closing)
        if buf.find(opening, start + 1, end) >= 0 or _after_lt(buf, b"!", start, end) \
                or _after_lt(buf, b"?", start, end):
            return self._doubt()  # its end may be elsewhere
        self.mark = end
        if buf.find(b"\r", start, end) >= 0:
            return None  # its end is sure, the bytes are not the object as parsed
        return bytes(memoryview(buf)[start:end])  # copied once (a slice would be twice)

    def _first(self, opening: bytes) -> int:
        """Where the first object starts: after the one `<Body` of the file, its start tag and
        blanks, with nothing between the XML declaration and it that could hide a tag (a PI or
        a comment is dropped by the parser, and what it holds is no element: review R8)."""
        buf = self.buf
        assert buf is not None
        lead = _declaration_end(buf)
        at = buf.find(opening, lead)
        if at < 0 or buf.find(b"<!", lead, at) >= 0 or buf.find(b"<?", lead, at) >= 0:
            return -1
        body = buf.find(b"<Body", lead, at)
        if body < 0 or buf.find(b"<Body", body + 1, at) >= 0 \
                or not buf.startswith(_BODY_TAGS, body):
            return -1
        gt = buf.find(b">", body, at)  # the Body has no attributes: no '>' in a value
        return at if gt >= 0 and _blanks(buf, gt + 1) == at else -1


def _declaration_end(buf: bytearray) -> int:
    """Where the BOM and the XML declaration end (0: neither). Only the declaration may lead:
    any other PI there is a doubt, `<?xml-stylesheet` included. The parser accepted the file's
    start, so the declaration's values hold no `?>` and its first `?>` ends it."""
    at = 3 if buf.startswith(b"\xef\xbb\xbf") else 0
    if buf.startswith(_DECLARATIONS, at):
        end = buf.find(b"?>", at)
        return end + 2 if end >= 0 else len(buf)
    return at


def _blanks(buf: bytearray, at: int) -> int:
    """Where the white space from `at` ends."""
    blanks = _BLANKS.match(buf, at)
    return blanks.end() if blanks else at


def _after_lt(buf: bytearray, char: bytes, start: int, end: int) -> bool:
    """Whether `<` + `char` (a comment, CDATA, PI) occurs between `start` and `end`. Searched
    for by `char` alone, rare in 1C's text, one byte: memchr, eighty times quicker than the pair
    (libc against CPython's search, whose first byte, '<', is every few bytes in XML)."""
    at = buf.find(char, start, end)
    while at >= 0:
        if buf[at - 1] == 0x3C:  # '<'
            return True
        at = buf.find(char, at + 1, end)
    return False
