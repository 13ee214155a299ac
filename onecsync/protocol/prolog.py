"""Look at a message's first bytes before any parser does: refuse what is not UTF-8 XML or has a DTD.

Public API: `sniff(stream, source)` (the prolog read), `Prefixed` (replays it, guards markup).
"""

from __future__ import annotations

import re
from typing import IO

from onecsync.errors import MessageRejected
from onecsync.protocol.markup import MarkupGuard

PROLOG_LIMIT = 64 * 1024
_DECL_ENCODING = re.compile(rb"""^<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


class Prefixed:
    """A file object that replays bytes already sniffed from the stream before the rest, and
    notes where the stream ended (for telling a file that ends early from a broken one)."""

    def __init__(self, head: bytes, rest: IO[bytes], source: str) -> None:
        self._head = head
        self._rest = rest
        self.count = 0  # bytes handed to the parser, for progress
        self.lines = 1  # lines handed to the parser
        self.at_end = False  # the stream said end of file
        self._guard = MarkupGuard(source)

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                data, self._head = self._head + self._rest.read(), b""
            else:
                data, self._head = self._head[:n], self._head[n:]
        else:
            data = self._rest.read(n)
            if not data and n != 0:
                self.at_end = True
        self._guard.feed(data, self.lines)  # before libxml2 builds what it refuses
        self.count += len(data)
        self.lines += data.count(b"\n")
        return data


def sniff(stream: IO[bytes], source: str) -> bytes:
    """Read the prolog and refuse, early and cheaply, what is not a UTF-8 XML document."""
    head = stream.read(4096)
    if not head:
        raise MessageRejected("the file is empty", source=source)
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        raise MessageRejected("the message is UTF-16; 1C exchange messages are UTF-8",
                              source=source)
    body = head[3:] if head.startswith(b"\xef\xbb\xbf") else head
    stripped = body.lstrip()
    if not stripped.startswith(b"<"):
        # Only a part of the byte order mark, or blanks, and nothing after: the start of a file.
        started = not stripped or (len(head) < 3 and b"\xef\xbb\xbf".startswith(head))
        raise MessageRejected("not an XML document (it does not start with '<')", source=source,
                              ends_early=started and not stream.read(1))
    m = _DECL_ENCODING.match(stripped)
    if m and m.group(1).decode("ascii").lower().replace("_", "-") not in ("utf-8", "utf8"):
        raise MessageRejected(f"encoding {m.group(1).decode('ascii')} is not UTF-8",
                              source=source)
    # Read on until the root element starts, so that a DTD anywhere in the prolog is seen.
    while True:
        verdict = _prolog_verdict(head)
        if verdict == "root":
            return head
        if verdict == "dtd":
            raise MessageRejected("the message has a DTD (<!DOCTYPE>); DTDs and entities "
                                  "are refused", source=source)
        if len(head) > PROLOG_LIMIT:
            raise MessageRejected("no root element in the first 64 KB", source=source)
        more = stream.read(4096)
        if not more:
            return head  # let the parser report the truncation
        head += more


def _prolog_verdict(data: bytes) -> str | None:
    i = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    n = len(data)
    while i < n:
        if data[i] in b" \t\r\n":
            i += 1
            continue
        if data.startswith(b"<?", i):
            end = b"?>"
        elif data.startswith(b"<!--", i):
            end = b"-->"
        elif data.startswith(b"<!", i):
            return "dtd"
        else:
            return "root"  # the root element, or garbage the parser names precisely
        j = data.find(end, i)
        if j < 0:
            return None
        i = j + len(end)
    return None

