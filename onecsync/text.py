"""Text from outside (a config's or a file's name, a path, a server's words, an element's text)
made safe to show a person and to write as UTF-8.

Public API: `one_line(text)` (the one escaping of everything a person is shown), `utf8(text)`
(what a UTF-8 file, label or document can hold), `json_bytes(value, **dumps_args)`.

A name on a Unix file system is bytes; Python holds those that are not UTF-8 as lone surrogates
(os.fsdecode), which a strict UTF-8 encode refuses: written as they are, they end a command in
exit 1. A line break, ESC or a right-to-left override in a name would split a line, forge one,
or command the terminal.
"""

from __future__ import annotations

import json


def one_line(text: str) -> str:
    """`text` as a person may be shown it: the one escaping of whatever came from outside (a
    config's or a file's name, a path, a server's words, an element's text). A line break must
    not split a line (or forge a second one in the journal), ESC or a right-to-left override
    must not command the terminal: each character that is not printable is shown as its
    escape (\\n, \\x1b, \\u202e), and a byte of a name that is not UTF-8 as \\xff."""
    return text if text.isprintable() else "".join(
        c if c.isprintable() else _escaped(c) for c in text)


def utf8(text: str) -> str:
    """`text` as UTF-8 can write it (a file, a JSON document, a label): a name's bytes that are
    not UTF-8 (Python holds them as lone surrogates) escaped as `one_line` shows them; the
    rest, line breaks included, as it is."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join(_escaped(c) if "\ud800" <= c <= "\udfff" else c for c in text)


def _escaped(c: str) -> str:
    if "\udc80" <= c <= "\udcff":  # os.fsdecode's stand-in for the byte it could not decode
        return f"\\x{ord(c) - 0xdc00:02x}"
    return c.encode("unicode_escape").decode("ascii")


def json_bytes(value, **dumps_args) -> bytes:
    """`value` as a UTF-8 JSON document: Cyrillic as it is, a lone surrogate as its JSON escape
    (`\\udcff`, which json.loads reads back as the same name)."""
    return json.dumps(value, ensure_ascii=False, **dumps_args).encode("utf-8", "backslashreplace")
