"""Refuse a start tag with too many attributes, or an attribute value too long, before libxml2 builds it.

Public API: `MarkupGuard(source).feed(data, line)`, `MAX_ATTRIBUTES`, `MAX_VALUE`.

libxml2 bounds a name, a text node and the depth, but not the attributes of one element: 200,000
of them (a 2.3 MB file) cost 500 MB once built. 1C writes a handful at most (the root's three
namespace declarations, an `xsi:type`), so the bytes on their way to the parser are scanned for a
start tag that has more, or a value longer than any 1C writes. The scan runs in C (one regular
expression per chunk, tried only where a cheap test says an excess may be: 5% of the parse time
of a 600 MB message); only the unfinished start tag at the end of a chunk is carried to the next,
with its complete attributes replaced by short stand-ins so that it stays small.
"""

from __future__ import annotations

import re

from onecsync.errors import MessageRejected

# Attributes and namespace declarations of one element (the reader copies only the declarations
# an object uses, so thousands of unused ones on the root are harmless; 10,000 cost ~5 MB).
MAX_ATTRIBUTES = 10_000
MAX_VALUE = 4096  # bytes of one attribute value (a namespace URI, an xsi:type)

# A superset of XML's: anything libxml2 may take for a start tag is seen here. libxml2 refuses
# names longer than 50,000 bytes itself.
_NAME = rb"[^\s<>/=!?\"'][^\s<>/=\"']{0,50000}"
_ATTR = rb"(?>\s+[^\s<>/=\"']{1,50000}\s*=\s*(?:\"[^\"<]*\"|'[^'<]*'))"
_LONG = rb"\s+[^\s<>/=\"']{1,50000}\s*=\s*(?:\"[^\"<]{%d}|'[^'<]{%d})" % ((MAX_VALUE + 1,) * 2)
_EXCESS = re.compile(rb"<(" + _NAME + rb")(?:(?P<many>" + _ATTR + rb"{%d})|" % (MAX_ATTRIBUTES + 1)
                     + _ATTR + rb"{0,%d}" % MAX_ATTRIBUTES + _LONG + rb")")
# Cheap tests, in C, that a chunk may hold an excess at all: the full expression is slow on
# the millions of plain tags of a large message, and most chunks carry no attributes.
_MAYBE_LONG = re.compile(rb"=\s*(?:\"[^\"<]{%d}|'[^'<]{%d})" % ((MAX_VALUE + 1,) * 2))
# A start tag cut by the end of the chunk: its name, its complete attributes, and what follows.
_OPEN = re.compile(rb"<(" + _NAME + rb")(" + _ATTR + rb"*)")
_PARTIAL = re.compile(rb"(?:\s+(?:[^\s<>/=\"']+\s*(?:=\s*(?:\"[^\"<]*|'[^'<]*)?)?)?)?")
_ONE_ATTR = re.compile(_ATTR)
# The fewest bytes a start tag with too many attributes takes: '<', a name, and MAX_ATTRIBUTES + 1
# of ` a=""`. A shorter chunk (every chunk of a plain message) cannot hold one, so its `=` are
# not counted: that count was a fifth of the guard's time.
_MANY_BYTES = 2 + 5 * (MAX_ATTRIBUTES + 1)


class MarkupGuard:
    """Fed every chunk handed to the parser, in order; raises MessageRejected on an excess."""

    def __init__(self, source: str) -> None:
        self._source = source
        self._carry = b""  # the unfinished start tag of the last chunk, compacted
        self._carry_line = 1

    def feed(self, data: bytes, line: int) -> None:
        """`line`: the line of the document `data` starts on."""
        if not data:
            return
        carried = len(self._carry)
        buf = self._carry + data if carried else data
        m = None
        if len(buf) >= _MANY_BYTES and buf.count(b"=") > MAX_ATTRIBUTES or _MAYBE_LONG.search(buf):
            m = _EXCESS.search(buf)
        if m:
            at = self._carry_line if m.start() < carried else \
                line + data.count(b"\n", 0, m.start() - carried)
            name = m.group(1)[:60].decode("utf-8", "replace")
            what = (f"more than {MAX_ATTRIBUTES} attributes and namespace declarations (1C writes a few)"
                    if m.group("many") is not None else
                    f"an attribute value longer than {MAX_VALUE} bytes (1C writes short ones)")
            raise MessageRejected(f"the element <{name}> at line {at} has {what}",
                                  source=self._source)
        self._carry = self._unfinished(buf, carried, line)

    def _unfinished(self, buf: bytes, carried: int, line: int) -> bytes:
        i = buf.rfind(b"<")
        if i < 0:
            return b""
        if i == len(buf) - 1:
            self._carry_line = line + buf.count(b"\n", carried)
            return b"<"  # the name is yet to come
        m = _OPEN.match(buf, i)
        if m is None or not _PARTIAL.fullmatch(buf, m.end()):
            return b""  # the last markup is complete, or not a start tag
        if i >= carried:
            self._carry_line = line + buf.count(b"\n", carried, i)
        count = len(_ONE_ATTR.findall(buf, m.start(2), m.end(2)))
        return b"<" + m.group(1) + b" a=''" * count + buf[m.end():]
